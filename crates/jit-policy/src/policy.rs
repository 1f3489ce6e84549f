//! [`Policy`]: a checked rules file, its Casbin enforcer and content hash, and the decisions
//! with their explanations.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use casbin::{CoreApi, DefaultModel, Enforcer, StringAdapter};
use jiff::SignedDuration;
use jit_domain::{ApprovalPlan, ApprovalStep, Escalation, Principal, UserName};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::compile::{self, ANY, Line, MODEL, group_subject};
use crate::directory::{Directory, Person};
use crate::error::{PolicyError, Problem};
use crate::rules::{PlanRule, Rules};

/// A rules file that passed every check, ready to decide.
pub struct Policy {
    rules: Rules,
    lines: Vec<Line>,
    /// One enforcer per action over that action's lines (same model, the policy split by
    /// `act`): a decision looks only at the lines that can match it.
    enforcers: BTreeMap<String, Enforcer>,
    /// Each line's position in the whole policy (file order).
    index: HashMap<Line, usize>,
    hash: String,
    path: PathBuf,
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("path", &self.path)
            .field("hash", &self.hash)
            .field("lines", &self.lines.len())
            .finish()
    }
}

/// One decision: allowed or not, the rule that decided (`None` when no rule allowed), and
/// a sentence saying why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub allowed: bool,
    pub rule: Option<String>,
    pub reason: String,
}

impl Verdict {
    fn allow(rule: String, reason: String) -> Self {
        Self {
            allowed: true,
            rule: Some(rule),
            reason,
        }
    }

    fn deny(reason: String) -> Self {
        Self {
            allowed: false,
            rule: None,
            reason,
        }
    }
}

/// A target as decisions see it: the account by id and by name (patterns may use either).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TargetKey {
    pub account_id: String,
    pub account_name: String,
    pub permission_set: String,
}

impl fmt::Display for TargetKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.account_id == self.account_name {
            write!(f, "{} in {}", self.permission_set, self.account_name)
        } else {
            write!(
                f,
                "{} in {} ({})",
                self.permission_set, self.account_name, self.account_id
            )
        }
    }
}

/// Everything decided about a request, for the audit trail and for `jit policy explain`.
#[derive(Debug, Clone)]
pub struct RequestDecision<'p> {
    /// One line per decision taken, in order.
    pub explanation: Vec<String>,
    /// The plan that applies.
    pub plan: &'p PlanRule,
    /// Its approval plan with the approvers the directory has now.
    pub approval: ApprovalPlan,
}

/// `sha256:` and the first 12 hex digits: enough to tell versions apart in a UI.
pub fn short_hash(hash: &str) -> &str {
    let n = "sha256:".len() + 12;
    &hash[..hash.len().min(n)]
}

