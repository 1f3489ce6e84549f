//! What the directory says about people: who exists and who is in which group.
//!
//! Decisions take a [`Directory`] snapshot: the worker builds one from the identity store
//! (cached with a short TTL, so relations follow the directory), `jit policy` builds one
//! from the sandbox seed in `temporal-dev.yaml` (or any file of the same shape), tests build
//! them by hand.

use std::collections::{BTreeMap, BTreeSet};

use jit_domain::UserName;

use crate::compile::{group_subject, user_subject};

/// Users and group memberships. A group or user not in it does not exist.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Directory {
    users: BTreeSet<UserName>,
    groups: BTreeMap<String, BTreeSet<UserName>>,
}

impl Directory {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add_user(&mut self, u: UserName) -> &mut Self {
        self.users.insert(u);
        self
    }

    /// Adds (or replaces) a group with its members; members become users too.
    pub fn add_group(&mut self, name: &str, members: BTreeSet<UserName>) -> &mut Self {
        self.users.extend(members.iter().cloned());
        self.groups.insert(name.to_owned(), members);
        self
    }

    pub fn has_user(&self, u: &UserName) -> bool {
        self.users.contains(u)
    }

    /// `None`: no such group.
    pub fn members(&self, group: &str) -> Option<&BTreeSet<UserName>> {
        self.groups.get(group)
    }

    pub fn users(&self) -> impl Iterator<Item = &UserName> {
        self.users.iter()
    }

    /// Someone who exists, with the groups they are in; `None` for a user who does not
    /// exist (who gets nothing).
    pub fn person(&self, u: &UserName) -> Option<Person> {
        self.has_user(u).then(|| Person {
            user: u.clone(),
            groups: self
                .groups
                .iter()
                .filter(|(_, m)| m.contains(u))
                .map(|(g, _)| g.clone())
                .collect(),
        })
    }
}

/// A user as the directory knows them now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub user: UserName,
    pub groups: BTreeSet<String>,
}

impl Person {
    /// The Casbin subjects this person acts as: themselves, then each of their groups.
    pub(crate) fn subjects(&self) -> Vec<String> {
        std::iter::once(user_subject(self.user.as_str()))
            .chain(self.groups.iter().map(|g| group_subject(g)))
            .collect()
    }

    /// "alice (groups: engineers)"
    pub fn describe(&self) -> String {
        if self.groups.is_empty() {
            format!("{} (in no group the policy names)", self.user)
        } else {
            format!(
                "{} (groups: {})",
                self.user,
                self.groups.iter().cloned().collect::<Vec<_>>().join(", ")
            )
        }
    }
}

/// The part of a `temporal-dev.yaml` sandbox seed a directory needs.
#[derive(serde::Deserialize)]
struct SeedFile {
    sandbox: SeedSandbox,
}

#[derive(serde::Deserialize)]
struct SeedSandbox {
    seed: Seed,
}

#[derive(serde::Deserialize)]
struct Seed {
    #[serde(default)]
    groups: Vec<SeedGroup>,
    #[serde(default)]
    users: Vec<SeedUser>,
}

#[derive(serde::Deserialize)]
struct SeedGroup {
    name: String,
}

#[derive(serde::Deserialize)]
struct SeedUser {
    name: String,
    #[serde(default)]
    groups: Vec<String>,
}

impl Directory {
    /// The directory the sandbox is seeded with: `sandbox.seed.groups` and
    /// `sandbox.seed.users` (with their `groups`) of a `temporal-dev.yaml`-shaped file.
    pub fn from_seed_yaml(text: &str) -> Result<Self, String> {
        let f: SeedFile = serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?;
        let mut groups: BTreeMap<String, BTreeSet<UserName>> = f
            .sandbox
            .seed
            .groups
            .into_iter()
            .map(|g| (g.name, BTreeSet::new()))
            .collect();
        let mut dir = Directory::new();
        for u in f.sandbox.seed.users {
            let name = UserName::parse(&u.name).map_err(|e| e.to_string())?;
            for g in u.groups {
                match groups.get_mut(&g) {
                    Some(m) => {
                        m.insert(name.clone());
                    }
                    None => {
                        return Err(format!("user {name} is in group {g}, which is not seeded"));
                    }
                }
            }
            dir.add_user(name);
        }
        for (g, members) in groups {
            dir.add_group(&g, members);
        }
        Ok(dir)
    }
}
