//! Writes a workflow's history in the replayer's JSON format: `fetch_history ADDRESS ID OUT`.
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let client = jit_e2e::connect(&args[1], "default", "fetch").await;
    let h = client.get_workflow_handle::<temporalio_client::UntypedWorkflow>(args[2].clone());
    let json = h
        .fetch_history(temporalio_client::WorkflowFetchHistoryOptions::default())
        .to_json()
        .await?;
    std::fs::write(&args[3], json)?;
    Ok(())
}
