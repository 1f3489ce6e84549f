//! `CatalogWorkflow`: "what may this user request?", asked by the API (which holds no AWS
//! credentials) and answered by a worker.

use jit_domain::{ApprovalPlan, UserName};
use serde::{Deserialize, Serialize};

workflow!(
    /// One question, one short workflow.
    Workflow = "CatalogWorkflow", UserName => Catalog
);

/// What someone may request: every (account, permission set) an eligibility rule allows
/// them, with the rule and the plan a request for it would get, and the bundles whose every
/// target they may request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    pub targets: Vec<CatalogEntry>,
    pub bundles: Vec<String>,
    /// The plans the targets would get (each once, by name), with the approvers the
    /// directory has now: what a request would wait for, shown before it is made.
    #[serde(default)]
    pub plans: Vec<ApprovalPlan>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogEntry {
    pub account_id: String,
    pub account_name: String,
    pub permission_set: String,
    pub rule: String,
    pub plan: String,
}

workflow!(
    /// "Which accounts and permission sets exist?": the API caches the answer and refuses at
    /// once a request for something that does not exist.
    KnownWorkflow = "KnownTargetsWorkflow", () => Known
);

/// The organization's accounts and the Identity Center instance's permission sets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Known {
    /// (account id, account name).
    pub accounts: Vec<(String, String)>,
    pub permission_sets: Vec<String>,
}

workflow!(
    /// "Why may (or may not) this person request, or approve, this?" (the policy's
    /// decision with its reasons), asked by the API and answered by a worker, which holds the
    /// directory.
    ExplainWorkflow = "ExplainWorkflow", ExplainQuestion => ExplainAnswer
);

/// One decision to explain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExplainQuestion {
    /// Who asks (request) or votes (approve).
    pub who: UserName,
    /// Approve rather than request.
    pub approve: bool,
    /// Whose request is voted on (approve); `who` when absent.
    pub requester: Option<UserName>,
    /// Account id or name.
    pub account: String,
    pub permission_set: String,
}

/// The decision: allowed or not, one line per rule looked at, the plan where one applies.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExplainAnswer {
    pub allowed: bool,
    pub decisions: Vec<String>,
    pub plan: Option<ApprovalPlan>,
}
