//! The consent page and the three operations of `spec/oauth.json`, in its
//! shapes: `POST /oauth/token` (`get-access-token`: the code and refresh
//! grants), `GET /oauth/installedLocations` (`get-installed-location`) and
//! `POST /oauth/locationToken` (`get-location-access-token`).

use super::errors::MarketplaceError;
use super::{encode, AgencyLocation, AuthCode, LocationRefresh, MarketplaceState, Subject, UserType};
use crate::fakes::ghl::iso;
use crate::fakes::openapi::{decode_pairs, OpenApi};
use crate::fakes::server::{FakeRequest, FakeResponse};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

type Answer = Result<FakeResponse, MarketplaceError>;

/// Scopes only an agency token carries (`docs/Scopes.md`): a sub-account
/// token is granted the rest of the consent's scopes.
const AGENCY_ONLY_SCOPES: [&str; 2] = ["oauth.readonly", "oauth.write"];

/// `GET /v2/oauth/chooselocation`: checks the query the docs' template
/// writes, then consents at once as [`MarketplaceState::consent_as`] says:
/// a 302 to `redirect_uri` with a new code, or with `error=access_denied`;
/// `state` comes back when it was sent, as RFC 6749 §4.1.2 requires.
pub(super) fn choose_location(s: &mut MarketplaceState, query: &[(String, String)], now_ms: u64) -> Answer {
    let page = |why: String| Err(MarketplaceError::ConsentPage(why));
    let mut one = BTreeMap::new();
    for (k, v) in query {
        if one.insert(k.as_str(), v.as_str()).is_some() {
            return page(format!("`{k}` is given twice"));
        }
    }
    if one.get("response_type") != Some(&"code") {
        return page("response_type must be `code`".into());
    }
    match one.get("client_id") {
        None => return page("client_id is required".into()),
        Some(id) if *id != s.client_id => return page(format!("No integration found with the ID: {id}")),
        Some(_) => {}
    }
    let Some(redirect_uri) = one.get("redirect_uri").map(|r| r.to_string()) else {
        return page("redirect_uri is required".into());
    };
    let absolute = redirect_uri.starts_with("http://") || redirect_uri.starts_with("https://");
    if !absolute || redirect_uri.contains('#') {
        return page(format!(
            "redirect_uri `{redirect_uri}` is not an absolute http(s) URL without a fragment"
        ));
    }
    let scope = match one.get("scope") {
        Some(scope) if !scope.trim().is_empty() => scope.split_whitespace().collect::<Vec<_>>().join(" "),
        _ => return page("scope is required".into()),
    };
    let state = one.get("state").map(|s| s.to_string());
    let subject = match s.consent_as.clone() {
        super::Consent::Deny => {
            let mut params = vec![("error", "access_denied".to_string())];
            params.extend(state.map(|st| ("state", st)));
            return Ok(redirect(&redirect_uri, &params));
        }
        super::Consent::Company => Subject::Company(s.company_id.clone()),
        super::Consent::Location(id) => {
            if !s.install(&id, now_ms) {
                return page(format!("the fake agency has no location {id} to consent as"));
            }
            Subject::Location(id)
        }
    };
    let code = super::mint("code", now_ms);
    s.codes.insert(
        code.clone(),
        AuthCode {
            redirect_uri: redirect_uri.clone(),
            subject,
            scope,
            expires_at_ms: super::expiry(now_ms, s.code_ttl_secs),
            used: false,
        },
    );
    let mut params = vec![("code", code)];
    params.extend(state.map(|st| ("state", st)));
    Ok(redirect(&redirect_uri, &params))
}

/// A 302 to `uri` with `params` added to its query.
fn redirect(uri: &str, params: &[(&str, String)]) -> FakeResponse {
    let sep = match uri.contains('?') {
        false => "?",
        true if uri.ends_with('?') || uri.ends_with('&') => "",
        true => "&",
    };
    let query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
    FakeResponse {
        status: 302,
        headers: vec![("Location".into(), format!("{uri}{sep}{}", query.join("&")))],
        body: Vec::new(),
    }
}

