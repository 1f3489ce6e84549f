//! A ticket: the request, its lifecycle phase, votes, resources and audit trail.
//!
//! [`Ticket`] is the state the workflow holds. Its methods are the rules; the workflow only
//! decides *when* to call them. Nothing here reads a clock: times are passed in.

use std::fmt;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::ids::{AccountId, InvalidInput, Justification, PermissionSetName, TicketId, UserName};
use crate::stack::{AssignmentRef, ResourceStack};

/// What someone asks for. Built from untrusted input with [`TicketRequest::validate`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketRequest {
    pub ticket_id: TicketId,
    /// Who asked (the authenticated caller).
    pub requester: UserName,
    /// Who gets the access (an identity-store user).
    pub principal: UserName,
    pub account: AccountId,
    pub permission_set: PermissionSetName,
    /// How long access lasts once active (the clock starts at activation).
    pub duration: SignedDuration,
    pub justification: Justification,
    /// How long the ticket waits for an approval before it expires unapproved.
    pub approval_timeout: SignedDuration,
}

/// Bounds a request must respect (from configuration until policy decides them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub max_duration: SignedDuration,
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

impl TicketRequest {
    /// Checks what parsing the fields cannot: durations and bounds.
    pub fn validate(&self, limits: &Limits) -> Result<(), InvalidInput> {
        check_duration("duration", self.duration, limits.max_duration)?;
        check_duration(
            "approval_timeout",
            self.approval_timeout,
            limits.max_approval_timeout,
        )?;
        Ok(())
    }
}

fn check_duration(
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
    /// Resolving the principal, account and permission set.
    Evaluating,
    /// Waiting for an approver.
    PendingApproval,
    /// Creating the assignment in AWS.
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
    /// Ended: the request could not be honoured (unknown user, account, permission set).
    Rejected,
    /// Ended: provisioning failed; everything created was removed.
    Failed,
    /// Ended: access was removed before its expiry (e.g. an operator cancelled the ticket).
    Revoked,
    /// Ended: cancelled before access was granted.
    Cancelled,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Evaluating => "Evaluating",
            Self::PendingApproval => "PendingApproval",
            Self::Provisioning => "Provisioning",
            Self::Active => "Active",
            Self::Revoking => "Revoking",
            Self::Expired => "Expired",
            Self::Denied => "Denied",
            Self::ApprovalExpired => "ApprovalExpired",
            Self::Rejected => "Rejected",
            Self::Failed => "Failed",
            Self::Revoked => "Revoked",
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
                | Self::Cancelled
        )
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The request resolved to AWS ids by the evaluate step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvedTarget {
    pub assignment: AssignmentRef,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approve,
    Deny,
}

/// One approver's vote, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vote {
    pub voter: UserName,
    pub decision: Decision,
    pub comment: Option<String>,
    pub at: Timestamp,
}

/// Why a vote was not accepted. Shown to the voter as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VoteRejected {
    #[error("not allowed: {0} is the requester of this ticket and cannot approve or deny it")]
    Requester(UserName),
    #[error("not allowed: {0} is the principal of this ticket and cannot approve or deny it")]
    Principal(UserName),
    #[error("not allowed: the ticket is {0}, not waiting for approval")]
    WrongPhase(Phase),
    #[error("not allowed: {0} already voted on this ticket")]
    AlreadyVoted(UserName),
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
    pub target: Option<ResolvedTarget>,
    /// The principal already had this assignment before the ticket: nothing to create,
    /// and nothing of it is ever deleted by the ticket.
    pub standing_access: bool,
    pub votes: Vec<Vote>,
    pub stack: ResourceStack,
    pub requested_at: Timestamp,
    pub active_since: Option<Timestamp>,
    pub expires_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    /// Why the ticket ended the way it did (denial reason, AWS failure, ...).
    pub reason: Option<String>,
    pub audit: Vec<AuditEvent>,
}

impl Ticket {
    pub fn new(request: TicketRequest, now: Timestamp) -> Self {
        let mut t = Self {
            phase: Phase::Evaluating,
            target: None,
            standing_access: false,
            votes: Vec::new(),
            stack: ResourceStack::default(),
            requested_at: now,
            active_since: None,
            expires_at: None,
            ended_at: None,
            reason: None,
            audit: Vec::new(),
            request,
        };
        let r = &t.request;
        let line = format!(
            "{} requested {} in {} for {} for {:#}: {}",
            r.requester, r.permission_set, r.account, r.principal, r.duration, r.justification
        );
        t.log(now, line);
        t
    }

    pub fn log(&mut self, at: Timestamp, what: impl Into<String>) {
        self.audit.push(AuditEvent {
            at,
            what: what.into(),
        });
    }

    /// Moves to a non-terminal phase.
    pub fn enter(&mut self, phase: Phase, at: Timestamp) {
        self.phase = phase;
        self.log(at, format!("phase: {phase}"));
    }

    /// Ends the ticket in a terminal phase with an optional reason.
    pub fn end(&mut self, phase: Phase, reason: Option<String>, at: Timestamp) {
        debug_assert!(phase.is_terminal());
        self.phase = phase;
        self.ended_at = Some(at);
        match &reason {
            Some(r) => self.log(at, format!("ended {phase}: {r}")),
            None => self.log(at, format!("ended {phase}")),
        }
        self.reason = reason;
    }

