//! The installs' own thread. Each pass, woken by a webhook or a consent or
//! once a second:
//!
//! 1. the commands `ghl-rankr connections` left are carried out;
//! 2. each agency due is listed (at start, after a consent or an
//!    agency-level INSTALL, then every `list_installs`): new sub-accounts
//!    become pending installs, those no longer listed are stopped;
//! 3. pending installs get their first token from the agency's, a few per
//!    pass, each failure backing off on its own;
//! 4. the registry is made to match the active installs, and the scheduler
//!    told of each connection that joins or leaves.
//!
//! Every step reads what to do from the database and commits what it did,
//! so a crash at any point is taken up by the next process's first pass.

use super::error::InstallError;
use super::tokens::Ctx;
use super::Installs;
use crate::serve::audit::{Action, Entry, Verdict};
use crate::serve::connections::Origin;
use crate::serve::db::{DbResult, InstallState, Said};
use crate::serve::state::{AppState, Command};
use ghl_rankr_host::clock::Clock;
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

/// The longest wait between passes.
const PASS: Duration = Duration::from_secs(1);
/// Pending installs tried per pass: a bulk install of thousands does not
/// hold up the commands and the registry.
const PER_PASS: usize = 25;
/// The first wait after a failed step; it doubles up to [`BACKOFF_MAX_MS`].
const BACKOFF_MS: u64 = 5_000;
const BACKOFF_MAX_MS: u64 = 30 * 60 * 1000;

/// When a failed step may be tried again, by key.
#[derive(Default)]
struct Backoff {
    until: HashMap<String, (u64, u32)>,
}

impl Backoff {
    fn ready(&self, key: &str, now: u64) -> bool {
        self.until.get(key).is_none_or(|(at, _)| *at <= now)
    }

    fn failed(&mut self, key: &str, now: u64) -> u64 {
        let n = self.until.get(key).map_or(0, |(_, n)| *n);
        let wait = (BACKOFF_MS << n.min(20)).min(BACKOFF_MAX_MS);
        self.until.insert(key.to_string(), (now + wait, n + 1));
        wait
    }

    fn done(&mut self, key: &str) {
        self.until.remove(key);
    }
}

/// Runs passes until `stop` is raised.
pub fn run(state: Arc<AppState>, woken: mpsc::Receiver<()>, stop: Arc<AtomicBool>) {
    let Some(installs) = state.installs.as_ref() else {
        return;
    };
    let mut backoff = Backoff::default();
    let mut pending_left = false;
    // The first pass lists every agency: installs whose webhooks a crash
    // (or HighLevel) lost are found at once, not an interval later.
    let mut first = true;
    tracing::info!(target: "ghl_rankr::serve", app = installs.app_id(), "installs started");
    while !stop.load(Ordering::SeqCst) && !state.stopping.load(Ordering::SeqCst) {
        let passed = pass(&state, installs, &mut backoff, &mut pending_left, first);
        first = false;
        if let Err(e) = passed {
            tracing::error!(target: "ghl_rankr::serve", error = %e, "an installs pass failed; the next one tries again");
        }
        // More pending installs than one pass takes: go on at once.
        let wait = if pending_left { Duration::ZERO } else { PASS };
        if woken.recv_timeout(wait).is_ok() {
            while woken.try_recv().is_ok() {}
        }
    }
}

fn pass(
    state: &AppState,
    installs: &Installs,
    backoff: &mut Backoff,
    pending_left: &mut bool,
    list_all: bool,
) -> DbResult<()> {
    commands(state)?;
    let ctx = Ctx {
        installs,
        db: &state.db,
        clock: &state.clock,
    };
    let now = state.clock.now_ms();
    let every = installs.app.list_installs.as_millis() as u64;
    for (company, listed) in state.db.active_agencies()? {
        let key = format!("agency:{company}");
        let due = list_all || listed.is_none_or(|at| now.saturating_sub(at) >= every);
        if !due || !backoff.ready(&key, now) {
            continue;
        }
        match list(state, &ctx, &company) {
            Ok(()) => backoff.done(&key),
            Err(InstallError::Store(e)) => return Err(e),
            Err(e) => {
                let wait = backoff.failed(&key, now);
                tracing::warn!(target: "ghl_rankr::serve", company, error = %e, retry_in_ms = wait, "the agency's installs could not be listed");
            }
        }
    }
    let pending = state.db.installs(InstallState::Pending)?;
    let ready: Vec<_> = pending.iter().filter(|i| backoff.ready(&i.location_id, now)).collect();
    *pending_left = ready.len() > PER_PASS;
    for install in ready.into_iter().take(PER_PASS) {
        if state.stopping.load(Ordering::SeqCst) {
            break;
        }
        match ctx.exchange(&install.location_id, install.company_id.as_deref()) {
            Ok(tokens) => {
                if state
                    .db
                    .activate_install(&install.location_id, &tokens, state.clock.now_ms())?
                {
                    backoff.done(&install.location_id);
                    tracing::info!(target: "ghl_rankr::serve", location = %install.location_id, connection = %install.name, "sub-account token had: the connection is active");
                }
            }
            Err(InstallError::Store(e)) => return Err(e),
            Err(e) => {
                let wait = backoff.failed(&install.location_id, now);
                let note = e.to_string();
                if install.note.as_deref() != Some(note.as_str()) {
                    state
                        .db
                        .set_install_state(&install.location_id, InstallState::Pending, Some(&note), now)?;
                }
                tracing::warn!(target: "ghl_rankr::serve", location = %install.location_id, error = %note, retry_in_ms = wait, "no token yet for a sub-account");
            }
        }
    }
    reconcile(state, installs)
}

