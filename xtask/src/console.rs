//! The console's own checks in `cargo xtask test`: built from the current sources (the client
//! generated from proto/, tsc, Vite) and its unit tests (Vitest). The browser suite runs with
//! the other end-to-end tests (tests/e2e/console.rs).

use std::path::Path;
use std::process::Command;

use anyhow::Context;

pub(crate) fn check(root: &Path) -> anyhow::Result<()> {
    let dist = jit_devstack::ensure_console(root)?;
    let status = Command::new("npm")
        .args(["test", "--silent"])
        .current_dir(root.join("console"))
        .status()
        .context("running npm test in console/")?;
    anyhow::ensure!(
        status.success(),
        "the console's unit tests failed ({status})"
    );
    // The browser suite needs Chromium: installed now, before the tests run in parallel.
    jit_devstack::ensure_chromium(root)?;
    eprintln!("    console built into {}", dist.display());
    Ok(())
}
