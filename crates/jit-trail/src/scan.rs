//! A ticket's session audit over log files: each file read as a stream, each record tested
//! against the ticket's windows, the summary counted and every attributed record handed on
//! (its JSON as CloudTrail wrote it).
//!
//! Only records that name an Identity Center role (`AWSReservedSSO_`) can belong to a window:
//! every other record is passed over by a substring search, without being parsed. A candidate
//! that does not parse is counted in the summary (`unparsable_records`).

use std::io::Read;

use memchr::memmem;
use serde_json::value::RawValue;

use crate::read::{ReadError, each_raw};
use crate::record::Record;
use crate::summary::{Summary, count};
use crate::window::Window;

/// The windows of one ticket and what is notable, ready to test records.
#[derive(Debug)]
pub struct Scan<'a> {
    windows: &'a [Window],
    patterns: &'a [String],
    finder: memmem::Finder<'static>,
}

impl<'a> Scan<'a> {
    pub fn new(windows: &'a [Window], patterns: &'a [String]) -> Self {
        Self {
            windows,
            patterns,
            finder: memmem::Finder::new(b"AWSReservedSSO_").into_owned(),
        }
    }

    /// Reads one log file into `summary` (`files`, `events`, …), handing every attributed
    /// record to `attributed`. A file that cannot be read is an error naming the problem; the
    /// caller records it (`summary.unreadable`) and goes on.
    pub fn file(
        &self,
        input: impl Read,
        summary: &mut Summary,
        mut attributed: impl FnMut(&RawValue),
    ) -> Result<(), ReadError> {
        let mut unparsable = 0;
        each_raw(input, |raw| {
            if self.finder.find(raw.get().as_bytes()).is_none() {
                return;
            }
            let Ok(r) = serde_json::from_str::<Record>(raw.get()) else {
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
            {"eventName": 7, "userIdentity": {"arn": "…AWSReservedSSO_Dev_…"}},
        ]})
        .to_string();
        let windows = [window()];
        let patterns = vec!["iam:*".to_owned()];
        let scan = Scan::new(&windows, &patterns);
        let mut s = Summary::default();
        let mut out = Vec::new();
        scan.file(file.as_bytes(), &mut s, |raw| {
            out.push(raw.get().to_owned())
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