/// Lists `company`'s installs: new ones pending, unlisted ones stopped.
fn list(state: &AppState, ctx: &Ctx<'_>, company: &str) -> Result<(), InstallError> {
    let market = ctx.installs.marketplace(&state.clock);
    let agency = ctx.agency_access(company, None)?;
    let listed = match market.installed(company, &agency) {
        Err(InstallError::Refused { .. }) => {
            let agency = ctx.agency_access(company, Some(&agency))?;
            market.installed(company, &agency)?
        }
        other => other?,
    };
    let now = state.clock.now_ms();
    let ids: BTreeSet<&str> = listed.iter().map(|l| l.location_id.as_str()).collect();
    let known = state.db.all_installs()?;
    let new: Vec<_> = listed
        .iter()
        .filter(|l| super::valid_location(&l.location_id))
        .filter(|l| {
            known
                .iter()
                .find(|k| k.location_id == l.location_id)
                .is_none_or(|k| k.state == InstallState::Stopped)
        })
        .map(|l| {
            ctx.installs
                .install_of(&l.location_id, Some(company), Some(&l.name), now)
        })
        .collect();
    let gone: Vec<String> = known
        .iter()
        .filter(|k| k.company_id.as_deref() == Some(company))
        .filter(|k| matches!(k.state, InstallState::Pending | InstallState::Active))
        .filter(|k| !ids.contains(k.location_id.as_str()))
        .map(|k| k.location_id.clone())
        .collect();
    state.db.add_installs(&new, Said::Listing, now)?;
    state
        .db
        .stop_installs(&gone, "no longer installed (the agency's listing)", now)?;
    state.db.set_agency_listed(company, now)?;
    for (action, locations) in [
        (
            Action::Install,
            new.iter().map(|i| i.location_id.clone()).collect::<Vec<_>>(),
        ),
        (Action::Uninstall, gone.clone()),
    ] {
        if locations.is_empty() {
            continue;
        }
        let entry = Entry::new(now, "listing", action, Verdict::Ok)
            .on(company)
            .saying(format!("{} sub-accounts: {}", locations.len(), locations.join(", ")));
        let _ = state.db.record(&entry);
    }
    tracing::info!(target: "ghl_rankr::serve", company, installed = listed.len(), new = new.len(), stopped = gone.len(), "the agency's installs are listed");
    Ok(())
}

/// The commands `ghl-rankr connections` left, carried out.
fn commands(state: &AppState) -> DbResult<()> {
    for c in state.db.take_controls()? {
        let now = state.clock.now_ms();
        let (action, done) = match c.action.as_str() {
            "pause" => (
                Action::Pause,
                state.connection(&c.connection).is_some()
                    && state.send(Command::Pause {
                        connection: c.connection.clone(),
                        by: c.by.clone(),
                    }),
            ),
            "resume" => (
                Action::Resume,
                state.connection(&c.connection).is_some()
                    && state.send(Command::Resume {
                        connection: c.connection.clone(),
                        by: c.by.clone(),
                    }),
            ),
            "remove" => (
                Action::Remove,
                state
                    .db
                    .remove_install(&c.connection, &format!("removed by {}", c.by), now)?,
            ),
            other => {
                tracing::warn!(target: "ghl_rankr::serve", action = other, "an unknown command is left unread");
                continue;
            }
        };
        let entry = Entry::new(
            now,
            c.by.clone(),
            action,
            if done { Verdict::Ok } else { Verdict::Failed },
        )
        .on(c.connection.clone())
        .saying("from `ghl-rankr connections`");
        let _ = state.db.record(&entry);
    }
    Ok(())
}

/// The registry's installed connections made to match the active
/// installs; the scheduler told of each change.
fn reconcile(state: &AppState, installs: &Installs) -> DbResult<()> {
    let active = state.db.installs(InstallState::Active)?;
    let names: BTreeSet<&str> = active.iter().map(|i| i.name.as_str()).collect();
    for entry in state.registry.all() {
        if matches!(entry.origin, Origin::Installed { .. }) && !names.contains(entry.connection.name.as_str()) {
            let name = entry.connection.name.clone();
            state.registry.remove(&name);
            state.metrics.forget(&name);
            state.send(Command::Removed {
                connection: name.clone(),
            });
            tracing::info!(target: "ghl_rankr::serve", connection = %name, "the install stopped: nothing more runs for it");
        }
    }
    for install in &active {
        match state.registry.get(&install.name) {
            Some(e) if matches!(e.origin, Origin::File) => {
                tracing::error!(target: "ghl_rankr::serve", connection = %install.name, location = %install.location_id, "a file connection has the name the template gives this sub-account: it does not run; rename one");
            }
            Some(_) => {}
            None => {
                state.registry.insert(installs.entry(install));
                crate::serve::state::gauges(&state.db, &state.metrics, &install.name)?;
                state.send(Command::Added {
                    connection: install.name.clone(),
                });
                tracing::info!(target: "ghl_rankr::serve", connection = %install.name, location = %install.location_id, "a sub-account joins");
            }
        }
    }
    Ok(())
}
