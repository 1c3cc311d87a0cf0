//! Why a run could not call the component, or what the call ran into on
//! the host's side; rendered into the run history.

use crate::serve::db::DbError;

/// Why a run could not call the component, or what the call ran into on
/// the host's side.
#[derive(Debug)]
pub enum RunError {
    /// The connection left the configuration.
    Unknown(String),
    /// No pair is stored for an OAuth connection.
    NoTokens(String),
    /// `tag-details-push` was scheduled without tag ids.
    NeedsTagIds,
    Db(DbError),
    /// The host stopped the component (a trap, a limit).
    Host(anyhow::Error),
    /// An install's sub-account token could not be had.
    Install(crate::serve::install::error::InstallError),
}

impl RunError {
    /// The credential itself is refused: only someone connecting again
    /// helps, so the connection pauses.
    pub fn needs_consent(&self) -> bool {
        use crate::serve::install::error::InstallError as E;
        matches!(
            self,
            RunError::Install(E::Refused { .. } | E::AgencyUnusable { .. } | E::NoAgency { .. })
        )
    }
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Unknown(c) => write!(f, "no connection named {c} in the configuration"),
            RunError::NoTokens(c) => write!(f, "no OAuth pair is stored for {c}"),
            RunError::NeedsTagIds => {
                f.write_str("tag-details-push needs tag ids: it runs on events, not on a schedule")
            }
            RunError::Db(e) => e.fmt(f),
            RunError::Host(e) => write!(f, "{e:#}"),
            RunError::Install(e) => e.fmt(f),
        }
    }
}

impl From<DbError> for RunError {
    fn from(e: DbError) -> Self {
        RunError::Db(e)
    }
}
