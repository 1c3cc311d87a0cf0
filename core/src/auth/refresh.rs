//! The OAuth refresh with rotation, per `spec/oauth.json`: the request, the
//! answer, and what each outcome means. Each refresh spends the refresh token
//! it sends, so an attempt may be sent again only when GHL surely did not
//! apply it: a 429, or a connection never made. The retry loop itself is the
//! exchange's (`client::refresh`), which also stores the new pair before
//! it is used.

use crate::io::url::build;
use crate::io::{Method, Request, Response, TransportError};
use crate::report::{Service, SyncError};
use crate::secret::{OAuthTokens, Secret};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Deserialize;

use super::OAuthCredential;

/// The endpoint, as errors name it.
pub const ENDPOINT: &str = "POST /oauth/token";

/// `application/x-www-form-urlencoded` value encoding: everything but
/// ASCII letters, digits and `*-._` is percent-encoded.
const FORM: &AsciiSet = &NON_ALPHANUMERIC.remove(b'*').remove(b'-').remove(b'.').remove(b'_');

/// The refresh request of a sub-account's pair: form-encoded `client_id,
/// client_secret, grant_type=refresh_token, refresh_token,
/// user_type=Location`.
pub fn request(ghl_base: &str, oauth: &OAuthCredential, timeout_ms: u32) -> Request {
    let fields = [
        ("client_id", oauth.client_id.as_str()),
        ("client_secret", oauth.client_secret.expose()),
        ("grant_type", "refresh_token"),
        ("refresh_token", oauth.tokens.refresh_token.expose()),
        ("user_type", "Location"),
    ];
    form_post(ghl_base, "/oauth/token", &fields, &[], timeout_ms)
}

/// A form-encoded `POST` to GHL's `path`, with `headers` besides the form's.
pub(crate) fn form_post(
    ghl_base: &str,
    path: &str,
    fields: &[(&str, &str)],
    headers: &[(&str, &str)],
    timeout_ms: u32,
) -> Request {
    let body = fields
        .iter()
        .map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, FORM)))
        .collect::<Vec<_>>()
        .join("&");
    let mut all = vec![
        (
            "Content-Type".to_string(),
            "application/x-www-form-urlencoded".to_string(),
        ),
        ("Accept".to_string(), "application/json".to_string()),
    ];
    all.extend(headers.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Request {
        method: Method::Post,
        url: build(ghl_base, path, &[]),
        headers: all,
        body: Some(body.into_bytes()),
        timeout_ms,
    }
}

/// What one attempt came to.
#[derive(Debug)]
pub enum Attempt {
    /// GHL rotated the pair. The old refresh token is spent: the new pair
    /// must be stored before it is used.
    Rotated(OAuthTokens),
    /// Not applied, so it may be sent again: a 429 (the answer, for its
    /// `Retry-After`), or a connection never made.
    NotApplied(Result<Response, TransportError>),
    /// Final: refused (the connection must be authorized again), or an
    /// answer that may or may not have been applied (a 5xx, a broken
    /// connection), which is never sent again: resending a spent refresh
    /// token would burn the connection. A non-2xx answer comes back whole,
    /// for the caller to type it.
    Final(Result<Response, SyncError>),
}

/// Judges one attempt's outcome.
pub fn judge(outcome: Result<Response, TransportError>, now_ms: u64, previous_scopes: &[String]) -> Attempt {
    match outcome {
        Ok(resp) if resp.is_success() => match read_answer(&resp.body, now_ms, previous_scopes) {
            Ok(tokens) => Attempt::Rotated(tokens),
            Err(e) => Attempt::Final(Err(e)),
        },
        Ok(resp) if resp.status == 429 => Attempt::NotApplied(Ok(resp)),
        Ok(resp) => Attempt::Final(Ok(resp)),
        Err(e @ TransportError::Connect(_)) => Attempt::NotApplied(Err(e)),
        // The handshake failed before the request was sent: nothing was
        // applied, and no retry makes the certificate trusted.
        Err(e @ TransportError::Tls(_)) => Attempt::Final(Err(SyncError::Transport {
            service: Service::Ghl,
            endpoint: ENDPOINT.into(),
            message: e.to_string(),
        })),
        Err(e) => Attempt::Final(Err(SyncError::Transport {
            service: Service::Ghl,
            endpoint: ENDPOINT.into(),
            message: format!(
                "{e}; the refresh may have been applied, so it is not sent again: if the next run is refused, authorize the connection again"
            ),
        })),
    }
}

/// Whether a non-2xx answer to the refresh means the refresh token was
/// refused (GHL answers 400, 401 or 422): a user must authorize again.
pub fn is_refusal(status: u16) -> bool {
    matches!(status, 400 | 401 | 422)
}

/// `GetAccessCodeSuccessfulResponseDto`, the parts a refresh needs.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    refresh_token: String,
    #[serde(default)]
    expires_in: Option<f64>,
    #[serde(default)]
    scope: Option<String>,
}

