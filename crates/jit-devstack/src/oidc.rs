//! A real OpenID provider for the tests: panva's `oidc-provider` from the npm registry
//! (pinned in `tests/oidc/package-lock.json`, installed by [`ensure_oidc`] with `npm ci`),
//! run by Node on a free loopback port ([`OidcProvider::start`]).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::process::{ManagedChild, free_port};
use crate::tools::FileLock;

/// `tests/oidc/` with its packages installed (again when the lockfile changed).
pub fn ensure_oidc(root: &Path) -> anyhow::Result<PathBuf> {
    ensure_npm(root, "tests/oidc", "oidc-provider")
}

/// `root/rel` with its npm packages installed by `npm ci` from its lockfile (again when the
/// lockfile changed; one install at a time across processes). `what` names them in messages.
pub fn ensure_npm(root: &Path, rel: &str, what: &str) -> anyhow::Result<PathBuf> {
    let dir = root.join(rel);
    let lock = std::fs::read_to_string(dir.join("package-lock.json"))
        .with_context(|| format!("reading {rel}/package-lock.json"))?;
    let stamp = dir.join("node_modules/.jit-lock");
    let ready = || std::fs::read_to_string(&stamp).ok().as_deref() == Some(lock.as_str());
    if ready() {
        return Ok(dir);
    }
    std::fs::create_dir_all(root.join(".jit"))?;
    let _guard = FileLock::acquire(&root.join(format!(".jit/npm-{}.lock", rel.replace('/', "-"))))?;
    if ready() {
        return Ok(dir);
    }
    eprintln!("installing {rel} (npm ci: {what}) ...");
    let out = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(&dir)
        .output()
        .context("running npm (Node.js and npm must be on PATH)")?;
    if !out.status.success() {
        bail!(
            "npm ci in {rel} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::fs::write(&stamp, &lock)?;
    Ok(dir)
}

/// A running provider; stopped when dropped.
pub struct OidcProvider {
    pub issuer: String,
    pub jwks_url: String,
    _child: ManagedChild,
}

impl OidcProvider {
    /// Starts the provider with access tokens valid for `access_token_ttl`; its log goes to
    /// `log`.
    pub fn start(root: &Path, access_token_ttl: Duration, log: &Path) -> anyhow::Result<Self> {
        Self::start_with(root, access_token_ttl, log, None)
    }

    /// Like [`OidcProvider::start`], with the web console's client (`jit-console`:
    /// authorization code with PKCE) redirecting to `console_redirect`, if given.
    pub fn start_with(
        root: &Path,
        access_token_ttl: Duration,
        log: &Path,
        console_redirect: Option<&str>,
    ) -> anyhow::Result<Self> {
        let dir = ensure_oidc(root)?;
        let port = free_port()?;
        let mut cmd = Command::new("node");
        cmd.arg(dir.join("server.mjs"))
            .arg(port.to_string())
            .arg(access_token_ttl.as_secs().max(1).to_string())
            .args(console_redirect)
            .current_dir(&dir);
        let mut child = ManagedChild::spawn("oidc-provider", cmd, log, true)?;
        let issuer = format!("http://127.0.0.1:{port}");
        let discovery = format!("{issuer}/.well-known/openid-configuration");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                use std::io::{Read, Write};
                let _ = write!(
                    s,
                    "GET /.well-known/openid-configuration HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"
                );
                let mut answer = String::new();
                let _ = s.read_to_string(&mut answer);
                if answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200") {
                    break;
                }
            }
            if let Some(status) = child.exited() {
                bail!(
                    "the OpenID provider exited ({status}):\n{}",
                    child.log_tail(20)
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "{discovery} did not answer within 30 s:\n{}",
                    child.log_tail(20)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(Self {
            jwks_url: format!("{issuer}/jwks"),
            issuer,
            _child: child,
        })
    }
}
