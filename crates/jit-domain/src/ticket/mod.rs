//! [`Ticket`]: the state a ticket's workflow holds — request, phase, plan, approval,
//! extensions, resource stack, times and audit trail.
//!
//! Its methods are the rules; the workflow only decides *when* to call them. Nothing here
//! reads a clock: times are passed in. Every `check_*` method is what an update validator
//! calls (no state change); the matching method without `check_` applies the change after
//! checking again. The rules live by subject: [`votes`] (votes, delegation, escalation),
//! [`extend`] (extensions), [`end`] (early ends).

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::approval::{Approval, ApprovalPlan, Decision, DelegationRejected};
use crate::evaluation::{Evaluated, PolicyRecord, ResolvedTarget};
use crate::ids::UserName;
use crate::phase::Phase;
use crate::request::{Target, TicketRequest};
use crate::stack::ResourceStack;

mod end;
mod extend;
mod votes;

#[cfg(test)]
mod tests;

/// A request to end a ticket early.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndKind {
    /// The requester or principal is done.
    Relinquish,
    /// An approver or admin removes the access.
    Revoke,
    /// The requester withdraws the request before access.
    Cancel,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndRequest {
    pub kind: EndKind,
    pub by: UserName,
    pub reason: Option<String>,
    pub at: Timestamp,
}

impl EndRequest {
    /// The phase a ticket ends in for this request.
    pub fn phase(&self) -> Phase {
        match self.kind {
            EndKind::Relinquish => Phase::Relinquished,
            EndKind::Revoke => Phase::Revoked,
            EndKind::Cancel => Phase::Cancelled,
        }
    }
}

/// An extension asked for while active.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extension {
    pub by: UserName,
    pub extra: SignedDuration,
    pub reason: Option<String>,
    pub at: Timestamp,
    /// `Some` while it waits for re-approval.
    pub approval: Option<Approval>,
    pub applied: bool,
}

/// Which approval votes go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpenApproval {
    /// The request's (while pending, or a break-glass ratification).
    Request,
    /// The last extension's re-approval.
    Extension,
}

/// One line of the human-readable audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub at: Timestamp,
    pub what: String,
}

/// The whole state of one ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    pub request: TicketRequest,
    pub phase: Phase,
    pub plan: Option<ApprovalPlan>,
    pub targets: Vec<ResolvedTarget>,
    pub approval: Option<Approval>,
    pub extensions: Vec<Extension>,
    pub stack: ResourceStack,
    pub requested_at: Timestamp,
    pub approved_at: Option<Timestamp>,
    pub active_since: Option<Timestamp>,
    pub expires_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    /// Approval must be complete by this time.
    #[serde(default)]
    pub approval_deadline: Option<Timestamp>,
    /// When approval started waiting (reminders and escalation count from here).
    #[serde(default)]
    pub pending_since: Option<Timestamp>,
    #[serde(default)]
    pub reminders_sent: u32,
    #[serde(default)]
    pub escalated: bool,
    /// Break-glass access must be ratified (approved) by this time.
    pub ratify_by: Option<Timestamp>,
    /// Why the ticket needs a security review (e.g. break-glass never ratified).
    pub flagged: Option<String>,
    pub end_request: Option<EndRequest>,
    /// Why the ticket ended the way it did.
    pub reason: Option<String>,
    pub audit: Vec<AuditEvent>,
    /// Bumped by every change the workflow's waits must notice.
    pub version: u64,
    /// The policy decision recorded at evaluation.
    #[serde(default)]
    pub policy: Option<PolicyRecord>,
    /// Chat messages about this ticket, updated in place as it moves.
    #[serde(default)]
    pub messages: Vec<crate::card::ChatMessage>,
    /// Whether the requester was warned of the coming expiry (reset by an extension).
    #[serde(default)]
    pub warned: bool,
    /// Whether the stack's entries are leases (acquired from the assignment's
    /// `AssignmentLease`) rather than assignments the ticket created itself (histories from
    /// before leases).
    #[serde(default)]
    pub leased: bool,
    /// What the principal did with the access, read from CloudTrail after it ended (session
    /// audit, when configured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<crate::SessionSummary>,
    /// What the evaluating worker keeps of the ticket once it ended (its evaluation's hints;
    /// carried across continue-as-new).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep: Option<crate::AuditHints>,
}

