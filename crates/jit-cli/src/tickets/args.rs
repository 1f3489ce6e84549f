//! The command line of the ticket commands.

use clap::{Args, Subcommand, ValueEnum};
use jiff::{SignedDuration, Timestamp};
use jit_domain::Phase;

#[derive(Args, Clone)]
pub struct Connect {
    /// The API's address (JIT_SERVER; default from the config file, else the local stack).
    #[arg(long, global = true)]
    pub(super) server: Option<String>,
    /// The bearer token: a JWT, or `dev:<user>` against a dev-mode server (JIT_TOKEN; for
    /// scripts — the environment keeps it out of `ps`).
    #[arg(long, global = true)]
    pub(super) token: Option<String>,
    /// For an `https://` server: the CA that signed its certificate, PEM (JIT_CA_FILE;
    /// default: the system's roots).
    #[arg(long, global = true)]
    pub(super) ca_file: Option<std::path::PathBuf>,
    /// How to print results.
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub(super) output: Output,
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
    /// What a ticket's principal did with the access so far, from CloudTrail (approvers and
    /// admins; the trail arrives minutes late).
    Session {
        ticket: String,
        /// At most this many events, the latest (1..500).
        #[arg(long, default_value_t = 100)]
        limit: i32,
    },
    /// Who the server thinks you are.
    Whoami,
    /// What you may request.
    Catalog,
    /// Sign in with your identity provider (the OAuth device flow): the token is saved for the
    /// other commands (0600, under $XDG_CONFIG_HOME/jit) and refreshed when it expires.
    Login {
        /// The OpenID issuer (JIT_OIDC_ISSUER; default: `issuer:` of the CLI config).
        #[arg(long)]
        issuer: Option<String>,
        /// The OAuth client (JIT_OIDC_CLIENT_ID; default: `client_id:` of the CLI config, else
        /// jit-cli).
        #[arg(long)]
        client_id: Option<String>,
    },
    /// Forget the saved login.
    Logout,
}

#[derive(Args)]
pub struct RequestArgs {
    /// Account id (12 digits); repeatable, each with every --permission-set.
    #[arg(long = "account")]
    pub(super) accounts: Vec<String>,
    /// Permission set name; repeatable.
    #[arg(long = "permission-set")]
    pub(super) permission_sets: Vec<String>,
    /// A bundle of targets.
    #[arg(long)]
    pub(super) bundle: Option<String>,
    /// For this user instead of yourself.
    #[arg(long = "for", conflicts_with = "for_group")]
    pub(super) for_user: Option<String>,
    /// For this group.
    #[arg(long)]
    pub(super) for_group: Option<String>,
    /// As this user (services with a grant).
    #[arg(long)]
    pub(super) requester: Option<String>,
    /// How long, e.g. 2h.
    #[arg(long, value_parser = jit_domain::duration::parse)]
    pub(super) duration: SignedDuration,
    /// Why (shown to approvers).
    #[arg(long)]
    pub(super) reason: String,
    /// Start at this time (RFC 3339) instead of when approved.
    #[arg(long)]
    pub(super) start_at: Option<Timestamp>,
    /// Access now, approval afterwards (where the policy allows it).
    #[arg(long)]
    pub(super) break_glass: bool,
    /// Makes retries safe (default: a new one each time).
    #[arg(long)]
    pub(super) request_id: Option<String>,
    /// Wait (with a live line) until access is active or the ticket ends.
    #[arg(long)]
    pub(super) wait: bool,
}

#[derive(Args)]
pub struct ListArgs {
    #[arg(long, value_parser = status_parser())]
    pub(super) status: Option<Phase>,
    #[arg(long)]
    pub(super) requester: Option<String>,
    #[arg(long)]
    pub(super) principal: Option<String>,
    #[arg(long)]
    pub(super) account: Option<String>,
    #[arg(long)]
    pub(super) permission_set: Option<String>,
    /// At most this many.
    #[arg(long, default_value = "50")]
    pub(super) limit: usize,
}

/// `--status pending-approval`: one of the domain's phases, spelled as on the wire.
fn status_parser() -> impl clap::builder::TypedValueParser<Value = Phase> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(
        Phase::ALL
            .iter()
            .map(|p| clap::builder::PossibleValue::new(jit_proto::status::kebab(*p))),
    )
    .map(|s| {
        Phase::ALL
            .iter()
            .copied()
            .find(|p| jit_proto::status::kebab(*p) == s)
            .unwrap_or(Phase::Evaluating)
    })
}
