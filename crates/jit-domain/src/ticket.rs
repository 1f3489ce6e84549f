//! A ticket: the request, its lifecycle phase, approval, extensions, resources and audit
//! trail.
//!
//! [`Ticket`] is the state the workflow holds. Its methods are the rules; the workflow only
//! decides *when* to call them. Nothing here reads a clock: times are passed in. Every
//! `check_*` method is what an update validator calls (no state change); the matching method
//! without `check_` applies the change after checking again.

use std::collections::BTreeSet;
use std::fmt;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::approval::{
    Approval, ApprovalPlan, Decision, Delegation, DelegationRejected, VoteEffect, VoteRejected,
};
use crate::ids::{
    AccountId, BundleName, GroupName, InvalidInput, Justification, PermissionSetName, TicketId,
    UserName,
};
use crate::stack::{AssignmentRef, ResourceStack};

/// Who gets the access.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Principal {
    User(UserName),
    Group(GroupName),
}

impl Principal {
    pub fn user(&self) -> Option<&UserName> {
        match self {
            Self::User(u) => Some(u),
            Self::Group(_) => None,
        }
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::User(u) => write!(f, "{u}"),
            Self::Group(g) => write!(f, "group {g}"),
        }
    }
}

/// One (account, permission set) pair asked for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Target {
    pub account: AccountId,
    pub permission_set: PermissionSetName,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} in {}", self.permission_set, self.account)
    }
}

/// What someone asks for. Built from untrusted input with [`TicketRequest::validate`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketRequest {
    pub ticket_id: TicketId,
    /// Who asked (the authenticated caller).
    pub requester: UserName,
    /// Who gets the access: the requester, someone they may act for, or a group.
    pub principal: Principal,
    /// Explicit targets; may be empty when a bundle is named.
    #[serde(default)]
    pub targets: Vec<Target>,
    /// A named bundle of targets, expanded at evaluation.
    #[serde(default)]
    pub bundle: Option<BundleName>,
    /// How long access lasts once active (the clock starts at activation).
    pub duration: SignedDuration,
    pub justification: Justification,
    /// Start later; approval may happen before.
    #[serde(default)]
    pub start_at: Option<Timestamp>,
    /// Immediate access where the plan allows it, to be ratified afterwards.
    #[serde(default)]
    pub break_glass: bool,
}

/// Bounds every request must respect, whatever its plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub max_duration: SignedDuration,
    /// No plan's approval may wait longer than this.
    pub max_approval_timeout: SignedDuration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_duration: SignedDuration::from_hours(12),
            max_approval_timeout: SignedDuration::from_hours(72),
        }
    }
}

/// Break-glass needs a real explanation.
pub const BREAK_GLASS_MIN_JUSTIFICATION: usize = 20;

impl TicketRequest {
    /// Checks what parsing the fields cannot: targets, durations, bounds.
    pub fn validate(&self, limits: &Limits) -> Result<(), InvalidInput> {
        if self.targets.is_empty() && self.bundle.is_none() {
            return Err(InvalidInput::new(
                "targets",
                "name at least one (account, permission set) or a bundle",
            ));
        }
        let mut seen = BTreeSet::new();
        for t in &self.targets {
            if !seen.insert(t) {
                return Err(InvalidInput::new("targets", format!("{t} is listed twice")));
            }
        }
        check_duration("duration", self.duration, limits.max_duration)?;
        if self.break_glass
            && self.justification.as_str().chars().count() < BREAK_GLASS_MIN_JUSTIFICATION
        {
            return Err(InvalidInput::new(
                "justification",
                format!(
                    "break-glass needs a justification of at least {BREAK_GLASS_MIN_JUSTIFICATION} characters"
                ),
            ));
        }
        Ok(())
    }
}

pub(crate) fn check_duration(
    field: &'static str,
    d: SignedDuration,
    max: SignedDuration,
) -> Result<(), InvalidInput> {
    if d < SignedDuration::from_secs(60) {
        return Err(InvalidInput::new(
            field,
            format!("{d:#} is too short: at least 1 minute"),
        ));
    }
    if d > max {
        return Err(InvalidInput::new(
            field,
            format!("{d:#} is longer than the maximum of {max:#}"),
        ));
    }
    Ok(())
}

