//! The connection to jit-api (server and token from flags, environment or the config file)
//! and how a refused call reads.

use std::path::PathBuf;

use anyhow::Context;
use jit_proto::v1::ticket_service_client::TicketServiceClient;
use serde::Deserialize;
use tonic::transport::Channel;

use super::args::{Connect, Output};

#[derive(Deserialize, Default)]
pub(super) struct ConfigFile {
    server: Option<String>,
    token: Option<String>,
    ca_file: Option<PathBuf>,
    pub(super) issuer: Option<String>,
    pub(super) client_id: Option<String>,
}

pub(super) fn config_file() -> anyhow::Result<ConfigFile> {
    let path = match std::env::var_os("JIT_CLI_CONFIG") {
        Some(p) => PathBuf::from(p),
        None => match std::env::var_os("HOME") {
            Some(h) => PathBuf::from(h).join(".config/jit/cli.yaml"),
            None => return Ok(ConfigFile::default()),
        },
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_yaml_ng::from_str(&text)
            .with_context(|| format!("reading the CLI config {}", path.display())),
        Err(_) => Ok(ConfigFile::default()),
    }
}

pub(super) struct Session {
    pub(super) client: TicketServiceClient<Channel>,
    token: Option<String>,
    pub(super) output: Output,
}

impl Session {
    pub(super) async fn open(c: &Connect) -> anyhow::Result<Self> {
        let file = config_file()?;
        let server = c
            .server
            .clone()
            .or_else(|| std::env::var("JIT_SERVER").ok())
            .or(file.server)
            .unwrap_or_else(|| "http://127.0.0.1:50051".into());
        let token = c
            .token
            .clone()
            .or_else(|| std::env::var("JIT_TOKEN").ok())
            .or(file.token);
        let token = match token {
            Some(t) => Some(t),
            None => super::login::saved_token().await?,
        };
        let ca_file = c
            .ca_file
            .clone()
            .or_else(|| std::env::var_os("JIT_CA_FILE").map(PathBuf::from))
            .or(file.ca_file);
        let mut endpoint = Channel::from_shared(server.clone())
            .with_context(|| format!("server address {server:?}"))?;
        let how = if server.starts_with("https://") {
            let mut tls = tonic::transport::ClientTlsConfig::new();
            let how = match &ca_file {
                Some(p) => {
                    let pem = std::fs::read(p).with_context(|| {
                        format!("--ca-file (JIT_CA_FILE) {}: cannot read", p.display())
                    })?;
                    tls = tls.ca_certificate(tonic::transport::Certificate::from_pem(pem));
                    format!("TLS, CA {}", p.display())
                }
                None => {
                    tls = tls.with_native_roots();
                    "TLS, the system's roots; --ca-file for a private CA".to_owned()
                }
            };
            endpoint = endpoint
                .tls_config(tls)
                .context("setting up TLS to the jit API")?;
            how
        } else {
            if let Some(p) = &ca_file {
                anyhow::bail!(
                    "--ca-file (JIT_CA_FILE) {} is for an https:// server, and {server} is plain text",
                    p.display()
                );
            }
            "plain text".to_owned()
        };
        let channel = endpoint
            .connect()
            .await
            .with_context(|| format!("cannot reach the jit API at {server} ({how})"))?;
        Ok(Self {
            client: TicketServiceClient::new(channel),
            token,
            output: c.output,
        })
    }

    pub(super) fn req<T>(&self, msg: T) -> anyhow::Result<tonic::Request<T>> {
        let mut r = tonic::Request::new(msg);
        if let Some(t) = &self.token {
            r.metadata_mut().insert(
                "authorization",
                format!("Bearer {t}")
                    .parse()
                    .context("the token has characters a header cannot carry")?,
            );
        }
        Ok(r)
    }
}

/// A refused call as people read it: the status code's meaning and the server's message.
pub(super) fn explain(s: tonic::Status) -> anyhow::Error {
    let what = match s.code() {
        tonic::Code::InvalidArgument => "invalid",
        tonic::Code::Unauthenticated => "not signed in",
        tonic::Code::PermissionDenied => "not allowed",
        tonic::Code::NotFound => "not found",
        tonic::Code::FailedPrecondition => "not now",
        tonic::Code::AlreadyExists => "already exists",
        tonic::Code::Unavailable => "unavailable",
        _ => "error",
    };
    let m = s.message();
    if m.starts_with(&format!("{what}:")) {
        anyhow::anyhow!("{m}")
    } else {
        anyhow::anyhow!("{what}: {m}")
    }
}
