//! Settings of jit, read from one YAML file (`temporal-dev.yaml` for the local stack) with
//! `JIT_*` environment overrides.
//!
//! - [`StackConfig`]: the whole file: `temporal:` (dev server), `sandbox:` (moto and its seed),
//!   `worker:`.
//! - [`WorkerSettings`]: what the worker needs, resolved from the file and the environment by
//!   [`StackConfig::worker_settings`].

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use jiff::SignedDuration;
use jit_domain::Limits;
use serde::Deserialize;

pub mod chat;
pub mod codec;

pub use chat::{ChatSettings, Secret, SlackSettings, TeamsSettings};
pub use codec::{CodecKey, CodecKeys};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Parse {
        path: PathBuf,
        source: serde_yaml_ng::Error,
    },
    #[error("{path}: {problem}")]
    Invalid { path: PathBuf, problem: String },
    #[error("environment variable {var}: {problem}")]
    Env { var: String, problem: String },
    /// A setting that the file or the environment may give: the names of both.
    #[error("{setting}: {problem}")]
    Setting { setting: String, problem: String },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StackConfig {
    /// The file this was read from (relative paths in it are relative to its folder).
    #[serde(skip)]
    pub source: PathBuf,
    pub temporal: TemporalConfig,
    #[serde(default)]
    pub sandbox: Option<SandboxConfig>,
    pub worker: WorkerConfig,
    #[serde(default)]
    pub api: Option<ApiConfig>,
    /// Slack and Teams (secrets from the environment only).
    #[serde(default)]
    pub chat: chat::ChatConfig,
}

/// The `api:` section: the gRPC front door.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    pub ip: String,
    /// JIT_API_PORT
    pub port: u16,
    /// Accept `dev:<user>` tokens (never in production). JIT_API_DEV_AUTH=true|false.
    #[serde(default)]
    pub dev_auth: bool,
    /// JWT validation (production): JIT_JWT_ISSUER, JIT_JWT_AUDIENCE, JIT_JWKS_URL.
    #[serde(default)]
    pub jwt: Option<JwtConfig>,
    /// Serve TLS with this certificate and key (PEM); JIT_API_TLS_CERT, JIT_API_TLS_KEY.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// HTTP for chat: Slack's interactive requests and Teams vote links (JIT_API_HTTP_PORT).
    #[serde(default)]
    pub http_port: Option<u16>,
    /// Where the API serves Prometheus metrics (`host:port`, `/metrics`); absent or `off`:
    /// none (JIT_API_METRICS_ADDRESS).
    #[serde(default)]
    pub metrics: Option<String>,
    /// Browser origins (the Temporal UI's) allowed to call the codec server at
    /// `/codec/{encode,decode}` on the HTTP port; none: CORS closed (JIT_CODEC_ORIGINS,
    /// comma-separated).
    #[serde(default)]
    pub codec_origins: Vec<String>,
    /// Browser origins allowed to call the API with gRPC-Web from another origin (a console
    /// served elsewhere); none: CORS closed, gRPC-Web from the HTTP port's own origin only
    /// (JIT_WEB_ORIGINS, comma-separated).
    #[serde(default)]
    pub web_origins: Vec<String>,
    /// The web console, served at `/` on the HTTP port.
    #[serde(default)]
    pub console: Option<ConsoleConfig>,
}

/// `api.console:` the web console (React + Cloudscape, built into `dir`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleConfig {
    /// The built console (`console/dist`); JIT_CONSOLE_DIR. Absent: no console.
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// The console's OAuth client at the JWT issuer (a public client: authorization code with
    /// PKCE, redirect `<origin>/callback`); JIT_CONSOLE_CLIENT_ID. Needed without dev mode.
    #[serde(default)]
    pub client_id: Option<String>,
    /// Scopes asked at sign-in (default `openid profile`).
    #[serde(default)]
    pub scope: Option<String>,
    /// The `resource` (RFC 8707) the access token is for, if the provider needs one to issue a
    /// JWT with the API's audience.
    #[serde(default)]
    pub resource: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtConfig {
    pub issuer: String,
    pub audience: String,
    pub jwks_url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Everything the API needs, after environment overrides.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiSettings {
    /// `ip:port` to listen on (port 0: any free one).
    pub listen: String,
    pub temporal_address: String,
    pub namespace: String,
    /// Where tickets are started.
    pub task_queue: String,
    /// The policy (for service grants and admins).
    pub policy_file: PathBuf,
    /// The worker's caps, to refuse what it would refuse before starting a ticket.
    pub limits: Limits,
    pub dev_auth: bool,
    pub jwt: Option<JwtConfig>,
    pub tls: Option<TlsConfig>,
    /// `ip:port` of the HTTP endpoints (Slack interactions, Teams vote links), if served.
    pub http_listen: Option<String>,
    pub chat: ChatSettings,
    /// Where Prometheus metrics are served; `None`: not at all.
    pub metrics: Option<SocketAddr>,
    /// TLS to Temporal (the worker's settings).
    pub temporal_tls: Option<TemporalTls>,
    /// An API key for Temporal (Temporal Cloud): JIT_TEMPORAL_API_KEY or _FILE.
    pub temporal_api_key: Option<Secret>,
    /// Payload encryption keys (JIT_CODEC_KEYS or _FILE); `None`: payloads as they are.
    pub codec_keys: Option<CodecKeys>,
    /// Origins the codec server answers cross-origin (the Temporal UI's).
    pub codec_origins: Vec<String>,
    /// Origins gRPC-Web answers cross-origin.
    pub web_origins: Vec<String>,
    /// The web console; `None`: not served.
    pub console: Option<ConsoleSettings>,
}

/// The web console as the API serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSettings {
    /// The built files (index.html, assets/).
    pub dir: PathBuf,
    /// OIDC sign-in (production): the public client at `jwt.issuer`.
    pub client_id: Option<String>,
    pub scope: String,
    pub resource: Option<String>,
    /// Dev sign-in's choices (dev mode only): the sandbox's seeded users.
    pub dev_users: Vec<String>,
}

/// The `temporal:` section: which frontend and namespace the worker and the API use, and (for
/// the local stack only) the dev server to run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemporalConfig {
    /// The frontend, `host:port` or a URL (JIT_TEMPORAL_ADDRESS, TEMPORAL_ADDRESS); absent: the
    /// dev server's `ip:port`.
    #[serde(default)]
    pub address: Option<String>,
    /// JIT_TEMPORAL_NAMESPACE, TEMPORAL_NAMESPACE.
    pub namespace: String,
    /// TLS to the frontend (JIT_TEMPORAL_TLS_*, TEMPORAL_TLS_*); absent: plain text.
    #[serde(default)]
    pub tls: Option<TemporalTls>,
    /// The local dev server `cargo xtask up` and the tests run; a service config for a real
    /// cluster leaves it out.
    #[serde(default)]
    pub dev_server: Option<DevServerConfig>,
}

/// `temporal.dev_server:`: the local `temporal server start-dev`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevServerConfig {
    pub ip: String,
    pub port: u16,
    pub ui_port: u16,
    pub db_filename: PathBuf,
    #[serde(default)]
    pub search_attributes: BTreeMap<String, String>,
    #[serde(default)]
    pub dynamic_config: BTreeMap<String, serde_yaml_ng::Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxConfig {
    pub ip: String,
    pub port: u16,
    pub region: String,
    pub seed: Seed,
}

