//! SDK defects jit works around, each played for real: the test fails if the workaround stops
//! working, and tells when the SDK no longer needs it.

use std::time::Duration;

use jit_e2e::update_order::{Activities, Order, Poke, UpdateOrder, Worked, workflow_worker};
use temporalio_client::{
    Client, UntypedWorkflow, WorkflowExecuteUpdateOptions, WorkflowFetchHistoryOptions,
    WorkflowStartOptions, WorkflowTerminateOptions,
};
use temporalio_sdk::workflow_replayer::{WorkflowReplayer, WorkflowReplayerOptions};

/// What one play of the scenario gave.
struct Played {
    /// Whether the query was answered before the workflow task that carries the activity's
    /// result completed (the condition of the defect).
    overtook: bool,
    /// The replay of the whole history: `Err` with the replayer's message.
    replay: Result<(), String>,
    /// Runs the guard evicted (0 without it).
    evicted: u64,
}

async fn event_types(client: &Client, id: &str) -> Vec<String> {
    let events = client
        .get_workflow_handle::<UntypedWorkflow>(id.to_owned())
        .fetch_history(WorkflowFetchHistoryOptions::default())
        .into_events()
        .await
        .expect("history");
    jit_e2e::event_types(&events)
}

async fn until_event(client: &Client, id: &str, event: &str) {
    for _ in 0..600 {
        if event_types(client, id).await.iter().any(|e| e == event) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{id}: no {event} in 12 s");
}

/// Worker A (a process) runs the first task and is killed; the activity runs; worker B (new,
/// guarded or not) serves the workflow; a query, then an update as soon as the query sees the
/// activity done (as the chaos suite's client does); then the history is replayed.
/// `overtake: false` plays the quiet case: no worker A, B serves it all, and more queries
/// follow the task that saw the activity done.
async fn play(guarded: bool, overtake: bool) -> Played {
    let stack = jit_devstack::TestStack::shared();
    let (address, ns) = (&stack.temporal_address, &stack.namespace);
    let nonce = jiff::Timestamp::now().as_nanosecond();
    let queue = format!(
        "update-order-{}-{}-{nonce}",
        if guarded { "guarded" } else { "plain" },
        if overtake { "overtake" } else { "quiet" },
    );
    let id = format!("{queue}-wf");
    let client = jit_e2e::connect(address, ns, "defects").await;
    let start = || async {
        client
            .start_workflow(
                Order,
                (),
                WorkflowStartOptions::new(queue.clone(), id.clone()).build(),
            )
            .await
            .expect("started");
    };

    if overtake {
        let mut a = std::process::Command::new(env!("CARGO_BIN_EXE_e2e-worker"))
            .args(["update-order", address, ns, &queue])
            .spawn()
            .expect("worker A");
        start().await;
        until_event(&client, &id, "ACTIVITY_TASK_SCHEDULED").await;
        // Killed, A leaves its sticky queue behind: the task with the activity's result waits
        // there until it times out (10 s), and the query gives up on it before.
        a.kill().expect("killed");
        a.wait().expect("reaped");
    }

    let runtime = temporalio_sdk::Runtime::from_current_tokio(Default::default()).unwrap();
    let acts = temporalio_sdk::WorkerOptions::new(format!("{queue}-activities"))
        .register_activities(Activities)
        .build();
    let mut acts = temporalio_sdk::Worker::new(
        &runtime,
        jit_e2e::connect(address, ns, "defects-activities").await,
        acts,
    )
    .unwrap();
    let stop_acts = acts.shutdown_handle();
    let acts = tokio::task::spawn_local(async move { acts.run().await });

    let b_client = jit_e2e::connect(address, ns, "defects-b").await;
    let core_runtime = temporalio_sdk_core::CoreRuntime::new_assume_tokio(Default::default())
        .expect("core runtime");
    let guard = jit_temporal::worker::QueryEvictions::new();
    let mut b = if guarded {
        let options = temporalio_sdk::WorkerOptions::new(queue.clone())
            .worker_interceptor(guard.interceptor())
            .register_workflow::<UpdateOrder>()
            .unwrap()
            .build();
        jit_temporal::worker::new_worker(&core_runtime, &b_client, options, &guard).unwrap()
    } else {
        workflow_worker(&runtime, b_client, &queue).unwrap()
    };
    let stop_b = b.shutdown_handle();
    let b = tokio::task::spawn_local(async move { b.run().await });

    if !overtake {
        start().await;
    }

    let h = client.get_workflow_handle::<Order>(id.clone());
    let overtook = loop {
        match h.query(Worked, (), Default::default()).await {
            Ok(true) => {
                break !event_types(&client, &id)
                    .await
                    .iter()
                    .any(|e| e == "TIMER_STARTED");
            }
            Ok(false) => {}
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    if !overtake {
        // Queries on the run the task that saw the activity done left in B's cache.
        for _ in 0..5 {
            assert!(
                h.query(Worked, (), Default::default())
                    .await
                    .expect("query")
            );
        }
    }
    // With the guard, the task replays from the start: the update meets the workflow before
    // the activity's result, and its validator refuses it ("not yet"), as a replay would see
    // it. The caller asks again, as the chaos suite's client does.
    let mut poked = false;
    for _ in 0..50 {
        match h
            .execute_update(Poke, (), WorkflowExecuteUpdateOptions::default())
            .await
        {
            Ok(()) => {
                poked = true;
                break;
            }
            Err(temporalio_client::errors::WorkflowUpdateError::Failed(f))
                if f.message == "not yet" =>
            {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("{id}: poke: {e:?}"),
        }
    }
    assert!(poked, "{id}: the update was never accepted");
    stop_b();
    b.await.unwrap().unwrap();
    stop_acts();
    acts.await.unwrap().unwrap();

    let untyped = client.get_workflow_handle::<UntypedWorkflow>(id.clone());
    let json = untyped
        .fetch_history(WorkflowFetchHistoryOptions::default())
        .to_json()
        .await
        .expect("history");
    let _ = untyped.terminate(WorkflowTerminateOptions::default()).await;
    let replayer = WorkflowReplayer::new(
        WorkflowReplayerOptions::new()
            .register_workflow::<UpdateOrder>()
            .unwrap()
            .build(),
    )
    .unwrap();
    let history = temporalio_client::WorkflowHistory::from_json(&json).unwrap();
    let replay = replayer
        .replay_workflow(history)
        .await
        .map_err(|e| format!("{e:?}"));
    Played {
        overtook,
        replay,
        evicted: guard.evicted(),
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_query_that_overtakes_a_workflow_task_keeps_updates_replayable() {
    tokio::task::LocalSet::new()
        .run_until(async {
            for attempt in 1..=3 {
                let (guarded, plain) = tokio::join!(play(true, true), play(false, true));
                if !guarded.overtook || !plain.overtook {
                    eprintln!("attempt {attempt}: the query did not overtake the task; again");
                    continue;
                }
                assert!(
                    guarded.replay.is_ok(),
                    "with the guard the history must replay: {:?}",
                    guarded.replay
                );
                assert!(guarded.evicted >= 1, "the guard evicted nothing");
                let plain = plain.replay.expect_err(
                    "without the guard this history no longer breaks replay: the SDK fixed the \
                     defect, and jit_temporal::worker's guard can go",
                );
                assert!(plain.contains("Nondeterminism"), "{plain}");
                return;
            }
            panic!("the query never overtook the workflow task in 3 attempts");
        })
        .await;
}

/// The guard leaves alone what does not meet the defect: queries that follow the workflow
/// tasks on a run the worker holds are answered from its cache (an eviction would cost a replay
/// of the run's history, and the traces of the run: a replayed run is not traced again).
#[tokio::test(flavor = "current_thread")]
async fn queries_that_follow_workflow_tasks_evict_nothing() {
    tokio::task::LocalSet::new()
        .run_until(async {
            let quiet = play(true, false).await;
            assert!(
                quiet.replay.is_ok(),
                "the history must replay: {:?}",
                quiet.replay
            );
            assert_eq!(quiet.evicted, 0, "the guard evicted a run no query moved");
        })
        .await;
}

/// What the search for the memory open tickets keep ruled out (tests/defects/README.md): a
/// worker frees the runs its sticky cache evicts — 30 runs that ran an activity and wait on a
/// timer or a condition pass through a cache of 5, and at most the 5 cached stay alive. Played
/// with the SDK's own worker and with jit's guarded one (whose guard must hold nothing of an
/// evicted run).
#[tokio::test(flavor = "current_thread")]
async fn evicted_runs_are_freed() {
    use jit_e2e::evictions::{CountedWait, Wait, live};
    tokio::task::LocalSet::new()
        .run_until(async {
            let stack = jit_devstack::TestStack::shared();
            let (address, ns) = (&stack.temporal_address, &stack.namespace);
            let client = jit_e2e::connect(address, ns, "evictions").await;
            for guarded in [false, true] {
                let nonce = jiff::Timestamp::now().as_nanosecond();
                let queue = format!("evictions-{guarded}-{nonce}");
                let before = live();
                let runtime =
                    temporalio_sdk::Runtime::from_current_tokio(Default::default()).unwrap();
                let core_runtime =
                    temporalio_sdk_core::CoreRuntime::new_assume_tokio(Default::default())
                        .expect("core runtime");
                let guard = jit_temporal::worker::QueryEvictions::new();
                let options = temporalio_sdk::WorkerOptions::new(queue.clone())
                    .max_cached_workflows(5_usize)
                    .register_workflow::<CountedWait>()
                    .unwrap()
                    .register_activities(jit_e2e::evictions::Activities);
                let worker_client = jit_e2e::connect(address, ns, "evictions-worker").await;
                let mut worker = if guarded {
                    let options = options.worker_interceptor(guard.interceptor()).build();
                    jit_temporal::worker::new_worker(&core_runtime, &worker_client, options, &guard)
                        .unwrap()
                } else {
                    temporalio_sdk::Worker::new(&runtime, worker_client, options.build()).unwrap()
                };
                let stop = worker.shutdown_handle();
                let running = tokio::task::spawn_local(async move { worker.run().await });
                let ids: Vec<String> = (0..30).map(|i| format!("{queue}-{i}")).collect();
                for id in &ids {
                    client
                        .start_workflow(
                            Wait,
                            (),
                            WorkflowStartOptions::new(queue.clone(), id.clone()).build(),
                        )
                        .await
                        .expect("started");
                }
                for id in &ids {
                    until_event(&client, id, "TIMER_STARTED").await;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
                let kept = live() - before;
                stop();
                running.await.unwrap().unwrap();
                for id in &ids {
                    let _ = client
                        .get_workflow_handle::<UntypedWorkflow>(id.clone())
                        .terminate(WorkflowTerminateOptions::default())
                        .await;
                }
                assert!(
                    kept <= 5,
                    "guarded: {guarded}: {kept} of 30 runs alive with a cache of 5"
                );
            }
        })
        .await;
}
