//! The access rules of the local stack until the policy engine decides them: bundles,
//! on-behalf rules, approval plans (matched by account and permission-set patterns, first
//! match wins) and admins. Read from the file named by `worker.access_file`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use jiff::SignedDuration;
use serde::Deserialize;

use crate::{ConfigError, duration};

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AccessRules {
    /// May revoke any ticket.
    #[serde(default)]
    pub admins: Vec<String>,
    /// Named sets of targets one request can ask for at once.
    #[serde(default)]
    pub bundles: BTreeMap<String, Vec<BundleTarget>>,
    /// Who may ask on behalf of whom (by group); asking for oneself needs no rule.
    #[serde(default)]
    pub on_behalf: Vec<OnBehalfRule>,
    /// First match wins: list the strictest first.
    pub plans: Vec<PlanRule>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BundleTarget {
    /// An account name or id.
    pub account: String,
    pub permission_set: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OnBehalfRule {
    /// Members of these groups ...
    pub requesters: Vec<String>,
    /// ... may ask for members of these groups (or for these groups themselves).
    pub principals: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PlanRule {
    pub name: String,
    /// Account names or ids; `*` matches any run of characters.
    pub accounts: Vec<String>,
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
    #[serde(default, deserialize_with = "opt_duration")]
    pub break_glass_ratify_within: Option<SignedDuration>,
    /// Remind pending approvers this often.
    #[serde(default, deserialize_with = "opt_duration")]
    pub remind_every: Option<SignedDuration>,
    /// Let a fallback group vote after a while without a decision.
    #[serde(default)]
    pub escalation: Option<EscalationRule>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EscalationRule {
    #[serde(deserialize_with = "duration")]
    pub after: SignedDuration,
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StepRule {
    pub name: String,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub users: Vec<String>,
    pub quorum: u32,
}

fn opt_duration<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<SignedDuration>, D::Error> {
    duration(d).map(Some)
}

/// `*` matches any run of characters; everything else matches itself.
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

impl PlanRule {
    /// Whether this plan applies to `permission_set` in the account `id` called `name`.
    pub fn matches(&self, account_id: &str, account_name: &str, permission_set: &str) -> bool {
        self.accounts
            .iter()
            .any(|p| glob_match(p, account_id) || glob_match(p, account_name))
            && self
                .permission_sets
                .iter()
                .any(|p| glob_match(p, permission_set))
    }
}

impl AccessRules {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::parse(&crate::read(path)?, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let rules: Self = crate::from_yaml(text, path)?;
        rules.validate().map_err(|problem| ConfigError::Invalid {
            path: path.to_owned(),
            problem,
        })?;
        Ok(rules)
    }

    fn validate(&self) -> Result<(), String> {
        if self.plans.is_empty() {
            return Err("plans: at least one plan is needed".into());
        }
        for p in &self.plans {
            let at = format!("plans.{}", p.name);
            if p.accounts.is_empty() || p.permission_sets.is_empty() {
                return Err(format!(
                    "{at}: accounts and permission_sets must not be empty"
                ));
            }
            if p.max_duration > p.max_total {
                return Err(format!(
                    "{at}: max_duration {:#} is longer than max_total {:#}",
                    p.max_duration, p.max_total
                ));
            }
            for s in &p.steps {
                if s.quorum == 0 {
                    return Err(format!("{at}.steps.{}: quorum must be at least 1", s.name));
                }
                if s.groups.is_empty() && s.users.is_empty() {
                    return Err(format!(
                        "{at}.steps.{}: names no approver group or user",
                        s.name
                    ));
                }
                // Group sizes are known only when a ticket is evaluated.
                if s.groups.is_empty() && s.users.len() < s.quorum as usize {
                    return Err(format!(
                        "{at}.steps.{}: quorum {} is larger than its {} approvers",
                        s.name,
                        s.quorum,
                        s.users.len()
                    ));
                }
            }
        }
        for (name, targets) in &self.bundles {
            if targets.is_empty() {
                return Err(format!("bundles.{name}: is empty"));
            }
            for t in targets {
                jit_domain::PermissionSetName::parse(&t.permission_set)
                    .map_err(|e| format!("bundles.{name}: {e}"))?;
            }
        }
        Ok(())
    }

    /// The first plan that applies to any of `targets` (account id, account name,
    /// permission set).
    pub fn plan_for<'a>(
        &self,
        targets: impl IntoIterator<Item = (&'a str, &'a str, &'a str)> + Clone,
    ) -> Option<&PlanRule> {
        self.plans.iter().find(|p| {
            targets
                .clone()
                .into_iter()
                .any(|(id, name, ps)| p.matches(id, name, ps))
        })
    }
}

/// Resolves `access_file` relative to the directory of the config file.
pub fn resolve(config_path: &Path, access_file: &Path) -> PathBuf {
    if access_file.is_absolute() {
        access_file.to_owned()
    } else {
        config_path
            .parent()
            .unwrap_or(Path::new("."))
            .join(access_file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_whole_values() {
        assert!(glob_match("*", "anything"));
        assert!(glob_match("prod", "prod"));
        assert!(!glob_match("prod", "prod2"));
        assert!(glob_match("prod-*", "prod-eu"));
        assert!(!glob_match("prod-*", "xprod-eu"));
        assert!(glob_match("*-eu", "prod-eu"));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(!glob_match("a*b*c", "axxcyyb"));
        assert!(!glob_match("ab*ba", "aba"), "overlapping ends do not match");
    }

    #[test]
    fn the_local_rules_parse_and_pick_the_strictest_plan_first() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/local/access.yaml");
        let rules = AccessRules::load(&path).unwrap();
        let prod = rules
            .plan_for([("111111111111", "prod", "ReadOnly")])
            .unwrap();
        assert_eq!(prod.name, "production");
        assert_eq!(prod.steps.len(), 2);
        let dev = rules
            .plan_for([("222222222222", "dev", "ReadOnly")])
            .unwrap();
        assert_eq!(dev.name, "standard");
        let mixed = rules
            .plan_for([
                ("222222222222", "dev", "ReadOnly"),
                ("111111111111", "prod", "ReadOnly"),
            ])
            .unwrap();
        assert_eq!(
            mixed.name, "production",
            "a ticket gets the strictest of its targets' plans"
        );
    }

    #[test]
    fn invalid_rules_name_the_file_and_the_problem() {
        let base = "plans:\n  - name: p\n    accounts: ['*']\n    permission_sets: ['*']\n    max_duration: 1h\n    max_total: 2h\n    approval_timeout: 1h\n";
        assert!(AccessRules::parse(base, Path::new("a.yaml")).is_ok());
        let e = AccessRules::parse(
            &base.replace("max_total: 2h", "max_total: 30m"),
            Path::new("a.yaml"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("a.yaml:") && e.contains("longer than max_total"),
            "{e}"
        );
        let e = AccessRules::parse(
            &format!("{base}    steps:\n      - {{ name: s, users: [carol], quorum: 2 }}\n"),
            Path::new("a.yaml"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("quorum 2 is larger than its 1 approvers"), "{e}");
        let e = AccessRules::parse(
            &format!("{base}    steps:\n      - {{ name: s, quorum: 1 }}\n"),
            Path::new("a.yaml"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("names no approver"), "{e}");
    }
}
