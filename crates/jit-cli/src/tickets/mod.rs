//! The ticket commands: `jit request | status | list | pending | approve | deny | delegate |
//! extend | done | revoke | cancel | watch | whoami | catalog`, over gRPC.
//!
//! The server and token come from `--server` / `--token`, else `JIT_SERVER` / `JIT_TOKEN`,
//! else the config file (`$JIT_CLI_CONFIG`, default `~/.config/jit/cli.yaml`: `server:`,
//! `token:`, `ca_file:`), else the local stack (`http://127.0.0.1:50051`, no token). An
//! `https://` server is verified with `--ca-file` (`JIT_CA_FILE`) or the system's roots.
//! Without a token from those, the login `jit login` saved ([`login`]) is used.
//!
//! - [`args`]: the command line; [`session`]: the connection and how refusals read;
//!   `run`: the commands; `watch`: following a ticket live; `show`: tables, lines, JSON.

mod args;
mod login;
mod run;
mod session;
mod show;
mod watch;

pub use args::{Connect, Output, TicketCommand};
pub use run::run;
pub use show::relative;
