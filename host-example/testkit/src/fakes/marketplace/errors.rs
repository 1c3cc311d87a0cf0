//! What the fake marketplace refuses, and how each refusal is answered: the
//! status the official spec lists for it where it lists one, in the bodies
//! of `common-schemas.json` (`statusCode`, `message`, `error`); the OAuth
//! grant errors carry RFC 6749's `error` code and `error_description` too.

use super::super::server::FakeResponse;
use serde::Serialize;

/// A refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarketplaceError {
    /// 422: the official spec would not accept the request (the problems).
    NotInSpec(Vec<String>),
    /// 404: no such route.
    NoRoute(String),
    /// 400: the consent page's query is not one the docs describe; answered
    /// as an HTML page, as a browser is shown it.
    ConsentPage(String),
    /// 400 `invalid_request`: a field the grant needs is missing or does
    /// not fit it (`user_type` of another subject, no `code`).
    InvalidRequest(String),
    /// 401 `invalid_client`: unknown client id or wrong secret.
    InvalidClient,
    /// 400 `invalid_grant`: the code or refresh token is unknown, spent,
    /// expired, or was issued for another `redirect_uri`.
    InvalidGrant(String),
    /// 400 `unsupported_grant_type` (`client_credentials`).
    UnsupportedGrantType,
    /// 401: no token, or one that is unknown or expired.
    InvalidToken,
    /// 401: an agency token where a sub-account's is needed, or the reverse.
    WrongTokenType,
    /// 401: the token lacks the scope the route needs.
    MissingScope(&'static str),
    /// 401: the token is the agency's, but for another company (the spec
    /// lists no 403 for the agency's operations).
    WrongCompany,
    /// 403: the token is for another location.
    WrongLocation,
    /// 400: `appId` is not this app's id.
    AppNotFound,
    /// 400: the agency has no such location.
    LocationNotFound(String),
    /// 400: the location exists but the app is not installed there.
    NotInstalled(String),
}

/// The error body: `BadRequestDTO` / `UnauthorizedDTO` / `UnprocessableDTO`
/// (whose `message` is a list), plus RFC 6749's fields for a grant error.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorBody {
    status_code: u16,
    message: Message,
    error: String,
    #[serde(rename = "error_description", skip_serializing_if = "Option::is_none")]
    error_description: Option<String>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Message {
    One(String),
    List(Vec<String>),
}

impl MarketplaceError {
    pub fn status(&self) -> u16 {
        use MarketplaceError::*;
        match self {
            NotInSpec(_) => 422,
            NoRoute(_) => 404,
            InvalidClient | InvalidToken | WrongTokenType | MissingScope(_) | WrongCompany => 401,
            WrongLocation => 403,
            ConsentPage(_) | InvalidRequest(_) | InvalidGrant(_) | UnsupportedGrantType | AppNotFound
            | LocationNotFound(_) | NotInstalled(_) => 400,
        }
    }

    /// Why the request was malformed, for [`super::MarketplaceState::refusals`];
    /// none for a refusal a well-formed request can earn (a spent token, a
    /// location not installed).
    pub fn refusal(&self) -> Option<String> {
        match self {
            MarketplaceError::NotInSpec(problems) => Some(problems.join("; ")),
            MarketplaceError::ConsentPage(why) => Some(why.clone()),
            MarketplaceError::NoRoute(what) => Some(format!("no such route: {what}")),
            _ => None,
        }
    }

    pub fn response(&self) -> FakeResponse {
        use MarketplaceError::*;
        let status = self.status();
        let (message, error, rfc) = match self {
            ConsentPage(why) => return html_page(why),
            NotInSpec(problems) => (Message::List(problems.clone()), "Unprocessable Entity", None),
            NoRoute(what) => (Message::One(format!("Cannot {what}")), "Not Found", None),
            InvalidRequest(why) => (Message::One(why.clone()), "invalid_request", Some(why.clone())),
            InvalidClient => {
                let why = "Invalid client credentials".to_string();
                (Message::One(why.clone()), "invalid_client", Some(why))
            }
            InvalidGrant(why) => (Message::One(why.clone()), "invalid_grant", Some(why.clone())),
            UnsupportedGrantType => {
                let why = "The grant type is not supported".to_string();
                (Message::One(why.clone()), "unsupported_grant_type", Some(why))
            }
            InvalidToken => (Message::One("Invalid JWT".into()), "Unauthorized", None),
            WrongTokenType => (
                Message::One(
                    "This authClass type is not allowed to access this scope. Please reach out to the Platform team to get it added."
                        .into(),
                ),
                "Unauthorized",
                None,
            ),
            MissingScope(scope) => (
                Message::One(format!("The token is not authorized for this scope ({scope}).")),
                "Unauthorized",
                None,
            ),
            WrongCompany => (
                Message::One("The token does not have access to this company.".into()),
                "Unauthorized",
                None,
            ),
            WrongLocation => (
                Message::One("The token does not have access to this location.".into()),
                "Forbidden",
                None,
            ),
            AppNotFound => (Message::One("App not found".into()), "Bad Request", None),
            LocationNotFound(id) => (Message::One(format!("Location {id} not found")), "Bad Request", None),
            NotInstalled(id) => (
                Message::One(format!("The app is not installed in location {id}")),
                "Bad Request",
                None,
            ),
        };
        let body = ErrorBody {
            status_code: status,
            message,
            error: error.to_string(),
            error_description: rfc,
        };
        FakeResponse::json(status, &serde_json::to_value(body).unwrap_or_default())
    }
}

/// The consent page's error, as a browser is shown it.
fn html_page(why: &str) -> FakeResponse {
    let page = format!(
        "<!doctype html><html><body><h1>Something went wrong</h1><p>{}</p></body></html>",
        why.replace('&', "&amp;").replace('<', "&lt;")
    );
    FakeResponse {
        status: 400,
        headers: vec![("Content-Type".into(), "text/html; charset=utf-8".into())],
        body: page.into_bytes(),
    }
}
