//! [`CatalogWorkflow`]: answers "what may this user request?" for the API, which holds no
//! AWS credentials: one local activity on a worker (the policy and directory of now), its
//! result is the workflow's. Short-lived, id `catalog-<user>-<uuid>`.

use std::time::Duration;

use jit_activities::{Catalog, TicketActivities};
use jit_domain::UserName;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{LocalActivityOptions, WorkflowContext, WorkflowContextView, WorkflowResult};

/// The workflow type name.
pub const CATALOG_WORKFLOW: &str = "CatalogWorkflow";

#[workflow]
pub struct CatalogWorkflow {
    user: UserName,
}

#[workflow_methods]
impl CatalogWorkflow {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, user: UserName) -> Self {
        Self { user }
    }

    #[run(name = "CatalogWorkflow")]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<Catalog> {
        let user = ctx.state(|s| s.user.clone());
        let options = LocalActivityOptions::builder()
            .start_to_close_timeout(Duration::from_secs(30))
            .summary(format!("what {user} may request"))
            .build();
        Ok(ctx
            .execute_local_activity(TicketActivities::catalog, user, options)
            .await?)
    }
}
