//! The session summary of a ticket: what its principal did with the access.

use crate::record::Record;

/// The session summary, built record by record with [`count`].
pub use jit_domain::SessionSummary as Summary;

/// Whether `service:action` matches one of `patterns` (`iam:*`, `*:Delete*`; `*` is any run
/// of characters).
pub fn notable(patterns: &[String], service: &str, action: &str) -> bool {
    let event = format!("{service}:{action}");
    patterns.iter().any(|p| glob(p, &event))
}

fn glob(pattern: &str, s: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == s,
        Some((head, rest)) => {
            let Some(s) = s.strip_prefix(head) else {
                return false;
            };
            if rest.is_empty() {
                return true;
            }
            (0..=s.len()).any(|i| s.is_char_boundary(i) && glob(rest, &s[i..]))
        }
    }
}

/// Counts `r` (a record attributed to the ticket) into `s`, with `patterns` for notable
/// actions.
pub fn count(s: &mut Summary, r: &Record, patterns: &[String]) {
    s.events += 1;
    let service = r.service().to_owned();
    let action = r.event_name.as_deref().unwrap_or("unknown");
    if notable(patterns, &service, action) {
        let n = format!("{service}:{action}");
        if !s.notable.contains(&n) {
            s.notable.push(n);
        }
    }
    *s.by_service.entry(service).or_default() += 1;
    match r.read_only {
        Some(true) => s.reads += 1,
        Some(false) => s.writes += 1,
        None => {}
    }
    if r.denied() {
        s.denied += 1;
    }
    if r.is_console_sign_in() {
        s.console_sign_ins += 1;
    }
    if let Some(t) = &r.event_time {
        if s.first.as_ref().is_none_or(|f| t < f) {
            s.first = Some(t.clone());
        }
        if s.last.as_ref().is_none_or(|l| t > l) {
            s.last = Some(t.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(source: &str, name: &str, ro: Option<bool>, err: Option<&str>, at: &str) -> Record {
        serde_json::from_value(serde_json::json!({
            "eventSource": source, "eventName": name, "readOnly": ro, "errorCode": err,
            "eventTime": at,
        }))
        .unwrap()
    }

    #[test]
    fn the_summary_counts_and_names_what_matters() {
        let patterns = vec!["iam:*".to_owned(), "*:Delete*".to_owned()];
        let mut s = Summary::default();
        for rec in [
            r(
                "s3.amazonaws.com",
                "GetObject",
                Some(true),
                None,
                "2026-12-04T10:05:00Z",
            ),
            r(
                "s3.amazonaws.com",
                "DeleteBucket",
                Some(false),
                Some("AccessDenied"),
                "2026-12-04T10:01:00Z",
            ),
            r(
                "iam.amazonaws.com",
                "CreateUser",
                Some(false),
                None,
                "2026-12-04T10:09:00Z",
            ),
            r(
                "signin.amazonaws.com",
                "ConsoleLogin",
                None,
                None,
                "2026-12-04T10:00:00Z",
            ),
            r(
                "iam.amazonaws.com",
                "CreateUser",
                Some(false),
                None,
                "2026-12-04T10:10:00Z",
            ),
        ] {
            count(&mut s, &rec, &patterns);
        }
        s.unreadable
            .push("AWSLogs/o/1/CloudTrail/us-east-1/2026/12/04/x.json.gz: truncated".into());
        assert_eq!(s.events, 5);
        assert_eq!(
            (s.reads, s.writes, s.denied, s.console_sign_ins),
            (1, 3, 1, 1)
        );
        assert_eq!(s.notable, ["s3:DeleteBucket", "iam:CreateUser"]);
        assert_eq!(s.first.as_deref(), Some("2026-12-04T10:00:00Z"));
        assert_eq!(s.last.as_deref(), Some("2026-12-04T10:10:00Z"));
        assert_eq!(
            s.line(),
            "5 events (iam 2, s3 2, signin 1), 3 writes, 1 denied, 1 console sign-ins; \
             notable: s3:DeleteBucket, iam:CreateUser; 1 file unreadable: \
             AWSLogs/o/1/CloudTrail/us-east-1/2026/12/04/x.json.gz: truncated"
        );
    }

    #[test]
    fn patterns_are_globs_over_service_and_action() {
        let p = |s: &str| vec![s.to_owned()];
        assert!(notable(&p("kms:*"), "kms", "ScheduleKeyDeletion"));
        assert!(notable(&p("*:Delete*"), "ec2", "DeleteVpc"));
        assert!(!notable(&p("*:Delete*"), "ec2", "DescribeVpcs"));
        assert!(notable(
            &p("organizations:LeaveOrganization"),
            "organizations",
            "LeaveOrganization"
        ));
        assert!(!notable(&p("iam:*"), "sts", "GetCallerIdentity"));
    }
}
