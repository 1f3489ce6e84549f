//! [`LeaseActivities`]: how tickets hold and leave their leases (and do the AWS work a lean
//! lease hands them), how classic leases reached the governor, and the reconciler's scan.
//!
//! Workflows cannot start other workflows with a signal or an update, so these activities
//! do it with the worker's Temporal client, by the definitions of `jit-contract`:
//!
//! - **acquire** (lean): look whether the assignment is there; start the lease with this
//!   holder as its first (the answer is known from the input: the lease pays no update), or —
//!   it runs already — send `acquire` with start (update id `acquire:<holder>`: a retry gets
//!   the same answer). Then do what the answer says: create it (idempotently: check, create,
//!   poll, verify), make sure a shared one is there, or confirm standing access (gone: ask
//!   again, and create it as the lease's). Every create and delete holds one of this worker's
//!   operation permits ([`jit_aws::ops`]).
//! - **release** (lean): send `release` (update id `release:<holder>`); told to delete, delete
//!   and confirm it gone, then signal `deleted`.
//! - A classic lease (a run from before lean leases) answers once it did the work itself;
//!   its answer passes through.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use jit_aws::IdentityCenter;
use jit_contract::lease::Held;
use jit_contract::reconcile::{Drift, ReconcileInput, Scan};
use jit_contract::{activity, audit, governor, lease};
use jit_domain::lease::{governor_id, lease_id};
use jit_domain::{
    Acquired, AssignmentRef, Finding, Governor, LeaseCall, LeaseInput, LeaseStatus, Ownership,
    PermissionSetArn, PermissionSetName, PermitRelease, PermitRequest, PrincipalId, PrincipalType,
    Released,
};
use temporalio_client::errors::{
    WorkflowInteractionError, WorkflowStartError, WorkflowUpdateError,
};
use temporalio_client::{
    Client, WorkflowExecuteUpdateOptions, WorkflowIdConflictPolicy, WorkflowIdReusePolicy,
    WorkflowSignalOptions, WorkflowStartOptions, WorkflowUpdateWithStartOptions,
};
use temporalio_macros::activities;

use crate::metrics::{ActivityMetrics, NoMetrics};
use crate::support::{Heartbeat, to_activity_error, trace_id};
use temporalio_sdk::activities::{ActivityContext, ActivityError};

/// The activities of leases, the governor and the reconciler.
#[derive(Debug)]
pub struct LeaseActivities {
    aws: Arc<IdentityCenter>,
    /// The fleet's task queue: leases and the governor run there (the lease calls themselves
    /// run on a queue of their own).
    task_queue: String,
    /// The fleet's limit of outstanding asynchronous assignment operations.
    outstanding: u32,
    metrics: Arc<dyn ActivityMetrics>,
    /// Cut-off of sessions at revocation, when configured.
    audit: Option<jit_config::AuditConfig>,
}

impl LeaseActivities {
    pub fn new(aws: Arc<IdentityCenter>, task_queue: String, outstanding: u32) -> Self {
        Self {
            aws,
            task_queue,
            outstanding,
            metrics: Arc::new(NoMetrics),
            audit: None,
        }
    }

    /// Cuts off a revoked principal's sessions (`audit.cutoff`).
    pub fn with_audit(mut self, audit: Option<jit_config::AuditConfig>) -> Self {
        self.audit = audit;
        self
    }

    /// Reports revocation lags to `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<dyn ActivityMetrics>) -> Self {
        self.metrics = metrics;
        self
    }
}

fn temporal_error(e: impl std::fmt::Display) -> ActivityError {
    ActivityError::from(anyhow::anyhow!(e.to_string()))
}

/// The log line of a create or delete this worker made.
fn log_assignment(a: &AssignmentRef, what: &str) {
    tracing::info!(
        account = %a.account,
        permission_set = %a.permission_set_arn,
        principal = %a.principal_id,
        trace_id = trace_id(),
        "{what}"
    );
}

fn lease_start(task_queue: &str, id: &str, update_id: String) -> WorkflowUpdateWithStartOptions {
    WorkflowUpdateWithStartOptions::new(
        task_queue.to_owned(),
        id.to_owned(),
        WorkflowIdConflictPolicy::UseExisting,
    )
    .id_reuse_policy(WorkflowIdReusePolicy::AllowDuplicate)
    .update_id(update_id)
    .static_summary(format!("lease on {id}"))
    .build()
}

