//! Each OAuth connection's token pair, and the seed it came from: a
//! fingerprint of the operator's refresh token, so a new one in the
//! environment is told from the one a rotated pair descends from.
//!
//! The two tokens are sealed ([`crate::serve::seal`]) whenever the service
//! has a key; a plain value is one a release before sealing wrote, and the
//! first start with a key seals them all.

use super::open::{from_sql_ms, to_sql_ms, Db, DbError, DbResult};
use crate::credentials::Tokens;
use crate::secret::Secret;
use crate::serve::audit::{Action, Entry, Verdict};
use crate::serve::seal::{is_sealed, sealed_with, Place, SealError, Sealer};
use rusqlite::{params, Connection, OptionalExtension};

/// A stored pair and the seed it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredPair {
    pub tokens: Tokens,
    pub seed: String,
}

/// The sealed columns of a table, each value bound to its row's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct SealedTable {
    pub table: &'static str,
    pub key: &'static str,
}

/// Connections' pairs, and agencies' pairs.
pub(super) const TOKENS: SealedTable = SealedTable {
    table: "tokens",
    key: "connection",
};
pub(super) const AGENCIES: SealedTable = SealedTable {
    table: "agencies",
    key: "company_id",
};
const TABLES: [SealedTable; 2] = [TOKENS, AGENCIES];
const COLUMNS: [&str; 2] = ["access_token", "refresh_token"];

/// One sealed value and where it lives.
struct Stored {
    table: SealedTable,
    row: String,
    column: &'static str,
    value: Vec<u8>,
}

impl Stored {
    fn place(&self) -> Place<'_> {
        Place {
            table: self.table.table,
            column: self.column,
            row: &self.row,
        }
    }
}

/// The stored form of a token: sealed under `sealer`, or plain without one.
pub(super) fn store(
    sealer: Option<&Sealer>,
    table: SealedTable,
    column: &'static str,
    row: &str,
    token: &Secret,
) -> Vec<u8> {
    let place = Place {
        table: table.table,
        column,
        row,
    };
    match sealer {
        Some(s) => s.seal(place, token.expose().as_bytes()),
        None => token.expose().as_bytes().to_vec(),
    }
}

/// A token from its stored form.
pub(super) fn reveal(
    sealer: Option<&Sealer>,
    table: SealedTable,
    column: &'static str,
    row: &str,
    stored: &[u8],
) -> DbResult<Secret> {
    let place = Place {
        table: table.table,
        column,
        row,
    };
    let plain = match (is_sealed(stored), sealer) {
        (true, Some(s)) => s.open(place, stored)?,
        (true, None) => return Err(DbError::Seal(SealError::NoKey)),
        (false, _) => stored.to_vec(),
    };
    String::from_utf8(plain)
        .map(Secret::new)
        .map_err(|_| DbError::Seal(SealError::Refused(place.to_string())))
}

/// Stores `connection`'s pair, sealed under `sealer` (plain without one).
pub(super) fn put(
    conn: &Connection,
    sealer: Option<&Sealer>,
    connection: &str,
    t: &Tokens,
    seed: &str,
    now_ms: u64,
) -> DbResult<()> {
    conn.execute(
        "INSERT INTO tokens (connection, access_token, refresh_token, expires_at_ms, scopes, seed, updated_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (connection) DO UPDATE SET access_token = ?2, refresh_token = ?3, expires_at_ms = ?4,
             scopes = ?5, seed = ?6, updated_ms = ?7",
        params![
            connection,
            store(sealer, TOKENS, COLUMNS[0], connection, &t.access_token),
            store(sealer, TOKENS, COLUMNS[1], connection, &t.refresh_token),
            t.expires_at_ms.map(to_sql_ms),
            t.scopes.join(" "),
            seed,
            to_sql_ms(now_ms)
        ],
    )?;
    Ok(())
}

