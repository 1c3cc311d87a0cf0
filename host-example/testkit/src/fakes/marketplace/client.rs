//! The two parties of the install flow that are not the app: the admin's
//! browser, which opens the consent page and is sent back to the app, and
//! HighLevel's webhook sender. Plain HTTP over loopback; no proxy, so a
//! proxy in the environment never sees a test's traffic.

use super::SignedWebhook;
use std::time::Duration;

/// What the webhook's receiver answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookReply {
    pub status: u16,
    pub body: Vec<u8>,
}

/// An agent that answers every status as a response and follows no
/// redirect: the tests look at what the server said.
fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .proxy(None)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// POSTs `webhook` to `url`: its exact body bytes and headers. Call it
/// without holding [`super::MarketplaceFake::lock`]: a receiver that
/// exchanges a token while it handles an INSTALL would wait for it.
pub fn send_webhook(url: &str, webhook: &SignedWebhook) -> Result<WebhookReply, String> {
    send_webhook_with(&agent(), url, webhook)
}

/// The same with a caller's agent (HTTPS with a test CA, say).
pub fn send_webhook_with(agent: &ureq::Agent, url: &str, webhook: &SignedWebhook) -> Result<WebhookReply, String> {
    let mut req = agent.post(url);
    for (k, v) in &webhook.headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let mut resp = req
        .send(webhook.body.as_slice())
        .map_err(|e| format!("POST {url}: {e}"))?;
    let status = resp.status().as_u16();
    let body = resp
        .body_mut()
        .read_to_vec()
        .map_err(|e| format!("POST {url}: reading the answer: {e}"))?;
    Ok(WebhookReply { status, body })
}

/// Opens `url` as the admin's browser does and returns where the answer's
/// redirect points (the app's callback with `code` or `error`). Follows
/// redirects before the consent page's own (an app's "install" link that
/// sends the browser to the consent page), up to a few.
pub fn consent_redirect(url: &str) -> Result<String, String> {
    let agent = agent();
    let mut at = url.to_string();
    for _ in 0..5 {
        let mut resp = agent.get(&at).call().map_err(|e| format!("GET {at}: {e}"))?;
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        match (status, location) {
            (301..=308, Some(next)) if !at.contains("/v2/oauth/chooselocation") => at = next,
            (301..=308, Some(back)) => return Ok(back),
            _ => {
                let body = resp.body_mut().read_to_string().unwrap_or_default();
                return Err(format!("GET {at} answered {status}, not a redirect: {body}"));
            }
        }
    }
    Err(format!("{url}: too many redirects before the consent page"))
}
