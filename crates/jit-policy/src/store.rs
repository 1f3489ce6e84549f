//! [`PolicyStore`]: the policy in force, swapped whole when a new file passes its checks.

use std::sync::{Arc, RwLock};

use crate::policy::Policy;

/// Holds the current [`Policy`]. Readers take an `Arc` and decide with it; a reload swaps in
/// a new one only after it loaded and passed every check, so an invalid file never replaces
/// a good policy.
#[derive(Debug)]
pub struct PolicyStore {
    current: RwLock<Arc<Policy>>,
}

impl PolicyStore {
    pub fn new(policy: Policy) -> Self {
        Self {
            current: RwLock::new(Arc::new(policy)),
        }
    }

    pub fn current(&self) -> Arc<Policy> {
        match self.current.read() {
            Ok(g) => Arc::clone(&g),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Puts `policy` in force; whether its content differs from the one before.
    pub fn replace(&self, policy: Policy) -> bool {
        let mut g = match self.current.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let changed = g.hash() != policy.hash();
        *g = Arc::new(policy);
        changed
    }
}
