//! The test kit shared by the end-to-end suite (`e2e/`) and the burst and chaos suites
//! (`chaos/`): requests, the truth about AWS, worker processes, tickets started and awaited
//! through the contract's definitions, history helpers and the policies tests use.
//!
//! Each suite keeps only what is its own: `e2e`'s `TestApp` (one test's view of the shared
//! stack), `chaos`'s `Stack` (a stack of its own that can be restarted).

pub mod bare;
pub mod evictions;
pub mod stack;
pub mod trail;
pub mod update_order;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use jiff::SignedDuration;
use jit_aws::{AwsSettings, IdentityCenter};
use jit_contract::ticket::{self, TicketOutcome};
use jit_domain::{
    AccountId, AssignmentRef, Justification, PermissionSetName, Principal, PrincipalType, Target,
    TicketId, TicketRequest, UserName,
};
use temporalio_client::{Client, WorkflowGetResultOptions, WorkflowHandle};
use temporalio_common::protos::temporal::api::history::v1::HistoryEvent;

/// A ticket's handle, typed by the contract.
pub type Handle = WorkflowHandle<Client, ticket::Workflow>;

/// Every seeded user may ask for any permission set in any account; no approval needed.
pub const SELF_SERVICE_POLICY: &str = r#"
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

/// A request for one permission set in one account for `seconds`, as the gRPC API takes it.
pub fn create_request(
    request_id: &str,
    account: &str,
    permission_set: &str,
    seconds: i64,
    justification: &str,
) -> jit_proto::v1::CreateTicketRequest {
    jit_proto::v1::CreateTicketRequest {
        request_id: request_id.to_owned(),
        targets: vec![jit_proto::v1::Target {
            account_id: account.to_owned(),
            account_name: String::new(),
            permission_set: permission_set.to_owned(),
        }],
        duration: Some(prost_types::Duration { seconds, nanos: 0 }),
        justification: justification.to_owned(),
        ..Default::default()
    }
}

/// The web console served from `dir` with dev sign-in as one of `users` (no OIDC).
pub fn dev_console(dir: &Path, users: &[&str]) -> jit_config::ConsoleSettings {
    jit_config::ConsoleSettings {
        dir: dir.to_path_buf(),
        client_id: None,
        scope: "openid profile".into(),
        resource: None,
        dev_users: users.iter().map(|u| (*u).to_owned()).collect(),
    }
}

pub fn user(name: &str) -> UserName {
    UserName::parse(name).expect("valid user name")
}

pub fn target(account: &AccountId, permission_set: &str) -> Target {
    Target {
        account: account.clone(),
        permission_set: PermissionSetName::parse(permission_set).expect("permission set name"),
    }
}

/// A valid request: `requester` asks for `principal` to get `permission_set` in `account`
/// for `duration`.
pub fn request(
    id: &str,
    requester: &str,
    principal: &str,
    account: &AccountId,
    permission_set: &str,
    duration: SignedDuration,
) -> TicketRequest {
    TicketRequest {
        ticket_id: TicketId::parse(id).expect("ticket id"),
        requester: user(requester),
        principal: Principal::User(user(principal)),
        targets: vec![target(account, permission_set)],
        bundle: None,
        duration,
        justification: Justification::parse("investigating incident INC-42").expect("text"),
        start_at: None,
        break_glass: false,
    }
}

/// A client straight to the sandbox at `url` (no proxy, no rate limit): the truth about AWS.
pub async fn sandbox(url: &str, region: &str) -> IdentityCenter {
    IdentityCenter::connect(&AwsSettings {
        region: region.to_owned(),
        endpoint_url: Some(url.to_owned()),
        requests_per_second: 0.0,
    })
    .await
}

/// The assignment a request of `principal` for `permission_set` in `account` resolves to.
pub async fn assignment(
    aws: &IdentityCenter,
    account: &AccountId,
    principal: &str,
    permission_set: &str,
) -> AssignmentRef {
    let instance = aws.instance().await.expect("instance").clone();
    AssignmentRef {
        instance_arn: instance.arn,
        account: account.clone(),
        permission_set_arn: aws
            .permission_set_arn(&PermissionSetName::parse(permission_set).expect("name"))
            .await
            .expect("lookup")
            .expect("seeded permission set"),
        principal_type: PrincipalType::User,
        principal_id: aws
            .user_id(&user(principal))
            .await
            .expect("lookup")
            .expect("seeded user"),
    }
}

