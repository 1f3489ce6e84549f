//! The codec server: `POST /codec/encode` and `POST /codec/decode` on the HTTP port, the
//! remote codec protocol of the Temporal UI and the `temporal` CLI (`--codec-endpoint
//! http://<api>/codec`), so authorised operators read encrypted histories decoded.
//!
//! Who may: with JWTs, a caller whose token is valid and who is a policy admin
//! (`authorization: Bearer <jwt>`; the UI sends its user's token with "pass access token",
//! the CLI with `--codec-auth`). In dev mode (the local stack, where anyone may claim any
//! user anyway) anyone may. Browsers may call it only from `api.codec_origins` (CORS closed
//! without them).

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use jit_domain::UserName;
use jit_temporal::codec::{Codec, CodecError, CodecJson};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::TicketApi;

#[derive(Clone)]
pub struct CodecServer {
    api: TicketApi,
    codec: Codec,
    /// Dev mode: no credentials needed.
    open: bool,
}

impl CodecServer {
    pub fn new(api: TicketApi, codec: Codec, dev_mode: bool) -> Self {
        Self {
            api,
            codec,
            open: dev_mode,
        }
    }

    /// The two endpoints, answering cross-origin requests from `origins` only.
    pub fn router(self, origins: &[String]) -> Router {
        let origins: Vec<HeaderValue> = origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o).ok())
            .collect();
        let cors = CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::POST])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::HeaderName::from_static("x-namespace"),
            ])
            .allow_credentials(true);
        Router::new()
            .route("/codec/encode", post(encode))
            .route("/codec/decode", post(decode))
            .with_state(self)
            .layer(cors)
    }

    async fn allowed(&self, headers: &HeaderMap) -> Result<(), Response> {
        let header = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if self.open && header.is_none() {
            return Ok(());
        }
        let caller = self
            .api
            .auth
            .authenticate(header)
            .await
            .map_err(|s| (StatusCode::UNAUTHORIZED, s.message().to_owned()).into_response())?;
        let admin = UserName::parse(&caller.subject)
            .ok()
            .is_some_and(|u| self.api.is_admin(&u));
        if !admin {
            return Err((
                StatusCode::FORBIDDEN,
                format!(
                    "{} may not read payloads: the codec server is for the policy's admins",
                    caller.subject
                ),
            )
                .into_response());
        }
        Ok(())
    }

    async fn apply(
        &self,
        headers: &HeaderMap,
        body: &Bytes,
        f: impl Fn(
            &Codec,
            jit_temporal::codec::Payload,
        ) -> Result<jit_temporal::codec::Payload, CodecError>,
    ) -> Response {
        if let Err(r) = self.allowed(headers).await {
            return r;
        }
        let parsed: CodecJson = match serde_json::from_slice(body) {
            Ok(p) => p,
            Err(e) => {
                return (
                    StatusCode::BAD_REQUEST,
                    format!("the body is not {{\"payloads\": [...]}}: {e}"),
                )
                    .into_response();
            }
        };
        match parsed.map(|p| f(&self.codec, p)) {
            Ok(out) => axum::Json(out).into_response(),
            Err(e) => (StatusCode::UNPROCESSABLE_ENTITY, e.to_string()).into_response(),
        }
    }
}

async fn encode(State(s): State<CodecServer>, headers: HeaderMap, body: Bytes) -> Response {
    s.apply(&headers, &body, |c, p| Ok(c.encrypt(p))).await
}

async fn decode(State(s): State<CodecServer>, headers: HeaderMap, body: Bytes) -> Response {
    s.apply(&headers, &body, Codec::decrypt).await
}
