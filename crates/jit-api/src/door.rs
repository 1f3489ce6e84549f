//! The door: every field of every request is checked here, before anything reaches Temporal.
//!
//! The rules are AWS's service models' (the identity store's user and group names, SSO
//! admin's permission-set names, the organization's account ids) and the protobuf
//! well-known types' (a `Duration`'s and a `Timestamp`'s ranges). A refusal is
//! INVALID_ARGUMENT whose message starts with the field's path (`targets[0].account_id: …`),
//! says the rule, and quotes at most a short prefix of the value ([`jit_domain::quoted`]).
//!
//! The domain's parsers stay the inner line: what passes here also parses there. Rules
//! stricter than the domain's live here, not in `jit-domain`, because the domain's parsers
//! also read histories written by older versions, which must keep replaying.

use std::sync::LazyLock;

use jiff::{SignedDuration, Timestamp};
use jit_domain::{GroupName, Justification, UserName, quoted};
use regex::Regex;
use tonic::Status;

/// The longest free text (a comment or a reason) we take, in characters.
pub const MAX_NOTE_CHARS: usize = 1000;

/// How far in the past a `start_time` may lie and still mean "now" (clocks differ).
pub const START_SKEW: SignedDuration = SignedDuration::from_mins(5);

/// How far ahead access may be scheduled or a delegation may last.
pub const MAX_AHEAD: SignedDuration = SignedDuration::from_hours(90 * 24);

/// A character outside the identity store's name classes: letters, marks, symbols, numbers
/// and punctuation (`[\p{L}\p{M}\p{S}\p{N}\p{P}]`, botocore's `UserName` pattern).
static NOT_NAME_CHAR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[^\p{L}\p{M}\p{S}\p{N}\p{P}]").expect("a valid class"));

/// The same for group names, which may also hold spaces.
static NOT_GROUP_CHAR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[^\p{L}\p{M}\p{S}\p{N}\p{P} ]").expect("a valid class"));

/// A character that prints nothing, reorders text or breaks lines (controls but the newline,
/// format characters such as bidi overrides and TAG characters — the emoji joiner U+200D
/// aside —, line and paragraph separators, private use).
static HIDDEN_CHAR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Co}]&&[^\n\x{200D}]]").expect("a valid class")
});

fn bad(field: &str, problem: impl std::fmt::Display) -> Status {
    invalid(field, problem)
}

/// INVALID_ARGUMENT naming `field` (message and field violation).
pub fn invalid(field: &str, problem: impl std::fmt::Display) -> Status {
    crate::service::errors::invalid_argument(format!("{field}: {problem}"))
}

/// `c` as a message names it: escaped, with its code point.
fn describe(c: char) -> String {
    format!("{c:?} (U+{:04X})", u32::from(c))
}

/// The first character of `s` that `class` matches.
fn first(class: &Regex, s: &str) -> Option<char> {
    class.find(s).and_then(|m| m.as_str().chars().next())
}

/// Refuses a name holding a character outside `class` (`what` says what the name may hold)
/// or one of the policy's wildcards.
fn name_chars(field: &str, s: &str, class: &Regex, what: &str) -> Result<(), Status> {
    if let Some(c) = first(class, s) {
        return Err(bad(
            field,
            format!("{} contains {}; {what}", quoted(s), describe(c)),
        ));
    }
    if let Some(c) = s.chars().find(|c| matches!(c, '*' | '?')) {
        return Err(bad(
            field,
            format!("{} contains the wildcard {c:?}", quoted(s)),
        ));
    }
    Ok(())
}

/// Refuses free text holding a hidden character.
fn no_hidden(field: &str, s: &str) -> Result<(), Status> {
    match first(&HIDDEN_CHAR, s) {
        Some(c) => Err(bad(
            field,
            format!(
                "contains {}, which hides, reorders or breaks text; write plain text",
                describe(c)
            ),
        )),
        None => Ok(()),
    }
}

/// A user name: 1 to 128 characters of the identity store's classes, without the policy's
/// wildcards `*` and `?` (a user named `*` would read as "anyone" in a rule).
pub fn user(field: &str, s: &str) -> Result<UserName, Status> {
    let n = s.chars().count();
    if n == 0 || n > 128 {
        return Err(bad(
            field,
            format!("a user name is 1 to 128 characters, not {n}"),
        ));
    }
    name_chars(
        field,
        s,
        &NOT_NAME_CHAR,
        "a user name is letters, marks, symbols, numbers and punctuation",
    )?;
    UserName::parse(s).map_err(|e| bad(field, e.problem))
}

