//! `POST /webhooks/ghl`: INSTALL and UNINSTALL, as HighLevel sends them to
//! the app's default webhook URL (`docs/AppInstall.md`,
//! `docs/AppUninstall.md`).
//!
//! A webhook is believed only when, over the raw body bytes received:
//! - `x-ghl-signature` is a valid Ed25519 signature under the configured
//!   key (preferred: when it is present and a key is configured, it alone
//!   decides), or else
//! - `x-wh-signature` is a valid RSA-SHA256 (PKCS#1 v1.5) signature under
//!   the configured RSA key (by default the one `docs/WebhookAuthentication.md`
//!   prints), unless `legacy_rsa = false`;
//! - its `timestamp` is within 5 minutes of now, and its `appId` is this
//!   app's.
//!
//! Anything else is 401 and changes nothing. A `webhookId` seen before is
//! acknowledged (200) and not acted on again: its effects were committed
//! with it.

use super::Installs;
use crate::serve::audit::{Action, Entry, Verdict};
use crate::serve::config::AppConfig;
use crate::serve::db::WebhookEffects;
use crate::serve::reply::Reply;
use crate::serve::state::AppState;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::pkcs8::DecodePublicKey as _;
use ghl_rankr_host::clock::Clock;
use rsa::pkcs1::DecodeRsaPublicKey as _;
use rsa::signature::Verifier as _;
use serde::Deserialize;
use serde_json::json;
use sha2::Digest as _;

/// The Ed25519 signature's header.
pub const GHL_SIGNATURE: &str = "x-ghl-signature";
/// The RSA-SHA256 signature's header.
pub const WH_SIGNATURE: &str = "x-wh-signature";
/// How far a webhook's `timestamp` may be from now.
pub const MAX_SKEW_MS: u64 = 5 * 60 * 1000;
/// The largest webhook body read.
pub const MAX_BODY: usize = 64 * 1024;

/// The keys webhooks are checked with.
#[derive(Debug)]
pub struct Verifier {
    ed25519: Option<ed25519_dalek::VerifyingKey>,
    /// None: `x-wh-signature` is not accepted.
    rsa: Option<rsa::pkcs1v15::VerifyingKey<sha2::Sha256>>,
}

impl Verifier {
    /// The keys of `[app]`; a key that does not parse is refused at start.
    pub fn new(app: &AppConfig) -> Result<Verifier, String> {
        let ed25519 = app
            .webhook_ed25519_key
            .as_deref()
            .map(ed25519_key)
            .transpose()
            .map_err(|e| format!("app.webhook_ed25519_key: {e}"))?;
        let rsa = match app.legacy_rsa {
            false => None,
            true => Some(rsa_key(&app.webhook_rsa_key).map_err(|e| format!("app.webhook_rsa_key: {e}"))?),
        };
        if ed25519.is_none() && rsa.is_none() {
            return Err("app: legacy_rsa = false and no webhook_ed25519_key: no webhook could be verified; set webhook_ed25519_key".into());
        }
        Ok(Verifier {
            ed25519,
            rsa: rsa.map(rsa::pkcs1v15::VerifyingKey::new),
        })
    }

    /// Whether `body` is signed by HighLevel, and by which header.
    pub fn verify(&self, ghl: Option<&str>, wh: Option<&str>, body: &[u8]) -> Result<&'static str, Refusal> {
        if let (Some(key), Some(sig)) = (&self.ed25519, ghl) {
            let sig = BASE64
                .decode(sig.trim())
                .ok()
                .and_then(|b| ed25519_dalek::Signature::from_slice(&b).ok())
                .ok_or(Refusal::BadSignature(GHL_SIGNATURE))?;
            return key
                .verify_strict(body, &sig)
                .map(|_| GHL_SIGNATURE)
                .map_err(|_| Refusal::BadSignature(GHL_SIGNATURE));
        }
        match (&self.rsa, wh) {
            (Some(key), Some(sig)) => {
                let sig = BASE64
                    .decode(sig.trim())
                    .ok()
                    .and_then(|b| rsa::pkcs1v15::Signature::try_from(b.as_slice()).ok())
                    .ok_or(Refusal::BadSignature(WH_SIGNATURE))?;
                key.verify(body, &sig)
                    .map(|_| WH_SIGNATURE)
                    .map_err(|_| Refusal::BadSignature(WH_SIGNATURE))
            }
            (None, Some(_)) if ghl.is_none() => Err(Refusal::LegacyOff),
            _ => Err(Refusal::Unsigned),
        }
    }
}

