//! Refused credentials go to the audit log, within each address's budget
//! ([`crate::serve::audit::RefusalBudget`]).

use super::Head;
use crate::serve::access::Refusal;
use crate::serve::audit::{Action, Entry, Verdict};
use crate::serve::state::AppState;
use ghl_rankr_host::clock::Clock;

/// Records `refusal` of `head`'s request, unless its address has had its
/// share this minute.
pub fn record(state: &AppState, head: &Head<'_>, refusal: &Refusal) {
    let now = state.clock.now_ms();
    let address = head.peer.map(|a| a.ip());
    if !state.refusals.admit(address, now) {
        return;
    }
    let (actor, why) = match refusal {
        Refusal::Unauthenticated => (
            "anonymous".to_string(),
            if head.authorization.is_some() {
                "a token that matches none"
            } else {
                "no token"
            }
            .to_string(),
        ),
        Refusal::Forbidden { caller, needs } => (caller.clone(), format!("needs the {} role", needs.as_str())),
        Refusal::NoOperator => ("anonymous".to_string(), "no operator token is configured".to_string()),
    };
    let entry = Entry::new(now, actor, Action::RefusedCredential, Verdict::Refused)
        .from_address(address.map(|a| a.to_string()))
        .on(format!(
            "{} {}",
            head.method,
            head.path.chars().take(200).collect::<String>()
        ))
        .saying(why);
    if let Err(e) = state.db.record(&entry) {
        tracing::error!(target: "ghl_rankr::serve", error = %e, "cannot record a refused credential in the audit log");
    }
}
