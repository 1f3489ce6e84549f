//! Command lines and readiness checks for the Temporal dev server and the moto sandbox.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use jit_aws::{AwsSettings, IdentityCenter, SeedReport};
use jit_config::{DevServerConfig, Seed};

use crate::tools::Tools;

/// How to start one Temporal dev server.
#[derive(Debug, Clone)]
pub struct TemporalServer {
    pub ip: String,
    pub port: u16,
    /// `None`: headless (tests).
    pub ui_port: Option<u16>,
    pub namespace: String,
    /// `None`: in memory (tests); `Some`: tickets survive restarts.
    pub db_filename: Option<PathBuf>,
    pub config: DevServerConfig,
    /// The Temporal UI decodes payloads through this codec server (`.../codec`).
    pub ui_codec_endpoint: Option<String>,
}

impl TemporalServer {
    pub fn address(&self) -> String {
        format!("{}:{}", self.ip, self.port)
    }

    pub fn command(&self, tools: &Tools) -> Command {
        let mut c = Command::new(&tools.temporal);
        c.args(["server", "start-dev", "--ip", &self.ip])
            .args(["--port", &self.port.to_string()])
            .args(["--namespace", &self.namespace])
            .args(["--log-level", "warn"]);
        match self.ui_port {
            Some(p) => c.args(["--ui-port", &p.to_string()]),
            None => c.arg("--headless"),
        };
        if let Some(db) = &self.db_filename {
            c.arg("--db-filename").arg(db);
        }
        if let Some(e) = &self.ui_codec_endpoint {
            c.args(["--ui-codec-endpoint", e]);
        }
        for (name, kind) in &self.config.search_attributes {
            c.args(["--search-attribute", &format!("{name}={kind}")]);
        }
        for (key, value) in &self.config.dynamic_config {
            let v = match value {
                serde_yaml_ng::Value::String(s) => format!("{s:?}"),
                other => serde_yaml_ng::to_string(other)
                    .unwrap_or_default()
                    .trim()
                    .to_owned(),
            };
            c.args(["--dynamic-config-value", &format!("{key}={v}")]);
        }
        c
    }

    /// Waits until the frontend answers a health check.
    pub fn wait_ready(&self, tools: &Tools, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        crate::process::wait_tcp(&self.address(), timeout)?;
        loop {
            let out = Command::new(&tools.temporal)
                .args([
                    "operator",
                    "cluster",
                    "health",
                    "--address",
                    &self.address(),
                ])
                .output()
                .context("running temporal operator cluster health")?;
            if out.status.success() && String::from_utf8_lossy(&out.stdout).contains("SERVING") {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "Temporal at {} is not healthy after {timeout:?}: {}",
                    self.address(),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// How to start the moto sandbox.
#[derive(Debug, Clone)]
pub struct Sandbox {
    pub ip: String,
    pub port: u16,
    pub region: String,
}

impl Sandbox {
    pub fn url(&self) -> String {
        format!("http://{}:{}", self.ip, self.port)
    }

    pub fn command(&self, tools: &Tools) -> Command {
        let mut c = Command::new(&tools.moto_server);
        c.args(["-H", &self.ip, "-p", &self.port.to_string()]);
        c
    }

    pub fn wait_ready(&self, timeout: Duration) -> anyhow::Result<()> {
        crate::process::wait_tcp(&format!("{}:{}", self.ip, self.port), timeout)
    }

    /// Resets the sandbox, fixes its id generator (repeatable ids) and seeds it.
    pub async fn reset_and_seed(&self, seed: &Seed) -> anyhow::Result<SeedReport> {
        let http = reqwest::Client::new();
        for path in ["/moto-api/reset", "/moto-api/seed?a=42"] {
            let r = http
                .post(format!("{}{path}", self.url()))
                .send()
                .await
                .with_context(|| format!("POST {path} to the sandbox"))?;
            if !r.status().is_success() {
                bail!("POST {path} to the sandbox: {}", r.status());
            }
        }
        let ic = IdentityCenter::connect(&AwsSettings {
            region: self.region.clone(),
            endpoint_url: Some(self.url()),
            requests_per_second: 0.0,
        })
        .await;
        ic.seed(seed).await.context("seeding the sandbox")
    }
}
