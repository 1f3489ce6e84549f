//! One stack, the runs on it, and the memory phase.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use jit_contract::ticket;
use jit_domain::{AccountId, Phase};
use jit_e2e::bare::{self, Bare, BareInput};
use jit_e2e::stack::OwnStack;
use jit_proto::v1 as pb;
use jit_proto::v1::ticket_service_client::TicketServiceClient;
use temporalio_client::{
    WorkflowExecuteUpdateOptions, WorkflowGetResultOptions, WorkflowQueryOptions,
    WorkflowStartOptions,
};
use tokio::sync::Semaphore;
use tonic::transport::Channel;

use crate::Args;

/// What a jit run adds to the plain one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Extra {
    None,
    Metrics,
    Codec,
}
use crate::measure::{self, EngineWork};

/// Engineers ask; one SRE approves; access as short as a second.
pub(crate) const POLICY: &str = r#"
eligibility:
  - { name: engineers, groups: [engineers], accounts: ["*"], permission_sets: ["*"] }
plans:
  - name: one-step
    accounts: ["*"]
    permission_sets: ["*"]
    steps:
      - { name: sre, groups: [sre], quorum: 1 }
    max_duration: 1h
    max_total: 2h
    approval_timeout: 1h
"#;

/// Who asks (each ticket its own assignment: account × requester) and who approves.
const REQUESTERS: [&str; 3] = ["alice", "bob", "frank"];
const APPROVER: &str = "carol";
/// How long access lasts (the peer's grant).
const GRANT: Duration = Duration::from_secs(5);

/// One run's figures.
#[derive(Debug, Clone)]
pub(crate) struct Run {
    pub mode: String,
    pub round: usize,
    pub tickets: usize,
    pub in_flight: usize,
    pub ended_as_expected: usize,
    pub wall_s: f64,
    pub tickets_per_s: f64,
    pub approvals_per_s: f64,
    /// Approve → active, workflow time, ms: p50, p95, p99.
    pub approve_to_active_ms: [f64; 3],
    /// Expiry → ended, ms: p50, p99.
    pub revocation_lag_ms: [f64; 2],
    pub work: EngineWork,
    pub server_cpu_s: f64,
    pub worker_cpu_s: f64,
    pub moto_cpu_s: f64,
    pub aws_requests: usize,
    pub worker_peak_rss_mb: f64,
    pub leaked: usize,
}

/// The memory phase's figures.
#[derive(Debug, Clone)]
pub(crate) struct Memory {
    pub open_tickets: usize,
    pub rss_mb: f64,
    pub peak_rss_mb: f64,
    pub cached_workflows: usize,
}

struct Bench {
    stack: OwnStack,
    args: Args,
    accounts: Vec<AccountId>,
    policy_file: std::path::PathBuf,
}

pub(crate) async fn all(args: &Args) -> anyhow::Result<(Vec<Run>, Vec<Memory>)> {
    let stack = OwnStack::start("ticket-bench").await;
    let policy_file = stack.logs.join("policy.yaml");
    std::fs::write(&policy_file, POLICY)?;
    let need = args.tickets.div_ceil(REQUESTERS.len());
    let mut accounts = Vec::with_capacity(need);
    for i in 0..need {
        let id = stack.aws.create_account(&format!("bench-{i}")).await?;
        accounts.push(AccountId::parse(&id)?);
    }
    let b = Arc::new(Bench {
        stack,
        args: args.clone(),
        accounts,
        policy_file,
    });
    let mut runs = Vec::new();
    for round in 0..args.runs {
        for mode in &args.modes {
            eprintln!("== round {round}, {mode}");
            let r = match mode.as_str() {
                "jit" => b.jit(round, mode, 18.0, Extra::None).await?,
                "jit-raised" => b.jit(round, mode, 1000.0, Extra::None).await?,
                "jit-metrics" => b.jit(round, mode, 1000.0, Extra::Metrics).await?,
                "jit-codec" => b.jit(round, mode, 1000.0, Extra::Codec).await?,
                "bare" => b.bare(round).await?,
                other => anyhow::bail!(
                    "unknown mode {other} (jit, jit-raised, jit-metrics, jit-codec, bare)"
                ),
            };
            eprintln!(
                "   {:.1} tickets/s, approve→active p50 {:.0} ms, {} events/ticket",
                r.tickets_per_s,
                r.approve_to_active_ms[0],
                r.work.events / r.tickets.max(1)
            );
            runs.push(r);
        }
    }
    let mut memory = Vec::new();
    if args.memory > 0 {
        for (i, cache) in args.cache.iter().enumerate() {
            eprintln!(
                "== memory: {} open tickets, sticky cache {cache}",
                args.memory
            );
            memory.push(b.memory(args.memory, *cache, i).await?);
        }
    }
    Ok((runs, memory))
}

