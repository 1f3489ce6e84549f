//! [`OpsLimiter`]: this process's share of the asynchronous assignment operations AWS allows
//! outstanding at once (15 for the account, not raisable), and one operation at a time per
//! account and permission set (AWS updates one permission-set role per account at a time).
//!
//! The rules are [`jit_domain::Governor`]'s (property-tested: never over the limit, never two
//! on one key, nothing waits that could go, first come first served); this type only holds
//! them behind a lock and wakes the waiters they grant. The worker sets the limit to its share
//! of the fleet's (`fleet / live workers`), so the fleet stays under AWS's limit without a
//! workflow round trip per operation.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use jit_domain::{Governor, PermitRequest};
use tokio::sync::oneshot;

/// Permits for asynchronous operations, by key (see the module doc).
#[derive(Debug)]
pub struct OpsLimiter {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    rules: Governor,
    next: u64,
    /// Waiters by op, told when their permit is granted.
    waiting: HashMap<String, oneshot::Sender<()>>,
}

/// A held (or awaited) permit; dropping it gives it back (or withdraws the request).
#[derive(Debug)]
pub struct OpPermit {
    limiter: Arc<OpsLimiter>,
    op: String,
}

impl Drop for OpPermit {
    fn drop(&mut self) {
        self.limiter.give_back(&self.op);
    }
}

/// What the limiter holds now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpsState {
    pub limit: u32,
    pub held: usize,
    pub waiting: usize,
    /// The most permits ever held at once.
    pub peak: u32,
}

impl OpsLimiter {
    /// At most `limit` operations at once (at least one).
    pub fn new(limit: u32) -> Arc<Self> {
        Arc::new(Self {
            inner: Mutex::new(Inner {
                rules: Governor::new(limit),
                next: 0,
                waiting: HashMap::new(),
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Changes the limit (at least one); permits already out stay out.
    pub fn set_limit(&self, limit: u32) {
        let mut inner = self.lock();
        inner.rules.limit = limit.max(1);
        inner.grant();
    }

    pub fn state(&self) -> OpsState {
        let inner = self.lock();
        OpsState {
            limit: inner.rules.limit,
            held: inner.rules.held.len(),
            waiting: inner.rules.queue.len(),
            peak: inner.rules.peak,
        }
    }

    /// Waits for a permit for an operation on `key` (see
    /// [`serial_key`](jit_domain::lease::serial_key)). Cancel-safe: a dropped wait withdraws
    /// its request.
    pub async fn acquire(self: &Arc<Self>, key: String) -> OpPermit {
        let (permit, granted) = {
            let mut inner = self.lock();
            inner.next += 1;
            let op = format!("op-{}", inner.next);
            let limit = inner.rules.limit;
            inner.rules.request(PermitRequest {
                lease: String::new(),
                key,
                op: op.clone(),
                limit,
            });
            let (tx, rx) = oneshot::channel();
            inner.waiting.insert(op.clone(), tx);
            inner.grant();
            (
                OpPermit {
                    limiter: Arc::clone(self),
                    op,
                },
                rx,
            )
        };
        // The sender lives until the permit is granted or the request withdrawn (by this
        // permit's drop), so an error here cannot happen while we wait.
        let _ = granted.await;
        permit
    }

    fn give_back(&self, op: &str) {
        let mut inner = self.lock();
        inner.waiting.remove(op);
        inner.rules.release(op);
        inner.grant();
    }
}

impl Inner {
    /// Grants what fits and wakes its waiters.
    fn grant(&mut self) {
        for p in self.rules.grant(jiff::Timestamp::now()) {
            if let Some(tx) = self.waiting.remove(&p.op) {
                let _ = tx.send(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    async fn granted_soon(f: impl Future<Output = OpPermit>) -> Option<OpPermit> {
        tokio::time::timeout(Duration::from_millis(50), f)
            .await
            .ok()
    }

    #[tokio::test]
    async fn one_per_key_and_at_most_the_limit_and_a_dropped_wait_withdraws() {
        let l = OpsLimiter::new(2);
        let a = l.acquire("a/ps".into()).await;
        assert!(
            granted_soon(l.acquire("a/ps".into())).await.is_none(),
            "same key waits"
        );
        // The dropped wait above withdrew its request.
        assert_eq!(l.state().waiting, 0);
        let b = l.acquire("b/ps".into()).await;
        assert!(
            granted_soon(l.acquire("c/ps".into())).await.is_none(),
            "over the limit waits"
        );
        let waiter = {
            let l = Arc::clone(&l);
            tokio::spawn(async move { l.acquire("c/ps".into()).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(l.state().waiting, 1);
        drop(a);
        let c = tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("woken when a permit came back")
            .expect("joined");
        assert_eq!(l.state().held, 2);
        drop((b, c));
        assert_eq!(l.state().held, 0);
        assert_eq!(l.state().peak, 2);
    }

    #[tokio::test]
    async fn a_raised_limit_wakes_waiters_and_a_lowered_one_keeps_what_is_out() {
        let l = OpsLimiter::new(1);
        let a = l.acquire("a".into()).await;
        let waiter = {
            let l = Arc::clone(&l);
            tokio::spawn(async move { l.acquire("b".into()).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        l.set_limit(2);
        let b = tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("woken by the new limit")
            .expect("joined");
        l.set_limit(1);
        assert_eq!(l.state().held, 2, "permits out stay out");
        assert!(granted_soon(l.acquire("c".into())).await.is_none());
        drop((a, b));
        assert!(granted_soon(l.acquire("c".into())).await.is_some());
    }
}
