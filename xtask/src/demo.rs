//! `cargo xtask demo`: one ticket through its whole life against the running local stack,
//! through the gRPC API (as a backend service or the `jit` CLI would), with the sandbox
//! checked directly at each step.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use jiff::SignedDuration;
use jit_aws::{AwsSettings, IdentityCenter};
use jit_domain::{AccountId, AssignmentRef, PermissionSetName, PrincipalType, UserName};
use jit_proto::v1 as pb;
use jit_proto::v1::ticket_service_client::TicketServiceClient;
use tonic::transport::Channel;

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

fn step(n: u32, text: &str) {
    println!("\n[{n}] {text}");
}

fn as_user<T>(user: &str, msg: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    if let Ok(v) = format!("Bearer dev:{user}").parse() {
        r.metadata_mut().insert("authorization", v);
    }
    r
}

fn status(t: &pb::Ticket) -> pb::TicketStatus {
    pb::TicketStatus::try_from(t.status).unwrap_or_default()
}

fn ended(t: &pb::Ticket) -> bool {
    use pb::TicketStatus as S;
    !matches!(
        status(t),
        S::Unspecified
            | S::Evaluating
            | S::PendingApproval
            | S::Scheduled
            | S::Provisioning
            | S::Active
            | S::Revoking
    )
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

    let mut api = TicketServiceClient::new(
        Channel::from_shared(rec.api.clone())?
            .connect()
            .await
            .with_context(|| format!("reaching jit-api at {} (is the stack up?)", rec.api))?,
    );
    let client = jit_temporal::connect(&jit_temporal::Target::plain(
        &rec.temporal_address,
        &rec.namespace,
        "jit-demo",
        std::time::Duration::ZERO,
    ))
    .await
    .context("is the stack up? (`cargo xtask up --detach`)")?;
    let aws = IdentityCenter::connect(&AwsSettings {
        region: rec.region.clone(),
        endpoint_url: Some(rec.sandbox_url.clone()),
        requests_per_second: 0.0,
    })
    .await;

    step(
        1,
        &format!(
            "bob asks for ReadOnly in {} ({account}) for {:#}: CreateTicket as dev:bob",
            args.account, args.duration
        ),
    );
    let created = api
        .create_ticket(as_user(
            "bob",
            pb::CreateTicketRequest {
                request_id: format!("demo-{}", jiff::Timestamp::now().as_nanosecond()),
                targets: vec![pb::Target {
                    account_id: account.to_string(),
                    account_name: String::new(),
                    permission_set: "ReadOnly".into(),
                }],
                duration: Some(prost_types::Duration {
                    seconds: args.duration.as_secs(),
                    nanos: 0,
                }),
                justification: "demo: investigate incident INC-42".into(),
                ..Default::default()
            },
        ))
        .await?
        .into_inner();
    let id = created.ticket.context("no ticket")?.ticket_id;
    let wf_id = format!("ticket-{id}");
    println!("    ticket {id} (workflow {wf_id})");
    let t = wait(&mut api, &id, |t| {
        status(t) == pb::TicketStatus::PendingApproval || ended(t)
    })
    .await?;
    if ended(&t) {
        bail!("the ticket ended early: {}", t.reason);
    }
    if let Some(p) = &t.plan {
        println!("    plan {}:", p.name);
        for s in &p.steps {
            println!(
                "      step {}: {} of [{}]",
                s.name,
                s.quorum,
                s.approvers.join(", ")
            );
        }
    }
    print_status(&t);

    step(2, "bob tries to approve his own request");
    match vote(&mut api, &id, "bob").await {
        Err(e) => println!("    refused: {e}"),
        Ok(_) => bail!("self-approval was accepted: this is a bug"),
    }

    step(
        3,
        "carol (sre) finds the vote message in Slack (the local fake) and clicks Approve",
    );
    let answer = slack_approve(&rec, &id, "carol").await?;
    println!("    ephemeral answer to carol: {answer}");

    step(
        4,
        "dave (sre) is away: he delegates his approval to frank for an hour",
    );
    api.delegate_approval(as_user(
        "dave",
        pb::DelegateApprovalRequest {
            ticket_id: id.clone(),
            delegate: "frank".into(),
            expire_time: Some(prost_types::Timestamp {
                seconds: (jiff::Timestamp::now() + SignedDuration::from_hours(1)).as_second(),
                nanos: 0,
            }),
            reason: "on holiday".into(),
        },
    ))
    .await
    .map_err(|e| anyhow::anyhow!("{}", e.message()))?;
    println!("    delegated");

    step(5, "frank approves, as dave");
    println!("    {}", vote(&mut api, &id, "frank").await?);

    step(6, "erin (security) approves the second step");
    let t0 = Instant::now();
    println!("    {}", vote(&mut api, &id, "erin").await?);
    let t = wait(&mut api, &id, |t| {
        status(t) == pb::TicketStatus::Active || ended(t)
    })
    .await?;
    println!("    approval to active access: {:.0?}", t0.elapsed());
    print_status(&t);
    for v in &t.votes {
        let by = if v.cast_by == v.voter {
            String::new()
        } else {
            format!(" (cast by {})", v.cast_by)
        };
        println!(
            "    vote: {} {} in step {}{by}",
            v.voter,
            if v.approve { "Approve" } else { "Deny" },
            v.step
        );
    }
    let a = assignment(&aws, &account).await?;
    print_assignment(&aws, &a).await?;

    if args.real_time {
        step(
            7,
            &format!("waiting {:#} for the access to expire", args.duration),
        );
    } else {
        step(
            7,
            &format!(
                "fast-forwarding {:#} (the dev server's time skipping, for this workflow only)",
                args.duration
            ),
        );
        jit_devstack::temporal_client::enable_time_skipping(&client, &rec.namespace, &wf_id)
            .await?;
    }
    let deadline = if args.real_time {
        args.duration.unsigned_abs() + Duration::from_secs(60)
    } else {
        Duration::from_secs(60)
    };
    let t = wait_for(&mut api, &id, deadline, ended).await?;
    println!("    ended: {} {}", status_name(&t), t.reason);
    print_assignment(&aws, &a).await?;

    step(8, "the audit trail");
    for e in &t.audit {
        println!("    {e}");
    }
    println!("\nSee it in the UI:");
    println!(
        "  {}/namespaces/{}/workflows/{wf_id}",
        rec.ui, rec.namespace
    );
    println!(
        "  or with the CLI: cargo jit --server {} --token dev:bob list",
        rec.api
    );
    Ok(())
}

