//! Validated identifiers and text.
//!
//! What people type is validated strictly here, with AWS's own rules (botocore's service
//! models) anchored to the whole value and restricted to ASCII classes where AWS means ASCII.
//! Identifiers that AWS *returns* (ARNs, identity-store ids) are opaque: the sandbox shapes them
//! differently from AWS, and neither shape is ours to judge.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a value was refused. The message names the field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct InvalidInput {
    /// The field that was refused, e.g. `account`.
    pub field: &'static str,
    /// What is wrong with it, in words a person can act on.
    pub problem: String,
}

impl InvalidInput {
    pub fn new(field: &'static str, problem: impl Into<String>) -> Self {
        Self {
            field,
            problem: problem.into(),
        }
    }
}

/// At most this many characters of an offending value are quoted back in a message.
pub const QUOTED_CHARS: usize = 40;

/// `s` as a message quotes it: escaped like `{:?}` (control and invisible characters show as
/// `\u{…}`), and cut to its first [`QUOTED_CHARS`] characters with its length when longer, so
/// a 100,000-character value cannot become a 100 KB error.
pub fn quoted(s: &str) -> String {
    let n = s.chars().count();
    if n <= QUOTED_CHARS {
        format!("{s:?}")
    } else {
        let head: String = s.chars().take(QUOTED_CHARS).collect();
        format!("{head:?}… ({n} characters)")
    }
}

macro_rules! string_newtype {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        // Deserialising validates too: a payload edited by hand or written by an older
        // version cannot smuggle an invalid value past the parser.
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }

        impl std::str::FromStr for $name {
            type Err = InvalidInput;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
    };
}

string_newtype!(
    /// An AWS account id: exactly twelve ASCII digits.
    AccountId
);

impl AccountId {
    pub fn parse(s: &str) -> Result<Self, InvalidInput> {
        if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidInput::new(
                "account",
                format!(
                    "{} is not an AWS account id (exactly 12 digits 0-9)",
                    quoted(s)
                ),
            ))
        }
    }
}

string_newtype!(
    /// A permission set's name as people know it: 1–32 of `[A-Za-z0-9_+=,.@-]`.
    PermissionSetName
);

impl PermissionSetName {
    pub fn parse(s: &str) -> Result<Self, InvalidInput> {
        let ok_char = |c: char| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c);
        let n = s.chars().count();
        if n == 0 || n > 32 {
            return Err(InvalidInput::new(
                "permission_set",
                format!("{} must be 1 to 32 characters long, not {n}", quoted(s)),
            ));
        }
        if let Some(bad) = s.chars().find(|c| !ok_char(*c)) {
            return Err(InvalidInput::new(
                "permission_set",
                format!(
                    "{} contains {bad:?}; allowed are A-Z a-z 0-9 and _+=,.@-",
                    quoted(s)
                ),
            ));
        }
        Ok(Self(s.to_owned()))
    }
}

string_newtype!(
    /// An identity-store user name: 1–128 visible characters, no spaces.
    UserName
);

/// True for characters that print nothing or break lines: never part of a name.
fn is_invisible(c: char) -> bool {
    c.is_control()
        || c.is_whitespace()
        || matches!(
            c,
            '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}'
        )
}

impl UserName {
    pub fn parse(s: &str) -> Result<Self, InvalidInput> {
        Self::parse_field("user", s)
    }

    /// Like [`UserName::parse`], naming `field` in the error (e.g. `principal`, `approver`).
    pub fn parse_field(field: &'static str, s: &str) -> Result<Self, InvalidInput> {
        let n = s.chars().count();
        if n == 0 || n > 128 {
            return Err(InvalidInput::new(
                field,
                format!("a user name must be 1 to 128 characters long, not {n}"),
            ));
        }
        if let Some(bad) = s.chars().find(|c| is_invisible(*c)) {
            return Err(InvalidInput::new(
                field,
                format!(
                    "{} contains {bad:?}; user names have no spaces or invisible characters",
                    quoted(s)
                ),
            ));
        }
        Ok(Self(s.to_owned()))
    }
}

