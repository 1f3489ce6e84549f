//! The decisions of a [`Policy`]: each a Casbin request whose first matching line names the
//! rule that decided, answered as a [`Verdict`] with the reason in words.

use std::collections::BTreeSet;
use std::fmt;

use jiff::SignedDuration;
use jit_domain::{ApprovalPlan, ApprovalStep, Escalation, Principal, UserName};

use super::{Policy, RequestDecision, TargetKey, Verdict};
use casbin::CoreApi;

use crate::compile::{self, ANY, Line, group_subject};
use crate::directory::{Directory, Person};
use crate::rules::{ESCALATION_STEP, PlanRule};

impl Policy {
    /// The first policy line (in file order) that allows one of `subjects` to do `act` on
    /// any of `objs` / `sel`: `(subject, rule)`. Ties between objects go to the earlier line.
    /// With `any`, the first subject and object found allowed decide (order does not
    /// matter where any rule allowing is enough).
    fn first_match(
        &self,
        subjects: &[String],
        act: &str,
        objs: &[&str],
        sel: &str,
        any: bool,
    ) -> Option<(String, String)> {
        let enforcer = self.enforcers.get(act)?;
        let mut best: Option<(usize, String, String)> = None;
        for sub in subjects {
            for obj in objs {
                let request = vec![sub.as_str(), act, obj, sel];
                let Ok((true, matched)) = enforcer.enforce_ex(request) else {
                    continue;
                };
                let Some(line) = matched.first() else {
                    continue;
                };
                let index = line
                    .clone()
                    .try_into()
                    .ok()
                    .and_then(|l: Line| self.index.get(&l).copied())
                    .unwrap_or(usize::MAX);
                if best.as_ref().is_none_or(|(i, _, _)| index < *i) {
                    best = Some((index, sub.clone(), line[4].clone()));
                }
                if any {
                    return best.map(|(_, sub, rule)| (sub, rule));
                }
            }
        }
        best.map(|(_, sub, rule)| (sub, rule))
    }

    /// One raw Casbin request: the rule of the first policy line that allows it, if any.
    /// (What `jit policy compile`'s files answer in any Casbin implementation.)
    pub fn enforce(&self, sub: &str, act: &str, obj: &str, sel: &str) -> Option<String> {
        self.first_match(&[sub.to_owned()], act, &[obj], sel, false)
            .map(|(_, rule)| rule)
    }

    /// May `who` request `t` (for anyone they may act for)?
    pub fn may_request(&self, who: &Person, t: &TargetKey) -> Verdict {
        let objs = [t.account_id.as_str(), t.account_name.as_str()];
        match self.first_match(&who.subjects(), "request", &objs, &t.permission_set, true) {
            Some((sub, rule)) => Verdict::allow(
                rule.clone(),
                format!("{} may request {t}: {rule} allows {sub}", who.user),
            ),
            None => Verdict::deny(format!(
                "{} may not request {t}: no eligibility rule allows {}",
                who.user,
                who.describe()
            )),
        }
    }

    /// May `who` ask for access for `principal` (themselves always)?
    pub fn may_act_for(&self, who: &Person, principal: &PrincipalRef) -> Verdict {
        if let PrincipalRef::User(p) = principal
            && p.user == who.user
        {
            return Verdict::allow("self".into(), format!("{} asks for themselves", who.user));
        }
        let objs: Vec<String> = match principal {
            PrincipalRef::User(p) => p.groups.iter().map(|g| group_subject(g)).collect(),
            PrincipalRef::Group(g) => vec![group_subject(g)],
        };
        let objs: Vec<&str> = objs.iter().map(String::as_str).collect();
        let subjects: Vec<String> = who.groups.iter().map(|g| group_subject(g)).collect();
        match self.first_match(&subjects, "on_behalf", &objs, "*", true) {
            Some((sub, rule)) => Verdict::allow(
                rule.clone(),
                format!(
                    "{} may ask on behalf of {principal}: {rule} allows {sub}",
                    who.user
                ),
            ),
            None => Verdict::deny(format!(
                "{} may not ask for access on behalf of {principal}: no on-behalf rule allows {}",
                who.user,
                who.describe()
            )),
        }
    }

