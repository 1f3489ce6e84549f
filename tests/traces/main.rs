//! One trace from a caller's gRPC call to the AWS request it caused: a recording OTLP
//! receiver, this process as jit-api exporting to it, and a worker process exporting to it.
//! The caller sends `traceparent`; the AWS `CreateAccountAssignment` of the grant must descend
//! from it through the API's server span, the ticket's workflow start and run, and the lease
//! call that creates it; the lease the call started is in the same trace. A test binary of its
//! own: the tracer provider is process-global.

#![allow(unreachable_pub)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jit_devstack::{ManagedChild, OtlpReceiver, ReceivedSpan, TestStack};
use jit_proto::v1 as pb;
use jit_proto::v1::ticket_service_client::TicketServiceClient;

const POLICY: &str = r#"
eligibility:
  - { name: engineers, groups: [engineers], accounts: ["*"], permission_sets: [ReadOnly] }
plans:
  - name: standard
    accounts: ["*"]
    permission_sets: ["*"]
    steps:
      - { name: sre, groups: [sre], quorum: 1 }
    max_duration: 12h
    max_total: 24h
    approval_timeout: 24h
"#;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

fn as_user<T>(token: &str, msg: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    r
}

/// The names from `span` up to the trace's root, and the root's parent id.
fn ancestry(spans: &HashMap<String, ReceivedSpan>, span: &ReceivedSpan) -> (Vec<String>, String) {
    let mut names = vec![span.name.clone()];
    let mut at = span;
    while let Some(parent) = spans.get(&at.parent_span_id) {
        names.push(parent.name.clone());
        at = parent;
    }
    names.reverse();
    (names, at.parent_span_id.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_runs_from_the_callers_grpc_call_to_the_aws_request() {
    let otlp = OtlpReceiver::start().await.expect("the receiver starts");
    // This process runs the API: its spans go to the receiver too.
    let traces = jit_temporal::traces::init_traces("jit-api", &otlp.endpoint).expect("traces on");
    let stack = TestStack::shared();
    let aws = jit_e2e::sandbox(&stack.sandbox_url, &stack.region).await;
    let account = aws.create_account("traces").await.expect("account");
    let task_queue = "jit-traces";
    let policy_file = stack.logs.join("policy-traces.yaml");
    std::fs::write(&policy_file, POLICY).expect("policy written");

    let setup = jit_e2e::WorkerSetup {
        temporal_address: &stack.temporal_address,
        namespace: &stack.namespace,
        task_queue,
        aws_url: &stack.sandbox_url,
        region: &stack.region,
        policy_file: &policy_file,
        rust_log: "info,temporalio_sdk_core=warn",
    };
    let env = [
        ("JIT_OTLP_ENDPOINT".to_owned(), otlp.endpoint.clone()),
        ("OTEL_BSP_SCHEDULE_DELAY".to_owned(), "100".to_owned()),
        ("JIT_LOG_FORMAT".to_owned(), "json".to_owned()),
    ];
    let cmd = jit_e2e::worker_command(env!("CARGO_BIN_EXE_e2e-worker"), &setup, &env);
    let _worker = ManagedChild::spawn("worker", cmd, &stack.logs.join("worker-traces.log"), true)
        .expect("the worker starts");

    let api = jit_api::Api::build(jit_e2e::api_settings(
        &stack.temporal_address,
        &stack.namespace,
        task_queue,
        &policy_file,
    ))
    .await
    .expect("the API starts");
    let addr = api.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(api.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    let mut c = TicketServiceClient::connect(format!("http://{addr}"))
        .await
        .expect("connected");

    // The caller's call, in the caller's trace.
    let mut create = as_user(
        "dev:bob",
        jit_e2e::create_request("traced-1", &account, "ReadOnly", 3600, "INC-7: traced"),
    );
    create.metadata_mut().insert(
        "traceparent",
        format!("00-{TRACE_ID}-{CALLER_SPAN}-01").parse().unwrap(),
    );
    let ticket = c
        .create_ticket(create)
        .await
        .expect("created")
        .into_inner()
        .ticket
        .expect("a ticket");
    let id = ticket.ticket_id.clone();
    let deadline = Instant::now() + Duration::from_secs(60);
    // carol approves (her own trace), once the ticket waits for her.
    loop {
        let r = c
            .approve_ticket(as_user(
                "dev:carol",
                pb::ApproveTicketRequest {
                    ticket_id: id.clone(),
                    comment: String::new(),
                },
            ))
            .await;
        if r.is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "never approvable: {r:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    loop {
        let t = c
            .get_ticket(as_user(
                "dev:bob",
                pb::GetTicketRequest {
                    ticket_id: id.clone(),
                },
            ))
            .await
            .expect("get")
            .into_inner()
            .ticket
            .unwrap_or_default();
        if t.status == pb::TicketStatus::Active as i32 {
            break;
        }
        assert!(Instant::now() < deadline, "never active: {t:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A workflow's run span is exported when the run ends: bob is done, so the ticket and its
    // lease finish.
    c.relinquish_ticket(as_user(
        "dev:bob",
        pb::RelinquishTicketRequest {
            ticket_id: id.clone(),
            reason: "done".into(),
        },
    ))
    .await
    .expect("bob relinquishes");

    // The worker exports every 100 ms; the API is flushed here.
    traces.flush();
    let wanted = "AWS SSO Admin CreateAccountAssignment";
    let ended = ["RunWorkflow:TicketWorkflow", "RunWorkflow:AssignmentLease"];
    let spans = loop {
        let spans: Vec<ReceivedSpan> = otlp
            .spans()
            .into_iter()
            .filter(|s| s.trace_id == TRACE_ID)
            .collect();
        let has = |n: &str| spans.iter().any(|s| s.name == n);
        if has(wanted) && ended.iter().all(|n| has(n)) {
            break spans;
        }
        assert!(
            Instant::now() < deadline,
            "no {wanted} span in the caller's trace: {:#?}",
            spans.iter().map(|s| &s.name).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let by_id: HashMap<String, ReceivedSpan> = spans
        .iter()
        .map(|s| (s.span_id.clone(), s.clone()))
        .collect();
    let create_aws = spans.iter().find(|s| s.name == wanted).unwrap();
    let (chain, root_parent) = ancestry(&by_id, create_aws);
    assert_eq!(
        root_parent, CALLER_SPAN,
        "the trace hangs off the caller's span: {chain:?}"
    );
    eprintln!(
        "the grant's AWS call, from the caller's span down:\n  {}",
        chain.join("\n  ")
    );
    let expected = [
        "jit.v1.TicketService/CreateTicket",
        "StartWorkflow:TicketWorkflow",
        "RunWorkflow:TicketWorkflow",
        "StartActivity:acquire_lease",
        "RunActivity:acquire_lease",
        wanted,
    ];
    let mut at = 0;
    for name in &chain {
        if at < expected.len() && name == expected[at] {
            at += 1;
        }
    }
    assert_eq!(at, expected.len(), "{expected:?} in order within {chain:?}");
    // The lease the call started (its first holder in the start) is in the same trace.
    let lease = spans
        .iter()
        .find(|s| s.name == "RunWorkflow:AssignmentLease")
        .expect("the lease is traced");
    let (chain, _) = ancestry(&by_id, lease);
    let expected = [
        "RunActivity:acquire_lease",
        "StartWorkflow:AssignmentLease",
        "RunWorkflow:AssignmentLease",
    ];
    let mut at = 0;
    for name in &chain {
        if at < expected.len() && name == expected[at] {
            at += 1;
        }
    }
    assert_eq!(at, expected.len(), "{expected:?} in order within {chain:?}");
    // The ticket's evaluation is in the same trace, under the workflow's run.
    let evaluate = spans
        .iter()
        .find(|s| s.name == "RunActivity:evaluate")
        .expect("the evaluation is traced");
    let (chain, _) = ancestry(&by_id, evaluate);
    assert!(
        chain.contains(&"RunWorkflow:TicketWorkflow".to_owned()),
        "{chain:?}"
    );
    // Both processes took part.
    let services: std::collections::BTreeSet<&str> =
        spans.iter().map(|s| s.service.as_str()).collect();
    assert!(
        services.contains("jit-api") && services.contains("jit-worker"),
        "{services:?}"
    );
    // The grant's log line names the trace it ran in.
    let log = std::fs::read_to_string(stack.logs.join("worker-traces.log")).expect("worker log");
    let line = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["fields"]["message"] == "assignment created")
        .unwrap_or_else(|| panic!("no grant line in:\n{log}"));
    assert_eq!(line["fields"]["trace_id"], TRACE_ID, "{line}");
    let _ = stop.send(());
    traces.shutdown();
}