/// Reads a 200 answer into the new pair. Scopes default to the previous
/// ones when the answer does not list them.
pub fn read_answer(body: &[u8], now_ms: u64, previous_scopes: &[String]) -> Result<OAuthTokens, SyncError> {
    let answer: TokenAnswer = crate::json::parse(Service::Ghl, ENDPOINT, body)?;
    let invalid = |field: &str, message: &str| SyncError::InvalidResponse {
        service: Service::Ghl,
        endpoint: ENDPOINT.into(),
        field: field.into(),
        message: format!("{message}; the old refresh token is spent, so the connection must be authorized again"),
    };
    if answer.access_token.is_empty() || answer.access_token.contains(char::is_whitespace) {
        return Err(invalid("access_token", "the new access token is empty or not a token"));
    }
    if answer.refresh_token.is_empty() || answer.refresh_token.contains(char::is_whitespace) {
        return Err(invalid(
            "refresh_token",
            "the new refresh token is empty or not a token",
        ));
    }
    let expires_at_ms = match answer.expires_in {
        Some(s) if s.is_finite() && s > 0.0 => Some(now_ms.saturating_add((s * 1000.0).min(1.0e15) as u64)),
        _ => None,
    };
    let scopes = match answer.scope {
        Some(s) if !s.trim().is_empty() => s.split_whitespace().map(str::to_string).collect(),
        _ => previous_scopes.to_vec(),
    };
    Ok(OAuthTokens {
        access_token: Secret::new(answer.access_token),
        refresh_token: Secret::new(answer.refresh_token),
        expires_at_ms,
        scopes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oauth() -> OAuthCredential {
        OAuthCredential {
            tokens: OAuthTokens {
                access_token: Secret::new("acc-1"),
                refresh_token: Secret::new("ref 1/+&="),
                expires_at_ms: Some(1_000_000),
                scopes: vec![],
            },
            client_id: "client-1".into(),
            client_secret: Secret::new("shh"),
        }
    }

    #[test]
    fn refresh_is_form_encoded_per_the_spec() {
        let r = request("https://services.leadconnectorhq.com", &oauth(), 5000);
        assert_eq!(r.url, "https://services.leadconnectorhq.com/oauth/token");
        assert_eq!(r.method, Method::Post);
        let body = String::from_utf8(r.body.unwrap()).unwrap();
        assert_eq!(
            body,
            "client_id=client-1&client_secret=shh&grant_type=refresh_token&refresh_token=ref%201%2F%2B%26%3D&user_type=Location"
        );
        assert!(r.headers.iter().all(|(k, _)| !k.eq_ignore_ascii_case("authorization")));
    }

    #[test]
    fn answers_become_tokens() {
        let t = read_answer(
            br#"{"access_token":"a2","token_type":"Bearer","expires_in":86399,"refresh_token":"r2","scope":"socialplanner/tag.readonly x/y","userId":"u"}"#,
            1000,
            &[],
        )
        .unwrap();
        assert_eq!(t.access_token.expose(), "a2");
        assert_eq!(t.refresh_token.expose(), "r2");
        assert_eq!(t.expires_at_ms, Some(86_400_000));
        assert_eq!(t.scopes, vec!["socialplanner/tag.readonly", "x/y"]);
        let e = read_answer(br#"{"access_token":"a2","refresh_token":""}"#, 0, &[]).unwrap_err();
        assert!(e.to_string().contains("authorized again"), "{e}");
        assert!(read_answer(br#"{"access_token":"a2"}"#, 0, &[]).is_err());
    }

    #[test]
    fn only_what_was_surely_not_applied_may_go_again() {
        let answer = |status: u16| {
            Ok(Response {
                status,
                headers: vec![],
                body: br#"{"message":"x"}"#.to_vec(),
            })
        };
        assert!(matches!(judge(answer(429), 0, &[]), Attempt::NotApplied(_)));
        assert!(matches!(
            judge(Err(TransportError::Connect("refused".into())), 0, &[]),
            Attempt::NotApplied(_)
        ));
        for status in [400, 401, 422, 500, 502, 503] {
            assert!(
                matches!(judge(answer(status), 0, &[]), Attempt::Final(Ok(_))),
                "{status}"
            );
        }
        for e in [TransportError::Timeout, TransportError::Io("reset".into())] {
            match judge(Err(e), 0, &[]) {
                Attempt::Final(Err(e)) => assert!(e.to_string().contains("not sent again"), "{e}"),
                other => panic!("{other:?}"),
            }
        }
        assert!(is_refusal(401) && is_refusal(422) && !is_refusal(500));
    }

    #[test]
    fn a_refused_certificate_is_final_and_says_nothing_was_sent() {
        let e = TransportError::Tls("the certificate of ghl.example is signed by an unknown issuer".into());
        match judge(Err(e), 0, &[]) {
            Attempt::Final(Err(e)) => {
                let text = e.to_string();
                assert!(
                    text.contains("unknown issuer") && text.contains("not retried"),
                    "{text}"
                );
                assert!(!text.contains("may have been applied"), "{text}");
            }
            other => panic!("{other:?}"),
        }
    }
}
