import { describe, expect, it } from "vitest";
import { challengeOf, subjectOf } from "./auth";

describe("sign-in", () => {
  it("derives the PKCE challenge of RFC 7636's example", async () => {
    expect(await challengeOf("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")).toBe("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
  });
  it("reads a JWT's subject, and nothing from garbage", () => {
    const claims = btoa(JSON.stringify({ sub: "bob", aud: "jit" })).replace(/=+$/, "");
    expect(subjectOf(`e30.${claims}.sig`)).toBe("bob");
    expect(subjectOf("dev:bob")).toBeNull();
    expect(subjectOf("a.!!!.c")).toBeNull();
  });
});
