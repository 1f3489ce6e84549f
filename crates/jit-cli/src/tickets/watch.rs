//! Following a ticket until it ends (or, after `request --wait`, until access is active):
//! a live spinner line on a terminal, a line per change otherwise, or JSON lines.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use jit_proto::v1 as pb;

use super::args::Output;
use super::session::{Session, explain};
use super::show::{exit_for, live_line, status_of, ticket_json};

/// Follows a ticket: a live line on a terminal (a line per change otherwise, or JSON lines);
/// with `until_active`, stops once access is active.
pub(super) async fn watch(
    s: &mut Session,
    ticket: String,
    until_active: bool,
) -> anyhow::Result<ExitCode> {
    let mut stream = s
        .client
        .watch_ticket(s.req(pb::WatchTicketRequest { ticket_id: ticket })?)
        .await
        .map_err(explain)?
        .into_inner();
    let live = (s.output == Output::Text && std::io::stdout().is_terminal()).then(|| {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    });
    let mut last: Option<pb::Ticket> = None;
    while let Some(r) = stream.message().await.map_err(explain)? {
        let t = r.ticket.unwrap_or_default();
        if s.output == Output::Json {
            println!("{}", ticket_json(&t));
        } else {
            let line = live_line(&t);
            match &live {
                Some(bar) => bar.set_message(line),
                None => println!("{line}"),
            }
        }
        let active = status_of(&t) == pb::TicketStatus::Active;
        last = Some(t);
        if until_active && active {
            break;
        }
    }
    if let Some(bar) = live {
        bar.finish();
    }
    let Some(t) = last else {
        anyhow::bail!("the server sent nothing");
    };
    Ok(exit_for(&t))
}
