import { useCallback, useEffect, useState } from "react";
import Button from "@cloudscape-design/components/button";
import { messageOf } from "../api";
import { flash } from "../flash";
import { ActionModal } from "./Actions";
import { listAll } from "./Tickets";
import { TicketTable, toRow, type Row } from "./TicketTable";

export function AdminPage() {
  const [rows, setRows] = useState<Row[]>([]);
  const [loading, setLoading] = useState(true);
  const [selected, setSelected] = useState<Row[]>([]);
  const [revoking, setRevoking] = useState(false);
  const load = useCallback(() => {
    setLoading(true);
    listAll({})
      .then((t) => setRows(t.map(toRow)))
      .catch((e) => flash("error", messageOf(e)))
      .finally(() => setLoading(false));
  }, []);
  useEffect(load, [load]);
  const one = selected[0];
  return (
    <>
      <TicketTable
        title="All tickets"
        description="Every ticket an admin may see (others see the tickets they are a party to or may approve). Select an active one to revoke it."
        rows={rows}
        loading={loading}
        selection={{ selected, onChange: setSelected }}
        actions={
          <Button disabled={!one || one.status !== "Active"} onClick={() => setRevoking(true)}>
            Revoke
          </Button>
        }
      />
      {revoking && one && (
        <ActionModal
          id={one.id}
          action="revoke"
          onClose={() => setRevoking(false)}
          onDone={() => {
            setRevoking(false);
            setSelected([]);
            load();
          }}
        />
      )}
    </>
  );
}
