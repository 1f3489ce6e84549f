//! `TestApp`: one test's view of the shared stack — its own AWS account (so faults and
//! assignments never cross tests), its own task queue and worker process, a Temporal client,
//! and a direct line to the sandbox to check what really exists.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use jiff::SignedDuration;
use jit_aws::IdentityCenter;
use jit_contract::ticket::{self, TicketOutcome, VoteInput};
use jit_devstack::{ManagedChild, TestStack};
use jit_domain::{AccountId, AssignmentRef, Target, Ticket, TicketRequest};
pub use jit_e2e::{Handle, count, event_types, user};
use temporalio_client::{
    Client, WorkflowExecuteUpdateOptions, WorkflowFetchHistoryOptions, WorkflowQueryOptions,
    WorkflowSignalOptions,
};
use temporalio_common::protos::temporal::api::history::v1::HistoryEvent;

static NEXT: AtomicU32 = AtomicU32::new(0);

pub struct TestApp {
    pub stack: &'static TestStack,
    pub client: Client,
    /// Straight to the sandbox, bypassing the proxy: the truth about AWS.
    pub aws: IdentityCenter,
    pub task_queue: String,
    pub account: AccountId,
    pub name: String,
    /// The policy file this test's worker reads.
    pub policy_file: PathBuf,
    /// More environment for the worker (e.g. chat settings).
    worker_env: Vec<(String, String)>,
    worker: Option<ManagedChild>,
}

/// The policy of tests that need no special one: engineers may ask for ReadOnly and
/// Developer anywhere, SREs for anything (also for engineers), security for ReadOnly; one SRE
/// approves; erin is an admin.
pub const DEFAULT_POLICY: &str = r#"
admins: { users: [erin] }
eligibility:
  - { name: engineers, groups: [engineers], accounts: ["*"], permission_sets: [ReadOnly, Developer] }
  - { name: sre, groups: [sre], accounts: ["*"], permission_sets: ["*"] }
  - { name: security, groups: [security], accounts: ["*"], permission_sets: [ReadOnly] }
on_behalf:
  - { name: sre-for-engineers, requesters: [sre], principals: [engineers] }
plans:
  - name: standard
    accounts: ["*"]
    permission_sets: ["*"]
    steps:
      - { name: sre, groups: [sre], quorum: 1 }
    max_duration: 12h
    max_total: 24h
    approval_timeout: 24h
"#;

impl TestApp {
    /// A fresh account and a worker of its own for the test called `name`, with
    /// [`DEFAULT_POLICY`].
    pub async fn new(name: &str) -> TestApp {
        Self::with_policy(name, DEFAULT_POLICY).await
    }

    /// Like [`TestApp::new`] with the policy `policy` (YAML); `{account}` in it is replaced
    /// by the test's account id.
    pub async fn with_policy(name: &str, policy: &str) -> TestApp {
        Self::with_policy_env(name, policy, Vec::new()).await
    }

    /// Like [`TestApp::with_policy`], the worker started with `env` too.
    pub async fn with_policy_env(name: &str, policy: &str, env: Vec<(String, String)>) -> TestApp {
        let stack = TestStack::shared();
        let aws = jit_e2e::sandbox(&stack.sandbox_url, &stack.region).await;
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let account_name = format!("{name}-{n}");
        let account = AccountId::parse(&aws.create_account(&account_name).await.expect("account"))
            .expect("sandbox account id");
        let client = jit_e2e::connect(&stack.temporal_address, &stack.namespace, "jit-e2e").await;
        let task_queue = format!("jit-test-{name}-{n}");
        let policy_file = stack.logs.join(format!("policy-{task_queue}.yaml"));
        std::fs::write(&policy_file, policy.replace("{account}", account.as_str()))
            .expect("policy written");
        let mut app = TestApp {
            stack,
            client,
            aws,
            task_queue,
            account,
            name: name.to_owned(),
            policy_file,
            worker_env: env,
            worker: None,
        };
        app.start_worker();
        app
    }

    fn worker_log(&self) -> PathBuf {
        self.stack
            .logs
            .join(format!("worker-{}.log", self.task_queue))
    }

    pub fn start_worker(&mut self) {
        let child = self.spawn_worker("worker", &[]);
        self.worker = Some(child);
    }

    /// One more worker process for this test's queue (`name` names its log), with the test's
    /// worker environment and `extra` over it; it stops when dropped.
    pub fn spawn_worker(&self, name: &str, extra: &[(String, String)]) -> ManagedChild {
        let log = if name == "worker" {
            self.worker_log()
        } else {
            self.stack
                .logs
                .join(format!("{name}-{}.log", self.task_queue))
        };
        let setup = jit_e2e::WorkerSetup {
            temporal_address: &self.stack.temporal_address,
            namespace: &self.stack.namespace,
            task_queue: &self.task_queue,
            aws_url: &self.stack.proxy.url(),
            region: &self.stack.region,
            policy_file: &self.policy_file,
            rust_log: "info,temporalio_sdk_core=warn,jit_aws=debug",
        };
        let mut env = vec![
            // Directory changes made by a test show within a second.
            ("JIT_DIRECTORY_TTL".to_owned(), "1s".to_owned()),
        ];
        env.extend(self.worker_env.iter().cloned());
        env.extend(extra.iter().cloned());
        let cmd = jit_e2e::worker_command(env!("CARGO_BIN_EXE_e2e-worker"), &setup, &env);
        ManagedChild::spawn(name, cmd, &log, true).expect("the worker starts")
    }

