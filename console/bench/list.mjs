// The console benchmark's browser half (run by tests/examples/console_bench.rs): in headless
// Debian Chromium, how long the app shell takes to load, and how long "My tickets" takes to
// become interactive with N tickets (from the click in the navigation to the table showing
// the full count with its first row's link ready). Prints one JSON object.
//
// env: JIT_CONSOLE_URL, JIT_CHROMIUM, JIT_USER, JIT_TICKETS (the count to wait for), JIT_RUNS
import { chromium } from "playwright-core";

const url = process.env.JIT_CONSOLE_URL;
const user = process.env.JIT_USER ?? "bob";
const want = Number(process.env.JIT_TICKETS ?? "1000");
const runs = Number(process.env.JIT_RUNS ?? "5");

const browser = await chromium.launch({
  executablePath: process.env.JIT_CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const out = { shell_ms: [], list_ms: [], tickets: want };
for (let i = 0; i < runs; i++) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  // Cold load of the app (new context: nothing cached) to the sign-in form.
  const t0 = Date.now();
  await page.goto(`${url}/request`);
  await page.getByRole("button", { name: "Sign in" }).waitFor();
  out.shell_ms.push(Date.now() - t0);
  await page.getByRole("button", { name: /User/ }).click();
  await page.getByRole("option", { name: user, exact: true }).click();
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Request access" }).waitFor();
  // My tickets with `want` tickets: interactive when the counter shows them all and the
  // first row's link can be clicked.
  const t1 = Date.now();
  await page.getByRole("navigation", { name: "Navigation" }).getByRole("link", { name: "My tickets", exact: true }).click();
  await page.getByText(`(${want})`, { exact: true }).waitFor({ timeout: 60_000 });
  await page.getByRole("row").nth(1).getByRole("link").first().waitFor();
  out.list_ms.push(Date.now() - t1);
  await ctx.close();
}
await browser.close();
console.log(JSON.stringify(out));