/// An `/oauth/*` request: the spec's check first, then the operation.
pub(super) fn handle(
    spec: &OpenApi,
    s: &mut MarketplaceState,
    req: &FakeRequest,
    path: &str,
    query: &[(String, String)],
    now_ms: u64,
) -> Answer {
    let body = (!req.body.is_empty()).then_some(req.body.as_slice());
    let matched = spec
        .check(&req.method, path, query, &req.headers, body)
        .map_err(
            |problems| match problems.iter().any(|p| p.starts_with("no operation")) {
                true => MarketplaceError::NoRoute(format!("{} {path}", req.method)),
                false => MarketplaceError::NotInSpec(problems),
            },
        )?;
    // The check read the body as a form: UTF-8, no field twice.
    let form: serde_json::Map<String, serde_json::Value> = decode_pairs(&String::from_utf8_lossy(&req.body))
        .into_iter()
        .map(|(k, v)| (k, serde_json::Value::String(v)))
        .collect();
    match matched.operation_id.as_str() {
        "get-access-token" => token(s, read_form(form)?, now_ms),
        "get-installed-location" => installed_locations(s, req, query, now_ms),
        "get-location-access-token" => location_token(s, req, read_form(form)?, now_ms),
        other => Err(MarketplaceError::NoRoute(format!("{other} is not faked"))),
    }
}

fn read_form<T: for<'de> Deserialize<'de>>(
    form: serde_json::Map<String, serde_json::Value>,
) -> Result<T, MarketplaceError> {
    serde_json::from_value(serde_json::Value::Object(form))
        .map_err(|e| MarketplaceError::NotInSpec(vec![format!("body: {e}")]))
}

/// `grant_type` of `GetAccessCodebodyDto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum GrantType {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
}

/// `GetAccessCodebodyDto`, as the spec's check let it through.
#[derive(Debug, Deserialize)]
struct TokenForm {
    client_id: String,
    client_secret: String,
    grant_type: GrantType,
    code: Option<String>,
    refresh_token: Option<String>,
    user_type: Option<UserType>,
    redirect_uri: Option<String>,
}

/// `GetLocationAccessCodeBodyDto`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LocationTokenForm {
    company_id: String,
    location_id: String,
}

/// `GetAccessCodeSuccessfulResponseDto`, and `GetLocationAccessTokenSuccessfulResponseDto`
/// (whose `refresh_token` only the v3 file names).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct TokenAnswer {
    #[serde(rename = "access_token")]
    access_token: String,
    #[serde(rename = "token_type")]
    token_type: &'static str,
    #[serde(rename = "expires_in")]
    expires_in: u64,
    #[serde(rename = "refresh_token", skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    scope: String,
    user_type: UserType,
    company_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    location_id: Option<String>,
    user_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    app_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    approved_locations: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    is_bulk_installation: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    install_to_future_locations: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    approve_all_locations: Option<bool>,
}

impl TokenAnswer {
    fn new(s: &MarketplaceState, subject: &Subject, scope: &str, access: String, refresh: Option<String>) -> Self {
        let expires_in = match subject {
            Subject::Company(_) => s.access_ttl_secs,
            Subject::Location(_) => s.location_token_ttl_secs,
        };
        let mut answer = TokenAnswer {
            access_token: access,
            token_type: "Bearer",
            expires_in,
            refresh_token: refresh,
            scope: scope.to_string(),
            user_type: subject.user_type(),
            company_id: s.company_id.clone(),
            location_id: None,
            user_id: s.user_id.clone(),
            app_id: None,
            approved_locations: None,
            is_bulk_installation: None,
            install_to_future_locations: None,
            approve_all_locations: None,
        };
        match subject {
            Subject::Company(_) => {
                let installed: Vec<String> = s
                    .locations
                    .iter()
                    .filter(|(_, l)| l.installed)
                    .map(|(id, _)| id.clone())
                    .collect();
                answer.approve_all_locations = Some(installed.len() == s.locations.len());
                answer.approved_locations = Some(installed);
                answer.is_bulk_installation = Some(true);
                answer.install_to_future_locations = Some(s.install_to_future_locations);
            }
            Subject::Location(id) => answer.location_id = Some(id.clone()),
        }
        answer
    }

