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

mod checks;

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
    /// What session audit calls out in a ticket's summary: `service:Action` patterns (`*`
    /// is any run of characters), e.g. `iam:*`, `*:Delete*`. Absent: [`DEFAULT_NOTABLE`].
    #[serde(default = "default_notable")]
    pub notable_actions: Vec<String>,
}

/// The notable actions when a policy names none: identity, the organization, keys, audit
/// trails, and anything that deletes.
pub const DEFAULT_NOTABLE: &[&str] = &[
    "iam:*",
    "organizations:*",
    "kms:*",
    "sso:*",
    "cloudtrail:*",
    "*:Delete*",
];

fn default_notable() -> Vec<String> {
    DEFAULT_NOTABLE.iter().map(|s| (*s).to_owned()).collect()
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