/// A group's display name: 1 to 128 characters of the identity store's classes and inner
/// spaces, without the policy's wildcards.
pub fn group(field: &str, s: &str) -> Result<GroupName, Status> {
    let n = s.chars().count();
    if n == 0 || n > 128 || s.trim() != s {
        return Err(bad(
            field,
            format!(
                "{} must be 1 to 128 characters without leading or trailing spaces",
                quoted(s)
            ),
        ));
    }
    name_chars(
        field,
        s,
        &NOT_GROUP_CHAR,
        "a group name is letters, marks, symbols, numbers, punctuation and spaces",
    )?;
    GroupName::parse(s).map_err(|e| bad(field, e.problem))
}

/// A justification: the domain's length rule, and no hidden characters (a right-to-left
/// override or TAG characters could show an approver other words than were sent).
pub fn justification(s: &str) -> Result<Justification, Status> {
    no_hidden("justification", s)?;
    Justification::parse(s).map_err(|e| bad("justification", e.problem))
}

/// Optional free text (a vote's comment, a reason): at most [`MAX_NOTE_CHARS`], no hidden
/// characters; empty is none.
pub fn note(field: &str, s: &str) -> Result<Option<String>, Status> {
    let t = s.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let n = t.chars().count();
    if n > MAX_NOTE_CHARS {
        return Err(bad(
            field,
            format!("at most {MAX_NOTE_CHARS} characters, not {n}"),
        ));
    }
    no_hidden(field, t)?;
    Ok(Some(t.to_owned()))
}

/// A `google.protobuf.Duration` as its definition allows it: seconds within ±10,000 years,
/// nanos within ±999,999,999 and of the seconds' sign. Never normalised: a value outside is
/// refused, so what was meant is never guessed.
pub fn duration(field: &str, d: &prost_types::Duration) -> Result<SignedDuration, Status> {
    const MAX_SECONDS: i64 = 315_576_000_000;
    if !(-MAX_SECONDS..=MAX_SECONDS).contains(&d.seconds) {
        return Err(bad(
            field,
            format!("seconds {} is outside ±{MAX_SECONDS}", d.seconds),
        ));
    }
    if !(-999_999_999..=999_999_999).contains(&d.nanos) {
        return Err(bad(
            field,
            format!("nanos {} is outside ±999,999,999", d.nanos),
        ));
    }
    if (d.seconds > 0 && d.nanos < 0) || (d.seconds < 0 && d.nanos > 0) {
        return Err(bad(
            field,
            format!(
                "seconds {} and nanos {} have different signs",
                d.seconds, d.nanos
            ),
        ));
    }
    Ok(SignedDuration::new(d.seconds, d.nanos))
}

/// A `google.protobuf.Timestamp` as its definition allows it: 0001-01-01 to 9999-12-31,
/// nanos 0 to 999,999,999.
pub fn timestamp(field: &str, t: &prost_types::Timestamp) -> Result<Timestamp, Status> {
    const MIN: i64 = -62_135_596_800;
    const MAX: i64 = 253_402_300_799;
    if !(MIN..=MAX).contains(&t.seconds) {
        return Err(bad(
            field,
            format!("seconds {} is outside 0001-01-01..9999-12-31", t.seconds),
        ));
    }
    if !(0..=999_999_999).contains(&t.nanos) {
        return Err(bad(
            field,
            format!("nanos {} is outside 0..999,999,999", t.nanos),
        ));
    }
    Timestamp::new(t.seconds, t.nanos).map_err(|e| bad(field, e))
}

/// A time to start access: not before now (give or take [`START_SKEW`]; leave it out to
/// start now), at most [`MAX_AHEAD`] ahead.
pub fn start_at(t: &prost_types::Timestamp, now: Timestamp) -> Result<Timestamp, Status> {
    let at = timestamp("start_time", t)?;
    if at < now - START_SKEW {
        return Err(bad(
            "start_time",
            format!("{at} is in the past; leave start_time out to start now"),
        ));
    }
    if at > now + MAX_AHEAD {
        return Err(bad(
            "start_time",
            format!("{at} is more than {MAX_AHEAD:#} ahead"),
        ));
    }
    Ok(at)
}

