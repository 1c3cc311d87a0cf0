//! What an operation returns: a report on success, a typed error otherwise.
//! These mirror the WIT `types` interface one to one.

use std::fmt;

/// Which side of the connector something concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Ghl,
    Rankr,
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Service::Ghl => "GHL",
            Service::Rankr => "Rankr",
        })
    }
}

/// One item that could not be synced; the others still were.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemError {
    pub item: String,
    pub service: Service,
    pub message: String,
}

/// A write made or, on a dry run, planned.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedWrite {
    pub method: &'static str,
    pub path: String,
    pub items: u32,
    /// The JSON body, kept on dry runs only.
    pub body: String,
}

/// What an operation did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SyncReport {
    pub fetched: u32,
    pub created: u32,
    pub updated: u32,
    pub unchanged: u32,
    pub archived: u32,
    pub rejected: u32,
    pub errors: Vec<ItemError>,
    pub post_tags_applied: Option<u32>,
    pub requests: u32,
    pub retries: u32,
    pub dry_run: bool,
    pub writes: Vec<PlannedWrite>,
}

impl SyncReport {
    /// Records an item refused locally or by a server.
    pub fn reject(&mut self, item: impl Into<String>, service: Service, message: impl Into<String>) {
        self.rejected += 1;
        self.errors.push(ItemError {
            item: item.into(),
            service,
            message: message.into(),
        });
    }
}

/// An error answer from a server.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamError {
    pub service: Service,
    pub endpoint: String,
    pub status: u16,
    pub message: String,
}

/// Why an operation failed as a whole.
#[derive(Debug, Clone, PartialEq)]
pub enum SyncError {
    InvalidConfig(String),
    Unauthorized(UpstreamError),
    Forbidden(UpstreamError),
    RateLimited {
        service: Service,
        endpoint: String,
        retry_after_ms: Option<u64>,
        message: String,
    },
    Upstream(UpstreamError),
    InvalidResponse {
        service: Service,
        endpoint: String,
        field: String,
        message: String,
    },
    Transport {
        service: Service,
        endpoint: String,
        message: String,
    },
}

impl fmt::Display for SyncError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyncError::InvalidConfig(m) => write!(f, "invalid configuration: {m}"),
            SyncError::Unauthorized(e) => write!(
                f,
                "{} refused the credential (401) at {}: {}; check the token or key",
                e.service, e.endpoint, e.message
            ),
            SyncError::Forbidden(e) => write!(
                f,
                "{} forbade {} (403): {}; check the credential's scopes and location",
                e.service, e.endpoint, e.message
            ),
            SyncError::RateLimited {
                service,
                endpoint,
                retry_after_ms,
                message,
            } => {
                write!(f, "{service} rate-limited {endpoint}: {message}")?;
                if let Some(ms) = retry_after_ms {
                    write!(f, " (retry after {} s)", ms.div_ceil(1000))?;
                }
                Ok(())
            }
            SyncError::Upstream(e) => {
                write!(
                    f,
                    "{} answered {} at {}: {}",
                    e.service, e.status, e.endpoint, e.message
                )
            }
            SyncError::InvalidResponse {
                service,
                endpoint,
                field,
                message,
            } => write!(
                f,
                "{service} sent an unexpected answer at {endpoint}, field `{field}`: {message}"
            ),
            SyncError::Transport {
                service,
                endpoint,
                message,
            } => write!(f, "no answer from {service} at {endpoint}: {message}"),
        }
    }
}

impl std::error::Error for SyncError {}
