//! Durations as people write them in files and flags: `90s`, `15m`, `8h`, `1h30m`.

use jiff::SignedDuration;
use serde::{Deserialize, Deserializer};

/// Parses `90s`, `15m`, `8h`, `1h30m` (jiff's friendly format).
pub fn parse(s: &str) -> Result<SignedDuration, String> {
    s.parse::<SignedDuration>().map_err(|e| {
        format!(
            "{} is not a duration like 90s, 15m or 8h ({e})",
            crate::quoted(s)
        )
    })
}

/// `#[serde(deserialize_with = "jit_domain::duration::de")]`
pub fn de<'de, D: Deserializer<'de>>(d: D) -> Result<SignedDuration, D::Error> {
    let s = String::deserialize(d)?;
    parse(&s).map_err(serde::de::Error::custom)
}

/// `#[serde(default, deserialize_with = "jit_domain::duration::de_opt")]`
pub fn de_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SignedDuration>, D::Error> {
    de(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn friendly_durations_parse_and_bad_ones_say_what_is_expected() {
        assert_eq!(parse("90s").unwrap(), SignedDuration::from_secs(90));
        assert_eq!(parse("1h30m").unwrap(), SignedDuration::from_mins(90));
        let e = parse("soon").unwrap_err();
        assert!(e.contains("\"soon\" is not a duration like 90s"), "{e}");
    }
}
