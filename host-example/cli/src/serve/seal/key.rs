//! The key that seals the database's secrets: 32 bytes, from
//! `GHL_RANKR_ENCRYPTION_KEY` (base64) or a key file (`service.key_file`,
//! base64 text), never both. A key file others can read is refused: the key
//! is worth every token it seals. The key itself is never printed; its
//! fingerprint (the first 8 bytes of its SHA-256) names it in messages and
//! in every sealed value.

use base64::Engine as _;
use sha2::Digest as _;
use std::path::{Path, PathBuf};

/// The variable that may hold the key.
pub const KEY_ENV: &str = "GHL_RANKR_ENCRYPTION_KEY";

/// A 32-byte key. `Debug` shows its fingerprint only.
#[derive(Clone, PartialEq, Eq)]
pub struct Key {
    bytes: [u8; 32],
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key({})", self.fingerprint())
    }
}

/// A key's public name: the first 8 bytes of its SHA-256.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId(pub [u8; 8]);

impl std::fmt::Display for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// Where a key was to come from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Env,
    File(PathBuf),
}

impl std::fmt::Display for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Env => f.write_str(KEY_ENV),
            KeySource::File(p) => write!(f, "the key file {}", p.display()),
        }
    }
}

/// Why no key could be had.
#[derive(Debug)]
pub enum KeyError {
    /// Both the variable and a key file were given.
    Both(PathBuf),
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The key file can be read by others than its owner.
    Exposed {
        path: PathBuf,
        mode: u32,
    },
    /// Not base64 of 32 bytes.
    Malformed(KeySource),
    /// `keygen` would overwrite a file.
    Exists(PathBuf),
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyError::Both(p) => write!(
                f,
                "both {KEY_ENV} and service.key_file ({}) give an encryption key; keep one",
                p.display()
            ),
            KeyError::Unreadable { path, source } => {
                write!(f, "cannot read the key file {}: {source}", path.display())
            }
            KeyError::Exposed { path, mode } => write!(
                f,
                "the key file {} can be read by others (mode {mode:o}); make it private: chmod 600 {}",
                path.display(),
                path.display()
            ),
            KeyError::Malformed(source) => write!(
                f,
                "{source} is not an encryption key: give 32 random bytes in base64 (`ghl-rankr keygen --out FILE` makes one)"
            ),
            KeyError::Exists(p) => write!(f, "{} exists; keygen never overwrites a key", p.display()),
            KeyError::Write { path, source } => write!(f, "cannot write {}: {source}", path.display()),
        }
    }
}

impl std::error::Error for KeyError {}

impl Key {
    /// A fresh random key.
    pub fn generate() -> Key {
        use aes_gcm::aead::{KeyInit as _, OsRng};
        let key = aes_gcm::Aes256Gcm::generate_key(&mut OsRng);
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(&key);
        Key { bytes }
    }

    /// Base64 of 32 bytes (surrounding white space ignored).
    pub fn parse(text: &str, source: KeySource) -> Result<Key, KeyError> {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| KeyError::Malformed(source.clone()))?;
        let bytes: [u8; 32] = decoded.try_into().map_err(|_| KeyError::Malformed(source))?;
        Ok(Key { bytes })
    }

    /// The key as a key file holds it.
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.bytes)
    }

    pub fn fingerprint(&self) -> KeyId {
        let digest = sha2::Sha256::digest(self.bytes);
        let mut id = [0u8; 8];
        id.copy_from_slice(&digest[..8]);
        KeyId(id)
    }

    pub(super) fn bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    /// Reads a key file, refusing one that others can read.
    pub fn from_file(path: &Path) -> Result<Key, KeyError> {
        let unreadable = |source| KeyError::Unreadable {
            path: path.to_path_buf(),
            source,
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(path).map_err(unreadable)?.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(KeyError::Exposed {
                    path: path.to_path_buf(),
                    mode,
                });
            }
        }
        let text = std::fs::read_to_string(path).map_err(unreadable)?;
        Key::parse(&text, KeySource::File(path.to_path_buf()))
    }

    /// Writes the key to a new file of mode 0600.
    pub fn write_new(&self, path: &Path) -> Result<(), KeyError> {
        use std::io::Write as _;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(|source| match source.kind() {
            std::io::ErrorKind::AlreadyExists => KeyError::Exists(path.to_path_buf()),
            _ => KeyError::Write {
                path: path.to_path_buf(),
                source,
            },
        })?;
        writeln!(file, "{}", self.to_base64())
            .and_then(|()| file.sync_all())
            .map_err(|source| KeyError::Write {
                path: path.to_path_buf(),
                source,
            })
    }
}

/// The service's key: the variable, else the key file, else none.
pub fn load(key_file: Option<&Path>, env: &dyn Fn(&str) -> Option<String>) -> Result<Option<Key>, KeyError> {
    let from_env = env(KEY_ENV).filter(|v| !v.trim().is_empty());
    match (from_env, key_file) {
        (Some(_), Some(path)) => Err(KeyError::Both(path.to_path_buf())),
        (Some(text), None) => Key::parse(&text, KeySource::Env).map(Some),
        (None, Some(path)) => Key::from_file(path).map(Some),
        (None, None) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ghl-rankr-key-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_key_comes_from_the_variable_or_a_private_file_never_both() {
        let key = Key::generate();
        let text = key.to_base64();
        let env = |k: &str| (k == KEY_ENV).then(|| text.clone());
        assert_eq!(load(None, &env).unwrap(), Some(key.clone()));
        assert_eq!(load(None, &|_| None).unwrap(), None);
        let path = dir("file").join("service.key");
        key.write_new(&path).unwrap();
        assert_eq!(load(Some(&path), &|_| None).unwrap(), Some(key.clone()));
        assert!(matches!(load(Some(&path), &env), Err(KeyError::Both(_))));
        assert!(matches!(key.write_new(&path), Err(KeyError::Exists(_))));
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = load(Some(&path), &|_| None).unwrap_err();
        assert!(e.to_string().contains("chmod 600"), "{e}");
    }

    #[test]
    fn a_key_that_is_not_32_bytes_of_base64_is_refused_without_echoing_it() {
        for bad in ["", "not base64!", "c2hvcnQ="] {
            let e = Key::parse(bad, KeySource::Env).unwrap_err();
            assert!(e.to_string().contains("32 random bytes"), "{e}");
            assert!(bad.is_empty() || !e.to_string().contains(bad));
        }
        let key = Key::generate();
        assert!(!format!("{key:?}").contains(&key.to_base64()));
        assert_eq!(format!("{key:?}"), format!("Key({})", key.fingerprint()));
    }
}
