//! Approval plans and the approval state machine: ordered steps, each needing a quorum of
//! distinct eligible approvers; delegation; denial.
//!
//! Rules (each one is a test below, and the properties at the end check them on random
//! inputs):
//!
//! - a step completes when `quorum` distinct eligible people approved it; then the next step
//!   starts; after the last step the request is approved; a plan without steps is
//!   auto-approved;
//! - any deny decides: the request is denied;
//! - the requester and the principal never count, directly or through a delegation;
//! - one vote per person per step, and one per *approver*: a delegate votes **as** the
//!   delegator, and the delegator cannot vote again in that step;
//! - a delegation hands an approver's vote to someone else until a given time; chains are
//!   followed (a → b → c lets c vote as a and b); self-delegation and cycles are refused,
//!   and nobody can delegate to the requester or the principal.

use std::collections::BTreeSet;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::ids::UserName;

/// One step of a plan: who may approve, and how many of them must.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalStep {
    /// A name people recognise, e.g. the approver group: `sre`.
    pub name: String,
    /// The eligible approvers, resolved from groups when the ticket was evaluated.
    pub approvers: BTreeSet<UserName>,
    pub quorum: u32,
    /// The groups the policy named for this step: a vote counts only while its approver is
    /// still a member of one of them (or is named in `users`).
    #[serde(default)]
    pub groups: Vec<String>,
    /// The users the policy named for this step.
    #[serde(default)]
    pub users: BTreeSet<UserName>,
}

/// How a ticket is approved and how long it may last (decided at evaluation, recorded in
/// history: running tickets keep their plan when configuration changes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalPlan {
    pub name: String,
    /// Empty: auto-approved.
    pub steps: Vec<ApprovalStep>,
    /// Longest duration one request may ask for.
    pub max_duration: SignedDuration,
    /// Longest total with extensions.
    pub max_total: SignedDuration,
    /// Whether an extension needs the plan's approval again (access stays meanwhile).
    pub extension_needs_approval: bool,
    /// How long approval may take before the ticket expires unapproved.
    pub approval_timeout: SignedDuration,
    /// Break-glass: immediate access, to be ratified (approved) within this time.
    pub break_glass_ratify_within: Option<SignedDuration>,
    /// Who may revoke any ticket of this plan besides its approvers.
    #[serde(default)]
    pub admins: BTreeSet<UserName>,
    /// Remind the pending approvers this often while approval waits.
    #[serde(default)]
    pub remind_every: Option<SignedDuration>,
    /// After this long without a decision, the escalation approvers may vote too.
    #[serde(default)]
    pub escalation: Option<Escalation>,
    /// Where chat messages about tickets of this plan go.
    #[serde(default)]
    pub notify: NotifyRoute,
}

/// Where a plan's chat messages go: approvers get the vote message in `channel` (if set) or
/// each in a direct message (`direct`), and on Teams (`teams`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyRoute {
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default = "yes")]
    pub direct: bool,
    #[serde(default)]
    pub teams: bool,
}

fn yes() -> bool {
    true
}

impl Default for NotifyRoute {
    fn default() -> Self {
        Self {
            channel: None,
            direct: true,
            teams: false,
        }
    }
}

/// A fallback approver group for a stalled approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Escalation {
    pub after: SignedDuration,
    pub name: String,
    pub approvers: BTreeSet<UserName>,
    /// The groups the policy named (see [`ApprovalStep::groups`]).
    #[serde(default)]
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approve,
    Deny,
}

/// One vote, as recorded: `voter` is the approver it counts for, `cast_by` the person who
/// cast it (different when a delegate votes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vote {
    pub voter: UserName,
    pub cast_by: UserName,
    pub step: usize,
    pub decision: Decision,
    pub comment: Option<String>,
    pub at: Timestamp,
}

/// `from` lets `to` vote in their place until `until`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delegation {
    pub from: UserName,
    pub to: UserName,
    pub until: Timestamp,
    pub reason: Option<String>,
    pub at: Timestamp,
}