/// What the AWS sandbox holds after seeding.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    #[serde(default)]
    pub accounts: Vec<String>,
    #[serde(default)]
    pub groups: Vec<SeedGroup>,
    #[serde(default)]
    pub users: Vec<SeedUser>,
    #[serde(default)]
    pub permission_sets: Vec<SeedPermissionSet>,
    /// S3 buckets (the audit bucket, the organization trail's).
    #[serde(default)]
    pub buckets: Vec<SeedBucket>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedBucket {
    pub name: String,
    /// S3 Object Lock (for the audit bucket's retention): only at creation.
    #[serde(default)]
    pub object_lock: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedGroup {
    pub name: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedUser {
    pub name: String,
    pub display_name: String,
    pub email: String,
    #[serde(default)]
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedPermissionSet {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(deserialize_with = "duration")]
    pub session_duration: SignedDuration,
    #[serde(default)]
    pub managed_policies: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerConfig {
    pub task_queue: String,
    /// Where the worker serves `/livez` and `/readyz` (`host:port`); absent or `off`: none
    /// (JIT_HEALTH_ADDRESS).
    #[serde(default)]
    pub health: Option<String>,
    #[serde(default)]
    pub aws_endpoint_url: Option<String>,
    #[serde(default)]
    pub aws_region: Option<String>,
    /// The policy (rules file: bundles, eligibility, on-behalf rules, plans, admins),
    /// relative to this file.
    pub policy_file: PathBuf,
    /// How long directory look-ups (group members, users) are cached.
    #[serde(default = "default_directory_ttl", deserialize_with = "duration")]
    pub directory_ttl: SignedDuration,
    pub limits: LimitsConfig,
    /// The Identity Center budget (AWS: about 20 requests/s and 15 outstanding assignment
    /// operations per account, shared by the whole fleet).
    #[serde(default)]
    pub aws_limits: AwsLimits,
    /// The scheduled comparison of AWS with the leases.
    #[serde(default)]
    pub reconcile: ReconcileConfig,
    /// Where the worker serves Prometheus metrics (`host:port`, `/metrics`); absent: none.
    /// `JIT_METRICS_ADDRESS` (`off` turns it off).
    #[serde(default)]
    pub metrics: Option<String>,
    /// Worker Versioning: the Worker Deployment this worker belongs to (JIT_DEPLOYMENT_NAME)
    /// and its build id (JIT_BUILD_ID; default: a digest of the binary). Absent: an
    /// unversioned worker (the local stack).
    #[serde(default)]
    pub deployment: Option<DeploymentConfig>,
    /// Workflows kept in memory between their tasks (the sticky cache;
    /// JIT_CACHED_WORKFLOWS). A ticket waits for days between a few short tasks, and one out
    /// of the cache replays its short history when it next has work, so a small cache costs
    /// little time and bounds the worker's memory however many tickets are open.
    #[serde(default = "default_cached_workflows")]
    pub cached_workflows: usize,
    /// Audit records, session audit and cut-off (see [`AuditConfig`]).
    #[serde(default)]
    pub audit: Option<AuditConfig>,
}

/// The sticky cache's size unless configured (see `WorkerConfig::cached_workflows`).
pub const DEFAULT_CACHED_WORKFLOWS: usize = 200;

fn default_cached_workflows() -> usize {
    DEFAULT_CACHED_WORKFLOWS
}

/// `worker.deployment:`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentConfig {
    pub name: String,
    #[serde(default)]
    pub build_id: Option<String>,
}

/// How hard the fleet may use Identity Center.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsLimits {
    /// This worker's share of the request rate, spaced evenly (with N workers give each
    /// 1/N of the account's budget). `JIT_AWS_REQUESTS_PER_SECOND`.
    #[serde(default = "default_rps")]
    pub requests_per_second: f64,
    /// Asynchronous create/delete operations outstanding at once, fleet-wide: each worker
    /// takes `this / live workers` (rounded down, at least one), counting the workers that
    /// polled the lease-call queue in the last two minutes. `JIT_AWS_OUTSTANDING_OPERATIONS`.
    #[serde(default = "default_outstanding")]
    pub outstanding_operations: u32,
    /// The whole fleet's request rate: each worker then takes `fleet / live workers`,
    /// counting the workers that polled the task queue in the last two minutes (every 10 s),
    /// instead of `requests_per_second`. `JIT_AWS_FLEET_REQUESTS_PER_SECOND`.
    #[serde(default)]
    pub fleet_requests_per_second: Option<f64>,
}

impl Default for AwsLimits {
    fn default() -> Self {
        Self {
            requests_per_second: default_rps(),
            outstanding_operations: default_outstanding(),
            fleet_requests_per_second: None,
        }
    }
}

fn default_rps() -> f64 {
    18.0
}

fn default_outstanding() -> u32 {
    15
}

/// What jit keeps of a ticket outside Temporal and what it does about sessions
/// (`worker.audit:`; absent: none of it). See `docs/audit.md`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// Where ended tickets' records and their attributed events go (`JIT_AUDIT_BUCKET`).
    /// Absent: no records are written.
    #[serde(default)]
    pub bucket: Option<String>,
    /// The key prefix in that bucket.
    #[serde(default)]
    pub prefix: String,
    /// Keep each record this long under S3 Object Lock (the bucket must have Object Lock
    /// on); absent: no retention.
    #[serde(default, deserialize_with = "optional_duration")]
    pub retention: Option<SignedDuration>,
    /// Object Lock's compliance mode (nobody can shorten it) instead of governance.
    #[serde(default)]
    pub retention_compliance: bool,
    /// Session audit from the organization trail; absent: none.
    #[serde(default)]
    pub trail: Option<TrailConfig>,
    /// End sessions issued before a revocation (a service control policy on the account).
    /// `JIT_SESSION_CUTOFF`.
    #[serde(default)]
    pub cutoff: bool,
    /// At most this many of jit's cut-off policies on one account (AWS allows five SCPs per
    /// account, one of them usually `FullAWSAccess`).
    #[serde(default = "default_cutoff_policies")]
    pub cutoff_policies: usize,
    /// The longest session of the permission sets jit grants (when AWS does not say): how
    /// long after access ended a session may still be used.
    #[serde(default = "default_max_session", deserialize_with = "duration")]
    pub max_session: SignedDuration,
}

/// `worker.audit.trail:` — where the organization trail delivers.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrailConfig {
    /// The trail's bucket (`JIT_TRAIL_BUCKET`).
    pub bucket: String,
    #[serde(default)]
    pub prefix: String,
    /// The organization's id in the key layout; absent: asked of Organizations.
    #[serde(default)]
    pub org_id: Option<String>,
    /// The regions whose logs are read.
    pub regions: Vec<String>,
    /// How long after access ends the summary waits for CloudTrail's late delivery
    /// (`JIT_TRAIL_DELAY`).
    #[serde(default = "default_trail_delay", deserialize_with = "duration")]
    pub delay: SignedDuration,
}

/// `JIT_AUDIT_BUCKET`, `JIT_AUDIT_PREFIX`, `JIT_AUDIT_RETENTION`, `JIT_SESSION_CUTOFF`,
/// `JIT_MAX_SESSION`, `JIT_TRAIL_BUCKET`, `JIT_TRAIL_REGIONS` (comma-separated),
/// `JIT_TRAIL_ORG_ID`, `JIT_TRAIL_PREFIX`, `JIT_TRAIL_DELAY` over `worker.audit`. An empty
/// bucket turns its part off.
fn apply_audit_env(
    audit: &mut Option<AuditConfig>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    let bad = |var: &str, problem: String| ConfigError::Env {
        var: var.into(),
        problem,
    };
    if let Some(v) = env("JIT_AUDIT_BUCKET") {
        audit.get_or_insert_with(AuditConfig::none).bucket = (!v.is_empty()).then_some(v);
    }
    if let Some(v) = env("JIT_AUDIT_PREFIX") {
        audit.get_or_insert_with(AuditConfig::none).prefix = v;
    }
    if let Some(v) = env("JIT_AUDIT_RETENTION") {
        audit.get_or_insert_with(AuditConfig::none).retention = match v.as_str() {
            "" | "off" => None,
            d => Some(parse_duration(d).map_err(|p| bad("JIT_AUDIT_RETENTION", p))?),
        };
    }
    if let Some(v) = env("JIT_SESSION_CUTOFF") {
        audit.get_or_insert_with(AuditConfig::none).cutoff = matches!(v.as_str(), "true" | "1");
    }
    if let Some(v) = env("JIT_MAX_SESSION") {
        audit.get_or_insert_with(AuditConfig::none).max_session =
            parse_duration(&v).map_err(|p| bad("JIT_MAX_SESSION", p))?;
    }
    if let Some(v) = env("JIT_TRAIL_BUCKET") {
        let a = audit.get_or_insert_with(AuditConfig::none);
        if v.is_empty() {
            a.trail = None;
        } else {
            match &mut a.trail {
                Some(t) => t.bucket = v,
                None => {
                    a.trail = Some(TrailConfig {
                        bucket: v,
                        prefix: String::new(),
                        org_id: None,
                        regions: Vec::new(),
                        delay: default_trail_delay(),
                    });
                }
            }
        }
    }
    if let Some(t) = audit.as_mut().and_then(|a| a.trail.as_mut()) {
        if let Some(v) = env("JIT_TRAIL_REGIONS") {
            t.regions = v
                .split(',')
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_owned)
                .collect();
        }
        if let Some(v) = env("JIT_TRAIL_ORG_ID") {
            t.org_id = (!v.is_empty()).then_some(v);
        }
        if let Some(v) = env("JIT_TRAIL_PREFIX") {
            t.prefix = v;
        }
        if let Some(v) = env("JIT_TRAIL_DELAY") {
            t.delay = parse_duration(&v).map_err(|p| bad("JIT_TRAIL_DELAY", p))?;
        }
        if t.regions.is_empty() {
            return Err(bad(
                "JIT_TRAIL_REGIONS",
                "session audit needs the trail's regions (worker.audit.trail.regions)".into(),
            ));
        }
    }
    Ok(())
}

