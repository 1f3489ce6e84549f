//! Leases and the Identity Center governor: the pure parts.
//!
//! One `AssignmentLease` entity (workflow id [`lease_id`]) owns each real assignment
//! (principal, account, permission set). Tickets *acquire* and *release* it; the lease
//! creates the assignment for its first holder and deletes it after the last one leaves,
//! and never deletes an assignment it found there (standing access).
//!
//! Every create or delete first takes a [`Permit`] from the one [`Governor`]: at most `limit`
//! asynchronous operations are outstanding in the whole fleet, and at most one per account
//! and permission set (AWS updates one permission-set role per account at a time).

use std::collections::{BTreeMap, VecDeque};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::AssignmentRef;

/// The workflow id of the lease on `a`: `lease-<account>-<permission set id>-<principal id>`.
pub fn lease_id(a: &AssignmentRef) -> String {
    format!(
        "lease-{}-{}-{}",
        a.account,
        permission_set_suffix(a),
        a.principal_id
    )
}

/// The workflow id of the governor of the fleet of workers on `task_queue` (one fleet per
/// AWS account: a second task queue on the same account would need its share of the limits).
pub fn governor_id(task_queue: &str) -> String {
    format!("aws-governor-{task_queue}")
}

/// Operations on the same account and permission set are serialised under this key.
pub fn serial_key(a: &AssignmentRef) -> String {
    format!("{}/{}", a.account, permission_set_suffix(a))
}

/// The last path segment of the permission set's ARN (`ps-…`); the ARN is opaque otherwise.
fn permission_set_suffix(a: &AssignmentRef) -> &str {
    let arn = a.permission_set_arn.as_str();
    arn.rsplit('/').next().unwrap_or(arn)
}

/// Who owns the real assignment, as far as the lease knows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ownership {
    /// Nothing there that the lease knows of.
    #[default]
    Absent,
    /// The lease created it (or is creating it): it deletes it after the last holder.
    Created,
    /// It was there before the first holder came: never the lease's to delete.
    Standing,
}

/// A ticket asks to hold the lease (update `acquire`), or to leave it (update `release`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseCall {
    pub assignment: AssignmentRef,
    /// The ticket's workflow id.
    pub holder: String,
    /// On release: when the access should have ended (the expiry, or the moment the ticket
    /// decided to end early), from which the revocation lag is measured. Absent in calls
    /// made before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<Timestamp>,
    /// On the acquire of a ticket's last target: when it began waiting for approval and when
    /// it was approved (or its scheduled start, if later), for the approval-wait and
    /// approve→active metrics. Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalTimes>,
}

/// When a ticket waited for approval, for its metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalTimes {
    pub waiting_since: Timestamp,
    /// Approved, or the scheduled start if that came later: access was due from here.
    pub approved_at: Timestamp,
}

/// The answer to `acquire`: access is in place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Acquired {
    /// This holder's acquisition created it (confirmed by AWS and by listing).
    Created,
    /// Already granted to earlier holders (named): shared, nothing created.
    Joined { with: Vec<String> },
    /// Standing access: nothing created, nothing will be removed.
    Standing,
    /// AWS refused to create it; nothing is left behind.
    Failed { reason: String },
}

/// The answer to `release`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Released {
    /// The last holder left: deleted, confirmed gone.
    Deleted,
    /// Other holders (named) keep it.
    Kept { for_holders: Vec<String> },
    /// Standing access, left in place.
    Standing,
    /// The lease did not know this holder (already released).
    NotHeld,
}

/// What the lease workflow shows (query `state`) and carries across continue-as-new.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseState {
    /// Holder (ticket workflow id) → since when.
    pub holders: BTreeMap<String, Timestamp>,
    pub owned: Ownership,
    /// Operations started so far (names permits: `<lease id>#<n>`).
    pub ops: u64,
    /// Recent lines of what the lease did (the history has everything).
    pub log: Vec<String>,
}

impl LeaseState {
    pub const LOG_LINES: usize = 50;

    pub fn note(&mut self, at: Timestamp, line: impl Into<String>) {
        self.log.push(format!("{at}: {}", line.into()));
        if self.log.len() > Self::LOG_LINES {
            let extra = self.log.len() - Self::LOG_LINES;
            self.log.drain(..extra);
        }
    }

