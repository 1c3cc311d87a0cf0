//! The "connect" button: `GET /install` sends the admin to HighLevel's
//! consent page; `GET /oauth/callback` is where HighLevel sends them back.
//!
//! - The `state` is 32 random bytes, kept in the database, single-use and
//!   good for 10 minutes: a callback without one this service issued
//!   changes nothing (it would let anyone connect their agency here).
//! - The code is exchanged once. An agency's pair is kept as the agency
//!   (its sub-accounts are listed at once); a sub-account's makes it a
//!   connection.
//! - Every outcome is a page that says what happened and what to do.

use super::client::tokens_of;
use super::Installs;
use crate::serve::audit::{Action, Entry, Verdict};
use crate::serve::db::{InstallState, Said};
use crate::serve::reply::Reply;
use crate::serve::state::{AppState, Command};
use aes_gcm::aead::rand_core::RngCore as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ghl_rankr_core::auth::marketplace::{self as mp, UserType};
use ghl_rankr_host::clock::Clock;
use html_escape::encode_text as esc;

/// `GET /install`: a 302 to the consent page with a new `state`.
pub fn start(state: &AppState, installs: &Installs) -> Reply {
    let mut bytes = [0u8; 32];
    aes_gcm::aead::OsRng.fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    if let Err(e) = state.db.new_oauth_state(&token, state.clock.now_ms()) {
        return page(
            503,
            "Try again",
            &format!("The service cannot record the request now ({e}). Try again in a moment."),
        );
    }
    let url = mp::authorize_url(
        &installs.app.marketplace_url,
        &installs.client_id,
        &installs.redirect_uri(),
        &installs.app.scopes,
        &token,
    );
    Reply {
        status: 302,
        ..Reply::text(302, format!("Continue at {url}\n"))
    }
    .with_header("Location", url)
}