impl AuditConfig {
    /// Nothing on: the base the `JIT_AUDIT_*` variables build on.
    pub fn none() -> Self {
        Self {
            bucket: None,
            prefix: String::new(),
            retention: None,
            retention_compliance: false,
            trail: None,
            cutoff: false,
            cutoff_policies: default_cutoff_policies(),
            max_session: default_max_session(),
        }
    }
}

fn default_cutoff_policies() -> usize {
    2
}

fn default_max_session() -> SignedDuration {
    SignedDuration::from_hours(12)
}

fn default_trail_delay() -> SignedDuration {
    SignedDuration::from_mins(15)
}

fn optional_duration<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<SignedDuration>, D::Error> {
    let v: Option<String> = Option::deserialize(d)?;
    v.map(|s| parse_duration(&s).map_err(serde::de::Error::custom))
        .transpose()
}

/// The reconcile schedule.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReconcileConfig {
    /// How often (a Temporal Schedule, `jit-reconcile`). `JIT_RECONCILE_EVERY`.
    #[serde(default = "default_reconcile_every", deserialize_with = "duration")]
    pub every: SignedDuration,
    /// Report only. `JIT_RECONCILE_DRY_RUN`.
    #[serde(default)]
    pub dry_run: bool,
    /// The permission sets only jit assigns: every assignment of these must belong to a
    /// lease. Empty: no schedule. `JIT_RECONCILE_PERMISSION_SETS` (comma-separated).
    #[serde(default)]
    pub permission_sets: Vec<String>,
    /// Only these account ids; empty: every account. `JIT_RECONCILE_ACCOUNTS`.
    #[serde(default)]
    pub accounts: Vec<String>,
}

impl Default for ReconcileConfig {
    fn default() -> Self {
        Self {
            every: default_reconcile_every(),
            dry_run: false,
            permission_sets: Vec::new(),
            accounts: Vec::new(),
        }
    }
}

fn default_reconcile_every() -> SignedDuration {
    SignedDuration::from_mins(10)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// The shortest access a request may ask for (default 1m; JIT_MIN_DURATION).
    #[serde(default = "one_minute", deserialize_with = "duration")]
    pub min_duration: SignedDuration,
    #[serde(deserialize_with = "duration")]
    pub max_duration: SignedDuration,
    #[serde(deserialize_with = "duration")]
    pub max_approval_timeout: SignedDuration,
}

fn one_minute() -> SignedDuration {
    SignedDuration::from_mins(1)
}

/// Parses `90s`, `15m`, `8h`, `1h30m` or ISO 8601 (`PT8H`).
pub use jit_domain::duration::parse as parse_duration;

pub(crate) use jit_domain::duration::de as duration;

/// Everything the worker needs, after environment overrides.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerSettings {
    /// `http://host:port` of the Temporal frontend.
    pub temporal_address: String,
    pub namespace: String,
    pub task_queue: String,
    /// `None` means real AWS with the default credential chain.
    pub aws_endpoint_url: Option<String>,
    pub aws_region: String,
    pub limits: Limits,
    /// Where the policy is (`JIT_POLICY_FILE`).
    pub policy_file: PathBuf,
    /// How long directory look-ups are cached (`JIT_DIRECTORY_TTL`).
    pub directory_ttl: SignedDuration,
    /// Where notifications go.
    pub chat: ChatSettings,
    pub aws_limits: AwsLimits,
    pub reconcile: ReconcileConfig,
    /// Where Prometheus metrics are served; `None`: not at all.
    pub metrics: Option<SocketAddr>,
    /// Where `/livez` and `/readyz` are served; `None`: not at all.
    pub health: Option<SocketAddr>,
    /// TLS to the Temporal frontend; `None`: plain (the local dev server).
    pub temporal_tls: Option<TemporalTls>,
    /// An API key for Temporal (Temporal Cloud): JIT_TEMPORAL_API_KEY or _FILE. Implies TLS.
    pub temporal_api_key: Option<Secret>,
    /// Payload encryption keys (JIT_CODEC_KEYS or _FILE); `None`: payloads as they are.
    pub codec_keys: Option<CodecKeys>,
    /// Worker Versioning; `None`: unversioned.
    pub deployment: Option<DeploymentConfig>,
    /// The sticky cache's size (workflows kept in memory between tasks).
    pub cached_workflows: usize,
    /// Audit records, session audit and cut-off; `None`: none of them.
    pub audit: Option<AuditConfig>,
}

/// How to reach the Temporal frontend over TLS: the CA that signed its certificate (absent:
/// the system's roots), a client certificate and key for mTLS, the name its certificate is for.
/// Paths are relative to the config file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemporalTls {
    #[serde(default)]
    pub ca: Option<Pem>,
    #[serde(default)]
    pub cert: Option<Pem>,
    #[serde(default)]
    pub key: Option<Pem>,
    #[serde(default)]
    pub server_name: Option<String>,
}

/// A PEM certificate or key: a file (the config file and JIT_* variables name files), or
/// the bytes themselves (the SDK's `TEMPORAL_TLS_*_DATA` variables and profiles).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "PathBuf")]
pub enum Pem {
    File(PathBuf),
    Inline(Vec<u8>),
}

impl From<PathBuf> for Pem {
    fn from(p: PathBuf) -> Self {
        Self::File(p)
    }
}

impl std::fmt::Debug for Pem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(p) => write!(f, "File({})", p.display()),
            Self::Inline(b) => write!(f, "Inline({} bytes)", b.len()),
        }
    }
}

impl Pem {
    fn resolved(&self, config: &Path) -> Self {
        match self {
            Self::File(p) => Self::File(resolve(config, p)),
            Self::Inline(b) => Self::Inline(b.clone()),
        }
    }
}

/// [`TemporalTls`] with its files read.
#[derive(Clone, PartialEq, Eq)]
pub struct LoadedTls {
    pub ca: Option<Vec<u8>>,
    /// (certificate, key), PEM.
    pub client: Option<(Vec<u8>, Vec<u8>)>,
    pub server_name: Option<String>,
}

impl std::fmt::Debug for LoadedTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedTls")
            .field("ca", &self.ca.is_some())
            .field("client", &self.client.is_some())
            .field("server_name", &self.server_name)
            .finish()
    }
}

impl TemporalTls {
    /// Reads the files; an error names the setting and the file.
    pub fn load(&self) -> Result<LoadedTls, ConfigError> {
        let read = |setting: &str, p: &Pem| match p {
            Pem::Inline(b) => Ok(b.clone()),
            Pem::File(p) => std::fs::read(p).map_err(|e| ConfigError::Setting {
                setting: setting.into(),
                problem: format!("cannot read {}: {e}", p.display()),
            }),
        };
        let ca = self
            .ca
            .as_ref()
            .map(|p| read("temporal.tls.ca (JIT_TEMPORAL_TLS_CA)", p))
            .transpose()?;
        let client = match (&self.cert, &self.key) {
            (Some(c), Some(k)) => Some((
                read("temporal.tls.cert (JIT_TEMPORAL_TLS_CERT)", c)?,
                read("temporal.tls.key (JIT_TEMPORAL_TLS_KEY)", k)?,
            )),
            (None, None) => None,
            (Some(_), None) | (None, Some(_)) => {
                return Err(ConfigError::Env {
                    var: "JIT_TEMPORAL_TLS_CERT".into(),
                    problem: "a client certificate needs its key, and a key its certificate: set both JIT_TEMPORAL_TLS_CERT and JIT_TEMPORAL_TLS_KEY (temporal.tls.cert and .key, TEMPORAL_TLS_CLIENT_CERT_* and _KEY_*)".into(),
                });
            }
        };
        Ok(LoadedTls {
            ca,
            client,
            server_name: self.server_name.clone(),
        })
    }
}

