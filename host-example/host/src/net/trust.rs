//! Which certificate authorities the host trusts, as the user's other tools
//! do: the operating system's store, or `SSL_CERT_FILE` / `SSL_CERT_DIR`
//! in its place when either is set (OpenSSL's rule); one more bundle from
//! `--ca-cert` or the `ca_cert` setting on top. Mozilla's roots, compiled
//! in, stand in only when the system has no store at all.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use ureq::tls::{Certificate, PemItem};

/// Where the base set of roots came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustSource {
    /// The operating system's store.
    System,
    /// `SSL_CERT_FILE` and/or `SSL_CERT_DIR`.
    Variables,
    /// Mozilla's roots compiled into the binary: the system had none.
    Bundled,
}

/// The roots a TLS connection may chain to.
#[derive(Clone)]
pub struct Trust {
    /// Shared by every client built from this trust.
    roots: Arc<Vec<Certificate<'static>>>,
    source: TrustSource,
    base: usize,
    extra: Option<(PathBuf, usize)>,
}

/// Why the trust store could not be assembled; each says what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustError {
    /// `SSL_CERT_FILE` or `SSL_CERT_DIR` is set and yields no certificate.
    Variables(String),
    /// The `--ca-cert` / `ca_cert` bundle cannot be used.
    CaCert { path: PathBuf, problem: String },
}

impl fmt::Display for TrustError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrustError::Variables(problem) => write!(
                f,
                "{problem}; point SSL_CERT_FILE at a PEM bundle (or SSL_CERT_DIR at a directory of them), or unset both to use the system's store"
            ),
            TrustError::CaCert { path, problem } => write!(
                f,
                "the CA bundle {} (--ca-cert / ca_cert) {problem}; give a PEM file of CA certificates (-----BEGIN CERTIFICATE-----)",
                path.display()
            ),
        }
    }
}

impl std::error::Error for TrustError {}

impl Trust {
    /// The system's store (or the variables'), plus `ca_cert`.
    pub fn load(ca_cert: Option<&Path>) -> Result<Trust, TrustError> {
        let variables = std::env::var_os("SSL_CERT_FILE").is_some()
            || std::env::var_os("SSL_CERT_DIR").is_some_and(|v| !v.is_empty());
        let found = rustls_native_certs::load_native_certs();
        let errors: Vec<String> = found.errors.iter().map(|e| e.to_string()).collect();
        let certs = found
            .certs
            .iter()
            .map(|c| Certificate::from_der(c.as_ref()).to_owned())
            .collect();
        let trust = Trust::from_found(certs, &errors, variables)?;
        match ca_cert {
            Some(path) => trust.with_bundle(path),
            None => Ok(trust),
        }
    }

    /// Mozilla's roots alone: what the host trusts when nothing else is
    /// asked (loopback demos, tests).
    pub fn bundled() -> Trust {
        let roots: Vec<Certificate<'static>> = webpki_root_certs::TLS_SERVER_ROOT_CERTS
            .iter()
            .map(|c| Certificate::from_der(c.as_ref()).to_owned())
            .collect();
        Trust {
            base: roots.len(),
            roots: Arc::new(roots),
            source: TrustSource::Bundled,
            extra: None,
        }
    }

    /// The base set from what the store (or the variables) gave.
    fn from_found(certs: Vec<Certificate<'static>>, errors: &[String], variables: bool) -> Result<Trust, TrustError> {
        if variables && certs.is_empty() {
            let why = if errors.is_empty() {
                "no certificate in it".to_string()
            } else {
                errors.join("; ")
            };
            return Err(TrustError::Variables(format!(
                "SSL_CERT_FILE / SSL_CERT_DIR gave no CA certificate ({why})"
            )));
        }
        if !errors.is_empty() {
            tracing::warn!(target: "ghl_rankr::tls", errors = %errors.join("; "), "some CA certificates could not be read");
        }
        if certs.is_empty() {
            tracing::info!(target: "ghl_rankr::tls", "the system has no CA certificates: trusting the bundled Mozilla roots");
            return Ok(Trust::bundled());
        }
        Ok(Trust {
            base: certs.len(),
            roots: Arc::new(certs),
            source: if variables {
                TrustSource::Variables
            } else {
                TrustSource::System
            },
            extra: None,
        })
    }

