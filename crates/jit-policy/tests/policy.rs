//! The policy engine on files: the demo policy's decision tables (snapshots), every kind
//! of invalid file, and the property that no rule set lets anyone approve their own ticket.

use std::collections::BTreeSet;
use std::fmt::Write;
use std::path::{Path, PathBuf};

use jiff::SignedDuration;
use jit_domain::{Approval, Principal, UserName};
use jit_policy::{Directory, Policy, PrincipalRef, TargetKey};
use proptest::prelude::*;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn seed_directory() -> Directory {
    let text = std::fs::read_to_string(repo().join("temporal-dev.yaml")).unwrap();
    Directory::from_seed_yaml(&text).unwrap()
}

fn demo() -> Policy {
    futures::executor::block_on(Policy::load(&repo().join("deploy/local/policy.yaml")))
        .expect("the demo policy loads")
}

fn u(s: &str) -> UserName {
    UserName::parse(s).unwrap()
}

const ACCOUNTS: [(&str, &str); 3] = [
    ("100000000001", "dev"),
    ("100000000002", "staging"),
    ("100000000003", "prod"),
];
const SETS: [&str; 3] = ["ReadOnly", "Developer", "Admin"];
const USERS: [&str; 8] = [
    "alice", "bob", "carol", "dave", "erin", "frank", "gina", "zed",
];

fn key(account: (&str, &str), ps: &str) -> TargetKey {
    TargetKey {
        account_id: account.0.into(),
        account_name: account.1.into(),
        permission_set: ps.into(),
    }
}

#[test]
fn the_demo_policy_passes_the_directory_checks() {
    let p = demo();
    p.check_directory(&seed_directory()).unwrap();
    assert!(p.hash().starts_with("sha256:") && p.hash().len() == 7 + 64);
}

#[test]
fn request_decisions_of_the_demo_policy() {
    let p = demo();
    let dir = seed_directory();
    let mut table = String::new();
    for user in USERS {
        let Some(who) = dir.person(&u(user)) else {
            writeln!(table, "{user:<6} not in the directory: nothing").unwrap();
            continue;
        };
        for account in ACCOUNTS {
            for ps in SETS {
                let v = p.may_request(&who, &key(account, ps));
                writeln!(
                    table,
                    "{user:<6} {ps:<9} {:<8} {:<8} {}",
                    account.1,
                    if v.allowed { "allowed" } else { "denied" },
                    v.rule.unwrap_or_else(|| "-".into())
                )
                .unwrap();
            }
        }
    }
    insta::assert_snapshot!(table);
}

#[test]
fn plans_and_approvers_of_the_demo_policy() {
    let p = demo();
    let dir = seed_directory();
    let mut table = String::new();
    for account in ACCOUNTS {
        for ps in SETS {
            let (plan, _) = p.plan_for(&[key(account, ps)]).unwrap();
            let a = p
                .approval_plan(plan, &dir, SignedDuration::from_hours(72))
                .unwrap();
            let steps: Vec<String> = a
                .steps
                .iter()
                .map(|s| {
                    let who: Vec<&str> = s.approvers.iter().map(UserName::as_str).collect();
                    format!("{} {} of [{}]", s.name, s.quorum, who.join(" "))
                })
                .collect();
            writeln!(
                table,
                "{ps:<9} {:<8} {:<15} max {:#}/{:#} {}",
                account.1,
                plan.name,
                plan.max_duration,
                plan.max_total,
                steps.join(" then ")
            )
            .unwrap();
        }
    }
    // A ticket gets the strictest plan of its targets (the first in the file).
    let (mixed, why) = p
        .plan_for(&[key(ACCOUNTS[0], "ReadOnly"), key(ACCOUNTS[2], "ReadOnly")])
        .unwrap();
    writeln!(table, "dev+prod ReadOnly: {} -- {why}", mixed.name).unwrap();
    // Who may vote in which step, for a ticket alice asked for herself.
    for plan in &p.rules().plans {
        for step in plan
            .steps
            .iter()
            .map(|s| s.name.as_str())
            .chain(["escalation"])
        {
            let mut yes = Vec::new();
            for user in USERS {
                if let Some(who) = dir.person(&u(user))
                    && p.may_approve(&who, &plan.name, step, &u("alice"), None)
                        .allowed
                {
                    yes.push(user);
                }
            }
            writeln!(table, "approve {}/{step}: [{}]", plan.name, yes.join(" ")).unwrap();
        }
    }
    insta::assert_snapshot!(table);
}

