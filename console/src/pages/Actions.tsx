import { useState } from "react";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import DatePicker from "@cloudscape-design/components/date-picker";
import FormField from "@cloudscape-design/components/form-field";
import Input from "@cloudscape-design/components/input";
import Modal from "@cloudscape-design/components/modal";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Textarea from "@cloudscape-design/components/textarea";
import TimeInput from "@cloudscape-design/components/time-input";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { api, fieldErrors, messageOf } from "../api";
import { flash } from "../flash";
import { parseDuration } from "../format";

export type Action = "approve" | "deny" | "delegate" | "extend" | "relinquish" | "cancel" | "revoke";

const TITLES: Record<Action, string> = {
  approve: "Approve",
  deny: "Deny",
  delegate: "Delegate my approval",
  extend: "Extend access",
  relinquish: "Done: remove my access now",
  cancel: "Cancel the request",
  revoke: "Revoke access",
};

/** A confirmation dialog for one action on ticket `id`; `onDone` after it succeeded. */
export function ActionModal({ id, action, onClose, onDone }: { id: string; action: Action; onClose: () => void; onDone: () => void }) {
  const [text, setText] = useState("");
  const [extra, setExtra] = useState("1h");
  const [delegate, setDelegate] = useState("");
  const [date, setDate] = useState(() => new Date(Date.now() + 86400_000).toISOString().slice(0, 10));
  const [time, setTime] = useState("18:00");
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const needsReason = action === "deny" || action === "revoke";

  const run = async () => {
    const local: Record<string, string> = {};
    if (needsReason && !text.trim()) local[action === "deny" ? "comment" : "reason"] = "say why";
    const secs = parseDuration(extra);
    if (action === "extend" && secs === null) local.extra_duration = "a duration such as 1h or 30m";
    if (action === "delegate" && !delegate.trim()) local.delegate = "who votes instead of you";
    setErrors(local);
    if (Object.keys(local).length) return;
    setBusy(true);
    try {
      let effect = "";
      switch (action) {
        case "approve":
          effect = (await api.approveTicket({ ticketId: id, comment: text })).effect;
          break;
        case "deny":
          effect = (await api.denyTicket({ ticketId: id, comment: text })).effect;
          break;
        case "delegate":
          await api.delegateApproval({
            ticketId: id,
            delegate: delegate.trim(),
            expireTime: timestampFromDate(new Date(`${date}T${time}`)),
            reason: text,
          });
          effect = `delegated to ${delegate.trim()}`;
          break;
        case "extend": {
          const r = await api.extendTicket({ ticketId: id, extraDuration: { seconds: BigInt(secs!), nanos: 0 }, reason: text });
          effect = r.applied ? "extended" : "extension waits for approval";
          break;
        }
        case "relinquish":
          await api.relinquishTicket({ ticketId: id, reason: text });
          effect = "access removed";
          break;
        case "cancel":
          await api.cancelTicket({ ticketId: id, reason: text });
          effect = "request cancelled";
          break;
        case "revoke":
          await api.revokeTicket({ ticketId: id, reason: text });
          effect = "access revoked";
          break;
      }
      flash("success", `Ticket ${id}: ${effect}.`);
      onDone();
    } catch (e) {
      const f = fieldErrors(e);
      if (Object.keys(f).length) setErrors(f);
      else setErrors({ other: messageOf(e) });
    } finally {
      setBusy(false);
    }
  };

  const reasonField = action === "approve" || action === "deny" ? "comment" : "reason";
  return (
    <Modal
      visible
      onDismiss={onClose}
      header={TITLES[action]}
      closeAriaLabel="Close"
      footer={
        <Box float="right">
          <SpaceBetween direction="horizontal" size="xs">
            <Button variant="link" onClick={onClose}>
              Back
            </Button>
            <Button variant="primary" loading={busy} onClick={() => void run()}>
              {TITLES[action].split(":")[0]}
            </Button>
          </SpaceBetween>
        </Box>
      }
    >
      <SpaceBetween size="m">
        {errors.other && (
          <div role="alert">
            <Box color="text-status-error">{errors.other}</Box>
          </div>
        )}
        {action === "extend" && (
          <FormField label="Extra time" errorText={errors.extra_duration}>
            <Input value={extra} onChange={(e) => setExtra(e.detail.value)} ariaLabel="Extra time" />
          </FormField>
        )}
        {action === "delegate" && (
          <>
            <FormField label="Delegate" description="Who votes in your place." errorText={errors.delegate}>
              <Input value={delegate} onChange={(e) => setDelegate(e.detail.value)} ariaLabel="Delegate" />
            </FormField>
            <FormField label="Until" description="Your local time." errorText={errors.expire_time}>
              <SpaceBetween direction="horizontal" size="xs">
                <DatePicker value={date} onChange={(e) => setDate(e.detail.value)} ariaLabel="Until date" />
                <TimeInput value={time} onChange={(e) => setTime(e.detail.value)} format="hh:mm" ariaLabel="Until time" />
              </SpaceBetween>
            </FormField>
          </>
        )}
        <FormField label={needsReason ? "Reason" : "Comment (optional)"} errorText={errors[reasonField]}>
          <Textarea value={text} onChange={(e) => setText(e.detail.value)} ariaLabel={needsReason ? "Reason" : "Comment"} />
        </FormField>
      </SpaceBetween>
    </Modal>
  );
}
