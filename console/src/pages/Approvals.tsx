import { useCallback, useEffect, useState } from "react";
import Button from "@cloudscape-design/components/button";
import SpaceBetween from "@cloudscape-design/components/space-between";
import { api, messageOf } from "../api";
import { flash } from "../flash";
import { ActionModal, type Action } from "./Actions";
import { TicketTable, toRow, type Row } from "./TicketTable";

export function ApprovalsPage({ user }: { user: string }) {
  const [rows, setRows] = useState<Row[]>([]);
  const [loading, setLoading] = useState(true);
  const [selected, setSelected] = useState<Row[]>([]);
  const [action, setAction] = useState<Action | null>(null);
  const load = useCallback(() => {
    setLoading(true);
    api
      .listPendingApprovals({ pageSize: 500 })
      .then((r) => {
        const rows = r.tickets.map(toRow);
        setRows(rows);
        setSelected((s) => rows.filter((x) => s.some((y) => y.id === x.id)));
      })
      .catch((e) => flash("error", messageOf(e)))
      .finally(() => setLoading(false));
  }, []);
  useEffect(() => {
    load();
    const t = setInterval(load, 10_000);
    return () => clearInterval(t);
  }, [load, user]);
  const one = selected[0];
  return (
    <>
      <TicketTable
        title="Waiting for my approval"
        description={`Tickets ${user} may approve now (directly or as a delegate). Select one to vote.`}
        rows={rows}
        loading={loading}
        selection={{ selected, onChange: setSelected }}
        actions={
          <SpaceBetween direction="horizontal" size="xs">
            <Button disabled={!one} onClick={() => setAction("delegate")}>
              Delegate
            </Button>
            <Button disabled={!one} onClick={() => setAction("deny")}>
              Deny
            </Button>
            <Button variant="primary" disabled={!one} onClick={() => setAction("approve")}>
              Approve
            </Button>
          </SpaceBetween>
        }
      />
      {action && one && (
        <ActionModal
          id={one.id}
          action={action}
          onClose={() => setAction(null)}
          onDone={() => {
            setAction(null);
            setSelected([]);
            load();
          }}
        />
      )}
    </>
  );
}
