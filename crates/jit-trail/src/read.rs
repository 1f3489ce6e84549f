//! One CloudTrail log file as a stream: `{"Records": [ ... ]}`, usually gzip-compressed.
//! The gzip stream is decoded as it is read and the records are handed over one by one, so
//! memory does not grow with the file. A record that does not parse is counted and skipped;
//! a file that is not JSON, or is cut short, is an error naming what went wrong.
//!
//! [`each_raw`] hands over each record's JSON text without building it into anything, so a
//! caller can skip the records it has no use for with a substring search and parse only the
//! rest ([`each_record`] parses every one).

use std::fmt;
use std::io::Read;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::record::Record;

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("not a CloudTrail log file: {0}")]
    Format(#[from] serde_json::Error),
}

/// What one file held.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FileCounts {
    pub records: u64,
    /// Records that did not parse (skipped).
    pub unparsable: u64,
}

/// Calls `each` with every record of the log file `input` (gzip if it starts with gzip's
/// magic bytes, else plain JSON).
pub fn each_record(
    input: impl Read,
    mut each: impl FnMut(Record),
) -> Result<FileCounts, ReadError> {
    let mut unparsable = 0;
    let mut counts = each_raw(input, |raw| {
        match serde_json::from_str::<Record>(raw.get()) {
            Ok(r) => each(r),
            Err(_) => unparsable += 1,
        }
    })?;
    counts.unparsable = unparsable;
    Ok(counts)
}

/// Calls `each` with the JSON text of every record of the log file `input` (gzip if it starts
/// with gzip's magic bytes, else plain JSON). `unparsable` stays 0: nothing is parsed here.
pub fn each_raw(
    input: impl Read,
    mut each: impl FnMut(&RawValue),
) -> Result<FileCounts, ReadError> {
    let mut input = std::io::BufReader::with_capacity(64 * 1024, input);
    let gz = {
        use std::io::BufRead;
        let head = input.fill_buf().map_err(serde_json::Error::io)?;
        head.starts_with(&[0x1f, 0x8b])
    };
    let mut counts = FileCounts::default();
    let reader: Box<dyn Read> = if gz {
        Box::new(std::io::BufReader::with_capacity(
            64 * 1024,
            flate2::read::MultiGzDecoder::new(input),
        ))
    } else {
        Box::new(input)
    };
    let mut de = serde_json::Deserializer::from_reader(reader);
    de.deserialize_map(File {
        each: &mut each,
        counts: &mut counts,
    })?;
    de.end()?;
    Ok(counts)
}

struct File<'a, F> {
    each: &'a mut F,
    counts: &'a mut FileCounts,
}

impl<'de, F: FnMut(&RawValue)> Visitor<'de> for File<'_, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(r#"{"Records": [...]}"#)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == "Records" {
                map.next_value_seed(Records {
                    each: &mut *self.each,
                    counts: &mut *self.counts,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

struct Records<'a, F> {
    each: &'a mut F,
    counts: &'a mut FileCounts,
}

impl<'de, F: FnMut(&RawValue)> DeserializeSeed<'de> for Records<'_, F> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, F: FnMut(&RawValue)> Visitor<'de> for Records<'_, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        // Each record's text only (one in memory at a time): no tree is built.
        while let Some(raw) = seq.next_element::<Box<RawValue>>()? {
            self.counts.records += 1;
            (self.each)(&raw);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(text: &str) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(text.as_bytes()).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn records_come_one_by_one_from_gzip_or_plain_and_bad_ones_are_counted() {
        let text = r#"{"Records":[{"eventName":"A"},{"eventName":7},{"eventName":"C","extra":{"x":[1,2]}}],"other":1}"#;
        for bytes in [gz(text), text.as_bytes().to_vec()] {
            let mut names = Vec::new();
            let c = each_record(&bytes[..], |r| names.push(r.event_name.unwrap())).unwrap();
            assert_eq!(names, ["A", "C"]);
            assert_eq!(
                c,
                FileCounts {
                    records: 3,
                    unparsable: 1
                }
            );
        }
    }

    #[test]
    fn a_truncated_or_foreign_file_is_an_error() {
        let text = r#"{"Records":[{"eventName":"A"},{"eventNa"#;
        let e = each_record(&gz(text)[..], |_| {}).unwrap_err().to_string();
        assert!(e.starts_with("not a CloudTrail log file"), "{e}");
        assert!(each_record(&b"[1,2]"[..], |_| {}).is_err());
        assert!(each_record(&b"\x1f\x8bnot gzip"[..], |_| {}).is_err());
    }
}
