//! `Stack`: a stack of one test's own — a Temporal dev server *with a database file* (so it
//! can be restarted mid-flight and keep every ticket), a seeded sandbox, a fault proxy that
//! keeps AWS's limits, and any number of worker processes that can be SIGKILLed and started
//! again.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use jiff::SignedDuration;
use jit_aws::{AwsSettings, IdentityCenter};
use jit_devstack::{
    AwsLimits, FaultProxy, ManagedChild, Sandbox, TemporalServer, Tools, ensure_tools, free_port,
    repo_root,
};
use jit_domain::{
    AccountId, AssignmentRef, Justification, PermissionSetName, Phase, Principal, PrincipalType,
    Target, TicketId, TicketRequest, UserName,
};
use jit_workflows::{TicketOutcome, TicketWorkflow, start_options};
use temporalio_client::{Client, WorkflowGetResultOptions, WorkflowHandle};

pub type Handle = WorkflowHandle<Client, TicketWorkflow>;

/// Every seeded user may ask for any permission set in any account; no approval needed.
pub const POLICY: &str = r#"
eligibility:
  - { name: anyone, groups: [engineers, sre, security], accounts: ["*"], permission_sets: ["*"] }
plans:
  - name: self-service
    accounts: ["*"]
    permission_sets: ["*"]
    steps: []
    max_duration: 2h
    max_total: 4h
    approval_timeout: 1h
"#;

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
        let client = jit_devstack::temporal_client::connect(
            &format!("http://{}", temporal_server.address()),
            &temporal_server.namespace,
            "jit-chaos",
        )
        .await
        .expect("client");
        let aws = IdentityCenter::connect(&AwsSettings {
            region: sandbox.region.clone(),
            endpoint_url: Some(sandbox.url()),
            requests_per_second: 0.0,
        })
        .await;
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
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_e2e-worker"));
        cmd.arg("--config")
            .arg(repo_root().join("temporal-dev.yaml"))
            .env(
                "JIT_TEMPORAL_ADDRESS",
                format!("http://{}", self.temporal_server.address()),
            )
            .env("JIT_TEMPORAL_NAMESPACE", &self.temporal_server.namespace)
            .env("JIT_TASK_QUEUE", &self.task_queue)
            .env("JIT_AWS_ENDPOINT_URL", self.proxy.url())
            .env("JIT_AWS_REGION", "us-east-1")
            .env("JIT_POLICY_FILE", &self.policy_file)
            .env("JIT_RECONCILE_PERMISSION_SETS", "")
            .env("RUST_LOG", "info,temporalio_sdk_core=warn")
            .env_remove("AWS_ACCESS_KEY_ID");
        for (k, v) in &self.worker_env {
            cmd.env(k, v);
        }
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
        let instance = self.aws.instance().await.expect("instance").clone();
        AssignmentRef {
            instance_arn: instance.arn,
            account: account.clone(),
            permission_set_arn: self
                .aws
                .permission_set_arn(&PermissionSetName::parse(ps).expect("name"))
                .await
                .expect("lookup")
                .expect("seeded"),
            principal_type: PrincipalType::User,
            principal_id: self
                .aws
                .user_id(&user(who))
                .await
                .expect("lookup")
                .expect("seeded user"),
        }
    }

    /// Starts a ticket, retrying while the server is away.
    pub async fn start_ticket(&self, req: &TicketRequest) -> Handle {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            match self
                .client
                .start_workflow(
                    TicketWorkflow::run,
                    req.clone().into(),
                    start_options(req, &self.task_queue),
                )
                .await
            {
                Ok(_) => break,
                Err(temporalio_client::errors::WorkflowStartError::AlreadyStarted { .. }) => break,
                Err(e) => {
                    assert!(Instant::now() < deadline, "cannot start a ticket: {e}");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
        self.client
            .get_workflow_handle::<TicketWorkflow>(req.ticket_id.workflow_id())
    }

    /// The ticket's end, waiting through server restarts.
    pub async fn outcome(&self, h: &Handle, within: Duration) -> TicketOutcome {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, h.get_result(WorkflowGetResultOptions::default()))
                .await
            {
                Ok(Ok(o)) => return o,
                Ok(Err(e)) if Instant::now() < deadline => {
                    tracing_free_note(&format!("waiting for {}: {e}", h.info().workflow_id));
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                other => panic!(
                    "{} did not end within {within:?}: {other:?}\n{}",
                    h.info().workflow_id,
                    self.worker_log_tail()
                ),
            }
        }
    }

    /// Tickets whose `JitStatus` is `phase` now (visibility: answers without a worker).
    pub async fn in_phase(&self, phase: Phase) -> usize {
        let cond = format!(
            "JitStatus = '{}' AND ExecutionStatus = 'Running'",
            phase.as_str()
        );
        self.count("TicketWorkflow", &cond).await.unwrap_or(0)
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

fn tracing_free_note(line: &str) {
    if std::env::var_os("JIT_CHAOS_VERBOSE").is_some() {
        eprintln!("{line}");
    }
}

pub fn user(name: &str) -> UserName {
    UserName::parse(name).expect("user name")
}

/// A self-service request: `who` for `ps` in `account` for `duration`.
pub fn request(
    id: &str,
    who: &str,
    account: &AccountId,
    ps: &str,
    duration: SignedDuration,
) -> TicketRequest {
    TicketRequest {
        ticket_id: TicketId::parse(id).expect("ticket id"),
        requester: user(who),
        principal: Principal::User(user(who)),
        targets: vec![Target {
            account: account.clone(),
            permission_set: PermissionSetName::parse(ps).expect("name"),
        }],
        bundle: None,
        duration,
        justification: Justification::parse("chaos test").expect("text"),
        start_at: None,
        break_glass: false,
    }
}
