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

/// The sealed columns, each bound to its connection.
const COLUMNS: [&str; 2] = ["access_token", "refresh_token"];

fn place<'a>(column: &'static str, connection: &'a str) -> Place<'a> {
    Place {
        table: "tokens",
        column,
        row: connection,
    }
}

/// The stored form of a token: sealed under `sealer`, or plain without one.
fn store(sealer: Option<&Sealer>, column: &'static str, connection: &str, token: &Secret) -> Vec<u8> {
    match sealer {
        Some(s) => s.seal(place(column, connection), token.expose().as_bytes()),
        None => token.expose().as_bytes().to_vec(),
    }
}

/// A token from its stored form.
fn reveal(sealer: Option<&Sealer>, column: &'static str, connection: &str, stored: &[u8]) -> DbResult<Secret> {
    let plain = match (is_sealed(stored), sealer) {
        (true, Some(s)) => s.open(place(column, connection), stored)?,
        (true, None) => return Err(DbError::Seal(SealError::NoKey)),
        (false, _) => stored.to_vec(),
    };
    String::from_utf8(plain)
        .map(Secret::new)
        .map_err(|_| DbError::Seal(SealError::Refused(place(column, connection).to_string())))
}

/// Every stored token, as (connection, column, stored form).
fn all(conn: &Connection) -> DbResult<Vec<(String, &'static str, Vec<u8>)>> {
    let mut stmt = conn.prepare("SELECT connection, access_token, refresh_token FROM tokens")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get_ref(1)?.as_bytes()?.to_vec(),
            r.get_ref(2)?.as_bytes()?.to_vec(),
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (connection, access, refresh) = row?;
        out.push((connection.clone(), COLUMNS[0], access));
        out.push((connection, COLUMNS[1], refresh));
    }
    Ok(out)
}

/// Refuses a database whose sealed tokens `sealer` cannot open: none
/// given, or another key. Reads only. A value out of its place (copied
/// from another row) is left to fail where it is used, with its message,
/// so the other connections go on.
pub(super) fn check_sealed(conn: &Connection, sealer: Option<&Sealer>) -> DbResult<()> {
    let exists: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'tokens'",
        [],
        |r| r.get(0),
    )?;
    if exists == 0 {
        return Ok(());
    }
    for (connection, column, stored) in all(conn)? {
        let Some(with) = sealed_with(&stored) else { continue };
        match sealer {
            None => return Err(DbError::Seal(SealError::NoKey)),
            Some(s) if s.key_id() != with => {
                return Err(DbError::Seal(SealError::OtherKey {
                    sealed_with: with,
                    given: s.key_id(),
                }))
            }
            Some(s) => {
                if let Err(e) = s.open(place(column, &connection), &stored) {
                    tracing::error!(target: "ghl_rankr::serve", connection, error = %e, "a sealed token does not open");
                }
            }
        }
    }
    Ok(())
}

/// Seals every plain token in one transaction, with an audit row.
pub(super) fn seal_plain(conn: &Connection, sealer: &Sealer) -> DbResult<usize> {
    let plain: Vec<_> = all(conn)?.into_iter().filter(|(_, _, v)| !is_sealed(v)).collect();
    if plain.is_empty() {
        return Ok(0);
    }
    let tx = conn.unchecked_transaction()?;
    for (connection, column, stored) in &plain {
        let sealed = sealer.seal(place(column, connection), stored);
        tx.execute(
            &format!("UPDATE tokens SET {column} = ?1 WHERE connection = ?2"),
            params![sealed, connection],
        )?;
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
                access_token: reveal(sealer, COLUMNS[0], connection, &access)?,
                refresh_token: reveal(sealer, COLUMNS[1], connection, &refresh)?,
                expires_at_ms: expires.map(from_sql_ms),
                scopes: scopes.split_whitespace().map(str::to_string).collect(),
            },
            seed,
        }))
    }

    /// Stores a pair (a rotation, or a seed from the environment), sealed,
    /// durably, before returning.
    pub fn put_tokens(&self, connection: &str, t: &Tokens, seed: &str, now_ms: u64) -> DbResult<()> {
        let sealer = self.sealer.as_ref();
        self.write()?.execute(
            "INSERT INTO tokens (connection, access_token, refresh_token, expires_at_ms, scopes, seed, updated_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (connection) DO UPDATE SET access_token = ?2, refresh_token = ?3, expires_at_ms = ?4,
                 scopes = ?5, seed = ?6, updated_ms = ?7",
            params![
                connection,
                store(sealer, COLUMNS[0], connection, &t.access_token),
                store(sealer, COLUMNS[1], connection, &t.refresh_token),
                t.expires_at_ms.map(to_sql_ms),
                t.scopes.join(" "),
                seed,
                to_sql_ms(now_ms)
            ],
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

    /// Whether a sealed secret is kept (so a key is needed to run).
    pub fn holds_secrets(&self) -> DbResult<bool> {
        let n: i64 = self.read().query_row("SELECT count(*) FROM tokens", [], |r| r.get(0))?;
        Ok(n > 0)
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
        for (connection, column, stored) in &values {
            let plain = reveal(Some(old), column, connection, stored)?;
            let sealed = new.seal(place(column, connection), plain.expose().as_bytes());
            tx.execute(
                &format!("UPDATE tokens SET {column} = ?1 WHERE connection = ?2"),
                params![sealed, connection],
            )?;
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
