//! What a ticket's principal did with its access, read from CloudTrail afterwards (session
//! audit): the [`SessionSummary`] a ticket keeps and its audit record carries.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// One cut-off: the sessions named `sessions` of `permission_set`'s role in `account`,
/// issued before `before`, are denied until `until` (when the longest of them has expired).
/// `jit_trail::cutoff` writes it as a service control policy statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cutoff {
    pub account: String,
    pub permission_set: String,
    pub sessions: Vec<String>,
    pub before: Timestamp,
    pub until: Timestamp,
}

/// The session summary. What could not be read is said, never hidden.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionSummary {
    pub events: u64,
    /// Events by service (`s3`, `ec2`, ...).
    pub by_service: BTreeMap<String, u64>,
    pub reads: u64,
    pub writes: u64,
    pub denied: u64,
    pub console_sign_ins: u64,
    /// `service:Action` of the notable events, in order, each once.
    pub notable: Vec<String>,
    pub first: Option<String>,
    pub last: Option<String>,
    /// Files that could not be read, with why (`key: problem`).
    pub unreadable: Vec<String>,
    /// Records that did not parse, over every file.
    pub unparsable_records: u64,
    /// The window read (from activation to the end plus the longest session).
    #[serde(default)]
    pub from: Option<Timestamp>,
    #[serde(default)]
    pub until: Option<Timestamp>,
    /// Log files read.
    #[serde(default)]
    pub files: u64,
    /// Where the full list of attributed events went (`s3://bucket/key`, JSON lines).
    #[serde(default)]
    pub events_at: Option<String>,
}

impl SessionSummary {
    /// One line for people: `42 events (s3 30, ec2 12), 3 writes, 1 denied, 1 console
    /// sign-in; notable: iam:CreateUser; 1 file unreadable: ...`.
    pub fn line(&self) -> String {
        let services: Vec<String> = self
            .by_service
            .iter()
            .map(|(s, n)| format!("{s} {n}"))
            .collect();
        let mut out = format!("{} events", self.events);
        if !services.is_empty() {
            out.push_str(&format!(" ({})", services.join(", ")));
        }
        out.push_str(&format!(
            ", {} writes, {} denied, {} console sign-ins",
            self.writes, self.denied, self.console_sign_ins
        ));
        if !self.notable.is_empty() {
            out.push_str(&format!("; notable: {}", self.notable.join(", ")));
        }
        if !self.unreadable.is_empty() {
            out.push_str(&format!(
                "; {} file{} unreadable: {}",
                self.unreadable.len(),
                if self.unreadable.len() == 1 { "" } else { "s" },
                self.unreadable.join("; ")
            ));
        }
        if self.unparsable_records > 0 {
            out.push_str(&format!(
                "; {} records did not parse",
                self.unparsable_records
            ));
        }
        out
    }
}