#[activities]
impl LeaseActivities {
    /// A ticket holds the lease of `call.assignment` (starting it if needed) and, told to,
    /// creates the assignment or makes sure it is there; answers once access is in place or
    /// AWS refused it.
    #[activity(definition = activity::AcquireLease)]
    pub async fn acquire_lease(
        self: Arc<Self>,
        ctx: ActivityContext,
        call: LeaseCall,
    ) -> Result<Held, ActivityError> {
        let approval = call.approval;
        let hb = Heartbeat::new(&ctx);
        let acquired = hb.around(self.acquire(&ctx, &hb, call)).await?;
        let now = jiff::Timestamp::now();
        if let (Some(t), false) = (approval, matches!(acquired, Acquired::Failed { .. })) {
            self.metrics.granted(
                crate::metrics::lag(t.waiting_since, t.approved_at),
                crate::metrics::lag(t.approved_at, now),
            );
        }
        Ok(Held { acquired, at: now })
    }

    /// A ticket leaves the lease; told to (the last holder of what the lease created),
    /// deletes the assignment, confirms it gone and tells the lease. Answers once it is gone
    /// or kept for others.
    #[activity(definition = activity::ReleaseLease)]
    pub async fn release_lease(
        self: Arc<Self>,
        ctx: ActivityContext,
        call: LeaseCall,
    ) -> Result<Released, ActivityError> {
        let due = call.due;
        let hb = Heartbeat::new(&ctx);
        let released = hb.around(self.release(&ctx, &hb, call)).await?;
        if let (Released::Deleted, Some(due)) = (&released, due) {
            self.metrics
                .revoked(crate::metrics::lag(due, jiff::Timestamp::now()));
        }
        Ok(released)
    }

    /// A lease asks the governor for a permit (the governor is started if it is not running).
    /// The limit is this worker's configured one.
    #[activity(definition = activity::RequestPermit)]
    pub async fn request_permit(
        self: Arc<Self>,
        ctx: ActivityContext,
        mut r: PermitRequest,
    ) -> Result<(), ActivityError> {
        r.limit = self.outstanding;
        self.signal_governor(&ctx, governor::Request, r).await
    }

    /// A lease returns its permit.
    #[activity(definition = activity::ReturnPermit)]
    pub async fn return_permit(
        self: Arc<Self>,
        ctx: ActivityContext,
        r: PermitRelease,
    ) -> Result<(), ActivityError> {
        self.signal_governor(&ctx, governor::Release, r).await
    }

    /// Compares AWS with the leases: every assignment of a managed permission set, every
    /// running lease (and what it holds).
    #[activity(definition = activity::ReconcileScan)]
    pub async fn reconcile_scan(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: ReconcileInput,
    ) -> Result<Scan, ActivityError> {
        let task_queue = self.task_queue.clone();
        let scan = Heartbeat::new(&ctx)
            .around(self.scan(&ctx.client(), &task_queue, &input))
            .await
            .map_err(temporal_error)?;
        let count = |f: Finding| scan.drift.iter().filter(|d| d.finding == f).count();
        self.metrics
            .reconciled(count(Finding::Orphan), count(Finding::Missing));
        for d in &scan.drift {
            tracing::warn!(
                finding = ?d.finding,
                account = %d.assignment.account,
                permission_set = %d.assignment.permission_set_arn,
                principal = %d.assignment.principal_id,
                listed = d.listed,
                "reconcile: drift"
            );
        }
        tracing::info!(
            assignments = scan.assignments,
            leases = scan.leases,
            orphans = scan
                .drift
                .iter()
                .filter(|d| d.finding == Finding::Orphan)
                .count(),
            missing = scan
                .drift
                .iter()
                .filter(|d| d.finding == Finding::Missing)
                .count(),
            dry_run = input.dry_run,
            "reconcile: scanned"
        );
        Ok(scan)
    }

    /// Asks an account's cut-off entity to prune what expired (starting it if need be).
    #[activity(definition = activity::PruneCutoffs)]
    pub async fn prune_cutoffs(
        self: Arc<Self>,
        ctx: ActivityContext,
        account: String,
    ) -> Result<(), ActivityError> {
        self.signal_cutoff(&ctx, account, Vec::new()).await
    }

