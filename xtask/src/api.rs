//! The API's own checks: `buf lint` (STANDARD) and `buf breaking` on `proto/`, with buf from
//! npm (`@bufbuild/buf`, pinned in `proto/package-lock.json`, installed into
//! `proto/node_modules` with `npm ci` when missing or when the lockfile changed).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;

/// Installs the proto tools if needed; returns the path of `buf`.
pub(crate) fn ensure_buf(root: &Path) -> anyhow::Result<PathBuf> {
    let dir = jit_devstack::ensure_npm(root, "proto", "@bufbuild/buf")?;
    let buf = dir.join("node_modules/.bin/buf");
    anyhow::ensure!(buf.exists(), "npm ci did not install {}", buf.display());
    Ok(buf)
}

/// Whether the working tree's `proto/` differs from the last commit's.
fn proto_changed(root: &Path) -> anyhow::Result<bool> {
    let status = Command::new("git")
        .args(["diff", "--quiet", "HEAD", "--", "proto"])
        .current_dir(root)
        .status()
        .context("running git")?;
    Ok(!status.success())
}

/// Whether `rev` names a commit here (a shallow clone has no parent of HEAD).
fn has_commit(root: &Path, rev: &str) -> bool {
    Command::new("git")
        .args([
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{rev}^{{commit}}"),
        ])
        .current_dir(root)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// What `buf breaking` compares with: the last commit when `proto/` has uncommitted changes
/// (what is about to be committed), else the commit before it (what the last commit changed).
fn against(root: &Path) -> anyhow::Result<Option<String>> {
    let rev = if proto_changed(root)? {
        "HEAD"
    } else {
        "HEAD~1"
    };
    Ok(has_commit(root, rev).then(|| rev.to_owned()))
}

pub(crate) fn check(root: &Path) -> anyhow::Result<()> {
    let buf = ensure_buf(root)?;
    let run = |args: &[&str]| -> anyhow::Result<()> {
        let status = Command::new(&buf)
            .args(args)
            .current_dir(root)
            .status()
            .with_context(|| format!("running {}", buf.display()))?;
        anyhow::ensure!(status.success(), "buf {} failed ({status})", args.join(" "));
        Ok(())
    };
    run(&["lint", "proto"])?;
    match against(root)? {
        Some(rev) => {
            eprintln!("    buf breaking against {rev}");
            run(&[
                "breaking",
                "proto",
                "--against",
                &format!(".git#ref={rev},subdir=proto"),
            ])
        }
        None => {
            eprintln!("    buf breaking skipped: no parent commit here (a shallow clone)");
            Ok(())
        }
    }
}