    /// These roots and the CA certificates of the PEM (or DER) file at `path`.
    pub fn with_bundle(mut self, path: &Path) -> Result<Trust, TrustError> {
        let refuse = |problem: String| TrustError::CaCert {
            path: path.to_path_buf(),
            problem,
        };
        let bytes = std::fs::read(path).map_err(|e| refuse(format!("cannot be read: {e}")))?;
        let certs = read_bundle(&bytes).map_err(refuse)?;
        self.extra = Some((path.to_path_buf(), certs.len()));
        Arc::make_mut(&mut self.roots).extend(certs);
        Ok(self)
    }

    pub fn roots(&self) -> &Arc<Vec<Certificate<'static>>> {
        &self.roots
    }

    pub fn source(&self) -> TrustSource {
        self.source
    }
}

impl fmt::Display for Trust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let base = match self.source {
            TrustSource::System => "the system's store",
            TrustSource::Variables => "SSL_CERT_FILE / SSL_CERT_DIR",
            TrustSource::Bundled => "the bundled Mozilla roots",
        };
        write!(f, "{} CAs from {base}", self.base)?;
        if let Some((path, n)) = &self.extra {
            write!(f, " and {n} from {}", path.display())?;
        }
        Ok(())
    }
}

/// Every certificate of a PEM bundle (other PEM items, such as a key, are
/// skipped), or a single DER certificate. Each must parse as a trust anchor.
fn read_bundle(bytes: &[u8]) -> Result<Vec<Certificate<'static>>, String> {
    let certs: Vec<Certificate<'static>> = if bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        let mut certs = Vec::new();
        for item in ureq::tls::parse_pem(bytes) {
            match item {
                Ok(PemItem::Certificate(c)) => certs.push(c),
                Ok(_) => {}
                Err(e) => return Err(format!("is not valid PEM ({e})")),
            }
        }
        certs
    } else if bytes.is_empty() {
        Vec::new()
    } else {
        let der = rustls::pki_types::CertificateDer::from(bytes);
        if rustls::RootCertStore::empty().add(der).is_err() {
            return Err("is neither PEM (no -----BEGIN CERTIFICATE-----) nor a DER certificate".into());
        }
        vec![Certificate::from_der(bytes).to_owned()]
    };
    if certs.is_empty() {
        return Err("holds no certificate".into());
    }
    for (i, cert) in certs.iter().enumerate() {
        let der = rustls::pki_types::CertificateDer::from(cert.der());
        rustls::RootCertStore::empty()
            .add(der)
            .map_err(|e| format!("holds a certificate (number {}) that does not parse: {e}", i + 1))?;
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ca_pem() -> String {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.self_signed(&key).unwrap().pem()
    }

    #[test]
    fn a_bundle_adds_its_certificates_and_skips_keys() {
        let pem = format!(
            "{}{}-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            ca_pem(),
            ca_pem()
        );
        let certs = read_bundle(pem.as_bytes()).unwrap();
        assert_eq!(certs.len(), 2);
        let der = certs[0].der().to_vec();
        assert_eq!(read_bundle(&der).unwrap().len(), 1, "a DER file is one certificate");
    }

    #[test]
    fn a_bad_bundle_says_what_is_wrong() {
        assert_eq!(read_bundle(b"").unwrap_err(), "holds no certificate");
        assert_eq!(
            read_bundle(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").unwrap_err(),
            "holds no certificate"
        );
        let e = read_bundle(b"not a certificate at all").unwrap_err();
        assert!(e.contains("neither PEM"), "{e}");
        let e = read_bundle(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").unwrap_err();
        assert!(e.contains("number 1") && e.contains("does not parse"), "{e}");
        let e = Trust::bundled()
            .with_bundle(Path::new("/nonexistent/ca.pem"))
            .err()
            .unwrap();
        let text = e.to_string();
        assert!(
            text.contains("/nonexistent/ca.pem") && text.contains("--ca-cert"),
            "{text}"
        );
    }

    #[test]
    fn the_variables_must_give_certificates_the_system_may_give_none() {
        let e = Trust::from_found(vec![], &["cannot open /x.pem".into()], true)
            .err()
            .unwrap();
        let text = e.to_string();
        assert!(text.contains("/x.pem") && text.contains("SSL_CERT_FILE"), "{text}");
        let t = Trust::from_found(vec![], &[], false).unwrap();
        assert_eq!(t.source(), TrustSource::Bundled);
        assert!(t.roots().len() > 100, "Mozilla's roots: {}", t.roots().len());
        let one = read_bundle(ca_pem().as_bytes()).unwrap();
        let t = Trust::from_found(one, &[], true).unwrap();
        assert_eq!((t.source(), t.roots().len()), (TrustSource::Variables, 1));
        assert!(t.to_string().starts_with("1 CAs from SSL_CERT_FILE"), "{t}");
    }
}