/// The end of a delegation (`field`): in the future, at most [`MAX_AHEAD`] ahead.
pub fn until(
    field: &str,
    t: Option<&prost_types::Timestamp>,
    now: Timestamp,
) -> Result<Timestamp, Status> {
    let Some(t) = t else {
        return Err(bad(field, "missing: say until when the delegation holds"));
    };
    let at = timestamp(field, t)?;
    if at <= now {
        return Err(bad(field, format!("{at} is not in the future")));
    }
    if at > now + MAX_AHEAD {
        return Err(bad(field, format!("{at} is more than {MAX_AHEAD:#} ahead")));
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use tonic::Code;

    use super::*;

    fn message(r: Result<impl std::fmt::Debug, Status>) -> String {
        let s = r.unwrap_err();
        assert_eq!(s.code(), Code::InvalidArgument, "{s:?}");
        s.message().to_owned()
    }

    #[test]
    fn user_names_follow_the_identity_store() {
        for ok in ["alice", "alice@example.com", "zoë", "o'brien", "a.b-c_d+e"] {
            assert!(user("u", ok).is_ok(), "{ok:?}");
        }
        for no in [
            "",
            "a b",
            "*",
            "al?ce",
            "a\u{0}b",
            "a\u{E0041}",
            "a\u{202E}b",
            "a\u{200B}b",
            "a\u{2028}b",
            "a\u{E000}b",
        ] {
            assert!(message(user("principal.user", no)).starts_with("principal.user: "));
        }
        assert!(message(user("u", &"x".repeat(129))).contains("not 129"));
    }

    #[test]
    fn group_names_allow_inner_spaces_only() {
        assert!(group("g", "Site Reliability").is_ok());
        for no in [" sre", "sre ", "s\tre", "s\u{E0041}re", "a*", ""] {
            assert!(message(group("principal.group", no)).starts_with("principal.group: "));
        }
    }

    #[test]
    fn free_text_refuses_what_hides_or_reorders() {
        assert!(justification("deploying the fix for INC-1234 👨‍👩‍👧").is_ok());
        assert!(justification("line one\nline two, and more").is_ok());
        for c in [
            '\u{202E}',
            '\u{2066}',
            '\u{E0041}',
            '\u{2028}',
            '\u{200B}',
            '\u{0}',
        ] {
            let m = message(justification(&format!("deploying the {c} fix now")));
            assert!(m.starts_with("justification: contains"), "{m}");
            assert!(m.contains(&format!("U+{:04X}", u32::from(c))), "{m}");
        }
        assert_eq!(note("comment", "  ").unwrap(), None);
        assert!(message(note("comment", &"x".repeat(1001))).starts_with("comment: at most"));
        assert!(message(note("reason", "a\u{202E}b")).starts_with("reason: contains"));
    }

    #[test]
    fn durations_are_never_normalised_and_never_panic() {
        let d = |seconds, nanos| prost_types::Duration { seconds, nanos };
        assert_eq!(
            duration("duration", &d(3600, 0)).unwrap(),
            SignedDuration::from_hours(1)
        );
        for (s, n) in [
            (i64::MAX, 1_500_000_000),
            (i64::MIN, -1_500_000_000),
            (i64::MAX, 0),
            (60, 1_000_000_000),
            (60, -1),
            (-60, 1),
            (0, i32::MAX),
        ] {
            assert!(message(duration("duration", &d(s, n))).starts_with("duration: "));
        }
    }

    #[test]
    fn timestamps_stay_in_range_and_start_times_are_not_past() {
        let now = Timestamp::new(1_800_000_000, 0).unwrap();
        let t = |seconds, nanos| prost_types::Timestamp { seconds, nanos };
        for (s, n) in [(i64::MAX, 0), (i64::MIN, 0), (0, -1), (0, 1_000_000_000)] {
            assert!(message(timestamp("start_at", &t(s, n))).starts_with("start_at: "));
        }
        assert!(message(start_at(&t(0, 0), now)).contains("in the past"));
        assert!(start_at(&t(1_800_000_000 - 60, 0), now).is_ok());
        assert!(start_at(&t(1_800_000_000 + 3600, 0), now).is_ok());
        assert!(message(start_at(&t(1_800_000_000 + 100 * 86_400, 0), now)).contains("ahead"));
        assert!(message(until("expire_time", None, now)).starts_with("expire_time: missing"));
        assert!(
            message(until("expire_time", Some(&t(1_700_000_000, 0)), now))
                .contains("not in the future")
        );
    }
}
