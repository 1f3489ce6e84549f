//! The rules file as people write it (YAML), and its checks that need nothing but the file.
//!
//! ```yaml
//! admins: { groups: [security], users: [erin] }
//! bundles:
//!   oncall:
//!     targets: [{ account: prod, permission_set: ReadOnly }]
//!     include: [other-bundle]
//! eligibility:          # who may ask for what (any rule that matches allows)
//!   - { name: engineers, groups: [engineers], accounts: ["*"], permission_sets: [ReadOnly] }
//! on_behalf:            # who may ask for whom
//!   - { name: sre-for-engineers, requesters: [sre], principals: [engineers] }
//! plans:                # how it is approved (the first plan that matches applies)
//!   - name: standard
//!     accounts: ["*"]
//!     permission_sets: ["*"]
//!     steps: [{ name: sre, groups: [sre], quorum: 1 }]
//!     max_duration: 12h
//!     max_total: 24h
//!     approval_timeout: 24h
//! ```

use std::collections::{BTreeMap, BTreeSet};

use jiff::SignedDuration;
use jit_domain::duration::{de as duration, de_opt as opt_duration};
use serde::{Deserialize, Serialize};

use crate::error::{Problem, locate, locate_second};

/// Users and groups, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subjects {
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub users: Vec<String>,
}

impl Subjects {
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty() && self.users.is_empty()
    }
}

/// The whole rules file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    /// May revoke any ticket.
    #[serde(default)]
    pub admins: Subjects,
    /// Named sets of targets one request can ask for at once.
    #[serde(default, deserialize_with = "unique_keys")]
    pub bundles: BTreeMap<String, Bundle>,
    /// Who may request which permission sets in which accounts. Any matching rule allows.
    pub eligibility: Vec<EligibilityRule>,
    /// Who may ask on behalf of whom (asking for oneself needs no rule).
    #[serde(default)]
    pub on_behalf: Vec<OnBehalfRule>,
    /// How requests are approved; the first plan that matches a ticket's targets applies, so
    /// the strictest come first.
    pub plans: Vec<PlanRule>,
    /// Services (API callers by token subject) that may ask for access for users.
    #[serde(default)]
    pub services: Vec<ServiceRule>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceRule {
    pub name: String,
    /// The token subjects of the service.
    pub subjects: Vec<String>,
    /// The users it may act for (patterns; `*` for anyone).
    pub users: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    #[serde(default)]
    pub description: String,
    /// Other bundles whose targets this one has too.
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default)]
    pub targets: Vec<BundleTarget>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleTarget {
    /// An account name or id.
    pub account: String,
    pub permission_set: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EligibilityRule {
    pub name: String,
    /// Members of these groups ...
    #[serde(default)]
    pub groups: Vec<String>,
    /// ... and these users ...
    #[serde(default)]
    pub users: Vec<String>,
    /// ... may request these permission sets (patterns) in these accounts (names or ids,
    /// patterns).
    pub accounts: Vec<String>,
    pub permission_sets: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnBehalfRule {
    pub name: String,
    /// Members of these groups ...
    pub requesters: Vec<String>,
    /// ... may ask for members of these groups (or for these groups themselves).
    pub principals: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanRule {
    pub name: String,
    /// Account names or ids (patterns).
    pub accounts: Vec<String>,
    /// Permission-set names (patterns).
    pub permission_sets: Vec<String>,
    /// Empty: auto-approved.
    #[serde(default)]
    pub steps: Vec<StepRule>,
    #[serde(deserialize_with = "duration")]
    pub max_duration: SignedDuration,
    #[serde(deserialize_with = "duration")]
    pub max_total: SignedDuration,
    #[serde(default)]
    pub extension_needs_approval: bool,
    #[serde(deserialize_with = "duration")]
    pub approval_timeout: SignedDuration,
    /// Break-glass allowed, to be ratified within this time.
    #[serde(default, deserialize_with = "opt_duration")]
    pub break_glass_ratify_within: Option<SignedDuration>,
    /// Remind pending approvers this often.
    #[serde(default, deserialize_with = "opt_duration")]
    pub remind_every: Option<SignedDuration>,
    /// Let a fallback group vote after a while without a decision.
    #[serde(default)]
    pub escalation: Option<EscalationRule>,
    /// Where chat messages go: a Slack `channel` for the vote message (else each approver
    /// directly, `direct: true`), and Teams (`teams: true`).
    #[serde(default)]
    pub notify: jit_domain::NotifyRoute,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationRule {
    #[serde(deserialize_with = "duration")]
    pub after: SignedDuration,
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepRule {
    pub name: String,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub users: Vec<String>,
    pub quorum: u32,
}

/// A map that refuses a key given twice (YAML parsers keep the last one silently).
fn unique_keys<'de, D, V>(d: D) -> Result<BTreeMap<String, V>, D::Error>
where
    D: serde::Deserializer<'de>,
    V: Deserialize<'de>,
{
    struct Unique<V>(std::marker::PhantomData<V>);
    impl<'de, V: Deserialize<'de>> serde::de::Visitor<'de> for Unique<V> {
        type Value = BTreeMap<String, V>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a map of bundles by name")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut m: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some(k) = m.next_key::<String>()? {
                if out.contains_key(&k) {
                    return Err(serde::de::Error::custom(format!(
                        "duplicate entry with key {k:?}"
                    )));
                }
                let v = m.next_value()?;
                out.insert(k, v);
            }
            Ok(out)
        }
    }
    d.deserialize_map(Unique(std::marker::PhantomData))
}

/// The name of the pseudo-step escalation approvers vote in.
pub const ESCALATION_STEP: &str = "escalation";

/// Characters allowed in patterns besides `*`: those of account ids, account names and
/// permission-set names. No `?`, `[`, `{` or `,`: other Casbin implementations read them
/// differently (or as CSV separators), so the policy would not mean the same everywhere.
fn pattern_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "+=.@_-".contains(c)
}

/// Rule, plan, step and bundle names: they become parts of Casbin policy values.
fn name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "._-".contains(c)
}

