//! Why an action was refused: a [`RefusalKind`] that callers act on (the API maps it to a
//! status code) next to the human message shown as is. Rewording a message never changes
//! its kind.

use serde::{Deserialize, Serialize};

use crate::approval::{DelegationRejected, VoteRejected};

/// What kind of refusal it is: what the caller can do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RefusalKind {
    /// The ticket is not in a phase where this can happen (already ended, not waiting for
    /// approval, an extension already waiting). Nothing the caller changes makes it work now.
    WrongPhase,
    /// This person may not do this (the requester voting, a stranger revoking, a second vote).
    NotAllowed,
    /// A value in the request is unacceptable (too short, in the past).
    BadValue,
    /// Something named does not exist.
    NotFound,
    /// The decision needs something that did not answer (the directory); trying again may work.
    Unavailable,
}

impl RefusalKind {
    /// Every kind.
    pub const ALL: [RefusalKind; 5] = [
        Self::WrongPhase,
        Self::NotAllowed,
        Self::BadValue,
        Self::NotFound,
        Self::Unavailable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::WrongPhase => "WrongPhase",
            Self::NotAllowed => "NotAllowed",
            Self::BadValue => "BadValue",
            Self::NotFound => "NotFound",
            Self::Unavailable => "Unavailable",
        }
    }

    /// The kind whose [`RefusalKind::as_str`] is `s`.
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Why an action (vote, extend, end, delegate) was refused. Shown to the caller as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not allowed: {message}")]
pub struct Refused {
    pub kind: RefusalKind,
    pub message: String,
}

impl Refused {
    pub fn new(kind: RefusalKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub fn wrong_phase(message: impl Into<String>) -> Self {
        Self::new(RefusalKind::WrongPhase, message)
    }

    pub fn not_allowed(message: impl Into<String>) -> Self {
        Self::new(RefusalKind::NotAllowed, message)
    }

    pub fn bad_value(message: impl Into<String>) -> Self {
        Self::new(RefusalKind::BadValue, message)
    }
}

/// The text of a rejection without its `not allowed: ` prefix (the [`Refused`] display adds
/// it back).
fn bare(e: &impl std::fmt::Display) -> String {
    e.to_string().trim_start_matches("not allowed: ").to_owned()
}

impl VoteRejected {
    pub fn kind(&self) -> RefusalKind {
        match self {
            Self::NotPending(_) => RefusalKind::WrongPhase,
            Self::Requester(_)
            | Self::Principal(_)
            | Self::AlreadyVoted { .. }
            | Self::NotEligible { .. } => RefusalKind::NotAllowed,
        }
    }
}

impl DelegationRejected {
    pub fn kind(&self) -> RefusalKind {
        match self {
            Self::Closed => RefusalKind::WrongPhase,
            Self::Expired => RefusalKind::BadValue,
            Self::ToSelf(_)
            | Self::ToParty { .. }
            | Self::NotAnApprover(_)
            | Self::Cycle { .. } => RefusalKind::NotAllowed,
        }
    }
}

impl From<VoteRejected> for Refused {
    fn from(e: VoteRejected) -> Self {
        Self::new(e.kind(), bare(&e))
    }
}

impl From<DelegationRejected> for Refused {
    fn from(e: DelegationRejected) -> Self {
        Self::new(e.kind(), bare(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::UserName;

    #[test]
    fn kinds_are_found_by_name() {
        for k in RefusalKind::ALL {
            assert_eq!(RefusalKind::from_name(k.as_str()), Some(k));
        }
        assert_eq!(RefusalKind::from_name("Nope"), None);
    }

    #[test]
    fn rejections_keep_their_words_and_gain_a_kind() {
        let u = UserName::parse("bob").unwrap();
        let r = Refused::from(VoteRejected::Requester(u.clone()));
        assert_eq!(r.kind, RefusalKind::NotAllowed);
        assert_eq!(
            r.to_string(),
            VoteRejected::Requester(u.clone()).to_string()
        );
        let r = Refused::from(VoteRejected::NotPending("Active".into()));
        assert_eq!(r.kind, RefusalKind::WrongPhase);
        assert_eq!(
            r.to_string(),
            "not allowed: the ticket is Active, not waiting for approval"
        );
        assert_eq!(
            Refused::from(DelegationRejected::Expired).kind,
            RefusalKind::BadValue
        );
        assert_eq!(
            Refused::from(DelegationRejected::ToSelf(u)).kind,
            RefusalKind::NotAllowed
        );
    }
}
