//! End-to-end tests: the real Temporal dev server, the real worker binary, the moto sandbox
//! behind the fault proxy. One stack per test binary (started on first use, on free ports);
//! each test has its own account, task queue and worker.

#![allow(unreachable_pub)]

mod api;
mod audit;
mod chat;
mod codec;
mod console;
mod defects;
mod door;
mod leases;
mod lifecycle;
mod login;
mod observability;
mod policy;
mod production;
mod replay;
mod support;
mod tls;
mod versioning;
mod web;

use std::time::Duration;

use jit_devstack::{AsyncOutcome, Fault, Rule};
use jit_domain::{EntryState, PermissionSetName, Phase};
use support::{TestApp, count, event_types};

const T: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approved_ticket_grants_then_revokes_at_expiry_with_time_skipping() {
    let app = TestApp::new("happy").await;
    let req = app.request("happy", "bob", "bob");
    let h = app.start(&req).await;

    let t = app
        .wait_for(&h, T, |t| t.phase == Phase::PendingApproval)
        .await;
    assert_eq!(t.targets.len(), 1, "evaluation resolved the target");
    assert_eq!(app.assignment_count("bob", "ReadOnly").await, 0);

    app.approve(&h, "carol").await.expect("carol may approve");
    let t = app.wait_for(&h, T, |t| t.phase == Phase::Active).await;
    assert_eq!(
        app.assignment_count("bob", "ReadOnly").await,
        1,
        "granted once"
    );
    assert_eq!(t.stack.entries().len(), 1);
    assert_eq!(t.stack.entries()[0].state, EntryState::Created);
    let (since, expires) = (t.active_since.unwrap(), t.expires_at.unwrap());
    assert_eq!(
        expires.duration_since(since),
        jiff::SignedDuration::from_hours(8)
    );

    // Operators find it by its search attributes.
    let query = format!(
        "JitStatus = 'Active' AND JitPrincipal = 'bob' AND JitAccounts = '{}' AND WorkflowId = '{}'",
        app.account,
        req.ticket_id.workflow_id()
    );
    wait_listed(&app, &query).await;

    // Eight hours pass in about a second.
    app.skip_time(&h).await;
    let out = app.outcome(&h, T).await;
    assert_eq!(out.phase, Phase::Expired, "{out:?}");
    assert_eq!(
        app.assignment_count("bob", "ReadOnly").await,
        0,
        "revoked at expiry"
    );
    let t = app.status(&h).await;
    assert!(t.stack.is_unwound());
    let trail: Vec<&str> = t.audit.iter().map(|e| e.what.as_str()).collect();
    assert!(
        trail.iter().any(|l| l.contains("carol approved")),
        "{trail:?}"
    );
    wait_listed(
        &app,
        &format!(
            "JitStatus = 'Expired' AND WorkflowId = '{}'",
            req.ticket_id.workflow_id()
        ),
    )
    .await;

    // The history is lean: no stray timers (the approval deadline cancelled, the expiry
    // fired; nobody would be told of a coming expiry, so no warning timer), one upsert per
    // phase change, no patch marker (the ticket's generation decides its features).
    let events = app.history(&h).await;
    let types = event_types(&events);
    assert_eq!(count(&types, "TIMER_STARTED"), 2, "{types:?}");
    assert_eq!(count(&types, "TIMER_CANCELED"), 1, "{types:?}");
    assert_eq!(count(&types, "TIMER_FIRED"), 1, "{types:?}");
    assert_eq!(count(&types, "MARKER_RECORDED"), 0, "{types:?}");
    // PendingApproval, Provisioning, Active, Revoking, Expired.
    assert_eq!(
        count(&types, "UPSERT_WORKFLOW_SEARCH_ATTRIBUTES"),
        5,
        "{types:?}"
    );
    // Evaluate, acquire and release the lease; no announcement (this worker has no chat, and
    // its evaluation said so), and carol's vote is checked against the directory only if it
    // came later than the directory TTL (1 s) after the evaluation.
    let activities = activity_names(&events);
    assert!(
        !activities.iter().any(|a| a == "announce"),
        "{activities:?}"
    );
    let checks = activities.iter().filter(|a| *a == "check_voter").count();
    assert!(checks <= 1, "{activities:?}");
    for a in ["evaluate", "acquire_lease", "release_lease"] {
        assert_eq!(
            activities.iter().filter(|x| *x == a).count(),
            1,
            "{a}: {activities:?}"
        );
    }
    assert_eq!(activities.len(), 3 + checks, "{activities:?}");
    let t = app.status(&h).await;
    assert_eq!(
        t.plan.as_ref().unwrap().name,
        "standard",
        "the local rules' plan applied"
    );
    // 47 events in lean-v1 (its marker and the SDK's upsert with it, the warning timer and
    // its task were 7 of them); +2 for the time-skipping events, +6 for a vote check. The
    // explicit counts above are what catch stray timers and activities.
    let most = 40 + 2 + 6 * checks;
    assert!(events.len() <= most, "{} events: {types:?}", events.len());
    eprintln!("happy path: {} history events", events.len());
    app.maybe_record_history(&h, "generation2-approved-expired")
        .await;

    // Its lease kept the books and did nothing else: started with the ticket as its first
    // holder, one release, one confirmed deletion; no activity, no timer.
    let lease_id = jit_domain::lease::lease_id(&app.assignment("bob", "ReadOnly").await);
    let lease = app
        .client
        .get_workflow_handle::<jit_contract::lease::Workflow>(lease_id.clone());
    let lease_events: Vec<_> = lease
        .fetch_history(temporalio_client::WorkflowFetchHistoryOptions::default())
        .into_events()
        .await
        .expect("lease history");
    let lease_types = event_types(&lease_events);
    assert!(activity_names(&lease_events).is_empty(), "{lease_types:?}");
    assert_eq!(count(&lease_types, "TIMER_STARTED"), 0, "{lease_types:?}");
    assert_eq!(
        count(&lease_types, "WORKFLOW_EXECUTION_UPDATE_ACCEPTED"),
        1,
        "the release (the acquire came with the start): {lease_types:?}"
    );
    assert_eq!(count(&lease_types, "WORKFLOW_EXECUTION_SIGNALED"), 1);
    assert_eq!(count(&lease_types, "WORKFLOW_EXECUTION_COMPLETED"), 1);
    assert!(lease_events.len() <= 14, "{lease_types:?}");
    app.maybe_record_workflow(&lease_id, "lean-lease-one-holder")
        .await;
}