/// `host:port` of a metrics endpoint (an IP address: it is bound, not looked up); `off` or
/// empty: none.
fn metrics_address(v: &str) -> Result<Option<SocketAddr>, String> {
    let v = v.trim();
    if v.is_empty() || v == "off" {
        return Ok(None);
    }
    v.parse::<SocketAddr>().map(Some).map_err(|_| {
        format!("{v:?} is not an address to listen on (like 127.0.0.1:9464), nor \"off\"")
    })
}

fn default_directory_ttl() -> SignedDuration {
    SignedDuration::from_secs(30)
}

/// `file` relative to the directory of the config file `config` (unless absolute).
pub fn resolve(config: &Path, file: &Path) -> PathBuf {
    if file.is_absolute() {
        file.to_owned()
    } else {
        config.parent().unwrap_or(Path::new(".")).join(file)
    }
}

/// Reads a configuration file; the error names it.
pub(crate) fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Parses YAML read from `path`; the error names the file, line and problem.
pub(crate) fn from_yaml<T: serde::de::DeserializeOwned>(
    text: &str,
    path: &Path,
) -> Result<T, ConfigError> {
    serde_yaml_ng::from_str(text).map_err(|source| ConfigError::Parse {
        path: path.to_owned(),
        source,
    })
}

impl StackConfig {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::parse(&read(path)?, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let mut c: Self = from_yaml(text, path)?;
        c.source = path.to_owned();
        Ok(c)
    }

    /// Applies the `JIT_*` port overrides of the stack (for `cargo xtask up`).
    pub fn apply_port_overrides(
        &mut self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        if let (Some(p), Some(d)) = (
            env_port(env, "JIT_TEMPORAL_PORT")?,
            self.temporal.dev_server.as_mut(),
        ) {
            d.port = p;
        }
        if let (Some(p), Some(d)) = (
            env_port(env, "JIT_TEMPORAL_UI_PORT")?,
            self.temporal.dev_server.as_mut(),
        ) {
            d.ui_port = p;
        }
        if let (Some(p), Some(sb)) = (env_port(env, "JIT_SANDBOX_PORT")?, self.sandbox.as_mut()) {
            sb.port = p;
        }
        if let (Some(p), Some(api)) = (env_port(env, "JIT_API_PORT")?, self.api.as_mut()) {
            api.port = p;
        }
        if let (Some(p), Some(api)) = (env_port(env, "JIT_API_HTTP_PORT")?, self.api.as_mut()) {
            api.http_port = Some(p);
        }
        Ok(())
    }

