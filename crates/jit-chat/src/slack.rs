//! Slack: request signatures (v0), a small Web API client, and Block Kit rendering.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use jiff::Timestamp;
use serde_json::{Value, json};
use sha2::Sha256;

use jit_domain::{Card, ChatMessage};

/// Requests older (or newer) than this are refused, as Slack recommends.
pub const MAX_AGE: i64 = 5 * 60;

/// Why a request was not accepted as coming from Slack.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing X-Slack-Request-Timestamp or X-Slack-Signature")]
    Missing,
    #[error("malformed timestamp or signature")]
    Malformed,
    #[error("stale request: timestamp {0} s away from now (at most 300)")]
    Stale(i64),
    #[error("the signature does not match")]
    Mismatch,
    #[error("replayed request: this signature was already seen")]
    Replayed,
}

/// Checks Slack's v0 signature: `v0=` + hex(HMAC-SHA256(secret, "v0:{ts}:{body}")), compared
/// in constant time, with the timestamp within five minutes of `now`.
pub fn verify(
    secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: Timestamp,
) -> Result<(), SignatureError> {
    let (Some(ts), Some(sig)) = (timestamp, signature) else {
        return Err(SignatureError::Missing);
    };
    let t: i64 = ts.parse().map_err(|_| SignatureError::Malformed)?;
    let age = now.as_second() - t;
    if age.abs() > MAX_AGE {
        return Err(SignatureError::Stale(age));
    }
    let hex = sig.strip_prefix("v0=").ok_or(SignatureError::Malformed)?;
    let expected = hex::decode(hex).map_err(|_| SignatureError::Malformed)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| SignatureError::Malformed)?;
    mac.update(b"v0:");
    mac.update(ts.as_bytes());
    mac.update(b":");
    mac.update(body);
    // `verify_slice` compares in constant time.
    mac.verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

/// The signature Slack would send for `body` at `ts` (for tests and fakes).
pub fn sign(secret: &[u8], ts: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(format!("v0:{ts}:").as_bytes());
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    format!("v0={}", hex::encode(bytes))
}

/// Remembers the signatures of accepted requests for [`MAX_AGE`]: the same request twice is a
/// replay (Slack retries carry a new timestamp, hence a new signature).
#[derive(Debug, Default)]
pub struct ReplayGuard {
    seen: Mutex<HashMap<String, i64>>,
}

impl ReplayGuard {
    /// Records `signature`; `Err` if it was seen within the window.
    pub fn check(&self, signature: &str, now: Timestamp) -> Result<(), SignatureError> {
        let now = now.as_second();
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.retain(|_, at| now - *at <= MAX_AGE);
        if seen.insert(signature.to_owned(), now).is_some() {
            return Err(SignatureError::Replayed);
        }
        Ok(())
    }
}

/// A `chat.postMessage` / `chat.update` body: `head` (channel, ts) with the card's blocks and
/// its `text`, the fallback Slack shows in notifications — escaped like every block, or a
/// justification could ping a channel there.
fn message(mut head: Value, card: &Card) -> Value {
    head["text"] = Value::String(escape(&card.fallback()));
    head["blocks"] = blocks(card);
    head
}

/// Text as Slack shows it: `&`, `<` and `>` escaped, so a justification cannot ping
/// `<!channel>` or fake a link.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[derive(Debug, thiserror::Error)]
pub enum SlackError {
    #[error("Slack {method}: {source}")]
    Http {
        method: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("Slack {method}: {error}")]
    Api { method: String, error: String },
}

/// The Slack Web API, at a configurable base URL (the fake one in tests).
#[derive(Debug, Clone)]
pub struct SlackClient {
    base_url: String,
    token: String,
    http: reqwest::Client,
}

