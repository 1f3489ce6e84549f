import { useEffect, useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import Container from "@cloudscape-design/components/container";
import SegmentedControl from "@cloudscape-design/components/segmented-control";
import { PlanView } from "./PlanView";
import type { ExplainAccessResponse } from "../gen/jit/v1/tickets_pb";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import Input from "@cloudscape-design/components/input";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Table from "@cloudscape-design/components/table";
import { api, messageOf } from "../api";
import type { ListRequestableTargetsResponse } from "../gen/jit/v1/tickets_pb";
import { formatDuration } from "../format";

/** Why a person may or may not request, or approve, one permission set in one account. */
function Explain({ user }: { user: string }) {
  const [who, setWho] = useState(user);
  const [action, setAction] = useState<"request" | "approve">("request");
  const [requester, setRequester] = useState("");
  const [account, setAccount] = useState("");
  const [permissionSet, setPermissionSet] = useState("");
  const [answer, setAnswer] = useState<ExplainAccessResponse | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const ask = async () => {
    setBusy(true);
    setError(null);
    setAnswer(null);
    try {
      setAnswer(await api.explainAccess({ user: who.trim() === user ? "" : who.trim(), action, requester: requester.trim(), account: account.trim(), permissionSet: permissionSet.trim() }));
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Container header={<Header variant="h2" description="The policy's decision with a reason per rule, as the worker sees the directory now.">Explain a decision</Header>}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void ask();
        }}
      >
        <SpaceBetween size="m">
          <SegmentedControl
            selectedId={action}
            onChange={(e) => setAction(e.detail.selectedId as "request" | "approve")}
            label="Decision"
            options={[
              { id: "request", text: "May request" },
              { id: "approve", text: "May approve" },
            ]}
          />
          <SpaceBetween direction="horizontal" size="xs" alignItems="end">
            <FormField label="Who">
              <Input value={who} onChange={(e) => setWho(e.detail.value)} ariaLabel="Who" />
            </FormField>
            {action === "approve" && (
              <FormField label="Requested by">
                <Input value={requester} onChange={(e) => setRequester(e.detail.value)} ariaLabel="Requested by" />
              </FormField>
            )}
            <FormField label="Account (id or name)">
              <Input value={account} onChange={(e) => setAccount(e.detail.value)} ariaLabel="Account (id or name)" />
            </FormField>
            <FormField label="Permission set">
              <Input value={permissionSet} onChange={(e) => setPermissionSet(e.detail.value)} ariaLabel="Permission set to explain" />
            </FormField>
            <Button formAction="submit" loading={busy}>
              Why?
            </Button>
          </SpaceBetween>
          {error && <Alert type="error">{error}</Alert>}
          {answer && (
            <Alert type={answer.allowed ? "success" : "warning"} header={answer.allowed ? "Allowed" : "Not allowed"}>
              <ul>
                {answer.decisions.map((d) => (
                  <li key={d}>{d}</li>
                ))}
              </ul>
            </Alert>
          )}
          {answer?.plan && <PlanView plan={answer.plan} requester={action === "approve" ? requester : who} />}
        </SpaceBetween>
      </form>
    </Container>
  );
}

/** What a person may request, the eligibility rule that allows it and the plan a request
 * would get: for oneself, or (admins) for anyone; and why a decision goes as it does. */
export function PolicyPage({ user }: { user: string }) {
  const [who, setWho] = useState(user);
  const [asked, setAsked] = useState(user);
  const [catalog, setCatalog] = useState<ListRequestableTargetsResponse | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    setCatalog(null);
    setError(null);
    api.listRequestableTargets({ user: asked === user ? "" : asked }).then(setCatalog, (e) => setError(messageOf(e)));
  }, [asked, user]);
  const plan = (name: string) => catalog?.plans.find((p) => p.name === name);
  return (
    <SpaceBetween size="l">
    <Table
      header={
        <SpaceBetween size="s">
          <Header variant="h1" description="What a person may request, the eligibility rule that allows it, and the plan (approvers, caps) a request would get. Admins may ask for anyone.">
            Policy
          </Header>
          <form
            onSubmit={(e) => {
              e.preventDefault();
              setAsked(who.trim() || user);
            }}
          >
            <SpaceBetween direction="horizontal" size="xs" alignItems="end">
              <FormField label="Person">
                <Input value={who} onChange={(e) => setWho(e.detail.value)} ariaLabel="Person" />
              </FormField>
              <Button formAction="submit">Explain</Button>
            </SpaceBetween>
          </form>
        </SpaceBetween>
      }
      loading={!catalog && !error}
      loadingText="Asking the policy"
      empty={<Box textAlign="center">{error ?? `The policy lets ${asked} request nothing.`}</Box>}
      items={catalog?.targets ?? []}
      trackBy={(t) => `${t.accountId}/${t.permissionSet}`}
      ariaLabels={{ tableLabel: `What ${asked} may request` }}
      wrapLines
      columnDefinitions={[
        { id: "account", header: "Account", cell: (t) => (t.accountName ? `${t.accountName} (${t.accountId})` : t.accountId), isRowHeader: true },
        { id: "ps", header: "Permission set", cell: (t) => t.permissionSet },
        { id: "rule", header: "Allowed by", cell: (t) => <Box variant="code">{t.rule}</Box> },
        {
          id: "plan",
          header: "Plan",
          cell: (t) => {
            const p = plan(t.plan);
            if (!p) return t.plan || "—";
            const steps = p.steps.length ? p.steps.map((s) => `${s.name}: ${s.quorum} of ${s.approvers.join(", ") || s.groups.join(", ")}`).join(", then ") : "no approval";
            return `${p.name} — ${steps}; up to ${p.maxDuration ? formatDuration(Number(p.maxDuration.seconds)) : "?"}`;
          },
        },
      ]}
    />
    <Explain user={user} />
    </SpaceBetween>
  );
}
