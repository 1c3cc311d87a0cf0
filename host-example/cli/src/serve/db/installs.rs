//! What agency installs keep: each agency's token pair (sealed like the
//! connections' pairs), the sub-accounts installs made connections of, the
//! consent flow's single-use states, the webhooks already acted on, and the
//! commands `ghl-rankr connections` leaves for a running service.
//!
//! Invariants:
//! - A webhook's id and what it asked for (installs to make, sub-accounts
//!   to stop) commit in one transaction: a repeated webhook acts once, and
//!   a crash after the answer loses nothing (the install is `pending` until
//!   its token is had).
//! - A stopped install keeps its history and state; its tokens are gone.

use super::open::{from_sql_ms, to_sql_ms, Db, DbResult};
use super::tokens::{reveal, store, AGENCIES};

/// The seed of an install's pair: it comes from the agency or a consent,
/// never from the environment.
pub const INSTALL_SEED: &str = "install";
use crate::credentials::Tokens;
use rusqlite::{params, OptionalExtension, Transaction};

/// Where an install is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstallState {
    /// Known, its token not had yet.
    Pending,
    Active,
    /// Uninstalled: runs nothing, tokens deleted, history kept.
    Stopped,
    /// Removed by an operator (`ghl-rankr connections remove`): as stopped,
    /// and a listing does not bring it back (an INSTALL or a consent does).
    Removed,
}

impl InstallState {
    pub fn as_str(self) -> &'static str {
        match self {
            InstallState::Pending => "pending",
            InstallState::Active => "active",
            InstallState::Stopped => "stopped",
            InstallState::Removed => "removed",
        }
    }

    fn parse(text: &str) -> InstallState {
        match text {
            "active" => InstallState::Active,
            "stopped" => InstallState::Stopped,
            "removed" => InstallState::Removed,
            _ => InstallState::Pending,
        }
    }
}

/// A sub-account an install made a connection of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Install {
    pub location_id: String,
    /// The connection's name (from the template).
    pub name: String,
    /// The agency, when the install came through one.
    pub company_id: Option<String>,
    pub location_name: Option<String>,
    pub state: InstallState,
    /// Why it is pending or stopped.
    pub note: Option<String>,
    pub installed_ms: u64,
}

/// An agency's pair and how it is doing.
#[derive(Debug, Clone, PartialEq)]
pub struct Agency {
    pub company_id: String,
    pub tokens: Tokens,
    /// `active`, `uninstalled`, or `refused` (its refresh was refused).
    pub state: String,
    pub note: Option<String>,
    pub listed_ms: Option<u64>,
}

/// A command `ghl-rankr connections` left for the running service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Control {
    pub id: i64,
    pub connection: String,
    pub action: String,
    pub by: String,
}

/// What a webhook asks for, committed with its id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookEffects {
    pub installs: Vec<Install>,
    /// Locations whose installs stop.
    pub stops: Vec<String>,
    /// An agency uninstalled: all its installs stop, its pair goes.
    pub agency_uninstalled: Option<String>,
}

fn install_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Install> {
    Ok(Install {
        location_id: r.get(0)?,
        name: r.get(1)?,
        company_id: r.get(2)?,
        location_name: r.get(3)?,
        state: InstallState::parse(&r.get::<_, String>(4)?),
        note: r.get(5)?,
        installed_ms: from_sql_ms(r.get(6)?),
    })
}

const INSTALL_COLUMNS: &str = "location_id, name, company_id, location_name, state, note, installed_ms";

/// Who says a sub-account is installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Said {
    /// An INSTALL webhook or a consent: it brings back a removed one.
    Explicitly,
    /// The agency's listing: a removed one stays removed.
    Listing,
}

