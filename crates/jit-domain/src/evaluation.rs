//! What evaluation decided (the targets resolved to AWS ids, the plan, the policy record),
//! and what the directory must confirm before a vote counts.

use std::collections::BTreeSet;

use jiff::SignedDuration;
use serde::{Deserialize, Serialize};

use crate::approval::{ApprovalPlan, Delegation};
use crate::ids::UserName;
use crate::request::Target;
use crate::stack::AssignmentRef;

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
    /// What the evaluating worker knew that spares the ticket work (read by runs that
    /// started lean; older histories have none and ignore it).
    #[serde(default)]
    pub hints: Hints,
}

/// Facts about the evaluating worker that let a ticket skip activities whose answer is known.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hints {
    /// No chat is configured: an announcement would tell no one.
    #[serde(default)]
    pub quiet: bool,
    /// How long the worker reuses a directory answer (its cache's TTL). A vote within this
    /// of the evaluation, by an approver the evaluation resolved, would be checked against the
    /// same answers the evaluation used.
    #[serde(default)]
    pub directory_fresh_for: Option<SignedDuration>,
    /// What the worker keeps of an ended ticket (absent: nothing; tickets from before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit: Option<AuditHints>,
}

/// What happens after a ticket ends, as the evaluating worker was configured: recorded in
/// history, so every replay takes the same path.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditHints {
    /// Write the ticket's audit record to the audit bucket.
    #[serde(default)]
    pub export: bool,
    /// Read the sessions from CloudTrail this long after access ended (its late delivery).
    #[serde(default)]
    pub session_after: Option<SignedDuration>,
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
