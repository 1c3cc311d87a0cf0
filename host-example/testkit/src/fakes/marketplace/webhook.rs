//! INSTALL / UNINSTALL webhooks as HighLevel sends them: the payloads of
//! `docs/AppInstall.md` and `docs/AppUninstall.md` (and the SDK's bulk
//! install, `locationIds`), with `timestamp` and `webhookId`, signed over
//! the exact body bytes twice: `x-ghl-signature`, Ed25519, and
//! `x-wh-signature`, RSA-SHA256 (PKCS#1 v1.5), each base64 (standard
//! alphabet, padded) as `docs/WebhookAuthentication.md` verifies it.
//!
//! The keys are the fixed TEST-ONLY pairs in `test-keys/`: nothing is
//! generated while a test runs.

use super::MarketplaceState;
use crate::fakes::ghl::{iso, wall_ms};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
// The PKCS#8 / SPKI traits are one crate's, which both key types implement.
use rsa::pkcs8::{DecodePrivateKey as _, EncodePublicKey as _, LineEnding};
use rsa::signature::{SignatureEncoding as _, Signer as _};
use serde::Serialize;
use serde_json::Value;
use sha2::Sha256;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// Where the TEST-ONLY key files are (PEM), for a configuration that wants
/// a path: `webhook-rsa-primary.pub.pem`, `webhook-ed25519-primary.pub.pem`,
/// and the `rotated` pair.
pub const TEST_KEYS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/test-keys");

const RSA_PRIMARY: &str = include_str!("../../../test-keys/webhook-rsa-primary.key.pem");
const ED25519_PRIMARY: &str = include_str!("../../../test-keys/webhook-ed25519-primary.key.pem");
const RSA_ROTATED: &str = include_str!("../../../test-keys/webhook-rsa-rotated.key.pem");
const ED25519_ROTATED: &str = include_str!("../../../test-keys/webhook-ed25519-rotated.key.pem");

/// The seed of a key nobody trusts: what a forger signs with.
const FORGER_SEED: [u8; 32] = [0x66; 32];

/// The signing keys of the fake HighLevel, with their public halves.
#[derive(Clone)]
pub struct WebhookKeys {
    rsa: rsa::pkcs1v15::SigningKey<Sha256>,
    ed25519: ed25519_dalek::SigningKey,
    rsa_public_pem: String,
    ed25519_public_pem: String,
}

impl std::fmt::Debug for WebhookKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookKeys")
            .field("ed25519_public", &self.ed25519_public_key_base64())
            .finish_non_exhaustive()
    }
}

impl WebhookKeys {
    /// The primary TEST-ONLY pair (`test-keys/*-primary.*`), parsed once a
    /// process.
    pub fn test() -> Self {
        static KEYS: OnceLock<WebhookKeys> = OnceLock::new();
        KEYS.get_or_init(|| Self::from_pem(RSA_PRIMARY, ED25519_PRIMARY).expect("the bundled test keys parse"))
            .clone()
    }

    /// The second TEST-ONLY pair (`test-keys/*-rotated.*`): HighLevel's keys
    /// after a rotation.
    pub fn test_rotated() -> Self {
        static KEYS: OnceLock<WebhookKeys> = OnceLock::new();
        KEYS.get_or_init(|| Self::from_pem(RSA_ROTATED, ED25519_ROTATED).expect("the bundled test keys parse"))
            .clone()
    }

