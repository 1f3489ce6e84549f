//! Votes, delegation and escalation on the open approval.

use jiff::Timestamp;

use super::Ticket;
use crate::approval::{Approval, Decision, Delegation, VoteEffect, VoteRejected};
use crate::evaluation::VoterCheck;
use crate::ids::UserName;
use crate::phase::Phase;
use crate::refusal::Refused;

impl Ticket {
    /// What the directory must confirm before `person`'s vote counts (after
    /// [`Ticket::check_vote`] accepted it).
    pub fn voter_check(
        &self,
        person: &UserName,
        now: Timestamp,
    ) -> Result<VoterCheck, VoteRejected> {
        let voter = self.check_vote(person, now)?;
        let step = self
            .open_approval()
            .and_then(Approval::current_step)
            .ok_or_else(|| VoteRejected::NotPending(self.phase.to_string()))?;
        let mut groups = step.groups.clone();
        if self.escalated
            && let Some(e) = self.plan.as_ref().and_then(|p| p.escalation.as_ref())
        {
            groups.extend(e.groups.iter().cloned());
        }
        Ok(VoterCheck {
            cast_by: person.clone(),
            voter,
            step: step.name.clone(),
            groups,
            users: step.users.clone(),
        })
    }

    /// Whether `person` may vote now, and as whom.
    pub fn check_vote(&self, person: &UserName, now: Timestamp) -> Result<UserName, VoteRejected> {
        match self.open_approval() {
            Some(a) => a.as_whom(person, now),
            None => Err(VoteRejected::NotPending(self.phase.to_string())),
        }
    }

    /// Records a vote on the open approval.
    pub fn vote(
        &mut self,
        person: &UserName,
        decision: Decision,
        comment: Option<String>,
        now: Timestamp,
    ) -> Result<VoteEffect, VoteRejected> {
        let phase = self.phase;
        let Some(a) = self.open_approval_mut() else {
            return Err(VoteRejected::NotPending(phase.to_string()));
        };
        let step = a.current_step().map(|s| s.name.clone()).unwrap_or_default();
        let (v, effect) = a.vote(person, decision, comment, now)?;
        let verb = match v.decision {
            Decision::Approve => "approved",
            Decision::Deny => "denied",
        };
        let who = if v.voter == v.cast_by {
            v.voter.to_string()
        } else {
            format!("{} as {} (delegated)", v.cast_by, v.voter)
        };
        let what = match phase {
            Phase::PendingApproval => "",
            _ if self.ratify_by.is_some() => " the break-glass access",
            _ => " the extension",
        };
        let mut line = format!("{who} {verb}{what} in step {step}");
        if let Some(c) = &v.comment {
            line.push_str(&format!(": {c}"));
        }
        self.log(now, line);
        self.bump();
        Ok(effect)
    }

    pub fn check_delegate(
        &self,
        from: &UserName,
        to: &UserName,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<(), Refused> {
        match self.open_approval() {
            Some(a) => Ok(a.check_delegation(from, to, until, now)?),
            None => Err(Refused::wrong_phase(format!(
                "the ticket is {}, not waiting for approval",
                self.phase
            ))),
        }
    }

    pub fn delegate(&mut self, d: Delegation, now: Timestamp) -> Result<(), Refused> {
        self.check_delegate(&d.from, &d.to, d.until, now)?;
        let line = format!(
            "{} delegated their approval to {} until {}{}",
            d.from,
            d.to,
            d.until,
            d.reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        );
        if let Some(a) = self.open_approval_mut() {
            a.delegate(d, now)?;
        }
        self.log(now, line);
        self.bump();
        Ok(())
    }

    /// Escalates the open approval to the plan's fallback approvers; logs who was added.
    pub fn escalate(&mut self, now: Timestamp) -> Vec<UserName> {
        let Some(esc) = self.plan.as_ref().and_then(|p| p.escalation.clone()) else {
            return Vec::new();
        };
        let added = self
            .open_approval_mut()
            .map(|a| a.escalate(&esc.approvers))
            .unwrap_or_default();
        self.log(
            now,
            format!(
                "no decision after {:#}: escalated to {} ({})",
                esc.after,
                esc.name,
                added
                    .iter()
                    .map(UserName::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
        self.bump();
        added
    }
}