/// Why a vote was not accepted. Shown to the voter as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VoteRejected {
    #[error("not allowed: {0} is the requester of this ticket and cannot approve or deny it")]
    Requester(UserName),
    #[error("not allowed: {0} is the principal of this ticket and cannot approve or deny it")]
    Principal(UserName),
    #[error("not allowed: the ticket is {0}, not waiting for approval")]
    NotPending(String),
    #[error("not allowed: {who} already voted in step {step} ({voted_as})")]
    AlreadyVoted {
        who: UserName,
        step: String,
        voted_as: String,
    },
    #[error(
        "not allowed: {who} is not an approver of step {step} (approvers: {approvers}) and holds no delegation from one"
    )]
    NotEligible {
        who: UserName,
        step: String,
        approvers: String,
    },
}

/// Why a delegation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DelegationRejected {
    #[error("not allowed: {0} cannot delegate to themselves")]
    ToSelf(UserName),
    #[error("not allowed: {to} is the {role} of this ticket and cannot receive its approval")]
    ToParty { to: UserName, role: &'static str },
    #[error(
        "not allowed: {0} is neither an approver of a remaining step nor holds a delegation from one"
    )]
    NotAnApprover(UserName),
    #[error("not allowed: delegating from {from} to {to} would make a cycle ({path})")]
    Cycle {
        from: UserName,
        to: UserName,
        path: String,
    },
    #[error("not allowed: a delegation must end in the future")]
    Expired,
    #[error("not allowed: approval is over")]
    Closed,
}

/// The plan cannot be satisfied with the people it names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "approval step {step} needs {quorum} approvers but only {eligible} are eligible (the requester and the principal never count)"
)]
pub struct Unsatisfiable {
    pub step: String,
    pub quorum: u32,
    pub eligible: usize,
}

/// What a vote did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VoteEffect {
    /// Counted; the step still needs more.
    Counted,
    /// The step reached its quorum; the next one starts.
    StepComplete,
    Approved,
    Denied,
}

/// The approval of one request (or of one extension).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub steps: Vec<ApprovalStep>,
    /// Index of the step waiting for votes (`steps.len()` when approved).
    pub step: usize,
    pub votes: Vec<Vote>,
    pub delegations: Vec<Delegation>,
    pub outcome: Option<Decision>,
    requester: UserName,
    principal: Option<UserName>,
}

impl Approval {
    /// Starts approval for `requester`'s request for `principal` (`None` for a group). Refuses
    /// a plan whose quorum cannot be met without the requester and the principal.
    pub fn new(
        steps: Vec<ApprovalStep>,
        requester: UserName,
        principal: Option<UserName>,
    ) -> Result<Self, Unsatisfiable> {
        for s in &steps {
            let eligible = s
                .approvers
                .iter()
                .filter(|a| **a != requester && Some(*a) != principal.as_ref())
                .count();
            if eligible < s.quorum as usize || s.quorum == 0 {
                return Err(Unsatisfiable {
                    step: s.name.clone(),
                    quorum: s.quorum,
                    eligible,
                });
            }
        }
        let outcome = steps.is_empty().then_some(Decision::Approve);
        Ok(Self {
            steps,
            step: 0,
            votes: Vec::new(),
            delegations: Vec::new(),
            outcome,
            requester,
            principal,
        })
    }

    pub fn current_step(&self) -> Option<&ApprovalStep> {
        if self.outcome.is_some() {
            return None;
        }
        self.steps.get(self.step)
    }

    fn is_party(&self, u: &UserName) -> bool {
        *u == self.requester || Some(u) == self.principal.as_ref()
    }

    /// Everyone whose vote `person` may cast at `now`: themselves, and whoever delegated to
    /// them, directly or through a chain of delegations still in force.
    fn represented_by(&self, person: &UserName, now: Timestamp) -> BTreeSet<UserName> {
        let mut out = BTreeSet::from([person.clone()]);
        let mut frontier = vec![person.clone()];
        while let Some(p) = frontier.pop() {
            for d in self
                .delegations
                .iter()
                .filter(|d| d.to == p && d.until > now)
            {
                if out.insert(d.from.clone()) {
                    frontier.push(d.from.clone());
                }
            }
        }
        out
    }

