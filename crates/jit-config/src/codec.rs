//! The payload encryption keys: `JIT_CODEC_KEYS` (inline) or `JIT_CODEC_KEYS_FILE` (a file,
//! e.g. a mounted secret) — never the config file, never a history.
//!
//! One key per entry, entries separated by commas or new lines, each `<key id>:<base64 of 32
//! bytes>`. **The first key encrypts; every key decrypts**: to rotate, put the new key first
//! and keep the old ones after it while histories that use them exist. Blank lines and
//! lines starting with `#` are ignored (a keys file may be commented).

use std::fmt;

use base64::Engine;

use crate::ConfigError;
use crate::chat::secret;

/// One AES-256 key and the id written next to what it encrypted.
#[derive(Clone, PartialEq, Eq)]
pub struct CodecKey {
    pub id: String,
    pub key: [u8; 32],
}

impl fmt::Debug for CodecKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CodecKey({}: ***)", self.id)
    }
}

/// The keys, newest (the one that encrypts) first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecKeys(Vec<CodecKey>);

impl CodecKeys {
    /// From `JIT_CODEC_KEYS` or the file `JIT_CODEC_KEYS_FILE` names; `None` when neither is
    /// set (payloads are then stored as they are).
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Option<Self>, ConfigError> {
        let var = if env("JIT_CODEC_KEYS").is_some_and(|v| !v.is_empty()) {
            "JIT_CODEC_KEYS"
        } else {
            "JIT_CODEC_KEYS_FILE"
        };
        match secret(env, "JIT_CODEC_KEYS")? {
            None => Ok(None),
            Some(text) => {
                Self::parse(text.expose())
                    .map(Some)
                    .map_err(|problem| ConfigError::Env {
                        var: var.into(),
                        problem,
                    })
            }
        }
    }

    /// Parses the keys' text; the problem names the entry that is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut keys: Vec<CodecKey> = Vec::new();
        let entries = text
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .flat_map(|l| l.split(','))
            .map(str::trim)
            .filter(|e| !e.is_empty());
        for (n, entry) in entries.enumerate() {
            let n = n + 1;
            let Some((id, b64)) = entry.split_once(':') else {
                return Err(format!(
                    "key {n} is not `<id>:<base64 key>` (a key id, a colon, 32 bytes in base64)"
                ));
            };
            let id = id.trim();
            if id.is_empty()
                || id.len() > 64
                || !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                return Err(format!(
                    "key {n}: the id {id:?} must be 1 to 64 letters, digits, '-', '_' or '.'"
                ));
            }
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|e| format!("key {n} ({id}): not base64: {e}"))?;
            let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
                format!(
                    "key {n} ({id}): {} bytes; AES-256 needs 32 (e.g. `openssl rand -base64 32`)",
                    bytes.len()
                )
            })?;
            if keys.iter().any(|k| k.id == id) {
                return Err(format!("key {n}: the id {id} is used twice"));
            }
            keys.push(CodecKey {
                id: id.to_owned(),
                key,
            });
        }
        if keys.is_empty() {
            return Err("no key in it (`<id>:<base64 key>`, the newest first)".into());
        }
        Ok(Self(keys))
    }

    /// The key new payloads are encrypted with.
    pub fn current(&self) -> &CodecKey {
        &self.0[0]
    }

    pub fn get(&self, id: &str) -> Option<&CodecKey> {
        self.0.iter().find(|k| k.id == id)
    }

    /// Every key id, newest first (for errors and logs; never the keys).
    pub fn ids(&self) -> Vec<&str> {
        self.0.iter().map(|k| k.id.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(b: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(b)
    }

    #[test]
    fn the_first_key_encrypts_and_comments_and_blank_lines_are_skipped() {
        let text = format!(
            "# rotated 2026-12, k1 kept: old tickets\nk2:{}\n\nk1:{}\n",
            b64(&[2; 32]),
            b64(&[1; 32])
        );
        let k = CodecKeys::parse(&text).unwrap();
        assert_eq!(k.current().id, "k2");
        assert_eq!(k.ids(), ["k2", "k1"]);
        assert_eq!(k.get("k1").unwrap().key, [1; 32]);
        let inline = CodecKeys::parse(&format!("a:{}, b:{}", b64(&[3; 32]), b64(&[4; 32])));
        assert_eq!(inline.unwrap().ids(), ["a", "b"]);
    }

    #[test]
    fn bad_keys_are_named() {
        let cases = [
            ("", "no key"),
            ("k1", "key 1 is not `<id>:<base64 key>`"),
            (
                &format!("k1:{}", b64(&[1; 16])) as &str,
                "16 bytes; AES-256 needs 32",
            ),
            ("k1:***", "key 1 (k1): not base64"),
            (&format!("bad id:{}", b64(&[1; 32])), "the id \"bad id\""),
            (
                &format!("k1:{},k1:{}", b64(&[1; 32]), b64(&[2; 32])),
                "key 2: the id k1 is used twice",
            ),
        ];
        for (text, want) in cases {
            let e = CodecKeys::parse(text).unwrap_err();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }

    #[test]
    fn from_the_environment_or_a_file_and_the_variable_is_named() {
        assert_eq!(CodecKeys::from_env(&|_| None).unwrap(), None);
        let env = |v: &str| (v == "JIT_CODEC_KEYS").then(|| "k1:short".to_owned());
        let e = CodecKeys::from_env(&env).unwrap_err().to_string();
        assert!(e.contains("JIT_CODEC_KEYS") && e.contains("k1"), "{e}");
        let dir = std::env::temp_dir().join(format!("jit-codec-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("keys");
        std::fs::write(&f, format!("k9:{}\n", b64(&[9; 32]))).unwrap();
        let path = f.display().to_string();
        let env = move |v: &str| (v == "JIT_CODEC_KEYS_FILE").then(|| path.clone());
        let k = CodecKeys::from_env(&env).unwrap().unwrap();
        assert_eq!(k.current().id, "k9");
        assert!(!format!("{k:?}").contains("CQkJ"), "keys never print");
        let env = |v: &str| (v == "JIT_CODEC_KEYS_FILE").then(|| "/nonexistent/keys".to_owned());
        let e = CodecKeys::from_env(&env).unwrap_err().to_string();
        assert!(e.contains("JIT_CODEC_KEYS_FILE"), "{e}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
