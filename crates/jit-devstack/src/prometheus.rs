//! A real Prometheus for the tests: Debian's `prometheus` package (installed by
//! [`ensure_prometheus`] with apt-get when missing), started on a free loopback port with a
//! scrape config of the caller's targets, and asked through its HTTP API.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::process::{ManagedChild, free_port};

/// Where Debian's package puts its programs.
#[derive(Debug, Clone)]
pub struct PrometheusTools {
    pub prometheus: PathBuf,
    pub promtool: PathBuf,
}

/// Finds `prometheus` and `promtool` (`JIT_PROMETHEUS_BIN_DIR`, else `/usr/bin`), installing
/// Debian's `prometheus` package with apt-get if they are missing (as root, or with
/// password-less sudo; `apt-get update` first if the package lists are stale). Serialised
/// across processes by a lock file in `.jit/`.
pub fn ensure_prometheus(root: &Path) -> anyhow::Result<PrometheusTools> {
    let dir = std::env::var_os("JIT_PROMETHEUS_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin"));
    let tools = PrometheusTools {
        prometheus: dir.join("prometheus"),
        promtool: dir.join("promtool"),
    };
    let ready = |t: &PrometheusTools| t.prometheus.exists() && t.promtool.exists();
    if ready(&tools) {
        return Ok(tools);
    }
    crate::sys::apt_install(
        root,
        "prometheus",
        "promtool and a Prometheus for the tests; or point JIT_PROMETHEUS_BIN_DIR at a folder holding both",
        || ready(&tools),
    )?;
    if !ready(&tools) {
        bail!(
            "apt-get installed prometheus, but {} or {} is missing",
            tools.prometheus.display(),
            tools.promtool.display()
        );
    }
    Ok(tools)
}

/// A running Prometheus on 127.0.0.1, scraping its targets every second; stopped on drop.
#[derive(Debug)]
pub struct Prometheus {
    pub url: String,
    _child: ManagedChild,
}

impl Prometheus {
    /// Starts Prometheus with `rules` (files of alert rules; may be empty) and one scrape job
    /// per `(job, host:port)` in `targets`, keeping its data and log in `dir`.
    pub fn start(
        root: &Path,
        dir: &Path,
        targets: &[(&str, String)],
        rules: &[PathBuf],
    ) -> anyhow::Result<Self> {
        let tools = ensure_prometheus(root)?;
        std::fs::create_dir_all(dir)?;
        let mut config =
            String::from("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n");
        if !rules.is_empty() {
            config.push_str("rule_files:\n");
            for r in rules {
                config.push_str(&format!("  - {:?}\n", r.display().to_string()));
            }
        }
        config.push_str("scrape_configs:\n");
        for (job, target) in targets {
            config.push_str(&format!(
                "  - job_name: {job:?}\n    static_configs:\n      - targets: [{target:?}]\n"
            ));
        }
        let file = dir.join("prometheus.yml");
        std::fs::write(&file, config)?;
        let port = free_port()?;
        let mut cmd = Command::new(&tools.prometheus);
        cmd.arg(format!("--config.file={}", file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn");
        let mut child = ManagedChild::spawn("prometheus", cmd, &dir.join("prometheus.log"), true)?;
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.exited() {
                bail!("prometheus exited ({status}):\n{}", child.log_tail(20));
            }
            let ready = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
                && http_get(&format!("{url}/-/ready")).is_ok_and(|(code, _)| code == 200);
            if ready {
                break;
            }
            if Instant::now() > deadline {
                bail!("prometheus not ready within 30 s:\n{}", child.log_tail(20));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(Self { url, _child: child })
    }

    /// The value of each series of the instant query `promql`, with its labels as JSON.
    pub async fn query(&self, promql: &str) -> anyhow::Result<Vec<(serde_json::Value, f64)>> {
        let v: serde_json::Value = reqwest::Client::new()
            .get(format!("{}/api/v1/query", self.url))
            .query(&[("query", promql)])
            .send()
            .await
            .with_context(|| format!("querying {promql}"))?
            .json()
            .await?;
        if v["status"] != "success" {
            bail!("{promql}: {v}");
        }
        Ok(v["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|r| {
                let value = r["value"][1].as_str()?.parse().ok()?;
                Some((r["metric"].clone(), value))
            })
            .collect())
    }

    /// Asks `promql` until `ok` holds of the answer (within `within`); the answer.
    pub async fn wait_for(
        &self,
        promql: &str,
        within: Duration,
        ok: impl Fn(&[(serde_json::Value, f64)]) -> bool,
    ) -> anyhow::Result<Vec<(serde_json::Value, f64)>> {
        let deadline = Instant::now() + within;
        loop {
            let r = self.query(promql).await?;
            if ok(&r) {
                return Ok(r);
            }
            if Instant::now() > deadline {
                bail!("{promql} did not become as expected within {within:?}: {r:?}");
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

impl Prometheus {
    /// The alerting rules, once each has been evaluated: (name, health, state).
    pub async fn wait_rules_evaluated(
        &self,
        within: Duration,
    ) -> anyhow::Result<Vec<(String, String, String)>> {
        let deadline = Instant::now() + within;
        loop {
            let v: serde_json::Value = reqwest::get(format!("{}/api/v1/rules", self.url))
                .await?
                .json()
                .await?;
            let rules: Vec<(String, String, String, bool)> = v["data"]["groups"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
                .map(|r| {
                    let s = |k: &str| r[k].as_str().unwrap_or_default().to_owned();
                    let evaluated = !s("lastEvaluation").starts_with("0001-");
                    (s("name"), s("health"), s("state"), evaluated)
                })
                .collect();
            if !rules.is_empty() && rules.iter().all(|r| r.3) {
                return Ok(rules.into_iter().map(|(n, h, s, _)| (n, h, s)).collect());
            }
            if Instant::now() > deadline {
                bail!("the rules were not all evaluated within {within:?}: {v}");
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// A blocking HTTP/1.1 GET on loopback: (status, body).
fn http_get(url: &str) -> std::io::Result<(u16, String)> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap_or(url);
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut s = std::net::TcpStream::connect(host)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        s,
        "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    let code = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok((code, out))
}
