//! CloudTrail for jit's session audit (issue 16): what a person did with the access a
//! ticket gave, read from the organization trail's log files.
//!
//! - [`record`]: the fields of a CloudTrail record jit reads ([`Record`]), and who made it
//!   ([`Record::actor`]: account, Identity Center role, role session name).
//! - [`read`]: one log file (`*.json.gz`, `{"Records": [...]}`) as a stream — gzip decoded as
//!   it is read, one record in memory at a time; a record that does not parse is counted, not
//!   fatal ([`read::each_record`]).
//! - [`window`]: a ticket target's access window ([`Window`]) and whether a record belongs to
//!   it: the same account, the permission set's `AWSReservedSSO_<set>_<suffix>` role, one of
//!   the principal's session names, within the window. Everyone else's events, other
//!   permission sets, other accounts and other times are never attributed.
//! - [`summary`]: the session summary ([`Summary`], `jit_domain::SessionSummary`) counted
//!   record by record: events by service, reads and writes, denied calls, console sign-ins,
//!   notable actions, first and last event, and what could not be read.
//! - [`scan`]: a ticket's windows over a log file ([`Scan`]): records that cannot be its
//!   (no Identity Center role named) passed over unparsed, the rest tested, counted, and
//!   handed on as CloudTrail wrote them.
//! - [`prefix`]: which key prefixes of the trail's bucket a window needs ([`TrailLayout`]):
//!   its accounts, regions and days, never the whole bucket.
//! - [`cutoff`]: the service-control-policy statements that end a principal's sessions
//!   issued before its access ended ([`Cutoff`]), self-describing (their `Sid` says when they
//!   are stale), merged, pruned and packed under AWS's size limit ([`cutoff::pack`]).
//!
//! Pure apart from reading the bytes it is given: listing and fetching the files (S3) and
//! writing policies (Organizations) is the worker's, through `jit-aws`.

pub mod cutoff;
pub mod prefix;
pub mod read;
pub mod record;
pub mod scan;
pub mod split;
pub mod summary;
pub mod window;

pub use cutoff::Cutoff;
pub use prefix::TrailLayout;
pub use read::{FileCounts, ReadError, each_raw, each_record};
pub use record::{Actor, Record};
pub use scan::Scan;
pub use summary::{Summary, count};
pub use window::Window;