    /// The plan that applies to a ticket with these targets: the first plan (in file order)
    /// that matches any of them, so the strictest wins when listed first.
    pub fn plan_for(&self, targets: &[TargetKey]) -> Result<(&PlanRule, String), String> {
        let mut best: Option<(usize, &PlanRule, &TargetKey)> = None;
        for t in targets {
            let objs = [t.account_id.as_str(), t.account_name.as_str()];
            let subjects = [ANY.to_owned()];
            if let Some((_, rule)) =
                self.first_match(&subjects, "plan", &objs, &t.permission_set, false)
            {
                let name = rule.trim_start_matches("plan:");
                if let Some((i, p)) = self
                    .rules
                    .plans
                    .iter()
                    .enumerate()
                    .find(|(_, p)| p.name == name)
                    && best.as_ref().is_none_or(|(b, _, _)| i < *b)
                {
                    best = Some((i, p, t));
                }
            }
        }
        match best {
            Some((_, p, t)) => Ok((
                p,
                format!("plan {} applies (plan:{} matches {t})", p.name, p.name),
            )),
            None => Err(format!(
                "targets: no approval plan covers {}",
                targets
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    /// May `who` vote in step `step` (or [`ESCALATION_STEP`]) of plan `plan` on a ticket of
    /// `requester` for `principal`? Never for the requester or the principal, whatever the
    /// rules say.
    pub fn may_approve(
        &self,
        who: &Person,
        plan: &str,
        step: &str,
        requester: &UserName,
        principal: Option<&UserName>,
    ) -> Verdict {
        if who.user == *requester {
            return Verdict::deny(format!(
                "{} is the requester and cannot approve their own ticket",
                who.user
            ));
        }
        if principal == Some(&who.user) {
            return Verdict::deny(format!(
                "{} is the principal and cannot approve access for themselves",
                who.user
            ));
        }
        match self.first_match(&who.subjects(), "approve", &[plan], step, true) {
            Some((sub, rule)) => Verdict::allow(
                rule.clone(),
                format!(
                    "{} may approve step {step} of plan {plan}: {rule} allows {sub}",
                    who.user
                ),
            ),
            None => Verdict::deny(format!(
                "{} may not approve step {step} of plan {plan}: no rule names {}",
                who.user,
                who.describe()
            )),
        }
    }

    /// May the service whose token subject is `service` ask for access for `user`?
    pub fn may_act_as(&self, service: &str, user: &UserName) -> Verdict {
        let sub = [compile::service_subject(service)];
        match self.first_match(&sub, "act_for", &[user.as_str()], "*", true) {
            Some((_, rule)) => Verdict::allow(
                rule.clone(),
                format!("{service} may ask for access for {user}: {rule}"),
            ),
            None => Verdict::deny(format!(
                "{service} may not ask for access for {user}: no services rule grants it"
            )),
        }
    }

    /// The user patterns the service `service` may act for.
    pub fn acts_for(&self, service: &str) -> Vec<String> {
        self.rules
            .services
            .iter()
            .filter(|r| r.subjects.iter().any(|s| s == service))
            .flat_map(|r| r.users.iter().cloned())
            .collect()
    }

    /// May `who` revoke any ticket?
    pub fn is_admin(&self, who: &Person) -> Verdict {
        match self.first_match(&who.subjects(), "admin", &["*"], "*", true) {
            Some((sub, rule)) => Verdict::allow(rule, format!("{} is an admin ({sub})", who.user)),
            None => Verdict::deny(format!("{} is not an admin", who.user)),
        }
    }

    /// The approval plan of `rule` with the approvers the directory has now.
    pub fn approval_plan(
        &self,
        rule: &PlanRule,
        dir: &Directory,
        max_approval_timeout: SignedDuration,
    ) -> Result<ApprovalPlan, String> {
        let mut steps = Vec::new();
        for s in &rule.steps {
            for g in &s.groups {
                if dir.members(g).is_none() {
                    return Err(format!(
                        "plan {}: approver group {g} does not exist in the directory",
                        rule.name
                    ));
                }
            }
            steps.push(ApprovalStep {
                name: s.name.clone(),
                approvers: step_approvers(dir, &s.groups, &s.users),
                quorum: s.quorum,
                groups: s.groups.clone(),
                users: s
                    .users
                    .iter()
                    .filter_map(|u| UserName::parse(u).ok())
                    .collect(),
            });
        }
        let escalation = rule.escalation.as_ref().map(|e| Escalation {
            after: e.after,
            name: e.groups.join(", "),
            approvers: step_approvers(dir, &e.groups, &[]),
            groups: e.groups.clone(),
        });
        let admins = self
            .rules
            .admins
            .users
            .iter()
            .filter_map(|u| UserName::parse(u).ok())
            .filter(|u| dir.has_user(u))
            .chain(step_approvers(dir, &self.rules.admins.groups, &[]))
            .collect();
        Ok(ApprovalPlan {
            name: rule.name.clone(),
            steps,
            max_duration: rule.max_duration,
            max_total: rule.max_total,
            extension_needs_approval: rule.extension_needs_approval,
            approval_timeout: rule.approval_timeout.min(max_approval_timeout),
            break_glass_ratify_within: rule.break_glass_ratify_within,
            remind_every: rule.remind_every,
            escalation,
            admins,
            notify: rule.notify.clone(),
        })
    }

    /// Whether `requester` may (still) ask for `targets` for `principal`: both exist, the
    /// requester may act for the principal and request every target. `Ok` holds one line per
    /// decision; `Err` is the refusal, naming what is wrong.
    pub fn check_request(
        &self,
        dir: &Directory,
        requester: &UserName,
        principal: &Principal,
        targets: &[TargetKey],
    ) -> Result<Vec<String>, String> {
        let Some(who) = dir.person(requester) else {
            return Err(format!(
                "requester: {requester} is not a user of the directory"
            ));
        };
        let principal_ref = match principal {
            Principal::User(u) => match dir.person(u) {
                Some(p) => PrincipalRef::User(p),
                None => return Err(format!("principal: {u} is not a user of the directory")),
            },
            Principal::Group(g) => PrincipalRef::Group(g.as_str().to_owned()),
        };
        let mut explanation = Vec::new();
        let on_behalf = self.may_act_for(&who, &principal_ref);
        if !on_behalf.allowed {
            return Err(format!("principal: {}", on_behalf.reason));
        }
        explanation.push(on_behalf.reason);
        if targets.is_empty() {
            return Err("targets: nothing to request".into());
        }
        for t in targets {
            let v = self.may_request(&who, t);
            if !v.allowed {
                return Err(format!("targets: {}", v.reason));
            }
            explanation.push(v.reason);
        }
        Ok(explanation)
    }

    /// The whole decision on a new request: [`Policy::check_request`], then the plan that
    /// applies with its approvers.
    pub fn decide_request(
        &self,
        dir: &Directory,
        requester: &UserName,
        principal: &Principal,
        targets: &[TargetKey],
        max_approval_timeout: SignedDuration,
    ) -> Result<RequestDecision<'_>, String> {
        let mut explanation = self.check_request(dir, requester, principal, targets)?;
        let (plan, why) = self.plan_for(targets)?;
        explanation.push(why);
        let approval = self.approval_plan(plan, dir, max_approval_timeout)?;
        // The same rule the ticket applies: each step's quorum must be reachable without the
        // requester and the principal.
        jit_domain::Approval::new(
            approval.steps.clone(),
            requester.clone(),
            principal.user().cloned(),
        )
        .map_err(|e| format!("plan {}: {e}", plan.name))?;
        Ok(RequestDecision {
            explanation,
            plan,
            approval,
        })
    }

    /// Why `who` may or may not vote on a request of `requester` for `principal` for
    /// `targets`: the plan that applies, then one verdict per step (and the escalation), each
    /// with its reason; allowed when any step allows. With the plan's approvers as `dir`
    /// has them.
    pub fn explain_approve(
        &self,
        dir: &Directory,
        who: &UserName,
        requester: &UserName,
        principal: &Principal,
        targets: &[TargetKey],
        max_approval_timeout: SignedDuration,
    ) -> Explained {
        let mut x = Explained::default();
        let Some(person) = dir.person(who) else {
            x.decisions
                .push(format!("{who} is not a user of the directory"));
            return x;
        };
        match self.plan_for(targets) {
            Err(e) => x.decisions.push(e),
            Ok((plan, why)) => {
                x.decisions.push(why);
                let principal_user = principal.user().cloned();
                let steps = plan
                    .steps
                    .iter()
                    .map(|s| s.name.as_str())
                    .chain(plan.escalation.as_ref().map(|_| ESCALATION_STEP));
                for step in steps {
                    let v = self.may_approve(
                        &person,
                        &plan.name,
                        step,
                        requester,
                        principal_user.as_ref(),
                    );
                    x.allowed |= v.allowed;
                    x.decisions.push(v.reason);
                }
                x.plan = self.approval_plan(plan, dir, max_approval_timeout).ok();
            }
        }
        x
    }

    /// Why `requester` may or may not ask for `targets` for `principal` (the whole decision
    /// a new request gets, with the plan it would wait for).
    pub fn explain_request(
        &self,
        dir: &Directory,
        requester: &UserName,
        principal: &Principal,
        targets: &[TargetKey],
        max_approval_timeout: SignedDuration,
    ) -> Explained {
        match self.decide_request(dir, requester, principal, targets, max_approval_timeout) {
            Ok(d) => Explained {
                allowed: true,
                decisions: d.explanation.clone(),
                plan: Some(d.approval),
            },
            Err(refusal) => Explained {
                allowed: false,
                decisions: vec![refusal],
                plan: None,
            },
        }
    }
}

/// A decision explained: allowed or not, one line per rule looked at, and the plan (with its
/// approvers) where one applies.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Explained {
    pub allowed: bool,
    pub decisions: Vec<String>,
    pub plan: Option<ApprovalPlan>,
}

/// The principal of a request as decisions see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalRef {
    User(Person),
    Group(String),
}

impl fmt::Display for PrincipalRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PrincipalRef::User(p) => write!(f, "{}", p.user),
            PrincipalRef::Group(g) => write!(f, "group {g}"),
        }
    }
}

/// Members of `groups` and the listed `users`, as far as the directory knows them.
pub(super) fn step_approvers(
    dir: &Directory,
    groups: &[String],
    users: &[String],
) -> BTreeSet<UserName> {
    let mut out: BTreeSet<UserName> = groups
        .iter()
        .filter_map(|g| dir.members(g))
        .flatten()
        .cloned()
        .collect();
    out.extend(
        users
            .iter()
            .filter_map(|u| UserName::parse(u).ok())
            .filter(|u| dir.has_user(u)),
    );
    out
}

pub(super) fn join(users: &BTreeSet<UserName>) -> String {
    users
        .iter()
        .map(UserName::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}