/// Every stored token of every sealed table that exists (an emptied one,
/// an uninstalled agency's, holds nothing).
fn all(conn: &Connection) -> DbResult<Vec<Stored>> {
    let mut out = Vec::new();
    for table in TABLES {
        let exists: i64 = conn.query_row(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1",
            params![table.table],
            |r| r.get(0),
        )?;
        if exists == 0 {
            continue;
        }
        let mut stmt = conn.prepare(&format!(
            "SELECT {}, access_token, refresh_token FROM {}",
            table.key, table.table
        ))?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get_ref(1)?.as_bytes()?.to_vec(),
                r.get_ref(2)?.as_bytes()?.to_vec(),
            ))
        })?;
        for row in rows {
            let (key, access, refresh) = row?;
            for (column, value) in COLUMNS.into_iter().zip([access, refresh]) {
                if value.is_empty() {
                    continue;
                }
                out.push(Stored {
                    table,
                    row: key.clone(),
                    column,
                    value,
                });
            }
        }
    }
    Ok(out)
}

fn update(conn: &Connection, s: &Stored, value: &[u8]) -> DbResult<()> {
    conn.execute(
        &format!(
            "UPDATE {} SET {} = ?1 WHERE {} = ?2",
            s.table.table, s.column, s.table.key
        ),
        params![value, s.row],
    )?;
    Ok(())
}

/// Refuses a database whose sealed tokens `sealer` cannot open: none
/// given, or another key. Reads only. A value out of its place (copied
/// from another row) is left to fail where it is used, with its message,
/// so the other connections go on.
pub(super) fn check_sealed(conn: &Connection, sealer: Option<&Sealer>) -> DbResult<()> {
    for stored in all(conn)? {
        let Some(with) = sealed_with(&stored.value) else {
            continue;
        };
        match sealer {
            None => return Err(DbError::Seal(SealError::NoKey)),
            Some(s) if s.key_id() != with => {
                return Err(DbError::Seal(SealError::OtherKey {
                    sealed_with: with,
                    given: s.key_id(),
                }))
            }
            Some(s) => {
                if let Err(e) = s.open(stored.place(), &stored.value) {
                    tracing::error!(target: "ghl_rankr::serve", row = %stored.row, error = %e, "a sealed token does not open");
                }
            }
        }
    }
    Ok(())
}

/// Seals every plain token in one transaction, with an audit row.
pub(super) fn seal_plain(conn: &Connection, sealer: &Sealer) -> DbResult<usize> {
    let plain: Vec<Stored> = all(conn)?.into_iter().filter(|s| !is_sealed(&s.value)).collect();
    if plain.is_empty() {
        return Ok(0);
    }
    let tx = conn.unchecked_transaction()?;
    for stored in &plain {
        let sealed = sealer.seal(stored.place(), &stored.value);
        update(&tx, stored, &sealed)?;
    }
    let now = ghl_rankr_host::clock::Clock::now_ms(&ghl_rankr_host::clock::SystemClock::default());
    super::audit::insert(
        &tx,
        &Entry::new(now, "service", Action::Sealed, Verdict::Ok).saying(format!(
            "{} tokens sealed under the key {}",
            plain.len(),
            sealer.key_id()
        )),
    )?;
    tx.commit()?;
    tracing::info!(target: "ghl_rankr::serve", tokens = plain.len(), key = %sealer.key_id(), "the database's plain tokens are sealed");
    Ok(plain.len())
}

impl Db {
    /// The stored pair of `connection`.
    pub fn tokens(&self, connection: &str) -> DbResult<Option<StoredPair>> {
        let row = self
            .write()?
            .query_row(
                "SELECT access_token, refresh_token, expires_at_ms, scopes, seed FROM tokens WHERE connection = ?1",
                params![connection],
                |r| {
                    Ok((
                        r.get_ref(0)?.as_bytes()?.to_vec(),
                        r.get_ref(1)?.as_bytes()?.to_vec(),
                        r.get::<_, Option<i64>>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                    ))
                },
            )
            .optional()?;
        let Some((access, refresh, expires, scopes, seed)) = row else {
            return Ok(None);
        };
        let sealer = self.sealer.as_ref();
        Ok(Some(StoredPair {
            tokens: Tokens {
                access_token: reveal(sealer, TOKENS, COLUMNS[0], connection, &access)?,
                refresh_token: reveal(sealer, TOKENS, COLUMNS[1], connection, &refresh)?,
                expires_at_ms: expires.map(from_sql_ms),
                scopes: scopes.split_whitespace().map(str::to_string).collect(),
            },
            seed,
        }))
    }

