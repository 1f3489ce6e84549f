//! `cargo xtask demo`: one ticket through its whole life against the running local stack.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use jiff::SignedDuration;
use jit_aws::{AwsSettings, IdentityCenter};
use jit_domain::{
    AccountId, AssignmentRef, Justification, PermissionSetName, Phase, Principal, Target, Ticket,
    TicketId, TicketRequest, UserName,
};
use jit_workflows::{DelegateInput, TicketWorkflow, VoteInput, start_options};
use temporalio_client::{
    Client, WorkflowExecuteUpdateOptions, WorkflowFetchHistoryOptions, WorkflowGetResultOptions,
    WorkflowHandle, WorkflowQueryOptions,
};

use crate::stack::{StateDir, read_recorded};

#[derive(clap::Args)]
pub(crate) struct DemoArgs {
    /// How long the access lasts once approved.
    #[arg(long, default_value = "4h", value_parser = jit_config::parse_duration)]
    duration: SignedDuration,
    /// Wait for the expiry in real time instead of fast-forwarding the ticket with the dev
    /// server's time skipping.
    #[arg(long)]
    real_time: bool,
    /// The account (by its seed name) to ask access to; `prod` has a two-step plan.
    #[arg(long, default_value = "prod")]
    account: String,
}

type Handle = WorkflowHandle<Client, TicketWorkflow>;

fn step(n: u32, text: &str) {
    println!("\n[{n}] {text}");
}

pub(crate) async fn run(root: &Path, args: DemoArgs) -> anyhow::Result<()> {
    let state = StateDir::new(root);
    let Some(rec) = read_recorded(&state)? else {
        bail!("the local stack is not running: start it with `cargo xtask up --detach`");
    };
    let seed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(state.seed()).context("reading .jit/seed.json")?,
    )?;
    let account = seed["accounts"][&args.account]
        .as_str()
        .with_context(|| format!("no account called {:?} in the seed", args.account))?;
    let account = AccountId::parse(account)?;

    let client =
        jit_devstack::temporal_client::connect(&rec.temporal_address, &rec.namespace, "jit-demo")
            .await
            .context("is the stack up? (`cargo xtask up --detach`)")?;
    let aws = IdentityCenter::connect(&AwsSettings {
        region: rec.region.clone(),
        endpoint_url: Some(rec.sandbox_url.clone()),
    })
    .await;

    let id = format!("demo-{}", jiff::Timestamp::now().as_second());
    let bob = UserName::parse("bob")?;
    let req = TicketRequest {
        ticket_id: TicketId::parse(&id)?,
        requester: bob.clone(),
        principal: Principal::User(bob),
        targets: vec![Target {
            account: account.clone(),
            permission_set: PermissionSetName::parse("ReadOnly")?,
        }],
        bundle: None,
        duration: args.duration,
        justification: Justification::parse("demo: investigate incident INC-42")?,
        start_at: None,
        break_glass: false,
    };
    let wf_id = req.ticket_id.workflow_id();
    step(
        1,
        &format!(
            "bob asks for ReadOnly in {} ({account}) for {:#}: workflow {wf_id}",
            args.account, req.duration
        ),
    );
    client
        .start_workflow(
            TicketWorkflow::run,
            req.clone().into(),
            start_options(&req, &rec.task_queue),
        )
        .await?;
    let h: Handle = client.get_workflow_handle::<TicketWorkflow>(wf_id.clone());
    let t = wait(&h, |t| {
        t.phase == Phase::PendingApproval || t.phase.is_terminal()
    })
    .await?;
    if t.phase.is_terminal() {
        bail!("the ticket ended early: {:?}", t.reason);
    }
    if let Some(p) = &t.plan {
        println!("    plan {}:", p.name);
        for s in &p.steps {
            let who: Vec<&str> = s.approvers.iter().map(UserName::as_str).collect();
            println!(
                "      step {}: {} of [{}]",
                s.name,
                s.quorum,
                who.join(", ")
            );
        }
    }
    print_status(&t);

    step(2, "bob tries to approve his own request");
    match vote(&h, "bob").await {
        Err(e) => println!("    refused: {e}"),
        Ok(_) => bail!("self-approval was accepted: this is a bug"),
    }

    step(3, "carol (sre) approves");
    println!("    {}", vote(&h, "carol").await?);

    step(
        4,
        "dave (sre) is away: he delegates his approval to frank for an hour",
    );
    h.execute_update(
        TicketWorkflow::delegate,
        DelegateInput {
            from: UserName::parse("dave")?,
            to: UserName::parse("frank")?,
            until: jiff::Timestamp::now() + SignedDuration::from_hours(1),
            reason: Some("on holiday".into()),
        },
        WorkflowExecuteUpdateOptions::default(),
    )
    .await
    .map_err(|e| anyhow::anyhow!(jit_devstack::temporal_client::update_error_message(&e)))?;
    println!("    delegated");

    step(5, "frank approves, as dave");
    println!("    {}", vote(&h, "frank").await?);

    step(6, "erin (security) approves the second step");
    let t0 = Instant::now();
    println!("    {}", vote(&h, "erin").await?);
    let t = wait(&h, |t| t.phase == Phase::Active || t.phase.is_terminal()).await?;
    println!("    approval to active access: {:.0?}", t0.elapsed());
    print_status(&t);
    if let Some(a) = &t.approval {
        for v in &a.votes {
            let by = if v.cast_by == v.voter {
                String::new()
            } else {
                format!(" (cast by {})", v.cast_by)
            };
            println!(
                "    vote: {} {:?} in step {}{by}",
                v.voter, v.decision, a.steps[v.step].name
            );
        }
    }
    let a = t.targets.first().context("no target")?.assignment.clone();
    print_assignment(&aws, &a).await?;

    if args.real_time {
        step(
            7,
            &format!("waiting {:#} for the access to expire", req.duration),
        );
    } else {
        step(
            7,
            &format!(
                "fast-forwarding {:#} (the dev server's time skipping, for this workflow only)",
                req.duration
            ),
        );
        jit_devstack::temporal_client::enable_time_skipping(&client, &rec.namespace, &wf_id)
            .await?;
    }
    let out = h.get_result(WorkflowGetResultOptions::default()).await?;
    println!(
        "    ended: {} {}",
        out.phase,
        out.reason.unwrap_or_default()
    );
    print_assignment(&aws, &a).await?;

    let events = h
        .fetch_history(WorkflowFetchHistoryOptions::default())
        .into_events()
        .await?;
    let t = h
        .query(TicketWorkflow::status, (), WorkflowQueryOptions::default())
        .await?;
    step(8, "the audit trail");
    for e in &t.audit {
        println!("    {}  {}", e.at.strftime("%H:%M:%S"), e.what);
    }
    println!("\nhistory: {} events. See it in the UI:", events.len());
    println!(
        "  {}/namespaces/{}/workflows/{wf_id}",
        rec.ui, rec.namespace
    );
    println!(
        "  or list tickets: .venv/bin/temporal workflow list --address {} --query \"JitPrincipal='bob'\"",
        rec.temporal_address.trim_start_matches("http://")
    );
    Ok(())
}

