//! The full ticket: plans with steps and quorum, delegation, several targets and bundles,
//! on-behalf and group principals, extension, scheduled start, early ends, break-glass.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use jit_contract::ticket::{self, DelegateInput, EndInput, ExtendInput};
use jit_devstack::{AsyncOutcome, Fault, Rule};
use jit_domain::{BundleName, Decision, GroupName, Phase, Principal, PrincipalType};
use temporalio_client::WorkflowExecuteUpdateOptions;

use crate::support::{Handle, TestApp, user};

const T: Duration = Duration::from_secs(60);

/// Rules for these tests: ReadOnly in the test's account needs two steps (2 of sre, then 1
/// of security) with re-approved extensions and break-glass; everything else one sre.
const RULES: &str = r#"
admins: { users: [erin] }
bundles:
  pair:
    targets:
      - { account: "{account}", permission_set: Developer }
      - { account: "{account}", permission_set: Admin }
eligibility:
  - { name: anyone, groups: [engineers, sre, security], accounts: ["*"], permission_sets: ["*"] }
on_behalf:
  - { name: sre-for-engineers, requesters: [sre], principals: [engineers] }
plans:
  - name: two-step
    accounts: ["{account}"]
    permission_sets: [ReadOnly]
    steps:
      - { name: sre, groups: [sre], quorum: 2 }
      - { name: security, groups: [security], quorum: 1 }
    max_duration: 4h
    max_total: 8h
    extension_needs_approval: true
    approval_timeout: 2h
    break_glass_ratify_within: 1h
  - name: one-step
    accounts: ["*"]
    permission_sets: ["*"]
    steps:
      - { name: sre, groups: [sre], quorum: 1 }
    max_duration: 12h
    max_total: 16h
    approval_timeout: 24h
"#;

async fn app(name: &str) -> TestApp {
    TestApp::with_policy(name, RULES).await
}

/// A request that fits both plans (two-step allows at most 4h).
fn request(
    app: &TestApp,
    suffix: &str,
    requester: &str,
    principal: &str,
) -> jit_domain::TicketRequest {
    let mut r = app.request(suffix, requester, principal);
    r.duration = SignedDuration::from_hours(2);
    r
}

async fn update_err<F>(f: F) -> String
where
    F: std::future::Future<Output = Result<(), String>>,
{
    f.await.expect_err("the update should be refused")
}

impl TestApp {
    async fn delegate(&self, h: &Handle, from: &str, to: &str) -> Result<(), String> {
        h.execute_update(
            ticket::Delegate,
            DelegateInput {
                from: user(from),
                to: user(to),
                until: Timestamp::now() + SignedDuration::from_hours(1),
                reason: Some("on holiday".into()),
            },
            WorkflowExecuteUpdateOptions::default(),
        )
        .await
        .map_err(|e| jit_devstack::temporal_client::update_error_message(&e))
    }

    pub(crate) async fn extend(
        &self,
        h: &Handle,
        by: &str,
        extra: SignedDuration,
    ) -> Result<bool, String> {
        h.execute_update(
            ticket::Extend,
            ExtendInput {
                by: user(by),
                extra,
                reason: Some("still debugging".into()),
            },
            WorkflowExecuteUpdateOptions::default(),
        )
        .await
        .map_err(|e| jit_devstack::temporal_client::update_error_message(&e))
    }

