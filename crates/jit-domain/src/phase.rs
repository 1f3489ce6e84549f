//! Where a ticket is in its life: [`Phase`], the one list of phases (its string form is the
//! `JitStatus` search attribute; the API's `TicketStatus` is derived from it by name).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Declares [`Phase`] from one list: the enum, [`Phase::ALL`] in lifecycle order and
/// [`Phase::as_str`] (the variant's name), so no other copy of the list can drift.
macro_rules! phases {
    ($($(#[doc = $doc:literal])* $name:ident,)*) => {
        /// Where a ticket is. The string form is the `JitStatus` search attribute.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum Phase {
            $($(#[doc = $doc])* $name,)*
        }

        impl Phase {
            /// Every phase, in lifecycle order.
            pub const ALL: &'static [Phase] = &[$(Self::$name,)*];

            /// The phase's name (its variant's), e.g. `PendingApproval`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$name => stringify!($name),)*
                }
            }
        }
    };
}

phases! {
    /// Resolving principal, targets and plan.
    Evaluating,
    /// Waiting for approvers.
    PendingApproval,
    /// Approved; waiting for the scheduled start.
    Scheduled,
    /// Creating the assignments in AWS.
    Provisioning,
    /// Access granted; a timer runs to expiry.
    Active,
    /// Removing what the ticket created.
    Revoking,
    /// Ended: access granted, then removed at expiry.
    Expired,
    /// Ended: an approver said no.
    Denied,
    /// Ended: nobody approved before the deadline.
    ApprovalExpired,
    /// Ended: the request could not be honoured (unknown user, account, permission set, not
    /// allowed, plan cannot be satisfied).
    Rejected,
    /// Ended: provisioning failed; everything created was removed.
    Failed,
    /// Ended: access removed before its expiry by an approver, an admin or an operator.
    Revoked,
    /// Ended: the requester (or principal) was done early.
    Relinquished,
    /// Ended: cancelled before access was granted.
    Cancelled,
}

impl Phase {
    /// The phase whose [`Phase::as_str`] is `s` (e.g. a `JitStatus` value).
    pub fn from_name(s: &str) -> Option<Phase> {
        Self::ALL.iter().copied().find(|p| p.as_str() == s)
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Expired
                | Self::Denied
                | Self::ApprovalExpired
                | Self::Rejected
                | Self::Failed
                | Self::Revoked
                | Self::Relinquished
                | Self::Cancelled
        )
    }

    /// Access may exist in AWS in this phase.
    pub fn may_hold_access(self) -> bool {
        matches!(self, Self::Provisioning | Self::Active | Self::Revoking)
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Phase;

    #[test]
    fn every_phase_is_found_by_its_name() {
        assert_eq!(Phase::ALL.len(), 14);
        for p in Phase::ALL {
            assert_eq!(Phase::from_name(p.as_str()), Some(*p));
        }
        assert_eq!(Phase::from_name("Nope"), None);
        assert_eq!(Phase::PendingApproval.as_str(), "PendingApproval");
    }
}
