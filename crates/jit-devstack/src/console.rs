//! The web console's build for the local stack and the tests: `console/` installed with
//! `npm ci` (when its lockfile changed) and built with `npm run build` (generate the client
//! from `proto/`, type-check, Vite) when its sources changed since the last build.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};

use crate::oidc::ensure_npm;
use crate::tools::FileLock;

/// What the build depends on, under the repository root.
const INPUTS: &[&str] = &[
    "console/src",
    "console/index.html",
    "console/package-lock.json",
    "console/vite.config.ts",
    "console/tsconfig.json",
    "console/buf.gen.yaml",
    "proto/jit",
];

/// A digest of every input file's path and bytes (generated code excluded).
fn inputs_digest(root: &Path) -> anyhow::Result<String> {
    let mut files = Vec::new();
    for rel in INPUTS {
        collect(&root.join(rel), &mut files)?;
    }
    files.retain(|p| !p.components().any(|c| c.as_os_str() == "gen"));
    files.sort();
    let mut h = Sha256::new();
    for f in files {
        h.update(
            f.strip_prefix(root)
                .unwrap_or(&f)
                .to_string_lossy()
                .as_bytes(),
        );
        h.update([0]);
        h.update(std::fs::read(&f).with_context(|| format!("reading {}", f.display()))?);
        h.update([0]);
    }
    Ok(hex::encode(h.finalize()))
}

fn collect(p: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    if p.is_dir() {
        for e in std::fs::read_dir(p)? {
            collect(&e?.path(), out)?;
        }
    } else if p.is_file() {
        out.push(p.to_owned());
    }
    Ok(())
}

/// `console/dist`, built from the current sources (rebuilt only when they changed).
pub fn ensure_console(root: &Path) -> anyhow::Result<PathBuf> {
    let dir = ensure_npm(root, "console", "React, Cloudscape, Vite, buf, Playwright")?;
    let dist = dir.join("dist");
    let stamp = dist.join(".jit-build");
    let want = inputs_digest(root)?;
    let fresh = || std::fs::read_to_string(&stamp).ok().as_deref() == Some(want.as_str());
    if fresh() && dist.join("index.html").exists() {
        return Ok(dist);
    }
    let _guard = FileLock::acquire(&root.join(".jit/console-build.lock"))?;
    if fresh() && dist.join("index.html").exists() {
        return Ok(dist);
    }
    eprintln!("building the console (npm run build: the client from proto/, tsc, Vite) ...");
    let out = Command::new("npm")
        .args(["run", "build", "--silent"])
        .current_dir(&dir)
        .output()
        .context("running npm (Node.js and npm must be on PATH)")?;
    if !out.status.success() {
        bail!(
            "building the console failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::fs::write(&stamp, want)?;
    Ok(dist)
}
