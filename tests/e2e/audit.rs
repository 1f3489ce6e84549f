//! Session audit, audit records and session cut-off, against the sandbox's S3 and
//! Organizations: trail files written in CloudTrail's format with decoys, two tickets in one
//! account expiring together, and what each left behind — the summary in the ticket, the
//! attributed events and the record in the audit bucket, `jit audit export`, the live look
//! through the API, the cut-off policy and its removal.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use jit_contract::audit;
use jit_domain::{AuditRecord, Phase};
use jit_e2e::trail::{self, Actor};
use jit_proto::v1 as pb;
use serde_json::Value;
use temporalio_client::{WorkflowGetResultOptions, WorkflowQueryOptions};

use crate::api::{ApiServer, as_user};
use crate::support::{DEFAULT_POLICY, TestApp};

const T: Duration = Duration::from_secs(90);

/// Buckets of this test's own (names S3 accepts).
fn buckets(tag: &str) -> (String, String) {
    let n = Timestamp::now().as_nanosecond() % 1_000_000_000;
    (format!("trail-{tag}-{n}"), format!("audit-{tag}-{n}"))
}

fn minutes(t: Timestamp, m: i64) -> Timestamp {
    t.checked_add(SignedDuration::from_mins(m)).unwrap()
}

fn seconds(t: Timestamp, s: i64) -> Timestamp {
    t.checked_add(SignedDuration::from_secs(s)).unwrap()
}