    /// Other holders than `me`, in order.
    pub fn others(&self, me: &str) -> Vec<String> {
        self.holders.keys().filter(|h| *h != me).cloned().collect()
    }
}

/// The answer of the lease's `state` query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseStatus {
    pub assignment: AssignmentRef,
    #[serde(flatten)]
    pub state: LeaseState,
}

/// The input of a lease run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseInput {
    pub assignment: AssignmentRef,
    /// State carried over from the run before (continue-as-new).
    #[serde(default)]
    pub carried: Option<LeaseState>,
}

/// What the reconciler found about a lease's assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Finding {
    /// In AWS, but no lease holds it.
    Orphan,
    /// A lease holds it as created, but AWS does not have it.
    Missing,
}

/// A lease asks the governor for a permit for one operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermitRequest {
    /// The lease's workflow id (the permit is signalled there).
    pub lease: String,
    /// [`serial_key`] of the assignment.
    pub key: String,
    /// Unique per operation: `<lease id>#<n>`.
    pub op: String,
    /// The fleet's limit of outstanding operations, from the asking worker's configuration.
    pub limit: u32,
}

/// A lease is done with its permit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermitRelease {
    pub op: String,
}

/// A granted permit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permit {
    pub lease: String,
    pub key: String,
    pub op: String,
    pub granted_at: Timestamp,
}

/// The governor's state: permits held and requests waiting, first come first served
/// (a request waits behind an earlier one only when it cannot be granted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Governor {
    pub limit: u32,
    pub held: Vec<Permit>,
    pub queue: VecDeque<PermitRequest>,
    /// Permits granted over the governor's life (all runs).
    pub granted_total: u64,
    /// The most permits ever held at once.
    pub peak: u32,
}

/// What to do after a request arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requested {
    /// Queued (or already queued).
    Queued,
    /// Already held: tell the lease again (its earlier signal may predate a crash).
    AlreadyHeld(Permit),
}

impl Governor {
    pub fn new(limit: u32) -> Self {
        Self {
            limit: limit.max(1),
            held: Vec::new(),
            queue: VecDeque::new(),
            granted_total: 0,
            peak: 0,
        }
    }

    /// A request arrives (idempotent per `op`). Its limit becomes the governor's.
    pub fn request(&mut self, r: PermitRequest) -> Requested {
        self.limit = r.limit.max(1);
        if let Some(p) = self.held.iter().find(|p| p.op == r.op) {
            return Requested::AlreadyHeld(p.clone());
        }
        if !self.queue.iter().any(|q| q.op == r.op) {
            self.queue.push_back(r);
        }
        Requested::Queued
    }

    /// A permit is returned (unknown ops are ignored; a queued one is withdrawn).
    pub fn release(&mut self, op: &str) {
        self.held.retain(|p| p.op != op);
        self.queue.retain(|q| q.op != op);
    }

    /// Grants every waiting request that fits: under the limit, and no other permit on the
    /// same key. Returns the new permits, in queue order.
    pub fn grant(&mut self, now: Timestamp) -> Vec<Permit> {
        let mut granted = Vec::new();
        let mut i = 0;
        while i < self.queue.len() && self.held.len() < self.limit as usize {
            let busy = self.held.iter().any(|p| p.key == self.queue[i].key);
            if busy {
                i += 1;
                continue;
            }
            let Some(r) = self.queue.remove(i) else { break };
            let p = Permit {
                lease: r.lease,
                key: r.key,
                op: r.op,
                granted_at: now,
            };
            self.held.push(p.clone());
            granted.push(p);
        }
        self.granted_total += granted.len() as u64;
        self.peak = self.peak.max(self.held.len() as u32);
        granted
    }

    /// Takes back permits held longer than `max_age` (a lease that was terminated never
    /// returns its permit). Returns the ops taken back.
    pub fn reclaim(&mut self, now: Timestamp, max_age: jiff::SignedDuration) -> Vec<String> {
        let (stale, fresh): (Vec<Permit>, Vec<Permit>) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(|p| now.duration_since(p.granted_at) > max_age);
        self.held = fresh;
        stale.into_iter().map(|p| p.op).collect()
    }

