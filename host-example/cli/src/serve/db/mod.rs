//! The service's SQLite file: opening and guarding it here, the schema in
//! numbered migrations (`migrations/*.sql`), and the queries by concern
//! (state, tokens, runs, queue, events, health, schedule, overview). Rows
//! come out as types; how they are shown is the view's business.
//!
//! Invariants:
//! - One file, mode 0600 (SQLite gives its `-wal` and `-shm` files the same
//!   mode).
//! - A run's outcome, its new state and its queue changes commit in one
//!   transaction ([`Db::finish`]): a poll's state never moves past posts
//!   that are not queued, and a post leaves the queue only with the
//!   `tag-sync` that applied it.
//! - A file that is not this program's database (damaged, foreign, or from
//!   a newer version) is refused before anything is written to it.
//! - One service per file: a lock on `<file>.lock`, held until the process
//!   ends (a crash releases it).
//! - Two connections: the writer, which the scheduler and the runs use, and
//!   a reader for the HTTP surface and `status`. In WAL mode the reader sees
//!   the last commit and is never held up by a run's transaction.

mod audit;
mod events;
mod followups;
mod health;
mod installs;
mod open;
mod overview;
mod queue;
mod runs;
mod schedule;
mod state;
mod tokens;
mod types;

pub use events::EVENT_MEMORY_MS;
pub use followups::FollowUp;
pub use installs::{Agency, Control, Install, InstallState, Said, WebhookEffects, INSTALL_SEED};
pub use open::{Db, DbError, DbResult, SCHEMA_VERSION};
pub use overview::Overview;
pub use queue::QueuedPost;
pub use runs::{Finish, QueuedEvent, RunRow};
pub use tokens::StoredPair;