fn upsert_install(tx: &Transaction<'_>, i: &Install, said: Said, now_ms: u64) -> DbResult<()> {
    // A stopped install comes back pending (a removed one only when said
    // explicitly); a pending or active one keeps its state (an install
    // repeated is not a new one).
    tx.execute(
        "INSERT INTO installs (location_id, name, company_id, location_name, state, note, installed_ms, changed_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
         ON CONFLICT (location_id) DO UPDATE SET
             company_id = coalesce(?3, company_id),
             location_name = coalesce(?4, location_name),
             state = CASE WHEN state = 'stopped' OR (state = 'removed' AND ?8) THEN ?5 ELSE state END,
             note = CASE WHEN state = 'stopped' OR (state = 'removed' AND ?8) THEN ?6 ELSE note END,
             changed_ms = ?7",
        params![
            i.location_id,
            i.name,
            i.company_id,
            i.location_name,
            i.state.as_str(),
            i.note,
            to_sql_ms(now_ms),
            said == Said::Explicitly
        ],
    )?;
    Ok(())
}

fn stop(tx: &Transaction<'_>, location: &str, note: &str, now_ms: u64) -> DbResult<()> {
    end(tx, location, InstallState::Stopped, note, now_ms)
}

/// Stops (or removes) an install: it runs nothing more, its tokens and
/// due runs go, its history stays.
fn end(tx: &Transaction<'_>, location: &str, to: InstallState, note: &str, now_ms: u64) -> DbResult<()> {
    let name: Option<String> = tx
        .query_row(
            "SELECT name FROM installs WHERE location_id = ?1",
            params![location],
            |r| r.get(0),
        )
        .optional()?;
    let Some(name) = name else { return Ok(()) };
    tx.execute(
        "UPDATE installs SET state = ?4, note = ?2, changed_ms = ?3 WHERE location_id = ?1",
        params![location, note, to_sql_ms(now_ms), to.as_str()],
    )?;
    tx.execute("DELETE FROM tokens WHERE connection = ?1", params![name])?;
    // Nothing is due for it any more; its runs stay in the history.
    tx.execute("DELETE FROM schedule WHERE connection = ?1", params![name])?;
    Ok(())
}

impl Db {
    /// Keeps (or replaces) an agency's pair, sealed, before it is used.
    pub fn put_agency(&self, company: &str, t: &Tokens, now_ms: u64) -> DbResult<()> {
        let sealer = self.sealer.as_ref();
        self.write()?.execute(
            "INSERT INTO agencies (company_id, access_token, refresh_token, expires_at_ms, scopes, state, connected_ms, updated_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, 'active', ?6, ?6)
             ON CONFLICT (company_id) DO UPDATE SET access_token = ?2, refresh_token = ?3, expires_at_ms = ?4,
                 scopes = ?5, state = 'active', note = NULL, updated_ms = ?6",
            params![
                company,
                store(sealer, AGENCIES, "access_token", company, &t.access_token),
                store(sealer, AGENCIES, "refresh_token", company, &t.refresh_token),
                t.expires_at_ms.map(to_sql_ms),
                t.scopes.join(" "),
                to_sql_ms(now_ms)
            ],
        )?;
        Ok(())
    }

    pub fn agency(&self, company: &str) -> DbResult<Option<Agency>> {
        let row = self
            .write()?
            .query_row(
                "SELECT access_token, refresh_token, expires_at_ms, scopes, state, note, listed_ms FROM agencies WHERE company_id = ?1",
                params![company],
                |r| {
                    Ok((
                        r.get_ref(0)?.as_bytes()?.to_vec(),
                        r.get_ref(1)?.as_bytes()?.to_vec(),
                        r.get::<_, Option<i64>>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, Option<String>>(5)?,
                        r.get::<_, Option<i64>>(6)?,
                    ))
                },
            )
            .optional()?;
        let Some((access, refresh, expires, scopes, state, note, listed)) = row else {
            return Ok(None);
        };
        let sealer = self.sealer.as_ref();
        Ok(Some(Agency {
            company_id: company.to_string(),
            tokens: Tokens {
                access_token: reveal(sealer, AGENCIES, "access_token", company, &access)?,
                refresh_token: reveal(sealer, AGENCIES, "refresh_token", company, &refresh)?,
                expires_at_ms: expires.map(from_sql_ms),
                scopes: scopes.split_whitespace().map(str::to_string).collect(),
            },
            state,
            note,
            listed_ms: listed.map(from_sql_ms),
        }))
    }