#[test]
fn on_behalf_and_admin_decisions_of_the_demo_policy() {
    let p = demo();
    let dir = seed_directory();
    let mut table = String::new();
    for user in USERS {
        let Some(who) = dir.person(&u(user)) else {
            continue;
        };
        let mut yes = Vec::new();
        for other in USERS {
            if let Some(o) = dir.person(&u(other))
                && p.may_act_for(&who, &PrincipalRef::User(o)).allowed
            {
                yes.push(other.to_owned());
            }
        }
        for g in ["engineers", "sre", "security"] {
            if p.may_act_for(&who, &PrincipalRef::Group(g.into())).allowed {
                yes.push(format!("group:{g}"));
            }
        }
        let admin = p.is_admin(&who);
        writeln!(
            table,
            "{user:<6} for: {:<40} admin: {}",
            yes.join(" "),
            admin.rule.unwrap_or_else(|| "no".into())
        )
        .unwrap();
    }
    insta::assert_snapshot!(table);
}

#[test]
fn refusals_say_why() {
    let p = demo();
    let dir = seed_directory();
    let err = p
        .decide_request(
            &dir,
            &u("frank"),
            &Principal::User(u("frank")),
            &[key(ACCOUNTS[2], "Admin")],
            SignedDuration::from_hours(72),
        )
        .unwrap_err();
    assert_eq!(
        err,
        "targets: frank may not request Admin in prod (100000000003): no eligibility rule \
         allows frank (groups: engineers)"
    );
    let err = p
        .decide_request(
            &dir,
            &u("alice"),
            &Principal::User(u("bob")),
            &[key(ACCOUNTS[0], "ReadOnly")],
            SignedDuration::from_hours(72),
        )
        .unwrap_err();
    assert!(
        err.starts_with("principal: alice may not ask for access on behalf of bob"),
        "{err}"
    );
    let err = p
        .decide_request(
            &dir,
            &u("zed"),
            &Principal::User(u("zed")),
            &[key(ACCOUNTS[0], "ReadOnly")],
            SignedDuration::from_hours(72),
        )
        .unwrap_err();
    assert_eq!(err, "requester: zed is not a user of the directory");
    // An SRE asking for the engineers group in prod: the plan needs 2 SREs besides them.
    let err = p
        .decide_request(
            &dir,
            &u("carol"),
            &Principal::Group("engineers".parse_group()),
            &[key(ACCOUNTS[2], "ReadOnly")],
            SignedDuration::from_hours(72),
        )
        .unwrap_err();
    assert_eq!(
        err,
        "plan production: approval step sre needs 2 approvers but only 1 are eligible (the \
         requester and the principal never count)"
    );
    let ok = p
        .decide_request(
            &dir,
            &u("carol"),
            &Principal::Group("engineers".parse_group()),
            &[key(ACCOUNTS[1], "ReadOnly")],
            SignedDuration::from_hours(72),
        )
        .expect("an SRE may ask for the engineers group");
    assert_eq!(ok.plan.name, "standard");
    assert_eq!(ok.approval.steps[0].groups, vec!["sre".to_owned()]);
    assert!(
        ok.explanation
            .iter()
            .any(|l| l.contains("on_behalf:sre-for-engineers"))
    );
}

trait ParseGroup {
    fn parse_group(&self) -> jit_domain::GroupName;
}

impl ParseGroup for str {
    fn parse_group(&self) -> jit_domain::GroupName {
        jit_domain::GroupName::parse(self).unwrap()
    }
}

/// A valid file to break in one place at a time.
const BASE: &str = "\
admins:
  users: [erin]
bundles:
  oncall:
    targets:
      - { account: prod, permission_set: ReadOnly }