/// Where a ticket is. The string form is the `JitStatus` search attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Phase {
    /// Resolving principal, targets and plan.
    Evaluating,
    /// Waiting for approvers.
    PendingApproval,
    /// Approved; waiting for the scheduled start.
    Scheduled,
    /// Creating the assignments in AWS.
    Provisioning,
    /// Access granted; a timer runs to expiry.
    Active,
    /// Removing what the ticket created.
    Revoking,
    /// Ended: access granted, then removed at expiry.
    Expired,
    /// Ended: an approver said no.
    Denied,
    /// Ended: nobody approved before the deadline.
    ApprovalExpired,
    /// Ended: the request could not be honoured (unknown user, account, permission set, not
    /// allowed, plan cannot be satisfied).
    Rejected,
    /// Ended: provisioning failed; everything created was removed.
    Failed,
    /// Ended: access removed before its expiry by an approver, an admin or an operator.
    Revoked,
    /// Ended: the requester (or principal) was done early.
    Relinquished,
    /// Ended: cancelled before access was granted.
    Cancelled,
}

impl Phase {
    /// Every phase, in lifecycle order.
    pub const ALL: [Phase; 14] = [
        Self::Evaluating,
        Self::PendingApproval,
        Self::Scheduled,
        Self::Provisioning,
        Self::Active,
        Self::Revoking,
        Self::Expired,
        Self::Denied,
        Self::ApprovalExpired,
        Self::Rejected,
        Self::Failed,
        Self::Revoked,
        Self::Relinquished,
        Self::Cancelled,
    ];

    /// The phase whose [`Phase::as_str`] is `s` (e.g. a `JitStatus` value).
    pub fn from_name(s: &str) -> Option<Phase> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Evaluating => "Evaluating",
            Self::PendingApproval => "PendingApproval",
            Self::Scheduled => "Scheduled",
            Self::Provisioning => "Provisioning",
            Self::Active => "Active",
            Self::Revoking => "Revoking",
            Self::Expired => "Expired",
            Self::Denied => "Denied",
            Self::ApprovalExpired => "ApprovalExpired",
            Self::Rejected => "Rejected",
            Self::Failed => "Failed",
            Self::Revoked => "Revoked",
            Self::Relinquished => "Relinquished",
            Self::Cancelled => "Cancelled",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Expired
                | Self::Denied
                | Self::ApprovalExpired
                | Self::Rejected
                | Self::Failed
                | Self::Revoked
                | Self::Relinquished
                | Self::Cancelled
        )
    }

    /// Access may exist in AWS in this phase.
    pub fn may_hold_access(self) -> bool {
        matches!(self, Self::Provisioning | Self::Active | Self::Revoking)
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One target resolved to AWS ids by the evaluate step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvedTarget {
    pub target: Target,
    pub account_name: String,
    pub assignment: AssignmentRef,
    /// The principal already had it before the ticket: never created, never removed.
    #[serde(default)]
    pub standing: bool,
}

/// What evaluation decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evaluated {
    pub plan: ApprovalPlan,
    pub targets: Vec<ResolvedTarget>,
    /// The approvers' standing delegations in force at evaluation.
    #[serde(default)]
    pub delegations: Vec<Delegation>,
    /// Which policy decided, and how.
    #[serde(default)]
    pub policy: Option<PolicyRecord>,
}

/// The policy decision on a ticket, as recorded in its history: the policy's content hash
/// and one line per decision (eligibility of each target, on-behalf, the plan chosen).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRecord {
    /// `sha256:<hex>` of the rules file.
    pub hash: String,
    pub decisions: Vec<String>,
}

/// What the directory must confirm before a vote counts: that the person casting it still
/// exists, and that the approver it counts for is still a member of a group the recorded plan
/// names for the step (or is named in it). Votes from people no longer eligible are refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoterCheck {
    pub cast_by: UserName,
    /// Whose approval the vote counts as (the delegator when a delegate votes).
    pub voter: UserName,
    pub step: String,
    pub groups: Vec<String>,
    pub users: BTreeSet<UserName>,
}

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

/// Why an action (extend, end, delegate) was refused. Shown to the caller as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not allowed: {0}")]
pub struct Refused(pub String);

impl From<DelegationRejected> for Refused {
    fn from(e: DelegationRejected) -> Self {
        Self(e.to_string().trim_start_matches("not allowed: ").to_owned())
    }
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

