//! The worker binary, built inside the test package so the end-to-end tests can start it as
//! a real process (and kill it) through `CARGO_BIN_EXE_e2e-worker`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    jit_worker::main_with_args(std::env::args()).await
}
