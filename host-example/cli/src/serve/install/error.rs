//! Why an install step could not be done, in words that say what to do.

use crate::serve::db::DbError;

#[derive(Debug)]
pub enum InstallError {
    /// GHL refused the credential: the agency (or the sub-account) must
    /// connect again at `/install`.
    Refused {
        endpoint: &'static str,
        status: u16,
        message: String,
    },
    /// Another answer that is not a success.
    Upstream {
        endpoint: &'static str,
        status: u16,
        message: String,
    },
    /// No answer. A refresh that may have been applied is not sent again.
    Transport {
        endpoint: &'static str,
        message: String,
    },
    /// A success whose body is not what the spec says.
    Invalid(String),
    /// No agency is connected to exchange a sub-account's token from.
    NoAgency {
        location: String,
    },
    /// The agency cannot be used: uninstalled, or its refresh refused.
    AgencyUnusable {
        company: String,
        why: String,
    },
    /// The install was stopped while its token was being had.
    Stopped(String),
    Store(DbError),
}

impl std::fmt::Display for InstallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InstallError::Refused {
                endpoint,
                status,
                message,
            } => write!(
                f,
                "GHL refused the credential at {endpoint} ({status}: {message}); connect the agency again at /install"
            ),
            InstallError::Upstream {
                endpoint,
                status,
                message,
            } => write!(f, "GHL answered {status} at {endpoint}: {message}"),
            InstallError::Transport { endpoint, message } => write!(f, "no answer from GHL at {endpoint}: {message}"),
            InstallError::Invalid(e) => e.fmt(f),
            InstallError::NoAgency { location } => write!(
                f,
                "sub-account {location} has no agency connected to exchange its token from: an agency admin connects at /install"
            ),
            InstallError::AgencyUnusable { company, why } => {
                write!(f, "agency {company} cannot be used ({why}); an agency admin connects again at /install")
            }
            InstallError::Stopped(name) => write!(f, "{name} was uninstalled meanwhile"),
            InstallError::Store(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for InstallError {}

impl From<DbError> for InstallError {
    fn from(e: DbError) -> Self {
        InstallError::Store(e)
    }
}

impl InstallError {
    /// Whether trying again later may succeed without anyone's help.
    pub fn is_transient(&self) -> bool {
        match self {
            InstallError::Transport { .. } | InstallError::Store(_) => true,
            InstallError::Upstream { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }
}