    /// What the directory must confirm before `person`'s vote counts (after
    /// [`Ticket::check_vote`] accepted it).
    pub fn voter_check(
        &self,
        person: &UserName,
        now: Timestamp,
    ) -> Result<VoterCheck, VoteRejected> {
        let voter = self.check_vote(person, now)?;
        let step = self
            .open_approval()
            .and_then(Approval::current_step)
            .ok_or_else(|| VoteRejected::NotPending(self.phase.to_string()))?;
        let mut groups = step.groups.clone();
        if self.escalated
            && let Some(e) = self.plan.as_ref().and_then(|p| p.escalation.as_ref())
        {
            groups.extend(e.groups.iter().cloned());
        }
        Ok(VoterCheck {
            cast_by: person.clone(),
            voter,
            step: step.name.clone(),
            groups,
            users: step.users.clone(),
        })
    }

    /// Whether `person` may vote now, and as whom.
    pub fn check_vote(&self, person: &UserName, now: Timestamp) -> Result<UserName, VoteRejected> {
        match self.open_approval() {
            Some(a) => a.as_whom(person, now),
            None => Err(VoteRejected::NotPending(self.phase.to_string())),
        }
    }

    /// Records a vote on the open approval.
    pub fn vote(
        &mut self,
        person: &UserName,
        decision: Decision,
        comment: Option<String>,
        now: Timestamp,
    ) -> Result<VoteEffect, VoteRejected> {
        let phase = self.phase;
        let Some(a) = self.open_approval_mut() else {
            return Err(VoteRejected::NotPending(phase.to_string()));
        };
        let step = a.current_step().map(|s| s.name.clone()).unwrap_or_default();
        let (v, effect) = a.vote(person, decision, comment, now)?;
        let verb = match v.decision {
            Decision::Approve => "approved",
            Decision::Deny => "denied",
        };
        let who = if v.voter == v.cast_by {
            v.voter.to_string()
        } else {
            format!("{} as {} (delegated)", v.cast_by, v.voter)
        };
        let what = match phase {
            Phase::PendingApproval => "",
            _ if self.ratify_by.is_some() => " the break-glass access",
            _ => " the extension",
        };
        let mut line = format!("{who} {verb}{what} in step {step}");
        if let Some(c) = &v.comment {
            line.push_str(&format!(": {c}"));
        }
        self.log(now, line);
        self.bump();
        Ok(effect)
    }