impl Rules {
    /// Every group the rules mention (their members are the only memberships decisions need).
    pub fn groups(&self) -> BTreeSet<&str> {
        let mut out: BTreeSet<&str> = BTreeSet::new();
        out.extend(self.admins.groups.iter().map(String::as_str));
        for r in &self.eligibility {
            out.extend(r.groups.iter().map(String::as_str));
        }
        for r in &self.on_behalf {
            out.extend(r.requesters.iter().map(String::as_str));
            out.extend(r.principals.iter().map(String::as_str));
        }
        for p in &self.plans {
            for s in &p.steps {
                out.extend(s.groups.iter().map(String::as_str));
            }
            if let Some(e) = &p.escalation {
                out.extend(e.groups.iter().map(String::as_str));
            }
        }
        out
    }

    /// Every user the rules name.
    pub fn users(&self) -> BTreeSet<&str> {
        let mut out: BTreeSet<&str> = BTreeSet::new();
        out.extend(self.admins.users.iter().map(String::as_str));
        for r in &self.eligibility {
            out.extend(r.users.iter().map(String::as_str));
        }
        for p in &self.plans {
            for s in &p.steps {
                out.extend(s.users.iter().map(String::as_str));
            }
        }
        out
    }

    pub fn plan(&self, name: &str) -> Option<&PlanRule> {
        self.plans.iter().find(|p| p.name == name)
    }

    /// The targets of bundle `name`, its includes' first, each once.
    pub fn bundle_targets(&self, name: &str) -> Option<Vec<BundleTarget>> {
        let mut out = Vec::new();
        let mut seen = BTreeSet::new();
        self.collect_bundle(name, &mut out, &mut seen)?;
        Some(out)
    }

    fn collect_bundle(
        &self,
        name: &str,
        out: &mut Vec<BundleTarget>,
        seen: &mut BTreeSet<String>,
    ) -> Option<()> {
        let b = self.bundles.get(name)?;
        if !seen.insert(name.to_owned()) {
            return Some(()); // cycles are refused when loading; a diamond is fine
        }
        for inc in &b.include {
            self.collect_bundle(inc, out, seen)?;
        }
        for t in &b.targets {
            if !out.contains(t) {
                out.push(t.clone());
            }
        }
        Some(())
    }

