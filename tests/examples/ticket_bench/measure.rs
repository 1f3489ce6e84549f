//! What a run measures besides time: processes' CPU and memory from `/proc`, and the engine's
//! work from the histories of every workflow on the run's task queue.

use std::collections::BTreeMap;

use temporalio_client::Client;
use temporalio_common::protos::temporal::api::enums::v1::EventType;
use temporalio_common::protos::temporal::api::history::v1::HistoryEvent;
use temporalio_common::protos::temporal::api::workflowservice::v1::{
    GetWorkflowExecutionHistoryRequest, ListWorkflowExecutionsRequest,
};

/// User + system CPU seconds of process `pid` so far (0 if it is gone).
pub(crate) fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces) in parentheses.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line: 11 and 12 after the state.
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // Linux reports these in USER_HZ, which is 100 on every architecture it runs on.
    (ticks(11) + ticks(12)) / 100.0
}

/// A `/proc/<pid>/status` figure in MB (`VmHWM`: the peak resident set; `VmRSS`: now).
pub(crate) fn memory_mb(pid: u32, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The `p` quantile (0..=1) of `sorted` values.
pub(crate) fn quantile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// The engine's work on one task queue: events and billable actions by workflow type, and
/// one ticket's events by type.
#[derive(Debug, Default, Clone)]
pub(crate) struct EngineWork {
    /// Workflow type -> (executions, events).
    pub by_type: BTreeMap<String, (usize, usize)>,
    pub events: usize,
    pub actions: usize,
    /// Workflow tasks completed (each a round trip worker <-> server).
    pub workflow_tasks: usize,
    /// The histories' size, events encoded as the server sends them (protobuf bytes).
    pub history_bytes: usize,
    /// The events of the first ticket-like workflow, counted by type.
    pub one_ticket: BTreeMap<String, usize>,
}

/// The name of an event type without its prefix (`TimerStarted`).
pub(crate) fn event_name(e: &HistoryEvent) -> String {
    EventType::try_from(e.event_type)
        .map(|t| t.as_str_name().trim_start_matches("EVENT_TYPE_").to_owned())
        .unwrap_or_else(|_| e.event_type.to_string())
}

/// Whether an event is a billable action by Temporal Cloud's rules: a workflow started (or
/// continued as new), a signal or update received, an activity scheduled or retried, a timer,
/// a search-attribute upsert, a marker (local activities, side effects, patches), a child
/// workflow started, an external signal or cancellation sent.
fn billable(e: &HistoryEvent) -> usize {
    use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;
    match EventType::try_from(e.event_type) {
        Ok(
            EventType::WorkflowExecutionStarted
            | EventType::WorkflowExecutionSignaled
            | EventType::WorkflowExecutionUpdateAccepted
            | EventType::ActivityTaskScheduled
            | EventType::TimerStarted
            | EventType::UpsertWorkflowSearchAttributes
            | EventType::MarkerRecorded
            | EventType::StartChildWorkflowExecutionInitiated
            | EventType::SignalExternalWorkflowExecutionInitiated
            | EventType::RequestCancelExternalWorkflowExecutionInitiated,
        ) => 1,
        // Retries: each attempt after the first is an action of its own.
        Ok(EventType::ActivityTaskStarted) => match &e.attributes {
            Some(Attributes::ActivityTaskStartedEventAttributes(a)) => {
                usize::try_from(a.attempt.saturating_sub(1)).unwrap_or(0)
            }
            _ => 0,
        },
        _ => 0,
    }
}

/// Reads every workflow on `task_queue` and its whole history. `ticket_type` names the
/// workflow whose first execution's events are broken down.
pub(crate) async fn engine_work(
    client: &Client,
    namespace: &str,
    task_queue: &str,
    ticket_type: &str,
) -> anyhow::Result<EngineWork> {
    let mut svc = client.connection().workflow_service();
    let mut executions = Vec::new();
    let mut token = Vec::new();
    loop {
        let page = svc
            .list_workflow_executions(tonic::Request::new(ListWorkflowExecutionsRequest {
                namespace: namespace.to_owned(),
                page_size: 1000,
                next_page_token: token,
                query: format!("TaskQueue = '{task_queue}'"),
            }))
            .await?
            .into_inner();
        executions.extend(page.executions);
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let mut work = EngineWork::default();
    for x in executions {
        let ty = x.r#type.map(|t| t.name).unwrap_or_default();
        let Some(execution) = x.execution else {
            continue;
        };
        let mut events = Vec::new();
        let mut token = Vec::new();
        loop {
            let page = svc
                .get_workflow_execution_history(tonic::Request::new(
                    GetWorkflowExecutionHistoryRequest {
                        namespace: namespace.to_owned(),
                        execution: Some(execution.clone()),
                        next_page_token: token,
                        maximum_page_size: 1000,
                        ..Default::default()
                    },
                ))
                .await?
                .into_inner();
            events.extend(page.history.map(|h| h.events).unwrap_or_default());
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        let e = work.by_type.entry(ty.clone()).or_default();
        e.0 += 1;
        e.1 += events.len();
        work.events += events.len();
        work.history_bytes += events
            .iter()
            .map(prost::Message::encoded_len)
            .sum::<usize>();
        work.actions += events.iter().map(billable).sum::<usize>();
        work.workflow_tasks += events
            .iter()
            .filter(|e| e.event_type == EventType::WorkflowTaskCompleted as i32)
            .count();
        if ty == ticket_type && work.one_ticket.is_empty() {
            for ev in &events {
                *work.one_ticket.entry(event_name(ev)).or_default() += 1;
            }
        }
    }
    Ok(work)
}
