//! A ticket's session audit over log files: each file read as a stream, each record tested
//! against the ticket's windows, the summary counted and every attributed record handed on
//! (its JSON as CloudTrail wrote it).
//!
//! Only records that name one of the windows' Identity Center roles (`AWSReservedSSO_<set>_`)
//! and one of their session names (any case) can belong to them: every other record is passed
//! over by a multi-pattern substring search, without being parsed. A candidate that does not
//! parse is counted in the summary (`unparsable_records`).

use std::io::Read;

use aho_corasick::AhoCorasick;

use crate::read::{ReadError, each_raw};
use crate::record::Record;
use crate::summary::{Summary, count};
use crate::window::Window;

/// The windows of one ticket and what is notable, ready to test records.
#[derive(Debug)]
pub struct Scan<'a> {
    windows: &'a [Window],
    patterns: &'a [String],
    roles: AhoCorasick,
    sessions: AhoCorasick,
}

impl<'a> Scan<'a> {
    pub fn new(windows: &'a [Window], patterns: &'a [String]) -> Self {
        let roles: Vec<String> = windows
            .iter()
            .map(|w| format!("AWSReservedSSO_{}_", w.permission_set))
            .collect();
        let sessions: Vec<&str> = windows
            .iter()
            .flat_map(|w| w.session_names.iter().map(String::as_str))
            .collect();
        Self {
            windows,
            patterns,
            // Patterns this simple always build; an empty set matches nothing.
            roles: AhoCorasick::new(&roles).unwrap_or_else(|_| none()),
            sessions: AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build(&sessions)
                .unwrap_or_else(|_| none()),
        }
    }

    /// Whether a record's text could belong to a window (a role and a session of ours named).
    fn candidate(&self, text: &[u8]) -> bool {
        self.roles.is_match(text) && self.sessions.is_match(text)
    }

    /// Reads one log file into `summary` (`files`, `events`, …), handing every attributed
    /// record to `attributed`. A file that cannot be read is an error naming the problem; the
    /// caller records it (`summary.unreadable`) and goes on.
    pub fn file(
        &self,
        input: impl Read,
        summary: &mut Summary,
        mut attributed: impl FnMut(&[u8]),
    ) -> Result<(), ReadError> {
        let mut unparsable = 0;
        each_raw(input, |raw| {
            if !self.candidate(raw) {
                return;
            }
            let Ok(r) = serde_json::from_slice::<Record>(raw) else {
                unparsable += 1;
                return;
            };
            if self.windows.iter().any(|w| w.holds(&r)) {
                count(summary, &r, self.patterns);
                attributed(raw);
            }
        })?;
        summary.files += 1;
        summary.unparsable_records += unparsable;
        Ok(())
    }
}

/// A searcher that never matches.
fn none() -> AhoCorasick {
    AhoCorasick::new(["\u{0}never\u{0}"]).expect("a literal pattern")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window() -> Window {
        Window {
            account: "111111111111".into(),
            permission_set: "Dev".into(),
            session_names: vec!["bob".into()],
            from: "2026-12-04T10:00:00Z".parse().unwrap(),
            ended: "2026-12-04T11:00:00Z".parse().unwrap(),
            until: "2026-12-04T12:00:00Z".parse().unwrap(),
        }
    }

    fn rec(session: &str, name: &str) -> serde_json::Value {
        serde_json::json!({
            "eventTime": "2026-12-04T10:30:00Z", "eventSource": "iam.amazonaws.com",
            "eventName": name, "readOnly": false, "recipientAccountId": "111111111111",
            "userIdentity": {"type": "AssumedRole",
                "arn": format!("arn:aws:sts::111111111111:assumed-role/AWSReservedSSO_Dev_0123456789abcdef/{session}")},
        })
    }

    #[test]
    fn attributed_records_are_counted_and_handed_on_as_written_the_rest_passed_over() {
        let file = serde_json::json!({"Records": [
            rec("bob", "CreateUser"),
            rec("alice", "CreateUser"),
            {"eventName": "ListBuckets", "userIdentity": {"type": "IAMUser"}},
            {"eventName": 7, "userIdentity": {"arn": "…AWSReservedSSO_Dev_…/bob"}},
        ]})
        .to_string();
        let windows = [window()];
        let patterns = vec!["iam:*".to_owned()];
        let scan = Scan::new(&windows, &patterns);
        let mut s = Summary::default();
        let mut out = Vec::new();
        scan.file(file.as_bytes(), &mut s, |raw| {
            out.push(String::from_utf8(raw.to_vec()).unwrap())
        })
        .unwrap();
        assert_eq!(s.events, 1);
        assert_eq!(s.notable, ["iam:CreateUser"]);
        assert_eq!((s.files, s.unparsable_records), (1, 1));
        assert_eq!(out.len(), 1);
        let back: serde_json::Value = serde_json::from_str(&out[0]).unwrap();
        assert_eq!(
            back,
            rec("bob", "CreateUser"),
            "the record as CloudTrail wrote it"
        );
    }
}
