//! The commands.

use std::process::ExitCode;

use anyhow::Context;
use jiff::Timestamp;
use jit_proto::v1 as pb;

use super::args::{Connect, Output, RequestArgs, TicketCommand};
use super::session::{Session, explain};
use super::show::{relative, show_list, show_ticket, table};
use super::watch::watch;

pub async fn run(c: &Connect, cmd: TicketCommand) -> anyhow::Result<ExitCode> {
    match &cmd {
        TicketCommand::Login { issuer, client_id } => {
            let file = super::session::config_file()?;
            let issuer = issuer
                .clone()
                .or_else(|| std::env::var("JIT_OIDC_ISSUER").ok())
                .or(file.issuer)
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "which identity provider? --issuer, JIT_OIDC_ISSUER or issuer: in the CLI config"
                    )
                })?;
            let client = client_id
                .clone()
                .or_else(|| std::env::var("JIT_OIDC_CLIENT_ID").ok())
                .or(file.client_id)
                .unwrap_or_else(|| "jit-cli".into());
            super::login::login(&issuer, &client).await?;
            return Ok(ExitCode::SUCCESS);
        }
        TicketCommand::Logout => {
            super::login::logout()?;
            return Ok(ExitCode::SUCCESS);
        }
        _ => {}
    }
    let mut s = Session::open(c).await?;
    match cmd {
        TicketCommand::Request(a) => request(&mut s, a).await,
        TicketCommand::Status { ticket } => {
            let t = s
                .client
                .get_ticket(s.req(pb::GetTicketRequest { ticket_id: ticket })?)
                .await
                .map_err(explain)?
                .into_inner()
                .ticket
                .unwrap_or_default();
            show_ticket(&s, &t)
        }
        TicketCommand::List(a) => {
            let mut all = Vec::new();
            let mut token = String::new();
            loop {
                let r = s
                    .client
                    .list_tickets(
                        s.req(pb::ListTicketsRequest {
                            status: a
                                .status
                                .map(|p| jit_proto::status::of(p) as i32)
                                .unwrap_or(0),
                            requester: a.requester.clone().unwrap_or_default(),
                            principal: a.principal.clone().unwrap_or_default(),
                            account_id: a.account.clone().unwrap_or_default(),
                            permission_set: a.permission_set.clone().unwrap_or_default(),
                            page_size: a.limit.clamp(1, 500) as i32,
                            page_token: token,
                        })?,
                    )
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
                .delegate_approval(s.req(pb::DelegateApprovalRequest {
                    ticket_id: ticket,
                    delegate: to,
                    expire_time: Some(ts(until)),
                    reason: reason.unwrap_or_default(),
                })?)
                .await
                .map_err(explain)?
                .into_inner()
                .ticket
                .unwrap_or_default();
            if s.output == Output::Text {
                println!("delegated until {}", relative(until));
            }
            show_ticket(&s, &t)
        }
        TicketCommand::Extend { ticket, by, reason } => {
            let r = s
                .client
                .extend_ticket(s.req(pb::ExtendTicketRequest {
                    ticket_id: ticket,
                    extra_duration: Some(prost_types::Duration {
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
        TicketCommand::Done { ticket, reason } => {
            end(&mut s, End::Relinquish, ticket, reason).await
        }
        TicketCommand::Revoke { ticket, reason } => end(&mut s, End::Revoke, ticket, reason).await,
        TicketCommand::Cancel { ticket, reason } => end(&mut s, End::Cancel, ticket, reason).await,
        TicketCommand::Watch { ticket } => watch(&mut s, ticket, false).await,
        TicketCommand::Session { ticket, limit } => {
            let r = s
                .client
                .get_session_events(s.req(pb::GetSessionEventsRequest {
                    ticket_id: ticket,
                    page_size: limit,
                })?)
                .await
                .map_err(explain)?
                .into_inner();
            if s.output == Output::Json {
                let events: Vec<serde_json::Value> = r
                    .events
                    .iter()
                    .filter_map(|e| serde_json::from_str(e).ok())
                    .collect();
                println!(
                    "{}",
                    serde_json::json!({
                        "summary": r.summary.as_ref().map(super::show::session_json),
                        "events": events,
                    })
                );
            } else {
                if let Some(sum) = &r.summary {
                    println!("{}", sum.line);
                }
                let rows: Vec<Vec<String>> = r.events.iter().map(|e| event_row(e)).collect();
                table(&["TIME", "ACTION", "REGION", "ERROR"], &rows);
            }
            Ok(ExitCode::SUCCESS)
        }
        TicketCommand::Whoami => {
            let r = s
                .client
                .get_caller(s.req(pb::GetCallerRequest {})?)
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
                .list_requestable_targets(s.req(pb::ListRequestableTargetsRequest::default())?)
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
        TicketCommand::Login { .. } | TicketCommand::Logout => unreachable!("handled above"),
    }
}

/// One CloudTrail record as a table row: time, service:action, region, error code.
fn event_row(raw: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(raw).unwrap_or_default();
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_owned();
    let service = s("eventSource");
    let service = service.strip_suffix(".amazonaws.com").unwrap_or(&service);
    vec![
        s("eventTime"),
        format!("{service}:{}", s("eventName")),
        s("awsRegion"),
        s("errorCode"),
    ]
}

pub(super) fn ts(t: Timestamp) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.as_second(),
        nanos: t.subsec_nanosecond(),
    }
}

pub(super) fn from_ts(t: &Option<prost_types::Timestamp>) -> Option<Timestamp> {
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
            start_time: a.start_at.map(ts),
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
    let ticket_id = ticket;
    let comment = comment.unwrap_or_default();
    let (effect, t) = if approve {
        let msg = pb::ApproveTicketRequest { ticket_id, comment };
        let r = s
            .client
            .approve_ticket(s.req(msg)?)
            .await
            .map_err(explain)?;
        let r = r.into_inner();
        (r.effect, r.ticket)
    } else {
        let msg = pb::DenyTicketRequest { ticket_id, comment };
        let r = s.client.deny_ticket(s.req(msg)?).await.map_err(explain)?;
        let r = r.into_inner();
        (r.effect, r.ticket)
    };
    if s.output == Output::Text {
        println!("{effect}");
    }
    show_ticket(s, &t.unwrap_or_default())
}

/// How a ticket is ended early.
enum End {
    Relinquish,
    Revoke,
    Cancel,
}

async fn end(
    s: &mut Session,
    kind: End,
    ticket: String,
    reason: Option<String>,
) -> anyhow::Result<ExitCode> {
    let ticket_id = ticket;
    let reason = reason.unwrap_or_default();
    let t = match kind {
        End::Relinquish => {
            let msg = pb::RelinquishTicketRequest { ticket_id, reason };
            let r = s.client.relinquish_ticket(s.req(msg)?).await;
            r.map_err(explain)?.into_inner().ticket
        }
        End::Revoke => {
            let msg = pb::RevokeTicketRequest { ticket_id, reason };
            let r = s.client.revoke_ticket(s.req(msg)?).await;
            r.map_err(explain)?.into_inner().ticket
        }
        End::Cancel => {
            let msg = pb::CancelTicketRequest { ticket_id, reason };
            let r = s.client.cancel_ticket(s.req(msg)?).await;
            r.map_err(explain)?.into_inner().ticket
        }
    };
    show_ticket(s, &t.unwrap_or_default())
}
