//! The durable audit record of an ended ticket ([`AuditRecord`], schema
//! [`AUDIT_SCHEMA`]): who had what, when, approved by whom, under which policy, how it ended,
//! and what was done with the access. Written once per ticket to the audit bucket, outside
//! Temporal, so it outlives the namespace's retention. `docs/audit.md` documents every field;
//! a change that is not an addition gets a new schema version.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{Decision, Phase, Principal, SessionSummary, Ticket};

/// The schema of [`AuditRecord`].
pub const AUDIT_SCHEMA: &str = "jit.ticket.audit/v1";

/// One ended ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub schema: String,
    pub ticket_id: String,
    pub requester: String,
    /// `user:<name>` or `group:<name>`.
    pub principal: String,
    pub justification: String,
    pub break_glass: bool,
    #[serde(default)]
    pub bundle: Option<String>,
    pub targets: Vec<AuditTarget>,
    #[serde(default)]
    pub plan: Option<AuditPlan>,
    #[serde(default)]
    pub policy_hash: Option<String>,
    /// One line per policy decision at evaluation.
    #[serde(default)]
    pub policy_decisions: Vec<String>,
    pub extensions: Vec<AuditExtension>,
    pub requested_at: Timestamp,
    #[serde(default)]
    pub approved_at: Option<Timestamp>,
    #[serde(default)]
    pub active_since: Option<Timestamp>,
    /// When access was due to end (the last expiry in force).
    #[serde(default)]
    pub expires_at: Option<Timestamp>,
    #[serde(default)]
    pub ended_at: Option<Timestamp>,
    /// The phase it ended in (`Expired`, `Relinquished`, `Revoked`, `Denied`, …).
    pub outcome: Phase,
    #[serde(default)]
    pub reason: Option<String>,
    /// Why it needs a security review, if it does.
    #[serde(default)]
    pub flagged: Option<String>,
    /// What the principal did with the access (session audit), when it was read.
    #[serde(default)]
    pub session: Option<SessionSummary>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditTarget {
    pub account: String,
    pub account_name: String,
    pub permission_set: String,
    /// The principal had it before: nothing was created or removed.
    pub standing: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPlan {
    pub name: String,
    pub steps: Vec<AuditStep>,
    pub votes: Vec<AuditVote>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditStep {
    pub name: String,
    pub quorum: u32,
    pub approvers: Vec<String>,
}

/// A vote: `voter` is whose approval it counts as, `cast_by` who cast it (a delegate).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditVote {
    /// The step's name (`extension` for an extension's re-approval).
    pub step: String,
    pub voter: String,
    pub cast_by: String,
    pub decision: Decision,
    #[serde(default)]
    pub comment: Option<String>,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditExtension {
    pub by: String,
    /// Seconds added.
    pub extra_seconds: i64,
    #[serde(default)]
    pub reason: Option<String>,
    pub at: Timestamp,
    pub applied: bool,
}

impl AuditRecord {
    /// The record of `t` (an ended ticket; an open one is recorded as it stands).
    pub fn of(t: &Ticket) -> Self {
        let r = &t.request;
        let votes = |a: &crate::Approval, label: &dyn Fn(usize) -> String| -> Vec<AuditVote> {
            a.votes
                .iter()
                .map(|v| AuditVote {
                    step: label(v.step),
                    voter: v.voter.to_string(),
                    cast_by: v.cast_by.to_string(),
                    decision: v.decision,
                    comment: v.comment.clone(),
                    at: v.at,
                })
                .collect()
        };
        let plan = t.plan.as_ref().map(|p| {
            let step_name = |i: usize| {
                p.steps
                    .get(i)
                    .map_or_else(|| format!("step {i}"), |s| s.name.clone())
            };
            let mut all = t
                .approval
                .as_ref()
                .map(|a| votes(a, &step_name))
                .unwrap_or_default();
            for e in &t.extensions {
                if let Some(a) = &e.approval {
                    all.extend(votes(a, &|_| "extension".to_owned()));
                }
            }
            AuditPlan {
                name: p.name.clone(),
                steps: p
                    .steps
                    .iter()
                    .map(|s| AuditStep {
                        name: s.name.clone(),
                        quorum: s.quorum,
                        approvers: s.approvers.iter().map(ToString::to_string).collect(),
                    })
                    .collect(),
                votes: all,
            }
        });
        Self {
            schema: AUDIT_SCHEMA.to_owned(),
            ticket_id: r.ticket_id.to_string(),
            requester: r.requester.to_string(),
            principal: match &r.principal {
                Principal::User(u) => format!("user:{u}"),
                Principal::Group(g) => format!("group:{g}"),
            },
            justification: r.justification.to_string(),
            break_glass: r.break_glass,
            bundle: r.bundle.as_ref().map(ToString::to_string),
            targets: t
                .targets
                .iter()
                .map(|x| AuditTarget {
                    account: x.target.account.to_string(),
                    account_name: x.account_name.clone(),
                    permission_set: x.target.permission_set.to_string(),
                    standing: x.standing,
                })
                .collect(),
            plan,
            policy_hash: t.policy.as_ref().map(|p| p.hash.clone()),
            policy_decisions: t
                .policy
                .as_ref()
                .map(|p| p.decisions.clone())
                .unwrap_or_default(),
            extensions: t
                .extensions
                .iter()
                .map(|e| AuditExtension {
                    by: e.by.to_string(),
                    extra_seconds: e.extra.as_secs(),
                    reason: e.reason.clone(),
                    at: e.at,
                    applied: e.applied,
                })
                .collect(),
            requested_at: t.requested_at,
            approved_at: t.approved_at,
            active_since: t.active_since,
            expires_at: t.expires_at,
            ended_at: t.ended_at,
            outcome: t.phase,
            reason: t.reason.clone(),
            flagged: t.flagged.clone(),
            session: t.session.clone(),
        }
    }

    /// Where the record goes in the audit bucket: partitioned by the day it ended (UTC), so
    /// a query for a period reads only its days; the same ticket always has the same key.
    pub fn key(&self, prefix: &str) -> String {
        let ended = self.ended_at.unwrap_or(self.requested_at);
        let day = ended.to_zoned(jiff::tz::TimeZone::UTC).date();
        format!("{}{}.json", day_prefix(prefix, day), self.ticket_id)
    }
}

/// The key prefix of the records of the tickets that ended on `day` (UTC):
/// `<prefix>/tickets/v1/ended=YYYY-MM-DD/` — a Hive-style partition, so Athena-style tools
/// read only the days a query asks for.
pub fn day_prefix(prefix: &str, day: jiff::civil::Date) -> String {
    let p = prefix.trim_matches('/');
    let sep = if p.is_empty() { "" } else { "/" };
    format!("{p}{sep}tickets/v1/ended={day}/")
}