/// The eventIDs of records.
fn ids(records: &[Value]) -> BTreeSet<String> {
    records
        .iter()
        .map(|r| r["eventID"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_audited_recorded_exported_and_cut_off_at_revocation() {
    let stack = jit_devstack::TestStack::shared();
    let sandbox = jit_e2e::sandbox(&stack.sandbox_url, &stack.region).await;
    let (trail_bucket, audit_bucket) = buckets("sess");
    sandbox
        .create_bucket(&trail_bucket, false)
        .await
        .expect("trail bucket");
    sandbox
        .create_bucket(&audit_bucket, true)
        .await
        .expect("audit bucket, with Object Lock");
    let env = vec![
        ("JIT_AUDIT_BUCKET".to_owned(), audit_bucket.clone()),
        ("JIT_AUDIT_RETENTION".to_owned(), "24h".to_owned()),
        ("JIT_TRAIL_BUCKET".to_owned(), trail_bucket.clone()),
        ("JIT_TRAIL_REGIONS".to_owned(), stack.region.clone()),
        ("JIT_TRAIL_DELAY".to_owned(), "10m".to_owned()),
        ("JIT_SESSION_CUTOFF".to_owned(), "true".to_owned()),
    ];
    let app = TestApp::with_policy_env("sessions", DEFAULT_POLICY, env).await;
    let org = app.aws.organization_id().await.expect("organization");
    let account = app.account.to_string();

    // Two tickets in one account: bob's (audited closely) and alice's (revoked with it).
    let hb = app.start(&app.request("bob", "bob", "bob")).await;
    let ha = app.start(&app.request("alice", "alice", "alice")).await;
    for h in [&hb, &ha] {
        app.wait_for(h, T, |t| t.phase == Phase::PendingApproval)
            .await;
        app.approve(h, "carol").await.expect("approve");
    }
    let tb = app.wait_for(&hb, T, |t| t.phase == Phase::Active).await;
    app.wait_for(&ha, T, |t| t.phase == Phase::Active).await;
    let a = tb.active_since.expect("active");

    // What bob does with the access (attributed), and what is not his ticket's (decoys).
    let role = |ps: &str, session: &str, account: &str, issued: Timestamp| Actor {
        account: account.to_owned(),
        permission_set: ps.to_owned(),
        suffix: "0123456789abcdef".to_owned(),
        session: session.to_owned(),
        issued,
    };
    // (Seconds after activation: the live look below reads up to now.)
    let bob = role("ReadOnly", "bob", &account, seconds(a, 2));
    let bob_mail = role("ReadOnly", "bob@example.com", &account, seconds(a, 5));
    let attributed = vec![
        bob.federation(),
        bob.console_login(seconds(a, 3)),
        bob.call(seconds(a, 4), "s3", "ListBuckets", true, None),
        bob.call(seconds(a, 5), "iam", "CreateUser", false, None),
        bob.call(
            seconds(a, 6),
            "ec2",
            "TerminateInstances",
            false,
            Some("AccessDenied"),
        ),
        bob_mail.call(seconds(a, 7), "s3", "GetObject", true, None),
    ];
    let decoys = vec![
        role("ReadOnly", "alice", &account, minutes(a, 1)).call(
            minutes(a, 2),
            "iam",
            "CreateRole",
            false,
            None,
        ),
        role("Admin", "bob", &account, minutes(a, 1)).call(
            minutes(a, 2),
            "iam",
            "DeleteRole",
            false,
            None,
        ),
        role("ReadOnly_Extra", "bob", &account, minutes(a, 1)).call(
            minutes(a, 2),
            "s3",
            "ListBuckets",
            true,
            None,
        ),
        role("ReadOnly", "bob", "999999999999", minutes(a, 1)).call(
            minutes(a, 2),
            "s3",
            "ListBuckets",
            true,
            None,
        ),
        // A session issued before the access (someone else's grant), used during it.
        role("ReadOnly", "bob", &account, minutes(a, -30)).call(
            minutes(a, 3),
            "s3",
            "ListBuckets",
            true,
            None,
        ),
        // A session of a later grant (issued after this access ended, 8 h in).
        role("ReadOnly", "bob", &account, minutes(a, 9 * 60)).call(
            minutes(a, 9 * 60 + 5),
            "kms",
            "Decrypt",
            true,
            None,
        ),
        // Before the access began.
        role("ReadOnly", "bob", &account, minutes(a, -90)).call(
            minutes(a, -60),
            "s3",
            "ListBuckets",
            true,
            None,
        ),
        trail::iam_user_call(&account, minutes(a, 2), "PutObject"),
    ];
    // A record of bob's role that does not parse (its name is not text).
    let mut broken = bob.call(seconds(a, 8), "s3", "ListBuckets", true, None);
    broken["eventName"] = serde_json::json!(7);
    // Files by the day their records fall on, every record in order of time.
    let mut all: Vec<Value> = attributed.iter().chain(&decoys).cloned().collect();
    all.push(broken);
    let mut by_key: std::collections::BTreeMap<String, Vec<Value>> = Default::default();
    for (n, r) in all.into_iter().enumerate() {
        let at: Timestamp = r["eventTime"].as_str().unwrap().parse().unwrap();
        let acct = r["recipientAccountId"].as_str().unwrap().to_owned();
        by_key
            .entry(trail::key(
                &org,
                &acct,
                &stack.region,
                at,
                u32::try_from(n % 2).unwrap(),
            ))
            .or_default()
            .push(r);
    }
    for (key, records) in &by_key {
        sandbox
            .put_object(
                &trail_bucket,
                key,
                trail::file(records),
                "application/gzip",
                None,
            )
            .await
            .expect("log file");
    }
    // A truncated file and one that is not a log file at all.
    let whole = trail::file(&[bob.call(minutes(a, 8), "s3", "ListBuckets", true, None)]);
    let truncated = trail::key(&org, &account, &stack.region, minutes(a, 8), 7);
    sandbox
        .put_object(
            &trail_bucket,
            &truncated,
            whole[..whole.len() / 2].to_vec(),
            "application/gzip",
            None,
        )
        .await
        .expect("truncated");
    let garbage = trail::key(&org, &account, &stack.region, minutes(a, 8), 8);
    sandbox
        .put_object(
            &trail_bucket,
            &garbage,
            b"not a log file".to_vec(),
            "text/plain",
            None,
        )
        .await
        .expect("garbage");

    // While access is active, an approver looks through the API (once the events are past).
    while Timestamp::now() < seconds(a, 10) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let api = ApiServer::start(&app, true, None).await;
    let mut c = api.client().await;
    let live = c
        .get_session_events(as_user(
            "dev:carol",
            pb::GetSessionEventsRequest {
                ticket_id: tb.request.ticket_id.to_string(),
                page_size: 3,
            },
        ))
        .await
        .expect("carol may look")
        .into_inner();
    let live_summary = live.summary.expect("summary");
    assert_eq!(live_summary.events, 6, "{}", live_summary.line);
    assert_eq!(live.events.len(), 3, "the latest three");
    let refused = c
        .get_session_events(as_user(
            "dev:alice",
            pb::GetSessionEventsRequest {
                ticket_id: tb.request.ticket_id.to_string(),
                page_size: 3,
            },
        ))
        .await
        .expect_err("another requester may not");
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);

    // Both expire at once: two revocations, two cut-offs on one account's policy.
    app.skip_time(&hb).await;
    app.skip_time(&ha).await;
    let deadline = std::time::Instant::now() + T;
    let statements = loop {
        let policies = sandbox.cutoff_policies(&account).await.expect("policies");
        let st: Vec<Value> = policies
            .iter()
            .flat_map(|p| jit_trail::cutoff::statements(&p.content))
            .collect();
        if st.len() == 2 {
            break st;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "cut-offs: {policies:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let users: BTreeSet<String> = statements
        .iter()
        .flat_map(|s| {
            s["Condition"]["StringLike"]["aws:userid"]
                .as_array()
                .unwrap()
                .clone()
        })
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        users,
        [
            "*:alice",
            "*:alice@example.com",
            "*:bob",
            "*:bob@example.com"
        ]
        .into_iter()
        .map(String::from)
        .collect(),
        "exactly the two principals' sessions, none lost"
    );
    for s in &statements {
        assert_eq!(s["Effect"], "Deny");
        assert_eq!(
            s["Condition"]["ArnLike"]["aws:PrincipalArn"],
            format!(
                "arn:aws:iam::{account}:role/aws-reserved/sso.amazonaws.com/*AWSReservedSSO_ReadOnly_????????????????"
            )
        );
        let before: Timestamp = s["Condition"]["DateLessThan"]["aws:TokenIssueTime"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(before > a && before <= Timestamp::now(), "{s}");
    }

    // Bob's ticket: the summary, built after the delivery delay (skipped), in its status.
    let out = app.outcome(&hb, T).await;
    assert_eq!(out.phase, Phase::Expired);
    let t = app.status(&hb).await;
    let s = t.session.clone().expect("session summary");
    assert_eq!(s.events, 6, "{}", s.line());
    assert_eq!(
        s.by_service
            .iter()
            .map(|(k, v)| (k.as_str(), *v))
            .collect::<Vec<_>>(),
        [("ec2", 1), ("iam", 1), ("s3", 2), ("signin", 1), ("sts", 1)]
    );
    assert_eq!(s.notable, ["iam:CreateUser"]);
    assert_eq!((s.denied, s.console_sign_ins), (1, 1));
    assert_eq!(s.unparsable_records, 1, "{}", s.line());
    assert_eq!(s.unreadable.len(), 2, "{:?}", s.unreadable);
    assert!(s.unreadable.iter().any(|u| u.starts_with(&truncated)));
    assert!(s.unreadable.iter().any(|u| u.starts_with(&garbage)));
    assert!(s.line().contains("2 files unreadable"), "{}", s.line());
    // Every attributed event, as CloudTrail wrote it, in the audit bucket; no decoy.
    let events_key = format!("sessions/{}.jsonl", tb.request.ticket_id);
    assert_eq!(
        s.events_at.as_deref(),
        Some(format!("s3://{audit_bucket}/{events_key}").as_str())
    );
    let lines = sandbox
        .get_object(&audit_bucket, &events_key)
        .await
        .expect("event list");
    let written: Vec<Value> = String::from_utf8(lines)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(ids(&written), ids(&attributed));
    assert!(ids(&written).is_disjoint(&ids(&decoys)));

    // The ticket's record: who had what, approved by whom, and the summary.
    let record_key = AuditRecord::of(&t).key("");
    let bytes = sandbox
        .get_object(&audit_bucket, &record_key)
        .await
        .expect("audit record");
    let record: AuditRecord = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(record.schema, jit_domain::AUDIT_SCHEMA);
    assert_eq!(record.outcome, Phase::Expired);
    assert_eq!(record.principal, "user:bob");
    let votes = &record.plan.as_ref().expect("plan").votes;
    assert_eq!(
        (votes[0].voter.as_str(), votes[0].cast_by.as_str()),
        ("carol", "carol")
    );
    assert_eq!(record.session.as_ref(), Some(&s));
    assert!(record.policy_hash.is_some() && !record.policy_decisions.is_empty());
    assert!(
        t.audit
            .iter()
            .any(|e| e.what.starts_with("audit record written: s3://")),
        "{:?}",
        t.audit
    );
    assert_eq!(app.outcome(&ha, T).await.phase, Phase::Expired);

    // `jit audit export` prints both records, as JSON lines. (The tickets ended 8 hours on,
    // by the skipped clock: the period runs to that day.)
    let today = Timestamp::now().strftime("%Y-%m-%d").to_string();
    let last = record
        .ended_at
        .unwrap()
        .checked_add(SignedDuration::from_hours(24))
        .unwrap()
        .strftime("%Y-%m-%d")
        .to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_e2e-jit"))
        .args(["audit", "export", "--since", &today, "--until", &last])
        .args(["--bucket", &audit_bucket])
        .args([
            "--endpoint-url",
            &stack.sandbox_url,
            "--region",
            &stack.region,
        ])
        .env("AWS_ACCESS_KEY_ID", "sandbox")
        .env("AWS_SECRET_ACCESS_KEY", "sandbox")
        .output()
        .expect("jit runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let exported: Vec<AuditRecord> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let exported_ids: BTreeSet<&str> = exported.iter().map(|r| r.ticket_id.as_str()).collect();
    let want: BTreeSet<String> = [&hb, &ha]
        .iter()
        .map(|h| {
            h.info()
                .workflow_id
                .trim_start_matches("ticket-")
                .to_owned()
        })
        .collect();
    assert_eq!(
        exported_ids,
        want.iter().map(String::as_str).collect(),
        "both tickets' records"
    );

    // The cut-off lasts as long as a session of the permission set can (1 h): then the
    // account's entity removes the policy and ends.
    let cutoff = app
        .client
        .get_workflow_handle::<audit::CutoffWorkflow>(audit::cutoff_id(&account));
    let state: audit::CutoffInput = cutoff
        .query(audit::CutoffState, (), WorkflowQueryOptions::default())
        .await
        .expect("cut-off state");
    assert_eq!(state.documents.len(), 1, "one policy holds both");
    jit_devstack::temporal_client::enable_time_skipping(
        &app.client,
        &stack.namespace,
        &audit::cutoff_id(&account),
    )
    .await
    .expect("time skipping");
    tokio::time::timeout(T, cutoff.get_result(WorkflowGetResultOptions::default()))
        .await
        .expect("the cut-off entity ends")
        .expect("result");
    assert!(
        sandbox
            .cutoff_policies(&account)
            .await
            .expect("policies")
            .is_empty(),
        "the expired cut-off was removed"
    );
    app.maybe_record_history(&hb, "session-audit-and-export")
        .await;
    app.maybe_record_workflow(
        &audit::cutoff_id(&account),
        "session-cutoff-two-revocations",
    )
    .await;
}

/// A trail bucket that does not exist: the summary says so in one line; the ticket ends as
/// it should and its record is still written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_trail_bucket_is_a_line_in_the_summary_never_a_failed_ticket() {
    let stack = jit_devstack::TestStack::shared();
    let sandbox = jit_e2e::sandbox(&stack.sandbox_url, &stack.region).await;
    let (trail_bucket, audit_bucket) = buckets("gone");
    sandbox
        .create_bucket(&audit_bucket, false)
        .await
        .expect("audit bucket");
    let env = vec![
        ("JIT_AUDIT_BUCKET".to_owned(), audit_bucket.clone()),
        ("JIT_TRAIL_BUCKET".to_owned(), trail_bucket),
        ("JIT_TRAIL_REGIONS".to_owned(), stack.region.clone()),
        ("JIT_TRAIL_DELAY".to_owned(), "1m".to_owned()),
    ];
    let app = TestApp::with_policy_env("nobucket", DEFAULT_POLICY, env).await;
    let h = app.start(&app.request("bob", "bob", "bob")).await;
    app.wait_for(&h, T, |t| t.phase == Phase::PendingApproval)
        .await;
    app.approve(&h, "carol").await.expect("approve");
    app.wait_for(&h, T, |t| t.phase == Phase::Active).await;
    app.skip_time(&h).await;
    assert_eq!(app.outcome(&h, T).await.phase, Phase::Expired);
    let t = app.status(&h).await;
    let s = t.session.expect("a summary, saying what went wrong");
    assert_eq!(s.events, 0);
    assert_eq!(s.unreadable.len(), 1, "{:?}", s.unreadable);
    assert!(
        s.unreadable[0].contains("NoSuchBucket"),
        "{:?}",
        s.unreadable
    );
    assert!(s.line().contains("1 file unreadable"), "{}", s.line());
    assert_eq!(app.assignment_count("bob", "ReadOnly").await, 0);
}

/// A cut-off statement left in a policy after it expired (its entity stopped before pruning):
/// reconcile finds it from the statement itself and has the account's entity remove it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_finds_an_expired_cutoff_left_behind_and_has_it_pruned() {
    let env = vec![("JIT_SESSION_CUTOFF".to_owned(), "true".to_owned())];
    let app = TestApp::with_policy_env("stalecut", DEFAULT_POLICY, env).await;
    let account = app.account.to_string();
    let now = Timestamp::now();
    let stale = jit_domain::Cutoff {
        account: account.clone(),
        permission_set: "ReadOnly".into(),
        sessions: vec!["bob".into()],
        before: minutes(now, -120),
        until: minutes(now, -60),
    };
    let doc = jit_trail::cutoff::document(&[jit_trail::cutoff::statement(&stale)]);
    app.aws
        .write_cutoff_policies(&account, &[doc])
        .await
        .expect("a policy left behind");
    assert_eq!(app.aws.cutoff_policies(&account).await.unwrap().len(), 1);

    let id = format!("reconcile-{}", app.task_queue);
    let report = app.reconcile("ReadOnly", false, &id, T).await;
    assert_eq!(report.stale_cutoffs, vec![account.clone()]);
    let deadline = std::time::Instant::now() + T;
    while !app.aws.cutoff_policies(&account).await.unwrap().is_empty() {
        assert!(std::time::Instant::now() < deadline, "not pruned");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