/// Where a worker process connects and what it reads.
pub struct WorkerSetup<'a> {
    pub temporal_address: &'a str,
    pub namespace: &'a str,
    pub task_queue: &'a str,
    pub aws_url: &'a str,
    pub region: &'a str,
    pub policy_file: &'a Path,
    pub rust_log: &'a str,
}

/// A worker for benchmarks, in this process on a thread of its own (its run loop is not
/// `Send`): the local stack's worker settings pointed at `stack`, on `task_queue` with
/// `policy_file`. It runs until the process ends.
pub fn spawn_worker_thread(
    stack: &jit_devstack::TestStack,
    task_queue: &str,
    policy_file: &Path,
) -> anyhow::Result<()> {
    let mut cfg = stack.config.clone();
    cfg.source = jit_devstack::repo_root().join("temporal-dev.yaml");
    let mut settings = cfg.worker_settings(&|_: &str| None)?;
    settings.temporal_address = stack.temporal_address.clone();
    settings.namespace = stack.namespace.clone();
    settings.task_queue = task_queue.to_owned();
    settings.aws_endpoint_url = Some(stack.sandbox_url.clone());
    settings.policy_file = policy_file.to_owned();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime for the worker");
        rt.block_on(async {
            let w = jit_worker::Worker::build(settings).await.expect("worker");
            w.run_until_stopped(std::future::pending()).await
        })
    });
    Ok(())
}

/// A jit-api's settings for tests and benchmarks: the Temporal at `temporal_address`, tickets
/// on `task_queue` under `policy_file`, dev tokens, the worker's default caps, no TLS, no chat
/// endpoints, no metrics (adjust the fields as needed).
pub fn api_settings(
    temporal_address: &str,
    namespace: &str,
    task_queue: &str,
    policy_file: &Path,
) -> jit_config::ApiSettings {
    jit_config::ApiSettings {
        listen: "127.0.0.1:0".into(),
        temporal_address: temporal_address.to_owned(),
        namespace: namespace.to_owned(),
        task_queue: task_queue.to_owned(),
        policy_file: policy_file.to_owned(),
        limits: jit_domain::Limits::default(),
        dev_auth: true,
        jwt: None,
        tls: None,
        http_listen: None,
        chat: Default::default(),
        metrics: None,
        temporal_tls: None,
        temporal_api_key: None,
        codec_keys: None,
        codec_origins: Vec::new(),
        web_origins: Vec::new(),
        console: None,
    }
}

/// Where a jit-api process connects, what it reads and where it listens.
pub struct ApiSetup<'a> {
    pub temporal_address: &'a str,
    pub namespace: &'a str,
    pub task_queue: &'a str,
    pub policy_file: &'a Path,
    pub grpc_port: u16,
    /// Chat and the codec server.
    pub http_port: u16,
}

/// The command line of a jit-api process (`bin`: the test package's `e2e-api`): dev tokens,
/// no metrics, none of the SDK's `TEMPORAL_*` variables.
pub fn api_command(bin: &str, w: &ApiSetup<'_>) -> Command {
    let mut cmd = Command::new(bin);
    for k in jit_config::SDK_VARS {
        cmd.env_remove(k);
    }
    cmd.arg("--config")
        .arg(jit_devstack::repo_root().join("temporal-dev.yaml"))
        .env("JIT_TEMPORAL_ADDRESS", w.temporal_address)
        .env("JIT_TEMPORAL_NAMESPACE", w.namespace)
        .env("JIT_TASK_QUEUE", w.task_queue)
        .env("JIT_POLICY_FILE", w.policy_file)
        .env("JIT_API_PORT", w.grpc_port.to_string())
        .env("JIT_API_HTTP_PORT", w.http_port.to_string())
        .env("JIT_API_METRICS_ADDRESS", "off")
        .env("JIT_API_DEV_AUTH", "true")
        .env("RUST_LOG", "info");
    cmd
}

