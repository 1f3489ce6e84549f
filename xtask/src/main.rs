//! `cargo xtask`: the project's commands.
//!
//! - `up [--detach]`: install the pinned tools into `.venv/`, start the Temporal dev server and
//!   the seeded AWS sandbox, the worker and the gRPC API; foreground until Ctrl-C.
//! - `down [--wipe]`: stop what `up --detach` left running; `--wipe` also deletes the state.
//! - `demo`: drive one ticket through its life against the running stack, through the API.
//! - `test`: every check CI runs (format, lints, buf on proto/, the dependency graph's
//!   invariants, all tests).
//! - `bench policy`: policy decisions per second with 10, 100 and 1,000 rules, written to
//!   `docs/benchmarks/policy.md`; `bench api`: GetTicket p50/p99 and CreateTicket throughput
//!   through the real stack, written to `docs/benchmarks/api.md`.
//! - `dist`: the release binaries (`jit-worker`, `jit-api`, `jit`) in `target/dist/` with
//!   `SHA256SUMS`; `deploy-sync`: the Kubernetes ConfigMap from `deploy/config/`.

mod api;
mod checks;
mod console;
mod demo;
mod deploy;
mod observability;
mod stack;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "jit's local stack and checks")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Start the local stack (Temporal dev server + UI, AWS sandbox, worker).
    Up {
        /// Leave it running in the background (stop it with `cargo xtask down`).
        #[arg(long)]
        detach: bool,
    },
    /// Stop the stack started with `up --detach`.
    Down {
        /// Also delete the stack's state (Temporal's database: all tickets) and logs.
        #[arg(long)]
        wipe: bool,
    },
    /// Drive one ticket through its life against the running stack, printing each step.
    Demo(demo::DemoArgs),
    /// Run the worker in this process (how `up` starts it: the worker is built into xtask,
    /// so `up` needs no second build).
    #[command(hide = true)]
    RunWorker {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Run the fake Slack Web API of the local stack (how `up` starts it).
    #[command(hide = true)]
    RunFakeSlack {
        #[arg(long)]
        port: u16,
        /// `SLACK_ID=email`, repeatable.
        #[arg(long = "user")]
        users: Vec<String>,
    },
    /// Run the API in this process (how `up` starts it).
    #[command(hide = true)]
    RunApi {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Measure and write the results to docs/benchmarks/.
    Bench {
        #[arg(value_enum)]
        what: Bench,
        /// Extra arguments for the benchmark (tickets: --tickets N --in-flight C --runs R
        /// --memory M --modes jit,jit-raised,bare).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Build the release binaries into target/dist/ (what deploy/container/Dockerfile copies
    /// into the image), with SHA256SUMS and the example service config.
    Dist {
        /// A debug build into target/dist-debug/ instead (what `test` uses).
        #[arg(long)]
        debug: bool,
    },
    /// Write deploy/kubernetes/configmap.yaml from deploy/config/ (jit.yaml, policy.yaml).
    DeploySync,
    /// The offline checks of deploy/ that `test` runs (schemas, Dockerfile, ConfigMap).
    CheckDeploy,
    /// Run every check CI runs: cargo fmt --check, clippy -D warnings, all tests.
    Test {
        /// The longer chaos run (80 tickets, 60 worker kills, 3 server restarts) instead of
        /// the short one (sets JIT_CHAOS_LONG=1; JIT_CHAOS_SEED repeats a run).
        #[arg(long)]
        chaos_long: bool,
        /// Extra arguments for `cargo test` (e.g. a test name filter).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Bench {
    /// Policy decisions per second (10, 100, 1,000 rules).
    Policy,
    /// GetTicket latency and CreateTicket throughput through the real stack.
    Api,
    /// What a ticket costs the engine, against a bare workflow of the same shape.
    Tickets,
    /// The web console: first-load JavaScript (gzipped), and My tickets with 1,000 tickets
    /// interactive in headless Chromium (--tickets N --runs R).
    Console,
    /// Session audit: compressed MB/s and peak RSS reading ≥ 1 GB of generated CloudTrail
    /// logs on one core (--gigabytes G).
    Trail,
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let root = jit_devstack::repo_root();
    match cli.command {
        Cmd::Up { detach } => stack::up(&root, detach),
        Cmd::Down { wipe } => stack::down(&root, wipe),
        Cmd::Demo(args) => tokio::runtime::Runtime::new()?.block_on(demo::run(&root, args)),
        Cmd::Test { args, chaos_long } => test(&root, &args, chaos_long),
        Cmd::Dist { debug } => deploy::dist(&root, debug).map(|_| ()),
        Cmd::DeploySync => deploy::sync(&root),
        Cmd::CheckDeploy => jit_devstack::ensure_tools(&root).and_then(|_| deploy::check(&root)),
        Cmd::Bench {
            what: Bench::Tickets,
            args,
        } => bench_tickets(&root, &args),
        Cmd::Bench { what, args } => {
            let (package, example, out) = match what {
                Bench::Policy => ("jit-policy", "policy_bench", "docs/benchmarks/policy.md"),
                Bench::Api => ("jit-e2e", "api_bench", "docs/benchmarks/api.md"),
                Bench::Trail => ("jit-e2e", "trail_bench", "docs/benchmarks/trail.md"),
                Bench::Console => ("jit-e2e", "console_bench", "docs/benchmarks/console.md"),
                Bench::Tickets => unreachable!("handled above"),
            };
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let status = std::process::Command::new(cargo)
                .args([
                    "run",
                    "--release",
                    "--quiet",
                    "-p",
                    package,
                    "--example",
                    example,
                ])
                .arg("--")
                .arg(root.join(out))
                .args(&args)
                .current_dir(&root)
                .status()?;
            anyhow::ensure!(
                status.success(),
                "the {example} benchmark failed ({status})"
            );
            Ok(())
        }
        Cmd::RunFakeSlack { port, users } => tokio::runtime::Runtime::new()?.block_on(async {
            let users: Vec<(String, String)> = users
                .iter()
                .filter_map(|u| u.split_once('='))
                .map(|(a, b)| (a.to_owned(), b.to_owned()))
                .collect();
            let pairs: Vec<(&str, &str)> = users
                .iter()
                .map(|(a, b)| (a.as_str(), b.as_str()))
                .collect();
            let fake = jit_devstack::FakeSlack::start_on(port, &pairs).await?;
            println!("fake Slack Web API at {}", fake.api_url);
            std::future::pending::<()>().await;
            Ok(())
        }),
        Cmd::RunApi { args } => tokio::runtime::Runtime::new()?.block_on(jit_api::main_with_args(
            std::iter::once("jit-api".to_owned()).chain(args),
        )),
        Cmd::RunWorker { args } => tokio::runtime::Runtime::new()?.block_on(
            jit_worker::main_with_args(std::iter::once("jit-worker".to_owned()).chain(args)),
        ),
    }
}

/// `bench tickets`: builds the worker and the benchmark (release), then runs it with `args`;
/// it writes docs/benchmarks/tickets.md and tickets.jsonl.
fn bench_tickets(root: &std::path::Path, args: &[String]) -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = std::process::Command::new(&cargo)
        .args(["build", "--release", "--quiet", "-p", "jit-e2e"])
        .args(["--bin", "e2e-worker", "--example", "ticket_bench"])
        .current_dir(root)
        .status()?;
    anyhow::ensure!(
        status.success(),
        "building the ticket benchmark failed ({status})"
    );
    let release = root.join("target/release");
    let status = std::process::Command::new(release.join("examples/ticket_bench"))
        .arg("--worker")
        .arg(release.join("e2e-worker"))
        .arg("--out")
        .arg(root.join("docs/benchmarks/tickets.md"))
        .args(args)
        .current_dir(root)
        .status()?;
    anyhow::ensure!(status.success(), "the ticket benchmark failed ({status})");
    Ok(())
}

fn test(root: &std::path::Path, args: &[String], chaos_long: bool) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    jit_devstack::ensure_tools(root)?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let step = |name: &str, argv: &[&str]| -> anyhow::Result<()> {
        eprintln!("==> {name}: cargo {}", argv.join(" "));
        let status = std::process::Command::new(&cargo)
            .args(argv)
            .current_dir(root)
            .status()?;
        anyhow::ensure!(status.success(), "{name} failed ({status})");
        Ok(())
    };
    step("format", &["fmt", "--all", "--check"])?;
    step(
        "lints",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--quiet",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    eprintln!("==> api: buf lint (STANDARD) and buf breaking on proto/");
    api::check(root)?;
    eprintln!("==> console: npm ci, npm run build (client from proto/, tsc, Vite), Vitest");
    console::check(root)?;
    eprintln!("==> architecture: the dependency graph's invariants");
    checks::dependency_graph(root)?;
    eprintln!(
        "==> observability: promtool on deploy/observability/, the alerts' unit tests, runbook coverage"
    );
    observability::check(root)?;
    eprintln!(
        "==> deploy: Kubernetes manifests (schemas of {}), compose-spec, Dockerfile, ConfigMap, trust policies",
        deploy::KUBERNETES
    );
    deploy::check(root)?;
    eprintln!("==> dist: cargo xtask dist --debug (the production-shaped test runs its binaries)");
    let dist = deploy::dist(root, true)?;
    let mut test_args = vec!["test", "--workspace", "--all-targets"];
    if !args.is_empty() {
        test_args.push("--");
        test_args.extend(args.iter().map(String::as_str));
    }
    eprintln!("==> tests: cargo {}", test_args.join(" "));
    let (passed, failed, ok) = run_counting(&cargo, root, &test_args, chaos_long, &dist)?;
    eprintln!("==> checks finished in {:.0?}", started.elapsed());
    // The closing line: the totals of every test binary.
    println!("tests: {passed} passed, {failed} failed");
    anyhow::ensure!(ok && failed == 0, "tests failed");
    anyhow::ensure!(passed > 0, "no test ran");
    Ok(())
}

/// Runs `cargo <argv>`, passing its output through, and sums the `test result:` lines.
fn run_counting(
    cargo: &str,
    root: &std::path::Path,
    argv: &[&str],
    chaos_long: bool,
    dist: &std::path::Path,
) -> anyhow::Result<(u64, u64, bool)> {
    use std::io::{BufRead, BufReader, Write};
    let mut cmd = std::process::Command::new(cargo);
    cmd.env("JIT_DIST_DIR", dist);
    if chaos_long {
        cmd.env("JIT_CHAOS_LONG", "1");
    }
    let mut child = cmd
        .args(argv)
        .current_dir(root)
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let (mut passed, mut failed) = (0, 0);
    let stdout = child.stdout.take().expect("piped stdout");
    let mut out = std::io::stdout().lock();
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        writeln!(out, "{line}")?;
        if let Some(rest) = line.strip_prefix("test result: ") {
            let number = |word: &str| -> u64 {
                rest.split(';')
                    .find_map(|part| part.trim().strip_suffix(word))
                    .and_then(|n| n.trim().rsplit(' ').next()?.parse().ok())
                    .unwrap_or(0)
            };
            passed += number("passed");
            failed += number("failed");
        }
    }
    let status = child.wait()?;
    Ok((passed, failed, status.success()))
}
