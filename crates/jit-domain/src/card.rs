//! [`Card`]: what a chat message says about a ticket, built from the ticket alone (so the
//! workflow can build it deterministically), rendered later for Slack or Teams.

use serde::{Deserialize, Serialize};

use crate::approval::Decision;
use crate::phase::Phase;
use crate::ticket::Ticket;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Card {
    pub ticket_id: String,
    /// One line: what is asked, or what happened.
    pub title: String,
    /// Label and value pairs: requester, principal, targets, duration, justification, status.
    pub fields: Vec<(String, String)>,
    /// Further lines: votes (who, as whom), the end.
    pub lines: Vec<String>,
    /// Whether the card carries vote buttons (while the ticket waits for votes).
    pub actions: bool,
}

/// A chat message that was posted, to update it in place later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub channel: String,
    pub ts: String,
}

impl Card {
    /// Plain text, for logs and clients without blocks.
    pub fn fallback(&self) -> String {
        let mut s = self.title.clone();
        for (k, v) in &self.fields {
            s.push_str(&format!("\n{k}: {v}"));
        }
        for l in &self.lines {
            s.push_str(&format!("\n{l}"));
        }
        s
    }
}

impl Ticket {
    /// The ticket as a chat card: its request, status, votes; buttons while it waits.
    pub fn card(&self) -> Card {
        let r = &self.request;
        let targets = if self.targets.is_empty() {
            r.targets
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        } else {
            self.targets
                .iter()
                .map(|t| {
                    format!(
                        "{} in {} ({})",
                        t.target.permission_set, t.account_name, t.target.account
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let status = match (self.phase, &self.reason) {
            (Phase::Active, _) => match self.expires_at {
                Some(e) => format!("Active until {e}"),
                None => "Active".into(),
            },
            (p, Some(reason)) if p.is_terminal() => format!("{p}: {reason}"),
            (p, _) => p.to_string(),
        };
        let mut fields = vec![
            ("Ticket".to_owned(), r.ticket_id.to_string()),
            ("Requester".to_owned(), r.requester.to_string()),
            ("For".to_owned(), r.principal.to_string()),
            ("Access".to_owned(), targets),
            ("Duration".to_owned(), format!("{:#}", r.duration)),
            ("Why".to_owned(), r.justification.to_string()),
            ("Status".to_owned(), status),
        ];
        if r.break_glass {
            fields.push((
                "Break-glass".to_owned(),
                "access first, approval after".into(),
            ));
        }
        let mut lines = Vec::new();
        if let Some(a) = &self.approval {
            for v in &a.votes {
                let verb = match v.decision {
                    Decision::Approve => "approved",
                    Decision::Deny => "denied",
                };
                let step = a.steps.get(v.step).map(|s| s.name.as_str()).unwrap_or("");
                if v.voter == v.cast_by {
                    lines.push(format!("{} {verb} (step {step})", v.voter));
                } else {
                    lines.push(format!("{} {verb} as {} (step {step})", v.cast_by, v.voter));
                }
            }
        }
        let title = format!(
            "{} asks for {} for {}{}",
            r.requester,
            if r.principal.user() == Some(&r.requester) {
                "access".to_owned()
            } else {
                format!("access for {}", r.principal)
            },
            format_args!("{:#}", r.duration),
            if r.break_glass { " (BREAK-GLASS)" } else { "" }
        );
        Card {
            ticket_id: r.ticket_id.to_string(),
            title,
            fields,
            lines,
            actions: self.phase == Phase::PendingApproval
                || (self.ratify_by.is_some()
                    && self.approval.as_ref().is_some_and(|a| a.outcome.is_none())),
        }
    }
}
