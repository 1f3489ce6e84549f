//! The API binary, built inside the test package so the end-to-end tests can run several as
//! real processes (replicas, restarts) through `CARGO_BIN_EXE_e2e-api` (the same code as
//! `jit-api`).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    jit_api::main_with_args(std::env::args()).await
}
