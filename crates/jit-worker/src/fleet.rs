//! The fleet's Identity Center budget, shared by the workers that are alive: each worker
//! counts the workers that polled its lease-call task queue in the last two minutes
//! (Temporal's poller list, every 10 s) and takes `outstanding_operations / live workers`
//! (rounded down, at least one) of the asynchronous operations AWS allows outstanding at once;
//! with `aws_limits.fleet_requests_per_second` set, it also spaces its own requests at
//! `fleet / live workers`.
//!
//! Temporal spreads a task queue over partitions (4 by default) and a worker's poll lands on
//! one of them; the root partition lists only the polls that reached it. So the count asks
//! each partition by its system name (`/_sys/<queue>/<n>`, as `temporal task-queue describe
//! --partitions-legacy` does) and takes the union of the identities.
//!
//! The count errs on the safe side when workers leave: a SIGKILLed worker stays on Temporal's
//! list for up to the window, so the others keep their smaller share that long (under-using
//! the budget, never over-using it). A worker joining takes its share at once (it counts
//! itself before it polls); the others notice it within 10 s, so for up to 10 s the fleet may
//! spend up to `fleet / N` more than the budget. Workers started at the same moment see none
//! of each other at first (nobody has polled yet) and recount after 2 s. What goes over is
//! throttled by AWS and retried (activity retries), never lost.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use jit_aws::IdentityCenter;
use temporalio_client::Client;
use temporalio_client::grpc::WorkflowService;
use temporalio_common::protos::temporal::api::enums::v1::{TaskQueueKind, TaskQueueType};
use temporalio_common::protos::temporal::api::taskqueue::v1::{PollerInfo, TaskQueue};
use temporalio_common::protos::temporal::api::workflowservice::v1::DescribeTaskQueueRequest;

/// How recently a worker must have polled to count as alive.
pub(crate) const WINDOW: Duration = Duration::from_secs(120);
const EVERY: Duration = Duration::from_secs(10);
/// The partitions asked: the server's default (`matching.numTaskqueueReadPartitions`) and
/// then some; asking a partition a queue does not use answers an empty list.
const PARTITIONS: usize = 8;

/// The name of `queue`'s partition `n` (0 is the queue itself).
fn partition(queue: &str, n: usize) -> String {
    if n == 0 {
        queue.to_owned()
    } else {
        format!("/_sys/{queue}/{n}")
    }
}

/// The distinct workers among `pollers` that polled within [`WINDOW`] before `now` (Unix
/// seconds), `me` always among them.
pub(crate) fn live_workers(pollers: &[PollerInfo], now: i64, me: &str) -> usize {
    let mut who: BTreeSet<&str> = pollers
        .iter()
        .filter(|p| {
            p.last_access_time
                .as_ref()
                .is_some_and(|t| now - t.seconds <= WINDOW.as_secs() as i64)
        })
        .map(|p| p.identity.as_str())
        .collect();
    who.insert(me);
    who.len()
}

/// This worker's share.
pub(crate) fn share(fleet: f64, workers: usize) -> f64 {
    fleet / workers.max(1) as f64
}

/// This worker's share of the outstanding operations: rounded down (the fleet never goes
/// over), at least one (a worker must be able to work).
pub(crate) fn operations_share(outstanding: u32, workers: usize) -> u32 {
    let workers = u32::try_from(workers.max(1)).unwrap_or(u32::MAX);
    (outstanding / workers).max(1)
}

/// What the fleet shares.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Budget {
    /// The fleet's request rate, if it is shared (else each worker has its own).
    pub requests_per_second: Option<f64>,
    /// The outstanding asynchronous operations AWS allows the account.
    pub outstanding_operations: u32,
}

