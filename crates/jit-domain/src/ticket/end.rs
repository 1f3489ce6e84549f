//! Early ends: relinquish (the requester or principal is done), revoke (an approver or an
//! admin), cancel (before access).

use jiff::Timestamp;

use super::{EndKind, EndRequest, Ticket};
use crate::ids::UserName;
use crate::phase::Phase;
use crate::refusal::Refused;

impl Ticket {
    /// Whether `by` may end the ticket this way now.
    pub fn check_end(&self, kind: EndKind, by: &UserName) -> Result<(), Refused> {
        if self.phase.is_terminal() || self.phase == Phase::Revoking {
            return Err(Refused::wrong_phase(format!(
                "the ticket is already {}",
                self.phase
            )));
        }
        if self.end_request.is_some() {
            return Err(Refused::wrong_phase("the ticket is already ending"));
        }
        match kind {
            EndKind::Relinquish => {
                if !self.is_party(by) {
                    return Err(Refused::not_allowed(format!(
                        "only the requester or the principal can give up the access, not {by}"
                    )));
                }
                if !matches!(
                    self.phase,
                    Phase::Active | Phase::Provisioning | Phase::Scheduled
                ) {
                    return Err(Refused::wrong_phase(format!(
                        "the ticket is {}: there is no access to give up yet (cancel it instead)",
                        self.phase
                    )));
                }
            }
            EndKind::Cancel => {
                if *by != self.request.requester {
                    return Err(Refused::not_allowed(format!(
                        "only the requester can cancel the request, not {by}"
                    )));
                }
                if !matches!(
                    self.phase,
                    Phase::Evaluating | Phase::PendingApproval | Phase::Scheduled
                ) {
                    return Err(Refused::wrong_phase(format!(
                        "the ticket is {}: access is granted (relinquish it instead)",
                        self.phase
                    )));
                }
            }
            EndKind::Revoke => {
                let approver = self
                    .approval
                    .as_ref()
                    .is_some_and(|a| a.all_approvers().contains(by));
                let admin = self.plan.as_ref().is_some_and(|p| p.admins.contains(by));
                // A party of the ticket revokes only as an admin; they can relinquish instead.
                let allowed = admin || (approver && !self.is_party(by));
                if !allowed {
                    return Err(Refused::not_allowed(format!(
                        "{by} is neither an approver of this ticket nor an admin"
                    )));
                }
            }
        }
        Ok(())
    }

    pub fn request_end(
        &mut self,
        kind: EndKind,
        by: &UserName,
        reason: Option<String>,
        now: Timestamp,
    ) -> Result<(), Refused> {
        self.check_end(kind, by)?;
        let verb = match kind {
            EndKind::Relinquish => "relinquished the access",
            EndKind::Revoke => "revoked the access",
            EndKind::Cancel => "cancelled the request",
        };
        self.log(
            now,
            format!(
                "{by} {verb}{}",
                reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ),
        );
        self.end_request = Some(EndRequest {
            kind,
            by: by.clone(),
            reason,
            at: now,
        });
        self.bump();
        Ok(())
    }
}
