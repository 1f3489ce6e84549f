//! `cargo xtask up | demo | down` as a user runs them: a second local stack on free ports with
//! its own state folder, started twice, crashed, recovered, demoed and stopped.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

struct Stack {
    state: PathBuf,
    ports: [(&'static str, u16); 6],
    metrics_port: u16,
    api_metrics_port: u16,
    health_port: u16,
}

impl Stack {
    fn new(name: &str) -> Self {
        let state =
            std::env::temp_dir().join(format!("jit-xtask-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&state);
        Self {
            state,
            ports: [
                ("JIT_TEMPORAL_PORT", free_port()),
                ("JIT_TEMPORAL_UI_PORT", free_port()),
                ("JIT_SANDBOX_PORT", free_port()),
                ("JIT_API_PORT", free_port()),
                ("JIT_API_HTTP_PORT", free_port()),
                ("JIT_FAKE_SLACK_PORT", free_port()),
            ],
            metrics_port: free_port(),
            api_metrics_port: free_port(),
            health_port: free_port(),
        }
    }

    fn xtask(&self, args: &[&str]) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
        c.args(args).env("JIT_STATE_DIR", &self.state);
        for (k, v) in self.ports {
            c.env(k, v.to_string());
        }
        c.env(
            "JIT_METRICS_ADDRESS",
            format!("127.0.0.1:{}", self.metrics_port),
        );
        c.env(
            "JIT_API_METRICS_ADDRESS",
            format!("127.0.0.1:{}", self.api_metrics_port),
        );
        c.env(
            "JIT_HEALTH_ADDRESS",
            format!("127.0.0.1:{}", self.health_port),
        );
        c.output().expect("xtask runs")
    }

    fn port(&self, var: &str) -> u16 {
        self.ports
            .iter()
            .find(|(k, _)| *k == var)
            .map(|(_, p)| *p)
            .expect("a port of the stack")
    }

    fn pids(&self) -> Vec<(String, u32)> {
        let text = std::fs::read_to_string(self.state.join("stack.json")).expect("stack.json");
        let v: serde_json::Value = serde_json::from_str(&text).expect("json");
        v["pids"]
            .as_object()
            .expect("pids")
            .iter()
            .map(|(k, p)| (k.clone(), p.as_u64().expect("pid") as u32))
            .collect()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = self.xtask(&["down", "--wipe"]);
        let _ = std::fs::remove_dir_all(&self.state);
    }
}

fn alive(pid: u32) -> bool {
    jit_devstack::sys::alive(pid)
}

/// The answer (status line, headers, body) to `GET path` on 127.0.0.1:`port`, over a plain
/// socket.
fn get(port: u16, path: &str) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port))?;
    c.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    write!(
        c,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )?;
    let mut body = String::new();
    c.read_to_string(&mut body)?;
    Ok(body)
}

