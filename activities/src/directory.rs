//! [`DirectoryCache`]: the identity store as the policy needs it — who exists and who is in
//! the groups the policy names — cached for a short TTL so relations follow the directory
//! without a lookup storm on every decision.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jit_aws::{AwsError, IdentityCenter};
use jit_domain::UserName;
use jit_policy::Directory;

type Entry<T> = (Instant, T);

#[derive(Debug)]
pub struct DirectoryCache {
    aws: Arc<IdentityCenter>,
    ttl: Duration,
    groups: Mutex<HashMap<String, Entry<Option<BTreeSet<UserName>>>>>,
    users: Mutex<HashMap<UserName, Entry<bool>>>,
}

impl DirectoryCache {
    pub fn new(aws: Arc<IdentityCenter>, ttl: Duration) -> Self {
        Self {
            aws,
            ttl,
            groups: Mutex::default(),
            users: Mutex::default(),
        }
    }

    /// How long an answer is reused.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    fn fresh<K: std::hash::Hash + Eq, T: Clone>(
        &self,
        map: &Mutex<HashMap<K, Entry<T>>>,
        key: &K,
    ) -> Option<T> {
        let g = map.lock().ok()?;
        let (at, v) = g.get(key)?;
        (at.elapsed() < self.ttl).then(|| v.clone())
    }

    /// Members of `group` (`None`: no such group).
    pub async fn members(&self, group: &str) -> Result<Option<BTreeSet<UserName>>, AwsError> {
        if let Some(m) = self.fresh(&self.groups, &group.to_owned()) {
            return Ok(m);
        }
        let m = self.aws.group_members(group).await?;
        if let Ok(mut g) = self.groups.lock() {
            g.insert(group.to_owned(), (Instant::now(), m.clone()));
        }
        Ok(m)
    }

    pub async fn user_exists(&self, u: &UserName) -> Result<bool, AwsError> {
        if let Some(e) = self.fresh(&self.users, u) {
            return Ok(e);
        }
        let e = self.aws.user_id(u).await?.is_some();
        if let Ok(mut g) = self.users.lock() {
            g.insert(u.clone(), (Instant::now(), e));
        }
        Ok(e)
    }

    /// A snapshot with `groups` (those that exist, with their members) and whichever of
    /// `users` exist.
    pub async fn snapshot<'a>(
        &self,
        groups: impl IntoIterator<Item = &'a str>,
        users: impl IntoIterator<Item = &'a UserName>,
    ) -> Result<Directory, AwsError> {
        let mut dir = Directory::new();
        for g in groups {
            if let Some(m) = self.members(g).await? {
                dir.add_group(g, m);
            }
        }
        for u in users {
            if self.user_exists(u).await? {
                dir.add_user(u.clone());
            }
        }
        Ok(dir)
    }
}
