//! TLS failures that a retry cannot fix, told apart from broken
//! connections: the component gets them as `tls`, final, with the problem,
//! the host, and what the user can do.

use std::time::{Duration, UNIX_EPOCH};

/// The message for a TLS refusal of `host` (`host:port`), if `e` is one.
pub fn tls_refusal(e: &ureq::Error, host: &str) -> Option<String> {
    let rustls_error = match e {
        ureq::Error::Rustls(r) => r,
        ureq::Error::Io(io) => io.get_ref()?.downcast_ref::<rustls::Error>()?,
        _ => return None,
    };
    let (problem, fix) = describe(rustls_error)?;
    Some(format!("{host}: {problem}. {fix}"))
}

const TRUST_A_CA: &str = "If it uses a private CA, or a proxy on this network inspects TLS, trust that CA: --ca-cert FILE, `ca_cert` in the settings, or SSL_CERT_FILE";
const RENEW: &str = "The server must renew it, unless this machine's clock is wrong";
const NAME: &str = "Use a base URL with a name the certificate holds, or have the server present its own certificate";
const CLOCK: &str = "Check this machine's clock";
const HANDSHAKE: &str =
    "The server may require a client certificate, or a TLS version or cipher this client does not offer (TLS 1.2 and 1.3)";

/// What went wrong and what to do, for the failures that are final.
fn describe(e: &rustls::Error) -> Option<(String, &'static str)> {
    use rustls::CertificateError as C;
    Some(match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer => (
                "its certificate is signed by an issuer this machine does not trust (unknown issuer)".into(),
                TRUST_A_CA,
            ),
            C::Expired => ("its certificate has expired".into(), RENEW),
            C::ExpiredContext { time, not_after } => (
                format!(
                    "its certificate expired on {} (it is now {})",
                    date(not_after.as_secs()),
                    date(time.as_secs())
                ),
                RENEW,
            ),
            C::NotValidYet => ("its certificate is not valid yet".into(), CLOCK),
            C::NotValidYetContext { time, not_before } => (
                format!(
                    "its certificate is not valid before {} (it is now {})",
                    date(not_before.as_secs()),
                    date(time.as_secs())
                ),
                CLOCK,
            ),
            C::NotValidForName => ("its certificate is for another name".into(), NAME),
            C::NotValidForNameContext { expected, presented } => {
                // rustls shows each name as `DnsName("a.example")`.
                let names: Vec<&str> = presented.iter().map(|n| n.split('"').nth(1).unwrap_or(n)).collect();
                let names = if names.is_empty() {
                    "no name".to_string()
                } else {
                    names.join(", ")
                };
                (
                    format!(
                        "its certificate is for another name: {names}, not {}",
                        expected.to_str()
                    ),
                    NAME,
                )
            }
            C::Revoked => ("its certificate was revoked".into(), RENEW),
            other => (format!("its certificate was refused ({other})"), TRUST_A_CA),
        },
        rustls::Error::AlertReceived(alert) => (
            format!("the server refused the TLS handshake (alert: {alert:?})"),
            HANDSHAKE,
        ),
        rustls::Error::PeerIncompatible(why) => (
            format!("the server and this client have no TLS version or cipher in common ({why:?})"),
            HANDSHAKE,
        ),
        rustls::Error::NoCertificatesPresented => ("the server presented no certificate".into(), HANDSHAKE),
        _ => return None,
    })
}

/// `2021-01-01T00:00:00Z`.
fn date(secs: u64) -> String {
    time::OffsetDateTime::from(UNIX_EPOCH + Duration::from_secs(secs))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| format!("{secs} s after 1970"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::UnixTime;
    use rustls::CertificateError as C;

    fn refusal(e: rustls::Error) -> Option<String> {
        tls_refusal(
            &ureq::Error::Io(std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
            "api.rankr.io:443",
        )
    }

    #[test]
    fn each_refusal_names_the_problem_the_host_and_the_fix() {
        let m = refusal(rustls::Error::InvalidCertificate(C::UnknownIssuer)).unwrap();
        assert!(m.starts_with("api.rankr.io:443: its certificate"), "{m}");
        assert!(
            m.contains("unknown issuer") && m.contains("--ca-cert") && m.contains("SSL_CERT_FILE"),
            "{m}"
        );

        let m = refusal(rustls::Error::InvalidCertificate(C::ExpiredContext {
            time: UnixTime::since_unix_epoch(Duration::from_secs(1_796_083_200)),
            not_after: UnixTime::since_unix_epoch(Duration::from_secs(1_609_459_200)),
        }))
        .unwrap();
        assert!(
            m.contains("expired on 2021-01-01T00:00:00Z (it is now 2026-12-01T00:00:00Z)"),
            "{m}"
        );

        let m = refusal(rustls::Error::InvalidCertificate(C::NotValidForName)).unwrap();
        assert!(m.contains("another name") && m.contains("base URL"), "{m}");
        let m = refusal(rustls::Error::InvalidCertificate(C::NotValidForNameContext {
            expected: rustls::pki_types::ServerName::try_from("api.rankr.io").unwrap(),
            presented: vec![
                "DnsName(\"other.example\")".into(),
                "DnsName(\"*.other.example\")".into(),
            ],
        }))
        .unwrap();
        assert!(
            m.contains("for another name: other.example, *.other.example, not api.rankr.io"),
            "{m}"
        );

        let m = refusal(rustls::Error::AlertReceived(rustls::AlertDescription::HandshakeFailure)).unwrap();
        assert!(
            m.contains("refused the TLS handshake") && m.contains("HandshakeFailure"),
            "{m}"
        );
    }

    #[test]
    fn broken_connections_are_not_refusals() {
        assert!(refusal(rustls::Error::DecryptError).is_none());
        let reset = ureq::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert!(tls_refusal(&reset, "h:1").is_none());
        assert!(tls_refusal(&ureq::Error::ConnectionFailed, "h:1").is_none());
        let direct = ureq::Error::Rustls(rustls::Error::InvalidCertificate(C::UnknownIssuer));
        assert!(tls_refusal(&direct, "h:1").is_some());
    }
}
