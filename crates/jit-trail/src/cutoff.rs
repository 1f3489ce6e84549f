//! Cutting off sessions that outlive their access: a service control policy statement that
//! denies everything to one principal's sessions of one permission set's role in one account,
//! if the session was issued before the access ended (`aws:TokenIssueTime`). AWS documents
//! this way of revoking a role's sessions; an SCP reaches Identity Center's roles, which jit
//! cannot edit.
//!
//! The statement names exactly: the account (the policy is attached to that account only),
//! the permission set's role (`AWSReservedSSO_<set>_` and exactly 16 more characters: `Dev` is
//! not `Dev_Admin`), the principal's session names (`aws:userid` is `<role id>:<session>`, and
//! a session name cannot hold `:`), and sessions issued *before* the cut: a session of a later
//! grant, another person, another permission set, another account or standing access through
//! another role is never denied.
//!
//! A statement is useless once every session it can match has expired: its `Sid` carries that
//! moment (`JitCut<unix seconds>x<digest>`), so the policy itself says which statements are
//! stale — whoever reads it (the cut-off entity, reconcile) can prune them without any other
//! record. [`pack`] merges what is there with what is new, drops what expired, and packs the
//! rest into policies under AWS's size limit.

use jiff::Timestamp;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// AWS's limit on an SCP document, in characters (whitespace not counted; jit writes none).
pub const POLICY_MAX_CHARS: usize = 5120;

/// What every statement jit writes starts its `Sid` with.
pub const SID_PREFIX: &str = "JitCut";

pub use jit_domain::Cutoff;

/// The statement of `cut`, with its self-describing `Sid`.
pub fn statement(c: &Cutoff) -> Value {
    let mut sessions: Vec<String> = c.sessions.iter().map(|s| format!("*:{s}")).collect();
    sessions.sort();
    sessions.dedup();
    let role = format!(
        "arn:aws:iam::{}:role/aws-reserved/sso.amazonaws.com/*AWSReservedSSO_{}_{}",
        c.account,
        c.permission_set,
        "?".repeat(16)
    );
    let before = c.before.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let mut h = Sha256::new();
    h.update(role.as_bytes());
    h.update(before.as_bytes());
    for s in &sessions {
        h.update(s.as_bytes());
    }
    let digest = hex::encode(&h.finalize()[..6]);
    json!({
        "Sid": format!("{SID_PREFIX}{}x{digest}", c.until.as_second()),
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
        "Condition": {
            "DateLessThan": {"aws:TokenIssueTime": before},
            "ArnLike": {"aws:PrincipalArn": role},
            "StringLike": {"aws:userid": sessions},
        }
    })
}

/// Until when a statement of jit's matters (from its `Sid`); `None` for anyone else's.
pub fn expires(statement: &Value) -> Option<Timestamp> {
    let sid = statement.get("Sid")?.as_str()?;
    let rest = sid.strip_prefix(SID_PREFIX)?;
    let (secs, _) = rest.split_once('x')?;
    Timestamp::from_second(secs.parse().ok()?).ok()
}

/// jit's statements in a policy document (anything else in it is not ours and not kept).
pub fn statements(document: &str) -> Vec<Value> {
    let Ok(doc) = serde_json::from_str::<Value>(document) else {
        return Vec::new();
    };
    let list = match doc.get("Statement") {
        Some(Value::Array(a)) => a.clone(),
        Some(one @ Value::Object(_)) => vec![one.clone()],
        _ => Vec::new(),
    };
    list.into_iter().filter(|s| expires(s).is_some()).collect()
}

/// A policy document of `statements`.
pub fn document(statements: &[Value]) -> String {
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackError {
    #[error(
        "the cut-off statements need {needed} policies of at most {POLICY_MAX_CHARS} characters; \
         {allowed} are allowed per account"
    )]
    TooMany { needed: usize, allowed: usize },
}

/// The policies an account should hold: every statement of `existing` (the documents there
/// now) and `added` that has not expired at `now`, each once (by `Sid`), in order of expiry,
/// packed first-fit into documents under [`POLICY_MAX_CHARS`]; at most `allowed` of them.
/// An empty list: nothing left to deny (the policies can go).
pub fn pack(
    existing: &[String],
    added: &[Cutoff],
    now: Timestamp,
    allowed: usize,
) -> Result<Vec<String>, PackError> {
    let mut all: Vec<Value> = existing.iter().flat_map(|d| statements(d)).collect();
    all.extend(added.iter().map(statement));
    all.retain(|s| expires(s).is_some_and(|t| t > now));
    all.sort_by_key(|s| {
        (
            expires(s),
            s.get("Sid").and_then(Value::as_str).map(str::to_owned),
        )
    });
    all.dedup_by(|a, b| a.get("Sid") == b.get("Sid"));
    let mut docs: Vec<Vec<Value>> = Vec::new();
    for s in all {
        match docs.iter_mut().find(|d| {
            document(&[d.as_slice(), std::slice::from_ref(&s)].concat()).len() <= POLICY_MAX_CHARS
        }) {
            Some(d) => d.push(s),
            None => docs.push(vec![s]),
        }
    }
    if docs.len() > allowed {
        return Err(PackError::TooMany {
            needed: docs.len(),
            allowed,
        });
    }
    Ok(docs.iter().map(|d| document(d)).collect())
}

