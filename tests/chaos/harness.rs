//! `Stack`: a stack of one test's own — a Temporal dev server *with a database file* (so it
//! can be restarted mid-flight and keep every ticket), a seeded sandbox, a fault proxy that
//! keeps AWS's limits, and any number of worker processes that can be SIGKILLed and started
//! again.

use std::path::PathBuf;
use std::time::Duration;

use jiff::SignedDuration;
use jit_aws::IdentityCenter;
use jit_contract::ticket::{self, TicketOutcome};
use jit_devstack::{
    AwsLimits, FaultProxy, ManagedChild, Sandbox, TemporalServer, Tools, ensure_tools, free_port,
    repo_root,
};
use jit_domain::{AccountId, AssignmentRef, Phase, TicketRequest};
pub use jit_e2e::{Handle, SELF_SERVICE_POLICY as POLICY, user};
use temporalio_client::Client;

/// AWS's documented limits, kept by the proxy.
pub const AWS: AwsLimits = AwsLimits {
    requests_per_second: 20,
    outstanding: 15,
    async_polls: 1,
};

pub struct Stack {
    pub tools: Tools,
    pub logs: PathBuf,
    temporal_server: TemporalServer,
    temporal: Option<ManagedChild>,
    _moto: ManagedChild,
    pub proxy: FaultProxy,
    pub client: Client,
    /// Straight to the sandbox: the truth about AWS.
    pub aws: IdentityCenter,
    pub task_queue: String,
    policy_file: PathBuf,
    workers: Vec<Option<ManagedChild>>,
    worker_env: Vec<(String, String)>,
}

impl Stack {
    /// Starts everything, with `workers` worker processes each allowed `rps` Identity Center
    /// requests per second.
    pub async fn start(name: &str, workers: usize, rps: f64) -> Stack {
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
            config: config.temporal.clone(),
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
        let client = jit_e2e::connect(
            &format!("http://{}", temporal_server.address()),
            &temporal_server.namespace,
            "jit-chaos",
        )
        .await;
        let aws = jit_e2e::sandbox(&sandbox.url(), &sandbox.region).await;
        let task_queue = format!("jit-{name}");
        let policy_file = logs.join("policy.yaml");
        std::fs::write(&policy_file, POLICY).expect("policy");
        let worker_env = vec![("JIT_AWS_REQUESTS_PER_SECOND".to_owned(), rps.to_string())];
        let mut s = Stack {
            tools,
            logs,
            temporal_server,
            temporal: Some(temporal),
            _moto: moto,
            proxy,
            client,
            aws,
            task_queue,
            policy_file,
            workers: (0..workers).map(|_| None).collect(),
            worker_env,
        };
        for i in 0..workers {
            s.start_worker(i);
        }
        s
    }

    pub fn start_worker(&mut self, i: usize) {
        let address = format!("http://{}", self.temporal_server.address());
        let setup = jit_e2e::WorkerSetup {
            temporal_address: &address,
            namespace: &self.temporal_server.namespace,
            task_queue: &self.task_queue,
            aws_url: &self.proxy.url(),
            region: "us-east-1",
            policy_file: &self.policy_file,
            rust_log: "info,temporalio_sdk_core=warn",
        };
        let cmd =
            jit_e2e::worker_command(env!("CARGO_BIN_EXE_e2e-worker"), &setup, &self.worker_env);
        let log = self.logs.join(format!("worker-{i}.log"));
        self.workers[i] = Some(ManagedChild::spawn("worker", cmd, &log, true).expect("worker"));
    }

    /// SIGKILL: the worker dies mid-whatever.
    pub fn kill_worker(&mut self, i: usize) {
        if let Some(mut w) = self.workers[i].take() {
            w.kill_hard();
        }
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

    pub fn worker_log_tail(&self) -> String {
        (0..self.workers.len())
            .map(|i| {
                format!(
                    "--- worker {i} ---\n{}",
                    jit_devstack::process::tail(&self.logs.join(format!("worker-{i}.log")), 40)
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub async fn new_account(&self, name: &str) -> AccountId {
        AccountId::parse(&self.aws.create_account(name).await.expect("account")).expect("id")
    }

    pub async fn assignment(&self, account: &AccountId, who: &str, ps: &str) -> AssignmentRef {
        jit_e2e::assignment(&self.aws, account, who, ps).await
    }

    /// Starts a ticket, retrying while the server is away.
    pub async fn start_ticket(&self, req: &TicketRequest) -> Handle {
        jit_e2e::start_ticket(
            &self.client,
            req,
            &self.task_queue,
            Duration::from_secs(120),
        )
        .await
    }

    /// The ticket's end, waiting through server restarts.
    pub async fn outcome(&self, h: &Handle, within: Duration) -> TicketOutcome {
        jit_e2e::outcome(h, within, || self.worker_log_tail()).await
    }

    /// Tickets whose `JitStatus` is `phase` now (visibility: answers without a worker).
    pub async fn in_phase(&self, phase: Phase) -> usize {
        let cond = format!(
            "{} = '{}' AND ExecutionStatus = 'Running'",
            jit_contract::search_attributes::STATUS.name(),
            phase.as_str()
        );
        self.count(ticket::Workflow::NAME, &cond).await.unwrap_or(0)
    }

    /// Closed workflows of `workflow_type` on this stack's queue.
    pub async fn closed(&self, workflow_type: &str) -> usize {
        self.count(workflow_type, "ExecutionStatus != 'Running'")
            .await
            .unwrap_or(usize::MAX)
    }

    /// Running workflows of `workflow_type` on this stack's queue.
    pub async fn running(&self, workflow_type: &str) -> usize {
        self.count(workflow_type, "ExecutionStatus = 'Running'")
            .await
            .unwrap_or(usize::MAX)
    }

    /// Workflows of `workflow_type` on this stack's queue matching `condition`; `None` if
    /// visibility did not answer.
    async fn count(&self, workflow_type: &str, condition: &str) -> Option<usize> {
        let q = format!(
            "WorkflowType = '{workflow_type}' AND TaskQueue = '{}' AND {condition}",
            self.task_queue
        );
        self.client
            .count_workflows(q, Default::default())
            .await
            .ok()
            .map(|c| c.count())
    }
}

/// A self-service request: `who` for `ps` in `account` for `duration`.
pub fn request(
    id: &str,
    who: &str,
    account: &AccountId,
    ps: &str,
    duration: SignedDuration,
) -> TicketRequest {
    let mut r = jit_e2e::request(id, who, who, account, ps, duration);
    r.justification = jit_domain::Justification::parse("chaos test").expect("text");
    r
}
