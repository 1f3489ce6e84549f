//! Leases and the rules of outstanding Identity Center operations: the pure parts.
//!
//! One `AssignmentLease` entity (workflow id [`lease_id`]) owns each real assignment
//! (principal, account, permission set). Tickets *acquire* and *release* it; the assignment
//! is created for its first holder and deleted after the last one leaves, and an assignment
//! found there before the first holder came (standing access) is never deleted.
//!
//! Two kinds of lease run exist. A **lean** lease (every lease started since lean leases
//! exist: [`LeaseInput::lean`]) only keeps the books — who holds it, who owns it, whether a
//! deletion is under way — and tells each caller what to do ([`LeaseState::lean_acquire`],
//! [`LeaseState::lean_release`]); the caller's activity does the AWS work. A **classic**
//! lease (runs from before) did the work itself, one job at a time.
//!
//! [`Governor`] holds the rules of permits: at most `limit` asynchronous operations
//! outstanding, at most one per account and permission set (AWS updates one permission-set
//! role per account at a time), first come first served. Each worker applies them to its own
//! operations (its share of the fleet's limit); classic leases asked the `AwsGovernor`
//! workflow, which applied them fleet-wide.

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
    /// On a lean acquire: whether the caller found the assignment in AWS just before asking
    /// (a lease that knows nothing yet takes it for standing access). Ignored by classic
    /// leases.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed: Option<bool>,
    /// On a lean acquire: the lease answered [`Acquired::Standing`] (or a standing share), but
    /// the caller found the assignment gone: the lease owns what gets created now.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub gone: bool,
}

impl LeaseCall {
    /// A call for `holder` on `assignment`, with nothing else.
    pub fn new(assignment: AssignmentRef, holder: impl Into<String>) -> Self {
        Self {
            assignment,
            holder: holder.into(),
            due: None,
            approval: None,
            observed: None,
            gone: false,
        }
    }
}

/// When a ticket waited for approval, for its metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalTimes {
    pub waiting_since: Timestamp,
    /// Approved, or the scheduled start if that came later: access was due from here.
    pub approved_at: Timestamp,
}

/// The answer to `acquire`. A classic lease answers once access is in place (`Created`,
/// `Joined`, `Standing`, `Failed`); a lean lease answers at once with what the caller must do
/// (`Create`, `Share`, `Standing`), and the caller's activity ends with one of the classic
/// answers for its ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Acquired {
    /// This holder's acquisition created it (confirmed by AWS and by listing).
    Created,
    /// Already granted to earlier holders (named): shared, nothing created.
    Joined { with: Vec<String> },
    /// Standing access: nothing created, nothing will be removed. (Lean: the lease took it
    /// for standing access from the caller's observation; the caller confirms it is there.)
    Standing,
    /// AWS refused to create it; nothing is left behind.
    Failed { reason: String },
    /// Lean: the lease owns it now (recorded before answering): create it — idempotently,
    /// polling and verifying — and it will be deleted after the last holder.
    Create,
    /// Lean: others (named) hold it too. Make sure it is there: create it if it is not,
    /// unless it is `standing` access — then, if it is gone, ask again with
    /// [`LeaseCall::gone`].
    Share { with: Vec<String>, standing: bool },
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
    /// Lean: this was the last holder of what the lease owns: delete it, confirm it is gone,
    /// then signal `deleted` (until then the lease holds new acquires back).
    Delete,
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
    /// Lean: the last holder is deleting the assignment; acquires wait until it is gone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleting: Option<Deleting>,
    /// Lean: the lease itself saw the assignment go (a deletion it asked for, or a reconcile
    /// clean-up), so an observation of it by a later caller is stale, not standing access.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub known_absent: bool,
}

