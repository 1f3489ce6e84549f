//! The web console on the HTTP port: the built files of `console/` (React + Cloudscape) at
//! `/`, and `/console/config.json`, which tells the page how people sign in.
//!
//! - `index.html` for every other `GET` (the console routes in the page), with a strict
//!   Content-Security-Policy: scripts, styles and fonts from this origin only, no inline
//!   script, the page's calls to this origin (gRPC-Web) and to the OIDC issuer (discovery and
//!   token exchange) only, never framed; `Cache-Control: no-cache` so a new build shows at
//!   once.
//! - `/assets/*`: Vite's content-hashed files, `Cache-Control: public, max-age=31536000,
//!   immutable`.
//! - Dev mode: sign-in picks one of the sandbox's seeded users (`dev:<user>` tokens). Else:
//!   OIDC authorization code with PKCE at `jwt.issuer` with `console.client_id`; the token
//!   stays in the page's memory.

use std::path::Path;

use anyhow::Context;
use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jit_config::{ConsoleSettings, JwtConfig};
use tower_http::services::ServeDir;

/// The policy for the page; `issuer`'s origin is added to `connect-src` for OIDC.
pub fn content_security_policy(issuer: Option<&str>) -> String {
    let connect = match issuer.and_then(origin_of) {
        Some(o) => format!("'self' {o}"),
        None => "'self'".to_owned(),
    };
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         font-src 'self' data:; connect-src {connect}; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'"
    )
}

/// `scheme://host[:port]` of a URL.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split('/').next()?;
    (!host.is_empty() && matches!(scheme, "http" | "https")).then(|| format!("{scheme}://{host}"))
}

/// What the page reads at `/console/config.json`.
fn config_json(c: &ConsoleSettings, dev_auth: bool, jwt: Option<&JwtConfig>) -> serde_json::Value {
    match (dev_auth, jwt, &c.client_id) {
        (false, Some(j), Some(client_id)) => serde_json::json!({
            "sign_in": "oidc",
            "issuer": j.issuer,
            "client_id": client_id,
            "scope": c.scope,
            "resource": c.resource,
        }),
        _ => serde_json::json!({ "sign_in": "dev", "dev_users": c.dev_users }),
    }
}

/// The console's routes (with the catch-all for the page's own paths).
pub fn router(
    c: &ConsoleSettings,
    dev_auth: bool,
    jwt: Option<&JwtConfig>,
) -> anyhow::Result<Router> {
    let index = read_index(&c.dir)?;
    let csp = content_security_policy(jwt.filter(|_| !dev_auth).map(|j| j.issuer.as_str()));
    let config = config_json(c, dev_auth, jwt);
    let page = move |req: Request| {
        let index = index.clone();
        let csp = csp.clone();
        async move {
            if !matches!(*req.method(), Method::GET | Method::HEAD) {
                return StatusCode::METHOD_NOT_ALLOWED.into_response();
            }
            let mut r = (StatusCode::OK, index).into_response();
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            if let Ok(v) = HeaderValue::from_str(&csp) {
                h.insert(header::CONTENT_SECURITY_POLICY, v);
            }
            secure(h);
            r
        }
    };
    let assets = tower::ServiceBuilder::new()
        .map_response(
            |mut r: Response<tower_http::services::fs::ServeFileSystemResponseBody>| {
                if r.status().is_success() {
                    r.headers_mut().insert(
                        header::CACHE_CONTROL,
                        HeaderValue::from_static("public, max-age=31536000, immutable"),
                    );
                }
                secure(r.headers_mut());
                r
            },
        )
        .service(ServeDir::new(c.dir.join("assets")));
    Ok(Router::new()
        .route(
            "/console/config.json",
            get(move || {
                let config = config.clone();
                async move {
                    let mut r = axum::Json(config).into_response();
                    r.headers_mut()
                        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                    r
                }
            }),
        )
        .nest_service("/assets", assets)
        .fallback(page))
}

/// Headers every console answer carries.
fn secure(h: &mut axum::http::HeaderMap) {
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

fn read_index(dir: &Path) -> anyhow::Result<String> {
    let path = dir.join("index.html");
    let html = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "api.console.dir (JIT_CONSOLE_DIR): reading {}: build the console first (cd console \
             && npm ci && npm run build; cargo xtask up does it)",
            path.display()
        )
    })?;
    anyhow::ensure!(
        !html.contains("<script>") && !html.contains("<script type=\"module\">"),
        "{}: holds an inline script, which the console's Content-Security-Policy forbids",
        path.display()
    );
    Ok(html)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_this_origin_and_the_issuer_only() {
        let p = content_security_policy(Some("https://idp.example.com/realms/x"));
        assert!(
            p.contains("connect-src 'self' https://idp.example.com;"),
            "{p}"
        );
        assert!(p.contains("script-src 'self';"), "{p}");
        assert!(!p.contains("unsafe-inline"), "{p}");
        assert!(content_security_policy(None).contains("connect-src 'self';"));
        assert_eq!(
            origin_of("http://127.0.0.1:4444/oidc"),
            Some("http://127.0.0.1:4444".into())
        );
        assert_eq!(origin_of("javascript:alert(1)"), None);
    }

    #[test]
    fn sign_in_is_oidc_only_with_a_client_and_an_issuer_and_no_dev_mode() {
        let c = ConsoleSettings {
            dir: "d".into(),
            client_id: Some("jit-console".into()),
            scope: "openid".into(),
            resource: None,
            dev_users: vec!["bob".into()],
        };
        let j = JwtConfig {
            issuer: "https://idp".into(),
            audience: "jit".into(),
            jwks_url: "https://idp/jwks".into(),
        };
        assert_eq!(config_json(&c, false, Some(&j))["sign_in"], "oidc");
        assert_eq!(config_json(&c, true, Some(&j))["sign_in"], "dev");
        assert_eq!(config_json(&c, true, None)["dev_users"][0], "bob");
    }
}