impl Ticket {
    pub fn new(request: TicketRequest, now: Timestamp) -> Self {
        let what = match (&request.bundle, request.targets.as_slice()) {
            (Some(b), []) => format!("bundle {b}"),
            (Some(b), ts) => format!("bundle {b} and {}", list(ts)),
            (None, ts) => list(ts),
        };
        let mut line = format!(
            "{} requested {what} for {} for {:#}",
            request.requester, request.principal, request.duration
        );
        if let Some(s) = request.start_at {
            line.push_str(&format!(" from {s}"));
        }
        if request.break_glass {
            line.push_str(" (BREAK-GLASS)");
        }
        line.push_str(&format!(": {}", request.justification));
        let mut t = Self {
            phase: Phase::Evaluating,
            plan: None,
            targets: Vec::new(),
            approval: None,
            extensions: Vec::new(),
            stack: ResourceStack::default(),
            requested_at: now,
            approved_at: None,
            active_since: None,
            expires_at: None,
            ended_at: None,
            approval_deadline: None,
            pending_since: None,
            reminders_sent: 0,
            escalated: false,
            ratify_by: None,
            flagged: None,
            end_request: None,
            reason: None,
            audit: Vec::new(),
            version: 0,
            policy: None,
            messages: Vec::new(),
            warned: false,
            leased: false,
            session: None,
            keep: None,
            request,
        };
        t.log(now, line);
        t
    }

    pub fn log(&mut self, at: Timestamp, what: impl Into<String>) {
        self.audit.push(AuditEvent {
            at,
            what: what.into(),
        });
    }

    /// Logs something the workflow's waits should look at (e.g. a refused signal: a long
    /// history of them triggers continue-as-new).
    pub fn note(&mut self, at: Timestamp, what: impl Into<String>) {
        self.log(at, what);
        self.bump();
    }

    fn bump(&mut self) {
        self.version += 1;
    }

    /// Moves to a non-terminal phase.
    pub fn enter(&mut self, phase: Phase, at: Timestamp) {
        self.phase = phase;
        self.bump();
        self.log(at, format!("phase: {phase}"));
    }

    /// Ends the ticket in a terminal phase with an optional reason.
    pub fn end(&mut self, phase: Phase, reason: Option<String>, at: Timestamp) {
        debug_assert!(phase.is_terminal());
        self.phase = phase;
        self.ended_at = Some(at);
        self.bump();
        match &reason {
            Some(r) => self.log(at, format!("ended {phase}: {r}")),
            None => self.log(at, format!("ended {phase}")),
        }
        self.reason = reason;
    }

    pub fn is_party(&self, u: &UserName) -> bool {
        *u == self.request.requester || self.request.principal.user() == Some(u)
    }

