//! [`ReconcileWorkflow`] (run by the Temporal Schedule `jit-reconcile`): compares the
//! assignments of the JIT-managed permission sets in AWS with the live leases. Orphans
//! (in AWS, no lease holds them) and missing ones (a lease holds one AWS does not have) are
//! reported — query `report`, search attributes `JitOrphans` / `JitMissing`, the worker's log
//! — and, unless dry-run, handed to their lease to repair (the lease serialises the repair
//! with every other operation on the assignment and checks its holders first).

use std::time::Duration;

use jit_contract::activity;
use jit_contract::reconcile::{self, Drift, ReconcileInput, ReconcileReport, Scan};
use jit_domain::Finding;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{ActivityOptions, WorkflowContext, WorkflowContextView, WorkflowResult};

use crate::options::{failure_message, retry, to_timestamp};
use crate::search_attributes;

#[workflow]
pub struct ReconcileWorkflow {
    input: ReconcileInput,
    report: ReconcileReport,
}

#[workflow_methods]
impl ReconcileWorkflow {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: ReconcileInput) -> Self {
        Self {
            report: ReconcileReport {
                dry_run: input.dry_run,
                ..Default::default()
            },
            input,
        }
    }

    #[run(name = reconcile::Workflow::NAME)]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<ReconcileReport> {
        let input = ctx.state(|s| s.input.clone());
        let scan = ctx
            .execute_activity(
                activity::ReconcileScan,
                input.clone(),
                ActivityOptions::with_start_to_close_timeout(Duration::from_secs(600))
                    .heartbeat_timeout(Duration::from_secs(10))
                    .retry_policy(retry(5, Duration::from_secs(30)))
                    .summary("compare AWS with the leases".to_owned())
                    .build(),
            )
            .await;
        let now = to_timestamp(ctx.workflow_time());
        let scan: Scan = match scan {
            Ok(scan) => scan,
            Err(e) => {
                let error = failure_message(&e);
                ctx.state_mut(|s| {
                    s.report.at = Some(now);
                    s.report.error = Some(error);
                });
                return Ok(ctx.state(|s| s.report.clone()));
            }
        };
        let orphans = count(&scan.drift, Finding::Orphan);
        let missing = count(&scan.drift, Finding::Missing);
        ctx.state_mut(|s| {
            s.report = ReconcileReport {
                at: Some(now),
                dry_run: input.dry_run,
                assignments: scan.assignments,
                leases: scan.leases,
                orphans,
                missing,
                duplicates: scan.drift.iter().filter(|d| d.listed > 1).count(),
                repairs_requested: 0,
                drift: scan.drift.clone(),
                unknown_permission_sets: scan.unknown_permission_sets.clone(),
                stale_cutoffs: scan.stale_cutoffs.clone(),
                error: None,
            }
        });
        search_attributes::upsert_drift(ctx, orphans, missing);
        if !input.dry_run {
            for d in scan.drift {
                let sent = ctx
                    .execute_activity(
                        activity::ReconcileSignal,
                        d,
                        ActivityOptions::with_start_to_close_timeout(Duration::from_secs(30))
                            .retry_policy(retry(5, Duration::from_secs(10)))
                            .summary("hand the finding to its lease".to_owned())
                            .build(),
                    )
                    .await;
                if sent.is_ok() {
                    ctx.state_mut(|s| s.report.repairs_requested += 1);
                }
            }
            for account in scan.stale_cutoffs {
                let sent = ctx
                    .execute_activity(
                        activity::PruneCutoffs,
                        account,
                        ActivityOptions::with_start_to_close_timeout(Duration::from_secs(30))
                            .retry_policy(retry(5, Duration::from_secs(10)))
                            .summary("prune expired session cut-offs".to_owned())
                            .build(),
                    )
                    .await;
                if sent.is_ok() {
                    ctx.state_mut(|s| s.report.repairs_requested += 1);
                }
            }
        }
        Ok(ctx.state(|s| s.report.clone()))
    }

    /// What this run found (and asked to repair).
    #[query(name = reconcile::Report::NAME)]
    pub fn report(&self, _ctx: &WorkflowContextView) -> ReconcileReport {
        self.report.clone()
    }
}

fn count(drift: &[Drift], finding: Finding) -> usize {
    drift.iter().filter(|d| d.finding == finding).count()
}
