import { useEffect, useState } from "react";
import Button from "@cloudscape-design/components/button";
import { api, messageOf } from "../api";
import { flash } from "../flash";
import { go } from "../nav";
import type { TicketSummary } from "../gen/jit/v1/tickets_pb";

/** The filters of ListTickets a page uses. */
export type Filter = { requester?: string; principal?: string; accountId?: string; permissionSet?: string };
import { TicketTable, toRow, type Row } from "./TicketTable";

/** Every page of a list (at most `limit` tickets). */
export async function listAll(filter: Filter, limit = 2000): Promise<TicketSummary[]> {
  const out: TicketSummary[] = [];
  let pageToken = "";
  do {
    const r = await api.listTickets({ ...filter, pageSize: 500, pageToken });
    out.push(...r.tickets);
    pageToken = r.nextPageToken;
  } while (pageToken && out.length < limit);
  return out;
}

export function TicketsPage({ user }: { user: string }) {
  const [rows, setRows] = useState<Row[]>([]);
  const [loading, setLoading] = useState(true);
  useEffect(() => {
    let stop = false;
    Promise.all([listAll({ requester: user }), listAll({ principal: user })])
      .then(([a, b]) => {
        const seen = new Map<string, TicketSummary>();
        [...a, ...b].forEach((t) => seen.set(t.ticketId, t));
        if (!stop) setRows([...seen.values()].map(toRow));
      })
      .catch((e) => flash("error", messageOf(e)))
      .finally(() => !stop && setLoading(false));
    return () => {
      stop = true;
    };
  }, [user]);
  return (
    <TicketTable
      title="My tickets"
      description={`Tickets ${user} asked for, or that give ${user} access.`}
      rows={rows}
      loading={loading}
      actions={
        <Button variant="primary" onClick={() => go("/request")}>
          Request access
        </Button>
      }
    />
  );
}