    /// When the oldest permit becomes stale, if any is held.
    pub fn next_reclaim(&self, max_age: jiff::SignedDuration) -> Option<Timestamp> {
        self.held
            .iter()
            .map(|p| p.granted_at)
            .min()
            .and_then(|t| t.checked_add(max_age).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn req(lease: &str, key: &str, op: &str) -> PermitRequest {
        PermitRequest {
            lease: lease.into(),
            key: key.into(),
            op: op.into(),
            limit: 2,
        }
    }

    #[test]
    fn one_permit_per_key_and_never_over_the_limit() {
        let t = Timestamp::UNIX_EPOCH;
        let mut g = Governor::new(2);
        g.request(req("l1", "a/ps1", "l1#1"));
        g.request(req("l2", "a/ps1", "l2#1"));
        g.request(req("l3", "b/ps1", "l3#1"));
        g.request(req("l4", "c/ps1", "l4#1"));
        let ops: Vec<String> = g.grant(t).into_iter().map(|p| p.op).collect();
        // l2 waits for l1 (same key); l3 is granted past it; l4 waits for room.
        assert_eq!(ops, ["l1#1", "l3#1"]);
        assert!(g.grant(t).is_empty());
        g.release("l1#1");
        let ops: Vec<String> = g.grant(t).into_iter().map(|p| p.op).collect();
        assert_eq!(ops, ["l2#1"]);
        g.release("l3#1");
        let ops: Vec<String> = g.grant(t).into_iter().map(|p| p.op).collect();
        assert_eq!(ops, ["l4#1"]);
        assert_eq!((g.granted_total, g.peak), (4, 2));
    }

    #[test]
    fn requests_are_idempotent() {
        let t = Timestamp::UNIX_EPOCH;
        let mut g = Governor::new(5);
        assert_eq!(g.request(req("l1", "k", "l1#1")), Requested::Queued);
        assert_eq!(g.request(req("l1", "k", "l1#1")), Requested::Queued);
        assert_eq!(g.queue.len(), 1);
        let p = g.grant(t).remove(0);
        assert_eq!(g.request(req("l1", "k", "l1#1")), Requested::AlreadyHeld(p));
        assert!(g.grant(t).is_empty());
    }

    #[test]
    fn stale_permits_are_taken_back() {
        let t0 = Timestamp::UNIX_EPOCH;
        let mut g = Governor::new(5);
        g.request(req("l1", "k", "l1#1"));
        g.grant(t0);
        let age = jiff::SignedDuration::from_mins(10);
        assert_eq!(g.next_reclaim(age), t0.checked_add(age).ok());
        assert!(
            g.reclaim(t0 + jiff::SignedDuration::from_mins(5), age)
                .is_empty()
        );
        assert_eq!(
            g.reclaim(t0 + jiff::SignedDuration::from_mins(11), age),
            ["l1#1"]
        );
        assert!(g.held.is_empty());
    }

    proptest! {
        /// Whatever arrives and leaves in whatever order: never more than the limit held,
        /// never two permits on one key, and nothing waits that could be granted.
        #[test]
        fn invariants_hold(steps in proptest::collection::vec((0u8..3, 0u8..6, 0u8..30), 1..200)) {
            let t = Timestamp::UNIX_EPOCH;
            let mut g = Governor::new(3);
            for (what, key, op) in steps {
                let op = format!("op{op}");
                match what {
                    0 | 1 => { g.request(PermitRequest { lease: op.clone(), key: format!("k{key}"), op, limit: 3 }); }
                    _ => g.release(&op),
                }
                g.grant(t);
                prop_assert!(g.held.len() <= 3);
                let mut keys: Vec<&str> = g.held.iter().map(|p| p.key.as_str()).collect();
                keys.sort_unstable();
                let n = keys.len();
                keys.dedup();
                prop_assert_eq!(keys.len(), n, "two permits on one key");
                if g.held.len() < 3 {
                    for q in &g.queue {
                        prop_assert!(g.held.iter().any(|p| p.key == q.key), "{} could be granted", q.op);
                    }
                }
            }
        }
    }
}
