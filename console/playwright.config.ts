import { defineConfig } from "@playwright/test";

// Run by tests/e2e/console.rs (cargo xtask test), which starts the stack and the API and
// sets JIT_CONSOLE_URL, JIT_CHROMIUM, JIT_CHECK_URL, JIT_ACCOUNT. Debian's Chromium: no
// browser is downloaded.
export default defineConfig({
  testDir: "tests",
  timeout: 420_000,
  expect: { timeout: 30_000 },
  workers: 1,
  retries: 0,
  use: {
    baseURL: process.env.JIT_CONSOLE_URL,
    viewport: { width: 1280, height: 900 },
    launchOptions: {
      executablePath: process.env.JIT_CHROMIUM ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
});
