//! [`LeaseActivities`]: how tickets reach their leases, leases the governor, and the
//! reconciler AWS and the leases.
//!
//! Workflows cannot start other workflows with a signal or an update, so these activities
//! do it with the worker's Temporal client: update-with-start on the lease (the update's id is
//! the holder's, so a retried activity attaches to the same update and gets the same answer),
//! signal-with-start on the governor, all by the definitions of `jit-contract`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use jit_aws::IdentityCenter;
use jit_contract::lease::Held;
use jit_contract::reconcile::{Drift, ReconcileInput, Scan};
use jit_contract::{activity, governor, lease};
use jit_domain::lease::{governor_id, lease_id};
use jit_domain::{
    Acquired, AssignmentRef, Finding, Governor, LeaseCall, LeaseInput, LeaseStatus, Ownership,
    PermissionSetArn, PermissionSetName, PermitRelease, PermitRequest, PrincipalId, PrincipalType,
    Released,
};
use temporalio_client::{
    Client, WorkflowIdConflictPolicy, WorkflowIdReusePolicy, WorkflowStartOptions,
    WorkflowUpdateWithStartOptions,
};
use temporalio_macros::activities;

use crate::metrics::{ActivityMetrics, NoMetrics};
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
}

impl LeaseActivities {
    pub fn new(aws: Arc<IdentityCenter>, task_queue: String, outstanding: u32) -> Self {
        Self {
            aws,
            task_queue,
            outstanding,
            metrics: Arc::new(NoMetrics),
        }
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

/// Heartbeats every few seconds while `work` runs (a dead worker is noticed within the
/// heartbeat timeout and the activity retried elsewhere).
async fn heartbeating<T>(ctx: &ActivityContext, work: impl Future<Output = T>) -> T {
    let ticker = async {
        loop {
            tokio::time::sleep(Duration::from_secs(2)).await;
            if let Err(e) = ctx.record_heartbeat(Vec::<u8>::new()).await {
                tracing::debug!(error = %e, "heartbeat not recorded");
            }
        }
    };
    tokio::select! {
        out = work => out,
        () = ticker => unreachable!("the ticker never ends"),
    }
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
    /// A ticket joins the lease of `call.assignment` (starting it if needed) and waits until
    /// access is in place or AWS refused.
    #[activity(definition = activity::AcquireLease)]
    pub async fn acquire_lease(
        self: Arc<Self>,
        ctx: ActivityContext,
        call: LeaseCall,
    ) -> Result<Held, ActivityError> {
        let approval = call.approval;
        let acquired = self
            .call_lease(&ctx, lease::Acquire, "acquire", call)
            .await?;
        let now = jiff::Timestamp::now();
        if let (Some(t), false) = (approval, matches!(acquired, Acquired::Failed { .. })) {
            self.metrics.granted(
                crate::metrics::lag(t.waiting_since, t.approved_at),
                crate::metrics::lag(t.approved_at, now),
            );
        }
        Ok(Held { acquired, at: now })
    }

    /// A ticket leaves the lease; waits until the lease has deleted the assignment (last
    /// holder) or kept it for others.
    #[activity(definition = activity::ReleaseLease)]
    pub async fn release_lease(
        self: Arc<Self>,
        ctx: ActivityContext,
        call: LeaseCall,
    ) -> Result<Released, ActivityError> {
        let due = call.due;
        let released = self
            .call_lease(&ctx, lease::Release, "release", call)
            .await?;
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
        let scan = heartbeating(&ctx, self.scan(&ctx.client(), &task_queue, &input))
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
        let input = LeaseInput {
            assignment: d.assignment,
            carried: None,
        };
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
    /// Sends `update` (acquire or release, named `kind`) to the lease of `call.assignment`,
    /// starting the lease if needed, and waits for its answer, heartbeating. The update id is
    /// `<kind>:<holder>`, so a retried activity attaches to the same update.
    async fn call_lease<U>(
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
        let input = LeaseInput {
            assignment: call.assignment.clone(),
            carried: None,
        };
        let opts = lease_start(&self.task_queue, &id, format!("{kind}:{}", call.holder));
        let client: Client = ctx.client();
        heartbeating(
            ctx,
            client.execute_update_with_start_workflow(lease::Workflow, input, update, call, opts),
        )
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
