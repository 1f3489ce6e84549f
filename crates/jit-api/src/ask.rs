//! A question for a worker (the API holds no AWS credentials): a short workflow started on
//! the workers' task queue, its result awaited for a bounded time.

use std::time::Duration;

use temporalio_client::{Client, WorkflowGetResultOptions, WorkflowStartOptions};
use temporalio_common::HasWorkflowDefinition;
use tonic::Status;

/// Starts `workflow` with `input` and `options`; its result within `within`. UNAVAILABLE when
/// it cannot start or fails, DEADLINE_EXCEEDED when no worker answered in time.
pub(crate) async fn ask_worker<W>(
    client: &Client,
    workflow: W,
    input: W::Input,
    options: WorkflowStartOptions,
    within: Duration,
) -> Result<W::Output, Status>
where
    W: HasWorkflowDefinition,
    W::Input: Send,
{
    let h = client
        .start_workflow(workflow, input, options)
        .await
        .map_err(|e| Status::unavailable(format!("asking the worker: {e}")))?;
    tokio::time::timeout(within, h.get_result(WorkflowGetResultOptions::default()))
        .await
        .map_err(|_| {
            Status::deadline_exceeded(format!(
                "the worker did not answer within {} s",
                within.as_secs()
            ))
        })?
        .map_err(|e| Status::unavailable(format!("the worker could not answer: {e}")))
}
