import { describe, expect, it } from "vitest";
import { requestFields } from "./fields";

describe("field violations on the request form", () => {
  it("go to their field", () => {
    const f = requestFields({
      "targets[0].account_id": "not 12 digits",
      "targets[0].permission_set": "unknown",
      duration: "9h is longer than plan prod's maximum of 8h",
      "principal.user": "not a user",
      start_time: "in the past",
      justification: "too short",
    });
    expect(f.account).toBe("not 12 digits");
    expect(f.permissionSet).toBe("unknown");
    expect(f.duration).toContain("maximum");
    expect(f.principal).toBe("not a user");
    expect(f.startTime).toBe("in the past");
    expect(f.justification).toBe("too short");
    expect(f.other).toBeUndefined();
  });
  it("and the rest to the form", () => {
    expect(requestFields({ request_id: "used twice" }).other).toBe("request_id: used twice");
  });
});