    /// Records evaluation: the plan and the resolved targets. `Err(reason)` if the request
    /// does not fit the plan.
    pub fn evaluated(&mut self, e: Evaluated, now: Timestamp) -> Result<(), String> {
        let plan = &e.plan;
        if self.request.duration > plan.max_duration {
            return Err(format!(
                "duration: {:#} is longer than plan {}'s maximum of {:#}",
                self.request.duration, plan.name, plan.max_duration
            ));
        }
        if self.request.break_glass && plan.break_glass_ratify_within.is_none() {
            return Err(format!(
                "break_glass: plan {} does not allow break-glass",
                plan.name
            ));
        }
        let approval = Approval::new(
            plan.steps.clone(),
            self.request.requester.clone(),
            self.request.principal.user().cloned(),
        )
        .map_err(|e| format!("plan {}: {e}", plan.name))?;
        let steps: Vec<String> = plan
            .steps
            .iter()
            .map(|s| format!("{} ({} of {})", s.name, s.quorum, s.approvers.len()))
            .collect();
        self.log(
            now,
            format!(
                "plan {}: {}; targets: {}",
                plan.name,
                if steps.is_empty() {
                    "auto-approved".to_owned()
                } else {
                    steps.join(", then ")
                },
                e.targets
                    .iter()
                    .map(|t| format!(
                        "{} in {} ({})",
                        t.target.permission_set, t.account_name, t.target.account
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
        if let Some(p) = &e.policy {
            self.log(
                now,
                format!("policy {}: {}", short(&p.hash), p.decisions.join("; ")),
            );
        }
        self.policy = e.policy;
        self.approval = Some(approval);
        self.plan = Some(e.plan);
        self.targets = e.targets;
        for d in e.delegations {
            let line = format!(
                "standing delegation from {} to {} until {}",
                d.from, d.to, d.until
            );
            let applied = self
                .approval
                .as_mut()
                .map(|a| a.delegate(d, now))
                .unwrap_or(Err(DelegationRejected::Closed));
            match applied {
                Ok(()) => self.log(now, format!("{line} applies")),
                Err(err) => self.log(now, format!("{line} does not apply: {err}")),
            }
        }
        self.bump();
        Ok(())
    }

    /// The approval votes go to now: the request's while pending (or while break-glass access
    /// waits for ratification), else a pending extension's.
    fn open_approval(&self) -> Option<&Approval> {
        match self.open_approval_kind()? {
            OpenApproval::Request => self.approval.as_ref(),
            OpenApproval::Extension => self.extensions.last()?.approval.as_ref(),
        }
    }

    fn open_approval_mut(&mut self) -> Option<&mut Approval> {
        match self.open_approval_kind()? {
            OpenApproval::Request => self.approval.as_mut(),
            OpenApproval::Extension => self.extensions.last_mut()?.approval.as_mut(),
        }
    }

    /// Which approval is open for votes, if any.
    fn open_approval_kind(&self) -> Option<OpenApproval> {
        let undecided = |a: Option<&Approval>| a.is_some_and(|a| a.outcome.is_none());
        match self.phase {
            Phase::PendingApproval => Some(OpenApproval::Request),
            Phase::Active | Phase::Scheduled | Phase::Provisioning => {
                if self.ratify_by.is_some() && undecided(self.approval.as_ref()) {
                    Some(OpenApproval::Request)
                } else if undecided(self.extensions.last().and_then(|e| e.approval.as_ref())) {
                    Some(OpenApproval::Extension)
                } else {
                    None
                }
            }
            _ => None,
        }
    }

    /// Who can move the open approval now.
    pub fn pending_approvers(&self, now: Timestamp) -> Vec<UserName> {
        self.open_approval()
            .map(|a| a.pending_approvers(now))
            .unwrap_or_default()
    }

    /// Total access granted so far (the request's duration plus applied extensions).
    pub fn granted(&self) -> SignedDuration {
        self.extensions
            .iter()
            .filter(|e| e.applied)
            .fold(self.request.duration, |acc, e| acc + e.extra)
    }

    /// Who denied the request, and why, for the final outcome.
    pub fn denial(&self) -> Option<String> {
        let v = self
            .approval
            .as_ref()?
            .votes
            .iter()
            .find(|v| v.decision == Decision::Deny)?;
        let who = if v.voter == v.cast_by {
            v.voter.to_string()
        } else {
            format!("{} as {}", v.cast_by, v.voter)
        };
        Some(match &v.comment {
            Some(c) => format!("denied by {who}: {c}"),
            None => format!("denied by {who}"),
        })
    }

    /// How an end request ends the ticket: its phase and reason.
    pub fn ending(&self) -> Option<(Phase, Option<String>)> {
        self.end_request
            .as_ref()
            .map(|e| (e.phase(), self.end_reason()))
    }

    /// The reason text of an end request, for the final outcome.
    pub fn end_reason(&self) -> Option<String> {
        self.end_request.as_ref().map(|e| {
            let verb = match e.kind {
                EndKind::Relinquish => "relinquished",
                EndKind::Revoke => "revoked",
                EndKind::Cancel => "cancelled",
            };
            match &e.reason {
                Some(r) => format!("{verb} by {}: {r}", e.by),
                None => format!("{verb} by {}", e.by),
            }
        })
    }
}

fn list(ts: &[Target]) -> String {
    ts.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `sha256:` and 12 hex digits.
fn short(hash: &str) -> &str {
    &hash[..hash.len().min("sha256:".len() + 12)]
}
