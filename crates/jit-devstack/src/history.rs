//! Histories as the `temporal` CLI shows them (`temporal workflow show -o json`), and what
//! in them is readable: for checking that encrypted histories leak nothing.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};
use base64::Engine;

/// `temporal workflow show -o json -w <workflow_id>` against `address` (`host:port`), with
/// `extra` options (e.g. `--codec-endpoint`).
pub fn show_json(
    temporal: &Path,
    address: &str,
    namespace: &str,
    workflow_id: &str,
    extra: &[&str],
) -> anyhow::Result<String> {
    run(Command::new(temporal)
        .args(["workflow", "show", "-o", "json", "-w", workflow_id])
        .args(["--address", address.trim_start_matches("http://")])
        .args(["--namespace", namespace])
        .args(extra))
}

/// The ids of the workflows `query` (a visibility query) finds.
pub fn list_ids(
    temporal: &Path,
    address: &str,
    namespace: &str,
    query: &str,
) -> anyhow::Result<Vec<String>> {
    let out = run(Command::new(temporal)
        .args(["workflow", "list", "-o", "json", "--query", query])
        .args(["--address", address.trim_start_matches("http://")])
        .args(["--namespace", namespace]))?;
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
    let mut ids: Vec<String> = v
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|w| w["execution"]["workflowId"].as_str().map(str::to_owned))
        .collect();
    ids.sort();
    ids.dedup();
    Ok(ids)
}

fn run(c: &mut Command) -> anyhow::Result<String> {
    let out = c.output().context("running the temporal CLI")?;
    if !out.status.success() {
        bail!("{:?}: {}", c, String::from_utf8_lossy(&out.stderr));
    }
    String::from_utf8(out.stdout).context("the CLI's output is not UTF-8")
}

/// Which of `needles` can be read in `json` (a history as [`show_json`] prints it): in its
/// strings as they are or base64-decoded (payload data and metadata are base64 there).
pub fn readable(json: &str, needles: &[&str]) -> Vec<String> {
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::String(s) => {
                out.push(s.clone());
                if let Ok(b) = base64::engine::general_purpose::STANDARD.decode(s) {
                    out.push(String::from_utf8_lossy(&b).into_owned());
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            serde_json::Value::Object(o) => o.values().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let v: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
    let mut strings = Vec::new();
    walk(&v, &mut strings);
    needles
        .iter()
        .filter(|n| strings.iter().any(|s| s.contains(**n)))
        .map(|n| (*n).to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn plain_and_base64_strings_are_read_and_nothing_else() {
        let json = serde_json::json!({
            "events": [{ "input": { "payloads": [{
                "metadata": { "encoding": "anNvbi9wbGFpbg==" },
                // "\"because INC-7\""
                "data": "ImJlY2F1c2UgSU5DLTci"
            }]}, "identity": "jit-worker@host:1" }]
        })
        .to_string();
        assert_eq!(
            super::readable(&json, &["INC-7", "json/plain", "jit-worker", "bob"]),
            ["INC-7", "json/plain", "jit-worker"]
        );
    }
}