async fn vote(h: &Handle, who: &str) -> anyhow::Result<String> {
    h.execute_update(
        TicketWorkflow::approve,
        VoteInput {
            approver: UserName::parse(who)?,
            comment: Some("looks fine".into()),
        },
        WorkflowExecuteUpdateOptions::default(),
    )
    .await
    .map_err(|e| anyhow::anyhow!(jit_devstack::temporal_client::update_error_message(&e)))
}

async fn wait(h: &Handle, pred: impl Fn(&Ticket) -> bool) -> anyhow::Result<Ticket> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(t) = h
            .query(TicketWorkflow::status, (), WorkflowQueryOptions::default())
            .await
            && pred(&t)
        {
            return Ok(t);
        }
        if Instant::now() > deadline {
            bail!(
                "the ticket did not move within a minute: is the worker running? (.jit/logs/worker.log)"
            );
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn print_status(t: &Ticket) {
    print!("    status: {}", t.phase);
    if let Some(e) = t.expires_at {
        print!(", expires {e}");
    }
    println!();
}

async fn print_assignment(aws: &IdentityCenter, a: &AssignmentRef) -> anyhow::Result<()> {
    let n = aws.count_assignments(a).await?;
    println!(
        "    sandbox: ListAccountAssignments({}, ReadOnly) -> {}",
        a.account,
        if n == 0 {
            "bob has no assignment".to_owned()
        } else {
            format!("bob assigned ({n})")
        }
    );
    Ok(())
}
