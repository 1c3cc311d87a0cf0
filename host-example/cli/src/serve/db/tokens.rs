//! Each OAuth connection's token pair, and the seed it came from: a
//! fingerprint of the operator's refresh token, so a new one in the
//! environment is told from the one a rotated pair descends from.

use super::open::{from_sql_ms, to_sql_ms, Db, DbResult};
use crate::credentials::Tokens;
use crate::secret::Secret;
use rusqlite::{params, OptionalExtension};

/// A stored pair and the seed it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredPair {
    pub tokens: Tokens,
    pub seed: String,
}

impl Db {
    /// The stored pair of `connection`.
    pub fn tokens(&self, connection: &str) -> DbResult<Option<StoredPair>> {
        Ok(self
            .write()?
            .query_row(
                "SELECT access_token, refresh_token, expires_at_ms, scopes, seed FROM tokens WHERE connection = ?1",
                params![connection],
                |r| {
                    let scopes: String = r.get(3)?;
                    Ok(StoredPair {
                        tokens: Tokens {
                            access_token: Secret::new(r.get::<_, String>(0)?),
                            refresh_token: Secret::new(r.get::<_, String>(1)?),
                            expires_at_ms: r.get::<_, Option<i64>>(2)?.map(from_sql_ms),
                            scopes: scopes.split_whitespace().map(str::to_string).collect(),
                        },
                        seed: r.get(4)?,
                    })
                },
            )
            .optional()?)
    }

    /// Stores a pair (a rotation, or a seed from the environment), durably,
    /// before returning.
    pub fn put_tokens(&self, connection: &str, t: &Tokens, seed: &str, now_ms: u64) -> DbResult<()> {
        self.write()?.execute(
            "INSERT INTO tokens (connection, access_token, refresh_token, expires_at_ms, scopes, seed, updated_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (connection) DO UPDATE SET access_token = ?2, refresh_token = ?3, expires_at_ms = ?4,
                 scopes = ?5, seed = ?6, updated_ms = ?7",
            params![
                connection,
                t.access_token.expose(),
                t.refresh_token.expose(),
                t.expires_at_ms.map(to_sql_ms),
                t.scopes.join(" "),
                seed,
                to_sql_ms(now_ms)
            ],
        )?;
        Ok(())
    }
}
