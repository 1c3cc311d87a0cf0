//! Why the service cannot start, or had to stop. Each says what to fix;
//! the CLI prints it once and exits 2.

use super::config::{ConfigFileError, MissingVariables};
use super::db::DbError;
use super::seal::KeyError;
use std::net::SocketAddr;

#[derive(Debug)]
pub enum ServeError {
    /// The connections file is unreadable or wrong.
    Config(ConfigFileError),
    /// Variables the connections name are not set.
    Variables(MissingVariables),
    /// The database cannot be opened, or failed.
    Db(DbError),
    /// The HTTP address is taken or not ours.
    Listen { addr: SocketAddr, source: std::io::Error },
    /// SIGTERM and SIGINT could not be handled.
    Signals(std::io::Error),
    /// A thread of the service could not be started.
    Thread { what: &'static str, source: std::io::Error },
    /// The encryption key cannot be had.
    Key(KeyError),
    /// Secrets are or will be kept and no encryption key is given.
    KeyRequired(String),
    /// `listen` reaches other machines and nothing guards the status.
    Exposed(SocketAddr),
    /// `[app]` cannot be used as configured (a key that does not parse, a
    /// name the template gives that a file connection has).
    App(String),
}

impl std::fmt::Display for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServeError::Config(e) => e.fmt(f),
            ServeError::Variables(e) => e.fmt(f),
            ServeError::Db(e) => e.fmt(f),
            ServeError::Listen { addr, source } => {
                write!(
                    f,
                    "cannot listen on {addr}: {source}; set service.listen to a free address"
                )
            }
            ServeError::Signals(e) => write!(f, "cannot handle signals: {e}"),
            ServeError::Thread { what, source } => write!(f, "cannot start the {what}: {source}"),
            ServeError::Key(e) => e.fmt(f),
            ServeError::KeyRequired(why) => write!(
                f,
                "{why}, and tokens are kept only sealed: give an encryption key, in {} or a key file named by service.key_file (`ghl-rankr keygen --out FILE` makes one)",
                super::seal::KEY_ENV
            ),
            ServeError::Exposed(addr) => write!(
                f,
                "service.listen = {addr} is reachable from other machines and no [[access]] token is set: add a viewer or operator token, or set service.public_status = true to show the status page, /runs and /metrics to anyone who can reach it"
            ),
            ServeError::App(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for ServeError {}

impl From<DbError> for ServeError {
    fn from(e: DbError) -> Self {
        ServeError::Db(e)
    }
}

impl From<KeyError> for ServeError {
    fn from(e: KeyError) -> Self {
        ServeError::Key(e)
    }
}

impl From<ConfigFileError> for ServeError {
    fn from(e: ConfigFileError) -> Self {
        ServeError::Config(e)
    }
}

impl From<MissingVariables> for ServeError {
    fn from(e: MissingVariables) -> Self {
        ServeError::Variables(e)
    }
}
