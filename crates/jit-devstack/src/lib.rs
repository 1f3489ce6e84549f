//! The local stack, for `cargo xtask` and the tests.
//!
//! - [`tools`]: the pinned `temporal` and `moto_server` in the repository's `.venv/`,
//!   installed on demand ([`ensure_tools`]).
//! - [`servers`]: command lines and readiness checks of the Temporal dev server
//!   ([`TemporalServer`]) and the moto sandbox ([`Sandbox`], with seeding).
//! - [`otlp`]: a recording OTLP/gRPC trace receiver ([`OtlpReceiver`]).
//! - [`prometheus`]: Debian's Prometheus and promtool, installed on demand
//!   ([`ensure_prometheus`]); a real [`Prometheus`] on a free port for the tests.
//! - [`process`]: child processes that are always stopped ([`ManagedChild`]), free ports.
//! - [`proxy`]: the fault-injecting proxy that makes the sandbox behave like AWS
//!   ([`FaultProxy`]).
//! - [`temporal_client`]: connecting, and per-workflow time skipping on the dev server.
//! - [`history`]: histories as the `temporal` CLI shows them, and what in them is readable.
//! - [`fake_slack`]: a recording stand-in for the Slack Web API and a Teams webhook.
//! - [`tls_proxy`]: a test PKI and an mTLS front for the dev server ([`TlsProxy`]).
//! - [`oidc`]: a real OpenID provider (npm `oidc-provider`) on a free port ([`OidcProvider`]).
//! - [`test_stack`]: one stack per test binary on free ports ([`TestStack::shared`]).

pub mod console;
pub mod fake_slack;
pub mod history;
pub mod oidc;
pub mod otlp;
pub mod process;
pub mod prometheus;
pub mod proxy;
pub mod servers;
pub mod sys;
pub mod temporal_client;
pub mod test_stack;
pub mod tls_proxy;
pub mod tools;

pub use console::ensure_console;
pub use fake_slack::FakeSlack;
pub use oidc::{OidcProvider, ensure_npm, ensure_oidc};
pub use otlp::{OtlpReceiver, ReceivedSpan};
pub use process::{ManagedChild, free_port};
pub use prometheus::{Prometheus, PrometheusTools, ensure_prometheus};
pub use proxy::{AsyncOutcome, AwsLimits, Call, Fault, FaultProxy, IDENTITY_CENTER, Rule};
pub use servers::{Sandbox, TemporalServer};
pub use sys::ensure_chromium;
pub use test_stack::TestStack;
pub use tls_proxy::{TestPki, TlsProxy};
pub use tools::{Tools, ensure_tools, repo_root};
