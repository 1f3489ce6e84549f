//! Loading the policy (checked against the directory) and keeping it current: the file is
//! re-read when its content changes and on SIGHUP; a file that fails a check is refused with
//! `file:line: problem` and the policy before stays in force.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use jit_activities::DirectoryCache;
use jit_policy::{Policy, PolicyError, PolicyStore, short_hash};

/// How often the file is looked at for changes.
pub const POLL_EVERY: Duration = Duration::from_secs(1);

/// Loads `path` and checks it against the directory (groups and users exist, approver
/// groups have members, quorums fit).
pub async fn load_checked(path: &Path, directory: &DirectoryCache) -> anyhow::Result<Policy> {
    let policy = Policy::load(path).await?;
    let users: Vec<jit_domain::UserName> = policy
        .rules()
        .users()
        .into_iter()
        .filter_map(|u| jit_domain::UserName::parse(u).ok())
        .collect();
    let dir = directory
        .snapshot(policy.rules().groups(), users.iter())
        .await
        .map_err(|e| anyhow::anyhow!("reading the directory to check {}: {e}", path.display()))?;
    policy.check_directory(&dir)?;
    Ok(policy)
}

/// Watches `path` until the task is aborted.
pub(crate) async fn watch(
    store: Arc<PolicyStore>,
    directory: Arc<DirectoryCache>,
    path: PathBuf,
    metrics: Option<Arc<crate::metrics::JitMetrics>>,
) {
    let count = |result: &'static str| {
        if let Some(m) = &metrics {
            m.policy_reload(result);
        }
    };
    use tokio::signal::unix::{SignalKind, signal};
    let mut hup = signal(SignalKind::hangup()).ok();
    let mut last = std::fs::read(&path).ok();
    loop {
        let forced = tokio::select! {
            _ = tokio::time::sleep(POLL_EVERY) => false,
            Some(()) = async { match hup.as_mut() { Some(h) => h.recv().await, None => None } } => true,
        };
        let now = std::fs::read(&path).ok();
        if !forced && now == last {
            continue;
        }
        last = now;
        match load_checked(&path, &directory).await {
            Ok(p) => {
                let hash = p.hash().to_owned();
                let lines = p.line_count();
                if store.replace(p) {
                    tracing::info!(policy = %short_hash(&hash), lines, file = %path.display(), "policy reloaded");
                    count("ok");
                    if let Some(m) = &metrics {
                        m.policy_in_force(short_hash(&hash));
                    }
                } else {
                    tracing::info!(policy = %short_hash(&hash), "policy unchanged");
                    count("unchanged");
                }
            }
            Err(e) => {
                let kept = store.current();
                let problem = match e.downcast_ref::<PolicyError>() {
                    Some(p) => p.to_string(),
                    None => format!("{e:#}"),
                };
                tracing::error!(
                    kept = %short_hash(kept.hash()),
                    "policy not reloaded: {problem}; the policy before stays in force"
                );
                count("failed");
            }
        }
    }
}
