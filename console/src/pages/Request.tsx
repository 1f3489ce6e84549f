import { useEffect, useMemo, useState } from "react";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import Button from "@cloudscape-design/components/button";
import Checkbox from "@cloudscape-design/components/checkbox";
import ColumnLayout from "@cloudscape-design/components/column-layout";
import Container from "@cloudscape-design/components/container";
import DatePicker from "@cloudscape-design/components/date-picker";
import Form from "@cloudscape-design/components/form";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import Input from "@cloudscape-design/components/input";
import Select from "@cloudscape-design/components/select";
import SegmentedControl from "@cloudscape-design/components/segmented-control";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Spinner from "@cloudscape-design/components/spinner";
import Textarea from "@cloudscape-design/components/textarea";
import TimeInput from "@cloudscape-design/components/time-input";
import { api, fieldErrors, messageOf } from "../api";
import { flash } from "../flash";
import { formatDuration, parseDuration } from "../format";
import { requestFields } from "../fields";
import { go } from "../nav";
import { CreateTicketRequestSchema, type ListRequestableTargetsResponse } from "../gen/jit/v1/tickets_pb";
import { PlanView } from "./PlanView";

const seconds = (d?: { seconds: bigint }) => (d ? Number(d.seconds) : 0);

export function RequestPage({ user }: { user: string }) {
  const [catalog, setCatalog] = useState<ListRequestableTargetsResponse | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [kind, setKind] = useState<"target" | "bundle">("target");
  const [account, setAccount] = useState<string | null>(null);
  const [permissionSet, setPermissionSet] = useState<string | null>(null);
  const [bundle, setBundle] = useState<string | null>(null);
  const [duration, setDuration] = useState("1h");
  const [reason, setReason] = useState("");
  const [forUser, setForUser] = useState("");
  const [later, setLater] = useState(false);
  const [date, setDate] = useState("");
  const [time, setTime] = useState("");
  const [breakGlass, setBreakGlass] = useState(false);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const [requestId, setRequestId] = useState(() => crypto.randomUUID());

  useEffect(() => {
    api.listRequestableTargets({}).then(setCatalog, (e) => setLoadError(messageOf(e)));
  }, [user]);

  const accounts = useMemo(() => {
    const m = new Map<string, string>();
    catalog?.targets.forEach((t) => m.set(t.accountId, t.accountName));
    return [...m].map(([id, name]) => ({ value: id, label: name ? `${name} (${id})` : id }));
  }, [catalog]);
  const sets = useMemo(
    () => (catalog?.targets ?? []).filter((t) => t.accountId === account).map((t) => ({ value: t.permissionSet, label: t.permissionSet, description: `rule: ${t.rule}` })),
    [catalog, account],
  );
  const target = catalog?.targets.find((t) => t.accountId === account && t.permissionSet === permissionSet);
  const plan = target ? catalog?.plans.find((p) => p.name === target.plan) : undefined;
  const cap = seconds(plan?.maxDuration);

  if (loadError) return <Container header={<Header variant="h1">Request access</Header>}>{loadError}</Container>;
  if (!catalog) return <Spinner size="large" />;

  const submit = async () => {
    const local: Record<string, string> = {};
    const secs = parseDuration(duration);
    if (secs === null) local.duration = "a duration such as 1h, 30m or 1h30m";
    if (kind === "target" && !account) local["targets[0].account_id"] = "choose an account";
    if (kind === "target" && !permissionSet) local["targets[0].permission_set"] = "choose a permission set";
    if (kind === "bundle" && !bundle) local.bundle = "choose a bundle";
    if (later && (!date || !time)) local.start_time = "a date and a time";
    setErrors(local);
    if (Object.keys(local).length) return;
    setBusy(true);
    try {
      const start = later ? new Date(`${date}T${time}`) : undefined;
      const msg = create(CreateTicketRequestSchema, {
        requestId,
        targets: kind === "target" ? [{ accountId: account!, permissionSet: permissionSet! }] : [],
        bundle: kind === "bundle" ? bundle! : "",
        duration: { seconds: BigInt(secs!), nanos: 0 },
        justification: reason,
        principal: forUser.trim() ? { kind: { case: "user", value: forUser.trim() } } : undefined,
        startTime: start ? timestampFromDate(start) : undefined,
        breakGlass,
      });
      const r = await api.createTicket(msg);
      setRequestId(crypto.randomUUID());
      flash("success", `Ticket ${r.ticket?.ticketId} ${r.created ? "created" : "was already created by this request"}.`);
      go(`/tickets/${r.ticket?.ticketId}`);
    } catch (e) {
      const f = fieldErrors(e);
      setErrors(f);
      if (!Object.keys(f).length) flash("error", messageOf(e));
    } finally {
      setBusy(false);
    }
  };

  const fields = requestFields(errors);
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      <Form
        header={<Header variant="h1" description={`As ${user}: what the policy lets you request, and the plan it would wait for.`}>Request access</Header>}
        actions={
          <SpaceBetween direction="horizontal" size="xs">
            <Button formAction="none" variant="link" onClick={() => go("/tickets")}>
              Cancel
            </Button>
            <Button variant="primary" loading={busy} formAction="submit">
              Submit request
            </Button>
          </SpaceBetween>
        }
        errorText={fields.other}
      >
        <SpaceBetween size="l">
          <Container header={<Header variant="h2">What</Header>}>
            <SpaceBetween size="m">
              {catalog.bundles.length > 0 && (
                <SegmentedControl
                  selectedId={kind}
                  onChange={(e) => setKind(e.detail.selectedId as "target" | "bundle")}
                  label="Request"
                  options={[
                    { id: "target", text: "A permission set" },
                    { id: "bundle", text: "A bundle" },
                  ]}
                />
              )}
              {kind === "target" ? (
                <ColumnLayout columns={2}>
                  <FormField label="Account" errorText={fields.account}>
                    <Select
                      selectedOption={accounts.find((a) => a.value === account) ?? null}
                      onChange={(e) => {
                        setAccount(e.detail.selectedOption.value ?? null);
                        setPermissionSet(null);
                      }}
                      options={accounts}
                      placeholder="Choose an account"
                      filteringType="auto"
                      empty="Nothing you may request"
                      ariaLabel="Account"
                    />
                  </FormField>
                  <FormField label="Permission set" errorText={fields.permissionSet}>
                    <Select
                      selectedOption={sets.find((s) => s.value === permissionSet) ?? null}
                      onChange={(e) => setPermissionSet(e.detail.selectedOption.value ?? null)}
                      options={sets}
                      disabled={!account}
                      placeholder="Choose a permission set"
                      ariaLabel="Permission set"
                    />
                  </FormField>
                </ColumnLayout>
              ) : (
                <FormField label="Bundle" errorText={fields.bundle}>
                  <Select
                    selectedOption={bundle ? { value: bundle, label: bundle } : null}
                    onChange={(e) => setBundle(e.detail.selectedOption.value ?? null)}
                    options={catalog.bundles.map((b) => ({ value: b, label: b }))}
                    placeholder="Choose a bundle"
                    ariaLabel="Bundle"
                  />
                </FormField>
              )}
              <FormField label="For someone else" description="A user of your team, where the policy lets you ask for them; empty: yourself." errorText={fields.principal} stretch={false}>
                <Input value={forUser} onChange={(e) => setForUser(e.detail.value)} placeholder={user} ariaLabel="For someone else" />
              </FormField>
            </SpaceBetween>
          </Container>
          <Container header={<Header variant="h2">For how long, and why</Header>}>
            <SpaceBetween size="m">
              <FormField
                label="Duration"
                constraintText={cap ? `At most ${formatDuration(cap)} (plan ${plan?.name}).` : "Such as 1h, 30m or 1h30m."}
                errorText={fields.duration}
              >
                <Input value={duration} onChange={(e) => setDuration(e.detail.value)} ariaLabel="Duration" />
              </FormField>
              <Checkbox checked={later} onChange={(e) => setLater(e.detail.checked)}>
                Start later
              </Checkbox>
              {later && (
                <FormField label="Start at" description="Your local time." errorText={fields.startTime}>
                  <SpaceBetween direction="horizontal" size="xs">
                    <DatePicker value={date} onChange={(e) => setDate(e.detail.value)} placeholder="YYYY/MM/DD" ariaLabel="Start date" />
                    <TimeInput value={time} onChange={(e) => setTime(e.detail.value)} format="hh:mm" placeholder="hh:mm" ariaLabel="Start time" />
                  </SpaceBetween>
                </FormField>
              )}
              <FormField label="Reason" description="Shown to the approvers (a ticket or incident id helps)." errorText={fields.justification}>
                <Textarea value={reason} onChange={(e) => setReason(e.detail.value)} placeholder="INC-42: look at the logs" ariaLabel="Reason" />
              </FormField>
              {plan?.breakGlassRatifyDuration && (
                <Checkbox
                  checked={breakGlass}
                  onChange={(e) => setBreakGlass(e.detail.checked)}
                  description={`Access at once; the approvers must ratify it within ${formatDuration(seconds(plan.breakGlassRatifyDuration))} or it ends and is flagged.`}
                >
                  Break-glass
                </Checkbox>
              )}
            </SpaceBetween>
          </Container>
          {plan && <PlanView plan={plan} requester={forUser.trim() || user} />}
        </SpaceBetween>
      </Form>
    </form>
  );
}
