//! `jit-api --config temporal-dev.yaml`: see the library.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    jit_api::main_with_args(std::env::args()).await
}
