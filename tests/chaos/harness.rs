//! `Stack`: a stack of one test's own — a Temporal dev server *with a database file* (so it
//! can be restarted mid-flight and keep every ticket), a seeded sandbox, a fault proxy that
//! keeps AWS's limits, and any number of worker processes that can be SIGKILLed and started
//! again.

use std::path::PathBuf;
use std::time::Duration;

use jiff::SignedDuration;
use jit_contract::ticket::{self, TicketOutcome};
use jit_devstack::{AwsLimits, ManagedChild};
use jit_domain::{AccountId, AssignmentRef, Phase, TicketRequest};
use jit_e2e::stack::OwnStack;
pub use jit_e2e::{Handle, SELF_SERVICE_POLICY as POLICY, user};

/// AWS's documented limits, kept by the proxy.
pub const AWS: AwsLimits = AwsLimits {
    requests_per_second: 20,
    outstanding: 15,
    async_polls: 1,
};

/// Who may hold which permission sets (every seeded user; 14 keys per account).
pub const KEYS: &[(&str, &str)] = &[
    ("alice", "ReadOnly"),
    ("alice", "Developer"),
    ("bob", "ReadOnly"),
    ("bob", "Developer"),
    ("frank", "ReadOnly"),
    ("frank", "Developer"),
    ("carol", "ReadOnly"),
    ("carol", "Developer"),
    ("carol", "Admin"),
    ("dave", "ReadOnly"),
    ("dave", "Developer"),
    ("dave", "Admin"),
    ("erin", "ReadOnly"),
    ("gina", "ReadOnly"),
];

/// The test's own stack ([`OwnStack`]: server, sandbox, proxy, reached through `Deref`) and
/// its workers on one task queue.
pub struct Stack {
    own: OwnStack,
    pub task_queue: String,
    policy_file: PathBuf,
    workers: Vec<Option<ManagedChild>>,
    worker_env: Vec<(String, String)>,
}

impl std::ops::Deref for Stack {
    type Target = OwnStack;
    fn deref(&self) -> &OwnStack {
        &self.own
    }
}

impl Stack {
    /// Starts everything, with `workers` worker processes each allowed `rps` Identity Center
    /// requests per second.
    pub async fn start(name: &str, workers: usize, rps: f64) -> Stack {
        let env = vec![("JIT_AWS_REQUESTS_PER_SECOND".to_owned(), rps.to_string())];
        Self::start_with_env(name, workers, env).await
    }

    /// Like [`Stack::start`], every worker with `worker_env`.
    pub async fn start_with_env(
        name: &str,
        workers: usize,
        worker_env: Vec<(String, String)>,
    ) -> Stack {
        let own = OwnStack::start(name).await;
        let task_queue = format!("jit-{name}");
        let policy_file = own.logs.join("policy.yaml");
        std::fs::write(&policy_file, POLICY).expect("policy");
        let mut s = Stack {
            own,
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
        let worker = self.own.worker(
            std::path::Path::new(env!("CARGO_BIN_EXE_e2e-worker")),
            &self.task_queue,
            &self.policy_file,
            &self.worker_env,
            &format!("worker-{i}"),
        );
        self.workers[i] = Some(worker);
    }

    /// A jit-api process (the real binary, dev tokens) on this stack's queue: the process and
    /// its gRPC port.
    pub fn start_api(&self, name: &str) -> (ManagedChild, u16) {
        let port = jit_devstack::free_port().expect("port");
        let http = jit_devstack::free_port().expect("port");
        let address = self.temporal_address();
        let setup = jit_e2e::ApiSetup {
            temporal_address: &address,
            namespace: &self.temporal_server.namespace,
            task_queue: &self.task_queue,
            policy_file: &self.policy_file,
            grpc_port: port,
            http_port: http,
        };
        let cmd = jit_e2e::api_command(env!("CARGO_BIN_EXE_e2e-api"), &setup);
        (self.own.spawn(cmd, name), port)
    }

    /// The log of worker `i` so far (without terminal colours).
    pub fn worker_log(&self, i: usize) -> String {
        jit_e2e::plain_log(&self.logs.join(format!("worker-{i}.log")))
    }

    /// SIGKILL: the worker dies mid-whatever.
    pub fn kill_worker(&mut self, i: usize) {
        if let Some(mut w) = self.workers[i].take() {
            w.kill_hard();
        }
    }

    /// Stops the dev server (SIGTERM) and starts it again on the same port and database file.
    pub async fn restart_temporal(&mut self) {
        self.own.restart_temporal().await;
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

    /// Fails naming what is left if `accounts` hold any assignment of the seeded permission
    /// sets.
    pub async fn assert_nothing_assigned(&self, accounts: &[AccountId]) {
        for (n, account) in accounts.iter().enumerate() {
            for ps in ["ReadOnly", "Developer", "Admin"] {
                let a = self.assignment(account, "alice", ps).await;
                let rows = self
                    .aws
                    .list_assignments(&a.instance_arn, account, &a.permission_set_arn)
                    .await
                    .expect("list");
                assert!(
                    rows.is_empty(),
                    "account {n} ({account}) {ps}: {rows:?} left"
                );
            }
        }
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
