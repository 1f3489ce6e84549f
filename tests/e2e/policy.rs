//! The policy end to end: decisions recorded with the policy's hash, votes checked against
//! the directory, reloads (and refused reloads) while tickets run, eligibility taken again at
//! a scheduled start and on extension.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use jit_domain::Phase;

use crate::support::{TestApp, user};

const T: Duration = Duration::from_secs(60);

static N: AtomicU32 = AtomicU32::new(0);

/// A group of two fresh approvers of this test's own (the directory is shared by all tests).
async fn own_group(app: &TestApp, what: &str) -> (String, String, String) {
    let n = N.fetch_add(1, Ordering::SeqCst);
    let group = format!("{what}-{n}-{}", std::process::id());
    let (a, b) = (format!("{group}-a"), format!("{group}-b"));
    app.aws
        .create_group(&group, "test approvers")
        .await
        .unwrap();
    for u in [&a, &b] {
        app.aws
            .create_user(u, "Test Approver", &format!("{u}@example.com"))
            .await
            .unwrap();
        app.aws.add_to_group(&group, &user(u)).await.unwrap();
    }
    (group, a, b)
}

fn policy_with(group: &str, plan: &str, eligible: &str) -> String {
    format!(
        r#"
eligibility:
  - {{ name: eligible, groups: [{eligible}], accounts: ["{{account}}"], permission_sets: [ReadOnly] }}
plans:
  - name: {plan}
    accounts: ["*"]
    permission_sets: ["*"]
    steps:
      - {{ name: approvers, groups: [{group}], quorum: 1 }}
    max_duration: 8h
    max_total: 16h
    approval_timeout: 1h
"#
    )
}