eligibility:
  - name: everyone
    groups: [engineers, sre]
    accounts: [\"*\"]
    permission_sets: [ReadOnly]
plans:
  - name: standard
    accounts: [\"*\"]
    permission_sets: [\"*\"]
    steps:
      - { name: sre, groups: [sre], quorum: 1 }
    max_duration: 1h
    max_total: 2h
    approval_timeout: 1h
";

fn error_of(text: &str) -> String {
    let dir = std::env::temp_dir().join(format!("jit-policy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{:x}.yaml", fxhash(text)));
    std::fs::write(&path, text).unwrap();
    let loaded = futures::executor::block_on(Policy::load(&path));
    let e = match loaded {
        Err(e) => e,
        Ok(p) => p
            .check_directory(&seed_directory())
            .expect_err(&format!("the file should be refused:\n{text}")),
    };
    e.to_string()
        .replace(&path.display().to_string(), "policy.yaml")
}

fn fxhash(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

#[test]
fn the_base_file_is_valid() {
    let p = futures::executor::block_on(Policy::parse(BASE, Path::new("base.yaml"))).unwrap();
    p.check_directory(&seed_directory()).unwrap();
}

#[test]
fn each_kind_of_invalid_file_names_file_line_and_problem() {
    let cases: Vec<(String, &str)> = vec![
        (
            BASE.replace("accounts: [\"*\"]\n    permission_sets: [ReadOnly]", "accounts: [\"pr[od\"]\n    permission_sets: [ReadOnly]"),
            "policy.yaml:10: eligibility.everyone.accounts: bad pattern \"pr[od\": '[' is not allowed",
        ),
        (
            BASE.replace("permission_sets: [ReadOnly]", "permission_sets: [\"{Read,Write}*\"]"),
            "policy.yaml:11: eligibility.everyone.permission_sets: bad pattern \"{Read,Write}*\": '{' is not allowed",
        ),
        (
            BASE.replace("groups: [engineers, sre]", "groups: [engineers, sres]"),
            "policy.yaml:9: unknown group \"sres\": the directory has no such group",
        ),
        (
            BASE.replace("users: [erin]", "users: [erin, zed]"),
            "policy.yaml:2: unknown user \"zed\": the directory has no such user",
        ),
        (
            BASE.replace("bundles:\n  oncall:", "bundles:\n  oncall:\n    targets: []\n  oncall:"),
            "policy.yaml:6: bundles: duplicate entry with key \"oncall\"",
        ),
        (
            BASE.replace(
                "bundles:\n  oncall:\n",
                "bundles:\n  a:\n    include: [b]\n  b:\n    include: [oncall]\n  oncall:\n    include: [a]\n",
            ),
            "policy.yaml:4: bundles.a.include: bundles include each other in a cycle: a -> b -> oncall -> a",
        ),
        (
            BASE.replace("{ name: sre, groups: [sre], quorum: 1 }", "{ name: sre, quorum: 1 }"),
            "policy.yaml:17: plans.standard.steps.sre: the approver group is empty (names no group or user)",
        ),
        (
            BASE.replace("{ name: sre, groups: [sre], quorum: 1 }", "{ name: sre, groups: [sre], quorum: 3 }"),
            "policy.yaml:17: plans.standard.steps.sre: quorum 3 is larger than the group (2 approvers: carol, dave)",
        ),
        (
            BASE.replace("{ name: sre, groups: [sre], quorum: 1 }", "{ name: sre, users: [carol], quorum: 2 }"),
            "policy.yaml:17: plans.standard.steps.sre: quorum 2 is larger than its 1 approvers",
        ),
        (
            BASE.replace("max_total: 2h", "max_total: 30m"),
            "policy.yaml:19: plans.standard.max_total: 30m is shorter than max_duration 1h",
        ),
        (
            BASE.replace("max_duration: 1h", "max_duration: soon"),
            "policy.yaml:18: plans[0].max_duration: \"soon\" is not a duration like 90s",
        ),
        (
            BASE.replace("approval_timeout: 1h", "approval_timeout: 1h\n    aproval: x"),
            "policy.yaml:21: plans[0]: unknown field `aproval`",
        ),
        (
            format!("{BASE}  - name: standard\n    accounts: [x]\n    permission_sets: [y]\n    max_duration: 1h\n    max_total: 1h\n    approval_timeout: 1h\n"),
            "policy.yaml:21: plans.standard: a second plan has this name",
        ),
    ];
    for (text, expected) in cases {
        let e = error_of(&text);
        assert!(
            e.starts_with(expected),
            "\n got: {e}\nwant: {expected}\n{text}"
        );
    }
}

#[test]
fn an_empty_approver_group_in_the_directory_is_refused() {
    let mut dir = seed_directory();
    dir.add_group("sre", BTreeSet::new());
    let p = futures::executor::block_on(Policy::parse(BASE, Path::new("policy.yaml"))).unwrap();
    // `check_directory` reads the file for line numbers; without one it still names the step.
    let e = p.check_directory(&dir).unwrap_err().to_string();
    assert!(
        e.contains("plans.standard.steps.sre: approver group sre is empty"),
        "{e}"
    );
}

/// Random rule sets over a small world: groups g0..g3, users u0..u5.
fn arb_rules() -> impl Strategy<Value = (String, Directory)> {
    let groups = prop::collection::vec(prop::collection::btree_set(0..6usize, 1..5), 4);
    let steps = prop::collection::vec((prop::collection::vec(0..4usize, 1..3), 1..3u32), 0..3);
    let plans = prop::collection::vec((steps, prop::option::of(0..4usize)), 1..3);
    let eligible = prop::collection::vec(0..4usize, 1..4);
    (groups, plans, eligible).prop_map(|(groups, plans, eligible)| {
        let mut dir = Directory::new();
        for (i, members) in groups.iter().enumerate() {
            dir.add_group(
                &format!("g{i}"),
                members.iter().map(|m| UserName::parse(&format!("u{m}")).unwrap()).collect(),
            );
        }
        let mut yaml = String::from("eligibility:\n  - name: e\n    groups: [");
        yaml.push_str(&eligible.iter().map(|g| format!("g{g}")).collect::<Vec<_>>().join(", "));
        yaml.push_str("]\n    accounts: [\"*\"]\n    permission_sets: [\"*\"]\nplans:\n");
        for (i, (steps, escalation)) in plans.iter().enumerate() {
            write!(
                yaml,
                "  - name: p{i}\n    accounts: [\"*\"]\n    permission_sets: [\"*\"]\n    max_duration: 1h\n    max_total: 1h\n    approval_timeout: 1h\n    steps:\n"
            )
            .unwrap();
            for (j, (gs, quorum)) in steps.iter().enumerate() {
                let gs: Vec<String> = gs.iter().map(|g| format!("g{g}")).collect();
                writeln!(yaml, "      - {{ name: s{j}, groups: [{}], quorum: {quorum} }}", gs.join(", ")).unwrap();
            }
            if let Some(e) = escalation {
                writeln!(yaml, "    escalation: {{ after: 1m, groups: [g{e}] }}").unwrap();
            }
        }
        (yaml, dir)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever the rules say, the requester and the principal can never approve: the
    /// policy refuses them for every step, and the approval refuses their vote.
    #[test]
    fn no_rule_set_lets_anyone_approve_their_own_ticket(
        (yaml, dir) in arb_rules(),
        requester in 0..6usize,
        principal in 0..6usize,
    ) {
        let p = futures::executor::block_on(Policy::parse(&yaml, Path::new("random.yaml")))
            .expect("generated rules are valid");
        let requester = UserName::parse(&format!("u{requester}")).unwrap();
        let principal = UserName::parse(&format!("u{principal}")).unwrap();
        for plan in &p.rules().plans {
            for party in [&requester, &principal] {
                let who = dir.person(party).unwrap_or(jit_policy::Person {
                    user: party.clone(),
                    groups: Default::default(),
                });
                for step in plan.steps.iter().map(|s| s.name.as_str()).chain(["escalation"]) {
                    let v = p.may_approve(&who, &plan.name, step, &requester, Some(&principal));
                    prop_assert!(!v.allowed, "{} may approve {}/{step}: {}", party, plan.name, v.reason);
                }
            }
            let a = p.approval_plan(plan, &dir, SignedDuration::from_hours(1)).unwrap();
            if let Ok(approval) = Approval::new(a.steps.clone(), requester.clone(), Some(principal.clone())) {
                let now = jiff::Timestamp::UNIX_EPOCH;
                prop_assert!(approval.as_whom(&requester, now).is_err());
                prop_assert!(approval.as_whom(&principal, now).is_err());
            }
        }
    }
}

/// The production-shaped example (`deploy/config/policy.yaml`, in the image and the
/// ConfigMap) passes the file's own checks.
#[test]
fn the_production_example_policy_loads() {
    let p = repo().join("deploy/config/policy.yaml");
    futures::executor::block_on(Policy::load(&p)).expect("deploy/config/policy.yaml loads");
}
