//! Extensions: asked for while active, applied at once or after re-approval, capped by the
//! plan's total.

use jiff::{SignedDuration, Timestamp};

use super::{Extension, Ticket};
use crate::approval::{Approval, Decision};
use crate::ids::UserName;
use crate::phase::Phase;
use crate::refusal::Refused;

impl Ticket {
    pub fn check_extend(&self, by: &UserName, extra: SignedDuration) -> Result<(), Refused> {
        if self.phase != Phase::Active {
            return Err(Refused::wrong_phase(format!(
                "the ticket is {}; only active access can be extended",
                self.phase
            )));
        }
        if !self.is_party(by) {
            return Err(Refused::not_allowed(format!(
                "{by} is neither the requester nor the principal of this ticket"
            )));
        }
        if self
            .extensions
            .last()
            .is_some_and(|e| e.approval.as_ref().is_some_and(|a| a.outcome.is_none()))
        {
            return Err(Refused::wrong_phase(
                "an extension is already waiting for approval",
            ));
        }
        if extra < SignedDuration::from_secs(60) {
            return Err(Refused::bad_value(format!(
                "an extension of {extra:#} is too short: at least 1 minute"
            )));
        }
        let plan = self
            .plan
            .as_ref()
            .ok_or_else(|| Refused::wrong_phase("no plan"))?;
        let total = self.granted() + extra;
        if total > plan.max_total {
            return Err(Refused::not_allowed(format!(
                "extending by {extra:#} would make {total:#} in all; plan {} allows at most {:#}",
                plan.name, plan.max_total
            )));
        }
        Ok(())
    }

    /// Extends at once, or opens a re-approval when the plan asks for one (access stays
    /// meanwhile). Returns whether it applied at once.
    pub fn extend(
        &mut self,
        by: &UserName,
        extra: SignedDuration,
        reason: Option<String>,
        now: Timestamp,
    ) -> Result<bool, Refused> {
        self.check_extend(by, extra)?;
        let plan = self
            .plan
            .as_ref()
            .ok_or_else(|| Refused::wrong_phase("no plan"))?;
        let approval = if plan.extension_needs_approval {
            let a = Approval::new(
                plan.steps.clone(),
                self.request.requester.clone(),
                self.request.principal.user().cloned(),
            )
            .map_err(|e| Refused::not_allowed(e.to_string()))?;
            (a.outcome.is_none()).then_some(a)
        } else {
            None
        };
        let needs_approval = approval.is_some();
        self.extensions.push(Extension {
            by: by.clone(),
            extra,
            reason: reason.clone(),
            at: now,
            approval,
            applied: false,
        });
        let why = reason.map(|r| format!(": {r}")).unwrap_or_default();
        if needs_approval {
            self.log(
                now,
                format!("{by} asked to extend by {extra:#}{why}; waiting for approval"),
            );
        } else {
            self.log(now, format!("{by} extended by {extra:#}{why}"));
            self.apply_extension(now);
        }
        self.bump();
        Ok(!needs_approval)
    }

    /// Applies the last extension (approved or not needing approval): the expiry moves.
    pub fn apply_extension(&mut self, now: Timestamp) {
        let Some(e) = self.extensions.last_mut() else {
            return;
        };
        if e.applied {
            return;
        }
        e.applied = true;
        let extra = e.extra;
        if let Some(exp) = self.expires_at {
            let new = exp.checked_add(extra).unwrap_or(Timestamp::MAX);
            self.expires_at = Some(new);
            self.log(now, format!("expiry moved to {new}"));
        }
        self.bump();
    }

    /// The decision on a pending extension, if it was just decided.
    pub fn extension_decision(&self) -> Option<Decision> {
        let e = self.extensions.last()?;
        if e.applied {
            return None;
        }
        e.approval.as_ref().and_then(|a| a.outcome)
    }

    /// Closes a denied extension (access stays until the current expiry).
    pub fn drop_extension(&mut self, now: Timestamp) {
        if let Some(e) = self.extensions.last_mut()
            && let Some(a) = e.approval.take()
        {
            let by = a
                .votes
                .iter()
                .rev()
                .find(|v| v.decision == Decision::Deny)
                .map(|v| v.cast_by.to_string())
                .unwrap_or_default();
            self.log(
                now,
                format!("extension denied by {by}; access ends at the current expiry"),
            );
            self.bump();
        }
    }
}