    /// Tells a lease what the reconciler found (starting it for an orphan: the lease then
    /// owns the clean-up, serialised with every other operation on the assignment).
    #[activity(definition = activity::ReconcileSignal)]
    pub async fn reconcile_signal(
        self: Arc<Self>,
        ctx: ActivityContext,
        d: Drift,
    ) -> Result<(), ActivityError> {
        let id = lease_id(&d.assignment);
        let opts = WorkflowStartOptions::new(self.task_queue.clone(), id.clone())
            .id_conflict_policy(WorkflowIdConflictPolicy::UseExisting)
            .id_reuse_policy(WorkflowIdReusePolicy::AllowDuplicate)
            .build();
        let input = LeaseInput::lean(d.assignment, None);
        ctx.client()
            .signal_with_start_workflow(lease::Workflow, input, lease::Reconcile, d.finding, opts)
            .await
            .map(|_| ())
            .map_err(temporal_error)
    }
}

fn governor_start(task_queue: &str) -> WorkflowStartOptions {
    WorkflowStartOptions::new(task_queue.to_owned(), governor_id(task_queue))
        .id_conflict_policy(WorkflowIdConflictPolicy::UseExisting)
        .id_reuse_policy(WorkflowIdReusePolicy::AllowDuplicate)
        .build()
}

/// (principal type, principal id) of a listed row.
type Who = (PrincipalType, PrincipalId);

impl LeaseActivities {
    /// The lean acquire: observe, hold, then do what the lease says.
    async fn acquire(
        &self,
        ctx: &ActivityContext,
        hb: &Heartbeat,
        mut call: LeaseCall,
    ) -> Result<Acquired, ActivityError> {
        let a = call.assignment.clone();
        call.observed = Some(
            self.aws
                .assignment_exists(&a)
                .await
                .map_err(to_activity_error)?,
        );
        let answer = self.hold(ctx, &call).await?;
        let (answer, others) = match answer {
            Acquired::Standing | Acquired::Share { standing: true, .. } => {
                if self
                    .aws
                    .assignment_exists(&a)
                    .await
                    .map_err(to_activity_error)?
                {
                    return Ok(Acquired::Standing);
                }
                // The standing access the lease was told of is gone: ask again; what is
                // created now is the lease's.
                call.gone = true;
                let again = self
                    .update_lease(ctx, lease::Acquire, "acquire-gone", call)
                    .await?;
                (again, Vec::new())
            }
            Acquired::Share {
                with,
                standing: false,
            } => (Acquired::Create, with),
            other => (other, Vec::new()),
        };
        match answer {
            Acquired::Create => match self
                .aws
                .create_assignment(&a, hb.resume().as_deref(), hb)
                .await
            {
                Ok(()) if others.is_empty() => {
                    log_assignment(&a, "assignment created");
                    Ok(Acquired::Created)
                }
                Ok(()) => Ok(Acquired::Joined { with: others }),
                Err(e) if e.is_retryable() => Err(to_activity_error(e)),
                Err(e) => Ok(Acquired::Failed {
                    reason: e.to_string(),
                }),
            },
            // A classic lease did the work itself.
            done => Ok(done),
        }
    }

    /// Holds the lease as `call.holder`: starts it with this call as its first holder, or,
    /// if it runs, sends `acquire` (with start: it may end in between).
    async fn hold(
        &self,
        ctx: &ActivityContext,
        call: &LeaseCall,
    ) -> Result<Acquired, ActivityError> {
        let id = lease_id(&call.assignment);
        let first = LeaseInput::lean(call.assignment.clone(), Some(call.clone()));
        let opts = WorkflowStartOptions::new(self.task_queue.clone(), id.clone())
            .id_conflict_policy(WorkflowIdConflictPolicy::Fail)
            .id_reuse_policy(WorkflowIdReusePolicy::AllowDuplicate)
            .static_summary(format!("lease on {id}"))
            .build();
        match ctx
            .client()
            .start_workflow(lease::Workflow, first.clone(), opts)
            .await
        {
            Ok(_) => first.first_answer().ok_or_else(|| {
                temporal_error("a lease started for its first holder gave no answer")
            }),
            Err(WorkflowStartError::AlreadyStarted { .. }) => {
                self.update_lease(ctx, lease::Acquire, "acquire", call.clone())
                    .await
            }
            Err(e) => Err(temporal_error(e)),
        }
    }

