//! Replays every committed history in `tests/histories/` against today's workflow code: a
//! change that would break tickets already running fails here. No server needed.
//!
//! Histories are recorded by the end-to-end tests with `JIT_RECORD_HISTORIES=1`.

use jit_workflows::{
    AssignmentLease, AwsGovernor, CatalogWorkflow, DelegationWorkflow, ReconcileWorkflow,
    SessionCutoff, TicketWorkflow,
};
use temporalio_client::WorkflowHistory;
use temporalio_sdk::workflow_replayer::{WorkflowReplayer, WorkflowReplayerOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_histories_replay_against_current_code() {
    let dir = jit_devstack::repo_root().join("tests/histories");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/histories exists")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 3,
        "expected committed histories in {}",
        dir.display()
    );

    let options = WorkflowReplayerOptions::new()
        .register_workflow::<TicketWorkflow>()
        .and_then(|o| o.register_workflow::<DelegationWorkflow>())
        .and_then(|o| o.register_workflow::<CatalogWorkflow>())
        .and_then(|o| o.register_workflow::<AssignmentLease>())
        .and_then(|o| o.register_workflow::<AwsGovernor>())
        .and_then(|o| o.register_workflow::<ReconcileWorkflow>())
        .and_then(|o| o.register_workflow::<SessionCutoff>())
        .expect("registration")
        .build();
    let replayer = WorkflowReplayer::new(options).expect("replayer");
    for f in &files {
        let bytes = std::fs::read(f).expect("readable history");
        let history =
            WorkflowHistory::from_json(&bytes).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        replayer
            .replay_workflow(history)
            .await
            .unwrap_or_else(|e| panic!("{} no longer replays: {e:?}", f.display()));
    }
    eprintln!("replayed {} histories", files.len());
}
