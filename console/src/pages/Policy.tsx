import { useEffect, useState } from "react";
import Box from "@cloudscape-design/components/box";
import Header from "@cloudscape-design/components/header";
import Table from "@cloudscape-design/components/table";
import { api, messageOf } from "../api";
import type { ListRequestableTargetsResponse } from "../gen/jit/v1/tickets_pb";

/** What the policy lets the signed-in person request, and why (the rule and the plan). */
export function PolicyPage({ user }: { user: string }) {
  const [catalog, setCatalog] = useState<ListRequestableTargetsResponse | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api.listRequestableTargets({}).then(setCatalog, (e) => setError(messageOf(e)));
  }, [user]);
  return (
    <Table
      header={
        <Header variant="h1" description={`What ${user} may request, the eligibility rule that allows it, and the approval plan a request would get.`}>
          Policy
        </Header>
      }
      loading={!catalog && !error}
      loadingText="Asking the policy"
      empty={<Box textAlign="center">{error ?? "The policy lets you request nothing."}</Box>}
      items={catalog?.targets ?? []}
      trackBy={(t) => `${t.accountId}/${t.permissionSet}`}
      ariaLabels={{ tableLabel: "What you may request" }}
      columnDefinitions={[
        { id: "account", header: "Account", cell: (t) => (t.accountName ? `${t.accountName} (${t.accountId})` : t.accountId) },
        { id: "ps", header: "Permission set", cell: (t) => t.permissionSet },
        { id: "rule", header: "Allowed by", cell: (t) => <Box variant="code">{t.rule}</Box> },
        { id: "plan", header: "Plan", cell: (t) => t.plan || "—" },
      ]}
    />
  );
}