impl SlackClient {
    pub fn new(base_url: &str, token: &str) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(15))
                .build()
                .unwrap_or_default(),
        }
    }

    async fn call(&self, method: &str, body: Value) -> Result<Value, SlackError> {
        let req = self
            .http
            .post(format!("{}/{method}", self.base_url))
            .bearer_auth(&self.token);
        // Slack's read methods take form fields; the write methods take JSON.
        let req = if method.starts_with("users.") {
            let fields: Vec<(String, String)> = body
                .as_object()
                .map(|o| {
                    o.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                        .collect()
                })
                .unwrap_or_default();
            req.form(&fields)
        } else {
            req.json(&body)
        };
        let r = req
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|source| SlackError::Http {
                method: method.into(),
                source,
            })?;
        let v: Value = r.json().await.map_err(|source| SlackError::Http {
            method: method.into(),
            source,
        })?;
        if v["ok"] == true {
            Ok(v)
        } else {
            Err(SlackError::Api {
                method: method.into(),
                error: v["error"].as_str().unwrap_or("unknown error").to_owned(),
            })
        }
    }

    /// Posts `card` to `channel` (a channel id or name, or a user id for a direct message).
    pub async fn post(&self, channel: &str, card: &Card) -> Result<ChatMessage, SlackError> {
        let v = self
            .call(
                "chat.postMessage",
                message(json!({ "channel": channel }), card),
            )
            .await?;
        Ok(ChatMessage {
            channel: v["channel"].as_str().unwrap_or(channel).to_owned(),
            ts: v["ts"].as_str().unwrap_or_default().to_owned(),
        })
    }

    /// Replaces the message at `at` with `card`.
    pub async fn update(&self, at: &ChatMessage, card: &Card) -> Result<(), SlackError> {
        self.call(
            "chat.update",
            message(json!({ "channel": at.channel, "ts": at.ts }), card),
        )
        .await
        .map(|_| ())
    }

    /// The Slack user id of the person with this email, if Slack knows them.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<String>, SlackError> {
        match self
            .call("users.lookupByEmail", json!({ "email": email }))
            .await
        {
            Ok(v) => Ok(v["user"]["id"].as_str().map(str::to_owned)),
            Err(SlackError::Api { error, .. }) if error == "users_not_found" => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The email of the Slack user `id`.
    pub async fn email_of(&self, id: &str) -> Result<Option<String>, SlackError> {
        let v = self.call("users.info", json!({ "user": id })).await?;
        Ok(v["user"]["profile"]["email"].as_str().map(str::to_owned))
    }

    /// Opens a modal (`views.open`) for the click that sent `trigger_id`.
    pub async fn open_view(&self, trigger_id: &str, view: Value) -> Result<(), SlackError> {
        self.call(
            "views.open",
            json!({ "trigger_id": trigger_id, "view": view }),
        )
        .await
        .map(|_| ())
    }

    /// Answers a click privately (only the clicker sees it), through its `response_url`.
    pub async fn respond_ephemeral(
        &self,
        response_url: &str,
        text: &str,
    ) -> Result<(), SlackError> {
        self.http
            .post(response_url)
            .json(&json!({ "response_type": "ephemeral", "replace_original": false, "text": escape(text) }))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map(|_| ())
            .map_err(|source| SlackError::Http {
                method: "response_url".into(),
                source,
            })
    }
}

/// The Block Kit blocks of a card: a header line, the fields, the votes, and — while it waits
/// for approval — Approve, Deny and Delegate buttons carrying the ticket id.
pub fn blocks(card: &Card) -> Value {
    let mut b = vec![
        json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("*{}*", escape(&card.title))}}),
        json!({"type": "section", "fields": card.fields.iter().map(|(k, v)| json!({
            "type": "mrkdwn", "text": format!("*{}*\n{}", escape(k), escape(v))
        })).collect::<Vec<_>>()}),
    ];
    if !card.lines.is_empty() {
        b.push(
            json!({"type": "context", "elements": card.lines.iter().map(|l| json!({
            "type": "mrkdwn", "text": escape(l)
        })).collect::<Vec<_>>()}),
        );
    }
    if card.actions {
        let button = |id: &str, text: &str, style: Option<&str>| {
            let mut v = json!({
                "type": "button", "action_id": id, "value": card.ticket_id,
                "text": {"type": "plain_text", "text": text}
            });
            if let Some(s) = style {
                v["style"] = json!(s);
            }
            v
        };
        b.push(json!({"type": "actions", "block_id": "vote", "elements": [
            button("approve", "Approve", Some("primary")),
            button("deny", "Deny", Some("danger")),
            button("delegate", "Delegate", None),
        ]}));
    }
    Value::Array(b)
}