/// A process's log as text, without the terminal colours of the text log format.
pub fn plain_log(path: &Path) -> String {
    let raw = std::fs::read_to_string(path).unwrap_or_default();
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            chars.by_ref().find(char::is_ascii_alphabetic);
        } else {
            out.push(c);
        }
    }
    out
}

/// The command line of a worker process (`bin`: the test package's `e2e-worker`), with
/// `extra` environment: no reconcile schedule (tests run reconcile themselves, scoped), no
/// ambient AWS credentials.
pub fn worker_command(bin: &str, w: &WorkerSetup<'_>, extra: &[(String, String)]) -> Command {
    let mut cmd = Command::new(bin);
    cmd.arg("--config")
        .arg(jit_devstack::repo_root().join("temporal-dev.yaml"))
        .env("JIT_TEMPORAL_ADDRESS", w.temporal_address)
        .env("JIT_TEMPORAL_NAMESPACE", w.namespace)
        .env("JIT_TASK_QUEUE", w.task_queue)
        .env("JIT_AWS_ENDPOINT_URL", w.aws_url)
        .env("JIT_AWS_REGION", w.region)
        .env("JIT_POLICY_FILE", w.policy_file)
        .env("JIT_RECONCILE_PERMISSION_SETS", "")
        .env("JIT_METRICS_ADDRESS", "off")
        .env("JIT_HEALTH_ADDRESS", "off")
        .env("RUST_LOG", w.rust_log)
        .env_remove("AWS_ACCESS_KEY_ID");
    for k in jit_config::SDK_VARS {
        cmd.env_remove(k);
    }
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd
}

/// Connects to the Temporal frontend at `address` (no waiting: the tests' servers are up).
pub async fn connect(address: &str, namespace: &str, role: &str) -> Client {
    jit_temporal::connect(&jit_temporal::Target::plain(
        address,
        namespace,
        role,
        Duration::from_secs(10),
    ))
    .await
    .expect("connected to Temporal")
}

/// Starts the ticket `req` on `task_queue`; while the server is away (a restart), retries
/// for up to `patience`. A ticket already started counts as started.
pub async fn start_ticket(
    client: &Client,
    req: &TicketRequest,
    task_queue: &str,
    patience: Duration,
) -> Handle {
    let deadline = Instant::now() + patience;
    loop {
        match client
            .start_workflow(
                ticket::Workflow,
                req.clone().into(),
                jit_temporal::ticket_start_options(req, task_queue),
            )
            .await
        {
            Ok(_) | Err(temporalio_client::errors::WorkflowStartError::AlreadyStarted { .. }) => {
                break;
            }
            Err(e) => {
                assert!(Instant::now() < deadline, "cannot start a ticket: {e}");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
    client.get_workflow_handle::<ticket::Workflow>(req.ticket_id.workflow_id())
}

/// The ticket's end, waiting through server restarts for up to `within`; on timeout panics
/// with `context()` (e.g. the workers' logs).
pub async fn outcome(h: &Handle, within: Duration, context: impl Fn() -> String) -> TicketOutcome {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, h.get_result(WorkflowGetResultOptions::default())).await {
            Ok(Ok(o)) => return o,
            Ok(Err(e)) if Instant::now() < deadline => {
                if std::env::var_os("JIT_TEST_VERBOSE").is_some() {
                    eprintln!("waiting for {}: {e}", h.info().workflow_id);
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            other => panic!(
                "{} did not end within {within:?}: {other:?}\n{}",
                h.info().workflow_id,
                context()
            ),
        }
    }
}

/// Names of the history's event types, in order (e.g. `TimerStarted`).
pub fn event_types(events: &[HistoryEvent]) -> Vec<String> {
    use temporalio_common::protos::temporal::api::enums::v1::EventType;
    events
        .iter()
        .map(|e| {
            EventType::try_from(e.event_type)
                .map(|t| t.as_str_name().trim_start_matches("EVENT_TYPE_").to_owned())
                .unwrap_or_else(|_| e.event_type.to_string())
        })
        .collect()
}

pub fn count(types: &[String], name: &str) -> usize {
    types.iter().filter(|t| *t == name).count()
}
