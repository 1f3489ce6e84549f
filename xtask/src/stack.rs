//! `up` and `down`: the local stack's processes, their pid file and state folder `.jit/`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use jit_config::StackConfig;
use jit_devstack::process::stop_pid;
use jit_devstack::sys::alive;
use jit_devstack::{ManagedChild, Sandbox, TemporalServer, ensure_tools};
use serde_json::json;

/// The sandbox buckets `up` points the worker's audit at (seeded from `temporal-dev.yaml`).
const LOCAL_AUDIT_BUCKET: &str = "jit-audit";
const LOCAL_TRAIL_BUCKET: &str = "jit-trail";

/// What `up` leaves in `.jit/` (or in `JIT_STATE_DIR`, which also holds Temporal's
/// database then: a second, independent local stack, e.g. for tests).
pub(crate) struct StateDir {
    pub root: PathBuf,
    custom: bool,
}

impl StateDir {
    pub(crate) fn new(repo: &Path) -> Self {
        match std::env::var_os("JIT_STATE_DIR") {
            Some(dir) => Self {
                root: PathBuf::from(dir),
                custom: true,
            },
            None => Self {
                root: repo.join(".jit"),
                custom: false,
            },
        }
    }

    /// Temporal's database file.
    pub(crate) fn db(&self, repo: &Path, cfg: &StackConfig) -> anyhow::Result<PathBuf> {
        Ok(if self.custom {
            self.root.join("temporal.db")
        } else {
            repo.join(&cfg.dev_server()?.db_filename)
        })
    }
    pub(crate) fn pids(&self) -> PathBuf {
        self.root.join("stack.json")
    }
    pub(crate) fn seed(&self) -> PathBuf {
        self.root.join("seed.json")
    }
    /// The local stack's payload encryption keys (made once, 0600).
    pub(crate) fn codec_keys(&self) -> PathBuf {
        self.root.join("codec.keys")
    }

    fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }
}

/// The running stack as recorded in `.jit/stack.json`.
pub(crate) struct Recorded {
    pub pids: Vec<(String, u32)>,
    pub temporal_address: String,
    pub namespace: String,
    pub ui: String,
    pub sandbox_url: String,
    pub region: String,
    /// `http://ip:port` of jit-api.
    pub api: String,
    /// `http://ip:port` of jit-api's chat endpoints.
    pub api_http: String,
    /// `http://ip:port` of the fake Slack.
    pub fake_slack: String,
}

/// The signing secret of the local stack's fake Slack (a secret only in name).
pub(crate) const LOCAL_SIGNING_SECRET: &str = "local-signing-secret";

/// The fake Slack's user id for a seed user: `U` and the name in capitals.
pub(crate) fn slack_id(user: &str) -> String {
    format!("U_{}", user.to_uppercase())
}

pub(crate) fn read_recorded(state: &StateDir) -> anyhow::Result<Option<Recorded>> {
    let Ok(text) = std::fs::read_to_string(state.pids()) else {
        return Ok(None);
    };
    let v: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not valid JSON", state.pids().display()))?;
    let s = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
    let pids = v["pids"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, p)| Some((k.clone(), u32::try_from(p.as_u64()?).ok()?)))
                .collect()
        })
        .unwrap_or_default();
    Ok(Some(Recorded {
        pids,
        temporal_address: s("temporal_address"),
        namespace: s("namespace"),
        ui: s("ui"),
        sandbox_url: s("sandbox_url"),
        region: s("region"),
        api: s("api"),
        api_http: s("api_http"),
        fake_slack: s("fake_slack"),
    }))
}

fn port_free(ip: &str, port: u16) -> bool {
    TcpListener::bind((ip, port)).is_ok()
}

fn config(root: &Path) -> anyhow::Result<StackConfig> {
    let mut c = StackConfig::load(&root.join("temporal-dev.yaml"))?;
    c.apply_port_overrides(&jit_config::process_env)?;
    Ok(c)
}