string_newtype!(
    /// An identity-store group's display name: 1–128 characters, no control or invisible
    /// characters, no leading or trailing space.
    GroupName
);

impl GroupName {
    pub fn parse(s: &str) -> Result<Self, InvalidInput> {
        let n = s.chars().count();
        if n == 0 || n > 128 || s.trim() != s {
            return Err(InvalidInput::new(
                "group",
                format!(
                    "{} must be 1 to 128 characters without leading or trailing spaces",
                    quoted(s)
                ),
            ));
        }
        if let Some(bad) = s.chars().find(|c| *c != ' ' && is_invisible(*c)) {
            return Err(InvalidInput::new(
                "group",
                format!("{} contains the invisible character {bad:?}", quoted(s)),
            ));
        }
        Ok(Self(s.to_owned()))
    }
}

string_newtype!(
    /// A bundle's name: 1–64 of `[a-z0-9_-]`.
    BundleName
);

impl BundleName {
    pub fn parse(s: &str) -> Result<Self, InvalidInput> {
        if !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidInput::new(
                "bundle",
                format!("{} must be 1 to 64 of a-z 0-9 - _", quoted(s)),
            ))
        }
    }
}

string_newtype!(
    /// Our ticket id: 1–64 of `[a-z0-9-]`, not starting or ending with `-`.
    /// The workflow id is `ticket-<id>`.
    TicketId
);

impl TicketId {
    pub fn parse(s: &str) -> Result<Self, InvalidInput> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidInput::new(
                "ticket_id",
                format!(
                    "{} must be 1 to 64 of a-z 0-9 and '-', not starting or ending with '-'",
                    quoted(s)
                ),
            ))
        }
    }

    /// The Temporal workflow id of this ticket.
    pub fn workflow_id(&self) -> String {
        format!("ticket-{}", self.0)
    }
}

string_newtype!(
    /// Why someone wants access: 10–1000 characters of text, no control characters but
    /// newlines. Shown to approvers and in the Temporal UI.
    Justification
);

impl Justification {
    pub const MIN_CHARS: usize = 10;
    pub const MAX_CHARS: usize = 1000;

    pub fn parse(s: &str) -> Result<Self, InvalidInput> {
        let t = s.trim();
        let n = t.chars().count();
        if !(Self::MIN_CHARS..=Self::MAX_CHARS).contains(&n) {
            return Err(InvalidInput::new(
                "justification",
                format!(
                    "must be {} to {} characters long (after trimming), not {n}",
                    Self::MIN_CHARS,
                    Self::MAX_CHARS
                ),
            ));
        }
        if let Some(bad) = t.chars().find(|c| c.is_control() && *c != '\n') {
            return Err(InvalidInput::new(
                "justification",
                format!("contains the control character {bad:?}"),
            ));
        }
        Ok(Self(t.to_owned()))
    }
}