impl TestApp {
    /// Rewrites this test's policy file; waits until the worker logged `expect` about it.
    async fn rewrite_policy(&self, yaml: &str, expect: &str) {
        let before = self.worker_log_text().matches(expect).count();
        std::fs::write(
            &self.policy_file,
            yaml.replace("{account}", self.account.as_str()),
        )
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.worker_log_text().matches(expect).count() == before {
            assert!(
                Instant::now() < deadline,
                "the worker did not log {expect:?}:\n{}",
                self.worker_log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vote_from_someone_no_longer_in_the_approver_group_is_refused() {
    let probe = TestApp::new("voterleft-setup").await;
    let (group, a, b) = own_group(&probe, "voters").await;
    drop(probe);
    let app = TestApp::with_policy("voterleft", &policy_with(&group, "checked", "engineers")).await;
    let req = app.request("left", "bob", "bob");
    let h = app.start(&req).await;
    let t = app
        .wait_for(&h, T, |t| t.phase == Phase::PendingApproval)
        .await;
    // The decision is recorded with the policy's hash and the rules that decided.
    let policy = t.policy.expect("the policy decision is recorded");
    let text = std::fs::read(&app.policy_file).unwrap();
    let digest: String = sha256_hex(&text);
    assert_eq!(policy.hash, format!("sha256:{digest}"));
    assert!(
        policy.decisions.iter().any(
            |d| d.contains("bob may request ReadOnly in") && d.contains("eligibility:eligible")
        ),
        "{:?}",
        policy.decisions
    );
    assert!(
        policy
            .decisions
            .iter()
            .any(|d| d.contains("plan checked applies"))
    );
    assert!(t.audit.iter().any(|e| {
        e.what
            .starts_with(&format!("policy sha256:{}", &digest[..12]))
    }));

    // a leaves the group; within the directory TTL (1 s here) their vote no longer counts.
    app.aws.remove_from_group(&group, &user(&a)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let e = app.approve(&h, &a).await.unwrap_err();
    assert!(
        e.contains(&format!("{a} is no longer a member of {group}")),
        "{e}"
    );
    let t = app.status(&h).await;
    assert_eq!(t.phase, Phase::PendingApproval);
    assert!(t.approval.as_ref().unwrap().votes.is_empty());

    // b still is: the vote counts and access is granted.
    app.approve(&h, &b).await.expect("b may approve");
    app.wait_for(&h, T, |t| t.phase == Phase::Active).await;
    assert_eq!(app.assignment_count("bob", "ReadOnly").await, 1);
    app.maybe_record_history(&h, "policy-voter-left-group")
        .await;
    app.skip_time(&h).await;
    assert_eq!(app.outcome(&h, T).await.phase, Phase::Expired);
    assert_eq!(app.assignment_count("bob", "ReadOnly").await, 0);
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policy_reloads_while_tickets_keep_their_plan_and_a_bad_file_is_refused() {
    let app = TestApp::with_policy("reload", &policy_with("sre", "first", "engineers")).await;
    let old = app.start(&app.request("old", "bob", "bob")).await;
    let t = app
        .wait_for(&old, T, |t| t.phase == Phase::PendingApproval)
        .await;
    assert_eq!(t.plan.as_ref().unwrap().name, "first");

    // A new policy: the plan is now "second", approved by security.
    app.rewrite_policy(
        &policy_with("security", "second", "engineers"),
        "policy reloaded",
    )
    .await;
    let new = app.start(&app.request("new", "alice", "alice")).await;
    let t = app
        .wait_for(&new, T, |t| t.phase == Phase::PendingApproval)
        .await;
    assert_eq!(t.plan.as_ref().unwrap().name, "second");
    let e = app.approve(&new, "carol").await.unwrap_err();
    assert!(
        e.contains("carol is not an approver of step approvers"),
        "{e}"
    );
    app.approve(&new, "gina")
        .await
        .expect("security approves the new ticket");

    // The running ticket keeps the plan it was decided with.
    let e = app.approve(&old, "gina").await.unwrap_err();
    assert!(e.contains("gina is not an approver"), "{e}");
    app.approve(&old, "carol")
        .await
        .expect("sre approves the old ticket");
    app.wait_for(&old, T, |t| t.phase == Phase::Active).await;
    app.wait_for(&new, T, |t| t.phase == Phase::Active).await;

    // An invalid file is refused with file, line and problem; the policy before stays.
    let bad = policy_with("security", "third", "engineers").replace("[\"*\"]", "[\"pr?d\"]");
    app.rewrite_policy(&bad, "policy not reloaded").await;
    let log = app.worker_log_text();
    let file = app.policy_file.display().to_string();
    assert!(
        log.contains(&format!(
            "policy not reloaded: {file}:6: plans.third.accounts: bad pattern \"pr?d\""
        )),
        "{log}"
    );
    let later = app.start(&app.request("later", "frank", "frank")).await;
    let t = app
        .wait_for(&later, T, |t| t.phase == Phase::PendingApproval)
        .await;
    assert_eq!(
        t.plan.as_ref().unwrap().name,
        "second",
        "the good policy stayed"
    );

    // SIGHUP re-reads the file on demand (still invalid: refused again).
    let pid = app.worker_pid();
    jit_devstack::sys::kill(pid, libc::SIGHUP).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.worker_log_text().matches("policy not reloaded").count() < 2 {
        assert!(
            Instant::now() < deadline,
            "SIGHUP did not re-read the policy"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eligibility_is_taken_again_at_a_scheduled_start_and_on_extension() {
    let app = TestApp::with_policy("recheck", &policy_with("sre", "plan", "engineers")).await;
    // Scheduled in a few seconds, approved, then the policy stops letting engineers ask.
    let mut req = app.request("sched", "bob", "bob");
    req.duration = SignedDuration::from_hours(1);
    req.start_at = Some(Timestamp::now() + SignedDuration::from_secs(6));
    let sched = app.start(&req).await;
    // And an active ticket of alice's to extend later.
    let mut req = app.request("ext", "alice", "alice");
    req.duration = SignedDuration::from_hours(1);
    let ext = app.start(&req).await;
    for h in [&sched, &ext] {
        app.wait_for(h, T, |t| t.phase == Phase::PendingApproval)
            .await;
        app.approve(h, "carol").await.unwrap();
    }
    app.wait_for(&sched, T, |t| t.phase == Phase::Scheduled)
        .await;
    app.wait_for(&ext, T, |t| t.phase == Phase::Active).await;

    app.rewrite_policy(&policy_with("sre", "plan", "sre"), "policy reloaded")
        .await;
    let out = app.outcome(&sched, T).await;
    assert_eq!(out.phase, Phase::Rejected);
    let reason = out.reason.unwrap();
    assert!(
        reason.starts_with("at the scheduled start: policy sha256:")
            && reason.contains("bob may not request ReadOnly in")
            && reason.contains("no eligibility rule allows bob (in no group the policy names)"),
        "{reason}"
    );
    assert_eq!(
        app.assignment_count("bob", "ReadOnly").await,
        0,
        "nothing granted"
    );

    let e = app
        .extend(&ext, "alice", SignedDuration::from_hours(1))
        .await
        .unwrap_err();
    assert!(
        e.starts_with("not allowed: policy sha256:")
            && e.contains("no eligibility rule allows alice"),
        "{e}"
    );
    let t = app.status(&ext).await;
    assert!(t.extensions.is_empty());
    assert_eq!(t.phase, Phase::Active);
    app.maybe_record_history(&ext, "policy-extension-refused")
        .await;
}
