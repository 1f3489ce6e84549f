import { useEffect, useState } from "react";
import { Code, ConnectError } from "@connectrpc/connect";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import ColumnLayout from "@cloudscape-design/components/column-layout";
import Container from "@cloudscape-design/components/container";
import Header from "@cloudscape-design/components/header";
import KeyValuePairs from "@cloudscape-design/components/key-value-pairs";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Spinner from "@cloudscape-design/components/spinner";
import StatusIndicator from "@cloudscape-design/components/status-indicator";
import Table from "@cloudscape-design/components/table";
import { api } from "../api";
import { countdown, formatDuration, isEnded, millis, parseAuditLine, relativeTime, statusLabel } from "../format";
import { TicketStatus, type Ticket } from "../gen/jit/v1/tickets_pb";
import { ActionModal, type Action } from "./Actions";
import { PlanView } from "./PlanView";

function useNow(every: number) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), every);
    return () => clearInterval(t);
  }, [every]);
  return now;
}

/** The ticket, kept current by WatchTicket (reconnecting while it has not ended). */
function useWatchedTicket(id: string) {
  const [ticket, setTicket] = useState<Ticket | null>(null);
  const [error, setError] = useState<ConnectError | null>(null);
  useEffect(() => {
    const ctl = new AbortController();
    let ended = false;
    (async () => {
      while (!ctl.signal.aborted && !ended) {
        try {
          for await (const m of api.watchTicket({ ticketId: id }, { signal: ctl.signal })) {
            if (!m.ticket) continue;
            setTicket(m.ticket);
            setError(null);
            ended = isEnded(m.ticket.status);
          }
        } catch (e) {
          if (ctl.signal.aborted) return;
          const err = ConnectError.from(e);
          setError(err);
          if ([Code.NotFound, Code.PermissionDenied, Code.Unauthenticated, Code.InvalidArgument].includes(err.code)) return;
          await new Promise((r) => setTimeout(r, 2000));
        }
        if (!ended) await new Promise((r) => setTimeout(r, 500));
      }
    })();
    return () => ctl.abort();
  }, [id]);
  return { ticket, error };
}

export function TicketPage({ id, user }: { id: string; user: string }) {
  const { ticket: t, error } = useWatchedTicket(id);
  const [action, setAction] = useState<Action | null>(null);
  const now = useNow(1000);

  if (error && !t) {
    const denied = error.code === Code.PermissionDenied || error.code === Code.NotFound;
    return (
      <Alert type="error" header={denied ? "You cannot open this ticket" : "The ticket could not be read"}>
        {error.rawMessage}
      </Alert>
    );
  }
  if (!t) return <Spinner size="large" />;

  const [status, indicator] = statusLabel(t.status);
  const principal = t.principal?.kind.case === "group" ? `group ${t.principal.kind.value}` : (t.principal?.kind.value ?? t.requester);
  const party = t.requester === user || principal === user;
  // Anyone may try to vote while approval is open: the workflow decides, and says why not.
  const voting = t.status === TicketStatus.PENDING_APPROVAL || (t.status === TicketStatus.ACTIVE && t.pendingApprovers.length > 0);
  const before = [TicketStatus.EVALUATING, TicketStatus.PENDING_APPROVAL, TicketStatus.SCHEDULED].includes(t.status);
  const active = t.status === TicketStatus.ACTIVE;
  const expires = millis(t.expireTime);
  const actions: [Action, string, boolean][] = [
    ["approve", "Approve", voting],
    ["deny", "Deny", voting],
    ["delegate", "Delegate", voting],
    ["extend", "Extend", party && active],
    ["relinquish", "Done", party && active],
    ["cancel", "Cancel request", party && before],
    ["revoke", "Revoke", !party && active],
  ];
  const timeline = t.audit.map(parseAuditLine).filter((x): x is { at: number; what: string } => x !== null);

  return (
    <SpaceBetween size="l">
      <Header
        variant="h1"
        description={<StatusIndicator type={indicator}>{status}</StatusIndicator>}
        actions={
          <SpaceBetween direction="horizontal" size="xs">
            {actions
              .filter(([, , shown]) => shown)
              .map(([a, label]) => (
                <Button key={a} variant={a === "approve" ? "primary" : "normal"} onClick={() => setAction(a)}>
                  {label}
                </Button>
              ))}
          </SpaceBetween>
        }
      >
        Ticket {t.ticketId}
      </Header>
      {error && <Alert type="warning">Live updates paused: {error.rawMessage}. Retrying.</Alert>}
      {t.flagged && <Alert type="warning" header="Needs a security review">{t.flagged}</Alert>}
      {t.reason && isEnded(t.status) && <Alert type={indicator === "error" ? "error" : "info"} header={status}>{t.reason}</Alert>}
      <Container header={<Header variant="h2">Access</Header>}>
        <ColumnLayout columns={2} variant="text-grid">
          <KeyValuePairs
            columns={1}
            items={[
              { label: "For", value: principal },
              { label: "Requested by", value: t.requester },
              { label: "Access", value: t.targets.map((x) => `${x.permissionSet} in ${x.accountName ? `${x.accountName} (${x.accountId})` : x.accountId}`).join("; ") || t.bundle },
              { label: "Duration", value: t.duration ? formatDuration(Number(t.duration.seconds)) : "—" },
              { label: "Reason", value: <span data-testid="justification">{t.justification}</span> },
            ]}
          />
          <KeyValuePairs
            columns={1}
            items={[
              { label: "Requested", value: t.requestTime ? relativeTime(millis(t.requestTime), now) : "—" },
              { label: "Active since", value: t.activateTime ? relativeTime(millis(t.activateTime), now) : "—" },
              {
                label: "Expires",
                value: expires ? (
                  <span title={new Date(expires).toISOString()}>
                    {active ? <span data-testid="countdown">{countdown(expires, now)}</span> : relativeTime(expires, now)}
                  </span>
                ) : (
                  "—"
                ),
              },
              { label: "Waiting for", value: t.pendingApprovers.join(", ") || "—" },
              { label: "Policy", value: t.policyHash ? <Box variant="code">{t.policyHash.slice(0, 19)}</Box> : "—" },
            ]}
          />
        </ColumnLayout>
      </Container>
      {t.plan && <PlanView plan={t.plan} votes={t.votes} currentStep={t.currentStep} requester={t.requester} />}
      {t.session && (
        <Container header={<Header variant="h2" description="From CloudTrail, after the access ended.">What was done</Header>}>
          <Box>{t.session.line}</Box>
        </Container>
      )}
      <Table
        header={<Header variant="h2">Timeline</Header>}
        ariaLabels={{ tableLabel: "Timeline" }}
        items={timeline}
        trackBy={(x) => `${x.at}-${x.what}`}
        wrapLines
        variant="container"
        columnDefinitions={[
          { id: "at", header: "When", cell: (x) => <span title={new Date(x.at).toISOString()}>{new Date(x.at).toLocaleString()}</span> },
          { id: "what", header: "What happened", cell: (x) => x.what },
        ]}
      />
      {action && <ActionModal id={t.ticketId} action={action} onClose={() => setAction(null)} onDone={() => setAction(null)} />}
    </SpaceBetween>
  );
}