fn as_user<T>(user: &str, msg: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.metadata_mut().insert(
        "authorization",
        format!("Bearer dev:{user}").parse().expect("ascii"),
    );
    r
}

/// CPU of each process before a run, to subtract after it.
struct Cpu {
    server: f64,
    worker: f64,
    moto: f64,
}

impl Bench {
    fn cpu(&self, worker: u32) -> Cpu {
        Cpu {
            server: measure::cpu_seconds(self.stack.temporal_pid()),
            worker: measure::cpu_seconds(worker),
            moto: measure::cpu_seconds(self.stack.moto_pid()),
        }
    }

    /// jit-api in this process, for `task_queue`, allowing grants of a second; payloads
    /// encrypted with `codec_keys` when given.
    async fn api(
        &self,
        task_queue: &str,
        codec_keys: Option<&str>,
    ) -> anyhow::Result<TicketServiceClient<Channel>> {
        let api = jit_api::Api::build({
            let mut s = jit_e2e::api_settings(
                &self.stack.temporal_address(),
                self.stack.namespace(),
                task_queue,
                &self.policy_file,
            );
            s.limits.min_duration = SignedDuration::from_secs(1);
            s.codec_keys = codec_keys
                .map(jit_config::CodecKeys::parse)
                .transpose()
                .map_err(anyhow::Error::msg)?;
            s
        })
        .await?;
        let addr = api.local_addr()?;
        tokio::spawn(api.run_until_stopped(std::future::pending()));
        Ok(TicketServiceClient::connect(format!("http://{addr}")).await?)
    }

    fn create_msg(&self, id: &str, i: usize) -> (String, pb::CreateTicketRequest) {
        let requester = REQUESTERS[i % REQUESTERS.len()];
        let account = &self.accounts[i / REQUESTERS.len()];
        let msg = jit_e2e::create_request(
            id,
            account.as_str(),
            "ReadOnly",
            GRANT.as_secs() as i64,
            "benchmarking the engine's cost per ticket",
        );
        (requester.to_owned(), msg)
    }

    /// One ticket through the front door: create, approve once it waits, its end; the
    /// workflow-time figures from its status.
    async fn one_jit(
        &self,
        client: &temporalio_client::Client,
        api: &mut TicketServiceClient<Channel>,
        tag: &str,
        i: usize,
    ) -> anyhow::Result<(Instant, Option<(f64, f64)>, bool)> {
        let (requester, msg) = self.create_msg(&format!("{tag}-{i}"), i);
        let t = api
            .create_ticket(as_user(&requester, msg))
            .await?
            .into_inner()
            .ticket
            .ok_or_else(|| anyhow::anyhow!("no ticket"))?;
        // Approve as soon as it waits for votes (the update refuses before: wrong phase).
        let approved_at = loop {
            match api
                .approve_ticket(as_user(
                    APPROVER,
                    pb::ApproveTicketRequest {
                        ticket_id: t.ticket_id.clone(),
                        comment: String::new(),
                    },
                ))
                .await
            {
                Ok(_) => break Instant::now(),
                Err(s) if s.code() == tonic::Code::FailedPrecondition => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(s) => anyhow::bail!("approving {}: {s}", t.ticket_id),
            }
        };
        let h = client.get_workflow_handle::<ticket::Workflow>(format!("ticket-{}", t.ticket_id));
        let outcome = h.get_result(WorkflowGetResultOptions::default()).await?;
        let status = h
            .query(ticket::Status, (), WorkflowQueryOptions::default())
            .await?;
        let ms = |a: Option<Timestamp>, b: Option<Timestamp>| {
            a.zip(b)
                .map(|(a, b)| b.duration_since(a).as_secs_f64() * 1000.0)
        };
        let figures =
            ms(status.approved_at, status.active_since).zip(ms(status.expires_at, status.ended_at));
        Ok((approved_at, figures, outcome.phase == Phase::Expired))
    }

