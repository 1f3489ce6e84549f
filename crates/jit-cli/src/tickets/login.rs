//! `jit login`: the OAuth 2.0 device authorization grant (RFC 8628) against the identity
//! provider the API trusts, and the token cache the other commands use.
//!
//! The issuer comes from `--issuer`, `JIT_OIDC_ISSUER` or the CLI config's `issuer:`; the
//! client from `--client-id`, `JIT_OIDC_CLIENT_ID`, `client_id:` (default `jit-cli`, a public
//! client). The tokens are saved in `$XDG_CONFIG_HOME/jit/token.json` (default
//! `~/.config/jit/`), readable by the user only (0600, folder 0700), and refreshed with the
//! refresh token when the access token is about to expire.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// What `jit login` keeps.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Cached {
    pub(super) issuer: String,
    pub(super) client_id: String,
    pub(super) token_endpoint: String,
    pub(super) access_token: String,
    #[serde(default)]
    pub(super) refresh_token: Option<String>,
    /// Unix seconds.
    pub(super) expires_at: i64,
}

#[derive(Deserialize)]
struct Discovery {
    device_authorization_endpoint: Option<String>,
    token_endpoint: String,
}

#[derive(Deserialize)]
struct DeviceAuth {
    device_code: String,
    user_code: String,
    verification_uri: String,
    #[serde(default)]
    verification_uri_complete: Option<String>,
    expires_in: u64,
    #[serde(default)]
    interval: Option<u64>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    refresh_token: Option<String>,
    expires_in: Option<i64>,
    error: Option<String>,
    error_description: Option<String>,
}

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Where the tokens are kept.
pub(super) fn cache_path() -> Option<PathBuf> {
    std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .map(|d| d.join("jit/token.json"))
}

fn http() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .context("an HTTP client")
}

