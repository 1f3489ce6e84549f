//! What the `announce` activity is told: an [`Announcement`] of a [`ChatEvent`] with the
//! ticket's [`Card`], who may vote, who gets a direct message, and the messages to update.

use jit_domain::{Card, ChatMessage, NotifyRoute, UserName};
use serde::{Deserialize, Serialize};

/// What happened to a ticket, for chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatEvent {
    /// Approvers: a vote is wanted (posts the vote messages).
    AwaitingApproval,
    /// Something changed (a vote, a delegation): the messages are updated.
    Updated,
    Approved,
    Active,
    ExpiringSoon,
    Ended,
    /// Someone was handed a vote.
    Delegated,
    BreakGlass,
}

impl ChatEvent {
    /// The line a message about this event starts with.
    pub fn headline(self) -> &'static str {
        match self {
            Self::AwaitingApproval => "Your approval is requested",
            Self::Updated => "Updated",
            Self::Approved => "Approved",
            Self::Active => "Access is active",
            Self::ExpiringSoon => "Access expires soon",
            Self::Ended => "Ended",
            Self::Delegated => "A vote was delegated to you",
            Self::BreakGlass => "BREAK-GLASS access granted",
        }
    }
}

/// One announcement (the workflow gives each its own activity id: one per ticket and event).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announcement {
    pub event: ChatEvent,
    pub card: Card,
    /// Who may vote now (for the vote messages and links).
    pub approvers: Vec<UserName>,
    /// Who gets a direct message about this event (requester, delegate).
    pub to: Vec<UserName>,
    pub route: NotifyRoute,
    /// The ticket's messages so far, updated in place.
    pub messages: Vec<ChatMessage>,
}