/// Handles a pid file left behind: a running stack is an error (with what to do); a stale
/// one from a crash is cleaned up, stopping any survivor.
fn check_previous(state: &StateDir) -> anyhow::Result<()> {
    let Some(rec) = read_recorded(state)? else {
        return Ok(());
    };
    let running: Vec<_> = rec.pids.iter().filter(|(_, p)| alive(*p)).collect();
    if running.len() == rec.pids.len() && !running.is_empty() {
        bail!(
            "the local stack is already running ({}).\n  UI: {}\n  Try `cargo xtask demo`, or stop it with `cargo xtask down`.",
            running
                .iter()
                .map(|(n, p)| format!("{n} pid {p}"))
                .collect::<Vec<_>>()
                .join(", "),
            rec.ui
        );
    }
    eprintln!(
        "found {} from a stack that did not stop cleanly; cleaning up",
        state.pids().display()
    );
    for (name, pid) in running {
        eprintln!("  stopping leftover {name} (pid {pid})");
        stop_pid(*pid, Duration::from_secs(5), || !alive(*pid));
    }
    std::fs::remove_file(state.pids())?;
    Ok(())
}

pub(crate) fn up(root: &Path, detach: bool) -> anyhow::Result<()> {
    let started = Instant::now();
    let state = StateDir::new(root);
    std::fs::create_dir_all(state.logs())?;
    check_previous(&state)?;
    let cfg = config(root)?;
    let dev = cfg.dev_server()?.clone();
    let sb = cfg
        .sandbox
        .clone()
        .context("temporal-dev.yaml has no sandbox: section; `up` runs the local sandbox")?;
    let api_cfg = cfg
        .api
        .clone()
        .context("temporal-dev.yaml has no api: section; `up` runs the API")?;
    for (what, ip, port, var) in [
        ("Temporal", &dev.ip, dev.port, "JIT_TEMPORAL_PORT"),
        (
            "the Temporal UI",
            &dev.ip,
            dev.ui_port,
            "JIT_TEMPORAL_UI_PORT",
        ),
        ("the AWS sandbox", &sb.ip, sb.port, "JIT_SANDBOX_PORT"),
        ("jit-api", &api_cfg.ip, api_cfg.port, "JIT_API_PORT"),
        (
            "jit-api's chat endpoints",
            &api_cfg.ip,
            api_cfg.http_port.unwrap_or(0),
            "JIT_API_HTTP_PORT",
        ),
    ] {
        if !port_free(ip, port) {
            bail!(
                "port {port} on {ip}, wanted for {what}, is taken by another process.\n  Stop that process, or choose another port: {var}=<port> cargo xtask up"
            );
        }
    }

    let settings = cfg.worker_settings(&jit_config::process_env)?;
    let api_settings = cfg.api_settings(&jit_config::process_env)?;
    for (m, what, var) in [
        (
            settings.metrics,
            "the worker's metrics",
            "JIT_METRICS_ADDRESS",
        ),
        (
            api_settings.metrics,
            "the API's metrics",
            "JIT_API_METRICS_ADDRESS",
        ),
        (
            settings.health,
            "the worker's health endpoint",
            "JIT_HEALTH_ADDRESS",
        ),
    ] {
        if let Some(m) = m.filter(|m| m.port() != 0)
            && TcpListener::bind(m).is_err()
        {
            bail!(
                "port {} on {}, wanted for {what}, is taken by another process.\n  Stop that process, or choose another address: {var}=<ip:port|off> cargo xtask up",
                m.port(),
                m.ip()
            );
        }
    }

    let tools = ensure_tools(root)?;
    // The worker is built into this binary (`xtask run-worker`): no second cargo build, whose
    // different feature set would rebuild half the dependency tree every time.
    let worker_bin = std::env::current_exe().context("locating the xtask binary")?;

    let temporal = TemporalServer {
        ip: dev.ip.clone(),
        port: dev.port,
        ui_port: Some(dev.ui_port),
        namespace: cfg.temporal.namespace.clone(),
        db_filename: Some(state.db(root, &cfg)?),
        config: dev.clone(),
        // The UI decodes payloads through the API's codec server.
        ui_codec_endpoint: api_cfg
            .http_port
            .map(|p| format!("http://{}:{p}/codec", api_cfg.ip)),
    };
    let keys_file = ensure_codec_keys(&state.codec_keys())?;
    let sandbox = Sandbox {
        ip: sb.ip.clone(),
        port: sb.port,
        region: sb.region.clone(),
    };
    let die_with_us = !detach;
    let logs = state.logs();
    let mut children = vec![ManagedChild::spawn(
        "temporal",
        temporal.command(&tools),
        &logs.join("temporal.log"),
        die_with_us,
    )?];
    children.push(ManagedChild::spawn(
        "sandbox",
        sandbox.command(&tools),
        &logs.join("sandbox.log"),
        die_with_us,
    )?);
    let rt = tokio::runtime::Runtime::new()?;
    let ready = temporal
        .wait_ready(&tools, Duration::from_secs(90))
        .and_then(|()| sandbox.wait_ready(Duration::from_secs(30)))
        .and_then(|()| rt.block_on(sandbox.reset_and_seed(&sb.seed)));
    let seed = match ready {
        Ok(s) => s,
        Err(e) => {
            for c in &children {
                eprintln!(
                    "--- {} ({}) ---\n{}",
                    c.name(),
                    c.log().display(),
                    c.log_tail(15)
                );
            }
            return Err(e.context("the stack did not come up"));
        }
    };
    std::fs::write(
        state.seed(),
        serde_json::to_string_pretty(&json!({
            "accounts": seed.accounts, "users": seed.users,
            "groups": seed.groups, "permission_sets": seed.permission_sets,
        }))?,
    )?;

    // Chat: a fake Slack Web API (and Teams webhook) with the seed's users, and local secrets.
    let fake_port: u16 = match std::env::var("JIT_FAKE_SLACK_PORT") {
        Ok(p) => p.parse().context("JIT_FAKE_SLACK_PORT is not a port")?,
        Err(_) => 4580,
    };
    if !port_free("127.0.0.1", fake_port) {
        bail!(
            "port {fake_port} on 127.0.0.1, wanted for the fake Slack, is taken by another process.\n  Stop that process, or choose another port: JIT_FAKE_SLACK_PORT=<port> cargo xtask up"
        );
    }
    let fake_url = format!("http://127.0.0.1:{fake_port}");
    let mut fake_cmd = Command::new(&worker_bin);
    fake_cmd.args(["run-fake-slack", "--port", &fake_port.to_string()]);
    for u in &sb.seed.users {
        fake_cmd
            .arg("--user")
            .arg(format!("{}={}", slack_id(&u.name), u.email));
    }
    children.push(ManagedChild::spawn(
        "fake-slack",
        fake_cmd,
        &logs.join("fake-slack.log"),
        die_with_us,
    )?);
    let api_http = api_cfg
        .http_port
        .map(|p| format!("http://{}:{p}", api_cfg.ip));
    // The web console, built when missing or stale (npm ci, npm run build).
    let console_dir = jit_devstack::ensure_console(root)?;
    // The local stack's processes use its dev server, whatever a developer's shell says to
    // the SDK (TEMPORAL_ADDRESS, a TLS profile) for other clusters.
    let temporal_url = format!("http://{}", temporal.address());
    let chat_env = |c: &mut Command| {
        for k in jit_config::SDK_VARS {
            c.env_remove(k);
        }
        c.env("JIT_TEMPORAL_ADDRESS", &temporal_url)
            .env("JIT_TEMPORAL_TLS", "false");
        c.env("JIT_CODEC_KEYS_FILE", &keys_file);
        c.env("JIT_SLACK_BOT_TOKEN", "xoxb-local")
            .env("JIT_SLACK_API_URL", format!("{fake_url}/api"))
            .env("JIT_SLACK_SIGNING_SECRET", LOCAL_SIGNING_SECRET)
            .env("JIT_TEAMS_WEBHOOK_URL", format!("{fake_url}/teams"))
            .env("JIT_LINK_SECRET", "local-link-secret");
        if let Some(h) = &api_http {
            c.env("JIT_PUBLIC_URL", h);
        }
    };

    let mut worker_cmd = Command::new(&worker_bin);
    chat_env(&mut worker_cmd);
    // Audit records, session audit and cut-off against the sandbox's buckets and
    // Organizations (docs/audit.md); the tests switch them on one by one instead.
    let audit = sb.seed.buckets.iter().any(|b| b.name == LOCAL_AUDIT_BUCKET)
        && sb.seed.buckets.iter().any(|b| b.name == LOCAL_TRAIL_BUCKET);
    if audit {
        worker_cmd
            .env("JIT_AUDIT_BUCKET", LOCAL_AUDIT_BUCKET)
            .env("JIT_AUDIT_RETENTION", "24h")
            .env("JIT_TRAIL_BUCKET", LOCAL_TRAIL_BUCKET)
            .env("JIT_TRAIL_REGIONS", &sb.region)
            .env("JIT_TRAIL_DELAY", "1m")
            .env("JIT_SESSION_CUTOFF", "true");
    }
    worker_cmd
        .args(["run-worker", "--config"])
        .arg(root.join("temporal-dev.yaml"))
        .current_dir(root);
    children.push(ManagedChild::spawn(
        "worker",
        worker_cmd,
        &logs.join("worker.log"),
        die_with_us,
    )?);
    let mut api_cmd = Command::new(&worker_bin);
    chat_env(&mut api_cmd);
    if api_http.is_some() {
        api_cmd.env("JIT_CONSOLE_DIR", &console_dir);
    }
    api_cmd
        .args(["run-api", "--config"])
        .arg(root.join("temporal-dev.yaml"))
        .current_dir(root);
    children.push(ManagedChild::spawn(
        "api",
        api_cmd,
        &logs.join("api.log"),
        die_with_us,
    )?);
    let api_url = format!("http://{}:{}", api_cfg.ip, api_cfg.port);
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect((api_cfg.ip.as_str(), api_cfg.port)).is_err() {
        if let Some((name, tail)) = children
            .iter_mut()
            .find_map(|c| c.exited().map(|_| (c.name().to_owned(), c.log_tail(15))))
        {
            bail!("{name} exited while starting:\n{tail}");
        }
        if Instant::now() > deadline {
            bail!(
                "jit-api did not listen on {api_url} within a minute ({})",
                logs.join("api.log").display()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }

    let ui = format!("http://{}:{}", dev.ip, dev.ui_port);
    let pids: serde_json::Map<String, serde_json::Value> = children
        .iter()
        .map(|c| (c.name().to_owned(), json!(c.pid())))
        .collect();
    std::fs::write(
        state.pids(),
        serde_json::to_string_pretty(&json!({
            "pids": pids,
            "temporal_address": temporal_url,
            "namespace": cfg.temporal.namespace,
            "ui": ui,
            "sandbox_url": sandbox.url(),
            "region": sb.region,
            "task_queue": settings.task_queue,
            "api": api_url,
            "api_http": api_http,
            "fake_slack": fake_url,
        }))?,
    )?;

    println!("\njit's local stack is up ({:.0?}):", started.elapsed());
    println!(
        "  Temporal UI     {ui}/namespaces/{}/workflows",
        cfg.temporal.namespace
    );
    println!(
        "  Temporal        {}  (namespace {}, task queue {})",
        temporal.address(),
        cfg.temporal.namespace,
        settings.task_queue
    );
    println!(
        "  AWS sandbox     {}  (moto; region {})",
        sandbox.url(),
        sb.region
    );
    match settings.metrics {
        Some(m) => println!(
            "  worker          pid {}  (metrics http://{m}/metrics)",
            children[3].pid()
        ),
        None => println!("  worker          pid {}", children[3].pid()),
    }
    if let Some(h) = settings.health {
        println!("  worker health   http://{h}/readyz  (and /livez)");
    }
    println!(
        "  fake Slack      {fake_url}/api  (what was sent: {fake_url}/calls/chat.postMessage)"
    );
    println!("  jit-api         {api_url}  (gRPC jit.v1.TicketService; dev tokens: dev:<user>)");
    if let Some(h) = &api_http {
        println!("  web console     {h}/  (sign in as a seeded user: bob asks, carol approves)");
    }
    if let Some(h) = &api_http {
        println!(
            "  payloads        encrypted with {} (the UI decodes them through {h}/codec)",
            keys_file.display()
        );
    }
    if let Some(m) = api_settings.metrics {
        println!("  API metrics     http://{m}/metrics");
    }
    println!(
        "  accounts        {}",
        seed.accounts
            .iter()
            .map(|(n, id)| format!("{n}={id}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "  users           {}",
        seed.users.keys().cloned().collect::<Vec<_>>().join(" ")
    );
    println!(
        "  permission sets {}",
        seed.permission_sets
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(" ")
    );
    if audit {
        println!(
            "  audit records   s3://{LOCAL_AUDIT_BUCKET} (cargo jit audit export --since <day> --bucket {LOCAL_AUDIT_BUCKET} --endpoint-url {})",
            sandbox.url()
        );
        println!(
            "  session audit   the trail s3://{LOCAL_TRAIL_BUCKET}, read 1 min after access ends; sessions cut off at revocation"
        );
    }
    println!("  logs            {}", logs.display());
    println!("\nTry:");
    println!(
        "  cargo xtask demo                       # one ticket, requested -> approved -> active -> expired"
    );
    println!("  cargo jit --server {api_url} --token dev:bob catalog    # what bob may ask for");
    println!(
        "  .venv/bin/temporal workflow list --address {} --query \"JitStatus='Active'\"",
        temporal.address()
    );

    if detach {
        for c in children {
            c.detach();
        }
        println!(
            "  cargo xtask down                       # stop it (tickets are kept in {})",
            state.db(root, &cfg)?.display()
        );
        return Ok(());
    }
    println!("\nRunning in the foreground; Ctrl-C stops everything.");
    let stopped = rt.block_on(async {
        let mut poll = tokio::time::interval(Duration::from_millis(500));
        loop {
            tokio::select! {
                _ = jit_worker_shutdown() => return None,
                _ = poll.tick() => {
                    if let Some(c) = children.iter_mut().find_map(|c| c.exited().map(|s| (c.name().to_owned(), s, c.log_tail(15)))) {
                        return Some(c);
                    }
                }
            }
        }
    });
    eprintln!("\nstopping ...");
    drop(children);
    let _ = std::fs::remove_file(state.pids());
    if let Some((name, status, tail)) = stopped {
        bail!("{name} exited ({status}); the stack was stopped.\n{tail}");
    }
    Ok(())
}

async fn jit_worker_shutdown() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

pub(crate) fn down(root: &Path, wipe: bool) -> anyhow::Result<()> {
    let state = StateDir::new(root);
    match read_recorded(&state)? {
        None => println!(
            "the local stack is not running (no {})",
            state.pids().display()
        ),
        Some(rec) => {
            // The worker first, so it does not log connection errors while the server stops.
            for (name, pid) in rec.pids.iter().rev() {
                if alive(*pid) {
                    println!("stopping {name} (pid {pid})");
                    stop_pid(*pid, Duration::from_secs(10), || !alive(*pid));
                } else {
                    println!("{name} (pid {pid}) was not running");
                }
            }
            std::fs::remove_file(state.pids())?;
        }
    }
    if wipe {
        let cfg = config(root)?;
        for p in [state.db(root, &cfg)?, state.seed()] {
            if p.exists() {
                std::fs::remove_file(&p)?;
                println!("deleted {}", p.display());
            }
        }
        if state.logs().exists() {
            std::fs::remove_dir_all(state.logs())?;
            println!("deleted {}", state.logs().display());
        }
    }
    Ok(())
}

/// The local stack's key file: made once with one random key (`local-1`), readable by its
/// owner only; kept across runs so the local database's histories stay readable.
fn ensure_codec_keys(path: &Path) -> anyhow::Result<PathBuf> {
    use base64::Engine;
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if !path.exists() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let key = base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>());
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("creating {}", path.display()))?;
        writeln!(
            f,
            "# The local stack's payload encryption keys (JIT_CODEC_KEYS_FILE): the first\n\
             # encrypts, all decrypt. Made by `cargo xtask up`; never commit it.\nlocal-1:{key}"
        )?;
    }
    let text = std::fs::read_to_string(path)?;
    jit_config::CodecKeys::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(path.to_owned())
}
