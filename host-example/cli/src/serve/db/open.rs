//! Opening and guarding the file: the lock that keeps it to one service,
//! its private mode, the check that it is ours and not from a newer
//! version, the migrations, and the two connections.

use crate::serve::seal::{Key, SealError, Sealer};
use rusqlite::{Connection, OpenFlags};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// `PRAGMA application_id`: "GHLR".
const APPLICATION_ID: i64 = 0x4748_4c52;

/// Migration `n` (1-based) brings the schema from version `n - 1` to `n`;
/// `PRAGMA user_version` records the version reached. Released migrations
/// are never edited, only appended.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_initial.sql"),
    include_str!("migrations/0002_audit.sql"),
    include_str!("migrations/0003_followups.sql"),
    include_str!("migrations/0004_installs.sql"),
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Why the database cannot be used. Nothing was written to it.
#[derive(Debug)]
pub enum DbError {
    /// Another `serve` holds the file.
    Locked(PathBuf),
    /// Not a database of this program, or damaged.
    NotOurs {
        path: PathBuf,
        why: String,
    },
    /// Written by a newer version.
    TooNew {
        path: PathBuf,
        version: i64,
    },
    /// `status` was pointed at a file that does not exist.
    Missing(PathBuf),
    /// The file, its lock or its mode could not be set up.
    File {
        what: String,
        path: PathBuf,
        source: std::io::Error,
    },
    /// A write on a database opened for reading.
    ReadOnly,
    /// The sealed secrets cannot be opened: no key, another key, or a
    /// value out of its place.
    Seal(SealError),
    Sql(rusqlite::Error),
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DbError::Locked(p) => write!(
                f,
                "another `ghl-rankr serve` is using {} (it holds {}.lock); stop it first, or give this one its own database",
                p.display(),
                p.display()
            ),
            DbError::NotOurs { path, why } => write!(
                f,
                "{} is not a usable ghl-rankr database ({why}); it was left as it is: restore a backup, or move it away to start afresh",
                path.display()
            ),
            DbError::TooNew { path, version } => write!(
                f,
                "{} was written by a newer ghl-rankr (schema {version}; this one knows up to {SCHEMA_VERSION}); it was left as it is: run the newer version",
                path.display()
            ),
            DbError::Missing(p) => write!(
                f,
                "{} does not exist; `ghl-rankr serve` creates it on its first start",
                p.display()
            ),
            DbError::File { what, path, source } => write!(f, "cannot {what} {}: {source}", path.display()),
            DbError::ReadOnly => f.write_str("the database was opened for reading only"),
            DbError::Seal(e) => e.fmt(f),
            DbError::Sql(e) => write!(f, "database: {e}"),
        }
    }
}

impl std::error::Error for DbError {}

impl From<SealError> for DbError {
    fn from(e: SealError) -> Self {
        DbError::Seal(e)
    }
}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        DbError::Sql(e)
    }
}

pub type DbResult<T> = Result<T, DbError>;

pub struct Db {
    /// Declared before the writer, so it closes first: the last connection
    /// to close checkpoints the WAL into the file and removes it, and a
    /// read-only one cannot.
    reader: Mutex<Connection>,
    /// None when opened for reading only.
    writer: Option<Mutex<Connection>>,
    /// Seals and opens the secrets kept; none: no key was given, and no
    /// sealed value is kept.
    pub(super) sealer: Option<Sealer>,
    path: PathBuf,
    /// Held for the life of the service.
    _lock: Option<File>,
}