    /// The agencies that are installed, by company id, with when each was
    /// last listed.
    pub fn active_agencies(&self) -> DbResult<Vec<(String, Option<u64>)>> {
        let conn = self.write()?;
        let mut stmt = conn.prepare("SELECT company_id, listed_ms FROM agencies WHERE state = 'active' ORDER BY 1")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get::<_, Option<i64>>(1)?.map(from_sql_ms))))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every agency, as `connections list` shows them: company, state, note.
    pub fn agencies(&self) -> DbResult<Vec<(String, String, Option<String>)>> {
        let conn = self.read();
        let mut stmt = conn.prepare("SELECT company_id, state, note FROM agencies ORDER BY 1")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Marks an agency `state` (refused, uninstalled) with why.
    pub fn set_agency_state(&self, company: &str, state: &str, note: &str, now_ms: u64) -> DbResult<()> {
        self.write()?.execute(
            "UPDATE agencies SET state = ?2, note = ?3, updated_ms = ?4 WHERE company_id = ?1",
            params![company, state, note, to_sql_ms(now_ms)],
        )?;
        Ok(())
    }

    pub fn set_agency_listed(&self, company: &str, now_ms: u64) -> DbResult<()> {
        self.write()?.execute(
            "UPDATE agencies SET listed_ms = ?2 WHERE company_id = ?1",
            params![company, to_sql_ms(now_ms)],
        )?;
        Ok(())
    }

    /// Installs in `state`, by location.
    pub fn installs(&self, state: InstallState) -> DbResult<Vec<Install>> {
        let conn = self.write()?;
        let mut stmt = conn.prepare(&format!(
            "SELECT {INSTALL_COLUMNS} FROM installs WHERE state = ?1 ORDER BY location_id"
        ))?;
        let rows = stmt.query_map(params![state.as_str()], install_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every install, as `ghl-rankr connections list` shows them.
    pub fn all_installs(&self) -> DbResult<Vec<Install>> {
        let conn = self.read();
        let mut stmt = conn.prepare(&format!("SELECT {INSTALL_COLUMNS} FROM installs ORDER BY name"))?;
        let rows = stmt.query_map([], install_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn install(&self, location: &str) -> DbResult<Option<Install>> {
        Ok(self
            .write()?
            .query_row(
                &format!("SELECT {INSTALL_COLUMNS} FROM installs WHERE location_id = ?1"),
                params![location],
                install_row,
            )
            .optional()?)
    }

    /// Records installs (a listing, a consent) not known yet, or stopped.
    pub fn add_installs(&self, installs: &[Install], said: Said, now_ms: u64) -> DbResult<()> {
        let mut conn = self.write()?;
        let tx = conn.transaction()?;
        for i in installs {
            upsert_install(&tx, i, said, now_ms)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// An install now has its token, or is pending again with why.
    pub fn set_install_state(
        &self,
        location: &str,
        state: InstallState,
        note: Option<&str>,
        now_ms: u64,
    ) -> DbResult<()> {
        self.write()?.execute(
            "UPDATE installs SET state = ?2, note = ?3, changed_ms = ?4 WHERE location_id = ?1",
            params![location, state.as_str(), note, to_sql_ms(now_ms)],
        )?;
        Ok(())
    }

    /// Removes an install on an operator's word: as stopped, and kept so by
    /// the listing. False when there is no install of that name.
    pub fn remove_install(&self, name: &str, note: &str, now_ms: u64) -> DbResult<bool> {
        let mut conn = self.write()?;
        let tx = conn.transaction()?;
        let location: Option<String> = tx
            .query_row("SELECT location_id FROM installs WHERE name = ?1", params![name], |r| {
                r.get(0)
            })
            .optional()?;
        let Some(location) = location else { return Ok(false) };
        end(&tx, &location, InstallState::Removed, note, now_ms)?;
        tx.commit()?;
        Ok(true)
    }

    /// Stops the installs of `locations` and deletes their tokens, in one
    /// transaction.
    pub fn stop_installs(&self, locations: &[String], note: &str, now_ms: u64) -> DbResult<()> {
        let mut conn = self.write()?;
        let tx = conn.transaction()?;
        for l in locations {
            stop(&tx, l, note, now_ms)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// A webhook's id and its effects, in one transaction; `true` when the
    /// id was seen before (nothing is done again).
    pub fn accept_webhook(&self, webhook_id: &str, effects: &WebhookEffects, now_ms: u64) -> DbResult<bool> {
        let mut conn = self.write()?;
        let tx = conn.transaction()?;
        let fresh = tx.execute(
            "INSERT OR IGNORE INTO webhooks (webhook_id, received_ms) VALUES (?1, ?2)",
            params![webhook_id, to_sql_ms(now_ms)],
        )? == 1;
        if !fresh {
            return Ok(true);
        }
        for i in &effects.installs {
            upsert_install(&tx, i, Said::Explicitly, now_ms)?;
        }
        for l in &effects.stops {
            stop(&tx, l, "uninstalled", now_ms)?;
        }
        if let Some(company) = &effects.agency_uninstalled {
            let locations: Vec<String> = {
                let mut stmt = tx.prepare(
                    "SELECT location_id FROM installs WHERE company_id = ?1 AND state IN ('pending', 'active')",
                )?;
                let rows = stmt.query_map(params![company], |r| r.get(0))?;
                rows.collect::<Result<_, _>>()?
            };
            for l in &locations {
                stop(&tx, l, "the agency uninstalled the app", now_ms)?;
            }
            tx.execute(
                "UPDATE agencies SET state = 'uninstalled', access_token = x'', refresh_token = x'', updated_ms = ?2 WHERE company_id = ?1",
                params![company, to_sql_ms(now_ms)],
            )?;
        }
        tx.commit()?;
        Ok(false)
    }

    /// An install has its first token: the pair is stored (sealed) and the
    /// install becomes active, in one transaction. False, with nothing
    /// stored, when it was stopped meanwhile (an UNINSTALL won the race).
    pub fn activate_install(&self, location: &str, t: &Tokens, now_ms: u64) -> DbResult<bool> {
        let mut conn = self.write()?;
        let tx = conn.transaction()?;
        let name: Option<String> = tx
            .query_row(
                "SELECT name FROM installs WHERE location_id = ?1 AND state IN ('pending', 'active')",
                params![location],
                |r| r.get(0),
            )
            .optional()?;
        let Some(name) = name else { return Ok(false) };
        super::tokens::put(&tx, self.sealer.as_ref(), &name, t, INSTALL_SEED, now_ms)?;
        tx.execute(
            "UPDATE installs SET state = 'active', note = NULL, changed_ms = ?2 WHERE location_id = ?1",
            params![location, to_sql_ms(now_ms)],
        )?;
        tx.commit()?;
        Ok(true)
    }

    /// A renewed or rotated pair of an install's connection, stored only
    /// while the install is active: a run that ends after an UNINSTALL
    /// does not bring its tokens back. False when it was not stored.
    pub fn put_install_tokens(&self, name: &str, t: &Tokens, now_ms: u64) -> DbResult<bool> {
        let mut conn = self.write()?;
        let tx = conn.transaction()?;
        let active: i64 = tx.query_row(
            "SELECT count(*) FROM installs WHERE name = ?1 AND state = 'active'",
            params![name],
            |r| r.get(0),
        )?;
        if active == 0 {
            return Ok(false);
        }
        super::tokens::put(&tx, self.sealer.as_ref(), name, t, INSTALL_SEED, now_ms)?;
        tx.commit()?;
        Ok(true)
    }

    /// Whether a connection of this name ever was: an install, or runs in
    /// the history (a stopped install's stay).
    pub fn knows(&self, name: &str) -> DbResult<bool> {
        Ok(self.read().query_row(
            "SELECT EXISTS (SELECT 1 FROM installs WHERE name = ?1) OR EXISTS (SELECT 1 FROM runs WHERE connection = ?1)",
            params![name],
            |r| r.get(0),
        )?)
    }

    /// An install by its connection's name.
    pub fn install_named(&self, name: &str) -> DbResult<Option<Install>> {
        Ok(self
            .read()
            .query_row(
                &format!("SELECT {INSTALL_COLUMNS} FROM installs WHERE name = ?1"),
                params![name],
                install_row,
            )
            .optional()?)
    }

    /// The agency's installs are listed at the next pass (a consent, an
    /// agency-level INSTALL).
    pub fn relist_agency(&self, company: &str) -> DbResult<()> {
        self.write()?.execute(
            "UPDATE agencies SET listed_ms = NULL WHERE company_id = ?1",
            params![company],
        )?;
        Ok(())
    }

    /// A new single-use state for the consent flow.
    pub fn new_oauth_state(&self, state: &str, now_ms: u64) -> DbResult<()> {
        self.write()?.execute(
            "INSERT INTO oauth_states (state, created_ms) VALUES (?1, ?2)",
            params![state, to_sql_ms(now_ms)],
        )?;
        Ok(())
    }

    /// Spends `state`: true when it was issued within `max_age_ms` and not
    /// spent before.
    pub fn take_oauth_state(&self, state: &str, now_ms: u64, max_age_ms: u64) -> DbResult<bool> {
        let conn = self.write()?;
        let created: Option<i64> = conn
            .query_row(
                "DELETE FROM oauth_states WHERE state = ?1 RETURNING created_ms",
                params![state],
                |r| r.get(0),
            )
            .optional()?;
        conn.execute(
            "DELETE FROM oauth_states WHERE created_ms < ?1",
            params![to_sql_ms(now_ms.saturating_sub(max_age_ms))],
        )?;
        Ok(created.is_some_and(|c| now_ms.saturating_sub(from_sql_ms(c)) <= max_age_ms))
    }

    /// Leaves a command for the running service.
    pub fn push_control(&self, connection: &str, action: &str, by: &str, now_ms: u64) -> DbResult<i64> {
        let conn = self.write()?;
        conn.execute(
            "INSERT INTO control (connection, action, by, at_ms) VALUES (?1, ?2, ?3, ?4)",
            params![connection, action, by, to_sql_ms(now_ms)],
        )?;
        Ok(conn.last_insert_rowid())
    }

    /// Takes the commands left, oldest first.
    pub fn take_controls(&self) -> DbResult<Vec<Control>> {
        let mut conn = self.write()?;
        let tx = conn.transaction()?;
        let controls: Vec<Control> = {
            let mut stmt = tx.prepare("SELECT id, connection, action, by FROM control ORDER BY id")?;
            let rows = stmt.query_map([], |r| {
                Ok(Control {
                    id: r.get(0)?,
                    connection: r.get(1)?,
                    action: r.get(2)?,
                    by: r.get(3)?,
                })
            })?;
            rows.collect::<Result<_, _>>()?
        };
        tx.execute("DELETE FROM control", [])?;
        tx.commit()?;
        Ok(controls)
    }

    /// Whether command `id` is still waiting.
    pub fn control_pending(&self, id: i64) -> DbResult<bool> {
        let n: i64 = self
            .read()
            .query_row("SELECT count(*) FROM control WHERE id = ?1", params![id], |r| r.get(0))?;
        Ok(n > 0)
    }
}