/// An Ed25519 public key: SPKI PEM, SPKI DER in base64, or its 32 bytes
/// in base64.
fn ed25519_key(text: &str) -> Result<ed25519_dalek::VerifyingKey, String> {
    let text = text.trim();
    if text.starts_with("-----BEGIN") {
        return ed25519_dalek::VerifyingKey::from_public_key_pem(text).map_err(|e| e.to_string());
    }
    let bytes = BASE64
        .decode(text)
        .map_err(|_| "not a PEM key nor base64".to_string())?;
    match <[u8; 32]>::try_from(bytes.as_slice()) {
        Ok(raw) => ed25519_dalek::VerifyingKey::from_bytes(&raw).map_err(|e| e.to_string()),
        Err(_) => ed25519_dalek::VerifyingKey::from_public_key_der(&bytes).map_err(|e| e.to_string()),
    }
}

/// An RSA public key: SPKI PEM (`BEGIN PUBLIC KEY`, as the docs print it)
/// or PKCS#1 PEM (`BEGIN RSA PUBLIC KEY`).
fn rsa_key(text: &str) -> Result<rsa::RsaPublicKey, String> {
    use rsa::pkcs8::DecodePublicKey as _;
    let text = text.trim();
    rsa::RsaPublicKey::from_public_key_pem(text)
        .or_else(|_| rsa::RsaPublicKey::from_pkcs1_pem(text))
        .map_err(|e| format!("not an RSA public key in PEM: {e}"))
}

/// Why a webhook is not believed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Unsigned,
    /// Only `x-wh-signature` came, and `legacy_rsa = false`.
    LegacyOff,
    BadSignature(&'static str),
    NotJson(String),
    NoTimestamp,
    Stale {
        skew_secs: u64,
    },
    OtherApp(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Unsigned => write!(
                f,
                "the webhook is not signed: {GHL_SIGNATURE} or {WH_SIGNATURE} is required"
            ),
            Refusal::LegacyOff => write!(
                f,
                "only {WH_SIGNATURE} came, and app.legacy_rsa = false: {GHL_SIGNATURE} is required"
            ),
            Refusal::BadSignature(h) => write!(f, "{h} does not verify over the body"),
            Refusal::NotJson(e) => write!(f, "the signed body is not an app event: {e}"),
            Refusal::NoTimestamp => f.write_str("the webhook has no timestamp"),
            Refusal::Stale { skew_secs } => {
                write!(f, "the webhook's timestamp is {skew_secs} s from now (at most 300 s)")
            }
            Refusal::OtherApp(id) => write!(f, "the webhook is for app {id:?}, not this one"),
        }
    }
}

/// `type` of an app event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum EventType {
    Install,
    Uninstall,
    #[serde(other)]
    Other,
}

/// The app event's fields this service acts on.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppEvent {
    pub r#type: EventType,
    pub app_id: String,
    #[serde(default)]
    pub company_id: Option<String>,
    #[serde(default)]
    pub location_id: Option<String>,
    #[serde(default)]
    pub location_ids: Option<Vec<String>>,
    #[serde(default)]
    pub timestamp: Option<String>,
    #[serde(default)]
    pub webhook_id: Option<String>,
}

impl AppEvent {
    /// The sub-accounts it names: `locationId`, or a bulk install's
    /// `locationIds`.
    fn locations(&self) -> Vec<String> {
        let mut all: Vec<String> = self.location_id.iter().cloned().collect();
        all.extend(self.location_ids.iter().flatten().cloned());
        all.retain(|l| !l.trim().is_empty());
        all.sort();
        all.dedup();
        all
    }
}

/// Reads and checks a verified body at `now_ms`.
pub fn event(body: &[u8], app_id: &str, now_ms: u64) -> Result<AppEvent, Refusal> {
    let e: AppEvent = serde_json::from_slice(body).map_err(|e| Refusal::NotJson(e.to_string()))?;
    let at = e
        .timestamp
        .as_deref()
        .and_then(|t| time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok())
        .ok_or(Refusal::NoTimestamp)?;
    let at_ms = u64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    let skew = now_ms.abs_diff(at_ms);
    if skew > MAX_SKEW_MS {
        return Err(Refusal::Stale { skew_secs: skew / 1000 });
    }
    if e.app_id != app_id {
        return Err(Refusal::OtherApp(e.app_id));
    }
    Ok(e)
}

