//! The `jit` command.
//!
//! - `jit policy check FILE`: every check of the policy file (and, with a directory, the
//!   checks that need one); `file:line: problem` and exit status 1 when it fails.
//! - `jit policy explain`: what the policy decides for someone and why — allowed or denied,
//!   the rule that decided, the plan that applies, who can approve.
//! - `jit policy compile FILE --out DIR`: the Casbin model and policy files, for any Casbin
//!   implementation.
//!
//! All of them work offline, on files: the directory (users and groups) comes from the
//! sandbox seed of `temporal-dev.yaml` or any file of that shape.
//!
//! The ticket commands ([`tickets`]) talk to jit-api over gRPC: `request`, `status`, `list`,
//! `pending`, `approve`, `deny`, `delegate`, `extend`, `done`, `revoke`, `cancel`, `watch`,
//! `whoami`, `catalog`, `session` (what the principal did so far, from CloudTrail). Every
//! command takes `--output json`.
//!
//! `jit audit export --since --until [--format jsonl|table]` reads the ended tickets' records
//! from the audit bucket (S3, the caller's AWS credentials).
//!
//! `jit completions bash|zsh|fish|elvish|powershell` prints shell completions.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod audit_cmd;
pub mod policy_cmd;
pub mod tickets;

#[derive(Parser)]
#[command(name = "jit", about = "Just-in-time access to AWS accounts", version)]
struct Cli {
    #[command(flatten)]
    connect: tickets::Connect,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check, explain and compile policy files (offline).
    #[command(subcommand)]
    Policy(policy_cmd::PolicyCommand),
    #[command(flatten)]
    Ticket(tickets::TicketCommand),
    /// The durable audit records of ended tickets (read from the audit bucket).
    #[command(subcommand)]
    Audit(audit_cmd::AuditCommand),
    /// Print shell completions (e.g. `jit completions bash > /etc/bash_completion.d/jit`).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// Runs `jit` with `args` (the first is the program name); the process exit code.
pub fn run(args: impl IntoIterator<Item = String>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    if let Command::Completions { shell } = cli.command {
        use clap::CommandFactory;
        clap_complete::generate(shell, &mut Cli::command(), "jit", &mut std::io::stdout());
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("jit: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let out = runtime.block_on(async {
        match cli.command {
            Command::Policy(c) => policy_cmd::run(c, cli.connect.output()).await,
            Command::Ticket(c) => tickets::run(&cli.connect, c).await,
            Command::Audit(c) => audit_cmd::run(c).await,
            Command::Completions { .. } => Ok(ExitCode::SUCCESS),
        }
    });
    match out {
        Ok(code) => code,
        Err(e) => {
            eprintln!("jit: {e:#}");
            ExitCode::FAILURE
        }
    }
}
