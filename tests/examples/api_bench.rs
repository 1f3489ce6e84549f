//! jit-api benchmark (`cargo xtask bench api`): GetTicket latency (p50/p99) and CreateTicket
//! throughput, through the real stack — Temporal dev server, the worker, moto — started on
//! free ports, with the worker and the API in this process (release build).
//!
//! - GetTicket: 1,000 sequential calls on one ticket (each is a workflow query answered by
//!   the worker).
//! - CreateTicket: 400 creates from 20 concurrent callers (each starts a workflow; the
//!   tickets then run their evaluation on the worker meanwhile).
//!
//! Usage: `api_bench [OUT.md]`.

use std::time::{Duration, Instant};

use jit_proto::v1 as pb;
use jit_proto::v1::ticket_service_client::TicketServiceClient;

fn as_user<T>(user: &str, msg: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.metadata_mut().insert(
        "authorization",
        format!("Bearer dev:{user}").parse().unwrap(),
    );
    r
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn main() -> anyhow::Result<()> {
    let out = std::env::args().nth(1);
    let stack = jit_devstack::TestStack::shared();
    let root = jit_devstack::repo_root();
    let task_queue = format!("jit-bench-{}", std::process::id());
    let policy_file = root.join("deploy/local/policy.yaml");
    let account = stack
        .seed
        .accounts
        .get("dev")
        .expect("a dev account")
        .clone();

    // The worker, on a thread of its own (its run loop is not Send).
    jit_e2e::spawn_worker_thread(stack, &task_queue, &policy_file)?;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let (get, create) = rt.block_on(async move {
        let api = jit_api::Api::build(jit_e2e::api_settings(
            &stack.temporal_address,
            &stack.namespace,
            &task_queue,
            &policy_file,
        ))
        .await?;
        let addr = api.local_addr()?;
        tokio::spawn(api.run_until_stopped(std::future::pending()));
        let c = TicketServiceClient::connect(format!("http://{addr}")).await?;
        let msg = move |id: String| {
            jit_e2e::create_request(&id, &account, "ReadOnly", 3600, "benchmarking the API")
        };

        // One ticket, waiting for approval, read 1,000 times.
        let t = c
            .clone()
            .create_ticket(as_user("bob", msg("get-target".into())))
            .await?
            .into_inner()
            .ticket
            .unwrap();
        let get = pb::GetTicketRequest {
            ticket_id: t.ticket_id.clone(),
        };
        loop {
            let r = c.clone().get_ticket(as_user("bob", get.clone())).await?;
            if r.get_ref().ticket.as_ref().map(|t| t.status)
                == Some(pb::TicketStatus::PendingApproval as i32)
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for _ in 0..50 {
            c.clone().get_ticket(as_user("bob", get.clone())).await?;
        }
        let mut lat = Vec::with_capacity(1000);
        for _ in 0..1000 {
            let t0 = Instant::now();
            c.clone().get_ticket(as_user("bob", get.clone())).await?;
            lat.push(t0.elapsed());
        }
        lat.sort();

        // 400 creates from 20 concurrent callers.
        let t0 = Instant::now();
        let mut tasks = Vec::new();
        for caller in 0..20 {
            let mut c = c.clone();
            let msg = msg.clone();
            tasks.push(tokio::spawn(async move {
                for n in 0..20 {
                    c.create_ticket(as_user("bob", msg(format!("bench-{caller}-{n}"))))
                        .await?;
                }
                anyhow::Ok(())
            }));
        }
        for t in tasks {
            t.await??;
        }
        let rate = 400.0 / t0.elapsed().as_secs_f64();
        anyhow::Ok((lat, rate))
    })?;

    let table = format!(
        "| measure | value |\n|---|---:|\n| GetTicket p50 | {:.2} ms |\n| GetTicket p99 | {:.2} ms |\n| GetTicket max | {:.2} ms |\n| CreateTicket throughput (20 callers, 400 tickets) | {create:.0} tickets/s |\n",
        percentile(&get, 0.50).as_secs_f64() * 1000.0,
        percentile(&get, 0.99).as_secs_f64() * 1000.0,
        get.last().unwrap().as_secs_f64() * 1000.0,
    );
    print!("{table}");
    if let Some(out) = out {
        let doc = format!(
            "# API benchmark\n\n`cargo xtask bench api` (release build; Temporal dev server on SQLite, the worker and\njit-api in one process, moto, all on this machine; see `tests/examples/api_bench.rs`).\n\n{table}\nMeasured on: {} logical CPUs, {}. GetTicket is a workflow query (API -> Temporal -> worker\n-> back); CreateTicket starts a workflow (the dev server's SQLite store is the bottleneck).\n",
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            std::env::consts::ARCH
        );
        std::fs::write(&out, doc)?;
        eprintln!("wrote {out}");
    }
    // The stack's processes die with this one.
    std::process::exit(0);
}