/// The modal asking a denier for the reason (`callback_id` `deny`, ticket in
/// `private_metadata`).
pub fn deny_modal(ticket_id: &str) -> Value {
    json!({
        "type": "modal", "callback_id": "deny", "private_metadata": ticket_id,
        "title": {"type": "plain_text", "text": "Deny access"},
        "submit": {"type": "plain_text", "text": "Deny"},
        "blocks": [{"type": "input", "block_id": "reason", "label": {"type": "plain_text", "text": "Why? (shown to the requester)"},
            "element": {"type": "plain_text_input", "action_id": "reason", "multiline": true}}]
    })
}

/// The modal asking whom to delegate to, and for how long.
pub fn delegate_modal(ticket_id: &str) -> Value {
    json!({
        "type": "modal", "callback_id": "delegate", "private_metadata": ticket_id,
        "title": {"type": "plain_text", "text": "Delegate your vote"},
        "submit": {"type": "plain_text", "text": "Delegate"},
        "blocks": [
            {"type": "input", "block_id": "to", "label": {"type": "plain_text", "text": "To (user name)"},
             "element": {"type": "plain_text_input", "action_id": "to"}},
            {"type": "input", "block_id": "hours", "label": {"type": "plain_text", "text": "For how many hours"},
             "element": {"type": "plain_text_input", "action_id": "hours", "initial_value": "8"}}
        ]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"8f742231b10e8888abcd99yyyzzz85a5";

    #[test]
    fn slacks_documented_example_verifies() {
        // The example from Slack's "Verifying requests from Slack" guide.
        let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let ts = "1531420618";
        let sig = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
        let at = Timestamp::from_second(1531420618 + 10).unwrap();
        assert_eq!(verify(SECRET, Some(ts), Some(sig), body, at), Ok(()));
        assert_eq!(sign(SECRET, 1531420618, body), sig);
        // One byte changed, a stale clock, a wrong secret, garbage.
        let mut forged = body.to_vec();
        forged[6] ^= 1;
        assert_eq!(
            verify(SECRET, Some(ts), Some(sig), &forged, at),
            Err(SignatureError::Mismatch)
        );
        let later = Timestamp::from_second(1531420618 + 301).unwrap();
        assert_eq!(
            verify(SECRET, Some(ts), Some(sig), body, later),
            Err(SignatureError::Stale(301))
        );
        assert_eq!(
            verify(b"other", Some(ts), Some(sig), body, at),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(SECRET, Some(ts), Some("v0=zz"), body, at),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(SECRET, None, Some(sig), body, at),
            Err(SignatureError::Missing)
        );
    }

    #[test]
    fn a_signature_is_accepted_once() {
        let g = ReplayGuard::default();
        let now = Timestamp::from_second(1_000_000).unwrap();
        assert_eq!(g.check("v0=ab", now), Ok(()));
        assert_eq!(g.check("v0=ab", now), Err(SignatureError::Replayed));
        assert_eq!(g.check("v0=cd", now), Ok(()));
    }

    #[test]
    fn no_field_of_a_message_carries_user_text_raw() {
        let card = Card {
            title: "Access for <@U123>".into(),
            fields: vec![(
                "Why".into(),
                "<!channel> see <http://evil|docs> & more".into(),
            )],
            lines: vec!["<!here>".into()],
            ticket_id: "t-1".into(),
            actions: true,
        };
        let m = message(json!({ "channel": "C1" }), &card);
        // Every string anywhere in the body: no raw control sequence of Slack's markup.
        fn strings(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::String(s) => out.push(s.clone()),
                Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
                Value::Object(o) => o.values().for_each(|x| strings(x, out)),
                _ => {}
            }
        }
        let mut all = Vec::new();
        strings(&m, &mut all);
        assert!(
            all.iter().any(|s| s.contains("&lt;!channel&gt;")),
            "{all:?}"
        );
        for s in &all {
            assert!(!s.contains('<') && !s.contains('>'), "raw markup in {s:?}");
        }
    }

    #[test]
    fn text_cannot_ping_the_channel_or_fake_links() {
        assert_eq!(
            escape("<!channel> & <http://x|y>"),
            "&lt;!channel&gt; &amp; &lt;http://x|y&gt;"
        );
    }
}
