import { useCallback, useEffect, useState } from "react";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import ColumnLayout from "@cloudscape-design/components/column-layout";
import Container from "@cloudscape-design/components/container";
import Header from "@cloudscape-design/components/header";
import KeyValuePairs from "@cloudscape-design/components/key-value-pairs";
import Link from "@cloudscape-design/components/link";
import SpaceBetween from "@cloudscape-design/components/space-between";
import StatusIndicator from "@cloudscape-design/components/status-indicator";
import Table from "@cloudscape-design/components/table";
import { api, messageOf } from "../api";
import { flash } from "../flash";
import { millis, relativeTime } from "../format";
import type { Lease, ReconcileReport } from "../gen/jit/v1/tickets_pb";
import { linkTo } from "../nav";
import { ActionModal } from "./Actions";
import { listAll } from "./Tickets";
import { TicketTable, toRow, type Row } from "./TicketTable";

function ReconcileView({ report, error }: { report: ReconcileReport | null | undefined; error: string | null }) {
  const header = <Header variant="h2" description="The reconcile schedule's last run: AWS's assignments of jit's permission sets against the leases.">Last reconcile</Header>;
  if (error) return <Container header={header}>{error}</Container>;
  if (report === undefined) return <Container header={header}><StatusIndicator type="loading">Loading</StatusIndicator></Container>;
  if (report === null) return <Container header={header}>No reconcile run has completed yet.</Container>;
  const clean = report.orphans === 0n && report.missing === 0n && !report.error;
  return (
    <Container header={header}>
      <SpaceBetween size="m">
        <ColumnLayout columns={4} variant="text-grid">
          <KeyValuePairs items={[{ label: "Result", value: <StatusIndicator type={clean ? "success" : "warning"}>{report.error ? `failed: ${report.error}` : clean ? "in sync with AWS" : "drift found"}</StatusIndicator> }]} />
          <KeyValuePairs items={[{ label: "When", value: report.reconcileTime ? relativeTime(millis(report.reconcileTime), Date.now()) : "—" }]} />
          <KeyValuePairs items={[{ label: "Assignments / leases", value: `${report.assignments} / ${report.leases}` }]} />
          <KeyValuePairs items={[{ label: "Orphans / missing / repairs asked", value: `${report.orphans} / ${report.missing} / ${report.repairsRequested}${report.dryRun ? " (dry run)" : ""}` }]} />
        </ColumnLayout>
        {report.drift.length > 0 && (
          <Box>
            {report.drift.map((d) => (
              <div key={d}>
                <Box variant="code">{d}</Box>
              </div>
            ))}
          </Box>
        )}
        {report.staleCutoffs.length > 0 && <Box>Stale session cut-offs pruned in: {report.staleCutoffs.join(", ")}</Box>}
      </SpaceBetween>
    </Container>
  );
}

export function AdminPage() {
  const [rows, setRows] = useState<Row[]>([]);
  const [loading, setLoading] = useState(true);
  const [selected, setSelected] = useState<Row[]>([]);
  const [revoking, setRevoking] = useState(false);
  const [report, setReport] = useState<ReconcileReport | null | undefined>(undefined);
  const [leases, setLeases] = useState<Lease[] | null>(null);
  const [adminError, setAdminError] = useState<string | null>(null);
  const load = useCallback(() => {
    setLoading(true);
    listAll({})
      .then((t) => setRows(t.map(toRow)))
      .catch((e) => flash("error", messageOf(e)))
      .finally(() => setLoading(false));
    api.getReconcileReport({}).then(
      (r) => setReport(r.report ?? null),
      (e) => setAdminError(messageOf(e)),
    );
    api.listLeases({ pageSize: 200 }).then(
      (r) => setLeases(r.leases),
      (e) => setAdminError(messageOf(e)),
    );
  }, []);
  useEffect(load, [load]);
  const one = selected[0];
  return (
    <SpaceBetween size="l">
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
      <ReconcileView report={report} error={adminError} />
      <Table
        header={<Header variant="h2" counter={leases ? `(${leases.length})` : undefined} description="One lease per real assignment jit holds: the tickets holding it, and whether jit created it (owned) or found it (standing, never deleted).">Leases in force</Header>}
        ariaLabels={{ tableLabel: "Leases in force" }}
        variant="container"
        loading={leases === null && !adminError}
        loadingText="Asking the leases"
        empty={<Box textAlign="center">{adminError ?? "No lease is in force."}</Box>}
        items={leases ?? []}
        trackBy="leaseId"
        wrapLines
        columnDefinitions={[
          { id: "account", header: "Account", cell: (l) => l.accountId, isRowHeader: true },
          { id: "ps", header: "Permission set", cell: (l) => <Box variant="code">{l.permissionSetArn.split("/").pop()}</Box> },
          { id: "principal", header: "Principal", cell: (l) => `${l.principalType.toLowerCase()} ${l.principalId}` },
          { id: "state", header: "State", minWidth: 120, cell: (l) => <StatusIndicator type={l.state === "owned" ? "success" : l.state === "deleting" ? "in-progress" : "info"}>{l.state}</StatusIndicator> },
          {
            id: "tickets",
            header: "Held by",
            cell: (l) =>
              l.ticketIds.length ? (
                <SpaceBetween direction="horizontal" size="xs">
                  {l.ticketIds.map((t) => (
                    <Link key={t} {...linkTo({ page: "ticket", id: t })}>
                      {t}
                    </Link>
                  ))}
                </SpaceBetween>
              ) : (
                "—"
              ),
          },
          { id: "since", header: "Since", cell: (l) => (l.startTime ? relativeTime(millis(l.startTime), Date.now()) : "—") },
        ]}
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
    </SpaceBetween>
  );
}