    /// The environment the next [`TestApp::start_worker`] adds (e.g. other codec keys).
    pub fn set_worker_env(&mut self, env: Vec<(String, String)>) {
        self.worker_env = env;
    }

    pub fn worker_pid(&self) -> u32 {
        self.worker.as_ref().expect("a running worker").pid()
    }

    /// SIGKILL: the worker dies mid-whatever, as in a crash.
    pub fn kill_worker(&mut self) {
        if let Some(mut w) = self.worker.take() {
            w.kill_hard();
        }
    }

    /// SIGTERM, then waits for the worker to exit on its own; its exit status.
    pub async fn terminate_worker(&mut self, within: Duration) -> std::process::ExitStatus {
        let mut w = self.worker.take().expect("a running worker");
        jit_devstack::sys::kill(w.pid(), libc::SIGTERM).expect("SIGTERM sent");
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = w.exited() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the worker did not stop within {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn worker_log_text(&self) -> String {
        std::fs::read_to_string(self.worker_log()).unwrap_or_default()
    }

    /// A valid request for this test's account; adjust fields as needed.
    pub fn request(&self, suffix: &str, requester: &str, principal: &str) -> TicketRequest {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let id = format!("{}-{suffix}-{n}", self.name.replace('_', "-"));
        jit_e2e::request(
            &id,
            requester,
            principal,
            &self.account,
            "ReadOnly",
            SignedDuration::from_hours(8),
        )
    }

    pub fn target(&self, account: &AccountId, permission_set: &str) -> Target {
        jit_e2e::target(account, permission_set)
    }

    /// One more fresh account for this test.
    pub async fn another_account(&self) -> AccountId {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        AccountId::parse(
            &self
                .aws
                .create_account(&format!("{}-{n}", self.name))
                .await
                .expect("account"),
        )
        .expect("sandbox account id")
    }

    pub async fn start(&self, req: &TicketRequest) -> Handle {
        jit_e2e::start_ticket(&self.client, req, &self.task_queue, Duration::ZERO).await
    }

    pub async fn status(&self, h: &Handle) -> Ticket {
        h.query(ticket::Status, (), WorkflowQueryOptions::default())
            .await
            .expect("status query")
    }

    /// Polls `status` until `pred` holds, or panics with the last status after `timeout`.
    pub async fn wait_for(
        &self,
        h: &Handle,
        timeout: Duration,
        pred: impl Fn(&Ticket) -> bool,
    ) -> Ticket {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(t) = h
                .query(ticket::Status, (), WorkflowQueryOptions::default())
                .await
            {
                if pred(&t) {
                    return t;
                }
                if Instant::now() > deadline {
                    panic!(
                        "condition not reached in {timeout:?}; last status: {t:#?}\nworker log:\n{}",
                        self.worker_log_text()
                    );
                }
            } else if Instant::now() > deadline {
                panic!(
                    "no status in {timeout:?}\nworker log:\n{}",
                    self.worker_log_text()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn approve(&self, h: &Handle, approver: &str) -> Result<(), String> {
        self.vote(h, approver, true).await
    }

    pub async fn vote(&self, h: &Handle, approver: &str, approve: bool) -> Result<(), String> {
        let input = VoteInput {
            approver: user(approver),
            comment: (!approve).then(|| "not during the freeze".to_owned()),
        };
        let r = if approve {
            h.execute_update(
                ticket::Approve,
                input,
                WorkflowExecuteUpdateOptions::default(),
            )
            .await
        } else {
            h.execute_update(ticket::Deny, input, WorkflowExecuteUpdateOptions::default())
                .await
        };
        r.map(|_| ())
            .map_err(|e| jit_devstack::temporal_client::update_error_message(&e))
    }

    pub async fn approve_by_signal(&self, h: &Handle, approver: &str) {
        h.signal(
            ticket::ApproveSignal,
            VoteInput {
                approver: user(approver),
                comment: None,
            },
            WorkflowSignalOptions::default(),
        )
        .await
        .expect("signal");
    }

    pub async fn outcome(&self, h: &Handle, timeout: Duration) -> TicketOutcome {
        jit_e2e::outcome(h, timeout, || {
            format!("worker log:\n{}", self.worker_log_text())
        })
        .await
    }

    /// The assignment this test's requests resolve to, for `principal` and `permission_set`.
    pub async fn assignment(&self, principal: &str, permission_set: &str) -> AssignmentRef {
        self.assignment_in(&self.account, principal, permission_set)
            .await
    }

    pub async fn assignment_in(
        &self,
        account: &AccountId,
        principal: &str,
        permission_set: &str,
    ) -> AssignmentRef {
        jit_e2e::assignment(&self.aws, account, principal, permission_set).await
    }

    /// How many assignments of the account's ReadOnly permission set exist for `principal`
    /// (duplicates count: AWS and moto accept them).
    pub async fn assignment_count(&self, principal: &str, permission_set: &str) -> usize {
        self.assignment_count_in(&self.account, principal, permission_set)
            .await
    }

    pub async fn assignment_count_in(
        &self,
        account: &AccountId,
        principal: &str,
        permission_set: &str,
    ) -> usize {
        let a = self.assignment_in(account, principal, permission_set).await;
        self.aws
            .count_assignments(&a)
            .await
            .expect("list assignments")
    }

    /// Lets the dev server skip time for this workflow (skips whenever nothing is in flight).
    pub async fn skip_time(&self, h: &Handle) {
        jit_devstack::temporal_client::enable_time_skipping(
            &self.client,
            &self.stack.namespace,
            &h.info().workflow_id,
        )
        .await
        .expect("time skipping enabled");
    }

    pub async fn history(&self, h: &Handle) -> Vec<HistoryEvent> {
        h.fetch_history(WorkflowFetchHistoryOptions::default())
            .into_events()
            .await
            .expect("history")
    }

    /// Writes the ticket's history to `tests/histories/<name>.json` when
    /// `JIT_RECORD_HISTORIES=1` (how the committed replay histories are made).
    pub async fn maybe_record_history(&self, h: &Handle, name: &str) {
        self.maybe_record_workflow(h.info().workflow_id.as_str(), name)
            .await;
    }

    /// Like [`TestApp::maybe_record_history`] for any workflow, by id.
    pub async fn maybe_record_workflow(&self, workflow_id: &str, name: &str) {
        if std::env::var("JIT_RECORD_HISTORIES").as_deref() != Ok("1") {
            return;
        }
        let h = self
            .client
            .get_workflow_handle::<temporalio_client::UntypedWorkflow>(workflow_id.to_owned());
        let json = h
            .fetch_history(WorkflowFetchHistoryOptions::default())
            .to_json()
            .await
            .expect("history json");
        let path = jit_devstack::repo_root()
            .join("tests/histories")
            .join(format!("{name}.json"));
        std::fs::write(&path, json).expect("history written");
        eprintln!("recorded {}", path.display());
    }

    /// Runs the reconciler over this test's account for `permission_set` (workflow id
    /// `id`) on this test's worker, and waits up to `within` for its report.
    pub async fn reconcile(
        &self,
        permission_set: &str,
        dry_run: bool,
        id: &str,
        within: Duration,
    ) -> jit_contract::reconcile::ReconcileReport {
        let input = jit_contract::reconcile::ReconcileInput {
            permission_sets: vec![permission_set.into()],
            dry_run,
            accounts: vec![self.account.to_string()],
        };
        let h = self
            .client
            .start_workflow(
                jit_contract::reconcile::Workflow,
                input,
                temporalio_client::WorkflowStartOptions::new(
                    self.task_queue.clone(),
                    id.to_owned(),
                )
                .build(),
            )
            .await
            .expect("reconcile started");
        tokio::time::timeout(
            within,
            h.get_result(temporalio_client::WorkflowGetResultOptions::default()),
        )
        .await
        .expect("reconcile ends")
        .expect("report")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- worker log ({}) ---\n{}",
                self.task_queue,
                jit_devstack::process::tail(&self.worker_log(), 60)
            );
        }
    }
}

/// Scrapes `url` until `ok` holds of the body (within a minute); the body.
pub async fn scrape_until(url: &str, ok: impl Fn(&str) -> bool) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let body = scrape(url).await;
        if ok(&body) {
            return body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not as expected within {:?}:\n{}",
            Duration::from_secs(60),
            body.lines()
                .filter(|l| l.starts_with("jit_") && !l.contains("_bucket"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The body of `GET url` (a `/metrics` endpoint).
pub async fn scrape(url: &str) -> String {
    reqwest::get(url)
        .await
        .expect("the endpoint serves /metrics")
        .text()
        .await
        .expect("a body")
}

/// Worker environment that serves metrics on a free port; the `/metrics` URL.
pub fn metrics_env() -> (Vec<(String, String)>, String) {
    let port = jit_devstack::process::free_port().expect("a free port");
    (
        vec![("JIT_METRICS_ADDRESS".into(), format!("127.0.0.1:{port}"))],
        format!("http://127.0.0.1:{port}/metrics"),
    )
}

/// The value of the series named exactly `series` (name and labels as exposed) in `body`.
pub fn series_value(body: &str, series: &str) -> Option<f64> {
    body.lines().find_map(|l| {
        let rest = l.strip_prefix(series)?;
        rest.starts_with(' ').then(|| rest.trim().parse().ok())?
    })
}
