//! Payload encryption: every payload a jit process sends to Temporal (workflow inputs,
//! updates, signals, activity arguments and results, query answers, failure messages) is
//! AES-256-GCM encrypted, so histories hold no justification, e-mail or display name.
//!
//! The format is the one of Temporal's own encryption samples, so any codec server written
//! to them reads jit's histories: metadata `encoding: binary/encrypted` and
//! `encryption-key-id: <id>`; data = 12-byte nonce ‖ ciphertext+tag of the original payload
//! (protobuf). New payloads use the newest key; any configured key decrypts
//! ([`jit_config::CodecKeys`]). Payloads that were never encrypted (histories from before the
//! codec) pass through. Search attributes are indexes and are never encrypted (the SDK skips
//! them): see `jit_contract::search_attributes` for what they expose.
//!
//! [`CodecJson`] is the codec server's half: Temporal's `/encode` and `/decode` JSON bodies.

use std::collections::HashMap;
use std::sync::Arc;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use futures::future::BoxFuture;
use jit_config::CodecKeys;
use prost::Message;
use temporalio_client::errors::WorkflowUpdateError;
use temporalio_common::data_converters::CommonAttributes;
use temporalio_common::data_converters::{
    DataConverter, DefaultFailureConverter, PayloadCodec, PayloadConversionError, PayloadConverter,
    SerializationContextData,
};
pub use temporalio_common::protos::temporal::api::common::v1::Payload;
use temporalio_common::protos::temporal::api::failure::v1::Failure;

pub const ENCODING: &str = "binary/encrypted";
pub const KEY_ID: &str = "encryption-key-id";
const NONCE_LEN: usize = 12;

/// What went wrong with a payload; the message says which key and which setting.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CodecError {
    #[error(
        "a payload is encrypted with key {id:?}, which this process does not have (its keys: \
         {have}); add it to JIT_CODEC_KEYS or JIT_CODEC_KEYS_FILE"
    )]
    UnknownKey { id: String, have: String },
    #[error(
        "a payload is encrypted (key {id:?}) but this process has no keys: set JIT_CODEC_KEYS \
         or JIT_CODEC_KEYS_FILE"
    )]
    NoKeys { id: String },
    #[error(
        "a payload encrypted with key {id:?} does not decrypt: the key {id:?} configured here \
         is not the one it was written with, or the payload was altered"
    )]
    Undecryptable { id: String },
    #[error("an encrypted payload is malformed: {0}")]
    Malformed(String),
}

/// The codec of every client and worker: encrypts with the newest key when keys are
/// configured; without keys it stores payloads as they are but still names an encrypted
/// payload it meets instead of failing to parse it.
#[derive(Debug, Clone, Default)]
pub struct Codec {
    keys: Option<Arc<CodecKeys>>,
}

impl Codec {
    pub fn new(keys: Option<CodecKeys>) -> Self {
        Self {
            keys: keys.map(Arc::new),
        }
    }

    pub fn encrypts(&self) -> bool {
        self.keys.is_some()
    }

    /// For the startup log: which key encrypts, which decrypt (ids only).
    pub fn describe(&self) -> String {
        match &self.keys {
            None => "off: payloads stored as they are (set JIT_CODEC_KEYS or _FILE)".into(),
            Some(k) => format!(
                "AES-256-GCM with key {} (decrypts {})",
                k.current().id,
                k.ids().join(", ")
            ),
        }
    }

    /// Encrypts one payload with the newest key (as it is without keys).
    pub fn encrypt(&self, p: Payload) -> Payload {
        let Some(keys) = &self.keys else { return p };
        let k = keys.current();
        let cipher = Aes256Gcm::new(&k.key.into());
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = cipher
            .encrypt(&nonce, p.encode_to_vec().as_slice())
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut data = Vec::with_capacity(NONCE_LEN + sealed.len());
        data.extend_from_slice(&nonce);
        data.extend_from_slice(&sealed);
        Payload {
            metadata: HashMap::from([
                ("encoding".to_owned(), ENCODING.as_bytes().to_vec()),
                (KEY_ID.to_owned(), k.id.as_bytes().to_vec()),
            ]),
            data,
            ..Default::default()
        }
    }

    /// Decrypts one payload with the key it names; a payload that is not encrypted is
    /// returned as it is.
    pub fn decrypt(&self, p: Payload) -> Result<Payload, CodecError> {
        if p.metadata.get("encoding").map(Vec::as_slice) != Some(ENCODING.as_bytes()) {
            return Ok(p);
        }
        let id = p
            .metadata
            .get(KEY_ID)
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .ok_or_else(|| CodecError::Malformed(format!("no {KEY_ID} in its metadata")))?;
        let Some(keys) = &self.keys else {
            return Err(CodecError::NoKeys { id });
        };
        let Some(k) = keys.get(&id) else {
            return Err(CodecError::UnknownKey {
                have: keys.ids().join(", "),
                id,
            });
        };
        if p.data.len() < NONCE_LEN {
            return Err(CodecError::Malformed(format!(
                "{} bytes, shorter than its nonce",
                p.data.len()
            )));
        }
        let (nonce, sealed) = p.data.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().expect("split at its length");
        let plain = Aes256Gcm::new(&k.key.into())
            .decrypt(&Nonce::from(nonce), sealed)
            .map_err(|_| CodecError::Undecryptable { id: id.clone() })?;
        Payload::decode(plain.as_slice())
            .map_err(|e| CodecError::Malformed(format!("not a payload once decrypted: {e}")))
    }