/// `jit login`: prints where to confirm the code, waits for the person to, saves the tokens.
pub(super) async fn login(issuer: &str, client_id: &str) -> anyhow::Result<()> {
    let http = http()?;
    let issuer = issuer.trim_end_matches('/');
    let discovery_url = format!("{issuer}/.well-known/openid-configuration");
    let d: Discovery = http
        .get(&discovery_url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .with_context(|| format!("the issuer's discovery document {discovery_url}"))?
        .json()
        .await
        .with_context(|| format!("{discovery_url} is not an OpenID discovery document"))?;
    let Some(device_endpoint) = d.device_authorization_endpoint else {
        bail!("the issuer {issuer} offers no device authorization (RFC 8628): jit login needs it");
    };
    let auth: DeviceAuth = {
        let r = http
            .post(&device_endpoint)
            .form(&[("client_id", client_id), ("scope", "openid offline_access")])
            .send()
            .await
            .with_context(|| format!("asking {device_endpoint} for a code"))?;
        let status = r.status();
        let text = r.text().await?;
        if !status.is_success() {
            bail!("{device_endpoint} refused the client {client_id:?}: {status} {text}");
        }
        serde_json::from_str(&text).with_context(|| format!("{device_endpoint}: {text}"))?
    };
    match &auth.verification_uri_complete {
        Some(u) => eprintln!(
            "To sign in, open {u}\n  (or {} and enter the code {})",
            auth.verification_uri, auth.user_code
        ),
        None => eprintln!(
            "To sign in, open {} and enter the code {}",
            auth.verification_uri, auth.user_code
        ),
    }
    let mut interval = Duration::from_secs(auth.interval.unwrap_or(5).max(1));
    let deadline = std::time::Instant::now() + Duration::from_secs(auth.expires_in);
    loop {
        tokio::time::sleep(interval).await;
        if std::time::Instant::now() > deadline {
            bail!(
                "the code {} expired before it was confirmed: run jit login again",
                auth.user_code
            );
        }
        let a = token_request(
            &http,
            &d.token_endpoint,
            &[
                ("grant_type", DEVICE_GRANT),
                ("device_code", &auth.device_code),
                ("client_id", client_id),
            ],
        )
        .await?;
        match a.error.as_deref() {
            Some("authorization_pending") => continue,
            Some("slow_down") => {
                interval += Duration::from_secs(5);
                continue;
            }
            Some(e) => bail!(
                "sign-in failed: {e}{}",
                a.error_description
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default()
            ),
            None => {}
        }
        let cached = cached_from(a, issuer, client_id, &d.token_endpoint, None)?;
        let path = save(&cached)?;
        eprintln!(
            "logged in as {} (saved in {}, refreshed when it expires)",
            subject(&cached.access_token).unwrap_or_else(|| "someone".into()),
            path.display()
        );
        return Ok(());
    }
}

async fn token_request(
    http: &reqwest::Client,
    endpoint: &str,
    form: &[(&str, &str)],
) -> anyhow::Result<TokenAnswer> {
    let r = http
        .post(endpoint)
        .form(form)
        .send()
        .await
        .with_context(|| format!("the token endpoint {endpoint}"))?;
    let text = r.text().await?;
    serde_json::from_str(&text).with_context(|| format!("{endpoint} answered {text:?}"))
}

fn cached_from(
    a: TokenAnswer,
    issuer: &str,
    client_id: &str,
    token_endpoint: &str,
    old_refresh: Option<String>,
) -> anyhow::Result<Cached> {
    let access_token = a
        .access_token
        .context("the token endpoint answered without an access token")?;
    Ok(Cached {
        issuer: issuer.to_owned(),
        client_id: client_id.to_owned(),
        token_endpoint: token_endpoint.to_owned(),
        access_token,
        refresh_token: a.refresh_token.or(old_refresh),
        expires_at: Timestamp::now().as_second() + a.expires_in.unwrap_or(300),
    })
}

/// Writes the cache readable by its owner only.
fn save(c: &Cached) -> anyhow::Result<PathBuf> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    let path = cache_path()
        .context("neither XDG_CONFIG_HOME nor HOME is set: where to keep the token?")?;
    let dir = path.parent().expect("a folder");
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    let tmp = path.with_extension("json.tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    // A file made before with wider permissions is narrowed too.
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    f.write_all(serde_json::to_string_pretty(c)?.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

/// The saved login's access token, refreshed first when it expires within 30 s; `None`
/// without a saved login.
pub(super) async fn saved_token() -> anyhow::Result<Option<String>> {
    let Some(path) = cache_path() else {
        return Ok(None);
    };
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    let c: Cached = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a saved login: run jit login", path.display()))?;
    if c.expires_at - 30 > Timestamp::now().as_second() {
        return Ok(Some(c.access_token));
    }
    let Some(refresh) = c.refresh_token.clone() else {
        bail!("the saved login expired (no refresh token): run jit login");
    };
    let a = token_request(
        &http()?,
        &c.token_endpoint,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", &c.client_id),
        ],
    )
    .await?;
    if let Some(e) = &a.error {
        bail!(
            "the saved login expired and {} refused to refresh it ({e}): run jit login",
            c.issuer
        );
    }
    let fresh = cached_from(a, &c.issuer, &c.client_id, &c.token_endpoint, Some(refresh))?;
    save(&fresh)?;
    Ok(Some(fresh.access_token))
}

/// `jit logout`: forgets the saved login.
pub(super) fn logout() -> anyhow::Result<()> {
    if let Some(p) = cache_path()
        && p.exists()
    {
        std::fs::remove_file(&p).with_context(|| format!("removing {}", p.display()))?;
        eprintln!("logged out ({} removed)", p.display());
    }
    Ok(())
}

/// The `sub` of a JWT, for the message (the API checks the token; this only reads it).
fn subject(jwt: &str) -> Option<String> {
    use base64::Engine;
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    v["sub"].as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_subject_is_read_from_the_payload() {
        // {"sub":"bob"}
        assert_eq!(subject("x.eyJzdWIiOiJib2IifQ.y").as_deref(), Some("bob"));
        assert_eq!(subject("not a jwt"), None);
    }
}
