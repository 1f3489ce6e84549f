//! `deploy/`: the checks `cargo xtask test` runs on it offline, `cargo xtask deploy-sync`
//! (the Kubernetes ConfigMap made from `deploy/config/`), and `cargo xtask dist`.
//!
//! - Every Kubernetes manifest validates strictly against the Kubernetes schemas bundled in
//!   PyPI's `kubernetes-validate` (no network), and `kustomization.yaml` lists exactly them.
//! - The compose file validates against the compose-spec schema bundled in `check-jsonschema`.
//! - The Dockerfile is multi-stage, its last stage runs as a non-root user on a distroless
//!   base and fetches nothing with `ADD <url>`.
//! - The ConfigMap holds `deploy/config/jit.yaml` and `policy.yaml` byte for byte.
//! - The worker role's trust policies name the service account the manifests run it as.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;

/// The Kubernetes version the manifests are checked against.
pub(crate) const KUBERNETES: &str = "1.32.0";

const CONFIGMAP_HEAD: &str =
    "# The service config and the policy, mounted at /etc/jit. `cargo xtask test` checks that they
# are byte for byte deploy/config/jit.yaml and deploy/config/policy.yaml (edit those, then
# regenerate this file with `cargo xtask deploy-sync`).
apiVersion: v1
kind: ConfigMap
metadata:
  name: jit-config
  namespace: jit
  labels:
    app.kubernetes.io/part-of: jit
data:
";

/// The ConfigMap's text for these files (name, contents), as YAML literal blocks.
pub(crate) fn configmap(files: &[(&str, &str)]) -> String {
    let mut out = CONFIGMAP_HEAD.to_owned();
    for (name, text) in files {
        out.push_str(&format!("  {name}: |\n"));
        for line in text.lines() {
            if line.trim().is_empty() {
                out.push('\n');
            } else {
                out.push_str("    ");
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

fn config_files(root: &Path) -> anyhow::Result<Vec<(&'static str, String)>> {
    ["jit.yaml", "policy.yaml"]
        .into_iter()
        .map(|n| {
            let p = root.join("deploy/config").join(n);
            std::fs::read_to_string(&p)
                .with_context(|| format!("reading {}", p.display()))
                .map(|t| (n, t))
        })
        .collect()
}

/// `cargo xtask deploy-sync`: writes the ConfigMap from `deploy/config/`.
pub(crate) fn sync(root: &Path) -> anyhow::Result<()> {
    let files = config_files(root)?;
    let refs: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let path = root.join("deploy/kubernetes/configmap.yaml");
    std::fs::write(&path, configmap(&refs))?;
    println!("wrote {}", path.display());
    Ok(())
}

/// What is wrong with a Dockerfile for production: each problem a line.
pub(crate) fn dockerfile_problems(text: &str) -> Vec<String> {
    let lines: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    let word = |l: &str| l.split_whitespace().next().unwrap_or("").to_uppercase();
    let stages: Vec<usize> = (0..lines.len())
        .filter(|&i| word(&lines[i]) == "FROM")
        .collect();
    let mut problems = Vec::new();
    if stages.len() < 2 {
        problems.push("not multi-stage: build in one stage, run from a minimal one".to_owned());
    }
    let Some(&last) = stages.last() else {
        problems.push("no FROM".to_owned());
        return problems;
    };
    let base = lines[last].split_whitespace().nth(1).unwrap_or("");
    if !(base.contains("distroless") || base == "scratch" || base.contains("chainguard")) {
        problems.push(format!(
            "the runtime stage's base {base} is not minimal (distroless, chainguard or scratch)"
        ));
    }
    match lines[last..].iter().rev().find(|l| word(l) == "USER") {
        None => problems.push("the runtime stage sets no USER: it would run as root".to_owned()),
        Some(u) => {
            let who = u.split_whitespace().nth(1).unwrap_or("");
            let user = who.split(':').next().unwrap_or("");
            if user.is_empty() || user == "root" || user == "0" {
                problems.push(format!(
                    "the runtime stage runs as {who:?}: use a non-root user"
                ));
            }
        }
    }
    for l in &lines {
        if word(l) == "ADD" && l.contains("://") {
            problems.push(format!("{l}: fetches from the network at build time"));
        }
    }
    if !lines[last..]
        .iter()
        .any(|l| word(l) == "COPY" && l.contains("--from="))
    {
        problems.push("the runtime stage copies nothing from the build stage".to_owned());
    }
    problems
}

/// The manifests of `deploy/kubernetes/` (every YAML file but the kustomization).
fn manifests(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "yaml")
                && p.file_name().is_some_and(|n| n != "kustomization.yaml")
        })
        .collect();
    out.sort();
    Ok(out)
}

/// The `resources:` of a kustomization, in order.
pub(crate) fn kustomization_resources(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with("resources:") {
            inside = true;
        } else if inside {
            match line.trim().strip_prefix("- ") {
                Some(r) => out.push(r.trim().to_owned()),
                None if line.starts_with(' ') || line.trim().is_empty() => {}
                None => inside = false,
            }
        }
    }
    out
}