    /// Keys from PKCS#8 PEM private keys: an RSA one and an Ed25519 one.
    pub fn from_pem(rsa_private_pem: &str, ed25519_private_pem: &str) -> Result<Self, String> {
        let private = rsa::RsaPrivateKey::from_pkcs8_pem(rsa_private_pem).map_err(|e| format!("RSA key: {e}"))?;
        let rsa_public_pem = private
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| format!("RSA public key: {e}"))?;
        let ed25519 =
            ed25519_dalek::SigningKey::from_pkcs8_pem(ed25519_private_pem).map_err(|e| format!("Ed25519 key: {e}"))?;
        let ed25519_public_pem = ed25519
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| format!("Ed25519 public key: {e}"))?;
        Ok(WebhookKeys {
            rsa: rsa::pkcs1v15::SigningKey::new(private),
            ed25519,
            rsa_public_pem,
            ed25519_public_pem,
        })
    }

    /// The RSA public key, to verify `x-wh-signature`.
    pub fn rsa_public_key(&self) -> rsa::RsaPublicKey {
        self.rsa.as_ref().to_public_key()
    }

    /// The RSA public key as SPKI PEM (`-----BEGIN PUBLIC KEY-----`), the
    /// form `WebhookAuthentication.md` prints HighLevel's in.
    pub fn rsa_public_key_pem(&self) -> &str {
        &self.rsa_public_pem
    }

    /// The Ed25519 public key, to verify `x-ghl-signature`.
    pub fn ed25519_verifying_key(&self) -> ed25519_dalek::VerifyingKey {
        self.ed25519.verifying_key()
    }

    /// The Ed25519 public key as SPKI PEM.
    pub fn ed25519_public_key_pem(&self) -> &str {
        &self.ed25519_public_pem
    }

    /// The Ed25519 public key's SPKI DER in base64 (`MCowBQYDK2VwAyEA…`),
    /// the body of its PEM, as HighLevel's samples embed its key.
    pub fn ed25519_public_key_spki_base64(&self) -> String {
        self.ed25519_public_pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect()
    }

    /// The Ed25519 public key's 32 bytes in base64.
    pub fn ed25519_public_key_base64(&self) -> String {
        BASE64.encode(self.ed25519.verifying_key().as_bytes())
    }

    /// `x-ghl-signature` of `body`.
    pub fn sign_ed25519(&self, body: &[u8]) -> String {
        BASE64.encode(self.ed25519.sign(body).to_bytes())
    }

    /// `x-wh-signature` of `body`.
    pub fn sign_rsa(&self, body: &[u8]) -> String {
        BASE64.encode(self.rsa.sign(body).to_bytes())
    }
}

/// The Ed25519 signature's header.
pub const GHL_SIGNATURE: &str = "x-ghl-signature";
/// The RSA-SHA256 signature's header.
pub const WH_SIGNATURE: &str = "x-wh-signature";

/// A webhook ready to send: the body and its headers (`Content-Type` and
/// both signatures).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedWebhook {
    pub body: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

impl SignedWebhook {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (none if a tampered body is not JSON).
    pub fn payload(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    pub fn webhook_id(&self) -> Option<String> {
        self.payload()?.get("webhookId")?.as_str().map(str::to_string)
    }

    /// Another body under the signatures made for this one: a tampered
    /// webhook.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// `x-ghl-signature` made by a key nobody trusts, over this body: a
    /// well-formed forgery.
    pub fn with_forged_ed25519(self) -> Self {
        let forger = ed25519_dalek::SigningKey::from_bytes(&FORGER_SEED);
        let forged = BASE64.encode(forger.sign(&self.body).to_bytes());
        self.with_header(GHL_SIGNATURE, &forged)
    }

    /// `x-wh-signature` with one bit changed: well-formed, and wrong.
    pub fn with_forged_rsa(self) -> Self {
        let mut sig = self
            .header(WH_SIGNATURE)
            .and_then(|s| BASE64.decode(s).ok())
            .unwrap_or_else(|| vec![0; 256]);
        if let Some(last) = sig.last_mut() {
            *last ^= 1;
        }
        let forged = BASE64.encode(sig);
        self.with_header(WH_SIGNATURE, &forged)
    }

    /// Sets a header (replacing one of that name).
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Drops a header (a webhook without one of its signatures).
    pub fn without_header(mut self, name: &str) -> Self {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self
    }
}

/// `type` of an app event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
enum AppEventType {
    Install,
    Uninstall,
}

/// The App webhook's schema (`docs/AppInstall.md`), with the SDK's
/// `locationIds` for a bulk install.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct AppEvent {
    r#type: AppEventType,
    app_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    company_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    location_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    location_ids: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    company_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    is_whitelabel_company: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    whitelabel_details: Option<Value>,
}

