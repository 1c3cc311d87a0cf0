//! Each connection's state blobs, one per slot (`new-posts`, `tags`,
//! `stats`): opaque to the service, written only with the run that made
//! them ([`super::Db::finish`]).

use super::open::{Db, DbResult};
use rusqlite::{params, OptionalExtension};

impl Db {
    /// The blob of `slot`, if a run committed one.
    pub fn state(&self, connection: &str, slot: &str) -> DbResult<Option<Vec<u8>>> {
        Ok(self
            .write()?
            .query_row(
                "SELECT blob FROM state WHERE connection = ?1 AND slot = ?2",
                params![connection, slot],
                |r| r.get(0),
            )
            .optional()?)
    }
}
