//! `jit policy` on files: check, explain, compile — and the compiled files decide the same
//! in pycasbin as in casbin-rs.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn repo() -> PathBuf {
    jit_devstack::repo_root()
}

fn jit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jit"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("jit runs")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn check_accepts_the_demo_policy_against_the_seeded_directory() {
    let o = jit(&["policy", "check", "deploy/local/policy.yaml"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert!(
        out.starts_with("ok: deploy/local/policy.yaml (sha256:")
            && out.contains("4 eligibility rules, 1 on-behalf rules, 3 plans, 2 bundles, 1 services -> 19 Casbin policy lines")
            && out.contains("checked against temporal-dev.yaml"),
        "{out}"
    );
}

#[test]
fn check_names_file_line_and_problem_and_fails() {
    let dir = std::env::temp_dir().join(format!("jit-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let demo = std::fs::read_to_string(repo().join("deploy/local/policy.yaml")).unwrap();
    let cases = [
        (
            demo.replace("groups: [sre], quorum: 2", "groups: [sre], quorum: 5"),
            "quorum 5 is larger than the group (2 approvers: carol, dave)",
        ),
        (
            demo.replace("include: [oncall]", "include: [incident]"),
            "bundles.incident.include: bundles include each other in a cycle: incident -> incident",
        ),
        (
            demo.replace(
                "name: security-read\n    groups: [security]",
                "name: security-read\n    groups: [securty]",
            ),
            "unknown group \"securty\"",
        ),
    ];
    for (i, (yaml, want)) in cases.iter().enumerate() {
        let f = dir.join(format!("bad-{i}.yaml"));
        std::fs::write(&f, yaml).unwrap();
        let o = jit(&["policy", "check", f.to_str().unwrap()]);
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(1), "{out}{err}");
        let line: usize = err
            .strip_prefix(&format!("{}:", f.display()))
            .and_then(|r| r.split(':').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no file:line in {err}"));
        assert!(line > 1, "{err}");
        assert!(err.contains(want), "{err} should contain {want}");
    }
}

#[test]
fn explain_says_allowed_or_denied_which_rule_which_plan_and_who_approves() {
    let o = jit(&[
        "policy",
        "explain",
        "--who",
        "alice",
        "--account",
        "prod",
        "--permission-set",
        "ReadOnly",
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    for want in [
        "alice asks for alice: ReadOnly in prod",
        "ALLOWED",
        "alice may request ReadOnly in prod: eligibility:engineers-look allows group:engineers",
        "plan production applies",
        "1. sre: 2 of [carol, dave] (groups: sre)",
        "2. security: 1 of [erin, gina] (groups: security)",
    ] {
        assert!(out.contains(want), "{want:?} missing in\n{out}");
    }

    let o = jit(&[
        "policy",
        "explain",
        "--who",
        "frank",
        "--account",
        "prod",
        "--permission-set",
        "Admin",
    ]);
    let (out, _) = text(&o);
    assert_eq!(o.status.code(), Some(3), "denied exits 3: {out}");
    assert!(
        out.contains("DENIED")
            && out.contains("no eligibility rule allows frank (groups: engineers)"),
        "{out}"
    );

    let o = jit(&[
        "policy",
        "explain",
        "--who",
        "alice",
        "--action",
        "approve",
        "--requester",
        "alice",
        "--account",
        "dev",
        "--permission-set",
        "ReadOnly",
    ]);
    let (out, _) = text(&o);
    assert_eq!(o.status.code(), Some(3), "{out}");
    assert!(
        out.contains("alice is the requester and cannot approve their own ticket"),
        "{out}"
    );

    let o = jit(&[
        "policy", "explain", "--who", "alice", "--bundle", "oncall", "--output", "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["allowed"], true);
    assert_eq!(v["plan"]["name"], "production");
    assert_eq!(v["targets"].as_array().unwrap().len(), 2);
    assert!(v["policy"].as_str().unwrap().starts_with("sha256:"));
}

/// The compiled model and policy load in pycasbin and decide every request of a grid
/// exactly as casbin-rs does (rule for rule).
#[test]
fn the_compiled_policy_decides_the_same_in_pycasbin() {
    let tools = jit_devstack::tools::ensure_tools(&repo()).expect("the pinned tools install");
    let out = std::env::temp_dir().join(format!("jit-compiled-{}", std::process::id()));
    let o = jit(&[
        "policy",
        "compile",
        "deploy/local/policy.yaml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{:?}", text(&o));

    let policy = futures_block_on(jit_policy::Policy::load(
        &repo().join("deploy/local/policy.yaml"),
    ));
    let subjects = [
        "user:alice",
        "user:erin",
        "user:zed",
        "group:engineers",
        "group:sre",
        "group:security",
        "group:nobody",
        "any",
    ];
    let acts = [
        "request",
        "on_behalf",
        "plan",
        "approve",
        "admin",
        "act_for",
        "other",
    ];
    let objs = [
        "dev",
        "staging",
        "prod",
        "123456789012",
        "production",
        "standard",
        "admin-anywhere",
        "group:engineers",
        "group:sre",
        "*",
    ];
    let sels = [
        "ReadOnly",
        "Developer",
        "Admin",
        "sre",
        "security",
        "escalation",
        "*",
    ];
    let mut grid = Vec::new();
    for s in subjects {
        for a in acts {
            for o in objs {
                for l in sels {
                    grid.push([s, a, o, l]);
                }
            }
        }
    }
    let ours: Vec<String> = grid
        .iter()
        .map(|[s, a, o, l]| policy.enforce(s, a, o, l).unwrap_or_else(|| "-".into()))
        .collect();
    let mut child = Command::new(&tools.python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/casbin_decide.py"))
        .arg(out.join("model.conf"))
        .arg(out.join("policy.csv"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python runs");
    let input: String = grid.iter().map(|r| r.join("\t") + "\n").collect();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(
        o.status.success(),
        "pycasbin: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let theirs: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(theirs.len(), grid.len());
    let allowed = ours.iter().filter(|r| *r != "-").count();
    assert!(
        allowed > 100,
        "the grid exercises allowing rules too ({allowed})"
    );
    for ((req, a), b) in grid.iter().zip(&ours).zip(&theirs) {
        assert_eq!(a, b, "casbin-rs and pycasbin disagree on {req:?}");
    }
}

fn futures_block_on<T>(
    f: impl std::future::Future<Output = Result<T, jit_policy::PolicyError>>,
) -> T {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
        .expect("the demo policy loads")
}
