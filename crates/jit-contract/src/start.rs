//! How a ticket's workflow is started: a pure function of the request, so every starter
//! (the API, the demo, the tests) starts tickets the same way. The client side turns a
//! [`TicketStart`] into the SDK's start options (id reuse rejected: a ticket id is never
//! started twice).

use jit_domain::TicketRequest;
use temporalio_common::search_attributes::SearchAttributes;

use crate::search_attributes;

/// Everything a ticket starts with besides its input.
#[derive(Debug, Clone)]
pub struct TicketStart {
    /// `ticket-<id>`.
    pub workflow_id: String,
    /// One line for the Temporal UI's list.
    pub summary: String,
    /// Markdown for the Temporal UI's details (never the justification: not encrypted).
    pub details: String,
    pub search_attributes: SearchAttributes,
}

/// The start of the ticket `req`.
pub fn ticket(req: &TicketRequest) -> TicketStart {
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
    // The UI's summary and details are user metadata, which the SDK does not pass through
    // the payload codec: they hold only what the search attributes already expose (user
    // names, targets), never the justification (read it in the input, through the codec).
    let mut details = format!(
        "**Requester:** {}\n\n**Principal:** {}\n\n**Targets:** {what}\n\n**Duration:** {:#}",
        req.requester, req.principal, req.duration
    );
    if let Some(s) = req.start_at {
        details.push_str(&format!("\n\n**Starts:** {s}"));
    }
    TicketStart {
        workflow_id: req.ticket_id.workflow_id(),
        summary,
        details,
        search_attributes: search_attributes::initial(req),
    }
}
