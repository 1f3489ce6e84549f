// The demo story, clicked through in Debian's Chromium against the real stack (see
// tests/e2e/console.rs, which starts it and sets the environment).
import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Browser, type Page } from "@playwright/test";
import * as path from "node:path";

const ACCOUNT = process.env.JIT_ACCOUNT!;
const CHECK = process.env.JIT_CHECK_URL!;
const SHOTS = process.env.JIT_CONSOLE_SCREENSHOTS;
const REASON = "<script>window.__pwned=1</script> <!channel> INC-7: checking prod";

const cspViolations: string[] = [];

/** A fresh browser context signed in (dev sign-in) as `user`, at `at`. */
async function as(browser: Browser, user: string, at = "/tickets"): Promise<Page> {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  page.on("console", (m) => {
    if (/Content[- ]Security[- ]Policy|Refused to/i.test(m.text())) cspViolations.push(`${user}: ${m.text()}`);
  });
  page.on("pageerror", (e) => cspViolations.push(`${user}: page error ${e.message}`));
  await page.goto(at);
  await page.getByRole("button", { name: /User/ }).click();
  await page.getByRole("option", { name: user, exact: true }).click();
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("button", { name: user })).toBeVisible();
  return page;
}

/** Follows the side navigation's link `name` (opening the navigation if it is closed). */
async function nav(page: Page, name: string) {
  const open = page.getByRole("button", { name: "Open navigation" });
  if (await open.isVisible()) await open.click();
  await page.getByRole("navigation", { name: "Navigation" }).getByRole("link", { name, exact: true }).click();
}

async function assignments(user: string): Promise<number> {
  const r = await fetch(`${CHECK}/assignments?user=${user}&permission_set=ReadOnly`);
  return ((await r.json()) as { count: number }).count;
}

/** No serious or critical accessibility violation on the page as it is now. */
async function accessible(page: Page, what: string) {
  const r = await new AxeBuilder({ page }).analyze();
  const bad = r.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(bad.map((v) => `${what}: ${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`)).toEqual([]);
}

/** Screenshots of the page, light and dark. */
async function shoot(page: Page, name: string) {
  if (!SHOTS) return;
  await page.screenshot({ path: path.join(SHOTS, `${name}-light.png`), fullPage: true });
  await page.getByRole("button", { name: "Switch to dark mode" }).click();
  await page.screenshot({ path: path.join(SHOTS, `${name}-dark.png`), fullPage: true });
  await page.getByRole("button", { name: "Switch to light mode" }).click();
}

/** The table's row of `ticket`, found through the property filter (other tickets may fill
 * the first page). */
async function rowOf(page: Page, table: string, ticket: string) {
  const filter = page.getByRole("combobox", { name: "Filter tickets" });
  await filter.fill(ticket);
  await filter.press("Enter");
  return page.getByRole("table", { name: table }).getByRole("row").filter({ hasText: ticket });
}

async function vote(page: Page, ticket: string, how: "Approve" | "Deny") {
  await nav(page, "Approvals");
  const row = await rowOf(page, "Waiting for my approval", ticket);
  await expect(row).toBeVisible();
  await row.getByRole("radio").check();
  await page.getByRole("button", { name: how, exact: true }).first().click();
  const dialog = page.getByRole("dialog");
  await dialog.getByRole("button", { name: how, exact: true }).click();
  await expect(page.getByText(new RegExp(`Ticket ${ticket}: counted`))).toBeVisible();
}