    /// A jit run; [`Extra::Metrics`]: the worker serves its Prometheus endpoint (scraped once
    /// at the end, to be sure it was on); [`Extra::Codec`]: payloads encrypted (worker, API
    /// and the bench's own client).
    async fn jit(
        self: &Arc<Self>,
        round: usize,
        mode: &str,
        rps: f64,
        extra: Extra,
    ) -> anyhow::Result<Run> {
        let metrics = extra == Extra::Metrics;
        let codec_keys = (extra == Extra::Codec).then(|| {
            use base64::Engine;
            let key = base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>());
            format!("bench:{key}")
        });
        let q = format!("bench-{mode}-{round}");
        let mut env = vec![
            ("JIT_MIN_DURATION".to_owned(), "1s".to_owned()),
            ("JIT_AWS_REQUESTS_PER_SECOND".to_owned(), rps.to_string()),
            ("RUST_LOG".to_owned(), "warn".to_owned()),
        ];
        let metrics_url = if metrics {
            let port = jit_devstack::free_port()?;
            env.push((
                "JIT_METRICS_ADDRESS".to_owned(),
                format!("127.0.0.1:{port}"),
            ));
            Some(format!("http://127.0.0.1:{port}/metrics"))
        } else {
            None
        };
        if let Some(k) = &codec_keys {
            env.push(("JIT_CODEC_KEYS".to_owned(), k.clone()));
        }
        let mut worker = self
            .stack
            .worker(&self.args.worker, &q, &self.policy_file, &env, &q);
        let api = self.api(&q, codec_keys.as_deref()).await?;
        let client = match &codec_keys {
            None => self.stack.client.clone(),
            Some(k) => {
                let mut t = jit_temporal::Target::plain(
                    &self.stack.temporal_address(),
                    self.stack.namespace(),
                    "jit-bench",
                    Duration::from_secs(10),
                );
                t.codec = jit_temporal::codec::Codec::new(Some(
                    jit_config::CodecKeys::parse(k).map_err(anyhow::Error::msg)?,
                ));
                jit_temporal::connect(&t).await?
            }
        };
        // Warm up: the worker's first tickets fill its directory cache.
        {
            let mut c = api.clone();
            for i in 0..2 {
                self.one_jit(&client, &mut c, &format!("{q}-warm"), i)
                    .await?;
            }
        }
        let before_calls = self.stack.proxy.calls().len();
        let cpu0 = self.cpu(worker.pid());
        let work0 = measure::engine_work(
            &self.stack.client,
            self.stack.namespace(),
            &q,
            ticket::Workflow::NAME,
        )
        .await?;
        let gate = Arc::new(Semaphore::new(self.args.in_flight));
        let t0 = Instant::now();
        let mut tasks = Vec::new();
        for i in 0..self.args.tickets {
            let permit = gate.clone().acquire_owned().await?;
            let mut c = api.clone();
            let b = Arc::clone(self);
            let tag = q.clone();
            let client = client.clone();
            tasks.push(tokio::spawn(async move {
                let _permit = permit;
                b.one_jit(&client, &mut c, &tag, i).await
            }));
        }
        let mut approvals = Vec::new();
        let mut to_active = Vec::new();
        let mut lag = Vec::new();
        let mut expired = 0;
        for t in tasks {
            let (at, figures, ok) = t.await??;
            approvals.push(at);
            if let Some((a, l)) = figures {
                to_active.push(a);
                lag.push(l);
            }
            expired += usize::from(ok);
        }
        let wall = t0.elapsed().as_secs_f64();
        let cpu1 = self.cpu(worker.pid());
        let peak = measure::memory_mb(worker.pid(), "VmHWM");
        let aws_requests = self.stack.proxy.calls().len() - before_calls;
        let mut work = measure::engine_work(
            &self.stack.client,
            self.stack.namespace(),
            &q,
            ticket::Workflow::NAME,
        )
        .await?;
        subtract(&mut work, &work0);
        let leaked = self.leaked().await?;
        if let Some(url) = &metrics_url {
            let body = reqwest::get(url).await?.text().await?;
            anyhow::ensure!(
                body.contains("jit_aws_requests_total") && body.contains("temporal_request_total"),
                "the worker's metrics were not served at {url}"
            );
        }
        worker.stop(Duration::from_secs(10));
        Ok(self.figures(
            mode,
            round,
            wall,
            &approvals,
            t0,
            to_active,
            lag,
            expired,
            work,
            &cpu0,
            &cpu1,
            aws_requests,
            peak,
            leaked,
        ))
    }

    /// Assignments left in AWS by the runs' tickets.
    async fn leaked(&self) -> anyhow::Result<usize> {
        let mut n = 0;
        for account in &self.accounts {
            for who in REQUESTERS {
                let a = jit_e2e::assignment(&self.stack.aws, account, who, "ReadOnly").await;
                n += self.stack.aws.count_assignments(&a).await?;
            }
        }
        Ok(n)
    }

    async fn bare(&self, round: usize) -> anyhow::Result<Run> {
        let q = format!("bench-bare-{round}");
        let mut cmd = std::process::Command::new(&self.args.worker);
        cmd.arg("bare")
            .env("JIT_TEMPORAL_ADDRESS", self.stack.temporal_address())
            .env("JIT_TEMPORAL_NAMESPACE", self.stack.namespace())
            .env("JIT_TASK_QUEUE", &q)
            .env("RUST_LOG", "warn");
        let mut worker = self.stack.spawn(cmd, &q);
        let client = self.stack.client.clone();
        let start = |id: String| {
            let client = client.clone();
            let q = q.clone();
            async move {
                let h = client
                    .start_workflow(
                        Bare,
                        BareInput {
                            grant_ms: GRANT.as_millis() as u64,
                        },
                        WorkflowStartOptions::new(q, id).build(),
                    )
                    .await?;
                h.execute_update(
                    bare::Approve,
                    APPROVER.to_owned(),
                    WorkflowExecuteUpdateOptions::default(),
                )
                .await?;
                let at = Instant::now();
                h.get_result(WorkflowGetResultOptions::default()).await?;
                anyhow::Ok((at, h.info().workflow_id.clone()))
            }
        };
        for i in 0..2 {
            start(format!("{q}-warm-{i}")).await?;
        }
        let cpu0 = self.cpu(worker.pid());
        let work0 = measure::engine_work(&client, self.stack.namespace(), &q, Bare::NAME).await?;
        let gate = Arc::new(Semaphore::new(self.args.in_flight));
        let t0 = Instant::now();
        let mut tasks = Vec::new();
        for i in 0..self.args.tickets {
            let permit = gate.clone().acquire_owned().await?;
            let f = start(format!("{q}-{i}"));
            tasks.push(tokio::spawn(async move {
                let _permit = permit;
                f.await
            }));
        }
        let mut approvals = Vec::new();
        let mut ids = Vec::new();
        for t in tasks {
            let (at, id) = t.await??;
            approvals.push(at);
            ids.push(id);
        }
        let wall = t0.elapsed().as_secs_f64();
        let cpu1 = self.cpu(worker.pid());
        let peak = measure::memory_mb(worker.pid(), "VmHWM");
        // Approve → active and revocation lag from each history: update accepted → grant
        // completed; timer fired → revoke completed.
        let mut to_active = Vec::new();
        let mut lag = Vec::new();
        for id in &ids {
            if let Some((a, l)) = bare_figures(&client, self.stack.namespace(), id).await? {
                to_active.push(a);
                lag.push(l);
            }
        }
        let mut work =
            measure::engine_work(&client, self.stack.namespace(), &q, Bare::NAME).await?;
        subtract(&mut work, &work0);
        worker.stop(Duration::from_secs(10));
        let n = ids.len();
        Ok(self.figures(
            "bare", round, wall, &approvals, t0, to_active, lag, n, work, &cpu0, &cpu1, 0, peak, 0,
        ))
    }

    #[allow(clippy::too_many_arguments)]
    fn figures(
        &self,
        mode: &str,
        round: usize,
        wall: f64,
        approvals: &[Instant],
        t0: Instant,
        mut to_active: Vec<f64>,
        mut lag: Vec<f64>,
        expired: usize,
        work: EngineWork,
        cpu0: &Cpu,
        cpu1: &Cpu,
        aws_requests: usize,
        peak: f64,
        leaked: usize,
    ) -> Run {
        to_active.sort_by(f64::total_cmp);
        lag.sort_by(f64::total_cmp);
        let last_approval = approvals
            .iter()
            .max()
            .map_or(wall, |a| a.duration_since(t0).as_secs_f64());
        let n = self.args.tickets;
        Run {
            mode: mode.to_owned(),
            round,
            tickets: n,
            in_flight: self.args.in_flight,
            ended_as_expected: expired,
            wall_s: wall,
            tickets_per_s: n as f64 / wall,
            approvals_per_s: n as f64 / last_approval.max(1e-9),
            approve_to_active_ms: [
                measure::quantile(&to_active, 0.50),
                measure::quantile(&to_active, 0.95),
                measure::quantile(&to_active, 0.99),
            ],
            revocation_lag_ms: [measure::quantile(&lag, 0.50), measure::quantile(&lag, 0.99)],
            work,
            server_cpu_s: cpu1.server - cpu0.server,
            worker_cpu_s: cpu1.worker - cpu0.worker,
            moto_cpu_s: cpu1.moto - cpu0.moto,
            aws_requests,
            worker_peak_rss_mb: peak,
            leaked,
        }
    }

    /// A fresh worker (sticky cache `cache`) with `n` tickets waiting for approval; its memory
    /// once they all wait.
    async fn memory(&self, n: usize, cache: usize, round: usize) -> anyhow::Result<Memory> {
        let q = format!("bench-memory-{round}");
        let env = vec![
            ("JIT_MIN_DURATION".to_owned(), "1s".to_owned()),
            ("RUST_LOG".to_owned(), "warn".to_owned()),
            ("JIT_CACHED_WORKFLOWS".to_owned(), cache.to_string()),
        ];
        let mut worker = self
            .stack
            .worker(&self.args.worker, &q, &self.policy_file, &env, &q);
        let api = self.api(&q, None).await?;
        let gate = Arc::new(Semaphore::new(64));
        let mut tasks = Vec::new();
        for i in 0..n {
            let permit = gate.clone().acquire_owned().await?;
            let mut c = api.clone();
            // Many tickets per assignment are fine here: none is approved.
            let (requester, msg) =
                self.create_msg(&format!("mem-{round}-{i}"), i % self.args.tickets);
            tasks.push(tokio::spawn(async move {
                let _permit = permit;
                c.create_ticket(as_user(&requester, msg)).await
            }));
            if i % 1000 == 999 {
                eprintln!("   {} tickets created", i + 1);
            }
        }
        for t in tasks {
            t.await??;
        }
        // Until every ticket waits for approval (visibility), then a breath for the caches.
        let deadline = Instant::now() + Duration::from_secs(1800);
        loop {
            let q = format!(
                "TaskQueue = '{q}' AND {} = 'PendingApproval'",
                jit_contract::search_attributes::STATUS.name()
            );
            let waiting = self
                .stack
                .client
                .count_workflows(q, Default::default())
                .await
                .map(|c| c.count())
                .unwrap_or(0);
            if waiting >= n || Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
        let m = Memory {
            open_tickets: n,
            rss_mb: measure::memory_mb(worker.pid(), "VmRSS"),
            peak_rss_mb: measure::memory_mb(worker.pid(), "VmHWM"),
            cached_workflows: cache,
        };
        worker.stop(Duration::from_secs(10));
        Ok(m)
    }
}

