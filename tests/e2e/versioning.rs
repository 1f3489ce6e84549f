//! Worker Versioning on the dev server: tickets started on build A keep working when build B
//! is made current with the `temporal` CLI and A is stopped (every workflow type is
//! Auto-Upgrade: it moves to B at its next workflow task), and new tickets run on B. The
//! histories say which build completed each workflow task.

use std::time::{Duration, Instant};

use jit_contract::ticket::{self, EndInput};
use jit_domain::Phase;
use temporalio_client::WorkflowExecuteUpdateOptions;
use temporalio_common::protos::temporal::api::enums::v1::VersioningBehavior;
use temporalio_common::protos::temporal::api::history::v1::HistoryEvent;
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;

use crate::support::{Handle, TestApp, user};

const T: Duration = Duration::from_secs(60);

/// `temporal worker deployment <args>` against the test stack, retried while the version is
/// not known yet (a version appears when its workers first poll).
fn deployment_cli(app: &TestApp, args: &[&str]) -> String {
    let s = app.stack;
    let deadline = Instant::now() + T;
    loop {
        let out = std::process::Command::new(&s.tools.temporal)
            .args(["worker", "deployment"])
            .args(args)
            .args([
                "--address",
                s.temporal_address.trim_start_matches("http://"),
            ])
            .args(["--namespace", &s.namespace])
            .output()
            .expect("temporal runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if out.status.success() {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "temporal worker deployment {args:?}: {text}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

pub(crate) fn make_current(app: &TestApp, deployment: &str, build: &str) {
    deployment_cli(
        app,
        &[
            "set-current-version",
            "--deployment-name",
            deployment,
            "--build-id",
            build,
            "--yes",
        ],
    );
}

/// The build id and behavior of every completed workflow task, in order.
fn builds(events: &[HistoryEvent]) -> Vec<(String, i32)> {
    events
        .iter()
        .filter_map(|e| match &e.attributes {
            Some(Attributes::WorkflowTaskCompletedEventAttributes(a)) => Some((
                a.deployment_version
                    .as_ref()
                    .map(|v| v.build_id.clone())
                    .unwrap_or_default(),
                a.versioning_behavior,
            )),
            _ => None,
        })
        .collect()
}

async fn relinquish(h: &Handle) {
    h.execute_update(
        ticket::Relinquish,
        EndInput {
            by: user("bob"),
            reason: Some("done".into()),
        },
        WorkflowExecuteUpdateOptions::default(),
    )
    .await
    .expect("bob relinquishes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tickets_started_on_build_a_finish_on_build_b_and_new_ones_run_on_b() {
    let deployment = format!("jit-versioning-{}", std::process::id());
    let env = |build: &str| {
        vec![
            ("JIT_DEPLOYMENT_NAME".to_owned(), deployment.clone()),
            ("JIT_BUILD_ID".to_owned(), build.to_owned()),
            // Versioned workers find each other for the fleet's AWS budget too.
            (
                "JIT_AWS_FLEET_REQUESTS_PER_SECOND".to_owned(),
                "18".to_owned(),
            ),
        ]
    };
    let mut app =
        TestApp::with_policy_env("versions", crate::support::DEFAULT_POLICY, env("a")).await;
    make_current(&app, &deployment, "a");
    assert!(
        app.worker_log_text()
            .contains(&format!("{deployment}.a (auto-upgrade)")),
        "the worker says which version it is:\n{}",
        app.worker_log_text()
    );

    // On A: one ticket active, one waiting for approval.
    let active = app.start(&app.request("active", "bob", "bob")).await;
    app.wait_for(&active, T, |t| t.phase == Phase::PendingApproval)
        .await;
    app.approve(&active, "carol").await.expect("carol approves");
    app.wait_for(&active, T, |t| t.phase == Phase::Active).await;
    let mut waiting_req = app.request("waiting", "bob", "bob");
    waiting_req.targets[0].permission_set =
        jit_domain::PermissionSetName::parse("Developer").unwrap();
    let waiting = app.start(&waiting_req).await;
    app.wait_for(&waiting, T, |t| t.phase == Phase::PendingApproval)
        .await;

    // Build B comes up, is made current, and A goes away.
    let _b = app.spawn_worker("worker-b", &env("b"));
    make_current(&app, &deployment, "b");
    let b_log = app
        .stack
        .logs
        .join(format!("worker-b-{}.log", app.task_queue));
    assert!(
        jit_e2e::plain_log(&b_log).contains("share=9.0 fleet=18.0 operations=7 workers=2"),
        "B counts A (another build of the same deployment) for the AWS budget and the \
         outstanding operations:\n{}",
        jit_e2e::plain_log(&b_log)
    );
    app.kill_worker();
    let described = deployment_cli(&app, &["describe", "--name", &deployment]);
    assert!(
        described
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["CurrentVersionBuildID", "b"]),
        "{described}"
    );

    // The old tickets carry on, on B.
    app.approve(&waiting, "carol")
        .await
        .expect("carol approves on B");
    app.wait_for(&waiting, T, |t| t.phase == Phase::Active)
        .await;
    assert_eq!(app.assignment_count("bob", "Developer").await, 1);
    relinquish(&active).await;
    assert_eq!(app.outcome(&active, T).await.phase, Phase::Relinquished);
    assert_eq!(
        app.assignment_count("bob", "ReadOnly").await,
        0,
        "revoked by B"
    );
    relinquish(&waiting).await;
    assert_eq!(app.outcome(&waiting, T).await.phase, Phase::Relinquished);
    assert_eq!(app.assignment_count("bob", "Developer").await, 0);

    // A new ticket runs on B only.
    let fresh = app.start(&app.request("fresh", "bob", "bob")).await;
    app.wait_for(&fresh, T, |t| t.phase == Phase::PendingApproval)
        .await;
    app.approve(&fresh, "carol").await.expect("carol approves");
    app.wait_for(&fresh, T, |t| t.phase == Phase::Active).await;
    relinquish(&fresh).await;
    assert_eq!(app.outcome(&fresh, T).await.phase, Phase::Relinquished);

    let auto = VersioningBehavior::AutoUpgrade as i32;
    let old = builds(&app.history(&active).await);
    assert_eq!(old.first().map(|b| b.0.as_str()), Some("a"), "{old:?}");
    assert_eq!(old.last().map(|b| b.0.as_str()), Some("b"), "{old:?}");
    assert!(old.iter().all(|b| b.1 == auto), "{old:?}");
    let new = builds(&app.history(&fresh).await);

    assert!(
        !new.is_empty() && new.iter().all(|b| b.0 == "b" && b.1 == auto),
        "{new:?}"
    );
}