    async fn end(&self, h: &Handle, kind: &str, by: &str) -> Result<(), String> {
        let input = EndInput {
            by: user(by),
            reason: Some("done here".into()),
        };
        let o = WorkflowExecuteUpdateOptions::default();
        let r = match kind {
            "relinquish" => h.execute_update(ticket::Relinquish, input, o).await,
            "revoke" => h.execute_update(ticket::Revoke, input, o).await,
            _ => h.execute_update(ticket::Cancel, input, o).await,
        };
        r.map_err(|e| jit_devstack::temporal_client::update_error_message(&e))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_steps_with_quorum_and_a_delegate_then_relinquish() {
    let app = app("quorum").await;
    let req = request(&app, "quorum", "bob", "bob");
    let h = app.start(&req).await;
    let t = app
        .wait_for(&h, T, |t| t.phase == Phase::PendingApproval)
        .await;
    assert_eq!(t.plan.as_ref().unwrap().name, "two-step");

    app.approve(&h, "carol").await.expect("carol approves");
    let e = app.approve(&h, "erin").await.unwrap_err();
    assert!(
        e.contains("erin is not an approver of step sre"),
        "step 2 waits: {e}"
    );
    let e = update_err(app.delegate(&h, "dave", "bob")).await;
    assert!(
        e.contains("bob is the requester of this ticket and cannot receive"),
        "{e}"
    );
    let e = update_err(app.delegate(&h, "dave", "dave")).await;
    assert!(e.contains("cannot delegate to themselves"), "{e}");
    app.delegate(&h, "dave", "frank")
        .await
        .expect("dave delegates");
    let e = update_err(app.delegate(&h, "frank", "dave")).await;
    assert!(e.contains("cycle"), "{e}");
    let t = app.status(&h).await;
    let pending: Vec<String> = t
        .pending_approvers(Timestamp::now())
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(pending, ["dave", "frank"]);
    // Approvers find what waits for them in the UI.
    crate::wait_listed(
        &app,
        &format!(
            "JitPendingApprovers = 'frank' AND JitStatus = 'PendingApproval' AND WorkflowId = '{}'",
            req.ticket_id.workflow_id()
        ),
    )
    .await;

    app.approve(&h, "frank")
        .await
        .expect("frank approves as dave");
    let e = app.approve(&h, "dave").await.unwrap_err();
    assert!(
        e.contains("not an approver of step security"),
        "dave's vote is spent: {e}"
    );
    app.approve(&h, "gina").await.expect("gina approves step 2");
    let t = app.wait_for(&h, T, |t| t.phase == Phase::Active).await;
    let votes = &t.approval.as_ref().unwrap().votes;
    let recorded: Vec<(String, String, usize)> = votes
        .iter()
        .map(|v| (v.voter.to_string(), v.cast_by.to_string(), v.step))
        .collect();
    assert_eq!(
        recorded,
        [
            ("carol".into(), "carol".into(), 0),
            ("dave".into(), "frank".into(), 0),
            ("gina".into(), "gina".into(), 1)
        ]
    );
    assert!(
        t.audit
            .iter()
            .any(|e| e.what.contains("frank as dave (delegated) approved"))
    );
    assert_eq!(app.assignment_count("bob", "ReadOnly").await, 1);

    let e = update_err(app.end(&h, "relinquish", "carol")).await;
    assert!(e.contains("only the requester or the principal"), "{e}");
    app.end(&h, "relinquish", "bob").await.expect("bob is done");
    let out = app.outcome(&h, T).await;
    assert_eq!(out.phase, Phase::Relinquished);
    assert_eq!(
        out.reason.as_deref(),
        Some("relinquished by bob: done here")
    );
    assert_eq!(app.assignment_count("bob", "ReadOnly").await, 0);
    app.maybe_record_history(&h, "two-step-delegated-relinquished")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_targets_are_rolled_back_together_when_one_fails() {
    let app = app("multi").await;
    let (b, c) = (app.another_account().await, app.another_account().await);
    app.stack.proxy.add(
        Rule::new(
            "CreateAccountAssignment",
            Fault::Async {
                polls: 2,
                outcome: AsyncOutcome::Failed("ServiceQuotaExceeded: 1000 roles".into()),
            },
        )
        .matching(c.as_str()),
    );
    let mut req = request(&app, "multi", "bob", "bob");
    req.targets = vec![
        app.target(&app.account, "Developer"),
        app.target(&b, "Developer"),
        app.target(&c, "Developer"),
    ];
    let h = app.start(&req).await;
    app.wait_for(&h, T, |t| t.phase == Phase::PendingApproval)
        .await;
    app.approve(&h, "dave").await.expect("approve");
    let out = app.outcome(&h, T).await;
    assert_eq!(out.phase, Phase::Failed, "{out:?}");
    assert!(
        out.reason.as_deref().unwrap().contains("1000 roles"),
        "{out:?}"
    );
    for acct in [&app.account, &b, &c] {
        assert_eq!(
            app.assignment_count_in(acct, "bob", "Developer").await,
            0,
            "{acct}"
        );
    }
    // Unwound last in, first out: b before the first account.
    let deletes: Vec<String> = app
        .stack
        .proxy
        .calls()
        .into_iter()
        .filter(|c| c.operation == "DeleteAccountAssignment")
        .filter_map(|c| {
            [&app.account, &b]
                .into_iter()
                .find(|a| c.body.contains(a.as_str()))
                .map(ToString::to_string)
        })
        .collect();
    assert_eq!(deletes, [b.to_string(), app.account.to_string()]);
    assert!(app.status(&h).await.stack.is_unwound());
    app.maybe_record_history(&h, "multi-target-rolled-back")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundle_for_someone_else_is_granted_then_revoked_by_an_admin() {
    let app = app("bundle").await;
    let mut req = request(&app, "bundle", "carol", "bob");
    req.targets.clear();
    req.bundle = Some(BundleName::parse("pair").unwrap());
    let h = app.start(&req).await;
    let t = app
        .wait_for(&h, T, |t| t.phase == Phase::PendingApproval)
        .await;
    assert_eq!(t.targets.len(), 2, "the bundle expanded");
    crate::wait_listed(
        &app,
        &format!(
            "JitAccounts = '{}' AND JitPermissionSets = 'Admin' AND WorkflowId = '{}'",
            app.account,
            req.ticket_id.workflow_id()
        ),
    )
    .await;
    assert_eq!(t.plan.as_ref().unwrap().name, "one-step");
    app.approve(&h, "dave").await.expect("dave approves");
    app.wait_for(&h, T, |t| t.phase == Phase::Active).await;
    assert_eq!(app.assignment_count("bob", "Developer").await, 1);
    assert_eq!(app.assignment_count("bob", "Admin").await, 1);
    let e = update_err(app.end(&h, "revoke", "frank")).await;
    assert!(
        e.contains("neither an approver of this ticket nor an admin"),
        "{e}"
    );
    app.end(&h, "revoke", "erin")
        .await
        .expect("an admin revokes");
    let out = app.outcome(&h, T).await;
    assert_eq!(out.phase, Phase::Revoked);
    assert_eq!(app.assignment_count("bob", "Developer").await, 0);
    assert_eq!(app.assignment_count("bob", "Admin").await, 0);
    app.maybe_record_history(&h, "bundle-on-behalf-revoked")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_can_be_the_principal() {
    let app = app("group").await;
    let mut req = request(&app, "group", "carol", "bob");
    req.principal = Principal::Group(GroupName::parse("engineers").unwrap());
    req.targets = vec![app.target(&app.account, "Developer")];
    let h = app.start(&req).await;
    app.wait_for(&h, T, |t| t.phase == Phase::PendingApproval)
        .await;
    app.approve(&h, "dave").await.expect("approve");
    let t = app.wait_for(&h, T, |t| t.phase == Phase::Active).await;
    assert_eq!(t.targets[0].assignment.principal_type, PrincipalType::Group);
    let creates = app
        .stack
        .proxy
        .calls_of("CreateAccountAssignment", app.account.as_str());
    assert!(creates[0].body.contains("\"GROUP\""), "{}", creates[0].body);
    app.end(&h, "relinquish", "carol")
        .await
        .expect("the requester is done");
    assert_eq!(app.outcome(&h, T).await.phase, Phase::Relinquished);
    app.maybe_record_history(&h, "group-principal-relinquished")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extension_moves_the_expiry_without_dropping_access() {
    let app = app("extend").await;
    let mut req = request(&app, "extend", "bob", "bob");
    req.targets = vec![app.target(&app.account, "Developer")];
    req.duration = SignedDuration::from_hours(4);
    let h = app.start(&req).await;
    app.wait_for(&h, T, |t| t.phase == Phase::PendingApproval)
        .await;
    app.approve(&h, "carol").await.expect("approve");
    let t = app.wait_for(&h, T, |t| t.phase == Phase::Active).await;
    let before = t.expires_at.unwrap();

    let e = app
        .extend(&h, "carol", SignedDuration::from_hours(1))
        .await
        .unwrap_err();
    assert!(e.contains("neither the requester nor the principal"), "{e}");
    let e = app
        .extend(&h, "bob", SignedDuration::from_hours(13))
        .await
        .unwrap_err();
    assert!(
        e.contains("would make 17h in all; plan one-step allows at most 16h"),
        "{e}"
    );
    assert!(
        app.extend(&h, "bob", SignedDuration::from_hours(2))
            .await
            .expect("extended")
    );
    let t = app.wait_for(&h, T, |t| t.expires_at != Some(before)).await;
    assert_eq!(
        t.expires_at.unwrap(),
        before + SignedDuration::from_hours(2)
    );
    // Access never dropped: AWS shows it, and nothing was ever deleted.
    assert_eq!(app.assignment_count("bob", "Developer").await, 1);
    assert!(
        app.stack
            .proxy
            .calls_of("DeleteAccountAssignment", app.account.as_str())
            .is_empty()
    );
    app.skip_time(&h).await;
    let out = app.outcome(&h, T).await;
    assert_eq!(out.phase, Phase::Expired);
    let t = app.status(&h).await;
    assert!(
        t.ended_at.unwrap().duration_since(t.active_since.unwrap())
            >= SignedDuration::from_hours(6),
        "lasted the extended 6h"
    );
    assert_eq!(app.assignment_count("bob", "Developer").await, 0);
    app.maybe_record_history(&h, "extended-expired").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extension_needing_approval_is_voted_while_access_stays() {
    let app = app("reextend").await;
    let req = request(&app, "reextend", "bob", "bob");
    let h = app.start(&req).await;
    app.wait_for(&h, T, |t| t.phase == Phase::PendingApproval)
        .await;
    for who in ["carol", "dave", "erin"] {
        app.approve(&h, who).await.expect(who);
    }
    let t = app.wait_for(&h, T, |t| t.phase == Phase::Active).await;
    let before = t.expires_at.unwrap();
    assert!(
        !app.extend(&h, "bob", SignedDuration::from_hours(1))
            .await
            .expect("asked")
    );
    let e = app
        .extend(&h, "bob", SignedDuration::from_hours(1))
        .await
        .unwrap_err();
    assert!(e.contains("already waiting for approval"), "{e}");
    let t = app.status(&h).await;
    assert_eq!(t.expires_at, Some(before), "not before approval");
    for who in ["carol", "dave", "gina"] {
        app.approve(&h, who).await.expect(who);
    }
    let t = app.wait_for(&h, T, |t| t.expires_at != Some(before)).await;
    assert_eq!(
        t.expires_at.unwrap(),
        before + SignedDuration::from_hours(1)
    );
    let ext = t.extensions.last().unwrap();
    assert!(ext.applied);
    assert_eq!(
        ext.approval.as_ref().unwrap().outcome,
        Some(Decision::Approve)
    );
    assert_eq!(
        app.assignment_count("bob", "ReadOnly").await,
        1,
        "access stayed"
    );
    app.end(&h, "relinquish", "bob").await.expect("done");
    assert_eq!(app.outcome(&h, T).await.phase, Phase::Relinquished);
    app.maybe_record_history(&h, "extension-reapproved").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_start_is_honoured() {
    let app = app("scheduled").await;
    let mut req = request(&app, "scheduled", "bob", "bob");
    req.targets = vec![app.target(&app.account, "Developer")];
    let start = Timestamp::now() + SignedDuration::from_hours(3);
    req.start_at = Some(start);
    let h = app.start(&req).await;
    app.wait_for(&h, T, |t| t.phase == Phase::PendingApproval)
        .await;
    app.approve(&h, "carol")
        .await
        .expect("approved before the start");
    app.wait_for(&h, T, |t| t.phase == Phase::Scheduled).await;
    assert_eq!(app.assignment_count("bob", "Developer").await, 0, "not yet");
    app.skip_time(&h).await;
    let out = app.outcome(&h, T).await;
    assert_eq!(out.phase, Phase::Expired, "{out:?}");
    assert!(
        out.active_since.unwrap() >= start,
        "{:?} < {start}",
        out.active_since
    );
    assert_eq!(app.assignment_count("bob", "Developer").await, 0);
    app.maybe_record_history(&h, "scheduled-expired").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_ticket_can_be_cancelled_by_its_requester_only() {
    let app = app("cancelsched").await;
    let mut req = request(&app, "cancel", "bob", "bob");
    req.targets = vec![app.target(&app.account, "Developer")];
    req.start_at = Some(Timestamp::now() + SignedDuration::from_hours(3));
    let h = app.start(&req).await;
    app.wait_for(&h, T, |t| t.phase == Phase::PendingApproval)
        .await;
    app.approve(&h, "carol").await.expect("approve");
    app.wait_for(&h, T, |t| t.phase == Phase::Scheduled).await;
    let e = update_err(app.end(&h, "cancel", "carol")).await;
    assert!(e.contains("only the requester can cancel"), "{e}");
    app.end(&h, "cancel", "bob").await.expect("cancelled");
    let out = app.outcome(&h, T).await;
    assert_eq!(out.phase, Phase::Cancelled);
    assert!(
        app.stack
            .proxy
            .calls_of("CreateAccountAssignment", app.account.as_str())
            .is_empty()
    );
    app.maybe_record_history(&h, "scheduled-cancelled").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn break_glass_without_ratification_is_revoked_and_flagged() {
    let app = app("breakglass").await;
    let mut req = request(&app, "bg", "bob", "bob");
    req.break_glass = true;
    req.justification =
        jit_domain::Justification::parse("prod is down, INC-99, paging did not reach sre").unwrap();
    let h = app.start(&req).await;
    let t = app.wait_for(&h, T, |t| t.phase == Phase::Active).await;
    assert!(t.ratify_by.is_some());
    assert_eq!(
        app.assignment_count("bob", "ReadOnly").await,
        1,
        "access at once"
    );
    app.approve(&h, "carol")
        .await
        .expect("one vote is not enough");
    app.skip_time(&h).await;
    let out = app.outcome(&h, T).await;
    assert_eq!(out.phase, Phase::Revoked, "{out:?}");
    assert_eq!(
        out.flagged.as_deref(),
        Some("break-glass access was not ratified in time")
    );
    assert_eq!(app.assignment_count("bob", "ReadOnly").await, 0);
    app.maybe_record_history(&h, "break-glass-unratified").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn break_glass_ratified_lasts_until_expiry_and_is_refused_where_the_plan_forbids_it() {
    let app = app("ratified").await;
    let mut req = request(&app, "bg", "bob", "bob");
    req.break_glass = true;
    req.justification =
        jit_domain::Justification::parse("prod is down, INC-100, need to restart the fleet")
            .unwrap();
    let h = app.start(&req).await;
    app.wait_for(&h, T, |t| t.phase == Phase::Active).await;
    for who in ["carol", "dave", "gina"] {
        app.approve(&h, who).await.expect(who);
    }
    app.wait_for(&h, T, |t| t.ratify_by.is_none()).await;
    app.skip_time(&h).await;
    let out = app.outcome(&h, T).await;
    assert_eq!(out.phase, Phase::Expired, "{out:?}");
    assert_eq!(out.flagged, None);

    let mut req = request(&app, "bgdev", "bob", "bob");
    req.break_glass = true;
    req.targets = vec![app.target(&app.account, "Developer")];
    req.justification =
        jit_domain::Justification::parse("prod is down, INC-100, need to restart the fleet")
            .unwrap();
    let h = app.start(&req).await;
    let out = app.outcome(&h, T).await;
    assert_eq!(out.phase, Phase::Rejected);
    assert!(
        out.reason
            .unwrap()
            .contains("plan one-step does not allow break-glass")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsatisfiable_plan_is_rejected() {
    let app = app("unsat").await;
    // carol asks for bob: step sre needs 2 of (carol, dave) but carol is the requester.
    let req = request(&app, "unsat", "carol", "bob");
    let h = app.start(&req).await;
    let out = app.outcome(&h, T).await;
    assert_eq!(out.phase, Phase::Rejected);
    assert!(
        out.reason
            .unwrap()
            .contains("step sre needs 2 approvers but only 1 are eligible"),
    );
    app.maybe_record_history(&h, "unsatisfiable-rejected").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_history_continues_as_new_carrying_the_ticket() {
    let app = app("can").await;
    let mut req = request(&app, "can", "bob", "bob");
    req.targets = vec![app.target(&app.account, "Developer")];
    let h = app.start(&req).await;
    app.wait_for(&h, T, |t| t.phase == Phase::PendingApproval)
        .await;
    app.approve(&h, "carol").await.expect("approve");
    let t = app.wait_for(&h, T, |t| t.phase == Phase::Active).await;
    let first_run = app.history(&h).await.len();
    // A flood of refused signals (each one an event and an audit line).
    let n = jit_contract::ticket::CONTINUE_AS_NEW_AFTER_EVENTS as usize;
    for chunk in (0..n).collect::<Vec<_>>().chunks(50) {
        let sends = chunk.iter().map(|_| {
            h.signal(
                ticket::ExtendSignal,
                ExtendInput {
                    by: user("zed"),
                    extra: SignedDuration::from_hours(1),
                    reason: None,
                },
                Default::default(),
            )
        });
        for r in futures::future::join_all(sends).await {
            r.expect("signal");
        }
    }
    let t2 = app
        .wait_for(&h, Duration::from_secs(120), |t| {
            t.audit
                .iter()
                .any(|e| e.what.contains("continuing as a new run"))
        })
        .await;
    assert_eq!(t2.phase, Phase::Active);
    assert_eq!(t2.expires_at, t.expires_at, "the expiry carried over");
    assert_eq!(t2.stack, t.stack, "the resource stack carried over");
    // The new run's history is short again.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let now_len = app.history(&h).await.len();
    assert!(
        now_len < n,
        "history restarted: {first_run} then {now_len} events"
    );
    assert_eq!(
        app.assignment_count("bob", "Developer").await,
        1,
        "access stayed"
    );
    app.end(&h, "relinquish", "bob")
        .await
        .expect("relinquish in the new run");
    let out = app.outcome(&h, T).await;
    assert_eq!(out.phase, Phase::Relinquished);
    assert_eq!(app.assignment_count("bob", "Developer").await, 0);
    // The second run, which starts from the carried ticket, replays too.
    app.maybe_record_history(&h, "continued-as-new-relinquished")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_approvals_remind_and_escalate_to_the_fallback_group() {
    const REMINDING: &str = r#"
eligibility:
  - { name: anyone, groups: [engineers, sre, security], accounts: ["*"], permission_sets: ["*"] }
plans:
  - name: reminding
    accounts: ["*"]
    permission_sets: ["*"]
    steps:
      - { name: sre, groups: [sre], quorum: 2 }
    max_duration: 4h
    max_total: 8h
    approval_timeout: 1h
    remind_every: 1s
    escalation: { after: 3s, groups: [security] }
"#;
    let app = TestApp::with_policy("escalate", REMINDING).await;
    let req = request(&app, "escalate", "bob", "bob");
    let h = app.start(&req).await;
    app.wait_for(&h, T, |t| t.phase == Phase::PendingApproval)
        .await;
    let e = app.approve(&h, "erin").await.unwrap_err();
    assert!(
        e.contains("erin is not an approver"),
        "not before escalation: {e}"
    );
    app.approve(&h, "carol").await.expect("carol approves");
    let t = app.wait_for(&h, T, |t| t.escalated).await;
    assert!(
        t.reminders_sent >= 2,
        "reminded every second: {}",
        t.reminders_sent
    );
    assert!(
        t.audit
            .iter()
            .any(|e| e.what.contains("escalated to security (erin, gina)"))
    );
    // The reminder went to whoever could still act.
    assert!(
        t.audit
            .iter()
            .any(|e| e.what.starts_with("reminder 1 sent to dave"))
    );
    app.approve(&h, "erin")
        .await
        .expect("erin may approve after escalation");
    app.wait_for(&h, T, |t| t.phase == Phase::Active).await;
    let log = app.worker_log_text();
    assert!(log.contains("notify: escalated"), "the notifier was called");
    app.end(&h, "relinquish", "bob").await.expect("done");
    assert_eq!(app.outcome(&h, T).await.phase, Phase::Relinquished);
    app.maybe_record_history(&h, "reminded-escalated").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standing_delegation_lets_the_delegate_vote_on_every_ticket() {
    use jit_contract::delegation::{self, SetDelegation};
    use jit_domain::DelegationEntity;
    use temporalio_client::WorkflowStartOptions;

    const SECURITY: &str = r#"
eligibility:
  - { name: anyone, groups: [engineers, sre, security], accounts: ["*"], permission_sets: ["*"] }
plans:
  - name: security-pair
    accounts: ["{account}"]
    permission_sets: ["*"]
    steps:
      - { name: security, groups: [security], quorum: 2 }
    max_duration: 4h
    max_total: 8h
    approval_timeout: 1h
"#;
    let app = TestApp::with_policy("standingdeleg", SECURITY).await;
    // gina is on holiday: frank approves in her place (her entity workflow holds it).
    let gina = user("gina");
    let entity_id = DelegationEntity::workflow_id(&gina);
    let entity = app
        .client
        .start_workflow(
            delegation::Workflow,
            DelegationEntity::new(gina.clone()),
            WorkflowStartOptions::new(app.task_queue.clone(), entity_id.clone()).build(),
        )
        .await
        .expect("entity started");
    let e = entity
        .execute_update(
            delegation::Set,
            SetDelegation {
                to: gina.clone(),
                until: Timestamp::now() + SignedDuration::from_mins(10),
                reason: None,
            },
            WorkflowExecuteUpdateOptions::default(),
        )
        .await
        .expect_err("no self-delegation");
    assert!(jit_devstack::temporal_client::update_error_message(&e).contains("themselves"));
    entity
        .execute_update(
            delegation::Set,
            SetDelegation {
                to: user("frank"),
                until: Timestamp::now() + SignedDuration::from_mins(10),
                reason: Some("holiday".into()),
            },
            WorkflowExecuteUpdateOptions::default(),
        )
        .await
        .expect("delegation set");

    let req = request(&app, "standing", "bob", "bob");
    let h = app.start(&req).await;
    let t = app
        .wait_for(&h, T, |t| t.phase == Phase::PendingApproval)
        .await;
    assert!(
        t.audit.iter().any(
            |e| e.what.contains("standing delegation from gina to frank")
                && e.what.ends_with("applies")
        ),
        "{:#?}",
        t.audit
    );
    app.approve(&h, "erin").await.expect("erin approves");
    app.approve(&h, "frank")
        .await
        .expect("frank approves as gina");
    let t = app.wait_for(&h, T, |t| t.phase == Phase::Active).await;
    let v = &t.approval.as_ref().unwrap().votes[1];
    assert_eq!((v.voter.as_str(), v.cast_by.as_str()), ("gina", "frank"));
    app.end(&h, "relinquish", "bob").await.expect("done");
    assert_eq!(app.outcome(&h, T).await.phase, Phase::Relinquished);
    app.maybe_record_history(&h, "standing-delegation").await;

    // Back from holiday: cleared, the entity ends; new tickets see no delegation.
    entity
        .execute_update(
            delegation::Clear,
            (),
            WorkflowExecuteUpdateOptions::default(),
        )
        .await
        .expect("cleared");
    entity
        .get_result(Default::default())
        .await
        .expect("the entity ends when cleared");
    app.maybe_record_workflow(&entity_id, "delegation-entity")
        .await;
    let req = request(&app, "after", "bob", "bob");
    let h = app.start(&req).await;
    let t = app
        .wait_for(&h, T, |t| t.phase == Phase::PendingApproval)
        .await;
    assert!(
        !t.audit
            .iter()
            .any(|e| e.what.contains("standing delegation"))
    );
    let e = app.approve(&h, "frank").await.unwrap_err();
    assert!(e.contains("frank is not an approver"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_without_steps_is_approved_at_once() {
    let app = TestApp::with_policy("auto", jit_e2e::SELF_SERVICE_POLICY).await;
    let mut req = request(&app, "auto", "bob", "bob");
    req.duration = SignedDuration::from_mins(30);
    let h = app.start(&req).await;
    let t = app.wait_for(&h, T, |t| t.phase == Phase::Active).await;
    assert!(
        t.audit
            .iter()
            .any(|e| e.what == "auto-approved by the plan")
    );
    assert!(t.approval.as_ref().unwrap().votes.is_empty());
    assert_eq!(app.assignment_count("bob", "ReadOnly").await, 1);
    app.skip_time(&h).await;
    assert_eq!(app.outcome(&h, T).await.phase, Phase::Expired);
    assert_eq!(app.assignment_count("bob", "ReadOnly").await, 0);
    app.maybe_record_history(&h, "auto-approved-expired").await;
}
