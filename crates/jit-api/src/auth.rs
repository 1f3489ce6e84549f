//! Who is calling: `authorization: Bearer <token>`.
//!
//! Production: a JWT signed by a key of the configured JWKS, with the configured issuer and
//! audience, not expired; the subject (`sub`) is the caller. Dev mode (explicitly enabled,
//! the local stack only): `dev:<user>` tokens name the caller directly. Anything else is
//! UNAUTHENTICATED with a message saying what is wrong.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use jit_config::JwtConfig;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;
use tonic::Status;

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's subject: a user name, or a service's name.
    pub subject: String,
    /// `jwt` or `dev`.
    pub by: &'static str,
}

#[derive(Debug)]
pub struct Authenticator {
    dev: bool,
    jwt: Option<Jwks>,
    metrics: Option<std::sync::Arc<crate::metrics::ApiMetrics>>,
}

#[derive(Debug)]
struct Jwks {
    config: JwtConfig,
    http: reqwest::Client,
    keys: Mutex<(Option<Instant>, JwkSet)>,
}

#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
}

/// The JWKS is fetched again for an unknown key id at most this often.
const REFETCH_AFTER: Duration = Duration::from_secs(30);

impl Authenticator {
    pub fn new(dev: bool, jwt: Option<JwtConfig>) -> Self {
        Self {
            dev,
            jwt: jwt.map(|config| Jwks {
                config,
                http: reqwest::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .build()
                    .unwrap_or_default(),
                keys: Mutex::new((None, JwkSet { keys: Vec::new() })),
            }),
            metrics: None,
        }
    }

    /// Counts refusals in `metrics` by reason.
    pub fn with_metrics(
        mut self,
        metrics: Option<std::sync::Arc<crate::metrics::ApiMetrics>>,
    ) -> Self {
        self.metrics = metrics;
        self
    }

    pub fn mode(&self) -> String {
        match (&self.jwt, self.dev) {
            (Some(j), true) => format!("JWT ({}) and dev tokens", j.config.issuer),
            (Some(j), false) => format!("JWT ({})", j.config.issuer),
            (None, _) => "dev tokens only (dev:<user>)".into(),
        }
    }

    pub async fn authenticate(&self, header: Option<&str>) -> Result<Caller, Status> {
        let r = self.check(header).await;
        if let (Err(e), Some(m)) = (&r, &self.metrics) {
            m.auth_failure(crate::metrics::failure_reason(e.message()));
        }
        r
    }

    async fn check(&self, header: Option<&str>) -> Result<Caller, Status> {
        let Some(h) = header else {
            return Err(Status::unauthenticated(
                "no credentials: send `authorization: Bearer <token>`",
            ));
        };
        let Some(token) = h.strip_prefix("Bearer ").map(str::trim) else {
            return Err(Status::unauthenticated(
                "authorization: expected `Bearer <token>`",
            ));
        };
        if let Some(user) = token.strip_prefix("dev:") {
            if !self.dev {
                return Err(Status::unauthenticated(
                    "dev tokens are not accepted: this server is not in dev mode",
                ));
            }
            check_dev_user(user)?;
            return Ok(Caller {
                subject: user.to_owned(),
                by: "dev",
            });
        }
        let Some(jwks) = &self.jwt else {
            return Err(Status::unauthenticated(
                "only dev tokens (dev:<user>) are accepted by this server",
            ));
        };
        jwks.verify(token).await
    }
}

/// A dev token's user: 1 to 64 of `A-Z a-z 0-9 . _ @ + = , -`, not starting with `.` (a dev
/// token names a seeded user, never a path or a pattern).
fn check_dev_user(user: &str) -> Result<(), Status> {
    let ok = (1..=64).contains(&user.len())
        && !user.starts_with('.')
        && user
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._@+=,-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Status::unauthenticated(format!(
            "dev token: {} must be 1 to 64 of A-Z a-z 0-9 . _ @ + = , - not starting with '.'",
            jit_domain::quoted(user)
        )))
    }
}

impl Jwks {
    async fn verify(&self, token: &str) -> Result<Caller, Status> {
        let header =
            decode_header(token).map_err(|e| Status::unauthenticated(format!("not a JWT: {e}")))?;
        let kid = header
            .kid
            .ok_or_else(|| Status::unauthenticated("the JWT names no key (kid)"))?;
        let key = self.key(&kid).await?;
        let mut v = Validation::new(header.alg);
        v.set_issuer(&[&self.config.issuer]);
        v.set_audience(&[&self.config.audience]);
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        v.leeway = 30;
        let data = decode::<Claims>(token, &key, &v)
            .map_err(|e| Status::unauthenticated(format!("JWT refused: {e}")))?;
        crate::door::user("subject", &data.claims.sub)
            .map_err(|e| Status::unauthenticated(format!("JWT {}", e.message())))?;
        Ok(Caller {
            subject: data.claims.sub,
            by: "jwt",
        })
    }

    async fn key(&self, kid: &str) -> Result<DecodingKey, Status> {
        let (fetched, known) = {
            let g = self
                .keys
                .lock()
                .map_err(|_| Status::internal("key cache"))?;
            (g.0, g.1.find(kid).cloned())
        };
        let jwk = match known {
            Some(k) => k,
            None => {
                if fetched.is_some_and(|at| at.elapsed() < REFETCH_AFTER) {
                    return Err(Status::unauthenticated(format!(
                        "unknown signing key {kid:?}"
                    )));
                }
                let set = self.fetch().await?;
                let found = set.find(kid).cloned();
                if let Ok(mut g) = self.keys.lock() {
                    *g = (Some(Instant::now()), set);
                }
                found.ok_or_else(|| {
                    Status::unauthenticated(format!("unknown signing key {kid:?}"))
                })?
            }
        };
        DecodingKey::from_jwk(&jwk)
            .map_err(|e| Status::unauthenticated(format!("signing key {kid:?}: {e}")))
    }

    async fn fetch(&self) -> Result<JwkSet, Status> {
        let url = &self.config.jwks_url;
        let r = self
            .http
            .get(url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| Status::unavailable(format!("cannot fetch the JWKS {url}: {e}")))?;
        r.json::<JwkSet>()
            .await
            .map_err(|e| Status::unavailable(format!("the JWKS {url} is not a key set: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_tokens_name_plain_users_only() {
        for ok in ["alice", "alice@example.com", "a.b-c_d"] {
            assert!(check_dev_user(ok).is_ok(), "{ok:?}");
        }
        for no in [
            "",
            "../carol",
            ".alice",
            "a/b",
            "a b",
            "*",
            "zoë",
            &"x".repeat(65),
        ] {
            let e = check_dev_user(no).unwrap_err();
            assert_eq!(e.code(), tonic::Code::Unauthenticated, "{no:?}");
            assert!(e.message().starts_with("dev token: "), "{}", e.message());
        }
    }
}
