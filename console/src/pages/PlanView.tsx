import Box from "@cloudscape-design/components/box";
import Container from "@cloudscape-design/components/container";
import Header from "@cloudscape-design/components/header";
import StatusIndicator from "@cloudscape-design/components/status-indicator";
import Table from "@cloudscape-design/components/table";
import type { Plan, Vote } from "../gen/jit/v1/tickets_pb";
import { formatDuration } from "../format";

/** A plan's steps: quorum, who may approve, and (for a ticket) the votes cast as whom. */
export function PlanView({ plan, votes, currentStep, requester }: { plan: Plan; votes?: Vote[]; currentStep?: string; requester?: string }) {
  const max = plan.maxDuration ? formatDuration(Number(plan.maxDuration.seconds)) : "";
  const total = plan.maxTotal ? formatDuration(Number(plan.maxTotal.seconds)) : "";
  return (
    <Container
      header={
        <Header variant="h2" description={`Up to ${max} a request, ${total} with extensions.`}>
          Plan {plan.name}
        </Header>
      }
    >
      {plan.steps.length === 0 ? (
        <Box>Approved without votes.</Box>
      ) : (
        <Table
          variant="embedded"
          ariaLabels={{ tableLabel: `Steps of plan ${plan.name}` }}
          items={plan.steps}
          trackBy="name"
          columnDefinitions={[
            { id: "step", header: "Step", cell: (s) => s.name },
            { id: "quorum", header: "Approvals needed", cell: (s) => s.quorum },
            {
              id: "approvers",
              header: "Who may approve",
              cell: (s) =>
                [...s.approvers.filter((a) => a !== requester), ...s.groups.map((g) => `group ${g}`)].join(", ") || "nobody",
            },
            ...(votes
              ? [
                  {
                    id: "votes",
                    header: "Votes",
                    cell: (s: Plan["steps"][number]) => {
                      const mine = votes.filter((v) => v.step === s.name);
                      if (!mine.length) {
                        return currentStep === s.name ? <StatusIndicator type="pending">waiting</StatusIndicator> : "—";
                      }
                      return mine.map((v) => (
                        <div key={`${v.voter}-${v.castBy}`}>
                          <StatusIndicator type={v.approve ? "success" : "error"}>
                            {v.castBy && v.castBy !== v.voter ? `${v.castBy} as ${v.voter}` : v.voter}
                            {v.approve ? " approved" : " denied"}
                            {v.comment ? `: ${v.comment}` : ""}
                          </StatusIndicator>
                        </div>
                      ));
                    },
                  },
                ]
              : []),
          ]}
        />
      )}
    </Container>
  );
}
