//! Secrets sealed at rest: every token the database keeps is stored as
//! AES-256-GCM ciphertext under the service's key ([`key`]).
//!
//! A sealed value is `GRS1`, the key's fingerprint (8 bytes), a fresh
//! 96-bit nonce and the ciphertext with its tag. The associated data names
//! the value's place (table, column, row): a value copied into another row
//! or column fails to open. The fingerprint tells "sealed with another key"
//! from "damaged or moved" before anything is tried.

pub mod key;

pub use key::{Key, KeyError, KeyId, KEY_ENV};

use aes_gcm::aead::{Aead as _, AeadCore as _, KeyInit as _, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Nonce};

const MAGIC: &[u8; 4] = b"GRS1";
const NONCE: usize = 12;
const HEAD: usize = MAGIC.len() + 8 + NONCE;

/// Where a sealed value lives: what its associated data binds it to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place<'a> {
    pub table: &'static str,
    pub column: &'static str,
    /// The row's key, e.g. the connection's name.
    pub row: &'a str,
}

impl Place<'_> {
    fn aad(&self) -> Vec<u8> {
        let mut aad = Vec::with_capacity(32 + self.row.len());
        for part in [
            b"ghl-rankr".as_slice(),
            self.table.as_bytes(),
            self.column.as_bytes(),
            self.row.as_bytes(),
        ] {
            aad.extend_from_slice(&(part.len() as u32).to_le_bytes());
            aad.extend_from_slice(part);
        }
        aad
    }
}

impl std::fmt::Display for Place<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{} of {}", self.table, self.column, self.row)
    }
}

/// Why a sealed value did not open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SealError {
    /// Sealed with another key than the one given.
    OtherKey { sealed_with: KeyId, given: KeyId },
    /// The right key, but the value does not belong here (copied from
    /// another row or column) or is damaged.
    Refused(String),
    /// A sealed value is kept and no key was given.
    NoKey,
}

impl std::fmt::Display for SealError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SealError::OtherKey { sealed_with, given } => write!(
                f,
                "the database is sealed with the key {sealed_with}, not with the key given ({given}); give the key it was sealed with"
            ),
            SealError::Refused(place) => write!(
                f,
                "the sealed value of {place} does not open with this key: it was copied from another row, or is damaged; restore a backup or authorize the connection again"
            ),
            SealError::NoKey => write!(
                f,
                "the database holds sealed tokens and no encryption key is given: set {KEY_ENV} or service.key_file to the key it was sealed with"
            ),
        }
    }
}

impl std::error::Error for SealError {}

/// Whether a stored value is sealed (rather than a plain value a release
/// before sealing wrote).
pub fn is_sealed(stored: &[u8]) -> bool {
    stored.len() > HEAD && stored.starts_with(MAGIC)
}

/// The fingerprint of the key a sealed value was sealed with.
pub fn sealed_with(stored: &[u8]) -> Option<KeyId> {
    is_sealed(stored).then(|| {
        let mut id = [0u8; 8];
        id.copy_from_slice(&stored[MAGIC.len()..MAGIC.len() + 8]);
        KeyId(id)
    })
}

/// Seals and opens under one key.
#[derive(Clone)]
pub struct Sealer {
    cipher: Aes256Gcm,
    id: KeyId,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealer({})", self.id)
    }
}

impl Sealer {
    pub fn new(key: &Key) -> Sealer {
        Sealer {
            cipher: Aes256Gcm::new(key.bytes().into()),
            id: key.fingerprint(),
        }
    }

    pub fn key_id(&self) -> KeyId {
        self.id
    }

    /// `plain`, sealed for `place` with a fresh nonce.
    pub fn seal(&self, place: Place<'_>, plain: &[u8]) -> Vec<u8> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let aad = place.aad();
        // Encryption fails only for inputs past GCM's length limit (64 GiB).
        let sealed = self
            .cipher
            .encrypt(&nonce, Payload { msg: plain, aad: &aad })
            .unwrap_or_default();
        let mut out = Vec::with_capacity(HEAD + sealed.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.id.0);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Opens a value sealed for `place`.
    pub fn open(&self, place: Place<'_>, stored: &[u8]) -> Result<Vec<u8>, SealError> {
        let Some(sealed_with) = sealed_with(stored) else {
            return Err(SealError::Refused(place.to_string()));
        };
        if sealed_with != self.id {
            return Err(SealError::OtherKey {
                sealed_with,
                given: self.id,
            });
        }
        let nonce = Nonce::from_slice(&stored[MAGIC.len() + 8..HEAD]);
        let aad = place.aad();
        self.cipher
            .decrypt(
                nonce,
                Payload {
                    msg: &stored[HEAD..],
                    aad: &aad,
                },
            )
            .map_err(|_| SealError::Refused(place.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACME: Place<'static> = Place {
        table: "tokens",
        column: "refresh_token",
        row: "acme",
    };

    #[test]
    fn a_value_opens_only_in_its_place_and_under_its_key() {
        let sealer = Sealer::new(&Key::generate());
        let sealed = sealer.seal(ACME, b"refresh-token-1");
        assert!(is_sealed(&sealed) && !sealed.windows(15).any(|w| w == b"refresh-token-1"));
        assert_eq!(sealer.open(ACME, &sealed).unwrap(), b"refresh-token-1");
        // A fresh nonce for each write.
        assert_ne!(sealer.seal(ACME, b"refresh-token-1"), sealed);
        // Copied onto another connection, or into another column.
        let moved = Place { row: "beta", ..ACME };
        let e = sealer.open(moved, &sealed).unwrap_err();
        assert_eq!(e, SealError::Refused("tokens.refresh_token of beta".into()));
        let column = Place {
            column: "access_token",
            ..ACME
        };
        assert!(matches!(sealer.open(column, &sealed), Err(SealError::Refused(_))));
        // Another key says which.
        let other = Sealer::new(&Key::generate());
        match other.open(ACME, &sealed).unwrap_err() {
            SealError::OtherKey { sealed_with, given } => {
                assert_eq!((sealed_with, given), (sealer.key_id(), other.key_id()));
            }
            e => panic!("{e}"),
        }
        // A flipped bit.
        let mut damaged = sealed.clone();
        *damaged.last_mut().unwrap() ^= 1;
        assert!(matches!(sealer.open(ACME, &damaged), Err(SealError::Refused(_))));
        assert!(!is_sealed(b"plain-token"));
    }
}