fn run(cmd: &mut Command, what: &str) -> anyhow::Result<()> {
    let out = cmd.output().with_context(|| format!("running {what}"))?;
    anyhow::ensure!(
        out.status.success(),
        "{what} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

pub(crate) fn check(root: &Path) -> anyhow::Result<()> {
    let venv = root.join(".venv/bin");
    let k8s = root.join("deploy/kubernetes");
    let files = manifests(&k8s)?;
    anyhow::ensure!(!files.is_empty(), "deploy/kubernetes/ has no manifests");
    run(
        Command::new(venv.join("kubernetes-validate"))
            .args(["--strict", "--quiet", "-k", KUBERNETES])
            .args(&files),
        "kubernetes-validate on deploy/kubernetes/",
    )?;
    let listed = kustomization_resources(&std::fs::read_to_string(k8s.join("kustomization.yaml"))?);
    let mut names: Vec<String> = files
        .iter()
        .filter_map(|p| p.file_name()?.to_str().map(str::to_owned))
        .collect();
    let mut sorted = listed.clone();
    sorted.sort();
    names.sort();
    anyhow::ensure!(
        sorted == names,
        "deploy/kubernetes/kustomization.yaml lists {listed:?}, the folder has {names:?}"
    );
    run(
        Command::new(venv.join("check-jsonschema"))
            .args(["--builtin-schema", "vendor.compose-spec"])
            .arg(root.join("deploy/compose/compose.yaml")),
        "check-jsonschema (compose-spec) on deploy/compose/compose.yaml",
    )?;
    let docker = std::fs::read_to_string(root.join("deploy/container/Dockerfile"))?;
    let problems = dockerfile_problems(&docker);
    anyhow::ensure!(
        problems.is_empty(),
        "deploy/container/Dockerfile:\n  {}",
        problems.join("\n  ")
    );
    let cfg = config_files(root)?;
    let refs: Vec<(&str, &str)> = cfg.iter().map(|(n, t)| (*n, t.as_str())).collect();
    anyhow::ensure!(
        std::fs::read_to_string(k8s.join("configmap.yaml"))? == configmap(&refs),
        "deploy/kubernetes/configmap.yaml is not deploy/config/ any more: run `cargo xtask deploy-sync`"
    );
    let accounts = std::fs::read_to_string(k8s.join("serviceaccounts.yaml"))?;
    let worker = std::fs::read_to_string(k8s.join("worker.yaml"))?;
    anyhow::ensure!(
        accounts.contains("name: jit-worker\n  namespace: jit")
            && worker.contains("serviceAccountName: jit-worker"),
        "the worker no longer runs as jit/jit-worker: update deploy/iam/worker-trust-policy-*.json"
    );
    for (file, needle) in [
        (
            "worker-trust-policy-irsa.json",
            "system:serviceaccount:jit:jit-worker",
        ),
        ("worker-trust-policy-pod-identity.json", "\"jit-worker\""),
    ] {
        let p = root.join("deploy/iam").join(file);
        let text = std::fs::read_to_string(&p)?;
        let v: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("{} is not JSON", p.display()))?;
        anyhow::ensure!(
            v["Version"] == "2012-10-17" && text.contains(needle),
            "{}: not a trust policy for the service account jit/jit-worker",
            p.display()
        );
    }
    Ok(())
}

/// `cargo xtask dist`: the release binaries (what the Dockerfile builds, with the same
/// command) in `target/dist/`, with `SHA256SUMS` and the example config. `debug`: the same
/// from a debug build into `target/dist-debug/` (what `cargo xtask test` runs the
/// production-shaped end-to-end test with, without a release build's minutes).
pub(crate) fn dist(root: &Path, debug: bool) -> anyhow::Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut args = vec![
        "build",
        "--locked",
        "-p",
        "jit-worker",
        "-p",
        "jit-api",
        "-p",
        "jit-cli",
    ];
    if !debug {
        args.insert(1, "--release");
    }
    let status = Command::new(&cargo)
        .args(&args)
        .current_dir(root)
        .status()?;
    anyhow::ensure!(status.success(), "the build failed ({status})");
    let (built, out) = if debug {
        (root.join("target/debug"), root.join("target/dist-debug"))
    } else {
        (root.join("target/release"), root.join("target/dist"))
    };
    std::fs::create_dir_all(&out)?;
    let mut sums = String::new();
    for bin in ["jit-worker", "jit-api", "jit"] {
        let from = built.join(bin);
        let to = out.join(bin);
        std::fs::copy(&from, &to).with_context(|| format!("copying {}", from.display()))?;
        let digest = sha256_hex(&std::fs::read(&to)?);
        sums.push_str(&format!("{digest}  {bin}\n"));
    }
    for f in ["jit.yaml", "policy.yaml"] {
        std::fs::copy(root.join("deploy/config").join(f), out.join(f))?;
    }
    std::fs::write(out.join("SHA256SUMS"), &sums)?;
    if !debug {
        print!("{sums}");
    }
    eprintln!("dist: {}", out.display());
    Ok(out)
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_root_single_stage_image_is_named() {
        let bad = "FROM debian:12\nRUN apt-get install x\nADD https://example.com/x /x\n";
        let p = dockerfile_problems(bad);
        assert!(p.iter().any(|l| l.contains("not multi-stage")), "{p:?}");
        assert!(p.iter().any(|l| l.contains("not minimal")), "{p:?}");
        assert!(p.iter().any(|l| l.contains("no USER")), "{p:?}");
        assert!(p.iter().any(|l| l.contains("network")), "{p:?}");
        let root =
            "FROM rust AS b\nRUN x\nFROM gcr.io/distroless/cc\nCOPY --from=b /x /x\nUSER 0:0\n";
        assert_eq!(
            dockerfile_problems(root),
            vec!["the runtime stage runs as \"0:0\": use a non-root user".to_owned()]
        );
    }

    #[test]
    fn the_repository_deploy_files_hold_together() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let docker = std::fs::read_to_string(root.join("deploy/container/Dockerfile")).unwrap();
        assert_eq!(dockerfile_problems(&docker), Vec::<String>::new());
        let k = std::fs::read_to_string(root.join("deploy/kubernetes/kustomization.yaml")).unwrap();
        let listed = kustomization_resources(&k);
        assert!(listed.contains(&"worker.yaml".to_owned()), "{listed:?}");
        let files = config_files(&root).unwrap();
        let refs: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
        assert_eq!(
            std::fs::read_to_string(root.join("deploy/kubernetes/configmap.yaml")).unwrap(),
            configmap(&refs),
            "run cargo xtask deploy-sync"
        );
    }

    #[test]
    fn the_configmap_keeps_blank_lines_and_indents_every_other() {
        let c = configmap(&[("a.yaml", "x: 1\n\ny:\n  - 2\n")]);
        assert!(
            c.ends_with("  a.yaml: |\n    x: 1\n\n    y:\n      - 2\n"),
            "{c}"
        );
    }
}
