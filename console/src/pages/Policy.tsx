import { useEffect, useState } from "react";
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

/** What a person may request, the eligibility rule that allows it and the plan a request
 * would get: for oneself, or (admins) for anyone. */
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
  );
}
