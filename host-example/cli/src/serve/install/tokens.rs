//! The tokens installs run on.
//!
//! - An agency's access token is refreshed when it is within
//!   [`AGENCY_AHEAD_MS`] of its expiry, or when GHL refused it. The new
//!   pair is committed before it is used, under a lock, so no two threads
//!   ever send one refresh token; a refused refresh marks the agency
//!   `refused` (its sub-accounts keep their tokens until they expire).
//! - A sub-account's token is renewed when it is within
//!   [`LOCATION_AHEAD_MS`] of its expiry: rotated with its refresh token
//!   when GHL gave one (v3), else exchanged again from the agency's.

use super::client::tokens_of;
use super::error::InstallError;
use super::Installs;
use crate::credentials::Tokens;
use crate::secret::Secret;
use crate::serve::audit::{Action, Entry, Verdict};
use crate::serve::db::Db;
use ghl_rankr_core::auth::marketplace::UserType;
use ghl_rankr_host::clock::Clock;

/// An agency token this close to its expiry is refreshed first.
pub const AGENCY_AHEAD_MS: u64 = 5 * 60 * 1000;
/// A sub-account token this close to its expiry is renewed before a run
/// (a run may take `run_deadline`, 5 minutes by default).
pub const LOCATION_AHEAD_MS: u64 = 10 * 60 * 1000;

/// What the token steps need.
pub struct Ctx<'a> {
    pub installs: &'a Installs,
    pub db: &'a Db,
    pub clock: &'a dyn Clock,
}

impl Ctx<'_> {
    /// The agency's access token, refreshed first when it is about to
    /// expire or is the `refused` one.
    pub fn agency_access(&self, company: &str, refused: Option<&Secret>) -> Result<Secret, InstallError> {
        let _one = self.installs.agency_pair.lock().unwrap_or_else(|p| p.into_inner());
        let unusable = |why: String| InstallError::AgencyUnusable {
            company: company.to_string(),
            why,
        };
        let agency = self
            .db
            .agency(company)?
            .ok_or_else(|| unusable("it has not connected".into()))?;
        if agency.state != "active" {
            return Err(unusable(agency.note.unwrap_or(agency.state)));
        }
        let now = self.clock.now_ms();
        let t = &agency.tokens;
        // Refreshed by another thread since it was refused: the new one.
        let stale = refused.is_some_and(|r| r.expose() == t.access_token.expose());
        let expiring = t.expires_at_ms.is_some_and(|at| at <= now + AGENCY_AHEAD_MS);
        if !stale && !expiring && !t.access_token.expose().is_empty() {
            return Ok(t.access_token.clone());
        }
        if t.refresh_token.expose().is_empty() {
            return Err(unusable("no refresh token is kept for it".into()));
        }
        let market = self.installs.marketplace(self.clock);
        match market.refresh(&t.refresh_token, UserType::Company, &t.scopes) {
            Ok(new) => {
                // Committed before the new access token is used: the old
                // refresh token is spent.
                self.db.put_agency(company, &new, self.clock.now_ms())?;
                tracing::info!(target: "ghl_rankr::serve", company, "agency tokens refreshed and stored");
                Ok(new.access_token)
            }
            Err(e @ InstallError::Refused { .. }) => {
                let why = e.to_string();
                self.db
                    .set_agency_state(company, "refused", &why, self.clock.now_ms())?;
                let entry = Entry::new(self.clock.now_ms(), "service", Action::Install, Verdict::Failed)
                    .on(company)
                    .saying(format!("the agency's refresh was refused: {why}"));
                let _ = self.db.record(&entry);
                tracing::error!(target: "ghl_rankr::serve", company, error = %why, "the agency's refresh token was refused: it must connect again");
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    /// The first token of `location`'s install, from the agency's.
    pub fn exchange(&self, location: &str, company: Option<&str>) -> Result<Tokens, InstallError> {
        let company = match company {
            Some(c) => c.to_string(),
            None => self.only_agency().ok_or_else(|| InstallError::NoAgency {
                location: location.to_string(),
            })?,
        };
        let market = self.installs.marketplace(self.clock);
        let agency = self.agency_access(&company, None)?;
        let grant = match market.location_token(&company, location, &agency) {
            // The agency's token was refused though it had not expired:
            // refreshed once, and asked again.
            Err(InstallError::Refused { .. }) => {
                let agency = self.agency_access(&company, Some(&agency))?;
                market.location_token(&company, location, &agency)?
            }
            other => other?,
        };
        Ok(tokens_of(&grant))
    }

    /// The pair of install connection `name`, renewed first when it is
    /// about to expire.
    pub fn location_tokens(&self, name: &str, location: &str, company: Option<&str>) -> Result<Tokens, InstallError> {
        let now = self.clock.now_ms();
        let stored = self.db.tokens(name)?.map(|p| p.tokens);
        if let Some(t) = &stored {
            let fresh = t.expires_at_ms.is_none_or(|at| at > now + LOCATION_AHEAD_MS);
            if fresh && !t.access_token.expose().is_empty() {
                return Ok(t.clone());
            }
        }
        let renewed = match stored.filter(|t| !t.refresh_token.expose().is_empty()) {
            Some(t) => {
                match self
                    .installs
                    .marketplace(self.clock)
                    .refresh(&t.refresh_token, UserType::Location, &t.scopes)
                {
                    Ok(new) => new,
                    // The sub-account's refresh token is refused; the agency
                    // can still mint it a token.
                    Err(InstallError::Refused { .. }) if company.is_some() || self.only_agency().is_some() => {
                        self.exchange(location, company)?
                    }
                    Err(e) => return Err(e),
                }
            }
            None => self.exchange(location, company)?,
        };
        if !self.db.put_install_tokens(name, &renewed, self.clock.now_ms())? {
            return Err(InstallError::Stopped(name.to_string()));
        }
        tracing::info!(target: "ghl_rankr::serve", connection = name, "sub-account token renewed and stored");
        Ok(renewed)
    }

    /// The one agency connected, when there is exactly one (an install
    /// "via future locations" may come without its company).
    fn only_agency(&self) -> Option<String> {
        let agencies = self.db.active_agencies().ok()?;
        match agencies.as_slice() {
            [(company, _)] => Some(company.clone()),
            _ => None,
        }
    }
}
