//! The ticket commands: `jit request | status | list | pending | approve | deny | delegate |
//! extend | done | revoke | cancel | watch | whoami | catalog`, over gRPC.
//!
//! The server and token come from `--server` / `--token`, else `JIT_SERVER` / `JIT_TOKEN`,
//! else the config file (`$JIT_CLI_CONFIG`, default `~/.config/jit/cli.yaml`: `server:` and
//! `token:`), else the local stack (`http://127.0.0.1:50051`, no token).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use jiff::{SignedDuration, Timestamp};
use jit_proto::v1 as pb;
use jit_proto::v1::ticket_service_client::TicketServiceClient;
use serde::Deserialize;
use tonic::transport::Channel;

#[derive(Args, Clone)]
pub struct Connect {
    /// The API's address (JIT_SERVER; default from the config file, else the local stack).
    #[arg(long, global = true)]
    server: Option<String>,
    /// The bearer token: a JWT, or `dev:<user>` against a dev-mode server (JIT_TOKEN).
    #[arg(long, global = true)]
    token: Option<String>,
    /// How to print results.
    #[arg(long, global = true, value_enum, default_value = "text")]
    output: Output,
}

impl Connect {
    pub fn output(&self) -> Output {
        self.output
    }
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Output {
    Text,
    Json,
}

#[derive(Subcommand)]
pub enum TicketCommand {
    /// Ask for access.
    Request(RequestArgs),
    /// Show one ticket.
    Status { ticket: String },
    /// List tickets (yours, or all for admins), newest first.
    List(ListArgs),
    /// Tickets waiting for your vote.
    Pending,
    /// Approve a ticket.
    Approve {
        ticket: String,
        #[arg(long)]
        comment: Option<String>,
    },
    /// Deny a ticket; the reason is shown to the requester.
    Deny {
        ticket: String,
        #[arg(long)]
        reason: String,
    },
    /// Hand your vote on a ticket to someone else for a while.
    Delegate {
        ticket: String,
        #[arg(long)]
        to: String,
        /// For how long, e.g. 4h.
        #[arg(long = "for", value_parser = jit_domain::duration::parse)]
        for_: SignedDuration,
        #[arg(long)]
        reason: Option<String>,
    },
    /// More time for active access.
    Extend {
        ticket: String,
        /// How much more, e.g. 1h.
        #[arg(long, value_parser = jit_domain::duration::parse)]
        by: SignedDuration,
        #[arg(long)]
        reason: Option<String>,
    },
    /// You are done: remove the access now.
    Done {
        ticket: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Remove someone's access now (approvers and admins).
    Revoke {
        ticket: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Withdraw a request before access is granted.
    Cancel {
        ticket: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Follow a ticket until it ends.
    Watch { ticket: String },
    /// Who the server thinks you are.
    Whoami,
    /// What you may request.
    Catalog,
}

#[derive(Args)]
pub struct RequestArgs {
    /// Account id (12 digits); repeatable, each with every --permission-set.
    #[arg(long = "account")]
    accounts: Vec<String>,
    /// Permission set name; repeatable.
    #[arg(long = "permission-set")]
    permission_sets: Vec<String>,
    /// A bundle of targets.
    #[arg(long)]
    bundle: Option<String>,
    /// For this user instead of yourself.
    #[arg(long = "for", conflicts_with = "for_group")]
    for_user: Option<String>,
    /// For this group.
    #[arg(long)]
    for_group: Option<String>,
    /// As this user (services with a grant).
    #[arg(long)]
    requester: Option<String>,
    /// How long, e.g. 2h.
    #[arg(long, value_parser = jit_domain::duration::parse)]
    duration: SignedDuration,
    /// Why (shown to approvers).
    #[arg(long)]
    reason: String,
    /// Start at this time (RFC 3339) instead of when approved.
    #[arg(long)]
    start_at: Option<Timestamp>,
    /// Access now, approval afterwards (where the policy allows it).
    #[arg(long)]
    break_glass: bool,
    /// Makes retries safe (default: a new one each time).
    #[arg(long)]
    request_id: Option<String>,
    /// Wait (with a live line) until access is active or the ticket ends.
    #[arg(long)]
    wait: bool,
}

#[derive(Args)]
pub struct ListArgs {
    #[arg(long, value_enum)]
    status: Option<StatusArg>,
    #[arg(long)]
    requester: Option<String>,
    #[arg(long)]
    principal: Option<String>,
    #[arg(long)]
    account: Option<String>,
    #[arg(long)]
    permission_set: Option<String>,
    /// At most this many.
    #[arg(long, default_value = "50")]
    limit: usize,
}

#[derive(Clone, Copy, ValueEnum)]
enum StatusArg {
    Evaluating,
    PendingApproval,
    Scheduled,
    Provisioning,
    Active,
    Revoking,
    Expired,
    Denied,
    ApprovalExpired,
    Rejected,
    Failed,
    Revoked,
    Relinquished,
    Cancelled,
}

impl StatusArg {
    fn proto(self) -> pb::TicketStatus {
        use pb::TicketStatus as S;
        match self {
            Self::Evaluating => S::Evaluating,
            Self::PendingApproval => S::PendingApproval,
            Self::Scheduled => S::Scheduled,
            Self::Provisioning => S::Provisioning,
            Self::Active => S::Active,
            Self::Revoking => S::Revoking,
            Self::Expired => S::Expired,
            Self::Denied => S::Denied,
            Self::ApprovalExpired => S::ApprovalExpired,
            Self::Rejected => S::Rejected,
            Self::Failed => S::Failed,
            Self::Revoked => S::Revoked,
            Self::Relinquished => S::Relinquished,
            Self::Cancelled => S::Cancelled,
        }
    }
}

#[derive(Deserialize, Default)]
struct ConfigFile {
    server: Option<String>,
    token: Option<String>,
}

fn config_file() -> anyhow::Result<ConfigFile> {
    let path = match std::env::var_os("JIT_CLI_CONFIG") {
        Some(p) => PathBuf::from(p),
        None => match std::env::var_os("HOME") {
            Some(h) => PathBuf::from(h).join(".config/jit/cli.yaml"),
            None => return Ok(ConfigFile::default()),
        },
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_yaml_ng::from_str(&text)
            .with_context(|| format!("reading the CLI config {}", path.display())),
        Err(_) => Ok(ConfigFile::default()),
    }
}

struct Session {
    client: TicketServiceClient<Channel>,
    token: Option<String>,
    output: Output,
}

impl Session {
    async fn open(c: &Connect) -> anyhow::Result<Self> {
        let file = config_file()?;
        let server = c
            .server
            .clone()
            .or_else(|| std::env::var("JIT_SERVER").ok())
            .or(file.server)
            .unwrap_or_else(|| "http://127.0.0.1:50051".into());
        let token = c
            .token
            .clone()
            .or_else(|| std::env::var("JIT_TOKEN").ok())
            .or(file.token);
        let channel = Channel::from_shared(server.clone())
            .with_context(|| format!("server address {server:?}"))?
            .connect()
            .await
            .with_context(|| format!("cannot reach the jit API at {server}"))?;
        Ok(Self {
            client: TicketServiceClient::new(channel),
            token,
            output: c.output,
        })
    }

    fn req<T>(&self, msg: T) -> anyhow::Result<tonic::Request<T>> {
        let mut r = tonic::Request::new(msg);
        if let Some(t) = &self.token {
            r.metadata_mut().insert(
                "authorization",
                format!("Bearer {t}")
                    .parse()
                    .context("the token has characters a header cannot carry")?,
            );
        }
        Ok(r)
    }
}

/// A refused call as people read it: the status code's meaning and the server's message.
fn explain(s: tonic::Status) -> anyhow::Error {
    let what = match s.code() {
        tonic::Code::InvalidArgument => "invalid",
        tonic::Code::Unauthenticated => "not signed in",
        tonic::Code::PermissionDenied => "not allowed",
        tonic::Code::NotFound => "not found",
        tonic::Code::FailedPrecondition => "not now",
        tonic::Code::AlreadyExists => "already exists",
        tonic::Code::Unavailable => "unavailable",
        _ => "error",
    };
    let m = s.message();
    if m.starts_with(&format!("{what}:")) {
        anyhow::anyhow!("{m}")
    } else {
        anyhow::anyhow!("{what}: {m}")
    }
}

pub async fn run(c: &Connect, cmd: TicketCommand) -> anyhow::Result<ExitCode> {
    let mut s = Session::open(c).await?;
    match cmd {
        TicketCommand::Request(a) => request(&mut s, a).await,
        TicketCommand::Status { ticket } => {
            let t = s
                .client
                .get_ticket(s.req(pb::GetTicketRequest { ticket_id: ticket })?)
                .await
                .map_err(explain)?
                .into_inner();
            show_ticket(&s, &t)
        }
        TicketCommand::List(a) => {
            let mut all = Vec::new();
            let mut token = String::new();
            loop {
                let r = s
                    .client
                    .list_tickets(s.req(pb::ListTicketsRequest {
                        status: a.status.map(|x| x.proto() as i32).unwrap_or(0),
                        requester: a.requester.clone().unwrap_or_default(),
                        principal: a.principal.clone().unwrap_or_default(),
                        account_id: a.account.clone().unwrap_or_default(),
                        permission_set: a.permission_set.clone().unwrap_or_default(),
                        page_size: a.limit.clamp(1, 500) as i32,
                        page_token: token,
                    })?)
                    .await
                    .map_err(explain)?
                    .into_inner();
                all.extend(r.tickets);
                token = r.next_page_token;
                if token.is_empty() || all.len() >= a.limit {
                    break;
                }
            }
            all.truncate(a.limit);
            show_list(&s, &all)
        }
        TicketCommand::Pending => {
            let r = s
                .client
                .list_pending_approvals(s.req(pb::ListPendingApprovalsRequest {
                    page_size: 100,
                    page_token: String::new(),
                })?)
                .await
                .map_err(explain)?
                .into_inner();
            show_list(&s, &r.tickets)
        }
        TicketCommand::Approve { ticket, comment } => vote(&mut s, ticket, comment, true).await,
        TicketCommand::Deny { ticket, reason } => vote(&mut s, ticket, Some(reason), false).await,
        TicketCommand::Delegate {
            ticket,
            to,
            for_,
            reason,
        } => {
            let until = Timestamp::now()
                .checked_add(for_)
                .context("--for is too long")?;
            let t = s
                .client
                .delegate(s.req(pb::DelegateRequest {
                    ticket_id: ticket,
                    to,
                    until: Some(ts(until)),
                    reason: reason.unwrap_or_default(),
                })?)
                .await
                .map_err(explain)?
                .into_inner();
            if s.output == Output::Text {
                println!("delegated until {}", relative(until));
            }
            show_ticket(&s, &t)
        }
        TicketCommand::Extend { ticket, by, reason } => {
            let r = s
                .client
                .extend(s.req(pb::ExtendRequest {
                    ticket_id: ticket,
                    extra: Some(prost_types::Duration {
                        seconds: by.as_secs(),
                        nanos: by.subsec_nanos(),
                    }),
                    reason: reason.unwrap_or_default(),
                })?)
                .await
                .map_err(explain)?
                .into_inner();
            if s.output == Output::Text {
                println!(
                    "{}",
                    if r.applied {
                        "extended"
                    } else {
                        "extension waits for approval (access stays meanwhile)"
                    }
                );
            }
            show_ticket(&s, &r.ticket.unwrap_or_default())
        }
        TicketCommand::Done { ticket, reason } => end(&mut s, "done", ticket, reason).await,
        TicketCommand::Revoke { ticket, reason } => end(&mut s, "revoke", ticket, reason).await,
        TicketCommand::Cancel { ticket, reason } => end(&mut s, "cancel", ticket, reason).await,
        TicketCommand::Watch { ticket } => watch(&mut s, ticket, false).await,
        TicketCommand::Whoami => {
            let r = s
                .client
                .who_am_i(s.req(pb::WhoAmIRequest {})?)
                .await
                .map_err(explain)?
                .into_inner();
            if s.output == Output::Json {
                println!(
                    "{}",
                    serde_json::json!({
                        "subject": r.subject,
                        "authenticated_by": r.authenticated_by,
                        "may_act_for": r.may_act_for,
                    })
                );
            } else {
                print!("{} (by {} token)", r.subject, r.authenticated_by);
                if !r.may_act_for.is_empty() {
                    print!("; may act for {}", r.may_act_for.join(", "));
                }
                println!();
            }
            Ok(ExitCode::SUCCESS)
        }
        TicketCommand::Catalog => {
            let r = s
                .client
                .list_requestable(s.req(pb::ListRequestableRequest {})?)
                .await
                .map_err(explain)?
                .into_inner();
            if s.output == Output::Json {
                let targets: Vec<_> = r
                    .targets
                    .iter()
                    .map(|t| {
                        serde_json::json!({
                            "account_id": t.account_id, "account_name": t.account_name,
                            "permission_set": t.permission_set, "rule": t.rule, "plan": t.plan,
                        })
                    })
                    .collect();
                println!(
                    "{}",
                    serde_json::json!({"targets": targets, "bundles": r.bundles})
                );
            } else {
                let rows: Vec<Vec<String>> = r
                    .targets
                    .iter()
                    .map(|t| {
                        vec![
                            t.account_name.clone(),
                            t.account_id.clone(),
                            t.permission_set.clone(),
                            t.plan.clone(),
                            t.rule.clone(),
                        ]
                    })
                    .collect();
                table(&["ACCOUNT", "ID", "PERMISSION SET", "PLAN", "RULE"], &rows);
                if !r.bundles.is_empty() {
                    println!("bundles: {}", r.bundles.join(", "));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn ts(t: Timestamp) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.as_second(),
        nanos: t.subsec_nanosecond(),
    }
}

fn from_ts(t: &Option<prost_types::Timestamp>) -> Option<Timestamp> {
    t.as_ref()
        .and_then(|t| Timestamp::new(t.seconds, t.nanos).ok())
}

async fn request(s: &mut Session, a: RequestArgs) -> anyhow::Result<ExitCode> {
    if !a.accounts.is_empty() && a.permission_sets.is_empty() {
        anyhow::bail!("--permission-set is needed with --account");
    }
    let mut targets = Vec::new();
    for acc in &a.accounts {
        for ps in &a.permission_sets {
            targets.push(pb::Target {
                account_id: acc.clone(),
                account_name: String::new(),
                permission_set: ps.clone(),
            });
        }
    }
    let principal = match (a.for_user, a.for_group) {
        (Some(u), _) => Some(pb::Principal {
            kind: Some(pb::principal::Kind::User(u)),
        }),
        (None, Some(g)) => Some(pb::Principal {
            kind: Some(pb::principal::Kind::Group(g)),
        }),
        (None, None) => None,
    };
    let request_id = a.request_id.unwrap_or_else(|| {
        format!(
            "cli-{}-{}",
            Timestamp::now().as_nanosecond(),
            std::process::id()
        )
    });
    let r = s
        .client
        .create_ticket(s.req(pb::CreateTicketRequest {
            request_id,
            principal,
            targets,
            bundle: a.bundle.unwrap_or_default(),
            duration: Some(prost_types::Duration {
                seconds: a.duration.as_secs(),
                nanos: a.duration.subsec_nanos(),
            }),
            justification: a.reason,
            start_at: a.start_at.map(ts),
            break_glass: a.break_glass,
            requester: a.requester.unwrap_or_default(),
        })?)
        .await
        .map_err(explain)?
        .into_inner();
    let t = r.ticket.unwrap_or_default();
    if a.wait {
        return watch(s, t.ticket_id, true).await;
    }
    if s.output == Output::Text {
        println!(
            "ticket {} {}",
            t.ticket_id,
            if r.created {
                "created"
            } else {
                "(already created by this request id)"
            }
        );
    }
    show_ticket(s, &t)
}

async fn vote(
    s: &mut Session,
    ticket: String,
    comment: Option<String>,
    approve: bool,
) -> anyhow::Result<ExitCode> {
    let msg = pb::VoteRequest {
        ticket_id: ticket,
        comment: comment.unwrap_or_default(),
    };
    let r = if approve {
        s.client.approve(s.req(msg)?).await
    } else {
        s.client.deny(s.req(msg)?).await
    }
    .map_err(explain)?
    .into_inner();
    if s.output == Output::Text {
        println!("{}", r.effect);
    }
    show_ticket(s, &r.ticket.unwrap_or_default())
}

async fn end(
    s: &mut Session,
    kind: &str,
    ticket: String,
    reason: Option<String>,
) -> anyhow::Result<ExitCode> {
    let msg = pb::EndRequest {
        ticket_id: ticket,
        reason: reason.unwrap_or_default(),
    };
    let t = match kind {
        "done" => s.client.relinquish(s.req(msg)?).await,
        "revoke" => s.client.revoke(s.req(msg)?).await,
        _ => s.client.cancel(s.req(msg)?).await,
    }
    .map_err(explain)?
    .into_inner();
    show_ticket(s, &t)
}

/// Follows a ticket: a live line on a terminal (a line per change otherwise, or JSON lines);
/// with `until_active`, stops once access is active.
async fn watch(s: &mut Session, ticket: String, until_active: bool) -> anyhow::Result<ExitCode> {
    let mut stream = s
        .client
        .watch_ticket(s.req(pb::GetTicketRequest { ticket_id: ticket })?)
        .await
        .map_err(explain)?
        .into_inner();
    let live = s.output == Output::Text && std::io::stdout().is_terminal();
    let mut last: Option<pb::Ticket> = None;
    while let Some(t) = stream.message().await.map_err(explain)? {
        if s.output == Output::Json {
            println!("{}", ticket_json(&t));
        } else {
            let line = live_line(&t);
            if live {
                print!("\r\x1b[2K{line}");
                std::io::stdout().flush().ok();
            } else {
                println!("{line}");
            }
        }
        let active = status_of(&t) == pb::TicketStatus::Active;
        last = Some(t);
        if until_active && active {
            break;
        }
    }
    if live {
        println!();
    }
    let Some(t) = last else {
        anyhow::bail!("the server sent nothing");
    };
    Ok(exit_for(&t))
}

fn status_of(t: &pb::Ticket) -> pb::TicketStatus {
    pb::TicketStatus::try_from(t.status).unwrap_or(pb::TicketStatus::Unspecified)
}

/// 0 while access is (or will be) given or ended normally; 3 when refused or failed.
fn exit_for(t: &pb::Ticket) -> ExitCode {
    use pb::TicketStatus as S;
    match status_of(t) {
        S::Denied | S::Rejected | S::Failed | S::ApprovalExpired => ExitCode::from(3),
        _ => ExitCode::SUCCESS,
    }
}

fn status_name(s: pb::TicketStatus) -> String {
    s.as_str_name()
        .trim_start_matches("TICKET_STATUS_")
        .to_lowercase()
        .replace('_', " ")
}

/// "in 3h 59m", "2m ago".
pub fn relative(t: Timestamp) -> String {
    let d = t.duration_since(Timestamp::now());
    let secs = d.as_secs().abs();
    let text = if secs < 60 {
        format!("{secs}s")
    } else if secs < 3600 {
        format!("{}m", secs / 60)
    } else if secs < 86400 {
        format!("{}h {}m", secs / 3600, secs % 3600 / 60)
    } else {
        format!("{}d {}h", secs / 86400, secs % 86400 / 3600)
    };
    if d.is_negative() {
        format!("{text} ago")
    } else {
        format!("in {text}")
    }
}

fn live_line(t: &pb::Ticket) -> String {
    let status = status_of(t);
    let mut line = format!("{} {}", t.ticket_id, status_name(status));
    match status {
        pb::TicketStatus::PendingApproval => {
            if !t.current_step.is_empty() {
                line.push_str(&format!(" (step {})", t.current_step));
            }
            if !t.pending_approvers.is_empty() {
                line.push_str(&format!(": waiting for {}", t.pending_approvers.join(", ")));
            }
        }
        pb::TicketStatus::Active => {
            if let Some(e) = from_ts(&t.expires_at) {
                line.push_str(&format!(", expires {}", relative(e)));
            }
        }
        pb::TicketStatus::Scheduled => {
            if let Some(e) = from_ts(&t.start_at) {
                line.push_str(&format!(", starts {}", relative(e)));
            }
        }
        _ => {
            if !t.reason.is_empty() {
                line.push_str(&format!(": {}", t.reason));
            }
        }
    }
    line
}

fn targets_text(targets: &[pb::Target]) -> String {
    targets
        .iter()
        .map(|x| {
            if x.account_name.is_empty() {
                format!("{} in {}", x.permission_set, x.account_id)
            } else {
                format!(
                    "{} in {} ({})",
                    x.permission_set, x.account_name, x.account_id
                )
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn principal_text(p: &Option<pb::Principal>) -> String {
    match p.as_ref().and_then(|p| p.kind.as_ref()) {
        Some(pb::principal::Kind::User(u)) => u.clone(),
        Some(pb::principal::Kind::Group(g)) => format!("group {g}"),
        None => String::new(),
    }
}

fn ticket_json(t: &pb::Ticket) -> serde_json::Value {
    let time = |x: &Option<prost_types::Timestamp>| from_ts(x).map(|t| t.to_string());
    serde_json::json!({
        "ticket_id": t.ticket_id,
        "status": status_name(status_of(t)),
        "requester": t.requester,
        "principal": principal_text(&t.principal),
        "targets": t.targets.iter().map(|x| serde_json::json!({
            "account_id": x.account_id, "account_name": x.account_name,
            "permission_set": x.permission_set})).collect::<Vec<_>>(),
        "duration_seconds": t.duration.as_ref().map(|d| d.seconds),
        "justification": t.justification,
        "plan": t.plan.as_ref().map(|p| p.name.clone()),
        "current_step": t.current_step,
        "pending_approvers": t.pending_approvers,
        "votes": t.votes.iter().map(|v| serde_json::json!({
            "voter": v.voter, "cast_by": v.cast_by, "step": v.step, "approve": v.approve,
            "comment": v.comment})).collect::<Vec<_>>(),
        "requested_at": time(&t.requested_at),
        "active_since": time(&t.active_since),
        "expires_at": time(&t.expires_at),
        "ended_at": time(&t.ended_at),
        "reason": t.reason,
        "flagged": t.flagged,
        "policy_hash": t.policy_hash,
        "audit": t.audit,
    })
}

fn show_ticket(s: &Session, t: &pb::Ticket) -> anyhow::Result<ExitCode> {
    if s.output == Output::Json {
        println!("{}", serde_json::to_string_pretty(&ticket_json(t))?);
        return Ok(exit_for(t));
    }
    println!("{}", live_line(t));
    println!(
        "  {} for {}: {}",
        t.requester,
        principal_text(&t.principal),
        targets_text(&t.targets)
    );
    if let Some(d) = &t.duration {
        println!(
            "  duration {:#}: {}",
            SignedDuration::new(d.seconds, d.nanos),
            t.justification
        );
    }
    if let Some(p) = &t.plan {
        let steps: Vec<String> = p
            .steps
            .iter()
            .map(|st| format!("{} ({} of {})", st.name, st.quorum, st.approvers.join(", ")))
            .collect();
        println!("  plan {}: {}", p.name, steps.join(", then "));
    }
    for v in &t.votes {
        let who = if v.voter == v.cast_by {
            v.voter.clone()
        } else {
            format!("{} as {}", v.cast_by, v.voter)
        };
        println!(
            "  {} {} in step {}{}",
            who,
            if v.approve { "approved" } else { "denied" },
            v.step,
            if v.comment.is_empty() {
                String::new()
            } else {
                format!(": {}", v.comment)
            }
        );
    }
    if !t.flagged.is_empty() {
        println!("  flagged: {}", t.flagged);
    }
    Ok(exit_for(t))
}

fn show_list(s: &Session, rows: &[pb::TicketSummary]) -> anyhow::Result<ExitCode> {
    if s.output == Output::Json {
        let v: Vec<_> = rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "ticket_id": r.ticket_id,
                    "status": status_name(pb::TicketStatus::try_from(r.status).unwrap_or_default()),
                    "requester": r.requester, "principal": r.principal,
                    "account_ids": r.account_ids, "permission_sets": r.permission_sets,
                    "requested_at": from_ts(&r.requested_at).map(|t| t.to_string()),
                    "expires_at": from_ts(&r.expires_at).map(|t| t.to_string()),
                    "pending_approvers": r.pending_approvers,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.ticket_id.clone(),
                status_name(pb::TicketStatus::try_from(r.status).unwrap_or_default()),
                r.requester.clone(),
                r.principal.clone(),
                r.permission_sets.join(","),
                r.account_ids.join(","),
                from_ts(&r.requested_at).map(relative).unwrap_or_default(),
                from_ts(&r.expires_at).map(relative).unwrap_or_default(),
            ]
        })
        .collect();
    table(
        &[
            "TICKET",
            "STATUS",
            "REQUESTER",
            "PRINCIPAL",
            "PERMISSION SETS",
            "ACCOUNTS",
            "REQUESTED",
            "EXPIRES",
        ],
        &body,
    );
    Ok(ExitCode::SUCCESS)
}

fn table(head: &[&str], rows: &[Vec<String>]) {
    let mut w: Vec<usize> = head.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let s: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<width$}", width = w[i]))
            .collect();
        println!("{}", s.join("  ").trim_end());
    };
    line(head.to_vec());
    for r in rows {
        line(r.iter().map(String::as_str).collect());
    }
    if rows.is_empty() {
        println!("(none)");
    }
}