impl Policy {
    pub async fn load(path: &Path) -> Result<Self, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|e| PolicyError {
            path: path.to_owned(),
            line: None,
            problem: format!("cannot read: {e}"),
        })?;
        Self::parse(&text, path).await
    }

    /// Parses and checks `text` (read from `path`, named in errors).
    pub async fn parse(text: &str, path: &Path) -> Result<Self, PolicyError> {
        let rules: Rules = serde_yaml_ng::from_str(text).map_err(|e| yaml_error(text, path, &e))?;
        rules.check(text).map_err(|p| p.in_file(path))?;
        let lines = compile::compile(&rules);
        let mut by_act: BTreeMap<String, Vec<Line>> = BTreeMap::new();
        for l in &lines {
            by_act.entry(l[1].clone()).or_default().push(l.clone());
        }
        let mut enforcers = BTreeMap::new();
        for (act, lines) in by_act {
            let e = Self::enforcer(&lines).await.map_err(|e| PolicyError {
                path: path.to_owned(),
                line: None,
                problem: format!("the compiled policy does not load in Casbin: {e}"),
            })?;
            enforcers.insert(act, e);
        }
        let index = lines
            .iter()
            .enumerate()
            .map(|(i, l)| (l.clone(), i))
            .collect();
        let digest = Sha256::digest(text.as_bytes());
        let hash = format!(
            "sha256:{}",
            digest
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        Ok(Self {
            rules,
            lines,
            enforcers,
            index,
            hash,
            path: path.to_owned(),
        })
    }

    async fn enforcer(lines: &[Line]) -> casbin::Result<Enforcer> {
        let model = DefaultModel::from_str(MODEL).await?;
        let adapter = StringAdapter::new(compile::to_csv(lines));
        Enforcer::new(model, adapter).await
    }

    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// `sha256:<hex>` of the rules file's bytes.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn model(&self) -> &'static str {
        MODEL
    }

    /// The generated Casbin policy (CSV).
    pub fn policy_csv(&self) -> String {
        compile::to_csv(&self.lines)
    }

    pub fn line_count(&self) -> usize {
        self.lines.len()
    }

    /// The checks that need the directory: every group and user the rules name exists,
    /// approver groups have members, and each step's quorum fits its approvers.
    pub fn check_directory(&self, dir: &Directory) -> Result<(), PolicyError> {
        let text = std::fs::read_to_string(&self.path).unwrap_or_default();
        let err = |anchors: &[&str], problem: String| {
            Problem::at(&text, anchors, problem).in_file(&self.path)
        };
        for g in self.rules.groups() {
            if dir.members(g).is_none() {
                return Err(err(
                    &[g],
                    format!("unknown group {g:?}: the directory has no such group"),
                ));
            }
        }
        for u in self.rules.users() {
            let known = UserName::parse(u).is_ok_and(|u| dir.has_user(&u));
            if !known {
                return Err(err(
                    &[u],
                    format!("unknown user {u:?}: the directory has no such user"),
                ));
            }
        }
        for p in &self.rules.plans {
            for s in &p.steps {
                let anchors = [
                    "plans:",
                    &format!("name: {}", p.name),
                    &format!("name: {}", s.name),
                ];
                let approvers = step_approvers(dir, &s.groups, &s.users);
                for g in &s.groups {
                    if dir.members(g).is_some_and(BTreeSet::is_empty) {
                        return Err(err(
                            &[&anchors[..], &[g.as_str()]].concat(),
                            format!(
                                "plans.{}.steps.{}: approver group {g} is empty",
                                p.name, s.name
                            ),
                        ));
                    }
                }
                if approvers.len() < s.quorum as usize {
                    return Err(err(
                        &[&anchors[..], &["quorum"]].concat(),
                        format!(
                            "plans.{}.steps.{}: quorum {} is larger than the group ({} approvers: {})",
                            p.name,
                            s.name,
                            s.quorum,
                            approvers.len(),
                            join(&approvers)
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

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
}

/// A YAML error as `file:line: problem`. A duplicate key is placed on its second occurrence
/// (the parser reports where the map starts).
fn yaml_error(text: &str, path: &Path, e: &serde_yaml_ng::Error) -> PolicyError {
    let mut line = e.location().map(|l| l.line());
    let mut problem = e.to_string();
    if let Some(l) = e.location() {
        let suffix = format!(" at line {} column {}", l.line(), l.column());
        if let Some(i) = problem.find(&suffix) {
            problem.replace_range(i..i + suffix.len(), "");
        }
    }
    if let Some(key) = problem
        .split("duplicate entry with key \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
    {
        let key_line = format!("{key}:");
        line = text
            .lines()
            .enumerate()
            .skip(line.unwrap_or(1).saturating_sub(1))
            .filter(|(_, l)| l.trim_start().starts_with(&key_line))
            .nth(1)
            .map(|(i, _)| i + 1)
            .or(line);
    }
    // A bad value (e.g. a duration) is reported where its mapping starts: move to the line
    // holding the value, and name its key.
    if let (Some(start), Some(value)) = (line, problem.split('"').nth(1))
        && !value.is_empty()
        && !problem.contains("duplicate entry")
        && let Some((i, l)) = text
            .lines()
            .enumerate()
            .skip(start.saturating_sub(1))
            .find(|(_, l)| l.contains(value))
    {
        line = Some(i + 1);
        let key = l
            .trim_start()
            .trim_start_matches("- ")
            .split(':')
            .next()
            .unwrap_or("");
        if let Some((at, rest)) = problem.split_once(": ")
            && !key.is_empty()
            && !at.contains(' ')
            && !at.ends_with(key)
        {
            problem = format!("{at}.{key}: {rest}");
        }
    }
    PolicyError {
        path: path.to_owned(),
        line,
        problem,
    }
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
fn step_approvers(dir: &Directory, groups: &[String], users: &[String]) -> BTreeSet<UserName> {
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

fn join(users: &BTreeSet<UserName>) -> String {
    users
        .iter()
        .map(UserName::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}
