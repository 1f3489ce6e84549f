//! Domain <-> wire: `Ticket` to `jit.v1.Ticket`, phases to `TicketStatus`, times and
//! durations to the well-known types (the other way, checked, is [`crate::door`]).

use jiff::{SignedDuration, Timestamp};
use jit_domain::{Decision, Phase, Principal, Ticket};
use jit_proto::v1 as pb;

pub fn timestamp(t: Timestamp) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.as_second(),
        nanos: t.subsec_nanosecond(),
    }
}

pub fn duration(d: SignedDuration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: d.as_secs(),
        nanos: d.subsec_nanos(),
    }
}

pub fn principal(p: &Principal) -> pb::Principal {
    pb::Principal {
        kind: Some(match p {
            Principal::User(u) => pb::principal::Kind::User(u.to_string()),
            Principal::Group(g) => pb::principal::Kind::Group(g.to_string()),
        }),
    }
}

pub fn ticket(t: &Ticket, now: Timestamp) -> pb::Ticket {
    let r = &t.request;
    let targets = if t.targets.is_empty() {
        r.targets
            .iter()
            .map(|x| pb::Target {
                account_id: x.account.to_string(),
                account_name: String::new(),
                permission_set: x.permission_set.to_string(),
            })
            .collect()
    } else {
        t.targets
            .iter()
            .map(|x| pb::Target {
                account_id: x.target.account.to_string(),
                account_name: x.account_name.clone(),
                permission_set: x.target.permission_set.to_string(),
            })
            .collect()
    };
    let plan = t.plan.as_ref().map(plan);
    let approval = t.approval.as_ref();
    let votes = approval
        .map(|a| {
            a.votes
                .iter()
                .map(|v| pb::Vote {
                    voter: v.voter.to_string(),
                    cast_by: v.cast_by.to_string(),
                    step: a
                        .steps
                        .get(v.step)
                        .map(|s| s.name.clone())
                        .unwrap_or_default(),
                    approve: v.decision == Decision::Approve,
                    comment: v.comment.clone().unwrap_or_default(),
                    cast_time: Some(timestamp(v.at)),
                })
                .collect()
        })
        .unwrap_or_default();
    let current_step = approval
        .and_then(|a| a.current_step())
        .filter(|_| t.phase == Phase::PendingApproval)
        .map(|s| s.name.clone())
        .unwrap_or_default();
    pb::Ticket {
        ticket_id: r.ticket_id.to_string(),
        status: jit_proto::status::of(t.phase) as i32,
        requester: r.requester.to_string(),
        principal: Some(principal(&r.principal)),
        targets,
        bundle: r
            .bundle
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        duration: Some(duration(r.duration)),
        justification: r.justification.to_string(),
        break_glass: r.break_glass,
        request_time: Some(timestamp(t.requested_at)),
        start_time: r.start_at.map(timestamp),
        approve_time: t.approved_at.map(timestamp),
        activate_time: t.active_since.map(timestamp),
        expire_time: t.expires_at.map(timestamp),
        end_time: t.ended_at.map(timestamp),
        approval_expire_time: t.approval_deadline.map(timestamp),
        plan,
        current_step,
        votes,
        pending_approvers: t
            .pending_approvers(now)
            .iter()
            .map(ToString::to_string)
            .collect(),
        reason: t.reason.clone().unwrap_or_default(),
        flagged: t.flagged.clone().unwrap_or_default(),
        policy_hash: t
            .policy
            .as_ref()
            .map(|p| p.hash.clone())
            .unwrap_or_default(),
        policy_decisions: t
            .policy
            .as_ref()
            .map(|p| p.decisions.clone())
            .unwrap_or_default(),
        audit: t
            .audit
            .iter()
            .map(|e| format!("{}  {}", e.at, e.what))
            .collect(),
        version: t.version,
        session: t.session.as_ref().map(session),
    }
}

/// A session summary on the wire.
pub fn session(s: &jit_domain::SessionSummary) -> pb::SessionSummary {
    let at = |t: &Option<String>| {
        t.as_deref()
            .and_then(|t| t.parse::<Timestamp>().ok())
            .map(timestamp)
    };
    pb::SessionSummary {
        events: s.events,
        by_service: s.by_service.clone().into_iter().collect(),
        reads: s.reads,
        writes: s.writes,
        denied: s.denied,
        console_sign_ins: s.console_sign_ins,
        notable: s.notable.clone(),
        first_event_time: at(&s.first),
        last_event_time: at(&s.last),
        unreadable: s.unreadable.clone(),
        unparsable_records: s.unparsable_records,
        files: s.files,
        window_start_time: s.from.map(timestamp),
        window_end_time: s.until.map(timestamp),
        events_uri: s.events_at.clone().unwrap_or_default(),
        line: s.line(),
    }
}

/// A plan on the wire.
pub fn plan(p: &jit_domain::ApprovalPlan) -> pb::Plan {
    pb::Plan {
        name: p.name.clone(),
        steps: p
            .steps
            .iter()
            .map(|s| pb::ApprovalStep {
                name: s.name.clone(),
                quorum: s.quorum,
                approvers: s.approvers.iter().map(ToString::to_string).collect(),
                groups: s.groups.clone(),
            })
            .collect(),
        max_duration: Some(duration(p.max_duration)),
        max_total: Some(duration(p.max_total)),
        break_glass_ratify_duration: p.break_glass_ratify_within.map(duration),
    }
}