/// `GET /oauth/callback?code=…&state=…` (or `?error=…`).
pub fn callback(state: &AppState, installs: &Installs, query: &str) -> Reply {
    let mut code = None;
    let mut given_state = None;
    let mut error = None;
    let mut error_description = None;
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "code" => code = Some(v.into_owned()),
            "state" => given_state = Some(v.into_owned()),
            "error" => error = Some(v.into_owned()),
            "error_description" => error_description = Some(v.into_owned()),
            _ => {}
        }
    }
    let again = format!(
        "Start again at <a href=\"{0}/install\">{0}/install</a>.",
        esc(&installs.app.public_url)
    );
    let now = state.clock.now_ms();
    let Some(given) = given_state.filter(|s| !s.is_empty()) else {
        return page(
            400,
            "Not connected",
            &format!("This link has no <code>state</code>: an install must start at this service, so that no one else can connect an agency here. {again}"),
        );
    };
    match state.db.take_oauth_state(&given, now, super::STATE_TTL_MS) {
        Ok(true) => {}
        Ok(false) => {
            return page(
                400,
                "Not connected",
                &format!("This link was used already, or is more than 10 minutes old. {again}"),
            )
        }
        Err(e) => {
            return page(
                503,
                "Try again",
                &format!(
                    "The service cannot read its records now ({}). {again}",
                    esc(&e.to_string())
                ),
            )
        }
    }
    if let Some(error) = error {
        let said = error_description.map(|d| format!(": {d}")).unwrap_or_default();
        return page(
            400,
            "Not connected",
            &format!(
                "HighLevel did not grant access ({}{}). Nothing was changed. {again}",
                esc(&error),
                esc(&said)
            ),
        );
    }
    let Some(code) = code.filter(|c| !c.is_empty()) else {
        return page(
            400,
            "Not connected",
            &format!("HighLevel sent no code. Nothing was changed. {again}"),
        );
    };
    let grant = match installs
        .marketplace(&state.clock)
        .exchange_code(&code, &installs.redirect_uri())
    {
        Ok(g) => g,
        Err(e) => {
            tracing::warn!(target: "ghl_rankr::serve", error = %e, "a consent's code was not exchanged");
            return page(
                502,
                "Not connected",
                &format!(
                    "HighLevel did not accept the code: {}. Nothing was changed. {again}",
                    esc(&e.to_string())
                ),
            );
        }
    };
    let tokens = tokens_of(&grant);
    let agency =
        grant.user_type == Some(UserType::Company) || (grant.location_id.is_none() && grant.company_id.is_some());
    let recorded = if agency {
        let Some(company) = grant.company_id.clone() else {
            return page(
                502,
                "Not connected",
                &format!("HighLevel's answer names no agency. {again}"),
            );
        };
        if tokens.refresh_token.expose().is_empty() {
            return page(
                502,
                "Not connected",
                &format!("HighLevel's answer has no refresh token. {again}"),
            );
        }
        let approved: Vec<_> = grant
            .approved_locations
            .iter()
            .filter(|l| super::valid_location(l))
            .map(|l| installs.install_of(l, Some(&company), None, now))
            .collect();
        state
            .db
            .put_agency(&company, &tokens, now)
            .and_then(|_| state.db.relist_agency(&company))
            .and_then(|_| state.db.add_installs(&approved, Said::Explicitly, now))
            .map(|_| {
                (
                    format!("agency {company} connected"),
                    format!(
                        "Agency <code>{}</code> is connected. Its sub-accounts where the app is installed are being added now{}; each appears on the <a href=\"/\">status page</a> as it is.",
                        esc(&company),
                        if approved.is_empty() { String::new() } else { format!(" ({} so far)", approved.len()) }
                    ),
                    company.clone(),
                )
            })
    } else {
        let Some(location) = grant.location_id.clone().filter(|l| super::valid_location(l)) else {
            return page(
                502,
                "Not connected",
                &format!("HighLevel's answer names no sub-account. {again}"),
            );
        };
        let mut install = installs.install_of(&location, grant.company_id.as_deref(), None, now);
        install.state = InstallState::Pending;
        let name = install.name.clone();
        state
            .db
            .add_installs(&[install], Said::Explicitly, now)
            .and_then(|_| state.db.activate_install(&location, &tokens, now))
            .map(|_| {
                (
                    format!("sub-account {location} connected as {name}"),
                    format!(
                        "Sub-account <code>{}</code> is connected as <code>{}</code>. Its first poll runs within seconds: see the <a href=\"/\">status page</a>.",
                        esc(&location),
                        esc(&name)
                    ),
                    location.clone(),
                )
            })
    };
    match recorded {
        Ok((words, html, target)) => {
            let entry = Entry::new(now, "consent", Action::Install, Verdict::Ok)
                .on(target.clone())
                .saying(words.clone());
            if let Err(e) = state.db.record(&entry) {
                tracing::error!(target: "ghl_rankr::serve", error = %e, "cannot record the consent in the audit log");
            }
            tracing::info!(target: "ghl_rankr::serve", "{words}");
            if agency {
                resume_paused(state, &target);
            }
            installs.wake();
            page(200, "Connected", &html)
        }
        Err(e) => page(
            503,
            "Not connected",
            &format!(
                "The service could not store the tokens ({}). {again}",
                esc(&e.to_string())
            ),
        ),
    }
}

/// The agency connected again: its sub-accounts paused for want of it
/// (its refresh was refused) run again.
fn resume_paused(state: &AppState, company: &str) {
    let Ok(all) = state.db.all_installs() else { return };
    for i in all
        .iter()
        .filter(|i| i.company_id.as_deref() == Some(company) && i.state == InstallState::Active)
    {
        if state.db.health(&i.name).is_ok_and(|h| h.paused.is_some()) {
            state.send(Command::Resume {
                connection: i.name.clone(),
                by: "consent".into(),
            });
        }
    }
}

/// A small page; `html` is already escaped.
fn page(status: u16, title: &str, html: &str) -> Reply {
    let body = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>ghl-rankr: {title}</title>\
<style>body {{ font: 16px/1.5 system-ui, sans-serif; margin: 3em auto; max-width: 40em; color: #222; }}</style></head>\
<body><h1>{title}</h1><p>{html}</p></body></html>\n"
    );
    Reply {
        status,
        ..Reply::html(body)
    }
    .with_header(
        "Content-Security-Policy",
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
    )
    .with_header("Referrer-Policy", "no-referrer")
}
