//! A ticket target's access window, and which records belong to it.

use jiff::Timestamp;

use crate::record::Record;

/// One target of a ticket, as CloudTrail sees its use: the account, the permission set (its
/// role in the account is `AWSReservedSSO_<set>_<16 hex digits>`), the principal's role
/// session names (Identity Center uses the user name or e-mail; each member's for a group
/// ticket), and the access: from activation to its end; a session issued then may be used
/// until `until` (the end plus the longest session duration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub account: String,
    pub permission_set: String,
    pub session_names: Vec<String>,
    pub from: Timestamp,
    /// When the access ended (sessions issued after it belong to no part of this ticket).
    pub ended: Timestamp,
    pub until: Timestamp,
}

/// Whether `role` is the Identity Center role of `permission_set`: the prefix, then exactly
/// the 16 hex digits Identity Center appends (so `Dev` is not `Dev_Admin`).
pub fn is_role_of(role: &str, permission_set: &str) -> bool {
    role.strip_prefix("AWSReservedSSO_")
        .and_then(|r| r.strip_prefix(permission_set))
        .and_then(|r| r.strip_prefix('_'))
        .is_some_and(|h| h.len() == 16 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

impl Window {
    /// Whether `r` was made by this target's principal, as this permission set, in this
    /// account, in a session issued while the access lasted (a record that does not say when
    /// its session was issued: made while the access lasted), and within the window.
    pub fn holds(&self, r: &Record) -> bool {
        let (Some(actor), Some(at)) = (r.actor(), r.time()) else {
            return false;
        };
        let issued_in_access = match r.session_issued() {
            Some(issued) => self.from <= issued && issued <= self.ended,
            None => self.from <= at && at <= self.ended,
        };
        actor.account == self.account
            && is_role_of(actor.role, &self.permission_set)
            && self
                .session_names
                .iter()
                .any(|s| s.eq_ignore_ascii_case(actor.session))
            && issued_in_access
            && self.from <= at
            && at <= self.until
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(account: &str, role: &str, session: &str, at: &str) -> Record {
        issued(account, role, session, at, "2026-12-04T10:30:00Z")
    }

    fn issued(account: &str, role: &str, session: &str, at: &str, issued: &str) -> Record {
        serde_json::from_value(serde_json::json!({
            "eventTime": at, "eventSource": "s3.amazonaws.com", "eventName": "GetObject",
            "recipientAccountId": account,
            "userIdentity": {"type": "AssumedRole",
                "arn": format!("arn:aws:sts::{account}:assumed-role/{role}/{session}"),
                "sessionContext": {"attributes": {"creationDate": issued}}},
        }))
        .unwrap()
    }

    #[test]
    fn only_the_principal_as_the_permission_set_in_the_account_within_the_window() {
        let w = Window {
            account: "111111111111".into(),
            permission_set: "Dev".into(),
            session_names: vec!["bob".into(), "bob@example.com".into()],
            from: "2026-12-04T10:00:00Z".parse().unwrap(),
            ended: "2026-12-04T11:00:00Z".parse().unwrap(),
            until: "2026-12-04T12:00:00Z".parse().unwrap(),
        };
        let role = "AWSReservedSSO_Dev_0123456789abcdef";
        let at = "2026-12-04T11:00:00Z";
        assert!(w.holds(&record("111111111111", role, "Bob@Example.com", at)));
        // Decoys: someone else, another permission set, another account, another time.
        assert!(!w.holds(&record("111111111111", role, "alice@example.com", at)));
        assert!(!w.holds(&record(
            "111111111111",
            "AWSReservedSSO_Dev_Admin_0123456789abcdef",
            "bob",
            at
        )));
        assert!(!w.holds(&record("222222222222", role, "bob", at)));
        assert!(!w.holds(&record("111111111111", role, "bob", "2026-12-04T09:59:59Z")));
        assert!(!w.holds(&record("111111111111", role, "bob", "2026-12-04T12:00:01Z")));
        assert!(!w.holds(&record("111111111111", "AWSReservedSSO_Dev_xyz", "bob", at)));
        // A session issued during the access, used after it ended (until `until`): held. One
        // issued after the access ended (a later grant) is not this ticket's.
        assert!(w.holds(&record("111111111111", role, "bob", "2026-12-04T11:30:00Z")));
        assert!(!w.holds(&issued(
            "111111111111",
            role,
            "bob",
            "2026-12-04T11:40:00Z",
            "2026-12-04T11:35:00Z"
        )));
    }
}
