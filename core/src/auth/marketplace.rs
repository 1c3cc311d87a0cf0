//! The agency install's OAuth calls, in `spec/oauth.json`'s shapes
//! (sans-IO: requests built, answers read; the host sends them):
//!
//! - the consent URL (`docs/Authorization.md`'s v2 `chooselocation`);
//! - `POST /oauth/token`: the code grant, and the refresh grant of an
//!   agency's (`user_type=Company`) or a sub-account's pair;
//! - `GET /oauth/installedLocations`: the sub-accounts where the app is
//!   installed, paged;
//! - `POST /oauth/locationToken`: a sub-account's token from the agency's.
//!
//! What an outcome of the refresh grant means is [`super::refresh::judge`]'s,
//! for an agency's pair as for a sub-account's: an attempt goes again only
//! when GHL surely did not apply it.

use super::refresh::form_post;
use crate::io::url::build;
use crate::io::{Method, Request};
use crate::report::{Service, SyncError};
use crate::secret::Secret;
use serde::Deserialize;

/// The `Version` header `installedLocations` and `locationToken` require.
pub const API_VERSION: &str = "2021-07-28";

pub const TOKEN: &str = "POST /oauth/token";
pub const INSTALLED: &str = "GET /oauth/installedLocations";
pub const LOCATION_TOKEN: &str = "POST /oauth/locationToken";

/// Most sub-accounts asked for per page of `installedLocations`.
pub const PAGE: u32 = 100;

/// Whose token: GHL's `user_type` / `userType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum UserType {
    Company,
    Location,
}

impl UserType {
    pub fn as_str(self) -> &'static str {
        match self {
            UserType::Company => "Company",
            UserType::Location => "Location",
        }
    }
}

/// The marketplace app: where its calls go and how it is known.
#[derive(Debug, Clone, Copy)]
pub struct App<'a> {
    /// GHL's API (`https://services.leadconnectorhq.com`).
    pub ghl_base: &'a str,
    /// `<appId>-<suffix>`.
    pub client_id: &'a str,
    pub client_secret: &'a Secret,
    pub timeout_ms: u32,
}

impl App<'_> {
    /// The app id: the client id's part before `-`, as GHL's SDK takes it.
    pub fn app_id(&self) -> &str {
        app_id(self.client_id)
    }
}

/// The app id of `client_id`: its part before `-`.
pub fn app_id(client_id: &str) -> &str {
    client_id.split('-').next().unwrap_or(client_id)
}

/// Where the admin consents: `{marketplace}/v2/oauth/chooselocation` with
/// the code response, the redirect URI, the client id, the scopes
/// (space-separated) and `state`.
pub fn authorize_url(marketplace: &str, client_id: &str, redirect_uri: &str, scopes: &[String], state: &str) -> String {
    let query = [
        ("response_type", "code"),
        ("redirect_uri", redirect_uri),
        ("client_id", client_id),
        ("scope", &scopes.join(" ")),
        ("state", state),
    ];
    build(marketplace, "/v2/oauth/chooselocation", &query)
}

/// The code grant: `grant_type=authorization_code` with the code and the
/// same `redirect_uri`. No `user_type`: the admin chose an agency or a
/// sub-account at the consent page, and the answer's `userType` says which.
pub fn code_request(app: &App<'_>, code: &str, redirect_uri: &str) -> Request {
    let fields = [
        ("client_id", app.client_id),
        ("client_secret", app.client_secret.expose()),
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
    ];
    form_post(app.ghl_base, "/oauth/token", &fields, &[], app.timeout_ms)
}

/// The refresh grant of a pair of `user_type`.
pub fn refresh_request(app: &App<'_>, refresh_token: &Secret, user_type: UserType) -> Request {
    let fields = [
        ("client_id", app.client_id),
        ("client_secret", app.client_secret.expose()),
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token.expose()),
        ("user_type", user_type.as_str()),
    ];
    form_post(app.ghl_base, "/oauth/token", &fields, &[], app.timeout_ms)
}

