//! How tickets read: the one-line status, the detail, list tables, JSON.

use std::process::ExitCode;

use comfy_table::{CellAlignment, ColumnConstraint, Table, presets};
use jiff::{SignedDuration, Timestamp};
use jit_proto::v1 as pb;

use super::args::Output;
use super::run::from_ts;
use super::session::Session;

pub(super) fn status_of(t: &pb::Ticket) -> pb::TicketStatus {
    pb::TicketStatus::try_from(t.status).unwrap_or(pb::TicketStatus::Unspecified)
}

/// 0 while access is (or will be) given or ended normally; 3 when refused or failed.
pub(super) fn exit_for(t: &pb::Ticket) -> ExitCode {
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

pub(super) fn live_line(t: &pb::Ticket) -> String {
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
            if let Some(e) = from_ts(&t.expire_time) {
                line.push_str(&format!(", expires {}", relative(e)));
            }
        }
        pb::TicketStatus::Scheduled => {
            if let Some(e) = from_ts(&t.start_time) {
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

pub(super) fn ticket_json(t: &pb::Ticket) -> serde_json::Value {
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
        "requested_at": time(&t.request_time),
        "active_since": time(&t.activate_time),
        "expires_at": time(&t.expire_time),
        "ended_at": time(&t.end_time),
        "reason": t.reason,
        "flagged": t.flagged,
        "policy_hash": t.policy_hash,
        "audit": t.audit,
        "session": t.session.as_ref().map(session_json),
    })
}

/// A session summary for `--output json`.
pub(super) fn session_json(s: &pb::SessionSummary) -> serde_json::Value {
    let time = |x: &Option<prost_types::Timestamp>| from_ts(x).map(|t| t.to_string());
    serde_json::json!({
        "events": s.events, "by_service": s.by_service, "reads": s.reads, "writes": s.writes,
        "denied": s.denied, "console_sign_ins": s.console_sign_ins, "notable": s.notable,
        "first_event_time": time(&s.first_event_time), "last_event_time": time(&s.last_event_time),
        "unreadable": s.unreadable, "unparsable_records": s.unparsable_records, "files": s.files,
        "window_start_time": time(&s.window_start_time),
        "window_end_time": time(&s.window_end_time),
        "events_uri": s.events_uri, "line": s.line,
    })
}

pub(super) fn show_ticket(s: &Session, t: &pb::Ticket) -> anyhow::Result<ExitCode> {
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
    if let Some(sess) = &t.session {
        println!("  session: {}", sess.line);
        if !sess.events_uri.is_empty() {
            println!("  events: {}", sess.events_uri);
        }
    }
    Ok(exit_for(t))
}

pub(super) fn show_list(s: &Session, rows: &[pb::TicketSummary]) -> anyhow::Result<ExitCode> {
    if s.output == Output::Json {
        let v: Vec<_> = rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "ticket_id": r.ticket_id,
                    "status": status_name(pb::TicketStatus::try_from(r.status).unwrap_or_default()),
                    "requester": r.requester, "principal": r.principal,
                    "account_ids": r.account_ids, "permission_sets": r.permission_sets,
                    "requested_at": from_ts(&r.request_time).map(|t| t.to_string()),
                    "expires_at": from_ts(&r.expire_time).map(|t| t.to_string()),
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
                from_ts(&r.request_time).map(relative).unwrap_or_default(),
                from_ts(&r.expire_time).map(relative).unwrap_or_default(),
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

/// A plain table (no borders: easy to read and to grep): a header row, then the rows.
pub(super) fn table(head: &[&str], rows: &[Vec<String>]) {
    let mut t = Table::new();
    t.load_preset(presets::NOTHING).set_header(head.to_vec());
    for r in rows {
        t.add_row(r.clone());
    }
    for c in t.column_iter_mut() {
        c.set_padding((0, 2));
        c.set_cell_alignment(CellAlignment::Left);
        c.set_constraint(ColumnConstraint::ContentWidth);
    }
    for line in t.lines() {
        println!("{}", line.trim_end());
    }
    if rows.is_empty() {
        println!("(none)");
    }
}