/// Makes each `webhookId` new within the process; the time makes it new
/// across processes.
static WEBHOOKS: AtomicU64 = AtomicU64::new(0);

impl MarketplaceState {
    fn event(&self, kind: AppEventType) -> AppEvent {
        AppEvent {
            r#type: kind,
            app_id: self.app_id().to_string(),
            company_id: Some(self.company_id.clone()),
            location_id: None,
            location_ids: None,
            user_id: None,
            company_name: None,
            is_whitelabel_company: None,
            whitelabel_details: None,
        }
    }

    /// INSTALL on one sub-account, as AppInstall.md's location-level example
    /// (a company that is not white-labelled).
    pub fn install_event(&self, location: &str) -> Value {
        let mut e = self.event(AppEventType::Install);
        e.location_id = Some(location.into());
        e.user_id = Some(self.user_id.clone());
        e.company_name = Some(self.company_name.clone());
        e.is_whitelabel_company = Some(false);
        e.whitelabel_details = Some(Value::Object(Default::default()));
        to_value(e)
    }

    /// INSTALL at agency level: no `locationId`.
    pub fn agency_install_event(&self) -> Value {
        to_value(self.event(AppEventType::Install))
    }

    /// INSTALL on several sub-accounts at once: `locationIds` (the SDK's
    /// bulk install).
    pub fn bulk_install_event(&self, locations: &[&str]) -> Value {
        let mut e = self.event(AppEventType::Install);
        e.location_ids = Some(locations.iter().map(|l| l.to_string()).collect());
        e.user_id = Some(self.user_id.clone());
        to_value(e)
    }

    /// INSTALL on a new sub-account "via future locations": without
    /// `companyId` and `userId`, as AppInstall.md warns it may come.
    pub fn future_location_install_event(&self, location: &str) -> Value {
        let mut e = self.event(AppEventType::Install);
        e.company_id = None;
        e.location_id = Some(location.into());
        to_value(e)
    }

    /// UNINSTALL from one sub-account: `locationId` only.
    pub fn uninstall_event(&self, location: &str) -> Value {
        let mut e = self.event(AppEventType::Uninstall);
        e.company_id = None;
        e.location_id = Some(location.into());
        to_value(e)
    }

    /// UNINSTALL from the agency: `companyId` only.
    pub fn agency_uninstall_event(&self) -> Value {
        to_value(self.event(AppEventType::Uninstall))
    }

    /// `payload` signed now: `timestamp` (now) and `webhookId` (new) are
    /// filled when missing.
    pub fn webhook(&self, payload: Value) -> SignedWebhook {
        self.webhook_at(payload, wall_ms())
    }

    /// The same with `timestamp` taken as `at_ms` when missing: an old
    /// `at_ms` makes a stale webhook, still validly signed.
    pub fn webhook_at(&self, mut payload: Value, at_ms: u64) -> SignedWebhook {
        if let Some(fields) = payload.as_object_mut() {
            fields.entry("timestamp").or_insert_with(|| Value::String(iso(at_ms)));
            fields.entry("webhookId").or_insert_with(|| {
                let n = WEBHOOKS.fetch_add(1, Ordering::Relaxed) + 1;
                Value::String(format!("wh-{:x}-{n:04}", wall_ms()))
            });
        }
        let body = serde_json::to_vec(&payload).unwrap_or_default();
        let keys = &self.webhook_keys;
        SignedWebhook {
            headers: vec![
                ("Content-Type".into(), "application/json".into()),
                (GHL_SIGNATURE.into(), keys.sign_ed25519(&body)),
                (WH_SIGNATURE.into(), keys.sign_rsa(&body)),
            ],
            body,
        }
    }
}

fn to_value(e: AppEvent) -> Value {
    serde_json::to_value(e).unwrap_or_default()
}
