//! `UserLookupWorkflow`: "which identity-store user has this email?" (chat maps a click's
//! Slack user to a jit user), asked by the API and answered by a worker.

use jit_domain::UserName;

workflow!(
    /// One question, one short workflow.
    Workflow = "UserLookupWorkflow", String => Option<UserName>
);