impl Db {
    /// Opens (or creates) the service's database: locked for this process,
    /// checked, migrated, its plain secrets sealed under `key` in one
    /// transaction. A database whose sealed values `key` cannot open (none
    /// given, another key) is refused before anything is written to it.
    pub fn open(path: &Path, key: Option<&Key>) -> DbResult<Db> {
        let lock = lock(path)?;
        create_private(path)?;
        let sealer = key.map(Sealer::new);
        if std::fs::metadata(path).map(|m| m.len()).unwrap_or(0) > 0 {
            let look =
                Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(|e| not_ours(path, e))?;
            check(&look, path)?;
            super::tokens::check_sealed(&look, sealer.as_ref())?;
        }
        let writer = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| not_ours(path, e))?;
        writer.busy_timeout(Duration::from_secs(5))?;
        writer.pragma_update(None, "journal_mode", "WAL")?;
        // FULL: a rotated refresh token survives a power cut, not only a crash.
        writer.pragma_update(None, "synchronous", "FULL")?;
        migrate(&writer)?;
        if let Some(sealer) = &sealer {
            super::tokens::seal_plain(&writer, sealer)?;
        }
        let reader =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
        reader.busy_timeout(Duration::from_secs(5))?;
        Ok(Db {
            writer: Some(Mutex::new(writer)),
            reader: Mutex::new(reader),
            sealer,
            path: path.to_path_buf(),
            _lock: Some(lock),
        })
    }

    /// Opens for reading only (`ghl-rankr status`), beside a running service.
    pub fn open_read_only(path: &Path) -> DbResult<Db> {
        if !path.exists() {
            return Err(DbError::Missing(path.to_path_buf()));
        }
        let reader =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(|e| not_ours(path, e))?;
        check(&reader, path)?;
        reader.busy_timeout(Duration::from_secs(5))?;
        Ok(Db {
            writer: None,
            reader: Mutex::new(reader),
            sealer: None,
            path: path.to_path_buf(),
            _lock: None,
        })
    }

    /// Opens beside a running service to leave it commands
    /// (`ghl-rankr connections pause|resume|remove`): a writer without the
    /// lock and without the key, used for the `control` table only. A file
    /// whose schema is not this version's is refused.
    pub fn open_beside(path: &Path) -> DbResult<Db> {
        let reader = Db::open_read_only(path)?;
        let version: i64 = reader.read().query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version != SCHEMA_VERSION {
            return Err(DbError::NotOurs {
                path: path.to_path_buf(),
                why: format!("its schema is version {version}; this ghl-rankr writes version {SCHEMA_VERSION}"),
            });
        }
        let writer = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| not_ours(path, e))?;
        writer.busy_timeout(Duration::from_secs(5))?;
        Ok(Db {
            writer: Some(Mutex::new(writer)),
            ..reader
        })
    }

    /// Whether a service holds the file now (its lock is taken).
    pub fn in_use(path: &Path) -> bool {
        matches!(lock(path), Err(DbError::Locked(_)))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The writer: the scheduler's and the runs' reads and writes.
    pub(super) fn write(&self) -> DbResult<MutexGuard<'_, Connection>> {
        let writer = self.writer.as_ref().ok_or(DbError::ReadOnly)?;
        Ok(writer.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// The reader: what the HTTP surface and `status` show.
    pub(super) fn read(&self) -> MutexGuard<'_, Connection> {
        self.reader.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The database answers a query.
    pub fn ping(&self) -> bool {
        self.read()
            .query_row("SELECT count(*) FROM health", [], |r| r.get::<_, i64>(0))
            .is_ok()
    }
}

fn not_ours(path: &Path, e: rusqlite::Error) -> DbError {
    DbError::NotOurs {
        path: path.to_path_buf(),
        why: e.to_string(),
    }
}

/// `<file>.lock`, locked for this process's life.
fn lock(path: &Path) -> DbResult<File> {
    let mut name = path.as_os_str().to_os_string();
    name.push(".lock");
    let lock_path = PathBuf::from(name);
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let file = options.open(&lock_path).map_err(|source| DbError::File {
        what: "open".into(),
        path: lock_path.clone(),
        source,
    })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(DbError::Locked(path.to_path_buf())),
        Err(std::fs::TryLockError::Error(source)) => Err(DbError::File {
            what: "lock".into(),
            path: lock_path,
            source,
        }),
    }
}

