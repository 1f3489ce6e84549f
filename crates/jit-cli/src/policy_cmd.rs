//! `jit policy check | explain | compile`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use jit_domain::{GroupName, Principal, UserName};
use jit_policy::{Directory, Policy, TargetKey, short_hash};

use crate::tickets::Output;
use serde::Serialize;

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Check a policy file: its shape, patterns, names, bundles, plans, and (with a
    /// directory) that groups and users exist, approver groups have members and quorums fit.
    Check {
        /// The policy file (YAML).
        file: PathBuf,
        #[command(flatten)]
        directory: DirectoryArgs,
    },
    /// Say what the policy decides for someone, and why.
    Explain(ExplainArgs),
    /// Write the Casbin model (model.conf) and policy (policy.csv) the file compiles to.
    Compile {
        file: PathBuf,
        /// The directory to write model.conf and policy.csv into.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Args)]
pub struct DirectoryArgs {
    /// Users and groups: a file shaped like temporal-dev.yaml (its sandbox seed).
    /// Default: temporal-dev.yaml in the current directory, if there is one.
    #[arg(long)]
    directory: Option<PathBuf>,
}

impl DirectoryArgs {
    /// The directory and the file it came from (`None`: no directory available).
    fn load(&self) -> anyhow::Result<Option<(Directory, PathBuf)>> {
        let path = match &self.directory {
            Some(p) => p.clone(),
            None => {
                let p = PathBuf::from("temporal-dev.yaml");
                if !p.exists() {
                    return Ok(None);
                }
                p
            }
        };
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read the directory file {}", path.display()))?;
        let dir = Directory::from_seed_yaml(&text)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        Ok(Some((dir, path)))
    }
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Action {
    /// May WHO ask for the targets (for themselves or --for someone)?
    Request,
    /// May WHO approve a request of --requester for the targets, and in which step?
    Approve,
    /// Is WHO an admin (may revoke any ticket)?
    Admin,
}

#[derive(Args)]
pub struct ExplainArgs {
    /// The policy file.
    #[arg(long, default_value = "deploy/local/policy.yaml")]
    file: PathBuf,
    #[command(flatten)]
    directory: DirectoryArgs,
    /// Who asks (or approves).
    #[arg(long)]
    who: String,
    #[arg(long, value_enum, default_value = "request")]
    action: Action,
    /// An account by name or id, or `name=id` when patterns may use either (repeatable).
    #[arg(long = "account")]
    accounts: Vec<String>,
    /// A permission set; applies to every --account.
    #[arg(long)]
    permission_set: Option<String>,
    /// A bundle to ask for (its targets are added).
    #[arg(long)]
    bundle: Option<String>,
    /// Ask on behalf of this user.
    #[arg(long = "for", conflicts_with = "for_group")]
    for_user: Option<String>,
    /// Ask on behalf of this group.
    #[arg(long)]
    for_group: Option<String>,
    /// With --action approve: who asked (the principal too, unless --for names another).
    #[arg(long)]
    requester: Option<String>,
}

pub async fn run(c: PolicyCommand, output: Output) -> anyhow::Result<ExitCode> {
    match c {
        PolicyCommand::Check { file, directory } => check(&file, &directory).await,
        PolicyCommand::Explain(args) => explain(&args, output).await,
        PolicyCommand::Compile { file, out } => compile(&file, &out).await,
    }
}

async fn check(file: &Path, directory: &DirectoryArgs) -> anyhow::Result<ExitCode> {
    let policy = match Policy::load(file).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let dir_note = match directory.load()? {
        Some((dir, from)) => {
            if let Err(e) = policy.check_directory(&dir) {
                eprintln!("{e}");
                return Ok(ExitCode::FAILURE);
            }
            format!(
                "groups, users and quorums checked against {}",
                from.display()
            )
        }
        None => "no directory given: groups, users and quorums not checked (--directory)".into(),
    };
    let r = policy.rules();
    println!(
        "ok: {} ({}): {} eligibility rules, {} on-behalf rules, {} plans, {} bundles, {} services -> {} Casbin policy lines; {dir_note}",
        file.display(),
        short_hash(policy.hash()),
        r.eligibility.len(),
        r.on_behalf.len(),
        r.plans.len(),
        r.bundles.len(),
        r.services.len(),
        policy.line_count(),
    );
    Ok(ExitCode::SUCCESS)
}

async fn compile(file: &Path, out: &Path) -> anyhow::Result<ExitCode> {
    let policy = match Policy::load(file).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    std::fs::write(out.join("model.conf"), policy.model())?;
    std::fs::write(out.join("policy.csv"), policy.policy_csv())?;
    println!(
        "wrote {} and {} ({} policy lines) from {} ({})",
        out.join("model.conf").display(),
        out.join("policy.csv").display(),
        policy.line_count(),
        file.display(),
        short_hash(policy.hash())
    );
    Ok(ExitCode::SUCCESS)
}

/// What `explain` found, as printed (text) or serialised (`--output json`).
#[derive(Serialize)]
struct Explanation {
    policy: String,
    file: String,
    action: &'static str,
    who: String,
    principal: String,
    targets: Vec<String>,
    allowed: bool,
    /// One line per decision, in order; the refusal last when denied.
    decisions: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    plan: Option<PlanView>,
}

#[derive(Serialize)]
struct PlanView {
    name: String,
    summary: String,
    steps: Vec<StepView>,
    escalation: Option<StepView>,
}

#[derive(Serialize)]
struct StepView {
    name: String,
    quorum: u32,
    /// Who may vote (the requester and the principal never count).
    approvers: Vec<String>,
    groups: Vec<String>,
}

fn parse_user(field: &'static str, s: &str) -> anyhow::Result<UserName> {
    UserName::parse_field(field, s).map_err(|e| anyhow::anyhow!("--{field}: {e}"))
}

fn targets(args: &ExplainArgs, policy: &Policy) -> anyhow::Result<Vec<TargetKey>> {
    let mut out = Vec::new();
    if !args.accounts.is_empty() {
        let Some(ps) = &args.permission_set else {
            anyhow::bail!("--permission-set is needed with --account");
        };
        for a in &args.accounts {
            let (name, id) = a.split_once('=').unwrap_or((a, a));
            out.push(TargetKey {
                account_id: id.to_owned(),
                account_name: name.to_owned(),
                permission_set: ps.clone(),
            });
        }
    }
    if let Some(b) = &args.bundle {
        let Some(items) = policy.rules().bundle_targets(b) else {
            anyhow::bail!("--bundle: there is no bundle called {b:?} in the policy");
        };
        for t in items {
            out.push(TargetKey {
                account_id: t.account.clone(),
                account_name: t.account,
                permission_set: t.permission_set,
            });
        }
    }
    if out.is_empty() && args.action != Action::Admin {
        anyhow::bail!("nothing to explain: give --account and --permission-set, or --bundle");
    }
    Ok(out)
}

async fn explain(args: &ExplainArgs, output: Output) -> anyhow::Result<ExitCode> {
    let policy = match Policy::load(&args.file).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let Some((dir, _)) = args.directory.load()? else {
        anyhow::bail!(
            "explain needs the directory (users and groups): run it where temporal-dev.yaml is, or pass --directory FILE"
        );
    };
    let who = parse_user("who", &args.who)?;
    let requester = match (&args.requester, args.action) {
        (Some(r), Action::Approve) => Some(parse_user("requester", r)?),
        (None, Action::Approve) => {
            anyhow::bail!("--requester is needed with --action approve: whose request is it?")
        }
        _ => None,
    };
    let principal = match (&args.for_user, &args.for_group) {
        (Some(u), _) => Principal::User(parse_user("for", u)?),
        (None, Some(g)) => {
            Principal::Group(GroupName::parse(g).map_err(|e| anyhow::anyhow!("--for-group: {e}"))?)
        }
        (None, None) => Principal::User(requester.clone().unwrap_or_else(|| who.clone())),
    };
    let targets = targets(args, &policy)?;
    let mut x = Explanation {
        policy: policy.hash().to_owned(),
        file: args.file.display().to_string(),
        action: match args.action {
            Action::Request => "request",
            Action::Approve => "approve",
            Action::Admin => "admin",
        },
        who: who.to_string(),
        principal: principal.to_string(),
        targets: targets.iter().map(ToString::to_string).collect(),
        allowed: false,
        decisions: Vec::new(),
        plan: None,
    };
    let max_timeout = jiff::SignedDuration::MAX;
    let view = |e: jit_policy::Explained, x: &mut Explanation, requester: &UserName| {
        x.allowed = e.allowed;
        x.decisions = e.decisions;
        if let (Some(a), Ok((rule, _))) = (&e.plan, policy.plan_for(&targets)) {
            x.plan = Some(plan_view(a, rule, requester, &principal));
        }
    };
    match args.action {
        Action::Request => {
            let e = policy.explain_request(&dir, &who, &principal, &targets, max_timeout);
            view(e, &mut x, &who);
        }
        Action::Approve => {
            let requester = requester.unwrap_or_else(|| who.clone());
            let e =
                policy.explain_approve(&dir, &who, &requester, &principal, &targets, max_timeout);
            view(e, &mut x, &requester);
        }
        Action::Admin => {
            let Some(person) = dir.person(&who) else {
                x.decisions
                    .push(format!("{who} is not a user of the directory"));
                return print(&x, output);
            };
            let v = policy.is_admin(&person);
            x.allowed = v.allowed;
            x.decisions.push(v.reason);
        }
    }
    print(&x, output)
}

fn plan_view(
    a: &jit_domain::ApprovalPlan,
    rule: &jit_policy::PlanRule,
    requester: &UserName,
    principal: &Principal,
) -> PlanView {
    let counts = |u: &UserName| u != requester && principal.user() != Some(u);
    let view = |name: &str,
                quorum: u32,
                approvers: &std::collections::BTreeSet<UserName>,
                groups: &[String]| StepView {
        name: name.to_owned(),
        quorum,
        approvers: approvers
            .iter()
            .filter(|u| counts(u))
            .map(ToString::to_string)
            .collect(),
        groups: groups.to_vec(),
    };
    let mut summary = format!(
        "at most {:#} per request and {:#} in total; extensions {}; approval within {:#}",
        a.max_duration,
        a.max_total,
        if a.extension_needs_approval {
            "approved again"
        } else {
            "need no approval"
        },
        a.approval_timeout
    );
    if let Some(b) = a.break_glass_ratify_within {
        summary.push_str(&format!("; break-glass allowed, ratified within {b:#}"));
    }
    if let Some(r) = a.remind_every {
        summary.push_str(&format!("; reminders every {r:#}"));
    }
    if a.steps.is_empty() {
        summary.push_str("; auto-approved");
    }
    PlanView {
        name: rule.name.clone(),
        summary,
        steps: a
            .steps
            .iter()
            .map(|s| view(&s.name, s.quorum, &s.approvers, &s.groups))
            .collect(),
        escalation: a.escalation.as_ref().map(|e| {
            let mut v = view("escalation", 1, &e.approvers, &e.groups);
            v.name = format!("escalation after {:#}", e.after);
            v
        }),
    }
}

fn print(x: &Explanation, output: Output) -> anyhow::Result<ExitCode> {
    if output == Output::Json {
        println!("{}", serde_json::to_string_pretty(x)?);
    } else {
        println!("policy {} ({})", x.file, short_hash(&x.policy));
        let what = if x.targets.is_empty() {
            String::new()
        } else {
            format!(": {}", x.targets.join(", "))
        };
        match x.action {
            "request" => println!("{} asks for {}{what}", x.who, x.principal),
            "approve" => println!("{} approves a request for {}{what}", x.who, x.principal),
            _ => println!("is {} an admin?", x.who),
        }
        println!("  {}", if x.allowed { "ALLOWED" } else { "DENIED" });
        for d in &x.decisions {
            println!("    {d}");
        }
        if let Some(p) = &x.plan {
            println!("plan {}: {}", p.name, p.summary);
            for (i, s) in p.steps.iter().enumerate() {
                println!(
                    "  {}. {}: {} of [{}] (groups: {})",
                    i + 1,
                    s.name,
                    s.quorum,
                    s.approvers.join(", "),
                    s.groups.join(", ")
                );
            }
            if let Some(e) = &p.escalation {
                println!("  {}: [{}]", e.name, e.approvers.join(", "));
            }
        }
    }
    Ok(if x.allowed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}
