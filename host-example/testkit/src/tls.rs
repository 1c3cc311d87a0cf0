//! Certificates made on the spot: a private CA, and server certificates it
//! signs for the fakes on loopback, good or broken in the ways a user meets
//! (expired, for another name). Nothing is read from or written to a system
//! store.

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
pub use rustls::ServerConfig;
use std::sync::Arc;

/// A server certificate, as the fakes present it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerCert {
    /// Valid now, for `127.0.0.1` and `localhost`.
    Loopback,
    /// For `127.0.0.1` and `localhost`, but it expired on 2021-01-01.
    Expired,
    /// Valid now, for `other.example` only.
    OtherName,
}

/// A private certificate authority.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// Why certificates could not be made (rcgen or rustls refused).
#[derive(Debug)]
pub struct TlsSetupError(pub String);

impl std::fmt::Display for TlsSetupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "making test certificates: {}", self.0)
    }
}

impl std::error::Error for TlsSetupError {}

fn setup<E: std::fmt::Display>(e: E) -> TlsSetupError {
    TlsSetupError(e.to_string())
}

impl TestCa {
    /// A CA named `name` (its common name, shown by TLS tools).
    pub fn new(name: &str) -> Result<TestCa, TlsSetupError> {
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(setup)?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, name);
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().map_err(setup)?;
        Ok(TestCa {
            issuer: CertifiedIssuer::self_signed(params, key).map_err(setup)?,
        })
    }

    /// The CA's certificate, PEM: what `--ca-cert` or `SSL_CERT_FILE` takes.
    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A TLS server configuration presenting `kind`, signed by this CA.
    pub fn server(&self, kind: ServerCert) -> Result<Arc<ServerConfig>, TlsSetupError> {
        let names: Vec<String> = match kind {
            ServerCert::Loopback | ServerCert::Expired => vec!["127.0.0.1".into(), "localhost".into()],
            ServerCert::OtherName => vec!["other.example".into()],
        };
        let mut params = CertificateParams::new(names).map_err(setup)?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "ghl-rankr test server");
        params.distinguished_name = dn;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        if kind == ServerCert::Expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let key = KeyPair::generate().map_err(setup)?;
        let cert = params.signed_by(&key, &self.issuer).map_err(setup)?;
        let chain = vec![cert.der().clone(), CertificateDer::from(self.issuer.der().to_vec())];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(setup)?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(setup)?;
        Ok(Arc::new(config))
    }
}
