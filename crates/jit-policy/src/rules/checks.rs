//! The checks of a rules file that need nothing but the file: every problem named with its
//! `file:line`.

use std::collections::BTreeSet;

use jiff::SignedDuration;

use super::{ESCALATION_STEP, Rules, name_char, pattern_char};
use crate::error::{Problem, locate, locate_second};

impl Rules {
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
