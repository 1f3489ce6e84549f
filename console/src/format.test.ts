import { describe, expect, it } from "vitest";
import { countdown, formatDuration, isEnded, millis, parseAuditLine, parseDuration, relativeTime, statusLabel } from "./format";
import { TicketStatus } from "./gen/jit/v1/tickets_pb";

describe("durations", () => {
  it("parses what people type", () => {
    expect(parseDuration("1h")).toBe(3600);
    expect(parseDuration("1h30m")).toBe(5400);
    expect(parseDuration(" 2h 15m ")).toBe(8100);
    expect(parseDuration("90s")).toBe(90);
    expect(parseDuration("1d")).toBe(86400);
  });
  it("refuses what is not a duration", () => {
    for (const t of ["", "1", "h", "1x", "-1h", "1.5h", "0m"]) expect(parseDuration(t)).toBeNull();
  });
  it("formats for people", () => {
    expect(formatDuration(5400)).toBe("1h 30m");
    expect(formatDuration(86400 + 60)).toBe("1d 1m");
    expect(formatDuration(42)).toBe("42s");
  });
});

describe("times", () => {
  const now = Date.parse("2026-12-06T12:00:00Z");
  it("says how long ago or ahead", () => {
    expect(relativeTime(now + 5 * 60_000, now)).toBe("in 5 minutes");
    expect(relativeTime(now - 3 * 3600_000, now)).toBe("3 hours ago");
    expect(relativeTime(now, now)).toBe("now");
  });
  it("counts down to an expiry", () => {
    expect(countdown(now + 3723_000, now)).toBe("1h 02m 03s");
    expect(countdown(now + 65_000, now)).toBe("1m 05s");
    expect(countdown(now - 1, now)).toBe("ended");
  });
});

describe("statuses", () => {
  it("names every status and knows which have ended", () => {
    expect(statusLabel(TicketStatus.ACTIVE)).toEqual(["Active", "success"]);
    expect(statusLabel(TicketStatus.PENDING_APPROVAL)[0]).toBe("Pending approval");
    expect(isEnded(TicketStatus.ACTIVE)).toBe(false);
    expect(isEnded(TicketStatus.REVOKED)).toBe(true);
    expect(isEnded(TicketStatus.EXPIRED)).toBe(true);
    const values = Object.values(TicketStatus).filter((x): x is TicketStatus => typeof x === "number" && x !== 0);
    expect(values.length).toBe(14);
    for (const v of values) expect(statusLabel(v)[0]).not.toBe("Unknown");
  });
  it("reads the audit trail's lines", () => {
    expect(parseAuditLine("2026-12-06T10:11:12.5Z  approved by carol")).toEqual({ at: Date.parse("2026-12-06T10:11:12.5Z"), what: "approved by carol" });
    expect(parseAuditLine("no time here")).toBeNull();
  });
});

describe("timestamps", () => {
  it("turn into milliseconds, unset into 0", () => {
    expect(millis({ seconds: 1n, nanos: 500_000_000 })).toBe(1500);
    expect(millis(undefined)).toBe(0);
  });
});