    /// The checks that need nothing but the file. `text` is the file's text, to name lines.
    pub(crate) fn check(&self, text: &str) -> Result<(), Problem> {
        let at = |anchors: &[&str], problem: String| Problem {
            line: locate(text, anchors),
            problem,
        };
        if self.plans.is_empty() {
            return Err(at(&["plans"], "plans: at least one plan is needed".into()));
        }
        if self.eligibility.is_empty() {
            return Err(at(
                &["eligibility"],
                "eligibility: at least one rule is needed (nobody could request anything)".into(),
            ));
        }
        self.check_admins(text)?;
        self.check_bundles(text)?;
        self.check_eligibility(text)?;
        self.check_on_behalf(text)?;
        self.check_services(text)?;
        self.check_plans(text)
    }

    fn check_admins(&self, text: &str) -> Result<(), Problem> {
        for g in &self.admins.groups {
            check_group(text, &["admins:", g], "admins.groups", g)?;
        }
        for u in &self.admins.users {
            check_user(text, &["admins:", u], "admins.users", u)?;
        }
        Ok(())
    }

    fn check_bundles(&self, text: &str) -> Result<(), Problem> {
        for (name, b) in &self.bundles {
            let here = format!("bundles.{name}");
            let anchors = ["bundles:", &format!("{name}:")];
            check_name(text, &anchors, &here, name)?;
            if b.targets.is_empty() && b.include.is_empty() {
                return Err(Problem::at(
                    text,
                    &anchors,
                    format!("{here}: has no targets and includes no bundle"),
                ));
            }
            for inc in &b.include {
                if !self.bundles.contains_key(inc) {
                    return Err(Problem::at(
                        text,
                        &[&anchors[..], &[inc.as_str()]].concat(),
                        format!("{here}.include: there is no bundle called {inc:?}"),
                    ));
                }
            }
            for t in &b.targets {
                let a = [&anchors[..], &[t.permission_set.as_str()]].concat();
                if let Err(e) = jit_domain::PermissionSetName::parse(&t.permission_set) {
                    return Err(Problem::at(text, &a, format!("{here}.targets: {e}")));
                }
                if t.account.is_empty() || !t.account.chars().all(pattern_char) {
                    return Err(Problem::at(
                        text,
                        &a,
                        format!(
                            "{here}.targets: {:?} is not an account name or id",
                            t.account
                        ),
                    ));
                }
            }
            if let Some(cycle) = self.include_cycle(name) {
                return Err(Problem::at(
                    text,
                    &anchors,
                    format!(
                        "{here}.include: bundles include each other in a cycle: {}",
                        cycle.join(" -> ")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// A path of includes from `start` back to itself, if there is one.
    fn include_cycle(&self, start: &str) -> Option<Vec<String>> {
        fn walk(
            rules: &Rules,
            at: &str,
            start: &str,
            path: &mut Vec<String>,
            seen: &mut BTreeSet<String>,
        ) -> bool {
            let Some(b) = rules.bundles.get(at) else {
                return false;
            };
            for inc in &b.include {
                path.push(inc.clone());
                if inc == start {
                    return true;
                }
                if seen.insert(inc.clone()) && walk(rules, inc, start, path, seen) {
                    return true;
                }
                path.pop();
            }
            false
        }
        let mut path = vec![start.to_owned()];
        walk(self, start, start, &mut path, &mut BTreeSet::new()).then_some(path)
    }

    fn check_eligibility(&self, text: &str) -> Result<(), Problem> {
        let mut names = BTreeSet::new();
        for r in &self.eligibility {
            let here = format!("eligibility.{}", r.name);
            let anchors = ["eligibility:", &format!("name: {}", r.name)];
            check_name(text, &anchors, &here, &r.name)?;
            if !names.insert(&r.name) {
                return Err(Problem {
                    line: locate_second(text, "eligibility:", &format!("name: {}", r.name)),
                    problem: format!("{here}: a second eligibility rule has this name"),
                });
            }
            if r.groups.is_empty() && r.users.is_empty() {
                return Err(Problem::at(
                    text,
                    &anchors,
                    format!("{here}: names no group or user who may request"),
                ));
            }
            for g in &r.groups {
                check_group(text, &[&anchors[..], &[g]].concat(), &here, g)?;
            }
            for u in &r.users {
                check_user(text, &[&anchors[..], &[u]].concat(), &here, u)?;
            }
            check_patterns(text, &anchors, &here, "accounts", &r.accounts)?;
            check_patterns(text, &anchors, &here, "permission_sets", &r.permission_sets)?;
        }
        Ok(())
    }

    fn check_on_behalf(&self, text: &str) -> Result<(), Problem> {
        let mut names = BTreeSet::new();
        for r in &self.on_behalf {
            let here = format!("on_behalf.{}", r.name);
            let anchors = ["on_behalf:", &format!("name: {}", r.name)];
            check_name(text, &anchors, &here, &r.name)?;
            if !names.insert(&r.name) {
                return Err(Problem {
                    line: locate_second(text, "on_behalf:", &format!("name: {}", r.name)),
                    problem: format!("{here}: a second on-behalf rule has this name"),
                });
            }
            if r.requesters.is_empty() || r.principals.is_empty() {
                return Err(Problem::at(
                    text,
                    &anchors,
                    format!("{here}: requesters and principals must not be empty"),
                ));
            }
            for g in r.requesters.iter().chain(&r.principals) {
                check_group(text, &[&anchors[..], &[g]].concat(), &here, g)?;
            }
        }
        Ok(())
    }

    fn check_services(&self, text: &str) -> Result<(), Problem> {
        let mut names = BTreeSet::new();
        for r in &self.services {
            let here = format!("services.{}", r.name);
            let anchors = ["services:", &format!("name: {}", r.name)];
            check_name(text, &anchors, &here, &r.name)?;
            if !names.insert(&r.name) {
                return Err(Problem {
                    line: locate_second(text, "services:", &format!("name: {}", r.name)),
                    problem: format!("{here}: a second service has this name"),
                });
            }
            if r.subjects.is_empty() {
                return Err(Problem::at(
                    text,
                    &anchors,
                    format!("{here}: names no subject"),
                ));
            }
            for s in &r.subjects {
                check_user(text, &[&anchors[..], &[s.as_str()]].concat(), &here, s)?;
            }
            check_patterns(text, &anchors, &here, "users", &r.users)?;
        }
        Ok(())
    }

    fn check_plans(&self, text: &str) -> Result<(), Problem> {
        let mut names = BTreeSet::new();
        for p in &self.plans {
            let here = format!("plans.{}", p.name);
            let anchors = ["plans:", &format!("name: {}", p.name)];
            let problem = |extra: &[&str], what: String| {
                Problem::at(
                    text,
                    &[&anchors[..], extra].concat(),
                    format!("{here}{what}"),
                )
            };
            check_name(text, &anchors, &here, &p.name)?;
            if !names.insert(&p.name) {
                return Err(Problem {
                    line: locate_second(text, "plans:", &format!("name: {}", p.name)),
                    problem: format!("{here}: a second plan has this name"),
                });
            }
            check_patterns(text, &anchors, &here, "accounts", &p.accounts)?;
            check_patterns(text, &anchors, &here, "permission_sets", &p.permission_sets)?;
            if p.max_duration <= SignedDuration::ZERO {
                return Err(problem(
                    &["max_duration"],
                    ".max_duration: must be longer than zero".into(),
                ));
            }
            if p.max_duration > p.max_total {
                return Err(problem(
                    &["max_total"],
                    format!(
                        ".max_total: {:#} is shorter than max_duration {:#}",
                        p.max_total, p.max_duration
                    ),
                ));
            }
            if p.approval_timeout <= SignedDuration::ZERO {
                return Err(problem(
                    &["approval_timeout"],
                    ".approval_timeout: must be longer than zero".into(),
                ));
            }
            let mut steps = BTreeSet::new();
            for s in &p.steps {
                let step_anchor = format!("name: {}", s.name);
                let at = format!("{here}.steps.{}", s.name);
                check_name(
                    text,
                    &[&anchors[..], &[&step_anchor]].concat(),
                    &at,
                    &s.name,
                )?;
                if !steps.insert(&s.name) || s.name == ESCALATION_STEP {
                    return Err(problem(
                        &[&step_anchor],
                        format!(
                            ".steps.{}: step names must be unique and not {ESCALATION_STEP:?}",
                            s.name
                        ),
                    ));
                }
                if s.quorum == 0 {
                    return Err(problem(
                        &[&step_anchor],
                        format!(".steps.{}: quorum must be at least 1", s.name),
                    ));
                }
                if s.groups.is_empty() && s.users.is_empty() {
                    return Err(problem(
                        &[&step_anchor],
                        format!(
                            ".steps.{}: the approver group is empty (names no group or user)",
                            s.name
                        ),
                    ));
                }
                for g in &s.groups {
                    check_group(text, &[&anchors[..], &[&step_anchor, g]].concat(), &at, g)?;
                }
                for u in &s.users {
                    check_user(text, &[&anchors[..], &[&step_anchor, u]].concat(), &at, u)?;
                }
                // Group sizes are checked against the directory.
                if s.groups.is_empty() && s.users.len() < s.quorum as usize {
                    return Err(problem(
                        &[&step_anchor],
                        format!(
                            ".steps.{}: quorum {} is larger than its {} approvers",
                            s.name,
                            s.quorum,
                            s.users.len()
                        ),
                    ));
                }
            }
            if let Some(e) = &p.escalation {
                if e.groups.is_empty() {
                    return Err(problem(
                        &["escalation"],
                        ".escalation: names no group".into(),
                    ));
                }
                for g in &e.groups {
                    check_group(text, &[&anchors[..], &["escalation", g]].concat(), &here, g)?;
                }
            }
        }
        Ok(())
    }
}

fn check_name(text: &str, anchors: &[&str], here: &str, name: &str) -> Result<(), Problem> {
    if name.is_empty() || !name.chars().all(name_char) {
        return Err(Problem::at(
            text,
            anchors,
            format!("{here}: the name {name:?} may only use letters, digits, '.', '_' and '-'"),
        ));
    }
    Ok(())
}

fn check_group(text: &str, anchors: &[&str], here: &str, g: &str) -> Result<(), Problem> {
    if let Err(e) = jit_domain::GroupName::parse(g) {
        return Err(Problem::at(text, anchors, format!("{here}: {e}")));
    }
    if g.contains(',') || g.contains('"') {
        return Err(Problem::at(
            text,
            anchors,
            format!("{here}: group {g:?}: commas and quotes cannot be used in policy names"),
        ));
    }
    Ok(())
}

fn check_user(text: &str, anchors: &[&str], here: &str, u: &str) -> Result<(), Problem> {
    if let Err(e) = jit_domain::UserName::parse(u) {
        return Err(Problem::at(text, anchors, format!("{here}: {e}")));
    }
    if u.contains(',') || u.contains('"') {
        return Err(Problem::at(
            text,
            anchors,
            format!("{here}: user {u:?}: commas and quotes cannot be used in policy names"),
        ));
    }
    Ok(())
}

fn check_patterns(
    text: &str,
    anchors: &[&str],
    here: &str,
    field: &str,
    patterns: &[String],
) -> Result<(), Problem> {
    if patterns.is_empty() {
        return Err(Problem::at(
            text,
            &[anchors, &[field]].concat(),
            format!("{here}.{field}: must not be empty (use \"*\" for any)"),
        ));
    }
    for p in patterns {
        if let Some(bad) = p.chars().find(|c| *c != '*' && !pattern_char(*c)) {
            return Err(Problem::at(
                text,
                &[anchors, &[field, p.as_str()]].concat(),
                format!(
                    "{here}.{field}: bad pattern {p:?}: {bad:?} is not allowed (patterns use \
                     letters, digits, + = . @ _ - and * for any run of characters)"
                ),
            ));
        }
        if p.is_empty() {
            return Err(Problem::at(
                text,
                &[anchors, &[field]].concat(),
                format!("{here}.{field}: empty pattern"),
            ));
        }
    }
    Ok(())
}

/// Whether `pattern` (`*` = any run of characters) matches all of `s`. The same meaning
/// Casbin's `globMatch` gives it for the characters patterns may use.
pub fn glob_match(pattern: &str, s: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == s;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !s.starts_with(first) || s.len() < first.len() + last.len() || !s.ends_with(last) {
        return false;
    }
    let mut rest = &s[first.len()..s.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}
