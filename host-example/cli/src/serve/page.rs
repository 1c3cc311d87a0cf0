//! `GET /`: the status page, server-rendered HTML with no script. One row
//! per connection (last run, next run, queue, paused or failing), then the
//! last errors. It refreshes itself every 30 s.

use super::db::{DbResult, InstallState};
use super::state::AppState;
use super::view::{check_cell, run_line, state, when};
use html_escape::encode_text as esc;
use std::fmt::Write as _;

/// The agencies, and the sub-accounts still waiting for their token (with
/// why) or stopped: what an admin looks at after connecting.
fn installs_section(app: &AppState) -> DbResult<String> {
    let mut rows = String::new();
    for (company, state, note) in app.db.agencies()? {
        let _ = write!(
            rows,
            "<tr><td>agency <code>{}</code></td><td>{}</td><td>{}</td></tr>",
            esc(&company),
            esc(&state),
            esc(note.as_deref().unwrap_or(""))
        );
    }
    for i in app.db.all_installs()? {
        if i.state == InstallState::Active {
            continue;
        }
        let _ = write!(
            rows,
            "<tr><td>{} (<code>{}</code>)</td><td>{}</td><td>{}</td></tr>",
            esc(&i.name),
            esc(&i.location_id),
            i.state.as_str(),
            esc(i.note.as_deref().unwrap_or(""))
        );
    }
    if rows.is_empty() {
        rows = "<tr><td colspan=\"3\">No agency has connected yet: an operator opens <a href=\"/install\">/install</a>.</td></tr>".into();
    }
    Ok(format!(
        "<h2>Installs</h2>\n<table>\n<thead><tr><th>Agency or sub-account</th><th>State</th><th>Why</th></tr></thead>\n<tbody>{rows}</tbody>\n</table>\n"
    ))
}

pub fn render(app: &AppState) -> DbResult<String> {
    let overview = app.db.overview()?;
    let mut rows = String::new();
    let mut errors = String::new();
    let entries = app.registry.all();
    for entry in &entries {
        let c = &entry.connection;
        let o = overview.iter().find(|o| o.name == c.name);
        let words = state(o);
        let last = o
            .and_then(|o| o.last_run.as_ref())
            .map_or("never".to_string(), run_line);
        let next = o
            .and_then(|o| o.next.first())
            .map_or("—".to_string(), |(op, at)| format!("{op} · {}", when(Some(*at))));
        let check = check_cell(o.and_then(|o| o.last_check.as_ref()));
        let _ = write!(
            rows,
            "<tr><td>{}</td><td><code>{}</code></td><td class=\"{}\">{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&c.name),
            esc(&c.location),
            words.class,
            esc(&words.text),
            check.class,
            esc(&check.text),
            esc(&last),
            esc(&next),
            o.map_or(0, |o| o.queue),
            o.map_or(0, |o| o.followups),
        );
        for r in o.map(|o| o.last_errors.as_slice()).unwrap_or_default() {
            let _ = write!(
                errors,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&c.name),
                esc(r.operation.as_str()),
                esc(&when(r.ended_ms)),
                esc(r.error.as_deref().unwrap_or("")),
            );
        }
    }
    if errors.is_empty() {
        errors = "<tr><td colspan=\"4\">No failed runs.</td></tr>".into();
    }
    let installs = if app.installs.is_some() {
        installs_section(app)?
    } else {
        String::new()
    };
    Ok(format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="30">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ghl-rankr</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; width: 100%; margin-bottom: 2em; }}
th, td {{ text-align: left; padding: .4em .6em; border-bottom: 1px solid #ddd; vertical-align: top; }}
th {{ background: #f4f4f4; }}
.ok {{ color: #17692a; }} .failing {{ color: #a4470b; }} .paused {{ color: #b00020; font-weight: bold; }}
footer {{ color: #777; }}
</style>
</head>
<body>
<h1>ghl-rankr</h1>
<p>{count} connections · runs at most {max} at once · <a href="/metrics">metrics</a> · <a href="/runs">run history (JSON)</a></p>
<table>
<thead><tr><th>Connection</th><th>Location</th><th>State</th><th>Check</th><th>Last run</th><th>Next run</th><th>Queued posts</th><th>Follow-up statistics</th></tr></thead>
<tbody>{rows}</tbody>
</table>
{installs}<h2>Last errors</h2>
<table>
<thead><tr><th>Connection</th><th>Operation</th><th>When</th><th>Error</th></tr></thead>
<tbody>{errors}</tbody>
</table>
<footer>ghl-rankr {version} · times in UTC · this page refreshes every 30 s</footer>
</body>
</html>
"#,
        count = entries.len(),
        max = app.config.max_concurrent,
        version = env!("CARGO_PKG_VERSION"),
    ))
}
