//! Temporal client helpers for the tools around the stack (demo, tests).

use anyhow::Context;
use temporalio_client::Client;

/// Lets the dev server skip time for one workflow (Server 1.32's experimental per-workflow
/// time skipping; the server needs `frontend.WorkflowTimeSkippingEnabled`). Time is skipped
/// whenever nothing is in flight: enable it only after the signals the workflow waits for.
pub async fn enable_time_skipping(
    client: &Client,
    namespace: &str,
    workflow_id: &str,
) -> anyhow::Result<()> {
    use temporalio_common::protos::temporal::api::{
        common::v1::{TimeSkippingConfig, WorkflowExecution},
        workflow::v1::WorkflowExecutionOptions,
        workflowservice::v1::UpdateWorkflowExecutionOptionsRequest,
    };
    client
        .connection()
        .workflow_service()
        .update_workflow_execution_options(temporalio_client::tonic::Request::new(
            UpdateWorkflowExecutionOptionsRequest {
                namespace: namespace.to_owned(),
                workflow_execution: Some(WorkflowExecution {
                    workflow_id: workflow_id.to_owned(),
                    run_id: String::new(),
                }),
                workflow_execution_options: Some(WorkflowExecutionOptions {
                    time_skipping_config: Some(TimeSkippingConfig {
                        enabled: true,
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                // The config is updated as a whole.
                update_mask: Some(prost_wkt_types::FieldMask {
                    paths: vec!["time_skipping_config".to_owned()],
                }),
                identity: "jit-devstack".to_owned(),
            },
        ))
        .await
        .context("enabling time skipping")?;
    Ok(())
}

/// The words of a refused update (what the workflow's validator said), without the
/// protocol wrapping around them.
pub fn update_error_message(e: &temporalio_client::errors::WorkflowUpdateError) -> String {
    match e {
        temporalio_client::errors::WorkflowUpdateError::Failed(f) => f.message.clone(),
        other => other.to_string(),
    }
}
