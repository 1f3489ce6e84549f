//! Leases and reconcile: overlapping tickets share one assignment, which outlives the first
//! ticket's expiry; the reconciler finds orphans and missing assignments, reports them, and
//! has their leases repair them.

use std::time::Duration;

use jit_contract::reconcile::ReconcileReport;
use jit_contract::{lease, ticket};
use jit_domain::lease::lease_id;
use jit_domain::{Finding, LeaseStatus, Ownership, Phase};
use temporalio_client::{WorkflowGetResultOptions, WorkflowQueryOptions};

use crate::support::{TestApp, user};

const T: Duration = Duration::from_secs(60);

fn end_input(by: &str) -> jit_contract::ticket::EndInput {
    jit_contract::ticket::EndInput {
        by: user(by),
        reason: Some("done".into()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_tickets_share_the_assignment_until_the_last_one_ends() {
    let app = TestApp::new("overlap").await;
    let acct = app.account.to_string();
    let mut first = app.request("first", "bob", "bob");
    first.duration = jiff::SignedDuration::from_hours(1);
    let h1 = app.start(&first).await;
    app.wait_for(&h1, T, |t| t.phase == Phase::PendingApproval)
        .await;
    app.approve(&h1, "carol").await.expect("approve first");
    app.wait_for(&h1, T, |t| t.phase == Phase::Active).await;

    let second = app.request("second", "bob", "bob");
    let h2 = app.start(&second).await;
    app.wait_for(&h2, T, |t| t.phase == Phase::PendingApproval)
        .await;
    app.approve(&h2, "dave").await.expect("approve second");
    let t2 = app.wait_for(&h2, T, |t| t.phase == Phase::Active).await;
    let id1 = h1.info().workflow_id.clone();
    let id2 = h2.info().workflow_id.clone();
    assert!(
        t2.audit
            .iter()
            .any(|e| e.what.contains(&format!("already granted by {id1}"))),
        "the second ticket shares the first one's assignment: {:?}",
        t2.audit
    );
    assert_eq!(app.assignment_count("bob", "ReadOnly").await, 1);
    assert_eq!(
        app.stack
            .proxy
            .calls_of("CreateAccountAssignment", &acct)
            .len(),
        1,
        "created once"
    );

    // The first one expires: access stays, the second still grants it.
    app.skip_time(&h1).await;
    let out1 = app.outcome(&h1, T).await;
    assert_eq!(out1.phase, Phase::Expired);
    let t1 = app.status(&h1).await;
    assert!(
        t1.audit
            .iter()
            .any(|e| e.what.contains(&format!("still granted by {id2}"))),
        "{:?}",
        t1.audit
    );
    assert_eq!(
        app.assignment_count("bob", "ReadOnly").await,
        1,
        "the first ticket's expiry leaves access the second grants"
    );
    assert!(
        app.stack
            .proxy
            .calls_of("DeleteAccountAssignment", &acct)
            .is_empty(),
        "nothing deleted yet"
    );
    let a = app.assignment("bob", "ReadOnly").await;
    let lease = app
        .client
        .get_workflow_handle::<lease::Workflow>(lease_id(&a));
    let s: LeaseStatus = lease
        .query(lease::State, (), WorkflowQueryOptions::default())
        .await
        .expect("lease state");
    assert_eq!(s.state.owned, Ownership::Created);
    assert_eq!(s.state.holders.keys().cloned().collect::<Vec<_>>(), [id2]);

    // The second one ends: now it is deleted, and the lease is done.
    h2.execute_update(
        ticket::Relinquish,
        end_input("bob"),
        temporalio_client::WorkflowExecuteUpdateOptions::default(),
    )
    .await
    .expect("relinquish");
    assert_eq!(app.outcome(&h2, T).await.phase, Phase::Relinquished);
    assert_eq!(app.assignment_count("bob", "ReadOnly").await, 0);
    assert_eq!(
        app.stack
            .proxy
            .calls_of("DeleteAccountAssignment", &acct)
            .len(),
        1
    );
    let done = tokio::time::timeout(T, lease.get_result(WorkflowGetResultOptions::default()))
        .await
        .expect("the lease ends")
        .expect("lease result");
    assert!(done.holders.is_empty());
    assert_eq!(done.owned, Ownership::Absent);
    app.maybe_record_workflow(&lease_id(&a), "lean-lease-shared-by-two-tickets")
        .await;
    app.maybe_record_history(&h1, "generation2-lease-overlap-first")
        .await;
}

/// The last holder is told to delete; AWS acts on that deletion seconds late. A ticket whose
/// approval comes meanwhile sees the assignment still listed, yet must not share it (it is
/// about to disappear): its acquire waits until the deletion is confirmed, then creates anew.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acquire_during_the_last_holders_deletion_waits_and_creates_anew() {
    const HOLD: Duration = Duration::from_secs(8);
    let app = TestApp::new("redelete").await;
    let acct = app.account.to_string();
    let h1 = app.start(&app.request("first", "bob", "bob")).await;
    app.wait_for(&h1, T, |t| t.phase == Phase::PendingApproval)
        .await;
    app.approve(&h1, "carol").await.expect("approve first");
    app.wait_for(&h1, T, |t| t.phase == Phase::Active).await;
    let h2 = app.start(&app.request("second", "bob", "bob")).await;
    app.wait_for(&h2, T, |t| t.phase == Phase::PendingApproval)
        .await;

    app.stack.proxy.add(
        jit_devstack::Rule::new("DeleteAccountAssignment", jit_devstack::Fault::Hold(HOLD))
            .matching(&acct),
    );
    h1.execute_update(
        ticket::Relinquish,
        end_input("bob"),
        temporalio_client::WorkflowExecuteUpdateOptions::default(),
    )
    .await
    .expect("relinquish");
    // The lease has told the first ticket to delete it (and AWS holds the call back).
    let a = app.assignment("bob", "ReadOnly").await;
    let lease = app
        .client
        .get_workflow_handle::<lease::Workflow>(lease_id(&a));
    let deadline = std::time::Instant::now() + T;
    loop {
        let s: LeaseStatus = lease
            .query(lease::State, (), WorkflowQueryOptions::default())
            .await
            .expect("lease state");
        if s.state.deleting.is_some() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no deletion: {s:#?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let deleting_since = std::time::Instant::now();
    app.approve(&h2, "dave").await.expect("approve second");
    assert!(
        deleting_since.elapsed() < HOLD - Duration::from_secs(2),
        "too slow to approve while the deletion is held: the race was not exercised"
    );
    assert_eq!(
        app.assignment_count("bob", "ReadOnly").await,
        1,
        "still listed while AWS has not acted"
    );
    let t2 = app.wait_for(&h2, T, |t| t.phase == Phase::Active).await;
    assert!(
        deleting_since.elapsed() >= HOLD - Duration::from_millis(500),
        "active only after the deletion: {:?}",
        deleting_since.elapsed()
    );
    assert!(
        t2.audit
            .iter()
            .any(|e| e.what.contains("created and verified")),
        "created anew, not shared: {:?}",
        t2.audit
    );
    assert_eq!(app.outcome(&h1, T).await.phase, Phase::Relinquished);
    assert_eq!(
        app.assignment_count("bob", "ReadOnly").await,
        1,
        "the second ticket's access survives the first one's deletion"
    );
    assert_eq!(
        app.stack
            .proxy
            .calls_of("CreateAccountAssignment", &acct)
            .len(),
        2
    );
    let s: LeaseStatus = lease
        .query(lease::State, (), WorkflowQueryOptions::default())
        .await
        .expect("lease state");
    assert_eq!(s.state.owned, Ownership::Created);
    assert_eq!(
        s.state.holders.keys().cloned().collect::<Vec<_>>(),
        [h2.info().workflow_id.clone()]
    );
    // The second ticket's end deletes it for good, and the lease ends.
    app.skip_time(&h2).await;
    assert_eq!(app.outcome(&h2, T).await.phase, Phase::Expired);
    assert_eq!(app.assignment_count("bob", "ReadOnly").await, 0);
    let done = tokio::time::timeout(T, lease.get_result(WorkflowGetResultOptions::default()))
        .await
        .expect("the lease ends")
        .expect("lease result");
    assert!(done.holders.is_empty() && done.deleting.is_none());
    app.maybe_record_workflow(&lease_id(&a), "lease-acquire-waits-for-deletion")
        .await;
}

async fn reconcile(app: &TestApp, dry_run: bool, n: u32) -> ReconcileReport {
    let id = format!("reconcile-{}-{n}", app.task_queue);
    let report = app.reconcile("Developer", dry_run, &id, T).await;
    if n == 1 {
        app.maybe_record_workflow(&id, "reconcile-dry-run-finds-drift")
            .await;
    }
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_reports_orphans_and_missing_and_repairs_them_through_the_leases() {
    let (env, metrics) = crate::support::metrics_env();
    let app = TestApp::with_policy_env("reconcile", crate::support::DEFAULT_POLICY, env).await;
    // An orphan: a Developer assignment for frank that no lease holds.
    let orphan = app.assignment("frank", "Developer").await;
    app.aws
        .create_standing_assignment(&orphan)
        .await
        .expect("orphan made");
    // A missing one: bob's ticket is active, then someone deletes the assignment behind its
    // back.
    let mut req = app.request("missing", "bob", "bob");
    req.targets = vec![app.target(&app.account, "Developer")];
    let h = app.start(&req).await;
    app.wait_for(&h, T, |t| t.phase == Phase::PendingApproval)
        .await;
    app.approve(&h, "carol").await.expect("approve");
    app.wait_for(&h, T, |t| t.phase == Phase::Active).await;
    let held = app.assignment("bob", "Developer").await;
    app.aws
        .delete_assignment(&held, None, &jit_aws::NoProgress)
        .await
        .expect("deleted behind jit's back");
    assert_eq!(app.assignment_count("bob", "Developer").await, 0);

    // Dry run: reported, nothing changed.
    let r = reconcile(&app, true, 1).await;
    assert_eq!((r.orphans, r.missing), (1, 1), "{r:#?}");
    assert_eq!(r.repairs_requested, 0);
    let kinds: Vec<(String, Finding)> = r
        .drift
        .iter()
        .map(|d| (d.assignment.principal_id.to_string(), d.finding))
        .collect();
    assert!(kinds.contains(&(orphan.principal_id.to_string(), Finding::Orphan)));
    assert!(kinds.contains(&(held.principal_id.to_string(), Finding::Missing)));
    assert_eq!(app.assignment_count("frank", "Developer").await, 1);
    assert_eq!(app.assignment_count("bob", "Developer").await, 0);
    // The counts are on the worker's metrics endpoint.
    let body = crate::support::scrape_until(&metrics, |_| true).await;
    let v = |s: &str| crate::support::series_value(&body, s);
    assert_eq!(v("jit_reconcile_orphans"), Some(1.0), "{body}");
    assert_eq!(v("jit_reconcile_missing"), Some(1.0), "{body}");
    let scanned = v("jit_reconcile_last_scan_timestamp_seconds").expect("scan time");
    let now = jiff::Timestamp::now().as_second() as f64;
    assert!(
        (now - 120.0..=now + 1.0).contains(&scanned),
        "{scanned} vs {now}"
    );
    // The counts are searchable.
    let query = format!(
        "WorkflowType = 'ReconcileWorkflow' AND TaskQueue = '{}' AND JitOrphans = 1 AND JitMissing = 1",
        app.task_queue
    );
    crate::wait_listed(&app, &query).await;

    // Repair: the orphan is deleted, the missing one restored, each by its lease.
    let r = reconcile(&app, false, 2).await;
    assert_eq!((r.orphans, r.missing, r.repairs_requested), (1, 1, 2));
    let deadline = std::time::Instant::now() + T;
    while app.assignment_count("frank", "Developer").await != 0
        || app.assignment_count("bob", "Developer").await != 1
    {
        assert!(std::time::Instant::now() < deadline, "not repaired");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // And now there is nothing to report.
    let r = reconcile(&app, true, 3).await;
    assert_eq!((r.orphans, r.missing), (0, 0), "{r:#?}");
    let body = crate::support::scrape_until(&metrics, |_| true).await;
    assert_eq!(
        crate::support::series_value(&body, "jit_reconcile_orphans"),
        Some(0.0),
        "{body}"
    );
    assert_eq!(r.leases, 1);

    // The ticket's end still removes its (restored) assignment.
    app.skip_time(&h).await;
    assert_eq!(app.outcome(&h, T).await.phase, Phase::Expired);
    assert_eq!(app.assignment_count("bob", "Developer").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_keeps_the_reconcile_schedule() {
    let mut app = TestApp::with_policy_env(
        "schedule",
        crate::support::DEFAULT_POLICY,
        vec![
            (
                "JIT_RECONCILE_PERMISSION_SETS".into(),
                "Developer,Admin".into(),
            ),
            ("JIT_RECONCILE_EVERY".into(), "7m".into()),
            ("JIT_RECONCILE_DRY_RUN".into(), "true".into()),
        ],
    )
    .await;
    let _ = &mut app;
    let id = jit_worker::reconcile_schedule_id(&app.task_queue);
    let handle = app.client.get_schedule_handle(id.clone());
    let deadline = std::time::Instant::now() + T;
    let d = loop {
        match handle.describe(Default::default()).await {
            Ok(d) => break d,
            Err(e) => {
                assert!(
                    std::time::Instant::now() < deadline,
                    "no schedule {id}: {e}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    let raw = d.raw();
    let spec = raw
        .schedule
        .as_ref()
        .and_then(|s| s.spec.as_ref())
        .expect("spec");
    let every = spec.interval[0].interval.as_ref().expect("interval");
    assert_eq!(every.seconds, 420);
    match d.action() {
        temporalio_client::schedules::ScheduleDescriptionAction::StartWorkflow(w) => {
            assert_eq!(w.workflow_type(), "ReconcileWorkflow");
            assert_eq!(w.task_queue(), app.task_queue);
        }
        other => panic!("unexpected action {other:?}"),
    }
    handle.delete(Default::default()).await.expect("deleted");
}
