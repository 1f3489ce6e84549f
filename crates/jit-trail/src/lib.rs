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
//! - [`summary`]: the session summary ([`Summary`]): events by service, reads and writes,
//!   denied calls, console sign-ins, notable actions, first and last event, and what could
//!   not be read.
//!
//! Pure apart from reading the bytes it is given: listing and fetching the files (S3) is the
//! worker's, through `jit-aws`.

pub mod read;
pub mod record;
pub mod summary;
pub mod window;

pub use read::{ReadError, each_record};
pub use record::{Actor, Record};
pub use summary::Summary;
pub use window::Window;
