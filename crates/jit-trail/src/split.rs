//! The records of a log file as byte slices, without parsing them: a small state machine over
//! the decompressed stream finds where each object of `Records` begins and ends (strings and
//! escapes respected), jumping with `memchr` to the next byte that matters. Only the records a
//! caller wants are then parsed. A file cut short, or one that is not `{"Records": [...]}`, is
//! an error naming where.

use std::io::BufRead;

/// Why a file could not be split into records.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SplitError {
    #[error("not a CloudTrail log file: {0} at byte {1}")]
    Format(&'static str, u64),
    #[error("not a CloudTrail log file: cut short at byte {0}")]
    Truncated(u64),
    #[error("not a CloudTrail log file: {0}")]
    Io(String),
}

/// Reads `input` (decompressed JSON) and calls `each` with every record of its `Records`
/// array; other top-level members are skipped. Returns how many records there were.
pub fn each_record_bytes(
    mut input: impl BufRead,
    mut each: impl FnMut(&[u8]),
) -> Result<u64, SplitError> {
    let mut s = Splitter {
        pos: 0,
        record: Vec::with_capacity(8 * 1024),
    };
    s.expect(&mut input, b'{', "expected `{` (a JSON object)")?;
    let mut records = 0;
    loop {
        match s.next_significant(&mut input)? {
            b'}' => break,
            b',' => continue,
            b'"' => {
                let key = s.string(&mut input)?;
                s.expect(&mut input, b':', "expected `:` after a key")?;
                if key == b"Records" {
                    s.expect(&mut input, b'[', "expected `[` (the records)")?;
                    records += s.records(&mut input, &mut each)?;
                } else {
                    s.skip_value(&mut input)?;
                }
            }
            _ => return Err(SplitError::Format("expected a key", s.pos)),
        }
    }
    // Only whitespace may follow.
    loop {
        let buf = s.fill(&mut input)?;
        if buf.is_empty() {
            return Ok(records);
        }
        if let Some(i) = buf.iter().position(|b| !b.is_ascii_whitespace()) {
            return Err(SplitError::Format(
                "something after the end",
                s.pos + i as u64,
            ));
        }
        let n = buf.len();
        s.consume(&mut input, n);
    }
}

struct Splitter {
    /// Bytes consumed so far (for error positions).
    pos: u64,
    /// The record being collected when it spans buffer refills.
    record: Vec<u8>,
}

