//! One Temporal dev server, one seeded sandbox and one fault proxy per test binary, on free
//! loopback ports, stopped when the test binary exits (also when a test fails or panics).
//!
//! The processes are started from a dedicated thread that lives as long as the test binary
//! and are bound to it with `PR_SET_PDEATHSIG`, so the kernel kills them when the binary ends,
//! however it ends. The proxy runs on that thread's runtime, so it outlives each test's own
//! runtime.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::Context;
use jit_aws::SeedReport;
use jit_config::StackConfig;

use crate::process::{ManagedChild, free_port};
use crate::proxy::FaultProxy;
use crate::servers::{Sandbox, TemporalServer};
use crate::tools::{Tools, ensure_tools, repo_root};

/// What a test needs to reach the stack.
#[derive(Debug, Clone)]
pub struct TestStack {
    pub config: StackConfig,
    /// `http://127.0.0.1:port` of the Temporal frontend.
    pub temporal_address: String,
    pub namespace: String,
    /// The sandbox itself (for checking what really exists).
    pub sandbox_url: String,
    /// The fault proxy in front of the sandbox (what workers talk to).
    pub proxy: FaultProxy,
    pub region: String,
    pub seed: SeedReport,
    pub tools: Tools,
    /// Where the servers' logs go.
    pub logs: PathBuf,
}

static STACK: OnceLock<Result<TestStack, String>> = OnceLock::new();

impl TestStack {
    /// The stack of this test binary, started on first use.
    pub fn shared() -> &'static TestStack {
        match STACK.get_or_init(|| start().map_err(|e| format!("{e:#}"))) {
            Ok(s) => s,
            Err(e) => panic!("the test stack did not start: {e}"),
        }
    }
}

fn start() -> anyhow::Result<TestStack> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("jit-test-stack".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = tx.send(Err(anyhow::Error::from(e)));
                    return;
                }
            };
            match boot(&rt) {
                Ok((stack, children)) => {
                    let _ = tx.send(Ok(stack));
                    // Keep the children (and the proxy's runtime) for the life of the binary.
                    rt.block_on(std::future::pending::<()>());
                    drop(children);
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                }
            }
        })?;
    rx.recv().context("the test stack thread died")?
}

fn boot(rt: &tokio::runtime::Runtime) -> anyhow::Result<(TestStack, Vec<ManagedChild>)> {
    let root = repo_root();
    let config = StackConfig::load(&root.join("temporal-dev.yaml"))?;
    let tools = ensure_tools(&root)?;
    let logs = root
        .join("target/jit-test-logs")
        .join(std::process::id().to_string());
    std::fs::create_dir_all(&logs)?;

    let temporal = TemporalServer {
        ip: "127.0.0.1".into(),
        port: free_port()?,
        ui_port: None,
        namespace: config.temporal.namespace.clone(),
        db_filename: None,
        config: config.dev_server()?.clone(),
        ui_codec_endpoint: None,
    };
    let sandbox_cfg = config
        .sandbox
        .clone()
        .context("temporal-dev.yaml has no sandbox: section")?;
    let sandbox = Sandbox {
        ip: "127.0.0.1".into(),
        port: free_port()?,
        region: sandbox_cfg.region.clone(),
    };
    let mut children = vec![
        ManagedChild::spawn(
            "temporal",
            temporal.command(&tools),
            &logs.join("temporal.log"),
            true,
        )?,
        ManagedChild::spawn(
            "moto",
            sandbox.command(&tools),
            &logs.join("moto.log"),
            true,
        )?,
    ];
    let ready = temporal
        .wait_ready(&tools, Duration::from_secs(60))
        .and_then(|()| sandbox.wait_ready(Duration::from_secs(30)));
    if let Err(e) = ready {
        let tails: Vec<String> = children
            .iter_mut()
            .map(|c| format!("--- {} ---\n{}", c.name(), c.log_tail(20)))
            .collect();
        return Err(e.context(tails.join("\n")));
    }
    let seed = rt.block_on(sandbox.reset_and_seed(&sandbox_cfg.seed))?;
    let proxy = rt.block_on(FaultProxy::start(&sandbox.url()))?;
    Ok((
        TestStack {
            temporal_address: format!("http://{}", temporal.address()),
            namespace: temporal.namespace.clone(),
            sandbox_url: sandbox.url(),
            proxy,
            region: sandbox.region.clone(),
            seed,
            tools,
            logs,
            config,
        },
        children,
    ))
}