    /// Whether `voter` may vote now. Update validators call this, so a refused vote is
    /// answered synchronously and never reaches history.
    pub fn check_vote(&self, voter: &UserName) -> Result<(), VoteRejected> {
        if self.phase != Phase::PendingApproval {
            return Err(VoteRejected::WrongPhase(self.phase));
        }
        if *voter == self.request.requester {
            return Err(VoteRejected::Requester(voter.clone()));
        }
        if *voter == self.request.principal {
            return Err(VoteRejected::Principal(voter.clone()));
        }
        if self.votes.iter().any(|v| v.voter == *voter) {
            return Err(VoteRejected::AlreadyVoted(voter.clone()));
        }
        Ok(())
    }

    /// Records a vote after [`Ticket::check_vote`]. One approval approves (v0 plan);
    /// any deny denies.
    pub fn record_vote(&mut self, vote: Vote) -> Result<(), VoteRejected> {
        self.check_vote(&vote.voter)?;
        let verb = match vote.decision {
            Decision::Approve => "approved",
            Decision::Deny => "denied",
        };
        let line = match &vote.comment {
            Some(c) => format!("{} {verb}: {c}", vote.voter),
            None => format!("{} {verb}", vote.voter),
        };
        self.log(vote.at, line);
        self.votes.push(vote);
        Ok(())
    }

    /// The vote that decided the ticket, if any.
    pub fn decision(&self) -> Option<&Vote> {
        self.votes
            .iter()
            .find(|v| v.decision == Decision::Deny)
            .or_else(|| self.votes.first())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn request() -> TicketRequest {
        TicketRequest {
            ticket_id: TicketId::parse("t1").unwrap(),
            requester: UserName::parse("alice").unwrap(),
            principal: UserName::parse("bob").unwrap(),
            account: AccountId::parse("111111111111").unwrap(),
            permission_set: PermissionSetName::parse("ReadOnly").unwrap(),
            duration: SignedDuration::from_hours(1),
            justification: Justification::parse("investigate incident 42").unwrap(),
            approval_timeout: SignedDuration::from_hours(1),
        }
    }

    fn vote(who: &str, decision: Decision) -> Vote {
        Vote {
            voter: UserName::parse(who).unwrap(),
            decision,
            comment: None,
            at: Timestamp::UNIX_EPOCH,
        }
    }

    fn pending() -> Ticket {
        let mut t = Ticket::new(request(), Timestamp::UNIX_EPOCH);
        t.enter(Phase::PendingApproval, Timestamp::UNIX_EPOCH);
        t
    }

    #[test]
    fn durations_are_bounded_with_named_fields() {
        let limits = Limits::default();
        let mut r = request();
        assert!(r.validate(&limits).is_ok());
        r.duration = SignedDuration::from_hours(13);
        let e = r.validate(&limits).unwrap_err();
        assert_eq!(e.field, "duration");
        assert!(e.problem.contains("maximum"), "{e}");
        r.duration = SignedDuration::from_secs(5);
        assert_eq!(r.validate(&limits).unwrap_err().field, "duration");
        r = request();
        r.approval_timeout = SignedDuration::ZERO;
        assert_eq!(r.validate(&limits).unwrap_err().field, "approval_timeout");
    }

    #[test]
    fn requester_and_principal_cannot_vote() {
        let t = pending();
        let e = t
            .check_vote(&UserName::parse("alice").unwrap())
            .unwrap_err();
        assert_eq!(
            e,
            VoteRejected::Requester(UserName::parse("alice").unwrap())
        );
        assert!(e.to_string().contains("requester"));
        assert!(matches!(
            t.check_vote(&UserName::parse("bob").unwrap()),
            Err(VoteRejected::Principal(_))
        ));
        assert!(t.check_vote(&UserName::parse("carol").unwrap()).is_ok());
    }

    #[test]
    fn votes_only_while_pending_and_once_per_person() {
        let mut t = Ticket::new(request(), Timestamp::UNIX_EPOCH);
        assert!(matches!(
            t.record_vote(vote("carol", Decision::Approve)),
            Err(VoteRejected::WrongPhase(Phase::Evaluating))
        ));
        t.enter(Phase::PendingApproval, Timestamp::UNIX_EPOCH);
        t.record_vote(vote("carol", Decision::Approve)).unwrap();
        assert!(matches!(
            t.record_vote(vote("carol", Decision::Deny)),
            Err(VoteRejected::AlreadyVoted(_))
        ));
        assert_eq!(t.decision().unwrap().decision, Decision::Approve);
    }

    #[test]
    fn a_deny_decides_over_an_approval() {
        let mut t = pending();
        t.record_vote(vote("carol", Decision::Approve)).unwrap();
        t.record_vote(vote("dave", Decision::Deny)).unwrap();
        assert_eq!(t.decision().unwrap().voter.as_str(), "dave");
    }

    #[test]
    fn ending_records_reason_and_audit() {
        let mut t = pending();
        t.end(
            Phase::Failed,
            Some("AWS said no".into()),
            Timestamp::UNIX_EPOCH,
        );
        assert!(t.phase.is_terminal());
        assert_eq!(t.reason.as_deref(), Some("AWS said no"));
        assert!(t.audit.last().unwrap().what.contains("AWS said no"));
    }
}
