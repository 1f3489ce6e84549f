//! Errors that name the file, the line and the problem.

use std::fmt;
use std::path::PathBuf;

/// A rules file that cannot be used. Displays as `file:line: problem`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PolicyError {
    pub path: PathBuf,
    /// 1-based; `None` when the problem has no single place (or the file was not readable).
    pub line: Option<usize>,
    pub problem: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}: {}", self.path.display(), self.problem),
            None => write!(f, "{}: {}", self.path.display(), self.problem),
        }
    }
}

/// A problem found in a file's text, before the file's name is attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub line: Option<usize>,
    pub problem: String,
}

impl Problem {
    pub(crate) fn at(text: &str, anchors: &[&str], problem: String) -> Self {
        Self {
            line: locate(text, anchors),
            problem,
        }
    }

    pub(crate) fn in_file(self, path: impl Into<PathBuf>) -> PolicyError {
        PolicyError {
            path: path.into(),
            line: self.line,
            problem: self.problem,
        }
    }
}

/// The 1-based line of the last of `anchors`, each searched for from the line of the one
/// before (so `["plans:", "name: production", "quorum"]` finds the quorum of that plan).
/// Comments are skipped. Falls back to the last anchor found.
pub(crate) fn locate(text: &str, anchors: &[&str]) -> Option<usize> {
    let lines: Vec<&str> = text
        .lines()
        .map(|l| match l.find('#') {
            Some(i) => &l[..i],
            None => l,
        })
        .collect();
    let mut from = 0;
    let mut found = None;
    for a in anchors {
        if let Some(i) = (from..lines.len()).find(|&i| contains_token(lines[i], a)) {
            from = i;
            found = Some(i + 1);
        }
    }
    found
}

/// The 1-based line of the second `token` after `section` (where a duplicate name is).
pub(crate) fn locate_second(text: &str, section: &str, token: &str) -> Option<usize> {
    let start = locate(text, &[section])?;
    text.lines()
        .enumerate()
        .skip(start)
        .filter(|(_, l)| contains_token(l, token))
        .nth(1)
        .map(|(i, _)| i + 1)
}

/// Whether `line` contains `token` not as part of a longer name (`sre` is not in `sres`).
fn contains_token(line: &str, token: &str) -> bool {
    let word = |c: char| c.is_alphanumeric() || c == '_' || c == '-';
    line.match_indices(token).any(|(i, _)| {
        let before = line[..i].chars().next_back();
        let after = line[i + token.len()..].chars().next();
        let starts_word = token.chars().next().is_some_and(word);
        let ends_word = token.chars().next_back().is_some_and(word);
        (!starts_word || !before.is_some_and(word)) && (!ends_word || !after.is_some_and(word))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_narrow_down_to_a_line() {
        let text = "plans:\n  - name: a\n    quorum: 1\n  - name: b  # the second\n    quorum: 3\n";
        assert_eq!(locate(text, &["plans:", "name: b", "quorum"]), Some(5));
        assert_eq!(locate(text, &["plans:", "name: a", "quorum"]), Some(3));
        assert_eq!(
            locate(text, &["the second"]),
            None,
            "comments are not searched"
        );
        assert_eq!(locate("groups: [sres, sre]\n", &["sre"]), Some(1));
        assert!(!contains_token("groups: [sres]", "sre"));
    }

    #[test]
    fn errors_read_file_line_problem() {
        let e = Problem {
            line: Some(7),
            problem: "bad".into(),
        }
        .in_file("policy.yaml");
        assert_eq!(e.to_string(), "policy.yaml:7: bad");
    }
}