/// The workers polling `queue` now (any partition); `None` if Temporal answered for none.
async fn count(client: &Client, namespace: &str, queue: &str, me: &str) -> Option<usize> {
    let asks = (0..PARTITIONS).map(|n| {
        let mut conn = client.connection().clone();
        let req = DescribeTaskQueueRequest {
            namespace: namespace.to_owned(),
            task_queue: Some(TaskQueue {
                name: partition(queue, n),
                kind: TaskQueueKind::Normal as i32,
                normal_name: String::new(),
            }),
            task_queue_type: TaskQueueType::Activity as i32,
            ..Default::default()
        };
        async move {
            tokio::time::timeout(
                Duration::from_secs(5),
                WorkflowService::describe_task_queue(&mut conn, tonic::Request::new(req)),
            )
            .await
            .ok()?
            .map_err(|e| tracing::warn!(error = %e, partition = n, "counting the fleet's workers"))
            .ok()
            .map(|r| r.into_inner().pollers)
        }
    });
    let answers = futures::future::join_all(asks).await;
    if answers.iter().all(Option::is_none) {
        return None;
    }
    let pollers: Vec<PollerInfo> = answers.into_iter().flatten().flatten().collect();
    Some(live_workers(
        &pollers,
        jiff::Timestamp::now().as_second(),
        me,
    ))
}

/// Sets this worker's share once now (before it polls), then keeps it current.
pub(crate) async fn start(
    client: Client,
    namespace: String,
    queue: String,
    budget: Budget,
    aws: Arc<IdentityCenter>,
) -> tokio::task::JoinHandle<()> {
    let me = jit_temporal::identity("jit-worker");
    let apply = move |aws: &IdentityCenter, workers: usize| {
        let operations = operations_share(budget.outstanding_operations, workers);
        aws.set_outstanding(operations);
        match budget.requests_per_second {
            Some(fleet) => {
                let share = share(fleet, workers);
                aws.set_rate(share);
                tracing::info!(share, fleet, operations, workers, "AWS rate share");
            }
            None => tracing::info!(operations, workers, "AWS operations share"),
        }
    };
    let mut last = count(&client, &namespace, &queue, &me).await.unwrap_or(1);
    apply(&aws, last);
    tokio::spawn(async move {
        // Soon after this worker (and any started with it) began polling, then every 10 s.
        let mut wait = Duration::from_secs(2);
        loop {
            tokio::time::sleep(wait).await;
            wait = EVERY;
            let Some(n) = count(&client, &namespace, &queue, &me).await else {
                continue;
            };
            if n != last {
                apply(&aws, n);
                last = n;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poller(who: &str, at: i64) -> PollerInfo {
        PollerInfo {
            identity: who.into(),
            last_access_time: Some(prost_wkt_types::Timestamp {
                seconds: at,
                nanos: 0,
            }),
            ..Default::default()
        }
    }

    #[test]
    fn partitions_are_named_as_the_server_names_them() {
        assert_eq!(partition("jit-lease-call", 0), "jit-lease-call");
        assert_eq!(partition("jit-lease-call", 3), "/_sys/jit-lease-call/3");
    }

    #[test]
    fn workers_are_counted_once_recent_and_with_oneself() {
        let now = 1_000_000;
        let p = [
            poller("w@a:1", now - 5),
            poller("w@a:1", now - 50),
            poller("w@b:1", now - 100),
            poller("w@gone:1", now - 500),
        ];
        assert_eq!(live_workers(&p, now, "w@a:1"), 2);
        assert_eq!(
            live_workers(&p, now, "w@new:1"),
            3,
            "itself, before it polls"
        );
        assert_eq!(live_workers(&[], now, "w@a:1"), 1);
        assert_eq!(share(18.0, 3), 6.0);
        assert_eq!(share(18.0, 0), 18.0);
        assert_eq!(operations_share(15, 1), 15);
        assert_eq!(
            operations_share(15, 2),
            7,
            "rounded down: never over AWS's limit"
        );
        assert_eq!(operations_share(15, 3), 5);
        assert_eq!(operations_share(15, 40), 1, "at least one");
        assert_eq!(operations_share(15, 0), 15);
    }
}
