//! `jit-worker --config temporal-dev.yaml`: see the library.

#[tokio::main]
async fn main() {
    if let Err(e) = jit_worker::main_with_args(std::env::args()).await {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
