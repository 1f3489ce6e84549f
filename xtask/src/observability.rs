//! `cargo xtask test`'s check of `deploy/observability/`: promtool accepts the Prometheus
//! config and the alert rules, the rules' unit tests pass, and every alert's runbook link
//! names a section that `docs/runbook.md` has.

use std::path::Path;
use std::process::Command;

use anyhow::Context;

/// The runbook anchors the alerts link to (`runbook: docs/runbook.md#<anchor>`).
pub(crate) fn runbook_anchors(rules: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut alert = None;
    for line in rules.lines().map(str::trim) {
        if let Some(a) = line.strip_prefix("- alert:") {
            alert = Some(a.trim().to_owned());
        } else if let Some(r) = line.strip_prefix("runbook:") {
            let anchor = r.trim().rsplit('#').next().unwrap_or("").to_owned();
            out.push((alert.clone().unwrap_or_default(), anchor));
        }
    }
    out
}

/// The anchors of a Markdown file's headings, as GitHub makes them (lower case, spaces to
/// dashes, punctuation dropped).
pub(crate) fn heading_anchors(markdown: &str) -> Vec<String> {
    markdown
        .lines()
        .filter(|l| l.starts_with('#'))
        .map(|l| {
            l.trim_start_matches('#')
                .trim()
                .to_lowercase()
                .chars()
                .filter_map(|c| match c {
                    ' ' => Some('-'),
                    c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                    _ => None,
                })
                .collect()
        })
        .collect()
}

/// The alerts whose runbook section is missing.
pub(crate) fn uncovered(rules: &str, runbook: &str) -> Vec<String> {
    let anchors = heading_anchors(runbook);
    let mut alerts_without = Vec::new();
    let linked = runbook_anchors(rules);
    let alert_count = rules
        .lines()
        .filter(|l| l.trim().starts_with("- alert:"))
        .count();
    if linked.len() != alert_count {
        alerts_without.push(format!(
            "{} alerts but {} runbook links: every alert needs one",
            alert_count,
            linked.len()
        ));
    }
    for (alert, anchor) in linked {
        if !anchors.contains(&anchor) {
            alerts_without.push(format!("{alert}: docs/runbook.md has no section #{anchor}"));
        }
    }
    alerts_without
}

pub(crate) fn check(root: &Path) -> anyhow::Result<()> {
    let tools = jit_devstack::ensure_prometheus(root)?;
    let dir = root.join("deploy/observability");
    let promtool = |args: &[&str]| -> anyhow::Result<()> {
        let out = Command::new(&tools.promtool)
            .args(args)
            .current_dir(&dir)
            .output()
            .with_context(|| format!("running {}", tools.promtool.display()))?;
        anyhow::ensure!(
            out.status.success(),
            "promtool {} failed:\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    };
    promtool(&["check", "config", "prometheus.yml"])?;
    promtool(&["check", "rules", "alerts.yml"])?;
    promtool(&["test", "rules", "alerts.test.yml"])?;
    let rules = std::fs::read_to_string(dir.join("alerts.yml"))?;
    let runbook =
        std::fs::read_to_string(root.join("docs/runbook.md")).context("reading docs/runbook.md")?;
    let missing = uncovered(&rules, &runbook);
    anyhow::ensure!(
        missing.is_empty(),
        "the runbook does not cover every alert:\n  {}",
        missing.join("\n  ")
    );
    let dashboard: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(
        dir.join("grafana-dashboard.json"),
    )?)
    .context("deploy/observability/grafana-dashboard.json is not JSON")?;
    anyhow::ensure!(
        dashboard["panels"]
            .as_array()
            .is_some_and(|p| !p.is_empty()),
        "the Grafana dashboard has no panels"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alert_without_its_runbook_section_is_named() {
        let rules = "groups:\n  - rules:\n      - alert: A\n        annotations:\n          runbook: docs/runbook.md#worker-absent\n      - alert: B\n        annotations:\n          runbook: docs/runbook.md#nowhere\n      - alert: C\n";
        let runbook = "# Runbook\n\n## Worker absent\n\ntext\n";
        assert_eq!(
            uncovered(rules, runbook),
            vec![
                "3 alerts but 2 runbook links: every alert needs one".to_owned(),
                "B: docs/runbook.md has no section #nowhere".to_owned()
            ]
        );
    }

    #[test]
    fn the_repository_runbook_covers_every_alert() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let rules = std::fs::read_to_string(root.join("deploy/observability/alerts.yml")).unwrap();
        let runbook = std::fs::read_to_string(root.join("docs/runbook.md")).unwrap();
        assert_eq!(uncovered(&rules, &runbook), Vec::<String>::new());
    }
}
