//! Architecture invariants enforced by the dependency graph (run by `cargo xtask test`):
//!
//! - `jit-workflows` and `jit-contract` reach no AWS SDK, no HTTP client (`reqwest`) and no
//!   policy engine (`casbin`): workflow code cannot even name a type that does I/O.
//! - `jit-api` reaches no AWS SDK: the front door never holds AWS credentials. (It does use
//!   `reqwest`, for the JWKS and chat, and `casbin`, for service grants and admins.)
//! - Only `jit-aws` depends on an `aws-sdk-*` crate directly.
//!
//! The graph is `cargo tree -p <crate> -e normal` (what the crate links, with the features
//! it is built with) and `cargo metadata --no-deps` (what each crate declares).

use std::path::Path;
use std::process::Command;

/// What a crate must not link, by crate-name prefix.
pub(crate) const GUARDED: &[(&str, &[&str])] = &[
    ("jit-workflows", &["aws-sdk-", "reqwest", "casbin"]),
    ("jit-contract", &["aws-sdk-", "reqwest", "casbin"]),
    ("jit-api", &["aws-sdk-"]),
];

/// The one crate that may depend on the AWS SDK directly.
pub(crate) const AWS_GATEWAY: &str = "jit-aws";

/// The forbidden crates among `linked` (lines of `cargo tree --prefix none`: `name vX.Y.Z ...`).
pub(crate) fn forbidden<'a>(linked: &'a str, prefixes: &[&str]) -> Vec<&'a str> {
    let mut out: Vec<&str> = linked
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| prefixes.iter().any(|p| name.starts_with(p)))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Workspace crates other than [`AWS_GATEWAY`] that declare an `aws-sdk-*` dependency, from
/// `cargo metadata --no-deps` JSON.
pub(crate) fn direct_aws_users(metadata: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    for p in metadata["packages"].as_array().into_iter().flatten() {
        let name = p["name"].as_str().unwrap_or_default();
        let uses_sdk = p["dependencies"].as_array().into_iter().flatten().any(|d| {
            d["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("aws-sdk-"))
        });
        if uses_sdk && name != AWS_GATEWAY {
            out.push(name.to_owned());
        }
    }
    out
}

fn cargo(root: &Path, args: &[&str]) -> anyhow::Result<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo).args(args).current_dir(root).output()?;
    anyhow::ensure!(
        out.status.success(),
        "cargo {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8(out.stdout)?)
}

/// Checks every invariant; the error names each violation and the crate that broke it.
pub(crate) fn dependency_graph(root: &Path) -> anyhow::Result<()> {
    let mut problems = Vec::new();
    for (krate, prefixes) in GUARDED {
        let linked = cargo(
            root,
            &["tree", "-p", krate, "-e", "normal", "--prefix", "none"],
        )?;
        for bad in forbidden(&linked, prefixes) {
            problems.push(format!(
                "{krate} links {bad} (see `cargo tree -p {krate} -i {bad}`)"
            ));
        }
    }
    let metadata: serde_json::Value = serde_json::from_str(&cargo(
        root,
        &["metadata", "--no-deps", "--format-version", "1"],
    )?)?;
    for user in direct_aws_users(&metadata) {
        problems.push(format!(
            "{user} depends on an AWS SDK crate directly; only {AWS_GATEWAY} may"
        ));
    }
    anyhow::ensure!(
        problems.is_empty(),
        "architecture invariants broken:\n  {}",
        problems.join("\n  ")
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_crates_are_found_by_prefix() {
        let tree = "jit-domain v0.1.0 (/x)\naws-sdk-ssoadmin v1.125.0\nreqwest v0.12.28\nreqwest v0.12.28 (*)\nserde v1.0.0\n";
        assert_eq!(
            forbidden(tree, &["aws-sdk-", "reqwest", "casbin"]),
            vec!["aws-sdk-ssoadmin", "reqwest"]
        );
        assert!(forbidden(tree, &["casbin"]).is_empty());
    }

    #[test]
    fn only_the_gateway_may_declare_the_sdk() {
        let meta = serde_json::json!({"packages": [
            {"name": "jit-aws", "dependencies": [{"name": "aws-sdk-ssoadmin"}]},
            {"name": "jit-api", "dependencies": [{"name": "aws-sdk-identitystore"}, {"name": "tonic"}]},
            {"name": "jit-domain", "dependencies": [{"name": "serde"}]},
        ]});
        assert_eq!(direct_aws_users(&meta), vec!["jit-api".to_owned()]);
    }

    /// The real graph of this workspace keeps the invariants.
    #[test]
    fn this_workspace_keeps_its_invariants() {
        dependency_graph(&jit_devstack::repo_root()).expect("invariants hold");
    }
}