    /// The lean release: leave; told to, delete and confirm.
    async fn release(
        &self,
        ctx: &ActivityContext,
        hb: &Heartbeat,
        call: LeaseCall,
    ) -> Result<Released, ActivityError> {
        let a = call.assignment.clone();
        let holder = call.holder.clone();
        let handle = ctx
            .client()
            .get_workflow_handle::<lease::Workflow>(lease_id(&a));
        let opts = WorkflowExecuteUpdateOptions::builder()
            .update_id(format!("release:{holder}"))
            .build();
        let answer = match handle.execute_update(lease::Release, call, opts).await {
            Ok(answer) => answer,
            // No lease runs: it holds nothing for anyone.
            Err(WorkflowUpdateError::NotFound(_)) => return Ok(Released::NotHeld),
            Err(e) => return Err(temporal_error(e)),
        };
        if answer != Released::Delete {
            // Kept, standing, not held — or a classic lease that deleted it itself.
            return Ok(answer);
        }
        self.aws
            .delete_assignment(&a, hb.resume().as_deref(), hb)
            .await
            .map_err(|e| temporal_error(e.to_string()))?;
        log_assignment(&a, "assignment deleted");
        self.cut_off(ctx, &a).await?;
        match handle
            .signal(lease::Deleted, holder, WorkflowSignalOptions::default())
            .await
        {
            // Ended meanwhile (a lease waits for this signal, so only after an earlier
            // attempt's signal): nothing to tell.
            Ok(()) | Err(WorkflowInteractionError::NotFound(_)) => Ok(Released::Deleted),
            Err(e) => Err(temporal_error(e)),
        }
    }

    /// Sessions issued before now by the principal as this permission set in this account
    /// stop working: handed to the account's cut-off entity (started if need be), which
    /// queues them with every other revocation's. Nothing when not configured.
    async fn cut_off(&self, ctx: &ActivityContext, a: &AssignmentRef) -> Result<(), ActivityError> {
        let Some(cut) =
            crate::audit::cutoff_for(&self.aws, self.audit.as_ref(), a, jiff::Timestamp::now())
                .await
                .map_err(to_activity_error)?
        else {
            return Ok(());
        };
        let account = cut.account.clone();
        self.signal_cutoff(ctx, account, vec![cut]).await
    }

    /// Hands `cuts` (none: prune) to `account`'s cut-off entity, starting it if need be.
    async fn signal_cutoff(
        &self,
        ctx: &ActivityContext,
        account: String,
        cuts: Vec<jit_domain::Cutoff>,
    ) -> Result<(), ActivityError> {
        let opts = WorkflowStartOptions::new(self.task_queue.clone(), audit::cutoff_id(&account))
            .id_conflict_policy(WorkflowIdConflictPolicy::UseExisting)
            .id_reuse_policy(WorkflowIdReusePolicy::AllowDuplicate)
            .static_summary(format!("session cut-off in {account}"))
            .build();
        let input = audit::CutoffInput {
            account,
            pending: Vec::new(),
            documents: Vec::new(),
        };
        ctx.client()
            .signal_with_start_workflow(audit::CutoffWorkflow, input, audit::CutoffAdd, cuts, opts)
            .await
            .map(|_| ())
            .map_err(temporal_error)
    }

    /// Sends `update` to the lease of `call.assignment` with update id `<kind>:<holder>`,
    /// starting a lean lease if none runs, and waits for its answer.
    async fn update_lease<U>(
        &self,
        ctx: &ActivityContext,
        update: U,
        kind: &str,
        call: LeaseCall,
    ) -> Result<U::Output, ActivityError>
    where
        U: temporalio_common::UpdateDefinition<Workflow = lease::Workflow, Input = LeaseCall>,
        U::Output: 'static,
    {
        let id = lease_id(&call.assignment);
        let input = LeaseInput::lean(call.assignment.clone(), None);
        let opts = lease_start(&self.task_queue, &id, format!("{kind}:{}", call.holder));
        let client: Client = ctx.client();
        client
            .execute_update_with_start_workflow(lease::Workflow, input, update, call, opts)
            .await
            .map_err(temporal_error)
    }

    /// Signals the governor, starting it if it is not running.
    async fn signal_governor<S>(
        &self,
        ctx: &ActivityContext,
        signal: S,
        input: S::Input,
    ) -> Result<(), ActivityError>
    where
        S: temporalio_common::SignalDefinition<Workflow = governor::Workflow>,
        S::Input: Send,
    {
        ctx.client()
            .signal_with_start_workflow(
                governor::Workflow,
                Governor::new(self.outstanding),
                signal,
                input,
                governor_start(&self.task_queue),
            )
            .await
            .map(|_| ())
            .map_err(temporal_error)
    }

