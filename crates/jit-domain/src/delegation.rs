//! Standing delegations: an approver hands their approvals to someone else for a while (a
//! vacation), for every ticket, held in one small entity per approver.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::approval::Delegation;
use crate::ids::UserName;
use crate::refusal::Refused;

/// One standing delegation of an approver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StandingDelegation {
    pub to: UserName,
    pub until: Timestamp,
    pub reason: Option<String>,
    pub set_at: Timestamp,
}

/// An approver's standing delegations (the state of `delegation-<user>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelegationEntity {
    pub owner: UserName,
    #[serde(default)]
    pub delegations: Vec<StandingDelegation>,
}

impl DelegationEntity {
    pub fn new(owner: UserName) -> Self {
        Self {
            owner,
            delegations: Vec::new(),
        }
    }

    /// The workflow id of `owner`'s entity.
    pub fn workflow_id(owner: &UserName) -> String {
        format!("delegation-{owner}")
    }

    pub fn check_set(
        &self,
        to: &UserName,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<(), Refused> {
        if *to == self.owner {
            return Err(Refused::not_allowed(format!(
                "{to} cannot delegate to themselves"
            )));
        }
        if until <= now {
            return Err(Refused::bad_value("a delegation must end in the future"));
        }
        Ok(())
    }

    /// Sets (or replaces) the delegation to `to`.
    pub fn set(
        &mut self,
        to: UserName,
        until: Timestamp,
        reason: Option<String>,
        now: Timestamp,
    ) -> Result<(), Refused> {
        self.check_set(&to, until, now)?;
        self.delegations.retain(|d| d.to != to);
        self.delegations.push(StandingDelegation {
            to,
            until,
            reason,
            set_at: now,
        });
        Ok(())
    }

    /// Ends every delegation now.
    pub fn clear(&mut self) {
        self.delegations.clear();
    }

    /// Forgets what has expired.
    pub fn prune(&mut self, now: Timestamp) {
        self.delegations.retain(|d| d.until > now);
    }

    /// The delegations in force at `now`, as per-ticket delegations.
    pub fn active(&self, now: Timestamp) -> Vec<Delegation> {
        self.delegations
            .iter()
            .filter(|d| d.until > now)
            .map(|d| Delegation {
                from: self.owner.clone(),
                to: d.to.clone(),
                until: d.until,
                reason: Some(match &d.reason {
                    Some(r) => format!("standing delegation: {r}"),
                    None => "standing delegation".to_owned(),
                }),
                at: d.set_at,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> UserName {
        UserName::parse(s).unwrap()
    }

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    #[test]
    fn standing_delegations_replace_expire_and_refuse_self() {
        let mut e = DelegationEntity::new(u("dave"));
        assert!(e.set(u("dave"), t(10), None, t(0)).is_err());
        assert!(e.set(u("frank"), t(0), None, t(0)).is_err());
        e.set(u("frank"), t(10), None, t(0)).unwrap();
        e.set(u("frank"), t(20), Some("holiday".into()), t(1))
            .unwrap();
        assert_eq!(e.delegations.len(), 1, "replaced");
        let a = e.active(t(15));
        assert_eq!((a[0].from.as_str(), a[0].to.as_str()), ("dave", "frank"));
        assert!(e.active(t(20)).is_empty());
        e.prune(t(25));
        assert!(e.delegations.is_empty());
    }
}
