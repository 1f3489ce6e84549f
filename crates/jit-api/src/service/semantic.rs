//! Refusals that need no AWS call and no ticket: an account or permission set that does not
//! exist (from [`crate::known`]), a bundle the policy does not define, a duration over the
//! cap of the plan the targets would get. Who may request what (group membership) and
//! whether the principal exists are the ticket's evaluation to decide.

use jit_contract::catalog::Known;
use jit_domain::{TicketRequest, quoted};
use jit_policy::TargetKey;
use tonic::Status;

use super::TicketApi;
use crate::known::{FRESH, RECHECK_AFTER};

/// The first target `known` does not have, as the refusal to send.
fn unknown_target(req: &TicketRequest, known: &Known) -> Option<Status> {
    for (i, t) in req.targets.iter().enumerate() {
        if !known
            .accounts
            .iter()
            .any(|(id, _)| id == t.account.as_str())
        {
            return Some(Status::not_found(format!(
                "targets[{i}].account_id: {} is not an account of the organization",
                t.account
            )));
        }
        if !known
            .permission_sets
            .iter()
            .any(|p| p == t.permission_set.as_str())
        {
            return Some(Status::not_found(format!(
                "targets[{i}].permission_set: there is no permission set {} (there are: {})",
                quoted(t.permission_set.as_str()),
                known.permission_sets.join(", ")
            )));
        }
    }
    None
}

impl TicketApi {
    /// Refuses at once what would certainly be rejected; `Ok` leaves the rest to the ticket.
    pub(super) async fn refuse_what_cannot_be(&self, req: &TicketRequest) -> Result<(), Status> {
        let policy = self.policy.current();
        let bundle = match &req.bundle {
            None => Vec::new(),
            Some(b) => policy.rules().bundle_targets(b.as_str()).ok_or_else(|| {
                let mut names: Vec<&str> =
                    policy.rules().bundles.keys().map(String::as_str).collect();
                names.sort_unstable();
                Status::not_found(format!(
                    "bundle: there is no bundle {} (there are: {})",
                    quoted(b.as_str()),
                    names.join(", ")
                ))
            })?,
        };
        // Without an answer about what exists, the ticket decides (as it always can).
        let Some(mut known) = self.known.get(FRESH).await else {
            return Ok(());
        };
        if unknown_target(req, &known).is_some()
            && let Some(renewed) = self.known.get(RECHECK_AFTER).await
        {
            known = renewed;
        }
        if let Some(refusal) = unknown_target(req, &known) {
            return Err(refusal);
        }
        let name_of = |account: &str| {
            known
                .accounts
                .iter()
                .find(|(id, name)| id == account || name == account)
                .cloned()
        };
        let mut keys: Vec<TargetKey> = req
            .targets
            .iter()
            .filter_map(|t| name_of(t.account.as_str()).map(|a| (a, t.permission_set.to_string())))
            .chain(
                bundle
                    .iter()
                    .filter_map(|t| name_of(&t.account).map(|a| (a, t.permission_set.clone()))),
            )
            .map(|((account_id, account_name), permission_set)| TargetKey {
                account_id,
                account_name,
                permission_set,
            })
            .collect();
        keys.dedup();
        if let Ok((plan, _)) = policy.plan_for(&keys)
            && req.duration > plan.max_duration
        {
            return Err(super::errors::invalid_argument(format!(
                "duration: {:#} is longer than plan {}'s maximum of {:#}",
                req.duration, plan.name, plan.max_duration
            )));
        }
        Ok(())
    }
}