    /// Stores a pair (a rotation, or a seed from the environment), sealed,
    /// durably, before returning.
    pub fn put_tokens(&self, connection: &str, t: &Tokens, seed: &str, now_ms: u64) -> DbResult<()> {
        put(&*self.write()?, self.sealer.as_ref(), connection, t, seed, now_ms)
    }

    /// The pair of `connection` is to be renewed before its next use (GHL
    /// refused its access token).
    pub fn expire_tokens(&self, connection: &str) -> DbResult<()> {
        self.write()?.execute(
            "UPDATE tokens SET expires_at_ms = 0 WHERE connection = ?1",
            params![connection],
        )?;
        Ok(())
    }

    /// The seed of the stored pair (kept in the clear: a fingerprint, not a
    /// secret), to tell a new refresh token without opening the pair.
    pub fn token_seed(&self, connection: &str) -> DbResult<Option<String>> {
        Ok(self
            .write()?
            .query_row(
                "SELECT seed FROM tokens WHERE connection = ?1",
                params![connection],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Whether a token is kept (so a key is needed to run).
    pub fn holds_secrets(&self) -> DbResult<bool> {
        Ok(!all(&self.read())?.is_empty())
    }

    /// Forgets `connection`'s pair (an uninstalled sub-account).
    pub fn delete_tokens(&self, connection: &str) -> DbResult<()> {
        self.write()?
            .execute("DELETE FROM tokens WHERE connection = ?1", params![connection])?;
        Ok(())
    }

    /// Re-seals every token under `new`, in one transaction with its audit
    /// row: a crash midway leaves every value under the old key. A value
    /// that does not open stops it (it says which). How many values were
    /// re-sealed.
    pub fn rotate_key(&self, new: &Sealer, now_ms: u64) -> DbResult<usize> {
        let old = self.sealer.as_ref().ok_or(DbError::Seal(SealError::NoKey))?;
        let mut conn = self.write()?;
        let tx = conn.transaction()?;
        let values = all(&tx)?;
        for stored in &values {
            let plain = reveal(Some(old), stored.table, stored.column, &stored.row, &stored.value)?;
            let sealed = new.seal(stored.place(), plain.expose().as_bytes());
            update(&tx, stored, &sealed)?;
        }
        super::audit::insert(
            &tx,
            &Entry::new(now_ms, "cli", Action::KeyRotated, Verdict::Ok).saying(format!(
                "{} tokens re-sealed from the key {} to {}",
                values.len(),
                old.key_id(),
                new.key_id()
            )),
        )?;
        tx.commit()?;
        Ok(values.len())
    }
}

#[cfg(test)]
mod tests {
    use super::super::open::tests::temp;
    use super::*;
    use crate::serve::seal::Key;

    fn pair(n: u32) -> Tokens {
        Tokens {
            access_token: Secret::new(format!("access-token-{n}")),
            refresh_token: Secret::new(format!("refresh-token-{n}")),
            expires_at_ms: Some(1_000),
            scopes: vec!["socialplanner/tag.readonly".into()],
        }
    }

    fn file_holds(path: &std::path::Path, text: &str) -> bool {
        let mut bytes = std::fs::read(path).unwrap();
        let mut wal = path.as_os_str().to_os_string();
        wal.push("-wal");
        bytes.extend(std::fs::read(wal).unwrap_or_default());
        bytes.windows(text.len()).any(|w| w == text.as_bytes())
    }

    #[test]
    fn tokens_are_sealed_at_rest_and_a_copied_row_does_not_open() {
        let path = temp("sealed");
        let key = Key::generate();
        let db = Db::open(&path, Some(&key)).unwrap();
        db.put_tokens("acme", &pair(1), "seed", 1).unwrap();
        db.put_tokens("beta", &pair(2), "seed", 1).unwrap();
        assert_eq!(db.tokens("acme").unwrap().unwrap().tokens, pair(1));
        assert!(!file_holds(&path, "refresh-token-1") && !file_holds(&path, "access-token-2"));
        // acme's sealed pair copied onto beta.
        db.write()
            .unwrap()
            .execute_batch(
                "UPDATE tokens SET refresh_token = (SELECT refresh_token FROM tokens WHERE connection = 'acme') WHERE connection = 'beta'",
            )
            .unwrap();
        let e = db.tokens("beta").unwrap_err();
        assert!(
            e.to_string().contains("tokens.refresh_token of beta") && e.to_string().contains("copied"),
            "{e}"
        );
        assert!(db.tokens("acme").is_ok(), "the others still open");
    }

    #[test]
    fn no_key_or_another_key_is_refused_and_the_file_is_left_as_it_was() {
        let path = temp("refused-key");
        let key = Key::generate();
        let db = Db::open(&path, Some(&key)).unwrap();
        db.put_tokens("acme", &pair(1), "seed", 1).unwrap();
        drop(db);
        let before = std::fs::read(&path).unwrap();
        let e = Db::open(&path, None).err().unwrap();
        assert!(matches!(e, DbError::Seal(SealError::NoKey)), "{e}");
        assert!(e.to_string().contains("no encryption key is given"), "{e}");
        let e = Db::open(&path, Some(&Key::generate())).err().unwrap();
        assert!(matches!(e, DbError::Seal(SealError::OtherKey { .. })), "{e}");
        assert!(e.to_string().contains(&key.fingerprint().to_string()), "{e}");
        assert_eq!(std::fs::read(&path).unwrap(), before, "byte for byte");
    }

    #[test]
    fn a_plain_database_is_sealed_on_its_first_start_with_a_key() {
        let path = temp("plain");
        let db = Db::open(&path, None).unwrap();
        db.put_tokens("acme", &pair(1), "seed", 1).unwrap();
        drop(db);
        assert!(file_holds(&path, "refresh-token-1"));
        let key = Key::generate();
        let db = Db::open(&path, Some(&key)).unwrap();
        assert_eq!(db.tokens("acme").unwrap().unwrap().tokens, pair(1));
        let audit = db.audit(10).unwrap();
        assert_eq!(audit[0].action, Action::Sealed);
        drop(db);
        let db = Db::open(&path, Some(&key)).unwrap();
        drop(db);
        assert!(!file_holds(&path, "refresh-token-1"));
    }

    #[test]
    fn a_rotation_reseals_every_token_and_the_old_key_is_refused_after() {
        let path = temp("rotate");
        let (old, new) = (Key::generate(), Key::generate());
        let db = Db::open(&path, Some(&old)).unwrap();
        db.put_tokens("acme", &pair(1), "seed", 1).unwrap();
        db.put_tokens("beta", &pair(2), "seed", 1).unwrap();
        assert_eq!(db.rotate_key(&Sealer::new(&new), 5).unwrap(), 4);
        drop(db);
        assert!(matches!(
            Db::open(&path, Some(&old)),
            Err(DbError::Seal(SealError::OtherKey { .. }))
        ));
        let db = Db::open(&path, Some(&new)).unwrap();
        assert_eq!(db.tokens("beta").unwrap().unwrap().tokens, pair(2));
        let rotated = db.audit(10).unwrap();
        assert_eq!(rotated[0].action, Action::KeyRotated);
        assert!(!rotated[0].detail.as_deref().unwrap().contains(&new.to_base64()));
    }
}