/// Lean: who is deleting the assignment, since when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deleting {
    pub by: String,
    pub since: Timestamp,
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

    /// Lean: nobody holds it, nothing of the lease's is in AWS, nothing is under way.
    pub fn lean_idle(&self) -> bool {
        self.holders.is_empty() && self.deleting.is_none() && self.owned != Ownership::Created
    }

    /// Lean: `call.holder` asks to hold the lease. `None`: a deletion is under way; ask again
    /// once it is confirmed. Otherwise what the caller must do; the lease's books already
    /// say it (intent recorded before the caller acts). Idempotent per holder.
    pub fn lean_acquire(&mut self, call: &LeaseCall, now: Timestamp) -> Option<Acquired> {
        if self.deleting.is_some() {
            return None;
        }
        let holder = call.holder.as_str();
        let known = self.holders.contains_key(holder);
        if known && call.gone && self.owned == Ownership::Standing {
            // The standing access the lease was told of is not there (it was removed, or the
            // observation was stale): what is created now is the lease's.
            self.owned = Ownership::Created;
            self.note(
                now,
                format!("{holder}: the standing access is gone; created here from now on"),
            );
            return Some(Acquired::Create);
        }
        if !known {
            if self.holders.is_empty() && self.owned == Ownership::Absent {
                let standing = call.observed == Some(true) && !self.known_absent;
                self.owned = if standing {
                    Ownership::Standing
                } else {
                    Ownership::Created
                };
                self.known_absent = false;
                self.note(
                    now,
                    if standing {
                        format!("{holder}: standing access found; it will never be deleted here")
                    } else {
                        format!("{holder} is the first holder: creates it")
                    },
                );
            } else {
                let others = self.others(holder);
                if !others.is_empty() {
                    self.note(now, format!("{holder} joins {}", others.join(", ")));
                }
            }
            self.holders.insert(holder.to_owned(), now);
        }
        let others = self.others(holder);
        let standing = self.owned == Ownership::Standing;
        Some(match (others.is_empty(), standing) {
            (true, true) => Acquired::Standing,
            (true, false) => Acquired::Create,
            (false, standing) => Acquired::Share {
                with: others,
                standing,
            },
        })
    }

    /// Lean: `holder` leaves. The last holder of what the lease owns is told to delete it,
    /// and the lease waits for [`LeaseState::lean_deleted`]. Idempotent per holder.
    pub fn lean_release(&mut self, holder: &str, now: Timestamp) -> Released {
        if self.deleting.as_ref().is_some_and(|d| d.by == holder) {
            return Released::Delete;
        }
        if self.holders.remove(holder).is_none() {
            return Released::NotHeld;
        }
        let others = self.others(holder);
        if !others.is_empty() {
            self.note(
                now,
                format!("{holder} leaves; kept for {}", others.join(", ")),
            );
            return Released::Kept {
                for_holders: others,
            };
        }
        match self.owned {
            Ownership::Standing => {
                self.owned = Ownership::Absent;
                self.note(
                    now,
                    format!("{holder} leaves; standing access left in place"),
                );
                Released::Standing
            }
            Ownership::Created => {
                self.deleting = Some(Deleting {
                    by: holder.to_owned(),
                    since: now,
                });
                self.note(now, format!("{holder} was the last holder: deletes it"));
                Released::Delete
            }
            Ownership::Absent => Released::NotHeld,
        }
    }

    /// Lean: `holder` confirms the deletion it was told to make. False if it was not the one
    /// deleting (a late or repeated signal).
    pub fn lean_deleted(&mut self, holder: &str, now: Timestamp) -> bool {
        if self.deleting.as_ref().is_none_or(|d| d.by != holder) {
            return false;
        }
        self.deleting = None;
        self.owned = Ownership::Absent;
        self.known_absent = true;
        self.note(now, format!("{holder}: deleted, confirmed gone"));
        true
    }

    /// Lean: the lease itself removed the assignment (a stale deletion taken over, a
    /// reconcile clean-up): nothing of it is left, nothing is under way.
    pub fn lean_removed(&mut self, now: Timestamp, line: impl Into<String>) {
        self.deleting = None;
        self.owned = Ownership::Absent;
        self.known_absent = true;
        self.note(now, line);
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
    /// A lean lease: it keeps the books and its callers do the AWS work. Runs from before
    /// lean leases (false) keep working the classic way.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub lean: bool,
    /// Lean: the first holder's acquire, carried in the start itself — it costs the lease no
    /// update, and the caller knows the answer ([`LeaseInput::first_answer`]) without waiting
    /// for the lease's first workflow task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first: Option<LeaseCall>,
}

impl LeaseInput {
    /// A lean lease on `assignment`, started for `first` (or for a call that comes with it).
    pub fn lean(assignment: AssignmentRef, first: Option<LeaseCall>) -> Self {
        Self {
            assignment,
            carried: None,
            lean: true,
            first,
        }
    }

