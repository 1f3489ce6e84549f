//! Chat for jit.
//!
//! - [`slack`]: v0 request signatures ([`slack::verify`], [`slack::ReplayGuard`]), the Web API
//!   client ([`slack::SlackClient`], configurable base URL), Block Kit rendering with escaping.
//! - [`teams`]: Adaptive Cards, the Workflows webhook client, signed single-use vote links.
//!
//! Secrets (bot token, signing secret, webhook URL, link key) are passed in by the caller,
//! read from the environment or files; nothing here logs them.

pub mod slack;
pub mod teams;

pub use jit_domain::{Card, ChatMessage};
