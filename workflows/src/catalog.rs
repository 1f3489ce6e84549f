//! Questions the API (which holds no AWS credentials) asks a worker, each a short workflow
//! running one local activity: [`CatalogWorkflow`] ("what may this user request?"),
//! [`KnownTargetsWorkflow`] ("which accounts and permission sets exist?", cached by the API)
//! and [`UserLookupWorkflow`] ("which user has this email?", for chat clicks).

use std::time::Duration;

use jit_contract::catalog::{self, Catalog, ExplainAnswer, ExplainQuestion, Known};
use jit_contract::{activity, user_lookup};
use jit_domain::UserName;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{LocalActivityOptions, WorkflowContext, WorkflowContextView, WorkflowResult};

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

    #[run(name = catalog::Workflow::NAME)]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<Catalog> {
        let user = ctx.state(|s| s.user.clone());
        let options = LocalActivityOptions::builder()
            .start_to_close_timeout(Duration::from_secs(30))
            .summary(format!("what {user} may request"))
            .build();
        Ok(ctx
            .execute_local_activity(activity::Catalog, user, options)
            .await?)
    }
}

/// A policy decision explained (the console's Policy page).
#[workflow]
pub struct ExplainWorkflow {
    question: ExplainQuestion,
}

#[workflow_methods]
impl ExplainWorkflow {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, question: ExplainQuestion) -> Self {
        Self { question }
    }

    #[run(name = catalog::ExplainWorkflow::NAME)]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<ExplainAnswer> {
        let q = ctx.state(|s| s.question.clone());
        let options = LocalActivityOptions::builder()
            .start_to_close_timeout(Duration::from_secs(30))
            .summary(format!("why {} may or may not", q.who))
            .build();
        Ok(ctx
            .execute_local_activity(activity::Explain, q, options)
            .await?)
    }
}

/// Which identity-store user has this email (chat maps a click's Slack user to a jit user).
#[workflow]
pub struct UserLookupWorkflow {
    email: String,
}

#[workflow_methods]
impl UserLookupWorkflow {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, email: String) -> Self {
        Self { email }
    }

    #[run(name = user_lookup::Workflow::NAME)]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<Option<UserName>> {
        let email = ctx.state(|s| s.email.clone());
        let options = LocalActivityOptions::builder()
            .start_to_close_timeout(Duration::from_secs(30))
            .summary("who has this email".to_owned())
            .build();
        Ok(ctx
            .execute_local_activity(activity::UserByEmail, email, options)
            .await?)
    }
}

/// Which accounts and permission sets exist (the API refuses requests for others at once).
#[workflow]
pub struct KnownTargetsWorkflow;

#[workflow_methods]
impl KnownTargetsWorkflow {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, _input: ()) -> Self {
        Self
    }

    #[run(name = catalog::KnownWorkflow::NAME)]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<Known> {
        let options = LocalActivityOptions::builder()
            .start_to_close_timeout(Duration::from_secs(30))
            .summary("which accounts and permission sets exist".to_owned())
            .build();
        Ok(ctx
            .execute_local_activity(activity::KnownTargets, (), options)
            .await?)
    }
}