    /// The approver `person` would vote as in the current step (themselves first).
    pub fn as_whom(&self, person: &UserName, now: Timestamp) -> Result<UserName, VoteRejected> {
        if *person == self.requester {
            return Err(VoteRejected::Requester(person.clone()));
        }
        if Some(person) == self.principal.as_ref() {
            return Err(VoteRejected::Principal(person.clone()));
        }
        let Some(step) = self.current_step() else {
            return Err(VoteRejected::NotPending("decided".into()));
        };
        let voted: BTreeSet<&UserName> = self
            .votes
            .iter()
            .filter(|v| v.step == self.step)
            .map(|v| &v.voter)
            .collect();
        let can: Vec<UserName> = self
            .represented_by(person, now)
            .into_iter()
            .filter(|u| step.approvers.contains(u) && !self.is_party(u))
            .collect();
        if can.is_empty() {
            return Err(VoteRejected::NotEligible {
                who: person.clone(),
                step: step.name.clone(),
                approvers: join(step.approvers.iter()),
            });
        }
        // Themselves first, then whoever they represent.
        let mut order = can.clone();
        order.sort_by_key(|u| u != person);
        order
            .into_iter()
            .find(|u| !voted.contains(u))
            .ok_or_else(|| VoteRejected::AlreadyVoted {
                who: person.clone(),
                step: step.name.clone(),
                voted_as: join(can.iter()),
            })
    }

    /// Records `person`'s vote (as whom [`Approval::as_whom`] says).
    pub fn vote(
        &mut self,
        person: &UserName,
        decision: Decision,
        comment: Option<String>,
        now: Timestamp,
    ) -> Result<(Vote, VoteEffect), VoteRejected> {
        let voter = self.as_whom(person, now)?;
        let vote = Vote {
            voter,
            cast_by: person.clone(),
            step: self.step,
            decision,
            comment,
            at: now,
        };
        self.votes.push(vote.clone());
        let effect = match decision {
            Decision::Deny => {
                self.outcome = Some(Decision::Deny);
                VoteEffect::Denied
            }
            Decision::Approve => {
                let quorum = self.steps[self.step].quorum as usize;
                let approvals = self
                    .votes
                    .iter()
                    .filter(|v| v.step == self.step && v.decision == Decision::Approve)
                    .count();
                if approvals >= quorum {
                    self.step += 1;
                    if self.step == self.steps.len() {
                        self.outcome = Some(Decision::Approve);
                        VoteEffect::Approved
                    } else {
                        VoteEffect::StepComplete
                    }
                } else {
                    VoteEffect::Counted
                }
            }
        };
        Ok((vote, effect))
    }