macro_rules! opaque_id {
    ($(#[$m:meta])* $name:ident, $field:literal) => {
        string_newtype!($(#[$m])* $name);

        impl $name {
            /// Accepts any non-empty value without whitespace: AWS's shape is not ours to judge.
            pub fn parse(s: &str) -> Result<Self, InvalidInput> {
                if s.is_empty() || s.chars().any(char::is_whitespace) {
                    Err(InvalidInput::new($field, format!("{} is empty or contains whitespace", $crate::ids::quoted(s))))
                } else {
                    Ok(Self(s.to_owned()))
                }
            }
        }
    };
}

opaque_id!(
    /// The ARN of an IAM Identity Center instance, as AWS returns it.
    InstanceArn,
    "instance_arn"
);
opaque_id!(
    /// The ARN of a permission set, as AWS returns it.
    PermissionSetArn,
    "permission_set_arn"
);
opaque_id!(
    /// An identity-store principal id (user or group), as AWS returns it.
    PrincipalId,
    "principal_id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_quote_a_short_prefix_only() {
        let long = "1".repeat(100_000);
        let e = AccountId::parse(&long).unwrap_err();
        assert!(e.problem.len() < 200, "{} bytes", e.problem.len());
        assert!(e.problem.contains("(100000 characters)"), "{}", e.problem);
        // Invisible characters show escaped, never raw.
        let e = PermissionSetName::parse("Read\u{E0041}Only").unwrap_err();
        assert!(e.problem.contains("\\u{e0041}"), "{}", e.problem);
        assert_eq!(quoted("short"), "\"short\"");
    }

    #[test]
    fn account_ids_are_twelve_ascii_digits() {
        assert!(AccountId::parse("123456789012").is_ok());
        for bad in [
            "",
            "12345678901",
            "1234567890123",
            "12345678901a",
            " 123456789012",
            "١٢٣٤٥٦٧٨٩٠١٢", // Arabic-Indic digits
        ] {
            let e = AccountId::parse(bad).unwrap_err();
            assert_eq!(e.field, "account", "{bad:?}");
        }
    }

    #[test]
    fn permission_set_names_follow_aws() {
        assert!(PermissionSetName::parse("ReadOnly").is_ok());
        assert!(PermissionSetName::parse("a_b+c=d,e.f@g-h").is_ok());
        assert!(PermissionSetName::parse(&"x".repeat(32)).is_ok());
        assert!(PermissionSetName::parse(&"x".repeat(33)).is_err());
        assert!(PermissionSetName::parse("").is_err());
        let e = PermissionSetName::parse("Read Only").unwrap_err();
        assert!(e.to_string().contains("' '"), "{e}");
        assert!(PermissionSetName::parse("Admín").is_err());
    }

    #[test]
    fn user_names_refuse_spaces_and_invisible_characters() {
        assert!(UserName::parse("alice").is_ok());
        assert!(UserName::parse("alice@example.com").is_ok());
        assert!(UserName::parse("zoë").is_ok());
        for bad in ["", "al ice", "alice\n", "ali\u{200B}ce", "\u{FEFF}alice"] {
            assert!(UserName::parse(bad).is_err(), "{bad:?}");
        }
        assert!(
            UserName::parse(&"é".repeat(128)).is_ok(),
            "lengths count characters"
        );
        assert!(UserName::parse(&"é".repeat(129)).is_err());
        assert_eq!(
            UserName::parse_field("approver", "").unwrap_err().field,
            "approver"
        );
    }

    #[test]
    fn group_and_bundle_names() {
        assert!(GroupName::parse("Site Reliability").is_ok());
        assert!(GroupName::parse(" sre").is_err());
        assert!(GroupName::parse("s\u{200B}re").is_err());
        assert!(BundleName::parse("on-call_1").is_ok());
        assert!(BundleName::parse("OnCall").is_err());
    }

    #[test]
    fn ticket_ids_make_workflow_ids() {
        let id = TicketId::parse("t-42").unwrap();
        assert_eq!(id.workflow_id(), "ticket-t-42");
        for bad in ["", "-a", "a-", "A", "a_b", &"a".repeat(65)] {
            assert!(TicketId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn justifications_are_trimmed_and_bounded() {
        assert_eq!(
            Justification::parse("  fix prod incident 42  ")
                .unwrap()
                .as_str(),
            "fix prod incident 42"
        );
        assert!(Justification::parse("too short").is_err());
        assert!(Justification::parse("line one\nline two").is_ok());
        assert!(Justification::parse("bell \u{7} in the text").is_err());
    }

    #[test]
    fn deserialising_validates() {
        let ok: Result<AccountId, _> = serde_json::from_str("\"123456789012\"");
        assert!(ok.is_ok());
        let bad: Result<AccountId, _> = serde_json::from_str("\"12\"");
        assert!(bad.unwrap_err().to_string().contains("account"));
    }

    #[test]
    fn opaque_ids_accept_aws_and_sandbox_shapes() {
        assert!(PermissionSetArn::parse("arn:aws:sso:::permissionSet/ssoins-1/ps-2").is_ok());
        assert!(PermissionSetArn::parse("arn:aws:sso:::instance/ssoins-1/ps-2").is_ok());
        assert!(PrincipalId::parse("").is_err());
    }
}
