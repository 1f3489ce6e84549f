import { describe, expect, it } from "vitest";
import { formatRoute, parseRoute } from "./route";

describe("routes", () => {
  it("parses every page and formats it back", () => {
    for (const path of ["/request", "/tickets", "/approvals", "/admin", "/policy", "/tickets/r-3dc1948d8253e2aa36950997"]) {
      expect(formatRoute(parseRoute(path))).toBe(path);
    }
  });
  it("takes / and trailing slashes as their page", () => {
    expect(parseRoute("/")).toEqual({ page: "tickets" });
    expect(parseRoute("/approvals/")).toEqual({ page: "approvals" });
  });
  it("refuses ticket ids that are not ids, and unknown paths", () => {
    expect(parseRoute("/tickets/%3Cscript%3E").page).toBe("not-found");
    expect(parseRoute("/tickets/a/b").page).toBe("not-found");
    expect(parseRoute("/nope")).toEqual({ page: "not-found", path: "/nope" });
  });
});