    /// Checks a delegation from `from` to `to` until `until` without recording it.
    pub fn check_delegation(
        &self,
        from: &UserName,
        to: &UserName,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<(), DelegationRejected> {
        if self.outcome.is_some() {
            return Err(DelegationRejected::Closed);
        }
        if from == to {
            return Err(DelegationRejected::ToSelf(from.clone()));
        }
        if *to == self.requester {
            return Err(DelegationRejected::ToParty {
                to: to.clone(),
                role: "requester",
            });
        }
        if Some(to) == self.principal.as_ref() {
            return Err(DelegationRejected::ToParty {
                to: to.clone(),
                role: "principal",
            });
        }
        if until <= now {
            return Err(DelegationRejected::Expired);
        }
        let remaining: BTreeSet<&UserName> = self.steps[self.step..]
            .iter()
            .flat_map(|s| s.approvers.iter())
            .collect();
        if !self
            .represented_by(from, now)
            .iter()
            .any(|u| remaining.contains(u) && !self.is_party(u))
        {
            return Err(DelegationRejected::NotAnApprover(from.clone()));
        }
        // A cycle: `to` already (transitively) delegates to `from`.
        if self.represented_by(from, now).contains(to) {
            return Err(DelegationRejected::Cycle {
                from: from.clone(),
                to: to.clone(),
                path: format!("{to} already delegates to {from}"),
            });
        }
        Ok(())
    }

    pub fn delegate(&mut self, d: Delegation, now: Timestamp) -> Result<(), DelegationRejected> {
        self.check_delegation(&d.from, &d.to, d.until, now)?;
        self.delegations.push(d);
        Ok(())
    }

    /// Who can move the current step now: its approvers who have not voted, and their
    /// delegates (never the requester or the principal).
    pub fn pending_approvers(&self, now: Timestamp) -> Vec<UserName> {
        let Some(step) = self.current_step() else {
            return Vec::new();
        };
        let voted: BTreeSet<&UserName> = self
            .votes
            .iter()
            .filter(|v| v.step == self.step)
            .map(|v| &v.voter)
            .collect();
        let waiting: BTreeSet<&UserName> = step
            .approvers
            .iter()
            .filter(|a| !voted.contains(a) && !self.is_party(a))
            .collect();
        let mut out: BTreeSet<UserName> = waiting.iter().map(|u| (*u).clone()).collect();
        for d in self.delegations.iter().filter(|d| d.until > now) {
            if self
                .represented_by(&d.to, now)
                .iter()
                .any(|u| waiting.contains(u))
                && !self.is_party(&d.to)
            {
                out.insert(d.to.clone());
            }
        }
        out.into_iter().collect()
    }

    /// Lets `extra` vote in the current step too (escalation). Returns who was added
    /// (never the requester or the principal).
    pub fn escalate(&mut self, extra: &BTreeSet<UserName>) -> Vec<UserName> {
        if self.outcome.is_some() {
            return Vec::new();
        }
        let parties = [Some(self.requester.clone()), self.principal.clone()];
        let Some(step) = self.steps.get_mut(self.step) else {
            return Vec::new();
        };
        let mut added = Vec::new();
        for u in extra {
            if !parties.contains(&Some(u.clone())) && step.approvers.insert(u.clone()) {
                added.push(u.clone());
            }
        }
        added
    }

    /// Everyone named as an approver in any step.
    pub fn all_approvers(&self) -> BTreeSet<&UserName> {
        self.steps.iter().flat_map(|s| s.approvers.iter()).collect()
    }
}

fn join<'a>(it: impl Iterator<Item = &'a UserName>) -> String {
    it.map(UserName::as_str).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn u(s: &str) -> UserName {
        UserName::parse(s).unwrap()
    }

    fn step(name: &str, who: &[&str], quorum: u32) -> ApprovalStep {
        ApprovalStep {
            name: name.into(),
            approvers: who.iter().map(|w| u(w)).collect(),
            quorum,
            groups: Vec::new(),
            users: Default::default(),
        }
    }

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    fn two_steps() -> Approval {
        Approval::new(
            vec![
                step("sre", &["carol", "dave", "frank", "alice"], 2),
                step("security", &["erin", "gina"], 1),
            ],
            u("alice"),
            Some(u("bob")),
        )
        .unwrap()
    }

    fn delegation(from: &str, to: &str, until: i64) -> Delegation {
        Delegation {
            from: u(from),
            to: u(to),
            until: t(until),
            reason: None,
            at: t(0),
        }
    }

    #[test]
    fn steps_complete_at_quorum_in_order() {
        let mut a = two_steps();
        let (_, e) = a.vote(&u("carol"), Decision::Approve, None, t(1)).unwrap();
        assert_eq!(e, VoteEffect::Counted);
        // erin is in step 2, not yet.
        assert!(matches!(
            a.vote(&u("erin"), Decision::Approve, None, t(1)),
            Err(VoteRejected::NotEligible { .. })
        ));
        let (_, e) = a.vote(&u("dave"), Decision::Approve, None, t(2)).unwrap();
        assert_eq!(e, VoteEffect::StepComplete);
        let (_, e) = a.vote(&u("erin"), Decision::Approve, None, t(3)).unwrap();
        assert_eq!(e, VoteEffect::Approved);
        assert_eq!(a.outcome, Some(Decision::Approve));
    }

    #[test]
    fn no_steps_means_auto_approved() {
        let a = Approval::new(vec![], u("alice"), Some(u("bob"))).unwrap();
        assert_eq!(a.outcome, Some(Decision::Approve));
    }

    #[test]
    fn a_deny_decides() {
        let mut a = two_steps();
        a.vote(&u("carol"), Decision::Approve, None, t(1)).unwrap();
        let (_, e) = a
            .vote(&u("dave"), Decision::Deny, Some("no".into()), t(2))
            .unwrap();
        assert_eq!(e, VoteEffect::Denied);
        assert!(a.vote(&u("frank"), Decision::Approve, None, t(3)).is_err());
    }

    #[test]
    fn requester_in_the_approver_group_never_counts_and_unsatisfiable_plans_are_refused() {
        let mut a = two_steps();
        assert!(matches!(
            a.vote(&u("alice"), Decision::Approve, None, t(1)),
            Err(VoteRejected::Requester(_))
        ));
        let e =
            Approval::new(vec![step("sre", &["alice", "carol"], 2)], u("alice"), None).unwrap_err();
        assert_eq!(e.eligible, 1);
        assert!(
            e.to_string().contains("needs 2 approvers but only 1"),
            "{e}"
        );
    }

    #[test]
    fn one_vote_per_person_per_step() {
        let mut a = two_steps();
        a.vote(&u("carol"), Decision::Approve, None, t(1)).unwrap();
        let e = a
            .vote(&u("carol"), Decision::Approve, None, t(2))
            .unwrap_err();
        assert!(e.to_string().contains("already voted"), "{e}");
    }

    #[test]
    fn a_delegate_votes_as_the_delegator_and_both_are_recorded() {
        let mut a = two_steps();
        a.delegate(delegation("dave", "zed", 100), t(1)).unwrap();
        a.vote(&u("carol"), Decision::Approve, None, t(2)).unwrap();
        let (v, e) = a.vote(&u("zed"), Decision::Approve, None, t(3)).unwrap();
        assert_eq!((v.voter.as_str(), v.cast_by.as_str()), ("dave", "zed"));
        assert_eq!(e, VoteEffect::StepComplete);
    }

    #[test]
    fn a_delegator_cannot_vote_again_after_the_delegate() {
        let mut a = two_steps();
        a.delegate(delegation("dave", "zed", 100), t(1)).unwrap();
        a.vote(&u("zed"), Decision::Approve, None, t(2)).unwrap();
        assert!(matches!(
            a.vote(&u("dave"), Decision::Approve, None, t(3)),
            Err(VoteRejected::AlreadyVoted { .. })
        ));
    }

    #[test]
    fn an_approver_holding_a_delegation_votes_as_self_then_as_the_delegator() {
        let mut a = two_steps();
        a.delegate(delegation("dave", "carol", 100), t(1)).unwrap();
        let (v1, _) = a.vote(&u("carol"), Decision::Approve, None, t(2)).unwrap();
        let (v2, e) = a.vote(&u("carol"), Decision::Approve, None, t(3)).unwrap();
        assert_eq!((v1.voter.as_str(), v2.voter.as_str()), ("carol", "dave"));
        assert_eq!(e, VoteEffect::StepComplete);
    }

    #[test]
    fn delegations_expire() {
        let mut a = two_steps();
        a.delegate(delegation("dave", "zed", 10), t(1)).unwrap();
        assert!(matches!(
            a.vote(&u("zed"), Decision::Approve, None, t(11)),
            Err(VoteRejected::NotEligible { .. })
        ));
    }

    #[test]
    fn chains_are_followed_and_cycles_refused() {
        let mut a = two_steps();
        a.delegate(delegation("dave", "zed", 100), t(1)).unwrap();
        a.delegate(delegation("zed", "yan", 100), t(1)).unwrap();
        let e = a
            .check_delegation(&u("yan"), &u("dave"), t(100), t(2))
            .unwrap_err();
        assert!(matches!(e, DelegationRejected::Cycle { .. }), "{e}");
        let (v, _) = a.vote(&u("yan"), Decision::Approve, None, t(2)).unwrap();
        assert_eq!(v.voter.as_str(), "dave");
    }

    #[test]
    fn bad_delegations_are_refused() {
        let a = two_steps();
        let check = |f: &str, to: &str| a.check_delegation(&u(f), &u(to), t(100), t(1));
        assert!(matches!(
            check("dave", "dave"),
            Err(DelegationRejected::ToSelf(_))
        ));
        assert!(matches!(
            check("dave", "alice"),
            Err(DelegationRejected::ToParty {
                role: "requester",
                ..
            })
        ));
        assert!(matches!(
            check("dave", "bob"),
            Err(DelegationRejected::ToParty {
                role: "principal",
                ..
            })
        ));
        assert!(matches!(
            check("zed", "yan"),
            Err(DelegationRejected::NotAnApprover(_))
        ));
        // The requester cannot launder a vote through a delegation either.
        assert!(matches!(
            check("alice", "yan"),
            Err(DelegationRejected::NotAnApprover(_))
        ));
        assert!(matches!(
            a.check_delegation(&u("dave"), &u("zed"), t(1), t(1)),
            Err(DelegationRejected::Expired)
        ));
        // A step-2 approver may delegate ahead of time.
        assert!(check("erin", "zed").is_ok());
    }

    #[test]
    fn escalation_adds_fallback_approvers_to_the_current_step_only() {
        let mut a = two_steps();
        a.vote(&u("carol"), Decision::Approve, None, t(1)).unwrap();
        let added = a.escalate(&[u("erin"), u("alice"), u("carol")].into());
        assert_eq!(
            added,
            vec![u("erin")],
            "never the requester; carol already there"
        );
        let (v, e) = a.vote(&u("erin"), Decision::Approve, None, t(2)).unwrap();
        assert_eq!((v.voter.as_str(), e), ("erin", VoteEffect::StepComplete));
        assert!(!a.steps[1].approvers.contains(&u("carol")));
    }

    #[test]
    fn pending_approvers_include_delegates_and_exclude_voters() {
        let mut a = two_steps();
        a.delegate(delegation("dave", "zed", 100), t(1)).unwrap();
        a.vote(&u("carol"), Decision::Approve, None, t(2)).unwrap();
        let p: Vec<String> = a
            .pending_approvers(t(3))
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(p, ["dave", "frank", "zed"]);
    }

    // Properties over random plans, people, delegations and votes.

    const PEOPLE: &[&str] = &[
        "alice", "bob", "carol", "dave", "erin", "frank", "gina", "zed",
    ];

    fn person() -> impl Strategy<Value = UserName> {
        prop::sample::select(PEOPLE).prop_map(u)
    }

    fn plan() -> impl Strategy<Value = Vec<ApprovalStep>> {
        prop::collection::vec((prop::collection::btree_set(person(), 1..6), 1u32..4), 0..4)
            .prop_map(|steps| {
                steps
                    .into_iter()
                    .enumerate()
                    .map(|(i, (approvers, quorum))| ApprovalStep {
                        name: format!("s{i}"),
                        approvers,
                        quorum,
                        groups: Vec::new(),
                        users: Default::default(),
                    })
                    .collect()
            })
    }

    #[derive(Debug, Clone)]
    enum Act {
        Vote(UserName, bool),
        Delegate(UserName, UserName, i64),
    }

    fn act() -> impl Strategy<Value = Act> {
        prop_oneof![
            4 => (person(), prop::bool::weighted(0.9)).prop_map(|(p, ok)| Act::Vote(p, ok)),
            1 => (person(), person(), 1i64..50).prop_map(|(a, b, until)| Act::Delegate(a, b, until)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn approval_needs_quorum_of_distinct_eligible_non_party_approvers_per_step(
            steps in plan(),
            requester in person(),
            principal in person(),
            acts in prop::collection::vec(act(), 0..40),
        ) {
            let Ok(mut a) = Approval::new(steps.clone(), requester.clone(), Some(principal.clone())) else {
                return Ok(());
            };
            for (i, act) in acts.into_iter().enumerate() {
                let now = t(i as i64);
                match act {
                    Act::Vote(p, ok) => {
                        let d = if ok { Decision::Approve } else { Decision::Deny };
                        let _ = a.vote(&p, d, None, now);
                    }
                    Act::Delegate(f, to, until) => {
                        let _ = a.delegate(Delegation { from: f, to, until: t(until), reason: None, at: now }, now);
                    }
                }
            }
            for v in &a.votes {
                // Requester and principal never count, neither as voter nor as caster.
                prop_assert!(v.voter != requester && v.voter != principal);
                prop_assert!(v.cast_by != requester && v.cast_by != principal);
                // Every vote counts for an approver of its step.
                prop_assert!(steps[v.step].approvers.contains(&v.voter));
            }
            // One vote per approver per step.
            let mut seen = BTreeSet::new();
            for v in &a.votes {
                prop_assert!(seen.insert((v.step, v.voter.clone())), "two votes for {} in step {}", v.voter, v.step);
            }
            if a.outcome == Some(Decision::Approve) {
                prop_assert!(!a.votes.iter().any(|v| v.decision == Decision::Deny));
                for (i, s) in steps.iter().enumerate() {
                    let approvals: BTreeSet<_> = a.votes.iter()
                        .filter(|v| v.step == i && v.decision == Decision::Approve)
                        .map(|v| v.voter.clone())
                        .collect();
                    prop_assert!(approvals.len() >= s.quorum as usize);
                }
            }
            if a.votes.iter().any(|v| v.decision == Decision::Deny) {
                prop_assert_eq!(a.outcome, Some(Decision::Deny));
            }
        }
    }
}
