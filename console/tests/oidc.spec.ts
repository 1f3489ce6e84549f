// Production sign-in: OpenID Connect authorization code with PKCE against a real provider
// (tests/oidc: panva's oidc-provider), run by tests/e2e/console.rs against an API that takes
// only the provider's JWTs.
import { expect, test } from "@playwright/test";

test("people sign in with OpenID Connect (code + PKCE) and the token stays in memory", async ({ page }) => {
  const violations: string[] = [];
  page.on("console", (m) => {
    if (/Content[- ]Security[- ]Policy|Refused to/i.test(m.text())) violations.push(m.text());
  });
  await page.goto("/approvals");
  await page.getByRole("button", { name: /^Sign in with 127\.0\.0\.1:\d+$/ }).click();

  // The provider's own pages: its development sign-in takes any password, then consent.
  await page.locator('input[name="login"]').fill("carol");
  await page.locator('input[name="password"]').fill("any");
  await page.locator('button[type="submit"]').click();
  await page.locator('button[type="submit"]').click();

  // Back at the console, where the sign-in began, as carol, with a token the API accepts.
  await expect(page).toHaveURL(/\/approvals$/);
  await expect(page.getByRole("button", { name: "carol" })).toBeVisible();
  await expect(page.getByText("Waiting for my approval")).toBeVisible();
  await expect(page.getByText(/could not|UNAUTHENTICATED|unauthenticated/i)).toHaveCount(0);

  // Nothing of the token in storage: only in the page's memory.
  const stored = await page.evaluate(() => JSON.stringify([{ ...localStorage }, { ...sessionStorage }, document.cookie]));
  expect(stored).not.toMatch(/eyJ/);

  // A reload forgets it: signing in again (the provider remembers the person).
  await page.reload();
  await expect(page.getByRole("button", { name: /^Sign in with/ })).toBeVisible();
  expect(violations).toEqual([]);
});