    /// The state a run starts from (at `now`), and the answer to its first holder: the same
    /// in the lease and in the caller that started it.
    pub fn start(&self, now: Timestamp) -> (LeaseState, Option<Acquired>) {
        let mut state = self.carried.clone().unwrap_or_default();
        let answer = self
            .first
            .as_ref()
            .and_then(|call| state.lean_acquire(call, now));
        (state, answer)
    }

    /// The first holder's answer, as the lease will compute it.
    pub fn first_answer(&self) -> Option<Acquired> {
        self.start(Timestamp::UNIX_EPOCH).1
    }
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
mod lean_tests {
    use super::*;
    use proptest::prelude::*;

    const T: Timestamp = Timestamp::UNIX_EPOCH;

    fn call(holder: &str, observed: bool) -> LeaseCall {
        LeaseCall {
            observed: Some(observed),
            ..LeaseCall::new(assignment(), holder)
        }
    }

    fn assignment() -> AssignmentRef {
        use crate::{AccountId, InstanceArn, PermissionSetArn, PrincipalId, PrincipalType};
        AssignmentRef {
            instance_arn: InstanceArn::parse("arn:aws:sso:::instance/ssoins-1").unwrap(),
            account: AccountId::parse("111111111111").unwrap(),
            permission_set_arn: PermissionSetArn::parse(
                "arn:aws:sso:::permissionSet/ssoins-1/ps-1",
            )
            .unwrap(),
            principal_type: PrincipalType::User,
            principal_id: PrincipalId::parse("u-1").unwrap(),
        }
    }

    #[test]
    fn the_first_holder_creates_the_last_deletes_and_acquires_wait_meanwhile() {
        let mut s = LeaseState::default();
        assert_eq!(
            s.lean_acquire(&call("t1", false), T),
            Some(Acquired::Create)
        );
        assert_eq!(s.owned, Ownership::Created);
        assert_eq!(
            s.lean_acquire(&call("t2", true), T),
            Some(Acquired::Share {
                with: vec!["t1".into()],
                standing: false
            }),
            "an observation of the first holder's grant is not standing access"
        );
        // Idempotent per holder.
        assert_eq!(
            s.lean_acquire(&call("t1", true), T),
            s.lean_acquire(&call("t1", false), T)
        );
        assert_eq!(
            s.lean_release("t1", T),
            Released::Kept {
                for_holders: vec!["t2".into()]
            }
        );
        assert_eq!(s.lean_release("t1", T), Released::NotHeld);
        assert_eq!(s.lean_release("t2", T), Released::Delete);
        assert_eq!(
            s.lean_release("t2", T),
            Released::Delete,
            "a retried release"
        );
        assert!(!s.lean_idle());
        assert_eq!(
            s.lean_acquire(&call("t3", true), T),
            None,
            "waits for the deletion"
        );
        assert!(!s.lean_deleted("t1", T), "only the deleter confirms");
        assert!(s.lean_deleted("t2", T));
        assert!(s.lean_idle());
        assert_eq!(
            s.lean_acquire(&call("t3", true), T),
            Some(Acquired::Create),
            "the lease saw it go: a later observation of it is stale, not standing access"
        );
    }

    #[test]
    fn standing_access_is_never_deleted_and_a_vanished_one_becomes_the_leases() {
        let mut s = LeaseState::default();
        assert_eq!(
            s.lean_acquire(&call("t1", true), T),
            Some(Acquired::Standing)
        );
        assert_eq!(
            s.lean_acquire(&call("t2", false), T),
            Some(Acquired::Share {
                with: vec!["t1".into()],
                standing: true
            })
        );
        assert_eq!(
            s.lean_release("t1", T),
            Released::Kept {
                for_holders: vec!["t2".into()]
            }
        );
        assert_eq!(s.lean_release("t2", T), Released::Standing);
        assert!(s.lean_idle());
        // Standing again; this time a holder finds it gone.
        assert_eq!(
            s.lean_acquire(&call("t3", true), T),
            Some(Acquired::Standing)
        );
        let gone = LeaseCall {
            gone: true,
            ..call("t3", false)
        };
        assert_eq!(s.lean_acquire(&gone, T), Some(Acquired::Create));
        assert_eq!(s.owned, Ownership::Created);
        assert_eq!(s.lean_release("t3", T), Released::Delete);
    }

