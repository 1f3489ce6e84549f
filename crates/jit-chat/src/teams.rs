//! Teams: Adaptive Cards posted through a Workflows webhook, and the signed, single-use,
//! expiring links approvers follow to vote (Workflows webhooks cannot carry button clicks
//! back, so each approver gets links of their own; the server makes them sign in first).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;

use jit_domain::Card;

/// What a link lets its approver do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoteLink {
    /// Ticket id.
    pub t: String,
    /// The approver the link was made for: only they can use it.
    pub a: String,
    /// `approve` or `deny`.
    pub d: String,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Makes each link unique (single use).
    pub n: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("the link is malformed")]
    Malformed,
    #[error("the link's signature does not match")]
    Forged,
    #[error("the link expired")]
    Expired,
    #[error("the link was already used")]
    Used,
}

fn mac(secret: &[u8], payload: &str) -> Hmac<Sha256> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    m.update(payload.as_bytes());
    m
}

fn b64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n =
            chunk.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

fn unb64(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::new();
    for chunk in s.as_bytes().chunks(4) {
        if chunk.len() < 2 {
            return None;
        }
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= val(*c)? << (18 - 6 * i);
        }
        for i in 0..chunk.len() - 1 {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    Some(out)
}

/// `base64url(json).hex(hmac)`.
pub fn sign_link(secret: &[u8], link: &VoteLink) -> String {
    let payload = b64(&serde_json::to_vec(link).expect("a link serialises"));
    let sig = mac(secret, &payload).finalize().into_bytes();
    format!("{payload}.{}", hex::encode(sig))
}

/// Checks signature (constant time) and expiry; does not consume the link.
pub fn verify_link(secret: &[u8], token: &str, now: Timestamp) -> Result<VoteLink, LinkError> {
    let (payload, sig) = token.split_once('.').ok_or(LinkError::Malformed)?;
    let sig = hex::decode(sig).map_err(|_| LinkError::Malformed)?;
    mac(secret, payload)
        .verify_slice(&sig)
        .map_err(|_| LinkError::Forged)?;
    let link: VoteLink = unb64(payload)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(LinkError::Malformed)?;
    if link.exp < now.as_second() {
        return Err(LinkError::Expired);
    }
    Ok(link)
}

/// The nonces of links already used (until they expire anyway).
#[derive(Debug, Default)]
pub struct UsedLinks {
    used: Mutex<HashMap<String, i64>>,
}

impl UsedLinks {
    pub fn consume(&self, link: &VoteLink, now: Timestamp) -> Result<(), LinkError> {
        let mut g = self.used.lock().unwrap_or_else(|p| p.into_inner());
        g.retain(|_, exp| *exp >= now.as_second());
        if g.insert(link.n.clone(), link.exp).is_some() {
            return Err(LinkError::Used);
        }
        Ok(())
    }
}

/// Text as an Adaptive Card shows it: the characters of its Markdown (emphasis, links and
/// images, code, HTML-looking tags) escaped with CommonMark's backslash, so a justification
/// cannot make a link that says one thing and goes elsewhere, or shout in bold.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '*' | '_' | '[' | ']' | '`' | '<' | '>' | '~') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// An Adaptive Card for `card`; `links` are (label, url) actions (each approver's own).
/// Every text the card carries is escaped ([`escape`]); the links are ours.
pub fn adaptive_card(card: &Card, links: &[(String, String)]) -> Value {
    let mut body = vec![
        json!({"type": "TextBlock", "text": escape(&card.title), "weight": "Bolder", "wrap": true}),
    ];
    body.push(json!({"type": "FactSet", "facts": card.fields.iter().map(|(k, v)| json!({"title": escape(k), "value": escape(v)})).collect::<Vec<_>>()}));
    for l in &card.lines {
        body.push(json!({"type": "TextBlock", "text": escape(l), "wrap": true, "isSubtle": true}));
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard", "version": "1.4", "body": body,
                "actions": links.iter().map(|(title, url)| json!({"type": "Action.OpenUrl", "title": title, "url": url})).collect::<Vec<_>>()
            }
        }]
    })
}

/// Posts to a Teams Workflows webhook.
#[derive(Debug, Clone)]
pub struct TeamsClient {
    webhook_url: String,
    http: reqwest::Client,
}

impl TeamsClient {
    pub fn new(webhook_url: &str) -> Self {
        Self {
            webhook_url: webhook_url.to_owned(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(15))
                .build()
                .unwrap_or_default(),
        }
    }

    pub async fn post(&self, message: &Value) -> Result<(), reqwest::Error> {
        self.http
            .post(&self.webhook_url)
            .json(message)
            .send()
            .await?
            .error_for_status()
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_text_cannot_make_links_or_markup() {
        let card = Card {
            ticket_id: "t-1".into(),
            title: "**urgent** [approve](http://evil)".into(),
            fields: vec![("Why".into(), "see [docs](http://evil) <at>all</at>".into())],
            lines: vec!["`code` _x_".into()],
            actions: true,
        };
        let v = adaptive_card(&card, &[("Approve".into(), "https://jit/ok".into())]);
        let body = v["attachments"][0]["content"]["body"].to_string();
        for raw in [
            "**urgent**",
            "[docs](",
            "<at>",
            "`code`",
            "_x_",
            "[approve](",
        ] {
            assert!(!body.contains(raw), "{raw} raw in {body}");
        }
        assert!(body.contains(r"\\[docs\\](http://evil)"), "{body}");
        // Our own links stay links.
        assert_eq!(
            v["attachments"][0]["content"]["actions"][0]["url"],
            "https://jit/ok"
        );
    }

    fn link() -> VoteLink {
        VoteLink {
            t: "r-abc".into(),
            a: "carol".into(),
            d: "approve".into(),
            exp: 2_000_000_000,
            n: "n1".into(),
        }
    }

    #[test]
    fn links_verify_and_refuse_forgery_expiry_and_reuse() {
        let now = Timestamp::from_second(1_900_000_000).unwrap();
        let token = sign_link(b"secret", &link());
        assert_eq!(verify_link(b"secret", &token, now), Ok(link()));
        assert_eq!(verify_link(b"other", &token, now), Err(LinkError::Forged));
        // Changing the payload (e.g. the approver) breaks the signature.
        let mut other = link();
        other.a = "mallory".into();
        let forged = format!(
            "{}.{}",
            sign_link(b"secret", &other).split('.').next().unwrap(),
            token.split('.').nth(1).unwrap()
        );
        assert_eq!(verify_link(b"secret", &forged, now), Err(LinkError::Forged));
        let later = Timestamp::from_second(2_000_000_001).unwrap();
        assert_eq!(
            verify_link(b"secret", &token, later),
            Err(LinkError::Expired)
        );
        assert_eq!(
            verify_link(b"secret", "nonsense", now),
            Err(LinkError::Malformed)
        );
        let used = UsedLinks::default();
        assert_eq!(used.consume(&link(), now), Ok(()));
        assert_eq!(used.consume(&link(), now), Err(LinkError::Used));
    }

    #[test]
    fn base64url_round_trips() {
        for n in 0..40u8 {
            let v: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37)).collect();
            assert_eq!(unb64(&b64(&v)), Some(v));
        }
    }
}