    fn response(&self) -> FakeResponse {
        FakeResponse::json(200, &serde_json::to_value(self).unwrap_or_default())
    }
}

/// `POST /oauth/token`.
fn token(s: &mut MarketplaceState, form: TokenForm, now_ms: u64) -> Answer {
    if form.client_id != s.client_id || form.client_secret != s.client_secret {
        return Err(MarketplaceError::InvalidClient);
    }
    let (subject, scope) = match form.grant_type {
        GrantType::ClientCredentials => return Err(MarketplaceError::UnsupportedGrantType),
        GrantType::AuthorizationCode => {
            let code = form
                .code
                .ok_or_else(|| MarketplaceError::InvalidRequest("grant_type authorization_code needs `code`".into()))?;
            let grant = s
                .codes
                .get(&code)
                .cloned()
                .ok_or_else(|| MarketplaceError::InvalidGrant("Invalid authorization code".into()))?;
            if grant.used {
                s.codes_reused.push(code);
                return Err(MarketplaceError::InvalidGrant(
                    "The authorization code has already been used".into(),
                ));
            }
            if now_ms >= grant.expires_at_ms {
                return Err(MarketplaceError::InvalidGrant(
                    "The authorization code has expired".into(),
                ));
            }
            if form.redirect_uri.as_deref() != Some(grant.redirect_uri.as_str()) {
                return Err(MarketplaceError::InvalidGrant(
                    "redirect_uri is not the one the code was issued for".into(),
                ));
            }
            check_user_type(form.user_type, &grant.subject)?;
            if let Some(c) = s.codes.get_mut(&code) {
                c.used = true;
            }
            s.code_exchanges += 1;
            (grant.subject, grant.scope)
        }
        GrantType::RefreshToken => {
            let presented = form.refresh_token.ok_or_else(|| {
                MarketplaceError::InvalidRequest("grant_type refresh_token needs `refresh_token`".into())
            })?;
            if s.spent.contains(&presented) {
                s.spent_reused.push(presented);
                return Err(MarketplaceError::InvalidGrant(
                    "The refresh token has already been used".into(),
                ));
            }
            let grant = s
                .refresh
                .get(&presented)
                .cloned()
                .ok_or_else(|| MarketplaceError::InvalidGrant("Invalid refresh token".into()))?;
            check_user_type(form.user_type, &grant.subject)?;
            s.refresh.remove(&presented);
            s.spent.insert(presented);
            s.refreshes += 1;
            (grant.subject, grant.scope)
        }
    };
    let ttl = match subject {
        Subject::Company(_) => s.access_ttl_secs,
        Subject::Location(_) => s.location_token_ttl_secs,
    };
    let access = s.issue_access(&subject, &scope, ttl, now_ms);
    let refresh = s.issue_refresh(&subject, &scope, now_ms);
    Ok(TokenAnswer::new(s, &subject, &scope, access, Some(refresh)).response())
}

/// A `user_type` that names another kind of subject than the grant's is
/// refused; none leaves it to the grant (the spec does not require it).
fn check_user_type(asked: Option<UserType>, subject: &Subject) -> Result<(), MarketplaceError> {
    match asked {
        Some(asked) if asked != subject.user_type() => Err(MarketplaceError::InvalidRequest(format!(
            "user_type {asked:?} does not match the grant, which is for a {:?}",
            subject.user_type()
        ))),
        _ => Ok(()),
    }
}

/// The agency token of the request, with `scope`: its company and scope.
fn agency_token(
    s: &MarketplaceState,
    req: &FakeRequest,
    now_ms: u64,
    scope: &'static str,
) -> Result<(String, String), MarketplaceError> {
    let grant = s.bearer(req, now_ms).ok_or(MarketplaceError::InvalidToken)?;
    let Subject::Company(company) = &grant.subject else {
        return Err(MarketplaceError::WrongTokenType);
    };
    if !grant.scope.split_whitespace().any(|g| g == scope) {
        return Err(MarketplaceError::MissingScope(scope));
    }
    Ok((company.clone(), grant.scope.clone()))
}

/// `InstalledLocationSchema`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct InstalledLocation {
    #[serde(rename = "_id")]
    id: String,
    name: String,
    address: String,
    is_installed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    installed_at: Option<String>,
}