    pub fn check_delegate(
        &self,
        from: &UserName,
        to: &UserName,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<(), Refused> {
        match self.open_approval() {
            Some(a) => Ok(a.check_delegation(from, to, until, now)?),
            None => Err(Refused(format!(
                "the ticket is {}, not waiting for approval",
                self.phase
            ))),
        }
    }

    pub fn delegate(&mut self, d: Delegation, now: Timestamp) -> Result<(), Refused> {
        self.check_delegate(&d.from, &d.to, d.until, now)?;
        let line = format!(
            "{} delegated their approval to {} until {}{}",
            d.from,
            d.to,
            d.until,
            d.reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        );
        if let Some(a) = self.open_approval_mut() {
            a.delegate(d, now)?;
        }
        self.log(now, line);
        self.bump();
        Ok(())
    }

    /// Escalates the open approval to the plan's fallback approvers; logs who was added.
    pub fn escalate(&mut self, now: Timestamp) -> Vec<UserName> {
        let Some(esc) = self.plan.as_ref().and_then(|p| p.escalation.clone()) else {
            return Vec::new();
        };
        let added = self
            .open_approval_mut()
            .map(|a| a.escalate(&esc.approvers))
            .unwrap_or_default();
        self.log(
            now,
            format!(
                "no decision after {:#}: escalated to {} ({})",
                esc.after,
                esc.name,
                added
                    .iter()
                    .map(UserName::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
        self.bump();
        added
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

    pub fn check_extend(&self, by: &UserName, extra: SignedDuration) -> Result<(), Refused> {
        if self.phase != Phase::Active {
            return Err(Refused(format!(
                "the ticket is {}; only active access can be extended",
                self.phase
            )));
        }
        if !self.is_party(by) {
            return Err(Refused(format!(
                "{by} is neither the requester nor the principal of this ticket"
            )));
        }
        if self
            .extensions
            .last()
            .is_some_and(|e| e.approval.as_ref().is_some_and(|a| a.outcome.is_none()))
        {
            return Err(Refused(
                "an extension is already waiting for approval".into(),
            ));
        }
        if extra < SignedDuration::from_secs(60) {
            return Err(Refused(format!(
                "an extension of {extra:#} is too short: at least 1 minute"
            )));
        }
        let plan = self
            .plan
            .as_ref()
            .ok_or_else(|| Refused("no plan".into()))?;
        let total = self.granted() + extra;
        if total > plan.max_total {
            return Err(Refused(format!(
                "extending by {extra:#} would make {total:#} in all; plan {} allows at most {:#}",
                plan.name, plan.max_total
            )));
        }
        Ok(())
    }

    /// Extends at once, or opens a re-approval when the plan asks for one (access stays
    /// meanwhile). Returns whether it applied at once.
    pub fn extend(
        &mut self,
        by: &UserName,
        extra: SignedDuration,
        reason: Option<String>,
        now: Timestamp,
    ) -> Result<bool, Refused> {
        self.check_extend(by, extra)?;
        let plan = self
            .plan
            .as_ref()
            .ok_or_else(|| Refused("no plan".into()))?;
        let approval = if plan.extension_needs_approval {
            let a = Approval::new(
                plan.steps.clone(),
                self.request.requester.clone(),
                self.request.principal.user().cloned(),
            )
            .map_err(|e| Refused(e.to_string()))?;
            (a.outcome.is_none()).then_some(a)
        } else {
            None
        };
        let needs_approval = approval.is_some();
        self.extensions.push(Extension {
            by: by.clone(),
            extra,
            reason: reason.clone(),
            at: now,
            approval,
            applied: false,
        });
        let why = reason.map(|r| format!(": {r}")).unwrap_or_default();
        if needs_approval {
            self.log(
                now,
                format!("{by} asked to extend by {extra:#}{why}; waiting for approval"),
            );
        } else {
            self.log(now, format!("{by} extended by {extra:#}{why}"));
            self.apply_extension(now);
        }
        self.bump();
        Ok(!needs_approval)
    }

    /// Applies the last extension (approved or not needing approval): the expiry moves.
    pub fn apply_extension(&mut self, now: Timestamp) {
        let Some(e) = self.extensions.last_mut() else {
            return;
        };
        if e.applied {
            return;
        }
        e.applied = true;
        let extra = e.extra;
        if let Some(exp) = self.expires_at {
            let new = exp.checked_add(extra).unwrap_or(Timestamp::MAX);
            self.expires_at = Some(new);
            self.log(now, format!("expiry moved to {new}"));
        }
        self.bump();
    }

    /// The decision on a pending extension, if it was just decided.
    pub fn extension_decision(&self) -> Option<Decision> {
        let e = self.extensions.last()?;
        if e.applied {
            return None;
        }
        e.approval.as_ref().and_then(|a| a.outcome)
    }

    /// Closes a denied extension (access stays until the current expiry).
    pub fn drop_extension(&mut self, now: Timestamp) {
        if let Some(e) = self.extensions.last_mut()
            && let Some(a) = e.approval.take()
        {
            let by = a
                .votes
                .iter()
                .rev()
                .find(|v| v.decision == Decision::Deny)
                .map(|v| v.cast_by.to_string())
                .unwrap_or_default();
            self.log(
                now,
                format!("extension denied by {by}; access ends at the current expiry"),
            );
            self.bump();
        }
    }

    /// Whether `by` may end the ticket this way now.
    pub fn check_end(&self, kind: EndKind, by: &UserName) -> Result<(), Refused> {
        if self.phase.is_terminal() || self.phase == Phase::Revoking {
            return Err(Refused(format!("the ticket is already {}", self.phase)));
        }
        if self.end_request.is_some() {
            return Err(Refused("the ticket is already ending".into()));
        }
        match kind {
            EndKind::Relinquish => {
                if !self.is_party(by) {
                    return Err(Refused(format!(
                        "only the requester or the principal can give up the access, not {by}"
                    )));
                }
                if !matches!(
                    self.phase,
                    Phase::Active | Phase::Provisioning | Phase::Scheduled
                ) {
                    return Err(Refused(format!(
                        "the ticket is {}: there is no access to give up yet (cancel it instead)",
                        self.phase
                    )));
                }
            }
            EndKind::Cancel => {
                if *by != self.request.requester {
                    return Err(Refused(format!(
                        "only the requester can cancel the request, not {by}"
                    )));
                }
                if !matches!(
                    self.phase,
                    Phase::Evaluating | Phase::PendingApproval | Phase::Scheduled
                ) {
                    return Err(Refused(format!(
                        "the ticket is {}: access is granted (relinquish it instead)",
                        self.phase
                    )));
                }
            }
            EndKind::Revoke => {
                let approver = self
                    .approval
                    .as_ref()
                    .is_some_and(|a| a.all_approvers().contains(by));
                let admin = self.plan.as_ref().is_some_and(|p| p.admins.contains(by));
                // A party of the ticket revokes only as an admin; they can relinquish instead.
                let allowed = admin || (approver && !self.is_party(by));
                if !allowed {
                    return Err(Refused(format!(
                        "{by} is neither an approver of this ticket nor an admin"
                    )));
                }
            }
        }
        Ok(())
    }

    pub fn request_end(
        &mut self,
        kind: EndKind,
        by: &UserName,
        reason: Option<String>,
        now: Timestamp,
    ) -> Result<(), Refused> {
        self.check_end(kind, by)?;
        let verb = match kind {
            EndKind::Relinquish => "relinquished the access",
            EndKind::Revoke => "revoked the access",
            EndKind::Cancel => "cancelled the request",
        };
        self.log(
            now,
            format!(
                "{by} {verb}{}",
                reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ),
        );
        self.end_request = Some(EndRequest {
            kind,
            by: by.clone(),
            reason,
            at: now,
        });
        self.bump();
        Ok(())
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

#[cfg(test)]
mod tests {
    #[test]
    fn every_phase_is_found_by_its_name() {
        for p in super::Phase::ALL {
            assert_eq!(super::Phase::from_name(p.as_str()), Some(p));
        }
        assert_eq!(super::Phase::from_name("Nope"), None);
    }

    use std::collections::BTreeSet;

    use super::*;
    use crate::approval::ApprovalStep;
    use crate::ids::{InstanceArn, PermissionSetArn, PrincipalId};
    use crate::stack::PrincipalType;

    fn u(s: &str) -> UserName {
        UserName::parse(s).unwrap()
    }

    pub(crate) fn request() -> TicketRequest {
        TicketRequest {
            ticket_id: TicketId::parse("t1").unwrap(),
            requester: u("alice"),
            principal: Principal::User(u("bob")),
            targets: vec![Target {
                account: AccountId::parse("111111111111").unwrap(),
                permission_set: PermissionSetName::parse("ReadOnly").unwrap(),
            }],
            bundle: None,
            duration: SignedDuration::from_hours(1),
            justification: Justification::parse("investigate incident 42").unwrap(),
            start_at: None,
            break_glass: false,
        }
    }

    fn plan(steps: Vec<ApprovalStep>) -> ApprovalPlan {
        ApprovalPlan {
            name: "p".into(),
            steps,
            max_duration: SignedDuration::from_hours(4),
            max_total: SignedDuration::from_hours(6),
            extension_needs_approval: false,
            approval_timeout: SignedDuration::from_hours(1),
            break_glass_ratify_within: None,
            admins: BTreeSet::from([u("erin")]),
            remind_every: None,
            escalation: None,
            notify: Default::default(),
        }
    }

    fn sre(quorum: u32) -> ApprovalStep {
        ApprovalStep {
            name: "sre".into(),
            approvers: [u("carol"), u("dave")].into(),
            quorum,
            groups: Vec::new(),
            users: Default::default(),
        }
    }

    fn target() -> ResolvedTarget {
        let t = request().targets[0].clone();
        ResolvedTarget {
            assignment: AssignmentRef {
                instance_arn: InstanceArn::parse("arn:i").unwrap(),
                account: t.account.clone(),
                permission_set_arn: PermissionSetArn::parse("arn:ps").unwrap(),
                principal_type: PrincipalType::User,
                principal_id: PrincipalId::parse("u-1").unwrap(),
            },
            target: t,
            account_name: "dev".into(),
            standing: false,
        }
    }

    fn t0() -> Timestamp {
        Timestamp::UNIX_EPOCH
    }

    fn evaluated(p: ApprovalPlan) -> Ticket {
        let mut t = Ticket::new(request(), t0());
        t.evaluated(
            Evaluated {
                plan: p,
                targets: vec![target()],
                delegations: vec![],
                policy: None,
            },
            t0(),
        )
        .unwrap();
        t
    }

    fn active(p: ApprovalPlan) -> Ticket {
        let mut t = evaluated(p);
        t.enter(Phase::PendingApproval, t0());
        t.vote(&u("carol"), Decision::Approve, None, t0()).unwrap();
        t.enter(Phase::Active, t0());
        t.active_since = Some(t0());
        t.expires_at = Some(t0() + SignedDuration::from_hours(1));
        t
    }

    #[test]
    fn requests_need_targets_without_duplicates_and_bounded_durations() {
        let limits = Limits::default();
        let mut r = request();
        assert!(r.validate(&limits).is_ok());
        r.targets.push(r.targets[0].clone());
        assert!(r.validate(&limits).unwrap_err().problem.contains("twice"));
        r.targets.clear();
        assert_eq!(r.validate(&limits).unwrap_err().field, "targets");
        r = request();
        r.duration = SignedDuration::from_hours(13);
        assert_eq!(r.validate(&limits).unwrap_err().field, "duration");
        r = request();
        r.break_glass = true;
        r.justification = Justification::parse("short one!").unwrap();
        assert_eq!(r.validate(&limits).unwrap_err().field, "justification");
    }

    #[test]
    fn the_plan_caps_the_duration_and_must_allow_break_glass() {
        let mut t = Ticket::new(request(), t0());
        let mut p = plan(vec![sre(1)]);
        p.max_duration = SignedDuration::from_mins(30);
        let e = t
            .evaluated(
                Evaluated {
                    plan: p,
                    targets: vec![target()],
                    delegations: vec![],
                    policy: None,
                },
                t0(),
            )
            .unwrap_err();
        assert!(e.contains("longer than plan p's maximum"), "{e}");
        let mut r = request();
        r.break_glass = true;
        let mut t = Ticket::new(r, t0());
        let e = t
            .evaluated(
                Evaluated {
                    plan: plan(vec![sre(1)]),
                    targets: vec![target()],
                    delegations: vec![],
                    policy: None,
                },
                t0(),
            )
            .unwrap_err();
        assert!(e.contains("does not allow break-glass"), "{e}");
    }

    #[test]
    fn unsatisfiable_plans_are_refused_at_evaluation() {
        let mut t = Ticket::new(request(), t0());
        let step = ApprovalStep {
            name: "sre".into(),
            approvers: [u("carol"), u("bob")].into(),
            quorum: 2,
            groups: Vec::new(),
            users: Default::default(),
        };
        let e = t
            .evaluated(
                Evaluated {
                    plan: plan(vec![step]),
                    targets: vec![target()],
                    delegations: vec![],
                    policy: None,
                },
                t0(),
            )
            .unwrap_err();
        assert!(e.contains("needs 2 approvers but only 1"), "{e}");
    }

    #[test]
    fn votes_only_while_an_approval_is_open() {
        let mut t = evaluated(plan(vec![sre(1)]));
        assert!(matches!(
            t.check_vote(&u("carol"), t0()),
            Err(VoteRejected::NotPending(_))
        ));
        t.enter(Phase::PendingApproval, t0());
        assert_eq!(
            t.vote(&u("carol"), Decision::Approve, None, t0()).unwrap(),
            VoteEffect::Approved
        );
        assert!(
            t.audit
                .iter()
                .any(|e| e.what == "carol approved in step sre")
        );
    }

    #[test]
    fn extensions_respect_the_total_and_move_the_expiry() {
        let mut t = active(plan(vec![sre(1)]));
        let exp = t.expires_at.unwrap();
        assert!(
            t.check_extend(&u("carol"), SignedDuration::from_hours(1))
                .is_err(),
            "not a party"
        );
        assert!(
            t.extend(&u("alice"), SignedDuration::from_hours(2), None, t0())
                .unwrap()
        );
        assert_eq!(t.expires_at.unwrap(), exp + SignedDuration::from_hours(2));
        assert_eq!(t.granted(), SignedDuration::from_hours(3));
        let e = t
            .check_extend(&u("bob"), SignedDuration::from_hours(4))
            .unwrap_err();
        assert!(e.to_string().contains("plan p allows at most 6h"), "{e}");
        assert!(
            t.check_extend(&u("bob"), SignedDuration::from_hours(3))
                .is_ok()
        );
    }

    #[test]
    fn extensions_needing_approval_wait_and_can_be_denied() {
        let mut p = plan(vec![sre(1)]);
        p.extension_needs_approval = true;
        let mut t = active(p);
        let exp = t.expires_at;
        assert!(
            !t.extend(&u("alice"), SignedDuration::from_hours(1), None, t0())
                .unwrap()
        );
        assert_eq!(t.expires_at, exp, "not yet");
        assert!(
            t.check_extend(&u("alice"), SignedDuration::from_hours(1))
                .is_err(),
            "one at a time"
        );
        assert_eq!(t.pending_approvers(t0()), vec![u("carol"), u("dave")]);
        t.vote(&u("dave"), Decision::Deny, Some("enough".into()), t0())
            .unwrap();
        assert_eq!(t.extension_decision(), Some(Decision::Deny));
        t.drop_extension(t0());
        assert_eq!(t.expires_at, exp);
        assert!(
            t.extend(&u("alice"), SignedDuration::from_hours(1), None, t0())
                .is_ok(),
            "may ask again"
        );
        t.vote(&u("carol"), Decision::Approve, None, t0()).unwrap();
        assert_eq!(t.extension_decision(), Some(Decision::Approve));
        t.apply_extension(t0());
        assert_eq!(t.expires_at, exp.map(|e| e + SignedDuration::from_hours(1)));
    }

    #[test]
    fn who_may_end_a_ticket_and_when() {
        let t = evaluated(plan(vec![sre(1)]));
        assert!(t.check_end(EndKind::Cancel, &u("alice")).is_ok());
        assert!(
            t.check_end(EndKind::Cancel, &u("bob")).is_err(),
            "only the requester cancels"
        );
        assert!(
            t.check_end(EndKind::Relinquish, &u("alice")).is_err(),
            "nothing to give up yet"
        );
        let mut t = active(plan(vec![sre(1)]));
        assert!(t.check_end(EndKind::Cancel, &u("alice")).is_err());
        assert!(t.check_end(EndKind::Relinquish, &u("bob")).is_ok());
        assert!(
            t.check_end(EndKind::Revoke, &u("dave")).is_ok(),
            "an approver"
        );
        assert!(t.check_end(EndKind::Revoke, &u("erin")).is_ok(), "an admin");
        assert!(t.check_end(EndKind::Revoke, &u("zed")).is_err());
        t.request_end(
            EndKind::Revoke,
            &u("dave"),
            Some("incident over".into()),
            t0(),
        )
        .unwrap();
        assert_eq!(t.end_request.as_ref().unwrap().phase(), Phase::Revoked);
        assert!(
            t.check_end(EndKind::Relinquish, &u("bob")).is_err(),
            "already ending"
        );
        assert_eq!(t.end_reason().unwrap(), "revoked by dave: incident over");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        #[derive(Debug, Clone)]
        enum Act {
            Extend(&'static str, i64),
            Vote(&'static str, bool),
        }

        fn act() -> impl Strategy<Value = Act> {
            let who = prop::sample::select(vec!["alice", "bob", "carol", "dave", "zed"]);
            prop_oneof![
                (who.clone(), -30i64..400).prop_map(|(w, m)| Act::Extend(w, m)),
                (who, any::<bool>()).prop_map(|(w, ok)| Act::Vote(w, ok)),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(1000))]

            #[test]
            fn extensions_never_exceed_the_plans_total(
                reapprove in any::<bool>(),
                acts in prop::collection::vec(act(), 0..30),
            ) {
                let mut p = plan(vec![sre(1)]);
                p.extension_needs_approval = reapprove;
                let max_total = p.max_total;
                let mut t = active(p);
                let since = t.active_since.unwrap();
                for a in acts {
                    match a {
                        Act::Extend(who, mins) => {
                            let _ = t.extend(&u(who), SignedDuration::from_mins(mins), None, t0());
                        }
                        Act::Vote(who, ok) => {
                            let d = if ok { Decision::Approve } else { Decision::Deny };
                            if t.vote(&u(who), d, None, t0()).is_ok() {
                                match t.extension_decision() {
                                    Some(Decision::Approve) => t.apply_extension(t0()),
                                    Some(Decision::Deny) => t.drop_extension(t0()),
                                    None => {}
                                }
                            }
                        }
                    }
                    prop_assert!(t.granted() <= max_total, "{:#} > {:#}", t.granted(), max_total);
                    prop_assert_eq!(t.expires_at.unwrap().duration_since(since), t.granted());
                    // Only the requester or the principal ever extends.
                    prop_assert!(t.extensions.iter().all(|e| t.is_party(&e.by)));
                }
            }
        }
    }
}