/// One page of the sub-accounts where the app is installed.
pub fn installed_request(app: &App<'_>, company: &str, agency_token: &Secret, skip: u32) -> Request {
    let (skip, limit) = (skip.to_string(), PAGE.to_string());
    let query = [
        ("companyId", company),
        ("appId", app.app_id()),
        ("isInstalled", "true"),
        ("skip", skip.as_str()),
        ("limit", limit.as_str()),
    ];
    Request {
        method: Method::Get,
        url: build(app.ghl_base, "/oauth/installedLocations", &query),
        headers: vec![
            ("Accept".into(), "application/json".into()),
            ("Version".into(), API_VERSION.into()),
            ("Authorization".into(), format!("Bearer {}", agency_token.expose())),
        ],
        body: None,
        timeout_ms: app.timeout_ms,
    }
}

/// A sub-account's token from the agency's (form: `companyId`,
/// `locationId`).
pub fn location_token_request(app: &App<'_>, company: &str, location: &str, agency_token: &Secret) -> Request {
    let bearer = format!("Bearer {}", agency_token.expose());
    form_post(
        app.ghl_base,
        "/oauth/locationToken",
        &[("companyId", company), ("locationId", location)],
        &[("Version", API_VERSION), ("Authorization", &bearer)],
        app.timeout_ms,
    )
}

/// What a token answer grants (`GetAccessCodeSuccessfulResponseDto`, and
/// `GetLocationAccessTokenSuccessfulResponseDto`, whose `refresh_token`
/// only the v3 file names).
#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    pub access_token: Secret,
    pub refresh_token: Option<Secret>,
    pub expires_at_ms: Option<u64>,
    pub scopes: Vec<String>,
    /// Absent from `locationToken`'s answer: a sub-account's.
    pub user_type: Option<UserType>,
    pub company_id: Option<String>,
    pub location_id: Option<String>,
    /// A bulk agency install's sub-accounts.
    pub approved_locations: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GrantAnswer {
    #[serde(rename = "access_token")]
    access_token: String,
    #[serde(rename = "refresh_token", default)]
    refresh_token: Option<String>,
    #[serde(rename = "expires_in", default)]
    expires_in: Option<f64>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    user_type: Option<UserType>,
    #[serde(default)]
    company_id: Option<String>,
    #[serde(default)]
    location_id: Option<String>,
    #[serde(default)]
    approved_locations: Option<Vec<String>>,
}

/// Reads a 200 token answer of `endpoint` at `now_ms`.
pub fn read_grant(endpoint: &str, body: &[u8], now_ms: u64) -> Result<Grant, SyncError> {
    let a: GrantAnswer = crate::json::parse(Service::Ghl, endpoint, body)?;
    let token = |t: &str| !t.is_empty() && !t.contains(char::is_whitespace);
    if !token(&a.access_token) {
        return Err(invalid(
            endpoint,
            "access_token",
            "the access token is empty or not a token",
        ));
    }
    if a.refresh_token.as_deref().is_some_and(|r| !token(r)) {
        return Err(invalid(
            endpoint,
            "refresh_token",
            "the refresh token is empty or not a token",
        ));
    }
    let expires_at_ms = match a.expires_in {
        Some(s) if s.is_finite() && s > 0.0 => Some(now_ms.saturating_add((s * 1000.0).min(1.0e15) as u64)),
        _ => None,
    };
    let nonempty = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
    Ok(Grant {
        access_token: Secret::new(a.access_token),
        refresh_token: a.refresh_token.map(Secret::new),
        expires_at_ms,
        scopes: a
            .scope
            .as_deref()
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect(),
        user_type: a.user_type,
        company_id: nonempty(a.company_id),
        location_id: nonempty(a.location_id),
        approved_locations: a.approved_locations.unwrap_or_default(),
    })
}

/// A sub-account where the app is installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    pub location_id: String,
    pub name: String,
}

