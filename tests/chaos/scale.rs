//! Scale-out: three workers and two API replicas on one server, behind a proxy that keeps
//! AWS's limits. The workers share a fleet budget (`JIT_AWS_FLEET_REQUESTS_PER_SECOND`) by
//! counting each other, not by a hand-set share. Tickets come in through both APIs, spread
//! over the workers, one worker is SIGKILLed mid-flight, and every ticket still ends
//! correctly with nothing throttled and nothing left in AWS.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use jit_devstack::IDENTITY_CENTER;
use jit_domain::{AccountId, Phase};
use jit_proto::v1 as pb;
use jit_proto::v1::ticket_service_client::TicketServiceClient;
use temporalio_client::WorkflowFetchHistoryOptions;
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;
use tonic::transport::Channel;

use crate::harness::{AWS, KEYS, Stack};

const TICKETS: usize = 36;
const FLEET_RPS: f64 = 18.0;
fn as_user<T>(who: &str, msg: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.metadata_mut().insert(
        "authorization",
        format!("Bearer dev:{who}").parse().expect("header"),
    );
    r
}

async fn client(port: u16) -> TicketServiceClient<Channel> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(c) = TicketServiceClient::connect(format!("http://127.0.0.1:{port}")).await {
            return c;
        }
        assert!(
            Instant::now() < deadline,
            "jit-api on {port} never answered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_all(stack: &Stack, phase: Phase, n: usize, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let got = if phase == Phase::Active {
            stack.in_phase(phase).await
        } else {
            stack.closed("TicketWorkflow").await
        };
        if got == n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{got} of {n} {phase:?}\n{}",
            stack.worker_log_tail()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

pub async fn run() {
    let env = vec![(
        "JIT_AWS_FLEET_REQUESTS_PER_SECOND".to_owned(),
        FLEET_RPS.to_string(),
    )];
    let mut stack = Stack::start_with_env("scale", 3, env).await;
    stack.proxy.enforce(AWS);
    // Each worker finds the others and takes a third of the budget.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !(0..3).all(|i| stack.worker_log(i).contains("workers=3")) {
        assert!(
            Instant::now() < deadline,
            "the workers never counted each other\n{}",
            stack.worker_log_tail()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    for i in 0..3 {
        let log = stack.worker_log(i);
        let line = log
            .lines()
            .rfind(|l| l.contains("AWS rate share"))
            .unwrap_or_default();
        assert!(
            line.contains("share=6") && line.contains("fleet=18"),
            "{line}"
        );
    }
    let (_a0, p0) = stack.start_api("api-0");
    let (_a1, p1) = stack.start_api("api-1");
    let apis = [client(p0).await, client(p1).await];

    let mut accounts: Vec<AccountId> = Vec::new();
    for n in 0..TICKETS.div_ceil(KEYS.len()) {
        accounts.push(stack.new_account(&format!("scale-{n}")).await);
    }
    let before = stack.proxy.calls().len();
    let mut tickets = Vec::new();
    for i in 0..TICKETS {
        let (who, ps) = KEYS[i % KEYS.len()];
        let account = &accounts[i / KEYS.len()];
        let msg = jit_e2e::create_request(
            &format!("scale-{i}"),
            account.as_str(),
            ps,
            1800,
            "scale-out test",
        );
        let t = apis[i % 2]
            .clone()
            .create_ticket(as_user(who, msg))
            .await
            .expect("created through either API")
            .into_inner()
            .ticket
            .expect("a ticket");
        tickets.push((who, t.ticket_id));
        // A worker dies a third of the way in, with work in flight.
        if i == TICKETS / 3 {
            stack.kill_worker(1);
        }
    }
    wait_all(&stack, Phase::Active, TICKETS, Duration::from_secs(300)).await;

    // Spread: the tickets' workflow tasks were completed by more than one worker.
    let mut identities = BTreeSet::new();
    for (_, id) in &tickets {
        let h = stack
            .client
            .get_workflow_handle::<jit_contract::ticket::Workflow>(format!("ticket-{id}"));
        let events = h
            .fetch_history(WorkflowFetchHistoryOptions::default())
            .into_events()
            .await
            .expect("history");
        for e in events {
            if let Some(Attributes::WorkflowTaskCompletedEventAttributes(a)) = e.attributes {
                identities.insert(a.identity);
            }
        }
    }
    assert!(
        identities.len() >= 2,
        "the tickets ran on one worker only: {identities:?}"
    );

    // Ended through the other API than the one that took them.
    for (i, (who, id)) in tickets.iter().enumerate() {
        apis[(i + 1) % 2]
            .clone()
            .relinquish_ticket(as_user(
                who,
                pb::RelinquishTicketRequest {
                    ticket_id: id.clone(),
                    reason: "done".into(),
                },
            ))
            .await
            .expect("relinquished");
    }
    wait_all(
        &stack,
        Phase::Relinquished,
        TICKETS,
        Duration::from_secs(300),
    )
    .await;
    for (who, id) in &tickets {
        let t = apis[0]
            .clone()
            .get_ticket(as_user(
                who,
                pb::GetTicketRequest {
                    ticket_id: id.clone(),
                },
            ))
            .await
            .expect("the owner reads it")
            .into_inner()
            .ticket
            .unwrap_or_default();
        assert_eq!(t.status, pb::TicketStatus::Relinquished as i32, "{id}");
        let h = stack
            .client
            .get_workflow_handle::<jit_contract::ticket::Workflow>(format!("ticket-{id}"));
        let o = stack.outcome(&h, Duration::from_secs(60)).await;
        assert_eq!(o.phase, Phase::Relinquished, "{id}: {o:?}");
    }
    stack.assert_nothing_assigned(&accounts).await;
    let calls: Vec<_> = stack.proxy.calls()[before..]
        .iter()
        .filter(|c| c.service == IDENTITY_CENTER)
        .cloned()
        .collect();
    let throttled = calls.iter().filter(|c| c.limited).count();
    eprintln!(
        "scale-out: {TICKETS} tickets through 2 APIs on 3 workers (one killed), {} Identity Center requests, throttled {throttled}, workers seen {}",
        calls.len(),
        identities.len()
    );
    assert_eq!(throttled, 0, "the fleet kept AWS's limits");
    let _ = &mut stack;
}