impl Splitter {
    fn fill<'a>(&mut self, input: &'a mut impl BufRead) -> Result<&'a [u8], SplitError> {
        input.fill_buf().map_err(|e| SplitError::Io(e.to_string()))
    }

    fn consume(&mut self, input: &mut impl BufRead, n: usize) {
        input.consume(n);
        self.pos += n as u64;
    }

    /// The next byte that is not whitespace, consumed.
    fn next_significant(&mut self, input: &mut impl BufRead) -> Result<u8, SplitError> {
        loop {
            let buf = self.fill(input)?;
            if buf.is_empty() {
                return Err(SplitError::Truncated(self.pos));
            }
            match buf.iter().position(|b| !b.is_ascii_whitespace()) {
                Some(i) => {
                    let b = buf[i];
                    self.consume(input, i + 1);
                    return Ok(b);
                }
                None => {
                    let n = buf.len();
                    self.consume(input, n);
                }
            }
        }
    }

    fn expect(
        &mut self,
        input: &mut impl BufRead,
        want: u8,
        what: &'static str,
    ) -> Result<(), SplitError> {
        if self.next_significant(input)? == want {
            Ok(())
        } else {
            Err(SplitError::Format(what, self.pos.saturating_sub(1)))
        }
    }

    /// A string's raw bytes (its opening quote consumed already; escapes left as they are).
    fn string(&mut self, input: &mut impl BufRead) -> Result<Vec<u8>, SplitError> {
        let mut out = Vec::new();
        let mut escaped = false;
        loop {
            let buf = self.fill(input)?;
            if buf.is_empty() {
                return Err(SplitError::Truncated(self.pos));
            }
            let mut i = 0;
            while i < buf.len() {
                let b = buf[i];
                i += 1;
                if escaped {
                    escaped = false;
                } else if b == b'\\' {
                    escaped = true;
                } else if b == b'"' {
                    out.extend_from_slice(&buf[..i - 1]);
                    self.consume(input, i);
                    return Ok(out);
                }
            }
            out.extend_from_slice(buf);
            let n = buf.len();
            self.consume(input, n);
        }
    }

    /// The next byte that is not whitespace, not consumed.
    fn peek_significant(&mut self, input: &mut impl BufRead) -> Result<u8, SplitError> {
        loop {
            let buf = self.fill(input)?;
            if buf.is_empty() {
                return Err(SplitError::Truncated(self.pos));
            }
            match buf.iter().position(|b| !b.is_ascii_whitespace()) {
                Some(i) => {
                    let b = buf[i];
                    self.consume(input, i);
                    return Ok(b);
                }
                None => {
                    let n = buf.len();
                    self.consume(input, n);
                }
            }
        }
    }

    /// Skips one JSON value of any kind (a member that is not `Records`).
    fn skip_value(&mut self, input: &mut impl BufRead) -> Result<(), SplitError> {
        match self.peek_significant(input)? {
            b'{' | b'[' => self.balanced(input, &mut |_: &[u8]| {}, false),
            b'"' => {
                self.consume(input, 1);
                self.string(input).map(|_| ())
            }
            _ => {
                // A number, true, false or null: up to the next delimiter.
                loop {
                    let buf = self.fill(input)?;
                    if buf.is_empty() {
                        return Err(SplitError::Truncated(self.pos));
                    }
                    match buf
                        .iter()
                        .position(|b| matches!(b, b',' | b'}' | b']') || b.is_ascii_whitespace())
                    {
                        Some(i) => {
                            self.consume(input, i);
                            return Ok(());
                        }
                        None => {
                            let n = buf.len();
                            self.consume(input, n);
                        }
                    }
                }
            }
        }
    }

    /// The records of the array (its `[` consumed): each object handed over whole.
    fn records(
        &mut self,
        input: &mut impl BufRead,
        each: &mut impl FnMut(&[u8]),
    ) -> Result<u64, SplitError> {
        let mut n = 0;
        loop {
            match self.peek_significant(input)? {
                b']' => {
                    self.consume(input, 1);
                    return Ok(n);
                }
                b',' => self.consume(input, 1),
                b'{' => {
                    self.balanced(input, each, true)?;
                    n += 1;
                }
                _ => return Err(SplitError::Format("a record is not an object", self.pos)),
            }
        }
    }

    /// Reads one object or array (the next byte is its opening bracket) up to the bracket that
    /// closes it, strings respected. With `keep`, the whole value goes to `each` — straight
    /// from the reader's buffer when it lies within it, else collected across refills.
    fn balanced(
        &mut self,
        input: &mut impl BufRead,
        each: &mut impl FnMut(&[u8]),
        keep: bool,
    ) -> Result<(), SplitError> {
        self.record.clear();
        let mut depth = 0u32;
        let mut in_string = false;
        let mut escaped = false;
        let mut spanned = false;
        loop {
            let buf = self.fill(input)?;
            if buf.is_empty() {
                return Err(SplitError::Truncated(self.pos));
            }
            let mut i = 0;
            let mut end = None;
            while i < buf.len() {
                if in_string {
                    if escaped {
                        escaped = false;
                        i += 1;
                        continue;
                    }
                    match memchr::memchr2(b'"', b'\\', &buf[i..]) {
                        None => i = buf.len(),
                        Some(j) => {
                            i += j;
                            if buf[i] == b'\\' {
                                escaped = true;
                            } else {
                                in_string = false;
                            }
                            i += 1;
                        }
                    }
                    continue;
                }
                match buf[i] {
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            end = Some(i + 1);
                            break;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            match end {
                Some(end) => {
                    if keep {
                        if spanned {
                            self.record.extend_from_slice(&buf[..end]);
                            each(&self.record);
                        } else {
                            each(&buf[..end]);
                        }
                    }
                    self.consume(input, end);
                    return Ok(());
                }
                None => {
                    if keep {
                        self.record.extend_from_slice(buf);
                        spanned = true;
                    }
                    let n = buf.len();
                    self.consume(input, n);
                }
            }
        }
    }
}

/// Reads all of `input` (for tests).
#[cfg(test)]
fn records_of(input: &[u8]) -> Result<Vec<String>, SplitError> {
    let mut out = Vec::new();
    each_record_bytes(std::io::BufReader::with_capacity(7, input), |r| {
        out.push(String::from_utf8_lossy(r).into_owned());
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_come_whole_across_tiny_buffers_strings_and_escapes_respected() {
        let text = br#" {"other": {"a": [1, "}"]}, "Records": [ {"a": "x}\"{", "b": [{"c": 1}]},
            {"d": "\\"} ], "n": 7 } "#;
        let got = records_of(text).unwrap();
        assert_eq!(
            got,
            [r#"{"a": "x}\"{", "b": [{"c": 1}]}"#, r#"{"d": "\\"}"#]
        );
        for r in &got {
            serde_json::from_str::<serde_json::Value>(r).expect("each is JSON");
        }
    }

    #[test]
    fn a_cut_or_foreign_file_is_an_error_naming_where() {
        assert!(matches!(
            records_of(br#"{"Records":[{"a":1},{"b":"#),
            Err(SplitError::Truncated(_))
        ));
        assert!(matches!(
            records_of(b"not json"),
            Err(SplitError::Format(..))
        ));
        assert!(matches!(records_of(b"[1,2]"), Err(SplitError::Format(..))));
        assert!(matches!(
            records_of(br#"{"Records":[1]}"#),
            Err(SplitError::Format("a record is not an object", _))
        ));
        assert!(matches!(
            records_of(br#"{"Records":[]} x"#),
            Err(SplitError::Format("something after the end", _))
        ));
        assert_eq!(
            records_of(br#"{"Records":[]}"#).unwrap(),
            Vec::<String>::new()
        );
    }
}
