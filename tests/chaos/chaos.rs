//! The chaos run: overlapping self-service tickets (some expire, some are extended, some
//! relinquished early) while the worker is SIGKILLed at random points during grants,
//! extensions and revocations, the dev server is restarted with its database mid-flight, and
//! the proxy throttles, fails with 5xx, conflicts and reports an asynchronous FAILED — behind
//! AWS's own limits. Seeded (`JIT_CHAOS_SEED`), seed printed; `JIT_CHAOS_LONG=1` for a longer
//! run. Afterwards every ticket has its correct end and AWS holds exactly what it held before:
//! no orphan, nothing missing, no duplicate, and the standing assignment untouched.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::SignedDuration;
use jit_contract::reconcile;
use jit_contract::reconcile::ReconcileInput;
use jit_contract::ticket::{self, ExtendInput, TicketOutcome};
use jit_devstack::{AsyncOutcome, Fault, Rule};
use jit_domain::{AccountId, Phase};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use temporalio_client::{
    WorkflowExecuteUpdateOptions, WorkflowGetResultOptions, WorkflowStartOptions,
};

use crate::harness::{AWS, Handle, Stack, request, user};

/// The principals and permission sets tickets pick from: few keys, so tickets overlap.
const USERS: &[&str] = &["alice", "bob", "frank", "carol", "gina"];
const SETS: &[&str] = &["ReadOnly", "Developer"];
const FAILED_REASON: &str = "the account reached its IAM role quota (injected)";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Script {
    Expire,
    Extend,
    Relinquish,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Point {
    Grant,
    Extension,
    Revoke,
}

struct Plan {
    id: String,
    who: &'static str,
    ps: &'static str,
    duration: SignedDuration,
    start_after: Duration,
    script: Script,
    act_after: Duration,
}

pub async fn run() {
    let long = std::env::var("JIT_CHAOS_LONG").is_ok_and(|v| v == "1");
    let seed: u64 = std::env::var("JIT_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(7, |d| d.as_nanos() as u64)
        });
    eprintln!("chaos seed: {seed} (repeat with JIT_CHAOS_SEED={seed}; long run: JIT_CHAOS_LONG=1)");
    let mut rng = StdRng::seed_from_u64(seed);
    let (tickets, min_kills, restarts) = if long { (80, 60, 3) } else { (24, 21, 1) };

    let mut stack = Stack::start("chaos", 1, 18.0).await;
    stack.proxy.enforce(AWS);
    let account = stack.new_account("chaos").await;
    let acct = account.to_string();

    // Standing access that must never be touched.
    let standing = stack.assignment(&account, "erin", "ReadOnly").await;
    stack
        .aws
        .create_standing_assignment(&standing)
        .await
        .expect("standing");

    // The fault mix, on this account's creates and deletes.
    for (op, fault, n) in [
        ("CreateAccountAssignment", Fault::Throttle, 2),
        ("CreateAccountAssignment", Fault::ServerError, 2),
        ("CreateAccountAssignment", Fault::Conflict, 2),
        ("DeleteAccountAssignment", Fault::Throttle, 1),
        ("DeleteAccountAssignment", Fault::ServerError, 2),
        ("DeleteAccountAssignment", Fault::Conflict, 2),
        (
            "DeleteAccountAssignment",
            Fault::Async {
                polls: 2,
                outcome: AsyncOutcome::Failed("deletion failed (injected)".into()),
            },
            1,
        ),
    ] {
        stack
            .proxy
            .add(Rule::new(op, fault).matching(&acct).times(n));
    }
    // One create of gina's fails for good: that ticket must end Failed, nothing left behind.
    let gina = stack.assignment(&account, "gina", "ReadOnly").await;
    stack.proxy.add(
        Rule::new(
            "CreateAccountAssignment",
            Fault::Async {
                polls: 1,
                outcome: AsyncOutcome::Failed(FAILED_REASON.into()),
            },
        )
        .matching(gina.principal_id.as_str()),
    );

    let plans: Vec<Plan> = (0..tickets)
        .map(|i| {
            let script = match rng.random_range(0..3) {
                0 => Script::Expire,
                1 => Script::Extend,
                _ => Script::Relinquish,
            };
            Plan {
                id: format!("chaos-{seed}-{i}"),
                who: USERS[rng.random_range(0..USERS.len())],
                ps: SETS[rng.random_range(0..SETS.len())],
                // Tickets last at least a minute (the domain's floor).
                duration: SignedDuration::from_secs(rng.random_range(60..90)),
                start_after: Duration::from_millis(rng.random_range(0..(tickets as u64 * 900))),
                script,
                act_after: Duration::from_millis(rng.random_range(1000..8000)),
            }
        })
        .collect();

    // Drive every ticket in the background.
    let t0 = Instant::now();
    let mut drivers = Vec::new();
    for p in &plans {
        let req = request(&p.id, p.who, &account, p.ps, p.duration);
        let client = stack.client.clone();
        let tq = stack.task_queue.clone();
        let (start_after, script, act_after) = (p.start_after, p.script, p.act_after);
        drivers.push(tokio::spawn(async move {
            tokio::time::sleep(start_after).await;
            // Through server restarts: a start that cannot reach the server is tried again.
            let h = jit_e2e::start_ticket(&client, &req, &tq, Duration::from_secs(600)).await;
            drive(&h, script, act_after, req.requester.as_str()).await
        }));
    }
    let drivers_done = Arc::new(std::sync::atomic::AtomicBool::new(false));

    // Kill the worker at chosen points; restart the server once (or more) in the middle.
    let mut kills: BTreeMap<(Point, bool), u32> = BTreeMap::new();
    let mut restarted = 0;
    let points = [Point::Grant, Point::Extension, Point::Revoke];
    let mut k = 0;
    while k < min_kills
        || t0.elapsed()
            < plans
                .iter()
                .map(|p| p.start_after)
                .max()
                .unwrap_or_default()
    {
        let point = points[k % points.len()];
        let seen = match point {
            Point::Grant => wait_phase(&stack, Phase::Provisioning, Duration::from_secs(5)).await,
            Point::Revoke => wait_phase(&stack, Phase::Revoking, Duration::from_secs(5)).await,
            Point::Extension => extend_some(&stack, &plans, &account, &mut rng).await,
        };
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..150))).await;
        stack.kill_worker(0);
        *kills.entry((point, seen)).or_default() += 1;
        k += 1;
        tokio::time::sleep(Duration::from_millis(rng.random_range(200..1500))).await;
        if restarted < restarts && k >= (restarted + 1) * min_kills / (restarts + 1) {
            // The server goes away with the worker down, and comes back with its database.
            stack.restart_temporal().await;
            restarted += 1;
        }
        stack.start_worker(0);
        tokio::time::sleep(Duration::from_millis(rng.random_range(300..1500))).await;
    }
    let chaos_for = t0.elapsed();
    drivers_done.store(true, std::sync::atomic::Ordering::SeqCst);

    // Recovery: every ticket ends.
    let mut outcomes = Vec::new();
    let recovery = Instant::now() + Duration::from_secs(600);
    for (d, p) in drivers.into_iter().zip(&plans) {
        let o = tokio::time::timeout(recovery.saturating_duration_since(Instant::now()), d)
            .await
            .unwrap_or_else(|_| panic!("{} did not end\n{}", p.id, stack.worker_log_tail()))
            .expect("driver");
        outcomes.push(o);
    }
    // Leases finish once their last holder left.
    let deadline = Instant::now() + Duration::from_secs(120);
    while stack.running("AssignmentLease").await != 0 {
        assert!(
            Instant::now() < deadline,
            "leases still running\n{}",
            stack.worker_log_tail()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // Every ticket reached its correct end.
    let mut ends: BTreeMap<String, u32> = BTreeMap::new();
    let mut failed = Vec::new();
    for (o, p) in outcomes.iter().zip(&plans) {
        *ends.entry(format!("{:?}", o.phase)).or_default() += 1;
        match o.phase {
            Phase::Expired => {}
            Phase::Relinquished => assert_eq!(p.script, Script::Relinquish, "{}", p.id),
            Phase::Failed => failed.push((p, o)),
            other => panic!("{}: unexpected end {other:?} ({:?})", p.id, o.reason),
        }
    }
    let failed_injected = 1 - stack.proxy.unused_rules(gina.principal_id.as_str()).len();
    assert_eq!(
        failed.len(),
        failed_injected,
        "only the ticket whose create AWS failed ends Failed: {:?}",
        failed
            .iter()
            .map(|(p, o)| (&p.id, &o.reason))
            .collect::<Vec<_>>()
    );
    for (p, o) in &failed {
        assert_eq!(p.who, "gina");
        assert!(
            o.reason
                .as_deref()
                .unwrap_or_default()
                .contains(FAILED_REASON),
            "{:?}",
            o.reason
        );
    }

    // AWS holds exactly what it held before: the standing assignment, once.
    let mut left = Vec::new();
    for ps in SETS {
        let a = stack.assignment(&account, "alice", ps).await;
        for row in stack
            .aws
            .list_assignments(&a.instance_arn, &account, &a.permission_set_arn)
            .await
            .expect("list")
        {
            left.push((ps.to_string(), row.1.to_string()));
        }
    }
    assert_eq!(
        left,
        [("ReadOnly".to_string(), standing.principal_id.to_string())],
        "AWS after recovery"
    );
    // The reconciler agrees: nothing orphaned, nothing missing.
    let report = reconcile(&stack, &account).await;
    let throttled_by_limits = stack.proxy.calls().iter().filter(|c| c.limited).count();
    let summary = format!(
        "seed={seed} tickets={tickets} ends={ends:?} kills={} by_point={:?} server_restarts={restarted} \
         chaos_s={:.0} orphans={} missing={} peak_outstanding={} throttled_by_limits={throttled_by_limits} \
         faults_left={}",
        kills.values().sum::<u32>(),
        kills,
        chaos_for.as_secs_f64(),
        report.orphans,
        report.missing,
        stack.proxy.peak_outstanding(),
        stack.proxy.unused_rules(&acct).len(),
    );
    eprintln!("chaos: {summary}");
    let _ = std::fs::write(
        jit_devstack::repo_root().join(if long {
            "target/chaos-long.txt"
        } else {
            "target/chaos.txt"
        }),
        format!("{summary}\n"),
    );
    assert_eq!((report.orphans, report.missing), (0, 0), "{report:#?}");
    assert!(kills.values().sum::<u32>() >= 20);
    assert!(restarted >= 1);
    assert!(stack.proxy.peak_outstanding() <= AWS.outstanding);
}

/// Plays the ticket's script and returns its outcome, retrying through outages.
async fn drive(h: &Handle, script: Script, act_after: Duration, by: &str) -> TicketOutcome {
    if script != Script::Expire {
        // Once active, wait a little, then extend or relinquish.
        let active = wait_active(h).await;
        if active {
            tokio::time::sleep(act_after).await;
            let o = WorkflowExecuteUpdateOptions::default();
            for _ in 0..60 {
                let r = match script {
                    Script::Extend => h
                        .execute_update(
                            ticket::Extend,
                            ExtendInput {
                                by: user(by),
                                extra: SignedDuration::from_mins(1),
                                reason: Some("chaos".into()),
                            },
                            o.clone(),
                        )
                        .await
                        .map(|_| ()),
                    _ => h
                        .execute_update(
                            ticket::Relinquish,
                            jit_contract::ticket::EndInput {
                                by: user(by),
                                reason: Some("chaos".into()),
                            },
                            o.clone(),
                        )
                        .await
                        .map(|_| ()),
                };
                match r {
                    Ok(()) => break,
                    // Refused (e.g. already ended) is an answer too.
                    Err(temporalio_client::errors::WorkflowUpdateError::Failed(_)) => break,
                    Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
                }
            }
        }
    }
    loop {
        match h.get_result(WorkflowGetResultOptions::default()).await {
            Ok(o) => return o,
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

/// Waits until the ticket is active (true) or has ended (false).
async fn wait_active(h: &Handle) -> bool {
    loop {
        match h.query(ticket::Status, (), Default::default()).await {
            Ok(t) if t.phase == Phase::Active => return true,
            Ok(t) if t.phase.is_terminal() => return false,
            Ok(_) => {}
            // No worker right now, or the server is away: ask again.
            Err(_) => {
                if let Ok(d) = h.describe(Default::default()).await
                    && d.status() != temporalio_client::WorkflowExecutionStatus::Running
                {
                    return false;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn wait_phase(stack: &Stack, phase: Phase, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if stack.in_phase(phase).await > 0 {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    false
}

/// Sends an extension to some active ticket (in the background) and returns at once: the
/// kill that follows lands while it is being handled.
async fn extend_some(stack: &Stack, plans: &[Plan], account: &AccountId, rng: &mut StdRng) -> bool {
    let _ = account;
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let i = rng.random_range(0..plans.len());
        let p = &plans[i];
        let h = stack
            .client
            .get_workflow_handle::<ticket::Workflow>(format!("ticket-{}", p.id));
        let active = matches!(
            tokio::time::timeout(
                Duration::from_millis(500),
                h.query(ticket::Status, (), Default::default())
            )
            .await,
            Ok(Ok(t)) if t.phase == Phase::Active
        );
        if active {
            let by = p.who;
            tokio::spawn(async move {
                let _ = h
                    .execute_update(
                        ticket::Extend,
                        ExtendInput {
                            by: user(by),
                            extra: SignedDuration::from_mins(1),
                            reason: Some("chaos kill point".into()),
                        },
                        WorkflowExecuteUpdateOptions::default(),
                    )
                    .await;
            });
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

async fn reconcile(stack: &Stack, account: &AccountId) -> jit_contract::reconcile::ReconcileReport {
    let input = ReconcileInput {
        // ReadOnly holds the standing assignment: it is not JIT-managed here.
        permission_sets: vec!["Developer".into()],
        dry_run: true,
        accounts: vec![account.to_string()],
    };
    let h = stack
        .client
        .start_workflow(
            reconcile::Workflow,
            input,
            WorkflowStartOptions::new(stack.task_queue.clone(), "chaos-reconcile").build(),
        )
        .await
        .expect("reconcile started");
    tokio::time::timeout(
        Duration::from_secs(120),
        h.get_result(WorkflowGetResultOptions::default()),
    )
    .await
    .expect("reconcile ends")
    .expect("report")
}
