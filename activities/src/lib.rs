//! The activities of jit: every decision that needs the world.
//!
//! [`TicketActivities`] holds the clients (the Identity Center gateway, the request limits);
//! each activity is one method. Expected outcomes are *values* ([`Evaluation::Rejected`],
//! [`GrantOutcome::Failed`]) so the workflow never parses error strings; transient failures
//! are errors the retry policy retries.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use jit_aws::{AwsError, IdentityCenter, Progress};
use jit_domain::{AssignmentRef, Limits, PrincipalType, ResolvedTarget, TicketRequest};
use serde::{Deserialize, Serialize};
use temporalio_macros::activities;
use temporalio_sdk::ApplicationFailure;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

/// What the evaluate step decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Evaluation {
    /// The request resolves to real AWS ids.
    Resolved(ResolvedTarget),
    /// The request cannot be honoured; the reason names what is wrong.
    Rejected { reason: String },
}

/// What the grant step achieved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum GrantOutcome {
    /// Created (or found created by an earlier attempt), confirmed by listing.
    Granted,
    /// AWS refused for good (asynchronous FAILED with its reason, validation, access denied).
    Failed { reason: String },
}

/// The activities of a ticket.
#[derive(Debug)]
pub struct TicketActivities {
    aws: Arc<IdentityCenter>,
    limits: Limits,
}

impl TicketActivities {
    pub fn new(aws: Arc<IdentityCenter>, limits: Limits) -> Self {
        Self { aws, limits }
    }
}

/// Retryable AWS errors go back to Temporal's retry policy; final ones end the attempt
/// without retries.
fn to_activity_error(e: AwsError) -> ActivityError {
    if e.is_retryable() {
        ActivityError::from(anyhow::anyhow!(e.to_string()))
    } else {
        ActivityError::application(ApplicationFailure::non_retryable(e.to_string()))
    }
}

/// Heartbeats through the activity context. Remembers the asynchronous request id so that a
/// retry resumes polling it (heartbeat details survive retries).
struct Heartbeat {
    ctx: ActivityContext,
    request_id: Arc<Mutex<Option<String>>>,
}

impl Heartbeat {
    fn new(ctx: &ActivityContext) -> Self {
        let resumed: Option<String> = ctx.heartbeat_details().deserialize().ok().flatten();
        Self {
            ctx: ctx.clone(),
            request_id: Arc::new(Mutex::new(resumed)),
        }
    }

    fn resume(&self) -> Option<String> {
        self.request_id.lock().ok().and_then(|g| g.clone())
    }

    async fn beat(&self) {
        let id = self.resume();
        if let Err(e) = self.ctx.record_heartbeat(id).await {
            tracing::warn!(error = %e, "heartbeat not recorded");
        }
    }

    /// Runs `work`, heartbeating every second meanwhile, so a dead worker is noticed within
    /// the heartbeat timeout even while an AWS call hangs.
    async fn around<T>(&self, work: impl Future<Output = T>) -> T {
        let ticker = async {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                self.beat().await;
            }
        };
        tokio::select! {
            out = work => out,
            () = ticker => unreachable!("the ticker never ends"),
        }
    }
}

impl Progress for Heartbeat {
    async fn request_started(&self, request_id: &str) {
        if let Ok(mut g) = self.request_id.lock() {
            *g = Some(request_id.to_owned());
        }
        self.beat().await;
    }

    async fn still_waiting(&self, _request_id: &str) {
        self.beat().await;
    }
}

#[activities]
impl TicketActivities {
    /// Validates the request against the limits and resolves it to AWS ids: the account must
    /// be in the organization, requester and principal must be identity-store users, the
    /// permission set must exist.
    #[activity(name = "evaluate")]
    pub async fn evaluate(
        self: Arc<Self>,
        _ctx: ActivityContext,
        req: TicketRequest,
    ) -> Result<Evaluation, ActivityError> {
        let reject = |reason: String| Ok(Evaluation::Rejected { reason });
        if let Err(e) = req.validate(&self.limits) {
            return reject(e.to_string());
        }
        let aws = &self.aws;
        let instance = aws.instance().await.map_err(to_activity_error)?.clone();
        if !aws
            .account_exists(&req.account)
            .await
            .map_err(to_activity_error)?
        {
            return reject(format!(
                "account: {} is not an account of this organization",
                req.account
            ));
        }
        if aws
            .user_id(&req.requester)
            .await
            .map_err(to_activity_error)?
            .is_none()
        {
            return reject(format!(
                "requester: {} is not a user of the identity store",
                req.requester
            ));
        }
        let Some(principal_id) = aws
            .user_id(&req.principal)
            .await
            .map_err(to_activity_error)?
        else {
            return reject(format!(
                "principal: {} is not a user of the identity store",
                req.principal
            ));
        };
        let Some(permission_set_arn) = aws
            .permission_set_arn(&req.permission_set)
            .await
            .map_err(to_activity_error)?
        else {
            return reject(format!(
                "permission_set: there is no permission set called {}",
                req.permission_set
            ));
        };
        Ok(Evaluation::Resolved(ResolvedTarget {
            assignment: AssignmentRef {
                instance_arn: instance.arn,
                account: req.account.clone(),
                permission_set_arn,
                principal_type: PrincipalType::User,
                principal_id,
            },
        }))
    }

    /// Whether the assignment exists now. Called before the stack records intent: an
    /// assignment that exists then is standing access and never the ticket's.
    #[activity(name = "assignment_exists")]
    pub async fn assignment_exists(
        self: Arc<Self>,
        _ctx: ActivityContext,
        a: AssignmentRef,
    ) -> Result<bool, ActivityError> {
        self.aws
            .assignment_exists(&a)
            .await
            .map_err(to_activity_error)
    }

    /// Creates the assignment, polls until AWS settles, verifies by listing.
    #[activity(name = "grant")]
    pub async fn grant(
        self: Arc<Self>,
        ctx: ActivityContext,
        a: AssignmentRef,
    ) -> Result<GrantOutcome, ActivityError> {
        let hb = Heartbeat::new(&ctx);
        let resume = hb.resume();
        match hb
            .around(self.aws.create_assignment(&a, resume.as_deref(), &hb))
            .await
        {
            Ok(()) => Ok(GrantOutcome::Granted),
            Err(e) if e.is_retryable() => Err(to_activity_error(e)),
            Err(e) => Ok(GrantOutcome::Failed {
                reason: e.to_string(),
            }),
        }
    }

    /// Deletes the assignment, polls until AWS settles, verifies it is gone. Every failure
    /// is retryable here: a revocation is never abandoned.
    #[activity(name = "revoke")]
    pub async fn revoke(
        self: Arc<Self>,
        ctx: ActivityContext,
        a: AssignmentRef,
    ) -> Result<(), ActivityError> {
        let hb = Heartbeat::new(&ctx);
        let resume = hb.resume();
        hb.around(self.aws.delete_assignment(&a, resume.as_deref(), &hb))
            .await
            .map_err(|e| ActivityError::from(anyhow::anyhow!(e.to_string())))
    }
}