    #[test]
    fn the_first_holder_in_the_start_gets_the_same_answer_in_the_lease_and_the_caller() {
        let input = LeaseInput::lean(assignment(), Some(call("t1", false)));
        let (state, answer) = input.start(T);
        assert_eq!(answer, input.first_answer());
        assert_eq!(answer, Some(Acquired::Create));
        assert_eq!(state.owned, Ownership::Created);
        assert_eq!(state.holders.len(), 1);
        let standing = LeaseInput::lean(assignment(), Some(call("t1", true)));
        assert_eq!(standing.first_answer(), Some(Acquired::Standing));
        // A round trip through JSON keeps it (the start input is recorded in history).
        let back: LeaseInput =
            serde_json::from_str(&serde_json::to_string(&input).unwrap()).unwrap();
        assert_eq!(back, input);
        // Classic inputs (from before) read as classic.
        let classic: LeaseInput = serde_json::from_value(serde_json::json!({
            "assignment": serde_json::to_value(assignment()).unwrap(),
        }))
        .unwrap();
        assert!(!classic.lean && classic.first.is_none());
    }

    /// AWS as the callers see it: the assignment is there or not, and whether what is there
    /// is standing access (made by someone else, before).
    #[derive(Debug, Default)]
    struct World {
        present: bool,
        standing: bool,
    }

    proptest! {
        /// Callers that do what the lease says, arriving and leaving in any order, with any
        /// delay between a deletion and its confirmation, sometimes with standing access there
        /// at the start: standing access is never deleted, every holder has access once it did
        /// its part, and once everyone left and every deletion was confirmed, nothing the
        /// lease created is left.
        #[test]
        fn callers_following_the_lease_keep_aws_right(
            standing_at_start in any::<bool>(),
            steps in proptest::collection::vec((0u8..4, 0u8..4), 1..120),
        ) {
            let mut s = LeaseState::default();
            let mut w = World { present: standing_at_start, standing: standing_at_start };
            let mut holding: std::collections::BTreeSet<String> = Default::default();
            // A deletion answered but not yet made / confirmed.
            let mut deleting: Option<String> = None;
            for (what, who) in steps {
                let h = format!("t{who}");
                match what {
                    0 | 1 => {
                        if holding.contains(&h) { continue; }
                        let Some(answer) = s.lean_acquire(&call(&h, w.present), T) else {
                            prop_assert!(deleting.is_some(), "waits only for a deletion");
                            continue;
                        };
                        match answer {
                            Acquired::Create | Acquired::Share { standing: false, .. } => {
                                if !w.present { w.present = true; w.standing = false; }
                            }
                            Acquired::Standing | Acquired::Share { standing: true, .. } => {
                                if !w.present {
                                    let gone = LeaseCall { gone: true, ..call(&h, false) };
                                    prop_assert_eq!(s.lean_acquire(&gone, T), Some(Acquired::Create));
                                    w.present = true;
                                    w.standing = false;
                                }
                            }
                            other => prop_assert!(false, "a lean lease answered {other:?}"),
                        }
                        holding.insert(h);
                    }
                    2 => {
                        if !holding.remove(&h) { continue; }
                        match s.lean_release(&h, T) {
                            Released::Delete => {
                                prop_assert!(!w.standing, "told to delete standing access");
                                prop_assert!(holding.is_empty(), "deleted under another holder");
                                deleting = Some(h);
                            }
                            Released::Kept { .. } => prop_assert!(!holding.is_empty()),
                            Released::Standing => prop_assert!(w.standing || !w.present),
                            other => prop_assert!(false, "{h} held it, yet {other:?}"),
                        }
                    }
                    _ => {
                        if let Some(d) = deleting.take() {
                            w.present = false;
                            prop_assert!(s.lean_deleted(&d, T));
                        }
                    }
                }
                for _ in &holding {
                    prop_assert!(w.present, "a holder without access");
                }
            }
            if let Some(d) = deleting.take() {
                w.present = false;
                prop_assert!(s.lean_deleted(&d, T));
            }
            for h in std::mem::take(&mut holding) {
                if s.lean_release(&h, T) == Released::Delete {
                    prop_assert!(!w.standing);
                    w.present = false;
                    prop_assert!(s.lean_deleted(&h, T));
                }
            }
            prop_assert!(s.lean_idle());
            prop_assert!(!w.present || w.standing, "the lease left its own assignment behind");
            if standing_at_start && w.standing {
                prop_assert!(w.present, "standing access deleted");
            }
        }
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
