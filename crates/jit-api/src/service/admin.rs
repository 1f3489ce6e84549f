//! What admins look at besides tickets: the last reconcile run's report and the leases in
//! force. Both read Temporal (visibility, a workflow's result, the leases' `state` query);
//! neither touches AWS.

use futures::StreamExt;
use jit_contract::{lease, reconcile};
use jit_proto::v1 as pb;
use temporalio_client::{WorkflowGetResultOptions, WorkflowQueryOptions};
use tonic::Status;

use super::TicketApi;

fn timestamp(t: jiff::Timestamp) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.as_second(),
        nanos: t.subsec_nanosecond(),
    }
}

impl TicketApi {
    /// Refuses whoever is not one of the policy's admins.
    pub(super) fn admin_only(&self, user: &jit_domain::UserName, what: &str) -> Result<(), Status> {
        if self.is_admin(user) {
            Ok(())
        } else {
            Err(Status::permission_denied(format!(
                "{user} is not an admin: only the policy's admins see {what}"
            )))
        }
    }

    /// Running or completed executions of `workflow_type` on this deployment, newest first.
    async fn executions(
        &self,
        query: String,
        page_size: i32,
    ) -> Result<
        Vec<temporalio_common::protos::temporal::api::workflow::v1::WorkflowExecutionInfo>,
        Status,
    > {
        let resp = self
            .visibility(&query, page_size, Vec::new())
            .await
            .map_err(|_| Status::unavailable("listing failed; retry later"))?;
        Ok(resp.executions)
    }

    /// The last completed reconcile run's report, if any.
    pub(super) async fn last_reconcile(&self) -> Result<Option<pb::ReconcileReport>, Status> {
        let runs = self
            .executions(
                format!(
                    "WorkflowType = '{}' AND ExecutionStatus = 'Completed' AND TaskQueue = '{}'",
                    reconcile::Workflow::NAME,
                    self.task_queue
                ),
                1,
            )
            .await?;
        let Some(id) = runs
            .first()
            .and_then(|e| e.execution.as_ref())
            .map(|x| x.workflow_id.clone())
        else {
            return Ok(None);
        };
        let r = self
            .client
            .get_workflow_handle::<reconcile::Workflow>(id.clone())
            .get_result(WorkflowGetResultOptions::default())
            .await
            .map_err(|e| Status::unavailable(format!("reading reconcile run {id}: {e}")))?;
        let finding = |d: &reconcile::Drift| {
            format!(
                "{:?}: {} {} {} {} ({} listed)",
                d.finding,
                d.assignment.account,
                d.assignment.permission_set_arn,
                d.assignment.principal_type.as_str(),
                d.assignment.principal_id,
                d.listed
            )
        };
        Ok(Some(pb::ReconcileReport {
            workflow_id: id,
            reconcile_time: r.at.map(timestamp),
            dry_run: r.dry_run,
            assignments: r.assignments as u64,
            leases: r.leases as u64,
            orphans: r.orphans as u64,
            missing: r.missing as u64,
            duplicates: r.duplicates as u64,
            repairs_requested: r.repairs_requested as u64,
            drift: r.drift.iter().map(finding).collect(),
            unknown_permission_sets: r.unknown_permission_sets,
            stale_cutoffs: r.stale_cutoffs,
            error: r.error.unwrap_or_default(),
        }))
    }

    /// The running leases (at most `limit`), each asked for its state.
    pub(super) async fn leases(&self, limit: i32) -> Result<Vec<pb::Lease>, Status> {
        let runs = self
            .executions(
                format!(
                    "WorkflowType = '{}' AND ExecutionStatus = 'Running'",
                    lease::Workflow::NAME
                ),
                limit,
            )
            .await?;
        let asked = futures::stream::iter(runs.into_iter().filter_map(|e| {
            let id = e.execution.as_ref()?.workflow_id.clone();
            Some((id, e.start_time))
        }))
        .map(|(id, start)| async move {
            let h = self
                .client
                .get_workflow_handle::<lease::Workflow>(id.clone());
            let state = h
                .query(lease::State, (), WorkflowQueryOptions::default())
                .await
                .map_err(|e| tracing::warn!(lease = %id, error = %e, "lease state"))
                .ok()?;
            let a = &state.assignment;
            let s = &state.state;
            Some(pb::Lease {
                lease_id: id,
                account_id: a.account.to_string(),
                permission_set_arn: a.permission_set_arn.to_string(),
                principal_type: a.principal_type.as_str().to_owned(),
                principal_id: a.principal_id.to_string(),
                ticket_ids: s
                    .holders
                    .keys()
                    .map(|h| h.strip_prefix("ticket-").unwrap_or(h).to_owned())
                    .collect(),
                state: if s.deleting.is_some() {
                    "deleting"
                } else {
                    match s.owned {
                        jit_domain::Ownership::Created => "owned",
                        jit_domain::Ownership::Standing => "standing",
                        jit_domain::Ownership::Absent => "free",
                    }
                }
                .to_owned(),
                start_time: start.map(|t| prost_types::Timestamp {
                    seconds: t.seconds,
                    nanos: t.nanos,
                }),
            })
        })
        .buffer_unordered(8)
        .filter_map(std::future::ready)
        .collect::<Vec<_>>()
        .await;
        Ok(asked)
    }
}