pub(crate) async fn wait_listed(app: &TestApp, query: &str) {
    use futures::StreamExt;
    let deadline = std::time::Instant::now() + T;
    loop {
        let found = app
            .client
            .list_workflows(query, Default::default())
            .collect::<Vec<_>>()
            .await;
        if found.iter().any(Result::is_ok) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no workflow matches {query}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denied_ticket_creates_nothing() {
    let app = TestApp::new("denied").await;
    let req = app.request("denied", "bob", "bob");
    let h = app.start(&req).await;
    app.wait_for(&h, T, |t| t.phase == Phase::PendingApproval)
        .await;
    app.vote(&h, "dave", false).await.expect("dave may deny");
    let out = app.outcome(&h, T).await;
    assert_eq!(out.phase, Phase::Denied);
    let reason = out.reason.unwrap();
    assert!(
        reason.contains("dave") && reason.contains("not during the freeze"),
        "{reason}"
    );
    assert_eq!(app.assignment_count("bob", "ReadOnly").await, 0);
    assert!(
        app.stack
            .proxy
            .calls_of("CreateAccountAssignment", app.account.as_str())
            .is_empty(),
        "nothing was even attempted"
    );
    app.maybe_record_history(&h, "denied").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_approval_is_refused_synchronously_and_leaves_no_trace() {
    let app = TestApp::new("selfapprove").await;
    // carol (sre) asks on behalf of bob (engineers): the local rules allow it.
    let req = app.request("self", "carol", "bob");
    let h = app.start(&req).await;
    app.wait_for(&h, T, |t| t.phase == Phase::PendingApproval)
        .await;

    let e = app.approve(&h, "carol").await.unwrap_err();
    assert!(
        e.contains("carol is the requester of this ticket and cannot approve"),
        "{e}"
    );
    let e = app.approve(&h, "bob").await.unwrap_err();
    assert!(e.contains("bob is the principal"), "{e}");
    let e = app.approve(&h, "erin").await.unwrap_err();
    assert!(
        e.contains("erin is not an approver of step sre (approvers: carol, dave)"),
        "{e}"
    );

    // A refused update is not written to history; the ticket still waits.
    let t = app.status(&h).await;
    assert_eq!(t.phase, Phase::PendingApproval);
    assert!(t.approval.as_ref().unwrap().votes.is_empty());
    let types = event_types(&app.history(&h).await);
    assert_eq!(
        count(&types, "WORKFLOW_EXECUTION_UPDATE_ACCEPTED"),
        0,
        "{types:?}"
    );

    // The same through a signal is ignored, with a line in the audit trail.
    app.approve_by_signal(&h, "carol").await;
    let t = app
        .wait_for(&h, T, |t| {
            t.audit
                .iter()
                .any(|e| e.what.contains("vote ignored") && e.what.contains("carol"))
        })
        .await;
    assert_eq!(t.phase, Phase::PendingApproval);

    // A real approver still can; a second vote cannot.
    app.approve(&h, "dave").await.expect("dave may approve");
    app.wait_for(&h, T, |t| t.phase == Phase::Active).await;
    let e = app.approve(&h, "erin").await.unwrap_err();
    assert!(e.contains("not waiting for approval"), "{e}");
    app.skip_time(&h).await;
    assert_eq!(app.outcome(&h, T).await.phase, Phase::Expired);
    assert_eq!(app.assignment_count("bob", "ReadOnly").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asynchronous_failed_ends_the_ticket_failed_with_aws_reason() {
    let app = TestApp::new("asyncfail").await;
    let reason = "Received a 400 status error: Service Quota exceeded: 1000 roles in account";
    app.stack.proxy.add(
        Rule::new(
            "CreateAccountAssignment",
            Fault::Async {
                polls: 3,
                outcome: AsyncOutcome::Failed(reason.into()),
            },
        )
        .matching(app.account.as_str()),
    );
    let req = app.request("fail", "bob", "bob");
    let h = app.start(&req).await;
    app.wait_for(&h, T, |t| t.phase == Phase::PendingApproval)
        .await;
    app.approve(&h, "carol").await.expect("approve");
    let out = app.outcome(&h, T).await;
    assert_eq!(out.phase, Phase::Failed, "{out:?}");
    let r = out.reason.unwrap();
    assert!(r.contains(reason) && r.contains("FAILED"), "{r}");
    assert_eq!(
        app.assignment_count("bob", "ReadOnly").await,
        0,
        "nothing left"
    );
    let t = app.status(&h).await;
    assert!(t.stack.is_unwound(), "{:?}", t.stack);
    // Polled until FAILED (3 x IN_PROGRESS, then FAILED), and not retried: FAILED is final.
    let creates = app
        .stack
        .proxy
        .calls_of("CreateAccountAssignment", app.account.as_str());
    assert_eq!(creates.len(), 1);
    let request_id = creates[0].request_id.clone().expect("made asynchronous");
    let polls = app
        .stack
        .proxy
        .calls_of("DescribeAccountAssignmentCreationStatus", &request_id);
    assert_eq!(polls.len(), 4, "{polls:?}");
    app.maybe_record_history(&h, "async-failed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_conflicts_and_slow_aws_during_grant_and_revoke_are_survived() {
    let app = TestApp::new("throttle").await;
    let acct = app.account.as_str();
    let proxy = &app.stack.proxy;
    // More throttling than the SDK's own three attempts absorb: the activity retries too.
    proxy.add(
        Rule::new("CreateAccountAssignment", Fault::Throttle)
            .matching(acct)
            .times(4),
    );
    proxy.add(
        Rule::new("ListAccountAssignments", Fault::ServerError)
            .matching(acct)
            .times(2),
    );
    proxy.add(
        Rule::new(
            "CreateAccountAssignment",
            Fault::Async {
                polls: 5,
                outcome: AsyncOutcome::Succeeded,
            },
        )
        .matching(acct),
    );
    proxy.add(
        Rule::new("DeleteAccountAssignment", Fault::Throttle)
            .matching(acct)
            .times(4),
    );
    proxy.add(
        Rule::new("DeleteAccountAssignment", Fault::Conflict)
            .matching(acct)
            .times(2),
    );
    proxy.add(
        Rule::new(
            "DeleteAccountAssignment",
            Fault::Async {
                polls: 4,
                outcome: AsyncOutcome::Succeeded,
            },
        )
        .matching(acct),
    );

    let req = app.request("throttle", "bob", "bob");
    let h = app.start(&req).await;
    app.wait_for(&h, T, |t| t.phase == Phase::PendingApproval)
        .await;
    app.approve(&h, "carol").await.expect("approve");
    app.wait_for(&h, T, |t| t.phase == Phase::Active).await;
    assert_eq!(
        app.assignment_count("bob", "ReadOnly").await,
        1,
        "exactly one"
    );
    app.skip_time(&h).await;
    let out = app.outcome(&h, Duration::from_secs(120)).await;
    assert_eq!(out.phase, Phase::Expired, "{out:?}");
    assert_eq!(app.assignment_count("bob", "ReadOnly").await, 0);
    assert!(
        proxy.unused_rules(acct).is_empty(),
        "every fault was hit: {:?}",
        proxy.unused_rules(acct)
    );
    let throttled = proxy
        .calls_of("CreateAccountAssignment", acct)
        .iter()
        .filter(|c| c.status == 400)
        .count();
    assert_eq!(throttled, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_killed_after_aws_created_the_assignment_recovers_without_leaking() {
    let mut app = TestApp::new("crash").await;
    let acct = app.account.as_str().to_owned();
    // AWS creates the assignment, but the answer is held back: the worker dies before it
    // hears of it.
    app.stack.proxy.add(
        Rule::new(
            "CreateAccountAssignment",
            Fault::Delay(Duration::from_secs(30)),
        )
        .matching(&acct),
    );
    let req = app.request("crash", "bob", "bob");
    let h = app.start(&req).await;
    app.wait_for(&h, T, |t| t.phase == Phase::PendingApproval)
        .await;
    app.approve(&h, "carol").await.expect("approve");

    let deadline = std::time::Instant::now() + T;
    while app
        .stack
        .proxy
        .calls_of("CreateAccountAssignment", &acct)
        .is_empty()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "create never reached AWS"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        app.assignment_count("bob", "ReadOnly").await,
        1,
        "AWS acted"
    );
    let t = app.status(&h).await;
    assert_eq!(
        t.stack.entries()[0].state,
        EntryState::Intended,
        "intent recorded first"
    );
    app.kill_worker();

    app.start_worker();
    let t = app.wait_for(&h, T, |t| t.phase == Phase::Active).await;
    assert!(
        !t.targets[0].standing,
        "our own grant is never mistaken for standing access"
    );
    assert_eq!(t.stack.entries()[0].state, EntryState::Created);
    assert_eq!(
        app.assignment_count("bob", "ReadOnly").await,
        1,
        "no duplicate"
    );
    assert_eq!(
        app.stack
            .proxy
            .calls_of("CreateAccountAssignment", &acct)
            .len(),
        1,
        "the retry found the assignment and did not create it again"
    );
    app.skip_time(&h).await;
    assert_eq!(app.outcome(&h, T).await.phase, Phase::Expired);
    assert_eq!(
        app.assignment_count("bob", "ReadOnly").await,
        0,
        "nothing leaked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standing_access_is_never_touched() {
    let app = TestApp::new("standing").await;
    let a = app.assignment("bob", "ReadOnly").await;
    app.aws
        .create_standing_assignment(&a)
        .await
        .expect("standing");
    let req = app.request("standing", "bob", "bob");
    let h = app.start(&req).await;
    app.wait_for(&h, T, |t| t.phase == Phase::PendingApproval)
        .await;
    app.approve(&h, "carol").await.expect("approve");
    let t = app.wait_for(&h, T, |t| t.phase == Phase::Active).await;
    assert!(t.targets[0].standing);
    assert!(t.leased, "held through the assignment's lease");
    assert!(
        t.audit.iter().any(|e| e
            .what
            .contains("standing access): nothing created, nothing will be removed")),
        "the ticket says so: {:?}",
        t.audit
    );
    app.skip_time(&h).await;
    assert_eq!(app.outcome(&h, T).await.phase, Phase::Expired);
    assert_eq!(
        app.assignment_count("bob", "ReadOnly").await,
        1,
        "still there"
    );
    assert!(
        app.stack
            .proxy
            .calls_of("DeleteAccountAssignment", app.account.as_str())
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_deadline_expires_the_ticket_unapproved() {
    let app = TestApp::new("deadline").await;
    let req = app.request("deadline", "bob", "bob");
    let h = app.start(&req).await;
    app.wait_for(&h, T, |t| t.phase == Phase::PendingApproval)
        .await;
    // Nothing in flight: the one-hour deadline is skipped at once.
    app.skip_time(&h).await;
    let out = app.outcome(&h, T).await;
    assert_eq!(out.phase, Phase::ApprovalExpired);
    assert!(out.reason.unwrap().contains("nobody approved within 24h"));
    assert_eq!(app.assignment_count("bob", "ReadOnly").await, 0);
    app.maybe_record_history(&h, "approval-expired").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unresolvable_requests_are_rejected_with_the_field_named() {
    let mut app = TestApp::new("rejected").await;
    let mut cases = Vec::new();

    let mut r = app.request("nouser", "nobody-here", "nobody-here");
    let h = app.start(&r).await;
    cases.push((h, "requester: nobody-here is not a user"));

    r = app.request("behalf", "alice", "bob");
    let h = app.start(&r).await;
    cases.push((
        h,
        "principal: alice may not ask for access on behalf of bob: no on-behalf rule allows alice (groups: engineers)",
    ));

    // Outside eligibility: engineers may not ask for Admin (the policy says which rule is
    // missing).
    r = app.request("inelig", "bob", "bob");
    r.targets[0].permission_set = PermissionSetName::parse("Admin").unwrap();
    let h = app.start(&r).await;
    cases.push((h, "): no eligibility rule allows bob (groups: engineers)"));

    r = app.request("nops", "bob", "bob");
    r.targets[0].permission_set = PermissionSetName::parse("NoSuchSet").unwrap();
    let h = app.start(&r).await;
    cases.push((
        h,
        "permission_set: there is no permission set called NoSuchSet",
    ));

    r = app.request("noacct", "bob", "bob");
    r.targets[0].account = jit_domain::AccountId::parse("999999999999").unwrap();
    let h = app.start(&r).await;
    cases.push((
        h,
        "account: 999999999999 is not an account of this organization",
    ));

    r = app.request("toolong", "bob", "bob");
    r.duration = jiff::SignedDuration::from_hours(13);
    let h = app.start(&r).await;
    cases.push((h, "duration: 13h is longer than the maximum of 12h"));

    for (h, expected) in &cases {
        let out = app.outcome(h, T).await;
        assert_eq!(out.phase, Phase::Rejected, "{out:?}");
        let reason = out.reason.unwrap();
        assert!(
            reason.contains(expected),
            "{reason:?} should contain {expected:?}"
        );
    }
    // A fresh worker (nothing cached) replays each ended ticket to answer a query: the
    // histories of tickets rejected at evaluation replay (the chaos run found they did not).
    app.kill_worker();
    app.start_worker();
    for (h, _) in &cases {
        let t = tokio::time::timeout(
            T,
            h.query(jit_contract::ticket::Status, (), Default::default()),
        )
        .await
        .expect("answered")
        .expect("the ended ticket replays for the query");
        assert_eq!(t.phase, Phase::Rejected);
    }
    app.maybe_record_history(&cases[0].0, "ticket-rejected-at-evaluation")
        .await;
    assert!(
        app.stack
            .proxy
            .calls_of("CreateAccountAssignment", app.account.as_str())
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_id_is_never_started_twice() {
    let app = TestApp::new("dupe").await;
    let req = app.request("dupe", "bob", "bob");
    let _h = app.start(&req).await;
    let again = app
        .client
        .start_workflow(
            jit_contract::ticket::Workflow,
            req.clone().into(),
            jit_temporal::ticket_start_options(&req, &app.task_queue),
        )
        .await;
    let e = again.err().expect("a second start is refused");
    assert!(format!("{e:#}").to_lowercase().contains("already"), "{e:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_an_active_ticket_revokes_now() {
    let app = TestApp::new("cancel").await;
    let req = app.request("cancel", "bob", "bob");
    let h = app.start(&req).await;
    app.wait_for(&h, T, |t| t.phase == Phase::PendingApproval)
        .await;
    app.approve(&h, "carol").await.expect("approve");
    app.wait_for(&h, T, |t| t.phase == Phase::Active).await;
    // Make the revocation slow and conflicted: cancellation must not abandon it.
    app.stack.proxy.add(
        Rule::new("DeleteAccountAssignment", Fault::Conflict)
            .matching(app.account.as_str())
            .times(2),
    );
    h.cancel(Default::default()).await.expect("cancel");
    let out = app.outcome(&h, T).await;
    assert_eq!(out.phase, Phase::Revoked, "{out:?}");
    assert_eq!(app.assignment_count("bob", "ReadOnly").await, 0);
    app.maybe_record_history(&h, "cancelled-while-active").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_shuts_down_gracefully_and_a_new_one_takes_over() {
    let mut app = TestApp::new("sigterm").await;
    let req = app.request("sigterm", "bob", "bob");
    let h = app.start(&req).await;
    app.wait_for(&h, T, |t| t.phase == Phase::PendingApproval)
        .await;
    let status = app.terminate_worker(Duration::from_secs(20)).await;
    assert!(status.success(), "clean exit on SIGTERM: {status}");
    assert!(app.worker_log_text().contains("shutting down"));
    // The ticket lives in the server, not the worker: a new worker carries on.
    app.start_worker();
    app.approve(&h, "carol").await.expect("approve");
    app.wait_for(&h, T, |t| t.phase == Phase::Active).await;
    assert_eq!(app.assignment_count("bob", "ReadOnly").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_deletion_is_deleted_again_not_polled_forever() {
    let app = TestApp::new("delfailed").await;
    let acct = app.account.to_string();
    app.stack.proxy.add(
        Rule::new(
            "DeleteAccountAssignment",
            Fault::Async {
                polls: 1,
                outcome: AsyncOutcome::Failed("deletion failed (test)".into()),
            },
        )
        .matching(&acct),
    );
    let req = app.request("delfailed", "bob", "bob");
    let h = app.start(&req).await;
    app.wait_for(&h, T, |t| t.phase == Phase::PendingApproval)
        .await;
    app.approve(&h, "carol").await.expect("approve");
    app.wait_for(&h, T, |t| t.phase == Phase::Active).await;
    app.skip_time(&h).await;
    assert_eq!(app.outcome(&h, T).await.phase, Phase::Expired);
    assert_eq!(app.assignment_count("bob", "ReadOnly").await, 0);
    assert_eq!(
        app.stack
            .proxy
            .calls_of("DeleteAccountAssignment", &acct)
            .len(),
        2,
        "the FAILED deletion was followed by a new one"
    );
}

/// The activity types a history scheduled, in order.
fn activity_names(
    events: &[temporalio_common::protos::temporal::api::history::v1::HistoryEvent],
) -> Vec<String> {
    use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;
    events
        .iter()
        .filter_map(|e| match &e.attributes {
            Some(Attributes::ActivityTaskScheduledEventAttributes(a)) => {
                a.activity_type.as_ref().map(|t| t.name.clone())
            }
            _ => None,
        })
        .collect()
}
