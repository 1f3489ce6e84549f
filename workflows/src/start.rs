//! How a ticket's workflow is started: a pure function of the request, so every starter
//! (the API, the demo, the tests) starts tickets the same way.

use jit_domain::TicketRequest;
use temporalio_client::{WorkflowIdConflictPolicy, WorkflowIdReusePolicy, WorkflowStartOptions};

use crate::search_attributes;

/// Start options for `req` on `task_queue`: workflow id `ticket-<id>` (a ticket id is never
/// reused: starting it again fails instead of creating a second ticket), the UI summary and
/// details, and the initial search attributes.
pub fn start_options(req: &TicketRequest, task_queue: &str) -> WorkflowStartOptions {
    let mut what: Vec<String> = req.targets.iter().map(ToString::to_string).collect();
    if let Some(b) = &req.bundle {
        what.push(format!("bundle {b}"));
    }
    let what = what.join(", ");
    let summary = format!(
        "{}{what} for {} ({:#})",
        if req.break_glass { "BREAK-GLASS: " } else { "" },
        req.principal,
        req.duration
    );
    let mut details = format!(
        "**Requester:** {}\n\n**Principal:** {}\n\n**Targets:** {what}\n\n**Duration:** {:#}\n\n**Justification:** {}",
        req.requester, req.principal, req.duration, req.justification
    );
    if let Some(s) = req.start_at {
        details.push_str(&format!("\n\n**Starts:** {s}"));
    }
    WorkflowStartOptions::new(task_queue, req.ticket_id.workflow_id())
        .id_reuse_policy(WorkflowIdReusePolicy::RejectDuplicate)
        .id_conflict_policy(WorkflowIdConflictPolicy::Fail)
        .static_summary(summary)
        .static_details(details)
        .search_attributes(search_attributes::initial(req))
        .build()
}
