// Pure helpers: durations, relative times, statuses (format.test.ts).

import { TicketStatus } from "./gen/jit/v1/tickets_pb";

/** "1h30m", "45m", "2h", "90s" -> seconds; null when it is not a duration. */
export function parseDuration(text: string): number | null {
  const t = text.trim().toLowerCase();
  if (!/^(\d+\s*[dhms]\s*)+$/.test(t)) return null;
  let total = 0;
  for (const m of t.matchAll(/(\d+)\s*([dhms])/g)) {
    const n = Number(m[1]);
    total += n * { d: 86400, h: 3600, m: 60, s: 1 }[m[2] as "d" | "h" | "m" | "s"];
  }
  return total > 0 ? total : null;
}

/** Seconds as "1h 30m" (days, hours, minutes; seconds only under a minute). */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  return [d ? `${d}d` : "", h ? `${h}h` : "", m ? `${m}m` : ""].filter(Boolean).join(" ");
}

/** "in 5 minutes", "3 hours ago", relative to `now` (both in ms). */
export function relativeTime(at: number, now: number): string {
  const diff = Math.round((at - now) / 1000);
  const abs = Math.abs(diff);
  const units: [number, Intl.RelativeTimeFormatUnit][] = [
    [86400, "day"],
    [3600, "hour"],
    [60, "minute"],
    [1, "second"],
  ];
  const fmt = new Intl.RelativeTimeFormat("en", { numeric: "auto" });
  for (const [size, unit] of units) {
    if (abs >= size || unit === "second") {
      return fmt.format(Math.round(diff / size), unit);
    }
  }
  return "now";
}

/** The countdown to `at` from `now` (ms): "1h 02m 03s", or "ended" once passed. */
export function countdown(at: number, now: number): string {
  const s = Math.floor((at - now) / 1000);
  if (s <= 0) return "ended";
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const pad = (n: number) => String(n).padStart(2, "0");
  return h > 0 ? `${h}h ${pad(m)}m ${pad(sec)}s` : `${m}m ${pad(sec)}s`;
}

export type Indicator = "success" | "error" | "warning" | "info" | "stopped" | "pending" | "in-progress" | "loading";

const NAMES: Record<number, [string, Indicator]> = {
  [TicketStatus.UNSPECIFIED]: ["Unknown", "stopped"],
  [TicketStatus.EVALUATING]: ["Evaluating", "loading"],
  [TicketStatus.PENDING_APPROVAL]: ["Pending approval", "pending"],
  [TicketStatus.SCHEDULED]: ["Scheduled", "pending"],
  [TicketStatus.PROVISIONING]: ["Provisioning", "in-progress"],
  [TicketStatus.ACTIVE]: ["Active", "success"],
  [TicketStatus.REVOKING]: ["Revoking", "in-progress"],
  [TicketStatus.EXPIRED]: ["Expired", "stopped"],
  [TicketStatus.DENIED]: ["Denied", "error"],
  [TicketStatus.APPROVAL_EXPIRED]: ["Approval expired", "stopped"],
  [TicketStatus.REJECTED]: ["Rejected", "error"],
  [TicketStatus.FAILED]: ["Failed", "error"],
  [TicketStatus.REVOKED]: ["Revoked", "warning"],
  [TicketStatus.RELINQUISHED]: ["Relinquished", "stopped"],
  [TicketStatus.CANCELLED]: ["Cancelled", "stopped"],
};

/** A status's name for people and its indicator type. */
export function statusLabel(s: TicketStatus): [string, Indicator] {
  return NAMES[s] ?? ["Unknown", "stopped"];
}

/** Whether a ticket in this status has ended. */
export function isEnded(s: TicketStatus): boolean {
  return s >= TicketStatus.EXPIRED;
}

/** "2026-12-06T10:11:12Z  what happened" -> [time ms, what]; null for other lines. */
export function parseAuditLine(line: string): { at: number; what: string } | null {
  const m = /^(\S+)\s+(.*)$/s.exec(line);
  if (!m) return null;
  const at = Date.parse(m[1]);
  if (Number.isNaN(at)) return null;
  return { at, what: m[2] };
}

/** A protobuf Timestamp as milliseconds since the epoch; 0 when unset. */
export function millis(t?: { seconds: bigint; nanos: number }): number {
  return t ? Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6) : 0;
}