/// `work` minus what was there before the measured part (the warm-up).
fn subtract(work: &mut EngineWork, before: &EngineWork) {
    work.events -= before.events;
    work.actions -= before.actions;
    work.workflow_tasks -= before.workflow_tasks;
    work.history_bytes -= before.history_bytes;
    for (ty, (n, e)) in &before.by_type {
        if let Some(x) = work.by_type.get_mut(ty) {
            x.0 -= n;
            x.1 -= e;
        }
    }
}

/// The bare ticket's approve → active and revocation lag (ms), from its history.
async fn bare_figures(
    client: &temporalio_client::Client,
    namespace: &str,
    id: &str,
) -> anyhow::Result<Option<(f64, f64)>> {
    use temporalio_common::protos::temporal::api::common::v1::WorkflowExecution;
    use temporalio_common::protos::temporal::api::enums::v1::EventType;
    use temporalio_common::protos::temporal::api::workflowservice::v1::GetWorkflowExecutionHistoryRequest;
    let events = client
        .connection()
        .workflow_service()
        .get_workflow_execution_history(tonic::Request::new(GetWorkflowExecutionHistoryRequest {
            namespace: namespace.to_owned(),
            execution: Some(WorkflowExecution {
                workflow_id: id.to_owned(),
                run_id: String::new(),
            }),
            maximum_page_size: 1000,
            ..Default::default()
        }))
        .await?
        .into_inner()
        .history
        .map(|h| h.events)
        .unwrap_or_default();
    let time = |ty: EventType, nth: usize| {
        events
            .iter()
            .filter(|e| e.event_type == ty as i32)
            .nth(nth)
            .and_then(|e| e.event_time.as_ref())
            .map(|t| t.seconds as f64 * 1000.0 + f64::from(t.nanos) / 1e6)
    };
    let accepted = time(EventType::WorkflowExecutionUpdateAccepted, 0);
    let granted = time(EventType::ActivityTaskCompleted, 0);
    let fired = time(EventType::TimerFired, 0);
    let revoked = time(EventType::ActivityTaskCompleted, 1);
    Ok(accepted
        .zip(granted)
        .zip(fired.zip(revoked))
        .map(|((a, g), (f, r))| (g - a, r - f)))
}