/// Creates the file with mode 0600 if it does not exist; narrows a wider
/// mode on an existing one.
fn create_private(path: &Path) -> DbResult<()> {
    let io = |source: std::io::Error| DbError::File {
        what: "create".into(),
        path: path.to_path_buf(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io(e)),
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path).map_err(io)?.permissions().mode() & 0o777;
        if mode != 0o600 {
            tracing::warn!(target: "ghl_rankr::serve", file = %path.display(), mode = format!("{mode:o}"), "the database was readable by others; its mode is now 0600");
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
        }
    }
    Ok(())
}

/// Refuses anything but an empty file or this program's database at a
/// version this build knows, before any write.
fn check(conn: &Connection, path: &Path) -> DbResult<()> {
    let not_ours = |why: String| DbError::NotOurs {
        path: path.to_path_buf(),
        why,
    };
    let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    if len == 0 {
        return Ok(());
    }
    let quick: String = conn
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .map_err(|e| not_ours(e.to_string()))?;
    if quick != "ok" {
        return Err(not_ours(format!("integrity check: {quick}")));
    }
    let app: i64 = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))?;
    if app != APPLICATION_ID && !(app == 0 && version == 0 && tables == 0) {
        return Err(not_ours("another program's SQLite database".into()));
    }
    if version > SCHEMA_VERSION {
        return Err(DbError::TooNew {
            path: path.to_path_buf(),
            version,
        });
    }
    Ok(())
}

/// Applies the migrations this file lacks, each in its own transaction.
fn migrate(conn: &Connection) -> DbResult<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
        let to = i as i64 + 1;
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE; {sql} PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {to}; COMMIT;"
        ))?;
        tracing::info!(target: "ghl_rankr::serve", version = to, "database migrated");
    }
    Ok(())
}

/// Milliseconds as SQLite keeps them (an `INTEGER`), and back: a value a
/// hand edit made negative reads as 0.
pub(super) fn to_sql_ms(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

pub(super) fn from_sql_ms(v: i64) -> u64 {
    v.max(0) as u64
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A fresh database file in a folder of its own.
    pub fn temp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ghl-rankr-db-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d.join("service.db")
    }

    #[test]
    fn a_new_file_is_private_versioned_and_held_by_one_service() {
        let path = temp("new");
        let db = Db::open(&path, None).unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let v: i64 = db.read().query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        assert!(matches!(Db::open(&path, None), Err(DbError::Locked(_))));
        // Readers are welcome beside it.
        assert!(Db::open_read_only(&path).unwrap().ping());
        drop(db);
        Db::open(&path, None).expect("the lock goes with the process that held it");
    }

    #[test]
    fn newer_foreign_and_damaged_files_are_refused_untouched() {
        let path = temp("refused");
        drop(Db::open(&path, None).unwrap());
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        let before = std::fs::read(&path).unwrap();
        let e = Db::open(&path, None).err().unwrap();
        assert!(matches!(e, DbError::TooNew { version: 99, .. }), "{e}");
        assert!(e.to_string().contains("newer ghl-rankr"));
        assert_eq!(std::fs::read(&path).unwrap(), before);

        let foreign = temp("foreign");
        Connection::open(&foreign)
            .unwrap()
            .execute_batch("CREATE TABLE notes (x)")
            .unwrap();
        let e = Db::open(&foreign, None).err().unwrap();
        assert!(e.to_string().contains("another program's SQLite database"), "{e}");

        let damaged = temp("damaged");
        std::fs::write(&damaged, vec![0x5a; 8192]).unwrap();
        assert!(matches!(Db::open(&damaged, None), Err(DbError::NotOurs { .. })));
        assert_eq!(std::fs::read(&damaged).unwrap(), vec![0x5a; 8192]);
    }

    #[test]
    fn a_read_only_database_refuses_writes() {
        let path = temp("read-only");
        drop(Db::open(&path, None).unwrap());
        let db = Db::open_read_only(&path).unwrap();
        assert!(matches!(db.write(), Err(DbError::ReadOnly)));
        assert!(matches!(
            Db::open_read_only(&path.with_extension("none")),
            Err(DbError::Missing(_))
        ));
    }
}