    /// Resolves the API's settings: the `api:` section (required), the worker's task queue and
    /// policy, then the `JIT_*` environment.
    pub fn api_settings(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ApiSettings, ConfigError> {
        let w = self.worker_settings(env)?;
        let a = self.api.as_ref().ok_or_else(|| ConfigError::Invalid {
            path: self.source.clone(),
            problem: "there is no api: section".into(),
        })?;
        let port = env_port(env, "JIT_API_PORT")?.unwrap_or(a.port);
        let mut s = ApiSettings {
            listen: format!("{}:{port}", a.ip),
            temporal_address: w.temporal_address,
            namespace: w.namespace,
            task_queue: w.task_queue,
            policy_file: w.policy_file,
            limits: w.limits,
            http_listen: env_port(env, "JIT_API_HTTP_PORT")?
                .or(a.http_port)
                .map(|p| format!("{}:{p}", a.ip)),
            chat: w.chat.clone(),
            dev_auth: a.dev_auth,
            jwt: a.jwt.clone(),
            tls: a.tls.as_ref().map(|t| TlsConfig {
                cert: resolve(&self.source, &t.cert),
                key: resolve(&self.source, &t.key),
            }),
            temporal_tls: w.temporal_tls.clone(),
            temporal_api_key: w.temporal_api_key.clone(),
            codec_keys: w.codec_keys.clone(),
            codec_origins: a.codec_origins.clone(),
            web_origins: a.web_origins.clone(),
            console: None,
            metrics: match &a.metrics {
                Some(v) => metrics_address(v).map_err(|problem| ConfigError::Invalid {
                    path: self.source.clone(),
                    problem: format!("api.metrics: {problem}"),
                })?,
                None => None,
            },
        };
        if let Some(v) = env("JIT_API_METRICS_ADDRESS") {
            s.metrics = metrics_address(&v).map_err(|problem| ConfigError::Env {
                var: "JIT_API_METRICS_ADDRESS".into(),
                problem,
            })?;
        }
        for (var, key, origins) in [
            ("JIT_CODEC_ORIGINS", "codec_origins", &mut s.codec_origins),
            ("JIT_WEB_ORIGINS", "web_origins", &mut s.web_origins),
        ] {
            if let Some(v) = env(var) {
                *origins = v
                    .split(',')
                    .map(str::trim)
                    .filter(|o| !o.is_empty())
                    .map(str::to_owned)
                    .collect();
            }
            for o in origins.iter() {
                if !(o.starts_with("http://") || o.starts_with("https://")) || o.ends_with('/') {
                    return Err(ConfigError::Invalid {
                        path: self.source.clone(),
                        problem: format!(
                            "api.{key} (or {var}): {o:?} is not an origin like \
                             https://jit.example.com (scheme, host, optional port, no path)"
                        ),
                    });
                }
            }
        }
        let console = a.console.clone().unwrap_or_default();
        let dir = env("JIT_CONSOLE_DIR")
            .map(PathBuf::from)
            .or_else(|| console.dir.as_ref().map(|d| resolve(&self.source, d)));
        s.console = dir.map(|dir| ConsoleSettings {
            dir,
            client_id: env("JIT_CONSOLE_CLIENT_ID").or(console.client_id.clone()),
            scope: console
                .scope
                .clone()
                .unwrap_or_else(|| "openid profile".into()),
            resource: console.resource.clone(),
            dev_users: self
                .sandbox
                .as_ref()
                .map(|sb| sb.seed.users.iter().map(|u| u.name.clone()).collect())
                .unwrap_or_default(),
        });
        if let Some(v) = env("JIT_API_DEV_AUTH") {
            s.dev_auth = match v.as_str() {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => {
                    return Err(ConfigError::Env {
                        var: "JIT_API_DEV_AUTH".into(),
                        problem: format!("{v:?} is not true or false"),
                    });
                }
            };
        }
        let (iss, aud, jwks) = (
            env("JIT_JWT_ISSUER"),
            env("JIT_JWT_AUDIENCE"),
            env("JIT_JWKS_URL"),
        );
        match (iss, aud, jwks) {
            (Some(issuer), Some(audience), Some(jwks_url)) => {
                s.jwt = Some(JwtConfig {
                    issuer,
                    audience,
                    jwks_url,
                });
            }
            (None, None, None) => {}
            _ => {
                return Err(ConfigError::Env {
                    var: "JIT_JWT_ISSUER".into(),
                    problem: "JIT_JWT_ISSUER, JIT_JWT_AUDIENCE and JIT_JWKS_URL go together".into(),
                });
            }
        }
        if let (Some(cert), Some(key)) = (env("JIT_API_TLS_CERT"), env("JIT_API_TLS_KEY")) {
            s.tls = Some(TlsConfig {
                cert: PathBuf::from(cert),
                key: PathBuf::from(key),
            });
        }
        match env("JIT_API_TLS").as_deref() {
            Some("false" | "0") => s.tls = None,
            Some("true" | "1") | None => {}
            Some(v) => {
                return Err(ConfigError::Env {
                    var: "JIT_API_TLS".into(),
                    problem: format!("{v:?} is not true or false"),
                });
            }
        }
        if !s.dev_auth && s.jwt.is_none() {
            return Err(ConfigError::Invalid {
                path: self.source.clone(),
                problem: "api: neither jwt nor dev_auth is configured: nobody could call the API"
                    .into(),
            });
        }
        if let Some(c) = &s.console
            && !s.dev_auth
            && (c.client_id.is_none() || s.jwt.is_none())
        {
            return Err(ConfigError::Invalid {
                path: self.source.clone(),
                problem: "api.console: without dev_auth, people sign in with OIDC: set \
                          api.console.client_id (JIT_CONSOLE_CLIENT_ID) and api.jwt"
                    .into(),
            });
        }
        if s.console.is_some() && s.http_listen.is_none() {
            return Err(ConfigError::Invalid {
                path: self.source.clone(),
                problem: "api.console: the console is served on the HTTP port: set \
                          api.http_port (JIT_API_HTTP_PORT)"
                    .into(),
            });
        }
        Ok(s)
    }

    /// The frontend the file names: `temporal.address` (a bare `host:port` gets `http://`;
    /// TLS turns it into https when connecting), else the dev server's.
    pub fn temporal_address(&self) -> Result<String, ConfigError> {
        match (&self.temporal.address, &self.temporal.dev_server) {
            (Some(a), _) => Ok(url_of(a)),
            (None, Some(d)) => Ok(format!("http://{}:{}", d.ip, d.port)),
            (None, None) => Err(ConfigError::Invalid {
                path: self.source.clone(),
                problem: "temporal: neither address (a frontend like temporal.example.com:7233) \
                          nor dev_server is set: which Temporal?"
                    .into(),
            }),
        }
    }

    /// The local dev server's section (`cargo xtask up` and the tests run it).
    pub fn dev_server(&self) -> Result<&DevServerConfig, ConfigError> {
        self.temporal
            .dev_server
            .as_ref()
            .ok_or_else(|| ConfigError::Invalid {
                path: self.source.clone(),
                problem: "temporal.dev_server is missing: the local stack runs a Temporal dev \
                          server from it (a service config for a real cluster has temporal.address \
                          instead)"
                    .into(),
            })
    }

    pub fn sandbox_url(&self) -> Option<String> {
        self.sandbox
            .as_ref()
            .map(|s| format!("http://{}:{}", s.ip, s.port))
    }

    /// Resolves the worker's settings: the `worker:` section, defaults from the other
    /// sections, then the `JIT_*` environment (`env` is `std::env::var` in production; tests
    /// pass a map).
    pub fn worker_settings(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<WorkerSettings, ConfigError> {
        let w = &self.worker;
        let mut s = WorkerSettings {
            // Missing here is fine if the environment names one (checked at the end).
            temporal_address: self.temporal_address().unwrap_or_default(),
            namespace: self.temporal.namespace.clone(),
            task_queue: w.task_queue.clone(),
            aws_endpoint_url: w.aws_endpoint_url.clone().or_else(|| self.sandbox_url()),
            aws_region: w
                .aws_region
                .clone()
                .or_else(|| self.sandbox.as_ref().map(|s| s.region.clone()))
                .unwrap_or_else(|| "us-east-1".to_owned()),
            limits: Limits {
                min_duration: w.limits.min_duration,
                max_duration: w.limits.max_duration,
                max_approval_timeout: w.limits.max_approval_timeout,
            },
            policy_file: resolve(&self.source, &w.policy_file),
            directory_ttl: w.directory_ttl,
            chat: self.chat.settings(env)?,
            aws_limits: w.aws_limits.clone(),
            reconcile: w.reconcile.clone(),
            metrics: match &w.metrics {
                Some(v) => metrics_address(v).map_err(|problem| ConfigError::Invalid {
                    path: self.source.clone(),
                    problem: format!("worker.metrics: {problem}"),
                })?,
                None => None,
            },
            temporal_tls: self.temporal.tls.as_ref().map(|t| TemporalTls {
                ca: t.ca.as_ref().map(|p| p.resolved(&self.source)),
                cert: t.cert.as_ref().map(|p| p.resolved(&self.source)),
                key: t.key.as_ref().map(|p| p.resolved(&self.source)),
                server_name: t.server_name.clone(),
            }),
            temporal_api_key: chat::secret(env, "JIT_TEMPORAL_API_KEY")?,
            codec_keys: CodecKeys::from_env(env)?,
            deployment: w.deployment.clone(),
            cached_workflows: w.cached_workflows,
            audit: w.audit.clone(),
            health: match &w.health {
                Some(v) => metrics_address(v).map_err(|problem| ConfigError::Invalid {
                    path: self.source.clone(),
                    problem: format!("worker.health: {problem}"),
                })?,
                None => None,
            },
        };
        if let Some(p) = sdk_profile(env)? {
            apply_sdk_profile(&mut s, p)?;
        }
        if let Some(name) = env("JIT_DEPLOYMENT_NAME") {
            let keep = s.deployment.take().and_then(|d| d.build_id);
            s.deployment = (!name.trim().is_empty()).then_some(DeploymentConfig {
                name,
                build_id: keep,
            });
        }
        if let Some(id) = env("JIT_BUILD_ID").filter(|v| !v.trim().is_empty()) {
            match s.deployment.as_mut() {
                Some(d) => d.build_id = Some(id),
                None => {
                    return Err(ConfigError::Env {
                        var: "JIT_BUILD_ID".into(),
                        problem: "a build id belongs to a Worker Deployment: set \
                                  JIT_DEPLOYMENT_NAME (or worker.deployment.name) too"
                            .into(),
                    });
                }
            }
        }
        if let Some(d) = &s.deployment {
            // `<name>.<build id>` is how Temporal writes a version: no dot in the name.
            let checks = [
                ("name", Some(&d.name), d.name.contains('.')),
                ("build_id", d.build_id.as_ref(), false),
            ];
            for (what, v, dotted) in checks {
                if let Some(v) = v
                    && (dotted || v.len() > 255 || v.chars().any(char::is_whitespace))
                {
                    return Err(ConfigError::Invalid {
                        path: self.source.clone(),
                        problem: format!(
                            "worker.deployment.{what} (JIT_DEPLOYMENT_NAME, JIT_BUILD_ID): {v:?} \
                             must be 1-255 characters without spaces (and a name without dots)"
                        ),
                    });
                }
            }
        }
        if let Some(v) = env("JIT_HEALTH_ADDRESS") {
            s.health = metrics_address(&v).map_err(|problem| ConfigError::Env {
                var: "JIT_HEALTH_ADDRESS".into(),
                problem,
            })?;
        }
        let tls_env = [
            "JIT_TEMPORAL_TLS_CA",
            "JIT_TEMPORAL_TLS_CERT",
            "JIT_TEMPORAL_TLS_KEY",
            "JIT_TEMPORAL_TLS_SERVER_NAME",
        ]
        .map(|k| env(k).filter(|v| !v.is_empty()));
        let tls_on = env("JIT_TEMPORAL_TLS").map(|v| v == "true" || v == "1");
        if tls_env.iter().any(Option::is_some) || tls_on == Some(true) {
            let t = s.temporal_tls.get_or_insert_with(TemporalTls::default);
            let [ca, cert, key, name] = tls_env;
            if let Some(v) = ca {
                t.ca = Some(Pem::File(v.into()));
            }
            if let Some(v) = cert {
                t.cert = Some(Pem::File(v.into()));
            }
            if let Some(v) = key {
                t.key = Some(Pem::File(v.into()));
            }
            if let Some(v) = name {
                t.server_name = Some(v);
            }
        }
        if tls_on == Some(false) {
            s.temporal_tls = None;
        }
        if let Some(v) = env("JIT_METRICS_ADDRESS") {
            s.metrics = metrics_address(&v).map_err(|problem| ConfigError::Env {
                var: "JIT_METRICS_ADDRESS".into(),
                problem,
            })?;
        }
        if let Some(v) = env("JIT_AWS_REQUESTS_PER_SECOND") {
            s.aws_limits.requests_per_second = v
                .parse::<f64>()
                .ok()
                .filter(|r| r.is_finite() && *r >= 0.0)
                .ok_or_else(|| ConfigError::Env {
                    var: "JIT_AWS_REQUESTS_PER_SECOND".into(),
                    problem: format!("{v:?} is not a rate (0 or more requests per second)"),
                })?;
        }
        if let Some(v) = env("JIT_AWS_FLEET_REQUESTS_PER_SECOND") {
            s.aws_limits.fleet_requests_per_second = match v.trim() {
                "" | "off" => None,
                t => Some(
                    t.parse::<f64>()
                        .ok()
                        .filter(|r| r.is_finite() && *r > 0.0)
                        .ok_or_else(|| ConfigError::Env {
                            var: "JIT_AWS_FLEET_REQUESTS_PER_SECOND".into(),
                            problem: format!(
                                "{v:?} is not a rate (more than 0 requests per second)"
                            ),
                        })?,
                ),
            };
        }
        apply_audit_env(&mut s.audit, env)?;
        if let Some(v) = env("JIT_CACHED_WORKFLOWS") {
            s.cached_workflows = v.parse::<usize>().map_err(|_| ConfigError::Env {
                var: "JIT_CACHED_WORKFLOWS".into(),
                problem: format!("{v:?} is not a number of workflows"),
            })?;
        }
        if let Some(v) = env("JIT_AWS_OUTSTANDING_OPERATIONS") {
            s.aws_limits.outstanding_operations = v
                .parse::<u32>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| ConfigError::Env {
                    var: "JIT_AWS_OUTSTANDING_OPERATIONS".into(),
                    problem: format!("{v:?} is not a positive number"),
                })?;
        }
        if let Some(v) = env("JIT_RECONCILE_EVERY") {
            s.reconcile.every = parse_duration(&v).map_err(|problem| ConfigError::Env {
                var: "JIT_RECONCILE_EVERY".into(),
                problem,
            })?;
        }
        let list = |v: String| -> Vec<String> {
            v.split(',')
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(str::to_owned)
                .collect()
        };
        if let Some(v) = env("JIT_RECONCILE_PERMISSION_SETS") {
            s.reconcile.permission_sets = list(v);
        }
        if let Some(v) = env("JIT_RECONCILE_ACCOUNTS") {
            s.reconcile.accounts = list(v);
        }
        if let Some(v) = env("JIT_RECONCILE_DRY_RUN") {
            s.reconcile.dry_run = matches!(v.as_str(), "true" | "1");
        }
        if let Some(v) = env("JIT_POLICY_FILE") {
            s.policy_file = PathBuf::from(v);
        }
        if let Some(v) = env("JIT_DIRECTORY_TTL") {
            s.directory_ttl = parse_duration(&v).map_err(|problem| ConfigError::Env {
                var: "JIT_DIRECTORY_TTL".into(),
                problem,
            })?;
        }
        if let Some(v) = env("JIT_TEMPORAL_ADDRESS").filter(|v| !v.trim().is_empty()) {
            s.temporal_address = url_of(&v);
        }
        if let Some(v) = env("JIT_TEMPORAL_NAMESPACE") {
            s.namespace = v;
        }
        if let Some(v) = env("JIT_TASK_QUEUE") {
            s.task_queue = v;
        }
        if let Some(v) = env("JIT_AWS_ENDPOINT_URL") {
            s.aws_endpoint_url = (!v.is_empty()).then_some(v);
        }
        if let Some(v) = env("JIT_AWS_REGION") {
            s.aws_region = v;
        }
        if let Some(v) = env("JIT_MAX_DURATION") {
            s.limits.max_duration = parse_duration(&v).map_err(|problem| ConfigError::Env {
                var: "JIT_MAX_DURATION".into(),
                problem,
            })?;
        }
        if let Some(v) = env("JIT_MIN_DURATION") {
            s.limits.min_duration = parse_duration(&v).map_err(|problem| ConfigError::Env {
                var: "JIT_MIN_DURATION".into(),
                problem,
            })?;
        }
        if s.temporal_address.is_empty() {
            self.temporal_address()?;
        }
        if s.limits.min_duration <= SignedDuration::ZERO
            || s.limits.min_duration > s.limits.max_duration
        {
            return Err(ConfigError::Env {
                var: "JIT_MIN_DURATION".into(),
                problem: format!(
                    "the minimum duration {:#} must be positive and at most the maximum {:#}",
                    s.limits.min_duration, s.limits.max_duration
                ),
            });
        }
        Ok(s)
    }
}

/// A frontend address as a URL: `host:port` gets `http://` (TLS makes it https when connecting).
fn url_of(address: &str) -> String {
    let a = address.trim();
    if a.contains("://") {
        a.to_owned()
    } else {
        format!("http://{a}")
    }
}

/// The SDK's environment configuration: what it reads besides `TEMPORAL_GRPC_META_*` (which
/// jit does not pass on).
pub const SDK_VARS: &[&str] = &[
    "TEMPORAL_CONFIG_FILE",
    "TEMPORAL_PROFILE",
    "TEMPORAL_ADDRESS",
    "TEMPORAL_NAMESPACE",
    "TEMPORAL_API_KEY",
    "TEMPORAL_TLS",
    "TEMPORAL_TLS_CLIENT_CERT_PATH",
    "TEMPORAL_TLS_CLIENT_CERT_DATA",
    "TEMPORAL_TLS_CLIENT_KEY_PATH",
    "TEMPORAL_TLS_CLIENT_KEY_DATA",
    "TEMPORAL_TLS_SERVER_CA_CERT_PATH",
    "TEMPORAL_TLS_SERVER_CA_CERT_DATA",
    "TEMPORAL_TLS_SERVER_NAME",
    "TEMPORAL_TLS_DISABLE_HOST_VERIFICATION",
];

/// The SDK's client profile (a `temporal.toml` profile with the `TEMPORAL_*` variables over
/// it), if any `TEMPORAL_*` variable is set: without one, a developer's own CLI profile never
/// redirects jit. `TEMPORAL_CONFIG_FILE` and `TEMPORAL_PROFILE` choose the file and profile
/// (default: `$XDG_CONFIG_HOME/temporalio/temporal.toml`, profile `default`).
fn sdk_profile(
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<temporalio_common::envconfig::ClientConfigProfile>, ConfigError> {
    use temporalio_common::envconfig as sdk;
    let vars: std::collections::HashMap<String, String> = SDK_VARS
        .iter()
        .filter_map(|k| env(k).map(|v| ((*k).to_owned(), v)))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    if vars.is_empty() {
        return Ok(None);
    }
    let file = vars.get("TEMPORAL_CONFIG_FILE").cloned();
    let options = sdk::LoadClientConfigProfileOptions::builder()
        .config_file_strict(true)
        .build();
    let profile = sdk::load_client_config_profile(options, Some(&vars)).map_err(|e| {
        let (var, problem) = match e {
            sdk::ConfigError::ProfileNotFound(name) => (
                "TEMPORAL_PROFILE",
                format!(
                    "there is no profile {name:?} in {}",
                    file.as_deref().unwrap_or("the default temporal.toml")
                ),
            ),
            sdk::ConfigError::InvalidConfig(m) => ("TEMPORAL_TLS_*", m),
            sdk::ConfigError::LoadError(m) => (
                "TEMPORAL_CONFIG_FILE",
                format!(
                    "{}: {m}",
                    file.as_deref().unwrap_or("the default temporal.toml")
                ),
            ),
        };
        ConfigError::Env {
            var: var.into(),
            problem,
        }
    })?;
    Ok(Some(profile))
}

/// Lays the SDK's profile over the file's settings (the `JIT_TEMPORAL_*` variables then go over
/// both).
fn apply_sdk_profile(
    s: &mut WorkerSettings,
    p: temporalio_common::envconfig::ClientConfigProfile,
) -> Result<(), ConfigError> {
    use temporalio_common::envconfig::DataSource;
    if let Some(a) = p.address {
        s.temporal_address = url_of(&a);
    }
    if let Some(n) = p.namespace {
        s.namespace = n;
    }
    if s.temporal_api_key.is_none() {
        s.temporal_api_key = p.api_key.map(Secret::new);
    }
    if let Some(tls) = p.tls {
        if tls.disable_host_verification {
            return Err(ConfigError::Env {
                var: "TEMPORAL_TLS_DISABLE_HOST_VERIFICATION".into(),
                problem: "jit always verifies the frontend's certificate; give its CA \
                          (TEMPORAL_TLS_SERVER_CA_CERT_PATH) or its name \
                          (TEMPORAL_TLS_SERVER_NAME) instead"
                    .into(),
            });
        }
        if tls.disabled == Some(true) {
            s.temporal_tls = None;
        } else {
            let pem = |d: DataSource| match d {
                DataSource::Path(p) => Ok(Pem::File(p.into())),
                DataSource::Data(b) => Ok(Pem::Inline(b)),
                other => Err(ConfigError::Env {
                    var: "TEMPORAL_TLS_*".into(),
                    problem: format!("a certificate source jit does not know: {other:?}"),
                }),
            };
            let t = s.temporal_tls.get_or_insert_with(TemporalTls::default);
            if let Some(d) = tls.server_ca_cert {
                t.ca = Some(pem(d)?);
            }
            if let Some(d) = tls.client_cert {
                t.cert = Some(pem(d)?);
            }
            if let Some(d) = tls.client_key {
                t.key = Some(pem(d)?);
            }
            if let Some(n) = tls.server_name {
                t.server_name = Some(n);
            }
        }
    }
    Ok(())
}

fn env_port(env: &dyn Fn(&str) -> Option<String>, var: &str) -> Result<Option<u16>, ConfigError> {
    env(var)
        .map(|v| {
            v.parse::<u16>().map_err(|_| ConfigError::Env {
                var: var.into(),
                problem: format!("{v:?} is not a port number"),
            })
        })
        .transpose()
}

/// `std::env::var` as an `env` function for [`StackConfig::worker_settings`].
pub fn process_env(var: &str) -> Option<String> {
    std::env::var(var).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_file() -> StackConfig {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../temporal-dev.yaml");
        StackConfig::load(&path).expect("temporal-dev.yaml parses")
    }

    #[test]
    fn the_repository_file_parses_with_the_contract_defaults() {
        let c = repo_file();
        let dev = c.dev_server().unwrap();
        assert_eq!(dev.port, 7233);
        assert_eq!(dev.ui_port, 8233);
        assert_eq!(c.temporal.namespace, "default");
        assert_eq!(c.sandbox.as_ref().unwrap().port, 4566);
        assert_eq!(c.worker.task_queue, "jit-tickets");
        for sa in [
            "JitStatus",
            "JitRequester",
            "JitPrincipal",
            "JitAccounts",
            "JitPermissionSets",
            "JitExpiresAt",
            "JitPendingApprovers",
        ] {
            assert!(dev.search_attributes.contains_key(sa), "{sa}");
        }
        let s = c.worker_settings(&|_| None).unwrap();
        assert_eq!(s.temporal_address, "http://127.0.0.1:7233");
        assert_eq!(s.aws_endpoint_url.as_deref(), Some("http://127.0.0.1:4566"));
        assert_eq!(s.limits.max_duration, SignedDuration::from_hours(12));
    }

    #[test]
    fn the_minimum_duration_defaults_to_a_minute_and_can_be_lowered_for_benchmarks() {
        let c = repo_file();
        let s = c.worker_settings(&|_| None).unwrap();
        assert_eq!(s.limits.min_duration, SignedDuration::from_mins(1));
        let env = |k: &str| (k == "JIT_MIN_DURATION").then(|| "5s".to_owned());
        let s = c.worker_settings(&env).unwrap();
        assert_eq!(s.limits.min_duration, SignedDuration::from_secs(5));
        for bad in ["0s", "13h"] {
            let env = |k: &str| (k == "JIT_MIN_DURATION").then(|| bad.to_owned());
            let e = c.worker_settings(&env).unwrap_err().to_string();
            assert!(e.contains("JIT_MIN_DURATION"), "{bad}: {e}");
        }
    }

    #[test]
    fn audit_is_off_unless_configured_and_the_environment_builds_it_whole() {
        let c = repo_file();
        assert_eq!(c.worker_settings(&|_| None).unwrap().audit, None);
        let env = |k: &str| {
            Some(
                match k {
                    "JIT_AUDIT_BUCKET" => "audit",
                    "JIT_AUDIT_RETENTION" => "9600h",
                    "JIT_SESSION_CUTOFF" => "true",
                    "JIT_TRAIL_BUCKET" => "trail",
                    "JIT_TRAIL_REGIONS" => "us-east-1, eu-west-1",
                    "JIT_TRAIL_DELAY" => "5m",
                    _ => return None,
                }
                .to_owned(),
            )
        };
        let a = c.worker_settings(&env).unwrap().audit.expect("audit");
        assert_eq!(a.bucket.as_deref(), Some("audit"));
        assert_eq!(a.retention, Some(SignedDuration::from_hours(9600)));
        assert!(a.cutoff);
        let t = a.trail.expect("trail");
        assert_eq!(t.bucket, "trail");
        assert_eq!(t.regions, ["us-east-1", "eu-west-1"]);
        assert_eq!(t.delay, SignedDuration::from_mins(5));
        // A trail without regions names what is missing.
        let no_regions = |k: &str| (k == "JIT_TRAIL_BUCKET").then(|| "trail".to_owned());
        let e = c.worker_settings(&no_regions).unwrap_err().to_string();
        assert!(e.contains("JIT_TRAIL_REGIONS"), "{e}");
        let bad = |k: &str| (k == "JIT_AUDIT_RETENTION").then(|| "a while".to_owned());
        let e = c.worker_settings(&bad).unwrap_err().to_string();
        assert!(e.contains("JIT_AUDIT_RETENTION"), "{e}");
    }

    #[test]
    fn environment_overrides_win() {
        let c = repo_file();
        let env = |k: &str| match k {
            "JIT_TASK_QUEUE" => Some("q2".to_owned()),
            "JIT_AWS_ENDPOINT_URL" => Some(String::new()),
            "JIT_MAX_DURATION" => Some("2h".to_owned()),
            _ => None,
        };
        let s = c.worker_settings(&env).unwrap();
        assert_eq!(s.task_queue, "q2");
        assert_eq!(s.aws_endpoint_url, None, "empty means real AWS");
        assert_eq!(s.limits.max_duration, SignedDuration::from_hours(2));
        let bad = |k: &str| (k == "JIT_MAX_DURATION").then(|| "forever".to_owned());
        let e = c.worker_settings(&bad).unwrap_err().to_string();
        assert!(
            e.contains("JIT_MAX_DURATION") && e.contains("forever"),
            "{e}"
        );
    }

    #[test]
    fn the_metrics_address_is_an_address_or_off() {
        let c = repo_file();
        let s = c.worker_settings(&|_| None).unwrap();
        assert_eq!(s.metrics, Some("127.0.0.1:9464".parse().unwrap()));
        let off = |k: &str| (k == "JIT_METRICS_ADDRESS").then(|| "off".to_owned());
        assert_eq!(c.worker_settings(&off).unwrap().metrics, None);
        let port0 = |k: &str| (k == "JIT_METRICS_ADDRESS").then(|| "127.0.0.1:0".to_owned());
        assert_eq!(
            c.worker_settings(&port0).unwrap().metrics,
            Some("127.0.0.1:0".parse().unwrap())
        );
        let api = c.api_settings(&|_| None).unwrap();
        assert_eq!(api.metrics, Some("127.0.0.1:9465".parse().unwrap()));
        let api_off = |k: &str| (k == "JIT_API_METRICS_ADDRESS").then(|| "off".to_owned());
        assert_eq!(c.api_settings(&api_off).unwrap().metrics, None);
        let bad = |k: &str| (k == "JIT_METRICS_ADDRESS").then(|| "localhost:x".to_owned());
        let e = c.worker_settings(&bad).unwrap_err().to_string();
        assert!(
            e.contains("JIT_METRICS_ADDRESS") && e.contains("localhost:x"),
            "{e}"
        );
    }

    #[test]
    fn temporal_tls_comes_from_the_environment_and_a_lone_certificate_is_named() {
        let c = repo_file();
        let s = c.worker_settings(&|_| None).unwrap();
        assert_eq!(s.temporal_tls, None, "the local dev server is plain text");
        let env = |k: &str| match k {
            "JIT_TEMPORAL_TLS_CA" => Some("/etc/jit/ca.pem".to_owned()),
            "JIT_TEMPORAL_TLS_SERVER_NAME" => Some("temporal.internal".to_owned()),
            _ => None,
        };
        let s = c.worker_settings(&env).unwrap();
        let tls = s.temporal_tls.clone().expect("TLS on");
        assert_eq!(tls.ca, Some(Pem::File("/etc/jit/ca.pem".into())));
        assert_eq!(tls.server_name.as_deref(), Some("temporal.internal"));
        let e = tls.load().unwrap_err().to_string();
        assert!(
            e.contains("JIT_TEMPORAL_TLS_CA") && e.contains("/etc/jit/ca.pem"),
            "{e}"
        );
        let lone = |k: &str| (k == "JIT_TEMPORAL_TLS_CERT").then(|| "/etc/jit/c.pem".to_owned());
        let e = c
            .worker_settings(&lone)
            .unwrap()
            .temporal_tls
            .unwrap()
            .load()
            .unwrap_err()
            .to_string();
        assert!(e.contains("JIT_TEMPORAL_TLS_KEY"), "{e}");
        let api_key = |k: &str| (k == "JIT_TEMPORAL_API_KEY").then(|| "k-123".to_owned());
        let s = c.api_settings(&api_key).unwrap();
        assert_eq!(
            s.temporal_api_key.map(|k| k.expose().to_owned()).as_deref(),
            Some("k-123")
        );
    }

    fn service_file() -> StackConfig {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/config/jit.yaml");
        StackConfig::load(&path).expect("deploy/config/jit.yaml parses")
    }

    #[test]
    fn a_service_config_needs_no_dev_server_and_the_local_stack_says_it_does() {
        let c = service_file();
        assert!(c.sandbox.is_none());
        let w = c.worker_settings(&|_| None).unwrap();
        assert_eq!(
            w.temporal_address,
            "http://temporal-frontend.temporal.svc:7233"
        );
        assert_eq!(w.namespace, "jit");
        assert_eq!(w.aws_endpoint_url, None, "real AWS");
        assert_eq!(
            w.deployment,
            Some(DeploymentConfig {
                name: "jit".into(),
                build_id: None
            })
        );
        let tag = |k: &str| (k == "JIT_BUILD_ID").then(|| "v1.4.2".to_owned());
        let d = c.worker_settings(&tag).unwrap().deployment.unwrap();
        assert_eq!(d.build_id.as_deref(), Some("v1.4.2"));
        let e = repo_file().worker_settings(&tag).unwrap_err().to_string();
        assert!(
            e.contains("JIT_BUILD_ID") && e.contains("JIT_DEPLOYMENT_NAME"),
            "{e}"
        );
        let dotted = |k: &str| (k == "JIT_DEPLOYMENT_NAME").then(|| "jit.prod".to_owned());
        let e = c.worker_settings(&dotted).unwrap_err().to_string();
        assert!(
            e.contains("\"jit.prod\"") && e.contains("without dots"),
            "{e}"
        );
        assert_eq!(
            repo_file().worker_settings(&|_| None).unwrap().deployment,
            None
        );
        let tls = w.temporal_tls.expect("TLS from temporal.tls");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/config");
        assert_eq!(tls.ca, Some(Pem::File(dir.join("tls/temporal-ca.pem"))));
        assert_eq!(tls.server_name.as_deref(), Some("temporal-frontend"));
        let a = c.api_settings(&|_| None).unwrap();
        assert!(!a.dev_auth && a.jwt.is_some());
        assert!(a.tls.is_some());
        let plain = |k: &str| (k == "JIT_API_TLS").then(|| "false".to_owned());
        assert_eq!(c.api_settings(&plain).unwrap().tls, None);
        assert_eq!(a.temporal_tls, Some(tls));
        let e = c.dev_server().unwrap_err().to_string();
        assert!(e.contains("temporal.dev_server is missing"), "{e}");
        // Neither an address nor a dev server: the error says which setting.
        let text = "temporal: { namespace: jit }\nworker: { task_queue: q, policy_file: p.yaml, limits: { max_duration: 1h, max_approval_timeout: 1h } }\n";
        let bare = StackConfig::parse(text, Path::new("svc.yaml")).unwrap();
        let e = bare.worker_settings(&|_| None).unwrap_err().to_string();
        assert!(
            e.starts_with("svc.yaml:") && e.contains("neither address"),
            "{e}"
        );
        let env = |k: &str| (k == "JIT_TEMPORAL_ADDRESS").then(|| "t.example:7233".to_owned());
        assert_eq!(
            bare.worker_settings(&env).unwrap().temporal_address,
            "http://t.example:7233"
        );
    }

    /// A scratch folder (no temp-file crate needed).
    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("jit-config-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn the_sdk_profile_and_temporal_variables_sit_between_the_file_and_jit_variables() {
        let c = service_file();
        let dir = scratch("profile");
        let toml = dir.join("temporal.toml");
        std::fs::write(
            &toml,
            "[profile.cloud]\naddress = \"jit.a1b2c.tmprl.cloud:7233\"\nnamespace = \"jit.a1b2c\"\napi_key = \"from-profile\"\n[profile.cloud.tls]\nserver_name = \"jit.a1b2c.tmprl.cloud\"\n",
        )
        .unwrap();
        let file = toml.display().to_string();
        let vars = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        let with = |m: BTreeMap<String, String>| move |k: &str| m.get(k).cloned();

        // The profile over the file.
        let m = vars(&[
            ("TEMPORAL_CONFIG_FILE", &file),
            ("TEMPORAL_PROFILE", "cloud"),
        ]);
        let s = c.worker_settings(&with(m)).unwrap();
        assert_eq!(s.temporal_address, "http://jit.a1b2c.tmprl.cloud:7233");
        assert_eq!(s.namespace, "jit.a1b2c");
        assert_eq!(s.temporal_api_key.unwrap().expose(), "from-profile");
        let tls = s.temporal_tls.unwrap();
        assert_eq!(tls.server_name.as_deref(), Some("jit.a1b2c.tmprl.cloud"));
        assert!(tls.cert.is_some(), "the file's client certificate stays");

        // TEMPORAL_* over the profile; inline PEM data; JIT_* over both.
        let m = vars(&[
            ("TEMPORAL_CONFIG_FILE", &file),
            ("TEMPORAL_PROFILE", "cloud"),
            ("TEMPORAL_NAMESPACE", "from-env"),
            (
                "TEMPORAL_TLS_SERVER_CA_CERT_DATA",
                "-----BEGIN CERTIFICATE-----",
            ),
            ("JIT_TEMPORAL_NAMESPACE", "from-jit"),
            ("JIT_TEMPORAL_API_KEY", "from-jit-key"),
        ]);
        let s = c.worker_settings(&with(m)).unwrap();
        assert_eq!(s.namespace, "from-jit");
        assert_eq!(s.temporal_api_key.unwrap().expose(), "from-jit-key");
        let loaded = s.temporal_tls.unwrap().load().err();
        // The client certificate files do not exist here: the error names the setting.
        assert!(
            loaded
                .unwrap()
                .to_string()
                .contains("JIT_TEMPORAL_TLS_CERT"),
            "file paths are read"
        );
        let m = vars(&[
            ("TEMPORAL_NAMESPACE", "from-env"),
            ("TEMPORAL_TLS_SERVER_CA_CERT_DATA", "CA BYTES"),
            ("TEMPORAL_CONFIG_FILE", "/nonexistent/temporal.toml"),
        ]);
        let s = repo_file().worker_settings(&with(m)).unwrap();
        assert_eq!(s.namespace, "from-env");
        assert_eq!(
            s.temporal_tls.unwrap().load().unwrap().ca.as_deref(),
            Some(&b"CA BYTES"[..])
        );

        // TEMPORAL_TLS=false turns the file's TLS off.
        let m = vars(&[
            ("TEMPORAL_TLS", "false"),
            ("TEMPORAL_CONFIG_FILE", "/nonexistent"),
        ]);
        assert_eq!(c.worker_settings(&with(m)).unwrap().temporal_tls, None);

        // Mistakes name the variable.
        let m = vars(&[
            ("TEMPORAL_CONFIG_FILE", &file),
            ("TEMPORAL_PROFILE", "prod"),
        ]);
        let e = c.worker_settings(&with(m)).unwrap_err().to_string();
        assert!(
            e.contains("TEMPORAL_PROFILE") && e.contains("\"prod\""),
            "{e}"
        );
        std::fs::write(dir.join("bad.toml"), "[profile.x]\nadress = 1\n").unwrap();
        let bad = dir.join("bad.toml").display().to_string();
        let m = vars(&[("TEMPORAL_CONFIG_FILE", &bad)]);
        let e = c.worker_settings(&with(m)).unwrap_err().to_string();
        assert!(
            e.contains("TEMPORAL_CONFIG_FILE") && e.contains("bad.toml"),
            "{e}"
        );
        let m = vars(&[
            ("TEMPORAL_TLS_DISABLE_HOST_VERIFICATION", "true"),
            ("TEMPORAL_CONFIG_FILE", "/nonexistent"),
        ]);
        let e = c.worker_settings(&with(m)).unwrap_err().to_string();
        assert!(e.contains("TEMPORAL_TLS_DISABLE_HOST_VERIFICATION"), "{e}");

        // Without any TEMPORAL_* variable the SDK's default profile is never read.
        let s = repo_file().worker_settings(&|_| None).unwrap();
        assert_eq!(s.temporal_address, "http://127.0.0.1:7233");
    }

    #[test]
    fn errors_name_the_file_and_the_problem() {
        let e = StackConfig::parse("temporal: {}\n", Path::new("x.yaml"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("x.yaml:"), "{e}");
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../temporal-dev.yaml"),
        )
        .unwrap()
        .replace("max_duration: 12h", "max_duration: soon");
        let e = StackConfig::parse(&text, Path::new("t.yaml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("soon") && e.contains("line"), "{e}");
    }
}
