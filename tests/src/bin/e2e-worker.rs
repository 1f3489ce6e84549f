//! The worker binary, built inside the test package so the end-to-end tests can start it as
//! a real process (and kill it) through `CARGO_BIN_EXE_e2e-worker`. `e2e-worker bare` serves
//! the ticket benchmark's bare workflow instead (`jit_e2e::bare`), configured by
//! `JIT_TEMPORAL_ADDRESS`, `JIT_TEMPORAL_NAMESPACE` and `JIT_TASK_QUEUE`; `e2e-worker
//! update-order ADDRESS NAMESPACE QUEUE` serves `jit_e2e::update_order`'s workflow.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if std::env::args().nth(1).as_deref() == Some("bare") {
        let var = |k: &str| std::env::var(k).map_err(|_| anyhow::anyhow!("{k} is not set"));
        return jit_e2e::bare::run_worker(
            &var("JIT_TEMPORAL_ADDRESS")?,
            &var("JIT_TEMPORAL_NAMESPACE")?,
            &var("JIT_TASK_QUEUE")?,
        )
        .await;
    }
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("update-order") && args.len() == 5 {
        return tokio::task::LocalSet::new()
            .run_until(jit_e2e::update_order::serve(&args[2], &args[3], &args[4]))
            .await;
    }
    jit_worker::main_with_args(std::env::args()).await
}