fn status_name(t: &pb::Ticket) -> String {
    status(t)
        .as_str_name()
        .trim_start_matches("TICKET_STATUS_")
        .to_lowercase()
}

/// carol's click, as Slack would send it: the vote message she got, a signed interaction
/// to jit-api's chat endpoint, and the private answer Slack was asked to show her.
async fn slack_approve(
    rec: &crate::stack::Recorded,
    id: &str,
    who: &str,
) -> anyhow::Result<String> {
    let http = reqwest::Client::new();
    let slack_user = crate::stack::slack_id(who);
    let deadline = Instant::now() + Duration::from_secs(30);
    let message = loop {
        let posts: Vec<serde_json::Value> = http
            .get(format!("{}/calls/chat.postMessage", rec.fake_slack))
            .send()
            .await?
            .json()
            .await?;
        if let Some(m) = posts
            .into_iter()
            .find(|m| m["channel"] == slack_user.as_str() && m["blocks"].to_string().contains(id))
        {
            break m;
        }
        if Instant::now() > deadline {
            bail!(
                "no Slack message reached {who} ({}/calls/chat.postMessage)",
                rec.fake_slack
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    println!(
        "    Slack message to {who}: {}",
        message["text"]
            .as_str()
            .unwrap_or_default()
            .lines()
            .next()
            .unwrap_or_default()
    );
    let response_id = format!("demo-{}", jiff::Timestamp::now().as_nanosecond());
    let payload = serde_json::json!({
        "type": "block_actions",
        "user": {"id": slack_user},
        "trigger_id": "demo",
        "response_url": format!("{}/response/{response_id}", rec.fake_slack),
        "actions": [{"action_id": "approve", "value": id}],
    });
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.to_string())
        .finish();
    let ts = jiff::Timestamp::now().as_second();
    let sig = jit_chat::slack::sign(
        crate::stack::LOCAL_SIGNING_SECRET.as_bytes(),
        ts,
        body.as_bytes(),
    );
    let r = http
        .post(format!("{}/slack/interactions", rec.api_http))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", ts.to_string())
        .header("x-slack-signature", sig)
        .body(body)
        .send()
        .await?;
    anyhow::ensure!(
        r.status().is_success(),
        "the click was refused: {}",
        r.text().await?
    );
    let answers: Vec<serde_json::Value> = http
        .get(format!("{}/calls/response_url", rec.fake_slack))
        .send()
        .await?
        .json()
        .await?;
    Ok(answers
        .into_iter()
        .find(|a| a["response_id"] == response_id.as_str())
        .and_then(|a| a["text"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "(no answer)".into()))
}

async fn vote(
    api: &mut TicketServiceClient<Channel>,
    id: &str,
    who: &str,
) -> anyhow::Result<String> {
    Ok(api
        .approve_ticket(as_user(
            who,
            pb::ApproveTicketRequest {
                ticket_id: id.to_owned(),
                comment: "looks fine".into(),
            },
        ))
        .await
        .map_err(|e| anyhow::anyhow!("{:?}: {}", e.code(), e.message()))?
        .into_inner()
        .effect)
}

async fn wait(
    api: &mut TicketServiceClient<Channel>,
    id: &str,
    pred: impl Fn(&pb::Ticket) -> bool,
) -> anyhow::Result<pb::Ticket> {
    wait_for(api, id, Duration::from_secs(60), pred).await
}

async fn wait_for(
    api: &mut TicketServiceClient<Channel>,
    id: &str,
    within: Duration,
    pred: impl Fn(&pb::Ticket) -> bool,
) -> anyhow::Result<pb::Ticket> {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(t) = api
            .get_ticket(as_user(
                "bob",
                pb::GetTicketRequest {
                    ticket_id: id.to_owned(),
                },
            ))
            .await
            && let Some(t) = t.into_inner().ticket
            && pred(&t)
        {
            return Ok(t);
        }
        if Instant::now() > deadline {
            bail!(
                "the ticket did not move within {within:?}: is the worker running? (.jit/logs/worker.log)"
            );
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn print_status(t: &pb::Ticket) {
    print!("    status: {}", status_name(t));
    if let Some(e) = &t.expire_time
        && let Ok(ts) = jiff::Timestamp::new(e.seconds, e.nanos)
    {
        print!(", expires {ts}");
    }
    println!();
}

/// bob's ReadOnly assignment in `account`, as the sandbox names it.
async fn assignment(aws: &IdentityCenter, account: &AccountId) -> anyhow::Result<AssignmentRef> {
    let bob = UserName::parse("bob")?;
    Ok(AssignmentRef {
        instance_arn: aws.instance().await?.arn.clone(),
        account: account.clone(),
        permission_set_arn: aws
            .permission_set_arn(&PermissionSetName::parse("ReadOnly")?)
            .await?
            .context("no ReadOnly permission set")?,
        principal_type: PrincipalType::User,
        principal_id: aws.user_id(&bob).await?.context("no user bob")?,
    })
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
