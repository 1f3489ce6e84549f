//! What someone asks for: the principal, the targets, the bounds every request respects.

use std::collections::BTreeSet;
use std::fmt;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::ids::{
    AccountId, BundleName, GroupName, InvalidInput, Justification, PermissionSetName, TicketId,
    UserName,
};

/// Who gets the access.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Principal {
    User(UserName),
    Group(GroupName),
}

impl Principal {
    pub fn user(&self) -> Option<&UserName> {
        match self {
            Self::User(u) => Some(u),
            Self::Group(_) => None,
        }
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::User(u) => write!(f, "{u}"),
            Self::Group(g) => write!(f, "group {g}"),
        }
    }
}

/// One (account, permission set) pair asked for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Target {
    pub account: AccountId,
    pub permission_set: PermissionSetName,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} in {}", self.permission_set, self.account)
    }
}

/// What someone asks for. Built from untrusted input with [`TicketRequest::validate`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketRequest {
    pub ticket_id: TicketId,
    /// Who asked (the authenticated caller).
    pub requester: UserName,
    /// Who gets the access: the requester, someone they may act for, or a group.
    pub principal: Principal,
    /// Explicit targets; may be empty when a bundle is named.
    #[serde(default)]
    pub targets: Vec<Target>,
    /// A named bundle of targets, expanded at evaluation.
    #[serde(default)]
    pub bundle: Option<BundleName>,
    /// How long access lasts once active (the clock starts at activation).
    pub duration: SignedDuration,
    pub justification: Justification,
    /// Start later; approval may happen before.
    #[serde(default)]
    pub start_at: Option<Timestamp>,
    /// Immediate access where the plan allows it, to be ratified afterwards.
    #[serde(default)]
    pub break_glass: bool,
}

/// Bounds every request must respect, whatever its plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// The shortest access a request may ask for (1 minute unless configured: benchmarks
    /// use seconds).
    #[serde(default = "Limits::default_min_duration")]
    pub min_duration: SignedDuration,
    pub max_duration: SignedDuration,
    /// No plan's approval may wait longer than this.
    pub max_approval_timeout: SignedDuration,
}

impl Limits {
    fn default_min_duration() -> SignedDuration {
        SignedDuration::from_mins(1)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            min_duration: Self::default_min_duration(),
            max_duration: SignedDuration::from_hours(12),
            max_approval_timeout: SignedDuration::from_hours(72),
        }
    }
}

/// Break-glass needs a real explanation.
pub const BREAK_GLASS_MIN_JUSTIFICATION: usize = 20;

impl TicketRequest {
    /// Checks what parsing the fields cannot: targets, durations, bounds.
    pub fn validate(&self, limits: &Limits) -> Result<(), InvalidInput> {
        if self.targets.is_empty() && self.bundle.is_none() {
            return Err(InvalidInput::new(
                "targets",
                "name at least one (account, permission set) or a bundle",
            ));
        }
        let mut seen = BTreeSet::new();
        for t in &self.targets {
            if !seen.insert(t) {
                return Err(InvalidInput::new("targets", format!("{t} is listed twice")));
            }
        }
        check_duration(
            "duration",
            self.duration,
            limits.min_duration,
            limits.max_duration,
        )?;
        if self.break_glass
            && self.justification.as_str().chars().count() < BREAK_GLASS_MIN_JUSTIFICATION
        {
            return Err(InvalidInput::new(
                "justification",
                format!(
                    "break-glass needs a justification of at least {BREAK_GLASS_MIN_JUSTIFICATION} characters"
                ),
            ));
        }
        Ok(())
    }
}

pub(crate) fn check_duration(
    field: &'static str,
    d: SignedDuration,
    min: SignedDuration,
    max: SignedDuration,
) -> Result<(), InvalidInput> {
    if d < min {
        let least = if min == SignedDuration::from_mins(1) {
            "1 minute".to_owned()
        } else {
            format!("{min:#}")
        };
        return Err(InvalidInput::new(
            field,
            format!("{d:#} is too short: at least {least}"),
        ));
    }
    if d > max {
        return Err(InvalidInput::new(
            field,
            format!("{d:#} is longer than the maximum of {max:#}"),
        ));
    }
    Ok(())
}
