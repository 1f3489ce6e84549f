//! [`OwnStack`]: a stack of one test's or benchmark's own — a Temporal dev server *with a
//! database file* (restartable, keeping every workflow), a seeded sandbox, and a fault proxy
//! in front of it (pass-through until told otherwise; it counts every AWS request) — on free
//! loopback ports, stopped when dropped. Workers are processes started by [`OwnStack::worker`].

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use jit_aws::IdentityCenter;
use jit_devstack::{
    FaultProxy, ManagedChild, Sandbox, TemporalServer, Tools, ensure_tools, free_port, repo_root,
};
use temporalio_client::Client;

pub struct OwnStack {
    pub tools: Tools,
    pub logs: PathBuf,
    pub temporal_server: TemporalServer,
    temporal: Option<ManagedChild>,
    moto: ManagedChild,
    pub sandbox: Sandbox,
    pub proxy: FaultProxy,
    pub client: Client,
    /// Straight to the sandbox: the truth about AWS.
    pub aws: IdentityCenter,
}

impl OwnStack {
    /// Starts the server, the sandbox (seeded from `temporal-dev.yaml`) and the proxy; logs go
    /// to `target/jit-test-logs/<pid>-<name>/`.
    pub async fn start(name: &str) -> OwnStack {
        let root = repo_root();
        let tools = ensure_tools(&root).expect("tools installed");
        let logs = root
            .join("target/jit-test-logs")
            .join(format!("{}-{name}", std::process::id()));
        std::fs::create_dir_all(&logs).expect("log dir");
        let config =
            jit_config::StackConfig::load(&root.join("temporal-dev.yaml")).expect("config");
        let db = logs.join("temporal.db");
        let _ = std::fs::remove_file(&db);
        let temporal_server = TemporalServer {
            ip: "127.0.0.1".into(),
            port: free_port().expect("port"),
            ui_port: None,
            namespace: config.temporal.namespace.clone(),
            db_filename: Some(db),
            config: config.dev_server().expect("temporal.dev_server").clone(),
            ui_codec_endpoint: None,
        };
        let sandbox = Sandbox {
            ip: "127.0.0.1".into(),
            port: free_port().expect("port"),
            region: "us-east-1".into(),
        };
        let temporal = ManagedChild::spawn(
            "temporal",
            temporal_server.command(&tools),
            &logs.join("temporal.log"),
            true,
        )
        .expect("temporal starts");
        let moto = ManagedChild::spawn(
            "moto",
            sandbox.command(&tools),
            &logs.join("moto.log"),
            true,
        )
        .expect("moto starts");
        temporal_server
            .wait_ready(&tools, Duration::from_secs(60))
            .expect("temporal ready");
        sandbox
            .wait_ready(Duration::from_secs(30))
            .expect("moto ready");
        sandbox
            .reset_and_seed(&config.sandbox.expect("sandbox section").seed)
            .await
            .expect("seeded");
        let proxy = FaultProxy::start(&sandbox.url()).await.expect("proxy");
        let client = crate::connect(
            &format!("http://{}", temporal_server.address()),
            &temporal_server.namespace,
            &format!("jit-{name}"),
        )
        .await;
        let aws = crate::sandbox(&sandbox.url(), &sandbox.region).await;
        OwnStack {
            tools,
            logs,
            temporal_server,
            temporal: Some(temporal),
            moto,
            sandbox,
            proxy,
            client,
            aws,
        }
    }

    pub fn temporal_address(&self) -> String {
        format!("http://{}", self.temporal_server.address())
    }

    pub fn namespace(&self) -> &str {
        &self.temporal_server.namespace
    }

    /// The dev server's process id (0 while it is stopped).
    pub fn temporal_pid(&self) -> u32 {
        self.temporal.as_ref().map_or(0, ManagedChild::pid)
    }

    pub fn moto_pid(&self) -> u32 {
        self.moto.pid()
    }

    /// A jit worker process (`bin`: the test package's `e2e-worker`) on `task_queue` reading
    /// `policy_file`, AWS through the proxy, with `env` on top; its log is `<log>.log`.
    pub fn worker(
        &self,
        bin: &Path,
        task_queue: &str,
        policy_file: &Path,
        env: &[(String, String)],
        log: &str,
    ) -> ManagedChild {
        let address = self.temporal_address();
        let setup = crate::WorkerSetup {
            temporal_address: &address,
            namespace: &self.temporal_server.namespace,
            task_queue,
            aws_url: &self.proxy.url(),
            region: &self.sandbox.region,
            policy_file,
            rust_log: "info,temporalio_sdk_core=warn",
        };
        let cmd = crate::worker_command(&bin.to_string_lossy(), &setup, env);
        self.spawn(cmd, log)
    }

    /// Starts `cmd` as a process of this stack, logging to `<log>.log`.
    pub fn spawn(&self, cmd: Command, log: &str) -> ManagedChild {
        ManagedChild::spawn(log, cmd, &self.logs.join(format!("{log}.log")), true)
            .expect("process starts")
    }

    /// Stops the dev server (SIGTERM) and starts it again on the same port and database file.
    pub async fn restart_temporal(&mut self) {
        if let Some(mut t) = self.temporal.take() {
            t.stop(Duration::from_secs(10));
        }
        self.temporal = Some(
            ManagedChild::spawn(
                "temporal",
                self.temporal_server.command(&self.tools),
                &self.logs.join("temporal.log"),
                true,
            )
            .expect("temporal restarts"),
        );
        self.temporal_server
            .wait_ready(&self.tools, Duration::from_secs(60))
            .expect("temporal ready again");
    }
}
