//! Load and failure: a burst of 200 tickets against AWS's limits, the chaos run (worker
//! SIGKILLs, a server restart and AWS faults mid-flight), and scale-out (three workers sharing
//! a fleet budget, two API replicas, a worker killed). Each test starts its own stack; they
//! run one after the other (they measure rates and restart servers).

#![allow(unreachable_pub)]

mod burst;
mod chaos;
mod harness;
mod scale;

static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_200_tickets_stays_within_aws_limits_and_drains_near_them() {
    let _one = ONE_AT_A_TIME.lock().await;
    burst::run().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tickets_reach_their_correct_end_through_worker_kills_a_server_restart_and_aws_faults() {
    let _one = ONE_AT_A_TIME.lock().await;
    chaos::run().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_and_two_apis_share_the_aws_budget_and_survive_a_killed_worker() {
    let _one = ONE_AT_A_TIME.lock().await;
    scale::run().await;
}
