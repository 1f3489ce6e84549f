//! What exists: the organization's accounts and the Identity Center instance's permission
//! sets, asked of a worker (the API holds no AWS credentials) through a short
//! `KnownTargetsWorkflow` and cached, so a request for an account or permission set that does
//! not exist is refused at once, without a ticket.
//!
//! The cache is a convenience, never the authority: the ticket's evaluation checks again. It
//! is fresh for [`FRESH`]; a name it does not know makes it ask again if its answer is older
//! than [`RECHECK_AFTER`] (an account added a minute ago is not refused for long); one caller
//! asks at a time and the others wait for that answer. When no worker answers within
//! [`ASK_TIMEOUT`], the request goes on to the workflow, which decides as it always did, and
//! the cache does not ask again for [`RETRY_AFTER`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use jit_contract::catalog::{self, Known};
use temporalio_client::{Client, WorkflowStartOptions};
use tokio::sync::Mutex;

/// How long an answer is used without asking again.
pub const FRESH: Duration = Duration::from_secs(300);
/// An answer older than this is renewed before a name is refused as unknown.
pub const RECHECK_AFTER: Duration = Duration::from_secs(30);
/// How long a worker has to answer.
pub const ASK_TIMEOUT: Duration = Duration::from_secs(5);
/// After a failed question, how long the cache goes without asking.
pub const RETRY_AFTER: Duration = Duration::from_secs(30);

#[derive(Default)]
struct State {
    answer: Option<(Instant, Arc<Known>)>,
    failed_at: Option<Instant>,
}

/// The cached answer and how to renew it.
pub struct KnownTargets {
    client: Client,
    task_queue: String,
    state: Mutex<State>,
}

impl KnownTargets {
    pub fn new(client: Client, task_queue: String) -> Self {
        Self {
            client,
            task_queue,
            state: Mutex::new(State::default()),
        }
    }

    /// The answer, renewed if older than `max_age`; `None` if there is none to be had.
    pub async fn get(&self, max_age: Duration) -> Option<Arc<Known>> {
        // Held while asking: one question at a time, the others wait for its answer.
        let mut s = self.state.lock().await;
        if let Some((at, k)) = &s.answer
            && at.elapsed() <= max_age
        {
            return Some(k.clone());
        }
        if s.failed_at.is_some_and(|at| at.elapsed() < RETRY_AFTER) {
            return s.answer.as_ref().map(|(_, k)| k.clone());
        }
        match self.ask().await {
            Ok(k) => {
                let k = Arc::new(k);
                s.answer = Some((Instant::now(), k.clone()));
                s.failed_at = None;
                Some(k)
            }
            Err(e) => {
                tracing::warn!(error = %e.message(), "no worker said which accounts and permission sets exist; tickets will decide");
                s.failed_at = Some(Instant::now());
                s.answer.as_ref().map(|(_, k)| k.clone())
            }
        }
    }

    async fn ask(&self) -> Result<Known, tonic::Status> {
        let id = format!("known-targets-{}", Timestamp::now().as_nanosecond());
        crate::ask::ask_worker(
            &self.client,
            catalog::KnownWorkflow,
            (),
            WorkflowStartOptions::new(self.task_queue.clone(), id)
                .execution_timeout(Duration::from_secs(60))
                .build(),
            ASK_TIMEOUT,
        )
        .await
    }
}