test("the whole story, by clicking", async ({ browser }) => {
  // bob asks for ReadOnly and sees the plan before sending anything.
  const bob = await as(browser, "bob", "/request");
  await accessible(bob, "request (empty)");
  await bob.getByRole("button", { name: /Account/ }).click();
  await bob.getByRole("option", { name: new RegExp(ACCOUNT) }).click();
  await bob.getByRole("button", { name: /Permission set/ }).click();
  await bob.getByRole("option", { name: /ReadOnly/ }).click();
  const plan = bob.getByRole("table", { name: "Steps of plan production" });
  await expect(plan).toBeVisible();
  await expect(plan.getByRole("row").filter({ hasText: "sre" })).toContainText("carol");
  await expect(plan.getByRole("row").filter({ hasText: "sre" })).toContainText("dave");
  await expect(plan.getByRole("row").filter({ hasText: "security" })).toContainText("erin");
  await expect(bob.getByText("At most 4h (plan production).")).toBeVisible();
  await accessible(bob, "request (filled)");
  await shoot(bob, "request");

  // Over the plan's cap: the API's field violation, on the Duration field.
  await bob.getByLabel("Duration").fill("9h");
  await bob.getByLabel("Reason").fill(REASON);
  await bob.getByRole("button", { name: "Submit request" }).click();
  await expect(bob.getByText("9h is longer than plan production's maximum of 4h")).toBeVisible();
  await expect(bob).toHaveURL(/\/request$/);

  // Within the cap: the ticket's page.
  await bob.getByLabel("Duration").fill("1h");
  await bob.getByRole("button", { name: "Submit request" }).click();
  await expect(bob).toHaveURL(/\/tickets\/r-[0-9a-f]+$/);
  const ticket = bob.url().split("/").pop()!;
  await expect(bob.getByText("Pending approval")).toBeVisible();
  // The justification is text: the script is shown, not run; <!channel> is shown as typed.
  await expect(bob.getByTestId("justification")).toHaveText(REASON);
  expect(await bob.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();

  // bob may not approve his own request: the workflow's words.
  await bob.getByRole("button", { name: "Approve", exact: true }).click();
  await bob.getByRole("dialog").getByRole("button", { name: "Approve", exact: true }).click();
  await expect(bob.getByRole("dialog").getByRole("alert")).toContainText("bob is the requester");
  await bob.getByRole("dialog").getByRole("button", { name: "Back" }).click();
  await accessible(bob, "ticket (pending)");
  await shoot(bob, "ticket-pending");

  // carol approves from her queue.
  const carol = await as(browser, "carol", "/approvals");
  // The navigation counts what waits for her (other tests' tickets may wait too).
  await expect(carol.getByLabel(/^\d+ waiting for you$/)).toBeVisible();
  await accessible(carol, "approvals");
  await shoot(carol, "approvals");
  await vote(carol, ticket, "Approve");

  // dave is away: he delegates to frank, who approves as dave.
  const dave = await as(browser, "dave", `/tickets/${ticket}`);
  await dave.getByRole("button", { name: "Delegate" }).click();
  await dave.getByLabel("Delegate", { exact: true }).fill("frank");
  await dave.getByRole("dialog").getByRole("button", { name: "Delegate my approval" }).click();
  await expect(dave.getByText(`Ticket ${ticket}: delegated to frank.`)).toBeVisible();
  const frank = await as(browser, "frank", "/approvals");
  await vote(frank, ticket, "Approve");

  // erin (security) approves: the last step.
  const erin = await as(browser, "erin", "/approvals");
  await vote(erin, ticket, "Approve");

  // bob's page turned Active by itself (WatchTicket), and the sandbox holds the assignment.
  await expect(bob.getByText("Active", { exact: true })).toBeVisible({ timeout: 60_000 });
  await expect(bob.getByTestId("countdown")).toBeVisible();
  const votes = bob.getByRole("table", { name: "Steps of plan production" });
  await expect(votes).toContainText("frank as dave approved");
  await expect(votes).toContainText("carol approved");
  await expect.poll(() => assignments("bob"), { timeout: 30_000 }).toBe(1);
  await accessible(bob, "ticket (active)");
  await shoot(bob, "ticket-active");

  // bob extends by an hour (this plan needs no new approval): the expiry moves.
  const before = await bob.getByTestId("countdown").textContent();
  await bob.getByRole("button", { name: "Extend" }).click();
  await bob.getByLabel("Extra time").fill("1h");
  await bob.getByRole("dialog").getByRole("button", { name: "Extend access" }).click();
  await expect(bob.getByText(`Ticket ${ticket}: extended.`)).toBeVisible();
  await expect(bob.getByTestId("countdown")).toHaveText(/^1h 5\dm/);
  expect(before).toMatch(/^5\dm|^1h 00m|^59m/);

  // My tickets: the ticket in the list.
  await nav(bob, "My tickets");
  await expect(await rowOf(bob, "My tickets", ticket)).toContainText("Active");
  await accessible(bob, "my tickets");
  await shoot(bob, "tickets");
  await bob.getByRole("link", { name: ticket }).click();
  await expect(bob.getByText("Active", { exact: true })).toBeVisible();

  // A stranger cannot open it.
  const alice = await as(browser, "alice", `/tickets/${ticket}`);
  await expect(alice.getByText("You cannot open this ticket")).toBeVisible();

  // erin, an admin, revokes it: the assignment is gone.
  await nav(erin, "Admin");
  const row = await rowOf(erin, "All tickets", ticket);
  await expect(row).toContainText("Active");
  // The last reconcile (a dry run the test made before the ticket) and the lease bob's
  // ticket holds.
  await expect(erin.getByText("in sync with AWS")).toBeVisible();
  const leases = erin.getByRole("table", { name: "Leases in force" });
  await expect(leases.getByRole("row").filter({ hasText: ticket })).toContainText("owned");
  await accessible(erin, "admin");
  await shoot(erin, "admin");
  await row.getByRole("radio").check();
  await erin.getByRole("button", { name: "Revoke", exact: true }).click();
  await erin.getByRole("dialog").getByLabel("Reason").fill("done with the incident");
  await erin.getByRole("dialog").getByRole("button", { name: "Revoke access" }).click();
  await expect(erin.getByText(`Ticket ${ticket}: access revoked.`)).toBeVisible();
  await expect(bob.getByText("Revoked", { exact: true }).first()).toBeVisible({ timeout: 60_000 });
  await expect.poll(() => assignments("bob"), { timeout: 30_000 }).toBe(0);

  // The policy page explains what bob may request and why.
  await nav(bob, "Policy");
  await expect(bob.getByRole("row").filter({ hasText: "ReadOnly" })).toContainText("engineers-look");
  await expect(bob.getByRole("row").filter({ hasText: "ReadOnly" })).toContainText("sre: 2 of carol, dave");
  await accessible(bob, "policy");
  await shoot(bob, "policy");
  // Only admins may ask about someone else: bob may not; erin may.
  await bob.getByLabel("Person").fill("carol");
  await bob.getByRole("button", { name: "Explain" }).click();
  await expect(bob.getByText("bob is not an admin")).toBeVisible();
  await nav(erin, "Policy");
  await erin.getByLabel("Person").fill("carol");
  await erin.getByRole("button", { name: "Explain" }).click();
  await expect(erin.getByRole("row").filter({ hasText: "ReadOnly" })).toContainText("sre-anything");
  // Why not: frank (an engineer) may not request Admin; carol may approve bob's ReadOnly.
  await erin.getByLabel("Who").fill("frank");
  await erin.getByLabel("Account (id or name)").fill(ACCOUNT);
  await erin.getByLabel("Permission set to explain").fill("Admin");
  await erin.getByRole("button", { name: "Why?" }).click();
  await expect(erin.getByText("Not allowed")).toBeVisible();
  await expect(erin.getByText(/frank may not request/)).toBeVisible();
  await erin.getByText("May approve").click();
  await erin.getByLabel("Who").fill("carol");
  await erin.getByLabel("Requested by").fill("bob");
  await erin.getByLabel("Permission set to explain").fill("ReadOnly");
  await erin.getByRole("button", { name: "Why?" }).click();
  await expect(erin.getByText("Allowed", { exact: true })).toBeVisible();
  await expect(erin.getByText(/plan production applies/)).toBeVisible();
  await accessible(erin, "policy (explained)");
  // And bob may not ask about carol.
  await bob.getByLabel("Who").fill("carol");
  await bob.getByLabel("Account (id or name)").fill(ACCOUNT);
  await bob.getByLabel("Permission set to explain").fill("ReadOnly");
  await bob.getByRole("button", { name: "Why?" }).click();
  await expect(bob.getByText(/bob is not an admin: only the policy's admins see why others may or may not/)).toBeVisible();

  // The sign-in page.
  const anon = await (await browser.newContext()).newPage();
  await anon.goto("/");
  await expect(anon.getByRole("button", { name: "Sign in" })).toBeVisible();
  await accessible(anon, "sign-in");
  await shoot(anon, "sign-in");

  expect(cspViolations).toEqual([]);
});