    /// Restores the messages of `f` and its causes that the failure converter moved into an
    /// encrypted payload (the SDK hands update refusals to the caller as they are stored).
    /// A message that cannot be opened says why instead.
    pub fn open_failure(&self, f: &mut Failure) {
        let mut next = Some(f);
        while let Some(f) = next {
            if let Some(p) = f.encoded_attributes.take() {
                match self.decrypt(p).map_err(|e| e.to_string()).and_then(|p| {
                    serde_json::from_slice::<CommonAttributes>(&p.data)
                        .map_err(|e| format!("the failure's attributes are not JSON: {e}"))
                }) {
                    Ok(a) => {
                        f.message = a.message;
                        f.stack_trace = a.stack_trace;
                    }
                    Err(e) => f.message = format!("(failure message unreadable: {e})"),
                }
            }
            next = f.cause.as_deref_mut();
        }
    }

    /// [`Codec::open_failure`] on an update's refusal.
    pub fn open_update_error(&self, mut e: WorkflowUpdateError) -> WorkflowUpdateError {
        if let WorkflowUpdateError::Failed(f) = &mut e {
            self.open_failure(f);
        }
        e
    }

    /// The SDK's data converter with this codec; failure messages and stack traces are moved
    /// into an (encrypted) payload when keys are configured.
    pub fn data_converter(&self) -> DataConverter {
        DataConverter::new(
            PayloadConverter::default(),
            DefaultFailureConverter::new(self.encrypts()),
            self.clone(),
        )
    }
}

fn conversion(e: CodecError) -> PayloadConversionError {
    PayloadConversionError::EncodingError(Box::new(e))
}

impl PayloadCodec for Codec {
    fn encode(
        &self,
        _: &SerializationContextData,
        payloads: Vec<Payload>,
    ) -> BoxFuture<'static, Result<Vec<Payload>, PayloadConversionError>> {
        let out = payloads.into_iter().map(|p| self.encrypt(p)).collect();
        Box::pin(std::future::ready(Ok(out)))
    }

    fn decode(
        &self,
        _: &SerializationContextData,
        payloads: Vec<Payload>,
    ) -> BoxFuture<'static, Result<Vec<Payload>, PayloadConversionError>> {
        let out = payloads
            .into_iter()
            .map(|p| self.decrypt(p).map_err(conversion))
            .collect();
        Box::pin(std::future::ready(out))
    }
}