/// `GetInstalledLocationsSuccessfulResponseDto`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct InstalledLocations {
    locations: Vec<InstalledLocation>,
    count: usize,
    install_to_future_locations: bool,
}

/// `GET /oauth/installedLocations`: the agency's locations in id order,
/// filtered by `isInstalled`, `query` (name, any case) and `locationId`,
/// paged by `skip` and `limit` (at most [`MarketplaceState::max_page`]).
/// `count` is how many match the filters, so that paging by it ends.
/// `versionId`, `onTrial` and `planId` filter nothing: the fake has one
/// version and no plans.
fn installed_locations(s: &mut MarketplaceState, req: &FakeRequest, query: &[(String, String)], now_ms: u64) -> Answer {
    let (company, _) = agency_token(s, req, now_ms, "oauth.readonly")?;
    let get = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if get("companyId") != Some(company.as_str()) {
        return Err(MarketplaceError::WrongCompany);
    }
    if get("appId") != Some(s.app_id()) {
        return Err(MarketplaceError::AppNotFound);
    }
    let number = |k: &str, default: usize| match get(k) {
        None => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .map_err(|_| MarketplaceError::NotInSpec(vec![format!("{k} must be a number string, got `{v}`")])),
    };
    let (skip, limit) = (number("skip", 0)?, number("limit", 20)?);
    let installed = get("isInstalled").map(|v| v == "true");
    let name = get("query").map(str::to_lowercase);
    let only = get("locationId");
    let fits = |id: &str, l: &AgencyLocation| {
        installed.is_none_or(|want| l.installed == want)
            && name.as_deref().is_none_or(|n| l.name.to_lowercase().contains(n))
            && only.is_none_or(|o| o == id)
    };
    let matching: Vec<(&String, &AgencyLocation)> = s.locations.iter().filter(|(id, l)| fits(id, l)).collect();
    let locations = matching
        .iter()
        .skip(skip)
        .take(limit.min(s.max_page))
        .map(|(id, l)| InstalledLocation {
            id: id.to_string(),
            name: l.name.clone(),
            address: l.address.clone(),
            is_installed: l.installed,
            installed_at: l.installed.then(|| iso(l.installed_at_ms)),
        })
        .collect();
    let answer = InstalledLocations {
        locations,
        count: matching.len(),
        install_to_future_locations: s.install_to_future_locations,
    };
    Ok(FakeResponse::json(
        200,
        &serde_json::to_value(answer).unwrap_or_default(),
    ))
}

/// `POST /oauth/locationToken`: a sub-account token for an installed
/// location of the token's company, with the consent's scopes less the
/// agency's own, and a refresh token when [`LocationRefresh::Rotating`].
/// Every call the spec accepted is counted in
/// [`MarketplaceState::location_token_calls`], refused ones too.
fn location_token(s: &mut MarketplaceState, req: &FakeRequest, form: LocationTokenForm, now_ms: u64) -> Answer {
    *s.location_token_calls.entry(form.location_id.clone()).or_default() += 1;
    let (company, agency_scope) = agency_token(s, req, now_ms, "oauth.write")?;
    if form.company_id != company {
        return Err(MarketplaceError::WrongCompany);
    }
    let id = form.location_id;
    match s.locations.get(&id) {
        None => return Err(MarketplaceError::LocationNotFound(id)),
        Some(l) if !l.installed => return Err(MarketplaceError::NotInstalled(id)),
        Some(_) => {}
    }
    let scope: Vec<&str> = agency_scope
        .split_whitespace()
        .filter(|g| !AGENCY_ONLY_SCOPES.contains(g))
        .collect();
    let scope = scope.join(" ");
    let subject = Subject::Location(id);
    let access = s.issue_access(&subject, &scope, s.location_token_ttl_secs, now_ms);
    let refresh = match s.location_refresh {
        LocationRefresh::None => None,
        LocationRefresh::Rotating => Some(s.issue_refresh(&subject, &scope, now_ms)),
    };
    let mut answer = TokenAnswer::new(s, &subject, &scope, access, refresh);
    answer.app_id = Some(s.app_id().to_string());
    Ok(answer.response())
}