/// `POST /webhooks/ghl` with its signature headers and raw body.
pub fn receive(state: &AppState, installs: &Installs, ghl: Option<&str>, wh: Option<&str>, body: &[u8]) -> Reply {
    let now = state.clock.now_ms();
    let checked = installs
        .verifier
        .verify(ghl, wh, body)
        .and_then(|by| event(body, installs.app_id(), now).map(|e| (by, e)));
    let (by, e) = match checked {
        Ok(ok) => ok,
        Err(refusal) => {
            // Not written anywhere but the log: an unverified body may not
            // change the database, the audit log included.
            tracing::warn!(target: "ghl_rankr::serve", why = %refusal, "a webhook is refused");
            state.metrics.webhook("refused");
            return Reply::problem(401, &refusal.to_string());
        }
    };
    // A webhook without an id is known by its bytes.
    let id = e
        .webhook_id
        .clone()
        .filter(|i| !i.trim().is_empty())
        .unwrap_or_else(|| {
            let digest = sha2::Sha256::digest(body);
            format!(
                "sha256:{}",
                digest.iter().map(|b| format!("{b:02x}")).collect::<String>()
            )
        });
    let locations = e.locations();
    if let Some(bad) = locations.iter().find(|l| !super::valid_location(l)) {
        state.metrics.webhook("refused");
        return Reply::problem(400, &format!("location id {bad:?} is not a GHL id"));
    }
    let mut effects = WebhookEffects::default();
    let mut relist = None;
    let words = match (e.r#type, locations.is_empty()) {
        (EventType::Install, false) => {
            effects.installs = locations
                .iter()
                .map(|l| installs.install_of(l, e.company_id.as_deref(), None, now))
                .collect();
            format!("INSTALL of {} sub-accounts ({})", locations.len(), locations.join(", "))
        }
        (EventType::Install, true) => {
            relist = e.company_id.clone();
            format!("INSTALL for agency {}", e.company_id.as_deref().unwrap_or("?"))
        }
        (EventType::Uninstall, false) => {
            effects.stops = locations.clone();
            format!("UNINSTALL of {}", locations.join(", "))
        }
        (EventType::Uninstall, true) => {
            effects.agency_uninstalled = e.company_id.clone();
            format!("UNINSTALL of agency {}", e.company_id.as_deref().unwrap_or("?"))
        }
        (EventType::Other, _) => "an event this service does not act on".into(),
    };
    let duplicate = match state.db.accept_webhook(&id, &effects, now) {
        Ok(d) => d,
        Err(err) => {
            tracing::error!(target: "ghl_rankr::serve", error = %err, "cannot record a webhook");
            // Not acknowledged: HighLevel sends it again.
            return Reply::problem(503, "cannot record the webhook now; send it again");
        }
    };
    if duplicate {
        state.metrics.webhook("duplicate");
        return Reply::json(200, &json!({"accepted": true, "duplicate": true, "webhook_id": id}));
    }
    if let Some(company) = &relist {
        if let Err(err) = state.db.relist_agency(company) {
            tracing::error!(target: "ghl_rankr::serve", error = %err, "cannot mark the agency for listing");
        }
    }
    let action = match e.r#type {
        EventType::Uninstall => Action::Uninstall,
        _ => Action::Install,
    };
    if e.r#type != EventType::Other {
        let entry = Entry::new(now, "webhook", action, Verdict::Ok)
            .on(locations.first().cloned().or(e.company_id.clone()).unwrap_or_default())
            .saying(format!("{words}; signed by {by}; webhook {id}"));
        if let Err(err) = state.db.record(&entry) {
            tracing::error!(target: "ghl_rankr::serve", error = %err, "cannot record the webhook in the audit log");
        }
    }
    tracing::info!(target: "ghl_rankr::serve", webhook = %id, signed_by = by, "{words}");
    state.metrics.webhook("accepted");
    installs.wake();
    Reply::json(
        200,
        &json!({
            "accepted": true,
            "duplicate": false,
            "webhook_id": id,
            "installs": effects.installs.len(),
            "stops": effects.stops.len() + usize::from(effects.agency_uninstalled.is_some()),
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use ghl_rankr_testkit::fakes::marketplace::{MarketplaceState, WebhookKeys};

    fn app(keys: &WebhookKeys, legacy: bool, ed: bool) -> AppConfig {
        let text = format!(
            r#"
[app]
client_id_env = "ID"
client_secret_env = "SECRET"
public_url = "http://127.0.0.1:9"
legacy_rsa = {legacy}
{ed}
webhook_rsa_key = """{rsa}"""
[template]
name = "social-{{location}}"
rankr_api_key_env = "RANKR"
dashboard = "dash-{{location}}"
"#,
            rsa = keys.rsa_public_key_pem(),
            ed = if ed {
                format!("webhook_ed25519_key = \"{}\"", keys.ed25519_public_key_spki_base64())
            } else {
                String::new()
            },
        );
        crate::serve::config::ServeConfig::parse(&text, std::path::Path::new("."))
            .unwrap()
            .app
            .unwrap()
    }

    #[test]
    fn signatures_are_checked_over_the_raw_body_ed25519_first() {
        let s = MarketplaceState::seeded(2, 1, 1);
        let keys = &s.webhook_keys;
        let v = Verifier::new(&app(keys, true, true)).unwrap();
        let w = s.webhook(s.install_event("loc01"));
        let (ghl, wh) = (w.header(GHL_SIGNATURE), w.header(WH_SIGNATURE));
        assert_eq!(v.verify(ghl, wh, &w.body), Ok(GHL_SIGNATURE));
        // A forged Ed25519 signature is refused though the RSA one is good.
        let f = w.clone().with_forged_ed25519();
        assert_eq!(
            v.verify(f.header(GHL_SIGNATURE), f.header(WH_SIGNATURE), &f.body),
            Err(Refusal::BadSignature(GHL_SIGNATURE))
        );
        // Without the Ed25519 header, RSA decides: over another body, no.
        let r = w.clone().without_header(GHL_SIGNATURE);
        assert_eq!(v.verify(None, r.header(WH_SIGNATURE), &r.body), Ok(WH_SIGNATURE));
        let mut other = r.body.clone();
        other.push(b' ');
        assert_eq!(
            v.verify(None, r.header(WH_SIGNATURE), &other),
            Err(Refusal::BadSignature(WH_SIGNATURE))
        );
        assert_eq!(v.verify(None, None, &w.body), Err(Refusal::Unsigned));
        assert_eq!(
            v.verify(Some("@@"), None, &w.body),
            Err(Refusal::BadSignature(GHL_SIGNATURE))
        );
        // Legacy off: only Ed25519.
        let strict = Verifier::new(&app(keys, false, true)).unwrap();
        assert_eq!(strict.verify(None, wh, &w.body), Err(Refusal::LegacyOff));
        // Another RSA key (the rotated one) does not verify the primary's.
        let rotated = Verifier::new(&app(&WebhookKeys::test_rotated(), true, false)).unwrap();
        assert_eq!(
            rotated.verify(None, wh, &w.body),
            Err(Refusal::BadSignature(WH_SIGNATURE))
        );
        assert!(Verifier::new(&app(keys, false, false)).is_err());
        let bad = AppConfig {
            webhook_ed25519_key: Some("not a key".into()),
            ..app(keys, true, true)
        };
        assert!(Verifier::new(&bad).err().unwrap().contains("webhook_ed25519_key"));
        // Its PEM and its 32 bytes in base64 are the same key.
        for form in [
            keys.ed25519_public_key_pem().to_string(),
            keys.ed25519_public_key_base64(),
        ] {
            let v = Verifier::new(&AppConfig {
                webhook_ed25519_key: Some(form),
                ..app(keys, false, true)
            })
            .unwrap();
            assert_eq!(v.verify(ghl, None, &w.body), Ok(GHL_SIGNATURE));
        }
    }

    #[test]
    fn a_stale_timestamp_or_another_app_is_refused() {
        let s = MarketplaceState::seeded(1, 1, 1);
        let now = 1_800_000_000_000;
        let w = s.webhook_at(s.install_event("loc00"), now - 6 * 60 * 1000);
        assert_eq!(
            event(&w.body, s.app_id(), now).unwrap_err(),
            Refusal::Stale { skew_secs: 360 }
        );
        let w = s.webhook_at(s.install_event("loc00"), now + 60 * 1000);
        let e = event(&w.body, s.app_id(), now).unwrap();
        assert_eq!(e.r#type, EventType::Install);
        assert_eq!(e.locations(), vec!["loc00"]);
        assert_eq!(
            event(&w.body, "someone-else", now).unwrap_err(),
            Refusal::OtherApp(s.app_id().into())
        );
        let bulk = s.webhook_at(s.bulk_install_event(&["b", "a", "b"]), now);
        assert_eq!(event(&bulk.body, s.app_id(), now).unwrap().locations(), vec!["a", "b"]);
        assert!(event(b"{}", s.app_id(), now)
            .unwrap_err()
            .to_string()
            .contains("app event"));
    }
}