/// The earliest moment a statement of `documents` expires (when to prune next).
pub fn next_expiry(documents: &[String]) -> Option<Timestamp> {
    documents
        .iter()
        .flat_map(|d| statements(d))
        .filter_map(|s| expires(&s))
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn cut(who: &str, before: &str, until: &str) -> Cutoff {
        Cutoff {
            account: "111111111111".into(),
            permission_set: "Dev".into(),
            sessions: vec![who.into(), format!("{who}@example.com")],
            before: t(before),
            until: t(until),
        }
    }

    #[test]
    fn a_statement_denies_exactly_one_principals_earlier_sessions_of_one_role() {
        let s = statement(&cut("bob", "2026-12-04T10:00:00Z", "2026-12-04T22:00:00Z"));
        assert_eq!(s["Effect"], "Deny");
        let c = &s["Condition"];
        assert_eq!(
            c["DateLessThan"]["aws:TokenIssueTime"],
            "2026-12-04T10:00:00Z"
        );
        assert_eq!(
            c["ArnLike"]["aws:PrincipalArn"],
            "arn:aws:iam::111111111111:role/aws-reserved/sso.amazonaws.com/*AWSReservedSSO_Dev_????????????????"
        );
        assert_eq!(
            c["StringLike"]["aws:userid"],
            json!(["*:bob", "*:bob@example.com"])
        );
        assert_eq!(expires(&s), Some(t("2026-12-04T22:00:00Z")));
        // The same cut twice is one statement; another person's is another.
        let again = statement(&cut("bob", "2026-12-04T10:00:00Z", "2026-12-04T22:00:00Z"));
        assert_eq!(s["Sid"], again["Sid"]);
        let other = statement(&cut(
            "alice",
            "2026-12-04T10:00:00Z",
            "2026-12-04T22:00:00Z",
        ));
        assert_ne!(s["Sid"], other["Sid"]);
    }

    #[test]
    fn packing_merges_prunes_expired_and_keeps_under_the_limit() {
        let now = t("2026-12-04T12:00:00Z");
        let old = document(&[
            statement(&cut("gone", "2026-12-03T00:00:00Z", "2026-12-04T11:00:00Z")),
            statement(&cut("kept", "2026-12-04T09:00:00Z", "2026-12-04T21:00:00Z")),
            json!({"Sid": "SomeoneElse", "Effect": "Deny", "Action": "s3:*", "Resource": "*"}),
        ]);
        let added = [
            cut("bob", "2026-12-04T11:59:00Z", "2026-12-04T23:59:00Z"),
            cut("kept", "2026-12-04T09:00:00Z", "2026-12-04T21:00:00Z"),
        ];
        let docs = pack(&[old], &added, now, 3).unwrap();
        assert_eq!(docs.len(), 1);
        let sids: Vec<String> = statements(&docs[0])
            .iter()
            .map(|s| s["Sid"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            sids.len(),
            2,
            "expired pruned, the duplicate once, others' dropped"
        );
        assert!(sids[0] < sids[1], "in order of expiry");
        assert_eq!(next_expiry(&docs), Some(t("2026-12-04T21:00:00Z")));
        // Many cuts: several documents, each under the limit; too many for the allowance is
        // an error, not a truncation.
        let many: Vec<Cutoff> = (0..60)
            .map(|i| {
                cut(
                    &format!("user{i}"),
                    "2026-12-04T11:00:00Z",
                    "2026-12-05T11:00:00Z",
                )
            })
            .collect();
        let docs = pack(&[], &many, now, 10).unwrap();
        assert!(docs.len() > 1);
        assert!(docs.iter().all(|d| d.len() <= POLICY_MAX_CHARS));
        let total: usize = docs.iter().map(|d| statements(d).len()).sum();
        assert_eq!(total, 60, "no statement lost");
        assert!(matches!(
            pack(&[], &many, now, 1),
            Err(PackError::TooMany { .. })
        ));
        // All expired: nothing left.
        assert!(
            pack(&docs, &[], t("2026-12-06T00:00:00Z"), 10)
                .unwrap()
                .is_empty()
        );
    }
}