/// The body of a codec server's `/encode` and `/decode` (and their answers): payloads in
/// protobuf's JSON form, bytes as base64.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct CodecJson {
    #[serde(default)]
    pub payloads: Vec<JsonPayload>,
}

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct JsonPayload {
    #[serde(default)]
    pub metadata: HashMap<String, String>,
    #[serde(default)]
    pub data: String,
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

impl JsonPayload {
    fn into_payload(self, n: usize) -> Result<Payload, CodecError> {
        let bytes = |what: &str, v: &str| {
            b64().decode(v).map_err(|e| {
                CodecError::Malformed(format!("payload {n}: {what} is not base64: {e}"))
            })
        };
        let mut metadata = HashMap::new();
        for (k, v) in self.metadata {
            let b = bytes(&format!("metadata {k:?}"), &v)?;
            metadata.insert(k, b);
        }
        Ok(Payload {
            metadata,
            data: bytes("data", &self.data)?,
            ..Default::default()
        })
    }

    fn from_payload(p: Payload) -> Self {
        Self {
            metadata: p
                .metadata
                .into_iter()
                .map(|(k, v)| (k, b64().encode(v)))
                .collect(),
            data: b64().encode(p.data),
        }
    }
}

impl CodecJson {
    /// Applies `f` to every payload (`/encode`: [`Codec::encrypt`], `/decode`:
    /// [`Codec::decrypt`]); the first failure is the answer.
    pub fn map(
        self,
        f: impl Fn(Payload) -> Result<Payload, CodecError>,
    ) -> Result<Self, CodecError> {
        let payloads = self
            .payloads
            .into_iter()
            .enumerate()
            .map(|(n, p)| f(p.into_payload(n + 1)?).map(JsonPayload::from_payload))
            .collect::<Result<_, _>>()?;
        Ok(Self { payloads })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(text: &str) -> CodecKeys {
        let expand = text
            .split(',')
            .map(|e| {
                let (id, byte) = e.split_once(':').unwrap();
                let b: u8 = byte.parse().unwrap();
                format!("{id}:{}", b64().encode([b; 32]))
            })
            .collect::<Vec<_>>()
            .join(",");
        CodecKeys::parse(&expand).unwrap()
    }

    fn json(s: &str) -> Payload {
        Payload {
            metadata: HashMap::from([("encoding".into(), b"json/plain".to_vec())]),
            data: s.as_bytes().to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn encrypts_with_the_newest_key_and_decrypts_with_any() {
        let old = Codec::new(Some(keys("k1:1")));
        let p = json(r#""because prod is down (bob@example.com)""#);
        let sealed_k1 = old.encrypt(p.clone());
        assert_eq!(sealed_k1.metadata[KEY_ID], b"k1");
        assert_eq!(sealed_k1.metadata["encoding"], ENCODING.as_bytes());
        assert!(
            !String::from_utf8_lossy(&sealed_k1.data).contains("bob"),
            "no plaintext in the data"
        );
        // Two encryptions of one payload differ (a fresh nonce each time).
        assert_ne!(old.encrypt(p.clone()).data, sealed_k1.data);

        let rotated = Codec::new(Some(keys("k2:2,k1:1")));
        let sealed_k2 = rotated.encrypt(p.clone());
        assert_eq!(sealed_k2.metadata[KEY_ID], b"k2");
        assert_eq!(rotated.decrypt(sealed_k1.clone()).unwrap(), p);
        assert_eq!(rotated.decrypt(sealed_k2.clone()).unwrap(), p);
        // A payload from before the codec passes through.
        assert_eq!(rotated.decrypt(p.clone()).unwrap(), p);

        // The old key alone cannot read the new payload, and says what to do.
        let e = old.decrypt(sealed_k2.clone()).unwrap_err();
        assert_eq!(
            e,
            CodecError::UnknownKey {
                id: "k2".into(),
                have: "k1".into()
            }
        );
        assert!(e.to_string().contains("JIT_CODEC_KEYS"), "{e}");
        let e = Codec::new(None).decrypt(sealed_k2.clone()).unwrap_err();
        assert!(e.to_string().contains("has no keys"), "{e}");
        // Same id, other key material; or altered data: refused, never garbage.
        let e = Codec::new(Some(keys("k2:9")))
            .decrypt(sealed_k2.clone())
            .unwrap_err();
        assert_eq!(e, CodecError::Undecryptable { id: "k2".into() });
        let mut altered = sealed_k2;
        let last = altered.data.len() - 1;
        altered.data[last] ^= 1;
        assert!(matches!(
            rotated.decrypt(altered),
            Err(CodecError::Undecryptable { .. })
        ));
        // Without keys nothing is encrypted.
        assert_eq!(Codec::new(None).encrypt(p.clone()), p);
    }

    #[test]
    fn encoded_failure_messages_are_opened_along_the_cause_chain() {
        let codec = Codec::new(Some(keys("k1:1")));
        let attrs = |m: &str| {
            codec.encrypt(json(
                &serde_json::json!({ "message": m, "stack_trace": "" }).to_string(),
            ))
        };
        let mut f = Failure {
            message: "Encoded failure".into(),
            encoded_attributes: Some(attrs("bob is the requester")),
            cause: Some(Box::new(Failure {
                message: "Encoded failure".into(),
                encoded_attributes: Some(attrs("refusal: not_allowed")),
                ..Default::default()
            })),
            ..Default::default()
        };
        codec.open_failure(&mut f);
        assert_eq!(f.message, "bob is the requester");
        assert_eq!(f.cause.as_ref().unwrap().message, "refusal: not_allowed");
        let mut g = Failure {
            message: "Encoded failure".into(),
            encoded_attributes: Some(attrs("secret")),
            ..Default::default()
        };
        Codec::new(Some(keys("k2:2"))).open_failure(&mut g);
        assert!(
            g.message.contains("unreadable") && g.message.contains("k1"),
            "{}",
            g.message
        );
    }

    #[test]
    fn the_codec_server_bodies_round_trip_and_bad_base64_is_named() {
        let codec = Codec::new(Some(keys("k1:1")));
        let body = CodecJson {
            payloads: vec![JsonPayload::from_payload(json(r#""secret reason""#))],
        };
        let encoded = body.clone().map(|p| Ok(codec.encrypt(p))).unwrap();
        let text = serde_json::to_string(&encoded).unwrap();
        assert!(
            !text.contains(&b64().encode(r#""secret reason""#)),
            "{text}"
        );
        let decoded = serde_json::from_str::<CodecJson>(&text)
            .unwrap()
            .map(|p| codec.decrypt(p))
            .unwrap();
        assert_eq!(decoded.payloads[0].data, body.payloads[0].data);
        let bad = CodecJson {
            payloads: vec![JsonPayload {
                metadata: HashMap::new(),
                data: "!!".into(),
            }],
        };
        let e = bad.map(|p| codec.decrypt(p)).unwrap_err().to_string();
        assert!(e.contains("payload 1: data is not base64"), "{e}");
    }
}