    async fn scan(
        &self,
        client: &Client,
        task_queue: &str,
        input: &ReconcileInput,
    ) -> anyhow::Result<Scan> {
        let instance = self.aws.instance().await?.arn.clone();
        let accounts: Vec<_> = self
            .aws
            .accounts()
            .await?
            .into_iter()
            .filter(|(id, _)| {
                input.accounts.is_empty() || input.accounts.iter().any(|a| a == id.as_str())
            })
            .collect();
        let mut scan = Scan::default();
        // Leases first: a lease that starts after this read is one whose assignment may be
        // listed below without it — the lease itself settles such a finding (it checks its
        // holders before deleting anything).
        let leases = running_leases(client, task_queue).await?;
        scan.leases = leases.len();
        let mut sets: Vec<(String, PermissionSetArn)> = Vec::new();
        for name in &input.permission_sets {
            let parsed = PermissionSetName::parse(name)?;
            match self.aws.permission_set_arn(&parsed).await? {
                Some(arn) => sets.push((name.clone(), arn)),
                None => scan.unknown_permission_sets.push(name.clone()),
            }
        }
        let managed: BTreeSet<&str> = sets.iter().map(|(_, arn)| arn.as_str()).collect();
        let mut in_aws: BTreeMap<String, (AssignmentRef, usize)> = BTreeMap::new();
        for (account, _) in &accounts {
            for (_, arn) in &sets {
                let rows: Vec<Who> = self.aws.list_assignments(&instance, account, arn).await?;
                scan.assignments += rows.len();
                for (principal_type, principal_id) in rows {
                    let a = AssignmentRef {
                        instance_arn: instance.clone(),
                        account: account.clone(),
                        permission_set_arn: arn.clone(),
                        principal_type,
                        principal_id,
                    };
                    in_aws.entry(lease_id(&a)).or_insert_with(|| (a, 0)).1 += 1;
                }
            }
        }
        for (id, (a, listed)) in &in_aws {
            let held = leases
                .get(id)
                .is_some_and(|s| !s.state.holders.is_empty() || s.state.owned != Ownership::Absent);
            if !held || *listed > 1 {
                scan.drift.push(Drift {
                    assignment: a.clone(),
                    finding: Finding::Orphan,
                    listed: *listed,
                });
            }
        }
        if self.audit.as_ref().is_some_and(|a| a.cutoff) {
            let now = jiff::Timestamp::now();
            for (account, _) in &accounts {
                let policies = self.aws.cutoff_policies(account.as_str()).await?;
                let stale = policies.iter().any(|p| {
                    jit_trail::cutoff::statements(&p.content)
                        .iter()
                        .any(|s| jit_trail::cutoff::expires(s).is_some_and(|t| t <= now))
                });
                if stale {
                    scan.stale_cutoffs.push(account.to_string());
                }
            }
        }
        for (id, status) in &leases {
            let (a, state) = (&status.assignment, &status.state);
            if managed.contains(a.permission_set_arn.as_str())
                && state.owned == Ownership::Created
                && !state.holders.is_empty()
                && !in_aws.contains_key(id)
            {
                scan.drift.push(Drift {
                    assignment: a.clone(),
                    finding: Finding::Missing,
                    listed: 0,
                });
            }
        }
        Ok(scan)
    }
}

/// Every running lease of the fleet on `task_queue`, by workflow id, with its state (query
/// `state`).
async fn running_leases(
    client: &Client,
    task_queue: &str,
) -> anyhow::Result<BTreeMap<String, LeaseStatus>> {
    use futures::StreamExt;
    use temporalio_client::{WorkflowListOptions, WorkflowQueryOptions};
    let query = format!(
        "WorkflowType = '{}' AND ExecutionStatus = 'Running' AND TaskQueue = '{}'",
        lease::Workflow::NAME,
        task_queue.replace('\'', "")
    );
    let mut ids = Vec::new();
    let mut stream = std::pin::pin!(client.list_workflows(query, WorkflowListOptions::default()));
    while let Some(w) = stream.next().await {
        ids.push(w?.id().to_owned());
    }
    let mut out = BTreeMap::new();
    for id in ids {
        let handle = client.get_workflow_handle::<lease::Workflow>(id.clone());
        match handle
            .query(lease::State, (), WorkflowQueryOptions::default())
            .await
        {
            Ok(status) => {
                out.insert(id, status);
            }
            // Finished between the list and the query: not running any more.
            Err(e) => tracing::debug!(workflow_id = %id, error = %e, "lease not queryable"),
        }
    }
    Ok(out)
}
