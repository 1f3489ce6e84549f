//! One CloudTrail log file as a stream: `{"Records": [ ... ]}`, usually gzip-compressed.
//! The gzip stream is decoded as it is read and the records are handed over one by one
//! ([`crate::split`]: found by their brackets, not parsed), so memory does not grow with the
//! file. A file that is not JSON of that shape, or is cut short, is an error naming what went
//! wrong; [`each_record`] parses each record and counts the ones that do not parse.

use std::io::{BufRead, Read};

use crate::record::Record;
use crate::split::{SplitError, each_record_bytes};

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Split(#[from] SplitError),
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
    let mut counts = each_raw(input, |raw| match serde_json::from_slice::<Record>(raw) {
        Ok(r) => each(r),
        Err(_) => unparsable += 1,
    })?;
    counts.unparsable = unparsable;
    Ok(counts)
}

/// Calls `each` with the JSON text of every record of the log file `input` (gzip if it starts
/// with gzip's magic bytes, else plain JSON). `unparsable` stays 0: nothing is parsed here.
pub fn each_raw(input: impl Read, each: impl FnMut(&[u8])) -> Result<FileCounts, ReadError> {
    const BUFFER: usize = 256 * 1024;
    let mut input = std::io::BufReader::with_capacity(BUFFER, input);
    let gz = {
        let head = input
            .fill_buf()
            .map_err(|e| SplitError::Io(e.to_string()))?;
        head.starts_with(&[0x1f, 0x8b])
    };
    let records = if gz {
        let decoded =
            std::io::BufReader::with_capacity(BUFFER, flate2::bufread::MultiGzDecoder::new(input));
        each_record_bytes(decoded, each)?
    } else {
        each_record_bytes(input, each)?
    };
    Ok(FileCounts {
        records,
        unparsable: 0,
    })
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
