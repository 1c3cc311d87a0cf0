//! The connections the service keeps in step: those of `connections.toml`,
//! fixed at start, and those installs made, kept in the database and added
//! or stopped while it runs. Both are read through here alike.

use super::config::Connection;
use crate::secret::Secret;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// A connection's GHL credential, read from the environment at start.
pub enum GhlSecret {
    Token(Secret),
    /// The pair itself lives in the database; `seed` fingerprints the
    /// operator's refresh token it was first taken from.
    OAuth {
        client_id: String,
        client_secret: Secret,
        seed: String,
    },
    /// Made by an install: the sub-account's pair lives in the database,
    /// renewed from the agency's (`company`) or rotated.
    Installed {
        company: Option<String>,
    },
}

pub struct ConnectionSecrets {
    pub ghl: GhlSecret,
    pub rankr: Secret,
}

/// Where a connection comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A `[[connection]]` of the file: changed by editing it.
    File,
    /// An install: the agency's company id, when it came through one.
    Installed { company: Option<String> },
}

/// A connection and what it runs with.
pub struct Entry {
    pub connection: Connection,
    pub secrets: ConnectionSecrets,
    pub origin: Origin,
}

/// Every connection the service runs, by name.
#[derive(Default)]
pub struct Registry {
    entries: RwLock<BTreeMap<String, Arc<Entry>>>,
}

impl Registry {
    pub fn get(&self, name: &str) -> Option<Arc<Entry>> {
        self.read().get(name).cloned()
    }

    /// Every connection, by name.
    pub fn all(&self) -> Vec<Arc<Entry>> {
        self.read().values().cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// Adds or replaces the connection of this name.
    pub fn insert(&self, entry: Entry) {
        let mut map = self.entries.write().unwrap_or_else(|p| p.into_inner());
        map.insert(entry.connection.name.clone(), Arc::new(entry));
    }

    pub fn remove(&self, name: &str) -> Option<Arc<Entry>> {
        self.entries.write().unwrap_or_else(|p| p.into_inner()).remove(name)
    }

    /// The connection of a location, if one runs it.
    pub fn by_location(&self, location: &str) -> Option<Arc<Entry>> {
        self.read()
            .values()
            .find(|e| e.connection.location == location)
            .cloned()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<Entry>>> {
        self.entries.read().unwrap_or_else(|p| p.into_inner())
    }
}
