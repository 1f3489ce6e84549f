//! [`Policy`]: a checked rules file, its Casbin enforcer and content hash, and the decisions
//! with their explanations.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use casbin::{CoreApi, DefaultModel, Enforcer, StringAdapter};
use jit_domain::{ApprovalPlan, UserName};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::compile::{self, Line, MODEL};
use crate::directory::Directory;
use crate::error::{PolicyError, Problem};
use crate::rules::{PlanRule, Rules};

mod decisions;

pub use decisions::{Explained, PrincipalRef};
use decisions::{join, step_approvers};

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
        let hash = format!("sha256:{}", hex::encode(digest));
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
