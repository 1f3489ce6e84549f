//! What an operator's tools see of a worker: the Temporal SDK's Prometheus metrics, labelled
//! with the task queue, jit's own (an injected throttle and a revocation's lag show), a real
//! Prometheus scraping them with jit's alert rules loaded and the dashboard's queries asked,
//! and logs as one JSON object per line.

use std::time::Duration;

use jit_devstack::{Fault, Rule};
use jit_domain::Phase;

use crate::support::TestApp;

const T: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_serves_sdk_and_jit_metrics_and_writes_json_logs() {
    let port = jit_devstack::process::free_port().expect("a free port");
    let health = jit_devstack::process::free_port().expect("a free port");
    let app = TestApp::with_policy_env(
        "observe",
        crate::support::DEFAULT_POLICY,
        vec![
            ("JIT_METRICS_ADDRESS".into(), format!("127.0.0.1:{port}")),
            ("JIT_LOG_FORMAT".into(), "json".into()),
            // A ticket that really expires while the test watches.
            ("JIT_MIN_DURATION".into(), "5s".into()),
            ("JIT_HEALTH_ADDRESS".into(), format!("127.0.0.1:{health}")),
        ],
    )
    .await;
    app.stack.proxy.add(
        Rule::new("CreateAccountAssignment", Fault::Throttle)
            .matching(app.account.as_str())
            .times(2),
    );
    // The deletion's answer is held back two seconds: the revocation lags at least that.
    app.stack.proxy.add(
        Rule::new(
            "DeleteAccountAssignment",
            Fault::Delay(Duration::from_secs(2)),
        )
        .matching(app.account.as_str()),
    );
    // The API, with its own metrics endpoint.
    let api = crate::api::ApiServer::configured(&app, |s| {
        s.metrics = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let api_metrics = api.metrics.expect("the API serves metrics");
    // A real Prometheus (Debian's), scraping the worker and the API every second, with jit's
    // rules.
    let root = jit_devstack::repo_root();
    let prometheus = jit_devstack::Prometheus::start(
        &root,
        &app.stack
            .logs
            .join(format!("prometheus-{}", app.task_queue)),
        &[
            ("jit-worker", format!("127.0.0.1:{port}")),
            ("jit-api", api_metrics.to_string()),
        ],
        &[root.join("deploy/observability/alerts.yml")],
    )
    .expect("prometheus starts");

    // Calls to the API: one answered, one without credentials.
    let mut client = api.client().await;
    client
        .get_caller(crate::api::as_user(
            "dev:bob",
            jit_proto::v1::GetCallerRequest {},
        ))
        .await
        .expect("bob is known");
    let refused = client
        .get_caller(tonic::Request::new(jit_proto::v1::GetCallerRequest {}))
        .await
        .expect_err("no credentials");
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    let api_url = format!("http://{api_metrics}/metrics");
    let api_body = crate::support::scrape_until(&api_url, |b| {
        b.contains("jit_api_rpcs_total{code=\"Unauthenticated\",method=\"GetCaller\"} 1")
    })
    .await;
    let v = |s: &str| crate::support::series_value(&api_body, s);
    assert_eq!(
        v("jit_api_rpcs_total{code=\"OK\",method=\"GetCaller\"}"),
        Some(1.0),
        "{api_body}"
    );
    assert_eq!(
        v("jit_api_auth_failures_total{reason=\"missing\"}"),
        Some(1.0),
        "{api_body}"
    );
    assert_eq!(
        v("jit_api_rpc_latency_seconds_count{code=\"OK\",method=\"GetCaller\"}"),
        Some(1.0),
        "{api_body}"
    );
    assert!(api_body.contains("temporal_request_total"), "{api_body}");
    let mut req = app.request("observe", "bob", "bob");
    req.duration = jiff::SignedDuration::from_secs(5);
    let h = app.start(&req).await;
    app.wait_for(&h, T, |t| t.phase == Phase::PendingApproval)
        .await;
    app.approve(&h, "carol").await.expect("carol may approve");
    app.wait_for(&h, T, |t| t.phase == Phase::Active).await;
    // The probes: alive, and ready (polling, and Temporal answers).
    for (path, body) in [("livez", "ok\n"), ("readyz", "ready\n")] {
        let r = reqwest::get(format!("http://127.0.0.1:{health}/{path}"))
            .await
            .expect("the worker serves its probes");
        assert_eq!(r.status(), 200, "/{path}");
        assert_eq!(r.text().await.unwrap(), body, "/{path}");
    }
    let url = format!("http://127.0.0.1:{port}/metrics");
    // Approval wait and approve→active, once for the ticket.
    let body = crate::support::scrape_until(&url, |b| {
        b.contains("jit_approve_to_active_seconds_count 1")
    })
    .await;
    let v = |s: &str| crate::support::series_value(&body, s);
    assert_eq!(v("jit_approval_wait_seconds_count"), Some(1.0), "{body}");
    let to_active = v("jit_approve_to_active_seconds_sum").expect("sum");
    assert!((0.0..30.0).contains(&to_active), "{to_active}");

    let queue = format!("task_queue=\"{}\"", app.task_queue);
    let wanted = [
        "temporal_workflow_task_execution_latency_seconds_count",
        "temporal_activity_execution_latency_seconds_count",
        "temporal_worker_task_slots_available",
        "temporal_request_total",
    ];
    let deadline = std::time::Instant::now() + T;
    let body = loop {
        let body = crate::support::scrape(&url).await;
        let seen = |name: &str| {
            body.lines()
                .any(|l| l.starts_with(name) && l.contains(&queue))
        };
        if wanted.iter().all(|n| seen(n)) {
            break body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not all of {wanted:?} with {queue} in:\n{body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        body.contains("# TYPE temporal_request_total counter"),
        "{body}"
    );

    // jit's own: every AWS attempt by operation and outcome (this worker is the only one
    // that saw the two throttled creates), and the rate limiter's waits.
    let requests = |operation: &str, outcome: &str| -> f64 {
        body.lines()
            .filter(|l| {
                l.starts_with("jit_aws_requests_total{")
                    && l.contains(&format!("operation=\"{operation}\""))
                    && l.contains(&format!("outcome=\"{outcome}\""))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    assert_eq!(
        requests("CreateAccountAssignment", "throttled"),
        2.0,
        "{body}"
    );
    assert_eq!(requests("CreateAccountAssignment", "ok"), 1.0, "{body}");
    assert!(requests("ListAccountAssignments", "ok") >= 1.0, "{body}");
    assert!(
        body.lines()
            .any(|l| l.starts_with("jit_aws_request_latency_seconds_count{")
                && l.contains("operation=\"CreateAccountAssignment\"")),
        "{body}"
    );
    assert!(
        body.contains("jit_aws_rate_limiter_wait_seconds_count"),
        "{body}"
    );

    // The ticket expires by itself; its revocation's lag is measured from the expiry.
    assert_eq!(app.outcome(&h, T).await.phase, Phase::Expired);
    assert_eq!(app.assignment_count("bob", "ReadOnly").await, 0);
    let body = crate::support::scrape(&url).await;
    let value = |series: &str| -> f64 {
        crate::support::series_value(&body, series)
            .unwrap_or_else(|| panic!("no {series} in:\n{body}"))
    };
    assert_eq!(value("jit_revocation_lag_seconds_count"), 1.0, "{body}");
    let lag = value("jit_revocation_lag_seconds_sum");
    assert!((2.0..30.0).contains(&lag), "lag {lag} s");
    assert_eq!(
        value("jit_revocation_lag_seconds_bucket{le=\"1\"}"),
        0.0,
        "{body}"
    );
    assert_eq!(
        value("jit_revocation_lag_seconds_bucket{le=\"30\"}"),
        1.0,
        "{body}"
    );

    // This worker's operation permits (recorded every 2 s): none out once the deletion is
    // done; the whole of the fleet's limit is its share (it is the only worker on its queue).
    let governed = crate::support::scrape_until(&url, |b| {
        crate::support::series_value(b, "jit_aws_operations_limit").is_some()
            && crate::support::series_value(b, "jit_aws_operations_held") == Some(0.0)
    })
    .await;
    let g = |s: &str| crate::support::series_value(&governed, s);
    assert_eq!(g("jit_aws_operations_limit"), Some(15.0), "{governed}");
    assert_eq!(g("jit_aws_operations_waiting"), Some(0.0), "{governed}");
    assert_eq!(g("jit_aws_operations_held"), Some(0.0), "{governed}");

    // Tickets by phase, from visibility: this queue's one ticket has expired.
    let expired = crate::support::scrape_until(&url, |b| {
        b.lines().any(|l| l == "jit_tickets{phase=\"Expired\"} 1")
    })
    .await;
    assert!(
        expired.contains("jit_tickets{phase=\"Active\"} 0"),
        "{expired}"
    );

    // The policy in force, and its reloads: a change is counted ok, a broken file failed.
    assert!(
        expired
            .lines()
            .any(|l| l.starts_with("jit_policy_info{policy=\"sha256:") && l.ends_with("} 1")),
        "{expired}"
    );
    let text = std::fs::read_to_string(&app.policy_file).expect("policy");
    std::fs::write(&app.policy_file, format!("{text}\n# changed\n")).expect("written");
    crate::support::scrape_until(&url, |b| {
        b.contains("jit_policy_reloads_total{result=\"ok\"} 1")
            && b.lines()
                .filter(|l| l.starts_with("jit_policy_info{") && l.ends_with("} 1"))
                .count()
                == 1
    })
    .await;
    std::fs::write(&app.policy_file, "eligibility: [").expect("written");
    crate::support::scrape_until(&url, |b| {
        b.contains("jit_policy_reloads_total{result=\"failed\"} 1")
    })
    .await;

    // The same, as Prometheus scraped it.
    let within = Duration::from_secs(30);
    let one = |v: f64| move |r: &[(serde_json::Value, f64)]| r.len() == 1 && r[0].1 == v;
    prometheus
        .wait_for("up{job=\"jit-worker\"}", within, one(1.0))
        .await
        .expect("the worker is scraped");
    prometheus
        .wait_for("up{job=\"jit-api\"}", within, one(1.0))
        .await
        .expect("the API is scraped");
    prometheus
        .wait_for(
            "sum(jit_api_auth_failures_total{reason=\"missing\"})",
            within,
            one(1.0),
        )
        .await
        .expect("the refused call is in Prometheus");
    prometheus
        .wait_for(
            "sum(jit_aws_requests_total{operation=\"CreateAccountAssignment\",outcome=\"throttled\"})",
            within,
            one(2.0),
        )
        .await
        .expect("the throttles are in Prometheus");
    prometheus
        .wait_for("jit_revocation_lag_seconds_count", within, one(1.0))
        .await
        .expect("the revocation is in Prometheus");
    let lag = prometheus
        .query("jit_revocation_lag_seconds_sum")
        .await
        .expect("query");
    assert!(lag.len() == 1 && lag[0].1 >= 2.0, "{lag:?}");
    // Every query of the dashboard is valid PromQL over these series.
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("deploy/observability/grafana-dashboard.json"))
            .expect("dashboard"),
    )
    .expect("dashboard JSON");
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            let expr = target["expr"].as_str().expect("expr");
            prometheus
                .query(&expr.replace("$__rate_interval", "1m"))
                .await
                .unwrap_or_else(|e| panic!("{}: {e:#}", panel["title"]));
        }
    }
    // The alert rules evaluate without error on real series, and none fires for this
    // healthy worker.
    let rules = prometheus
        .wait_rules_evaluated(within)
        .await
        .expect("rules evaluated");
    let alerts = std::fs::read_to_string(root.join("deploy/observability/alerts.yml"))
        .expect("alerts")
        .lines()
        .filter(|l| l.trim_start().starts_with("- alert:"))
        .count();
    assert_eq!(rules.len(), alerts, "{rules:?}");
    for (name, health, state) in &rules {
        assert_eq!(health, "ok", "{name}");
        assert_eq!(state, "inactive", "{name}");
    }

    let log = app.worker_log_text();
    let mut lines = 0;
    for line in log.lines().filter(|l| l.starts_with('{')) {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(v["level"].is_string() && v["fields"].is_object(), "{line}");
        lines += 1;
    }
    assert!(
        log.lines().filter(|l| !l.trim().is_empty()).count() == lines && lines > 0,
        "every line is a JSON object:\n{log}"
    );
    assert!(
        log.contains(&format!("\"address\":\"{url}\"")),
        "the worker says where its metrics are:\n{log}"
    );
    // A line logged in an activity carries the workflow, run and activity it ran for.
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let logged = |message: &str| {
        lines
            .iter()
            .find(|v| v["fields"]["message"] == message)
            .unwrap_or_else(|| panic!("no {message:?} line in:\n{log}"))
    };
    let evaluated = &logged("evaluated: allowed")["span"];
    assert_eq!(
        evaluated["temporalWorkflowID"],
        req.ticket_id.workflow_id(),
        "{evaluated}"
    );
    assert_eq!(
        evaluated["otel.name"], "RunActivity:evaluate",
        "{evaluated}"
    );
    assert!(
        evaluated["temporalRunID"]
            .as_str()
            .is_some_and(|r| !r.is_empty()),
        "{evaluated}"
    );
    // The lease call that created it ran for the ticket: its line names the ticket.
    let created = &logged("assignment created")["span"];
    assert_eq!(
        created["otel.name"], "RunActivity:acquire_lease",
        "{created}"
    );
    assert_eq!(
        created["temporalWorkflowID"],
        req.ticket_id.workflow_id(),
        "{created}"
    );
}
