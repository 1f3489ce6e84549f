//! Policy decisions per second with 10, 100 and 1,000 rules (`cargo xtask bench policy`).
//!
//! Each rule set has N eligibility rules (one group, account and permission set each) and
//! three plans. Measured, single-threaded, on the release build:
//! - a full request decision (`check_request` + `plan_for`: on-behalf, eligibility of one
//!   target, the plan) for someone whose allowing rule is the *last* one (worst case);
//! - the same refused (no rule matches: every line is looked at);
//! - a raw Casbin request (`enforce`).
//!
//! Each case runs for at least 300 ms, 7 times; the median rate is reported. Usage:
//! `policy_bench [OUT.md]` (prints the table; writes it too when OUT is given).

use std::collections::BTreeSet;
use std::fmt::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use jit_domain::{Principal, UserName};
use jit_policy::{Directory, Policy, TargetKey};

fn rules(n: usize) -> String {
    let mut y = String::from("eligibility:\n");
    for i in 0..n {
        writeln!(
            y,
            "  - {{ name: r{i}, groups: [g{i}], accounts: [acct-{i}], permission_sets: [PS{i}] }}"
        )
        .unwrap();
    }
    y.push_str("plans:\n");
    for (name, accounts) in [
        ("strict", "[\"prod-*\"]"),
        ("admin", "[\"*\"]"),
        ("standard", "[\"*\"]"),
    ] {
        write!(
            y,
            "  - name: {name}\n    accounts: {accounts}\n    permission_sets: [\"*\"]\n    steps:\n      - {{ name: s, groups: [approvers], quorum: 1 }}\n    max_duration: 1h\n    max_total: 2h\n    approval_timeout: 1h\n"
        )
        .unwrap();
    }
    y
}

/// Decisions per second: the median of 7 runs of at least 300 ms.
fn rate(mut f: impl FnMut() -> bool) -> f64 {
    let mut rates = Vec::new();
    for _ in 0..7 {
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < Duration::from_millis(300) {
            for _ in 0..16 {
                std::hint::black_box(f());
            }
            n += 16;
        }
        rates.push(n as f64 / start.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    rates[rates.len() / 2]
}

fn main() {
    let out = std::env::args().nth(1);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut table = String::from(
        "| rules | policy lines | request allowed (last rule) | request refused | raw Casbin request |\n|---:|---:|---:|---:|---:|\n",
    );
    for n in [10usize, 100, 1000] {
        let policy = rt
            .block_on(Policy::parse(&rules(n), Path::new("bench.yaml")))
            .expect("bench rules are valid");
        let who = UserName::parse("user").unwrap();
        let mut dir = Directory::new();
        dir.add_group(&format!("g{}", n - 1), BTreeSet::from([who.clone()]));
        dir.add_group(
            "approvers",
            BTreeSet::from([UserName::parse("approver").unwrap()]),
        );
        for i in 0..n - 1 {
            dir.add_group(&format!("g{i}"), BTreeSet::new());
        }
        let principal = Principal::User(who.clone());
        let hit = [TargetKey {
            account_id: "100000000001".into(),
            account_name: format!("acct-{}", n - 1),
            permission_set: format!("PS{}", n - 1),
        }];
        let miss = [TargetKey {
            account_id: "100000000001".into(),
            account_name: "elsewhere".into(),
            permission_set: "Other".into(),
        }];
        let decide = |t: &[TargetKey]| {
            policy.check_request(&dir, &who, &principal, t).is_ok() && policy.plan_for(t).is_ok()
        };
        assert!(
            decide(&hit) && !decide(&miss),
            "the bench asks what it means to"
        );
        let allowed = rate(|| decide(&hit));
        let refused = rate(|| decide(&miss));
        let raw = rate(|| {
            policy
                .enforce(
                    &format!("group:g{}", n - 1),
                    "request",
                    &hit[0].account_name,
                    &hit[0].permission_set,
                )
                .is_some()
        });
        writeln!(
            table,
            "| {n} | {} | {allowed:.0}/s | {refused:.0}/s | {raw:.0}/s |",
            policy.line_count()
        )
        .unwrap();
        eprintln!("{n} rules done");
    }
    print!("{table}");
    if let Some(out) = out {
        let doc = format!(
            "# Policy benchmark\n\n`cargo xtask bench policy` (release build, one thread, median of 7 runs of ≥ 300 ms;\nsee `crates/jit-policy/examples/policy_bench.rs` for what each column decides).\n\n{table}\nMeasured on: {} logical CPUs, {}.\n",
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            std::env::consts::ARCH
        );
        std::fs::write(&out, doc).expect("results written");
        eprintln!("wrote {out}");
    }
}