/// `GET /metrics` on 127.0.0.1:`port`.
fn scrape(port: u16) -> std::io::Result<String> {
    get(port, "/metrics")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn up_twice_crash_recovery_demo_and_down() {
    let s = Stack::new("lifecycle");
    let up = s.xtask(&["up", "--detach"]);
    assert!(up.status.success(), "{}", text(&up));
    let out = text(&up);
    let ui_port = s.ports[1].1;
    assert!(
        out.contains(&format!("http://127.0.0.1:{ui_port}")),
        "prints the UI: {out}"
    );
    let first = s.pids();
    assert_eq!(
        first.len(),
        5,
        "temporal, sandbox, fake Slack, worker, api: {first:?}"
    );
    assert!(
        out.contains(&format!(
            "jit-api         http://127.0.0.1:{}",
            s.ports[3].1
        )),
        "{out}"
    );
    assert!(first.iter().all(|(_, p)| alive(*p)));

    // Starting again says so, and changes nothing.
    let again = s.xtask(&["up", "--detach"]);
    assert!(!again.status.success());
    assert!(text(&again).contains("already running"), "{}", text(&again));
    assert_eq!(s.pids(), first);

    // A crash: the worker dies. `up` cleans up the rest and starts a fresh stack.
    let worker = first.iter().find(|(n, _)| n == "worker").expect("worker").1;
    jit_devstack::sys::kill(worker, libc::SIGKILL).expect("killed");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let recovered = s.xtask(&["up", "--detach"]);
    assert!(recovered.status.success(), "{}", text(&recovered));
    assert!(
        text(&recovered).contains("did not stop cleanly"),
        "{}",
        text(&recovered)
    );
    for (name, pid) in &first {
        assert!(!alive(*pid), "the old {name} (pid {pid}) was stopped");
    }
    let second = s.pids();
    assert!(second.iter().all(|(_, p)| alive(*p)));

    // The demo drives a ticket through its life on this stack.
    let demo = s.xtask(&["demo"]);
    let out = text(&demo);
    assert!(demo.status.success(), "{out}");
    assert!(
        out.contains("CreateTicket as dev:bob")
            && out.contains(
                "Slack message to carol: Your approval is requested: bob asks for access"
            )
            && out.contains("ephemeral answer to carol: counted; the step needs more approvals")
            && out.contains("refused: PermissionDenied: not allowed: bob is the requester"),
        "{out}"
    );
    assert!(out.contains("bob assigned (1)"), "{out}");
    assert!(out.contains("ended: expired"), "{out}");
    assert!(out.contains("bob has no assignment"), "{out}");

    // The worker served the SDK's metrics while it ran the demo's ticket.
    assert!(
        text(&recovered).contains(&format!(
            "(metrics http://127.0.0.1:{}/metrics)",
            s.metrics_port
        )),
        "{}",
        text(&recovered)
    );
    assert!(
        text(&recovered).contains(&format!(
            "API metrics     http://127.0.0.1:{}/metrics",
            s.api_metrics_port
        )),
        "{}",
        text(&recovered)
    );
    let ready = get(s.health_port, "/readyz").expect("the worker serves /readyz");
    assert!(
        ready.starts_with("HTTP/1.1 200") && ready.ends_with("ready\n"),
        "{ready}"
    );
    let api = scrape(s.api_metrics_port).expect("the API serves /metrics");
    assert!(
        api.contains("jit_api_rpcs_total{code=\"OK\",method=\"CreateTicket\"}"),
        "the demo's CreateTicket is counted:\n{api}"
    );
    let metrics = scrape(s.metrics_port).expect("the worker serves /metrics");
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    for name in [
        "temporal_workflow_completed_total",
        "temporal_activity_execution_latency_seconds",
        "temporal_worker_task_slots_available",
    ] {
        assert!(
            metrics
                .lines()
                .any(|l| l.starts_with(name) && l.contains("task_queue=\"jit-tickets\"")),
            "{name} with the task queue in:\n{metrics}"
        );
    }

    // Payloads are encrypted with the stack's own key file (0600): the demo's
    // justification is not in its raw history, and reads through the API's codec server.
    use std::os::unix::fs::PermissionsExt;
    let keys = std::fs::metadata(s.state.join("codec.keys")).expect("the key file");
    assert_eq!(keys.permissions().mode() & 0o777, 0o600);
    let temporal = jit_devstack::repo_root().join(".venv/bin/temporal");
    let address = format!("127.0.0.1:{}", s.port("JIT_TEMPORAL_PORT"));
    let ids = jit_devstack::history::list_ids(
        &temporal,
        &address,
        "default",
        "WorkflowType = 'TicketWorkflow'",
    )
    .expect("temporal workflow list");
    let ticket = ids.first().expect("the demo's ticket");
    let reason = ["demo: investigate incident INC-42"];
    let show = |extra: &[&str]| {
        jit_devstack::history::show_json(&temporal, &address, "default", ticket, extra)
            .expect("temporal workflow show")
    };
    assert!(jit_devstack::history::readable(&show(&[]), &reason).is_empty());
    let codec = format!("http://127.0.0.1:{}/codec", s.port("JIT_API_HTTP_PORT"));
    assert_eq!(
        jit_devstack::history::readable(&show(&["--codec-endpoint", &codec]), &reason),
        reason
    );
    assert!(
        text(&recovered).contains(&format!(
            "the UI decodes them through http://127.0.0.1:{}/codec",
            s.port("JIT_API_HTTP_PORT")
        )),
        "{}",
        text(&recovered)
    );

    // The demo's ticket left its audit record in the sandbox's audit bucket (its session
    // audit ran once the skipped clock passed the trail's delay), and its revocation a
    // session cut-off on the account.
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let aws = jit_aws::IdentityCenter::connect(&jit_aws::AwsSettings {
            region: "us-east-1".into(),
            endpoint_url: Some(format!("http://127.0.0.1:{}", s.port("JIT_SANDBOX_PORT"))),
            requests_per_second: 0.0,
        })
        .await;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        let records = loop {
            let found = aws
                .list_objects("jit-audit", "tickets/v1/")
                .await
                .expect("the audit bucket");
            if !found.is_empty() {
                break found;
            }
            assert!(std::time::Instant::now() < deadline, "no audit record");
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        };
        let record: serde_json::Value = serde_json::from_slice(
            &aws.get_object("jit-audit", &records[0].key)
                .await
                .expect("record"),
        )
        .expect("JSON");
        assert_eq!(record["schema"], "jit.ticket.audit/v1", "{record}");
        assert_eq!(record["outcome"], "Expired", "{record}");
        assert_eq!(record["principal"], "user:bob", "{record}");
        assert!(record["session"].is_object(), "{record}");
        let account = record["targets"][0]["account"].as_str().expect("account");
        let cut = aws.cutoff_policies(account).await.expect("policies");
        assert_eq!(cut.len(), 1, "{cut:?}");
        assert!(cut[0].content.contains("*:bob"), "{}", cut[0].content);
    });
    assert!(
        text(&recovered).contains("audit records   s3://jit-audit"),
        "{}",
        text(&recovered)
    );

    // Down stops everything; tickets stay until --wipe.
    let down = s.xtask(&["down"]);
    assert!(down.status.success(), "{}", text(&down));
    assert!(second.iter().all(|(_, p)| !alive(*p)));
    assert!(!s.state.join("stack.json").exists());
    assert!(s.state.join("temporal.db").exists(), "tickets survive down");
    let wipe = s.xtask(&["down", "--wipe"]);
    assert!(text(&wipe).contains("not running"), "{}", text(&wipe));
    assert!(!s.state.join("temporal.db").exists());
}

#[test]
fn a_taken_port_is_named_with_its_override() {
    let s = Stack::new("port");
    let holder = TcpListener::bind(("127.0.0.1", s.ports[2].1)).expect("hold the sandbox port");
    let up = s.xtask(&["up", "--detach"]);
    assert!(!up.status.success());
    let out = text(&up);
    assert!(
        out.contains(&format!(
            "port {} on 127.0.0.1, wanted for the AWS sandbox",
            s.ports[2].1
        )) && out.contains("JIT_SANDBOX_PORT"),
        "{out}"
    );
    drop(holder);
}