/// One page of `installedLocations`: its sub-accounts, and how many match
/// in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledPage {
    pub locations: Vec<Installed>,
    pub count: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InstalledAnswer {
    #[serde(default)]
    locations: Vec<InstalledRow>,
    #[serde(default)]
    count: Option<f64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InstalledRow {
    #[serde(rename = "_id")]
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    is_installed: Option<bool>,
}

/// Reads a page of `installedLocations`; a row marked not installed is
/// left out (the request asked for installed ones only).
pub fn read_installed(body: &[u8]) -> Result<InstalledPage, SyncError> {
    let a: InstalledAnswer = crate::json::parse(Service::Ghl, INSTALLED, body)?;
    let mut locations = Vec::with_capacity(a.locations.len());
    for row in a.locations {
        if row.id.trim().is_empty() {
            return Err(invalid(INSTALLED, "locations[]._id", "a sub-account has no id"));
        }
        if row.is_installed == Some(false) {
            continue;
        }
        locations.push(Installed {
            location_id: row.id,
            name: row.name.unwrap_or_default(),
        });
    }
    let count = match a.count {
        Some(c) if c.is_finite() && c >= 0.0 => c as u64,
        _ => 0,
    };
    Ok(InstalledPage { locations, count })
}

/// The words of a non-2xx answer: its `message`, `error_description` or
/// `error`, at most 300 characters.
pub fn error_message(status: u16, body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Problem {
        #[serde(default)]
        message: Option<serde_json::Value>,
        #[serde(default)]
        error_description: Option<String>,
        #[serde(default)]
        error: Option<serde_json::Value>,
    }
    let said = serde_json::from_slice::<Problem>(body).ok().and_then(|p| {
        let text = |v: serde_json::Value| match v {
            serde_json::Value::String(s) => Some(s),
            serde_json::Value::Null => None,
            other => Some(other.to_string()),
        };
        p.message
            .and_then(text)
            .or(p.error_description)
            .or(p.error.and_then(text))
    });
    let mut text = said.unwrap_or_else(|| format!("HTTP {status}"));
    if text.chars().count() > 300 {
        text = text.chars().take(300).collect::<String>() + "…";
    }
    text
}

fn invalid(endpoint: &str, field: &str, message: &str) -> SyncError {
    SyncError::InvalidResponse {
        service: Service::Ghl,
        endpoint: endpoint.into(),
        field: field.into(),
        message: message.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(secret: &Secret) -> App<'_> {
        App {
            ghl_base: "https://services.leadconnectorhq.com",
            client_id: "6501f2c3a1b2c3d4e5f60718-lmn0opqr",
            client_secret: secret,
            timeout_ms: 5_000,
        }
    }

    fn body(r: &Request) -> String {
        String::from_utf8(r.body.clone().unwrap_or_default()).unwrap()
    }

    fn header<'a>(r: &'a Request, name: &str) -> Option<&'a str> {
        r.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn the_consent_url_is_the_documented_template_with_state() {
        let url = authorize_url(
            "https://marketplace.gohighlevel.com/",
            "abc-def",
            "https://sync.example.com/oauth/callback",
            &["socialplanner/tag.readonly".into(), "oauth.readonly".into()],
            "st 1",
        );
        assert_eq!(
            url,
            "https://marketplace.gohighlevel.com/v2/oauth/chooselocation?response_type=code&redirect_uri=https%3A%2F%2Fsync.example.com%2Foauth%2Fcallback&client_id=abc-def&scope=socialplanner%2Ftag.readonly%20oauth.readonly&state=st%201"
        );
    }

    #[test]
    fn requests_are_in_the_specs_shapes() {
        let secret = Secret::new("s&cret");
        let a = app(&secret);
        assert_eq!(a.app_id(), "6501f2c3a1b2c3d4e5f60718");
        let r = code_request(&a, "c0de", "https://x.example/oauth/callback");
        assert_eq!(r.url, "https://services.leadconnectorhq.com/oauth/token");
        assert_eq!(
            body(&r),
            "client_id=6501f2c3a1b2c3d4e5f60718-lmn0opqr&client_secret=s%26cret&grant_type=authorization_code&code=c0de&redirect_uri=https%3A%2F%2Fx.example%2Foauth%2Fcallback"
        );
        let r = refresh_request(&a, &Secret::new("r1"), UserType::Company);
        assert!(body(&r).ends_with("grant_type=refresh_token&refresh_token=r1&user_type=Company"));
        let r = installed_request(&a, "co1", &Secret::new("agency"), 200);
        assert_eq!(r.method, Method::Get);
        assert_eq!(
            r.url,
            "https://services.leadconnectorhq.com/oauth/installedLocations?companyId=co1&appId=6501f2c3a1b2c3d4e5f60718&isInstalled=true&skip=200&limit=100"
        );
        assert_eq!(header(&r, "Version"), Some(API_VERSION));
        assert_eq!(header(&r, "Authorization"), Some("Bearer agency"));
        let r = location_token_request(&a, "co1", "loc 9", &Secret::new("agency"));
        assert_eq!(body(&r), "companyId=co1&locationId=loc%209");
        assert_eq!(header(&r, "Content-Type"), Some("application/x-www-form-urlencoded"));
        assert_eq!(header(&r, "Version"), Some(API_VERSION));
    }

    #[test]
    fn grants_are_read_with_or_without_a_refresh_token() {
        let g = read_grant(
            TOKEN,
            br#"{"access_token":"a","token_type":"Bearer","expires_in":86399,"refresh_token":"r","scope":"oauth.readonly x","userType":"Company","companyId":"co","userId":"u","approvedLocations":["l1","l2"]}"#,
            1_000,
        )
        .unwrap();
        assert_eq!(g.user_type, Some(UserType::Company));
        assert_eq!(g.refresh_token.as_ref().map(Secret::expose), Some("r"));
        assert_eq!(g.expires_at_ms, Some(86_400_000));
        assert_eq!(g.approved_locations, vec!["l1", "l2"]);
        let g = read_grant(
            LOCATION_TOKEN,
            br#"{"access_token":"la","expires_in":86399,"scope":"x","locationId":"l1","userId":"u"}"#,
            0,
        )
        .unwrap();
        assert!(g.refresh_token.is_none() && g.user_type.is_none());
        assert_eq!(g.location_id.as_deref(), Some("l1"));
        let e = read_grant(TOKEN, br#"{"access_token":"","userId":"u"}"#, 0).unwrap_err();
        assert!(e.to_string().contains("access_token"), "{e}");
        assert!(read_grant(TOKEN, br#"{"access_token":"a","refresh_token":" "}"#, 0).is_err());
        assert!(read_grant(TOKEN, b"<html>", 0).is_err());
    }

    #[test]
    fn installed_pages_are_read_and_not_installed_rows_left_out() {
        let p = read_installed(
            br#"{"locations":[{"_id":"l1","name":"One","address":"a","isInstalled":true},{"_id":"l2","name":"Two","address":"b","isInstalled":false}],"count":2,"installToFutureLocations":false}"#,
        )
        .unwrap();
        assert_eq!(
            p.locations,
            vec![Installed {
                location_id: "l1".into(),
                name: "One".into()
            }]
        );
        assert_eq!(p.count, 2);
        assert!(read_installed(br#"{"locations":[{"_id":"","name":"x","address":"y"}]}"#).is_err());
    }

    #[test]
    fn error_messages_are_short_and_say_what_ghl_said() {
        assert_eq!(error_message(401, br#"{"message":"Invalid JWT"}"#), "Invalid JWT");
        assert_eq!(
            error_message(400, br#"{"error":"invalid_grant","error_description":"spent"}"#),
            "spent"
        );
        assert_eq!(error_message(502, b"<html>"), "HTTP 502");
        assert!(
            error_message(400, format!(r#"{{"message":"{}"}}"#, "x".repeat(999)).as_bytes())
                .chars()
                .count()
                <= 301
        );
    }
}
