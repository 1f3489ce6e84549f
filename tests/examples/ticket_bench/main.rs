//! The ticket benchmark (`cargo xtask bench tickets`): what a ticket costs the engine, side by
//! side with the bare workflow of the same shape ([`jit_e2e::bare`]), on one stack of its own:
//! a Temporal dev server with its SQLite file, moto behind a pass-through proxy that counts
//! AWS requests, a worker process per run (release build), and jit-api in this process.
//!
//! Each run: N tickets (default 200), C in flight (default 32), each needing its own
//! assignment — CreateTicket as the requester, Approve as the one-step plan's approver,
//! through the real API — for the shortest duration the policy allows (5 s; the worker and
//! API allow 1 s), then every ticket's end, and 0 leaked assignments checked. Modes:
//! `jit` (AWS limiter at its default), `jit-raised` (limiter at 1,000/s: the engine is the
//! limit), `bare` (the bare workflow: start + approve update, two no-op activities, a timer),
//! interleaved, `--runs` each. Then the memory phase: a fresh jit worker with M open tickets
//! waiting for approval.
//!
//! Usage: `ticket_bench [--tickets N] [--in-flight C] [--runs R] [--memory M] [--cache A,B]
//! [--out FILE.md]`.

mod measure;
mod report;
mod run;

use std::path::PathBuf;

use clap::Parser;

#[derive(Parser, Debug, Clone)]
#[command(about = "What a ticket costs the engine, against the bare workflow")]
pub(crate) struct Args {
    /// Tickets per run.
    #[arg(long, default_value_t = 200)]
    pub tickets: usize,
    /// Tickets in flight at once.
    #[arg(long, default_value_t = 32)]
    pub in_flight: usize,
    /// Runs of each mode (interleaved).
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Open tickets for the memory phase (0: skip it).
    #[arg(long, default_value_t = 10_000)]
    pub memory: usize,
    /// Sticky-cache sizes the memory phase tries, a fresh worker each; the first is the one
    /// the targets judge (default: the worker's own default).
    #[arg(long, value_delimiter = ',', default_values_t = [jit_config::DEFAULT_CACHED_WORKFLOWS, 1000])]
    pub cache: Vec<usize>,
    /// Modes to run, in order within a round.
    #[arg(long, value_delimiter = ',', default_value = "jit,jit-raised,bare")]
    pub modes: Vec<String>,
    /// The report; a JSON line per run goes beside it (`.jsonl`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The worker binary (`e2e-worker`, release).
    #[arg(long, env = "JIT_BENCH_WORKER")]
    pub worker: PathBuf,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let outcome = rt.block_on(run::all(&args));
    let (runs, memory) = outcome?;
    let md = report::markdown(&args, &runs, &memory);
    print!("{md}");
    if let Some(out) = &args.out {
        std::fs::write(out, &md)?;
        let jsonl = out.with_extension("jsonl");
        let lines: String = runs
            .iter()
            .map(|r| format!("{}\n", report::json_line(r)))
            .collect();
        std::fs::write(&jsonl, lines)?;
        eprintln!("wrote {} and {}", out.display(), jsonl.display());
    }
    // The stack's processes die with this one.
    std::process::exit(0);
}
