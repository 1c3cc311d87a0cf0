//! `ghl-rankr demo`: the operations and the new-posts trigger through the
//! real component and real HTTP, against fake GHL and Rankr servers on
//! loopback.

use crate::config::ConfigFile;
use crate::credentials::Credential;
use crate::invoke::{self, Credentials, Endpoints, Imports, Prepared, RunFlags};
use crate::render;
use crate::secret::Secret;
use anyhow::{anyhow, Context as _};
use ghl_rankr_host::clock::SystemClock;
use ghl_rankr_host::engine::ConnectorEngine;
use ghl_rankr_host::transport::UreqTransport;
use ghl_rankr_host::types::{
    CheckRequest, NewPostsRequest, PublishedPostsRequest, StatsRequest, TagDetailsEvent, TagSyncEvent,
};
use ghl_rankr_testkit::fakes::ghl::{wall_ms, FakePost, DEMO_LOCATION, DEMO_POST};
use ghl_rankr_testkit::fakes::{GhlFake, GhlState, RankrFake, RankrState};
use ghl_rankr_testkit::tls::{ServerCert, TestCa};
use serde_json::json;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

/// Tags the fake GHL is seeded with: three pages at 100 a page.
pub const DEMO_TAGS: usize = 260;
pub const DEMO_DASHBOARD: &str = "social-overview";
/// The post created while the demo runs, found by the trigger.
pub const NEW_POST: &str = "6750f1c2a9b8e7d6c5b4a391";

/// The fakes alone, for trying the CLI against them: prints where they
/// listen and what to export, then serves until the process is stopped.
/// With `tls`, they serve HTTPS with a certificate from a private CA made
/// now, whose own certificate goes to `tls/ca.pem`.
pub fn serve(tags: usize, tls: Option<&Path>, out: &mut dyn Write) -> anyhow::Result<()> {
    let (server, ca_file) = match tls {
        Some(dir) => {
            let ca = TestCa::new("ghl-rankr demo CA")?;
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            let file = dir.join("ca.pem");
            std::fs::write(&file, ca.pem()).with_context(|| format!("writing {}", file.display()))?;
            (Some(ca.server(ServerCert::Loopback)?), Some(file))
        }
        None => (None, None),
    };
    let ghl = GhlFake::start_with(GhlState::seeded(SERVE_GHL_TOKEN, DEMO_LOCATION, tags), server.clone())?;
    let rankr = RankrFake::start_with(RankrState::new(SERVE_RANKR_KEY), server)?;
    let command = format!("ghl-rankr tag-sync --location {DEMO_LOCATION} --post {DEMO_POST}");
    let run = match &ca_file {
        Some(file) => format!(
            "  SSL_CERT_FILE={0} {command}\n  {command} --ca-cert {0}\n\nTheir certificates come from a private CA: without SSL_CERT_FILE or --ca-cert,\n{command} fails at once (unknown issuer).",
            file.display()
        ),
        None => format!("  {command}"),
    };
    writeln!(
        out,
        "fake GHL ({tags} tags in location {DEMO_LOCATION}) and fake Rankr are up; in another shell:\n\n  export GHL_BASE_URL={} RANKR_BASE_URL={}\n  export GHL_ACCESS_TOKEN={SERVE_GHL_TOKEN} RANKR_API_KEY={SERVE_RANKR_KEY}\n{run}\n\nStop with Ctrl-C.",
        ghl.base_url(),
        rankr.base_url()
    )?;
    out.flush()?;
    loop {
        std::thread::park();
    }
}

/// The throwaway credentials of `demo --serve` (the fakes accept only these).
pub const SERVE_GHL_TOKEN: &str = "demo-ghl-token";
pub const SERVE_RANKR_KEY: &str = "demo-rankr-key";

/// Runs the demo; `json` prints one JSON document instead of text.
pub fn run(engine: &ConnectorEngine, out: &mut dyn Write, json_out: bool) -> anyhow::Result<()> {
    let ghl_token = Secret::new("demo-ghl-private-integration-token");
    let rankr_key = Secret::new("demo-rankr-api-key");
    let ghl = GhlFake::start(GhlState::seeded(ghl_token.expose(), DEMO_LOCATION, DEMO_TAGS))?;
    let rankr = RankrFake::start(RankrState::new(rankr_key.expose()))?;
    let endpoints = Endpoints {
        ghl: ghl.base_url().to_string(),
        rankr: rankr.base_url().to_string(),
    };
    let credentials = Credentials {
        ghl: Credential::ApiKey(ghl_token.clone()),
        rankr_key: &rankr_key,
    };
    let Prepared { settings, env } = Prepared::new(
        invoke::settings(&endpoints, &credentials, &RunFlags::default(), &ConfigFile::default()),
        UreqTransport::direct(std::time::Duration::from_secs(30)),
        Imports {
            clock: Arc::new(SystemClock::default()),
            tokens: None,
            progress: None,
        },
    );
    let mut text = String::new();
    text.push_str(&format!(
        "fake GHL at {} ({DEMO_TAGS} tags, 100 a page), fake Rankr at {}\n\n",
        ghl.base_url(),
        rankr.base_url()
    ));

    // 0. A check: the smallest reads that prove the credentials, no write.
    let check = engine
        .check(
            &env,
            &settings,
            &CheckRequest {
                location_id: DEMO_LOCATION.into(),
                operations: vec![],
                dashboard_id: Some(DEMO_DASHBOARD.into()),
            },
        )?
        .map_err(|f| anyhow!(render::error_message(&f.error)))?;
    text.push_str("check:\n");
    text.push_str(&render::check::table(&check, &render::Hints::cli()));
    text.push('\n');

    // The triggers' first calls: baselines, nothing emitted.
    let published_poll = PublishedPostsRequest {
        location_id: DEMO_LOCATION.into(),
        overlap_ms: None,
        backfill_since: None,
        max_posts: None,
    };
    let published_baseline = engine
        .posts_published(&env, &settings, &published_poll, None)?
        .map_err(|f| anyhow!(render::error_message(&f.error)))?;
    let poll = NewPostsRequest {
        location_id: DEMO_LOCATION.into(),
        overlap_ms: None,
        backfill_since: None,
        max_posts: None,
    };
    let baseline = engine
        .new_posts(&env, &settings, &poll, None)?
        .map_err(|f| anyhow!(render::error_message(&f.error)))?;
    text.push_str(&render::posts_summary(&baseline));
    text.push('\n');

    // 1. A post was created: sync every tag, then the post's tags.
    let tag_pages = || -> anyhow::Result<usize> {
        Ok(ghl
            .state
            .lock()
            .map_err(|_| anyhow!("fake GHL state poisoned"))?
            .requests
            .iter()
            .filter(|r| r.method == "GET" && r.url.contains("/tags?"))
            .count())
    };
    let pages_before = tag_pages()?;
    let event = TagSyncEvent {
        location_id: DEMO_LOCATION.into(),
        post_id: Some(DEMO_POST.into()),
        tag_ids: None,
        full_pass: false,
    };
    let tag_report = engine
        .tag_sync(&env, &settings, &event, None)?
        .map_err(|f| anyhow!(render::error_message(&f.error)))?;
    let pages = tag_pages()? - pages_before;
    text.push_str(&render::summary("tag-sync", &tag_report));
    text.push_str(&format!("  GHL tag pages read: {pages}\n\n"));

    // 2. Two tags change in GHL: one renamed, one deleted.
    {
        let mut g = ghl.state.lock().map_err(|_| anyhow!("fake GHL state poisoned"))?;
        g.tags[1]["tag"] = json!("Launch Week 2026");
        g.tags[3]["deleted"] = json!(true);
    }
    let event = TagDetailsEvent {
        location_id: DEMO_LOCATION.into(),
        tag_ids: vec!["tag00001".into(), "tag00003".into()],
    };
    let details_report = engine
        .tag_details_push(&env, &settings, &event, Some(&tag_report.state))?
        .map_err(|f| anyhow!(render::error_message(&f.error)))?;
    text.push_str(&render::summary("tag-details-push", &details_report));
    text.push('\n');

    // 3. The next post: with the state, only what changed is written (here
    // nothing: the two changes already went through tag-details-push).
    let event = TagSyncEvent {
        location_id: DEMO_LOCATION.into(),
        post_id: None,
        tag_ids: None,
        full_pass: false,
    };
    let rerun_report = engine
        .tag_sync(&env, &settings, &event, Some(&details_report.state))?
        .map_err(|f| anyhow!(render::error_message(&f.error)))?;
    text.push_str(&render::summary("tag-sync again, with the state", &rerun_report));
    text.push('\n');

    // 4. Statistics of the location's connected accounts (found through
    // GHL; the expired one is named and skipped) into a dashboard.
    let request = StatsRequest {
        location_id: DEMO_LOCATION.into(),
        profile_ids: vec![],
        platforms: vec!["facebook".into(), "instagram".into()],
        dashboard_id: DEMO_DASHBOARD.into(),
        as_of: None,
        per_profile: false,
    };
    let stats_report = engine
        .stats_sync(&env, &settings, &request, None)?
        .map_err(|f| anyhow!(render::error_message(&f.error)))?;
    text.push_str(&render::summary("stats-sync", &stats_report));
    text.push('\n');

    // 5. Someone posts: the trigger finds the post with its tag ids, and
    // tag-sync applies them (no read of the post, no tag written again).
    ghl.state
        .lock()
        .map_err(|_| anyhow!("fake GHL state poisoned"))?
        .add_post(FakePost::scheduled(
            NEW_POST,
            wall_ms().saturating_sub(60_000),
            &["tag00004", "tag00009"],
        ));
    let found = engine
        .new_posts(&env, &settings, &poll, Some(&baseline.state))?
        .map_err(|f| anyhow!(render::error_message(&f.error)))?;
    text.push_str(&render::posts_summary(&found));
    let mut tag_state = rerun_report.state.clone();
    let mut post_reports = Vec::new();
    for post in &found.posts {
        let event = TagSyncEvent {
            location_id: DEMO_LOCATION.into(),
            post_id: Some(post.id.clone()),
            tag_ids: Some(post.tag_ids.clone()),
            full_pass: false,
        };
        let report = engine
            .tag_sync(&env, &settings, &event, Some(&tag_state))?
            .map_err(|f| anyhow!(render::error_message(&f.error)))?;
        text.push_str(&render::summary(&format!("tag-sync for post {}", post.id), &report));
        tag_state = report.state.clone();
        post_reports.push(render::report_json(&report));
    }
    text.push('\n');

    // 6. The post goes live: the trigger of published posts finds it with
    // its accounts' profiles, and the follow-up statistics (`serve` runs
    // them 1 h, 24 h and 7 d after) read those profiles alone, each under
    // its own scope.
    if let Some(post) = ghl
        .state
        .lock()
        .map_err(|_| anyhow!("fake GHL state poisoned"))?
        .posts
        .iter_mut()
        .find(|p| p.id == NEW_POST)
    {
        post.publish(wall_ms());
    }
    let live = engine
        .posts_published(&env, &settings, &published_poll, Some(&published_baseline.state))?
        .map_err(|f| anyhow!(render::error_message(&f.error)))?;
    text.push_str(&render::published::summary(&live));
    let profile_ids: Vec<String> = live.posts.iter().flat_map(|p| p.profile_ids.iter().cloned()).collect();
    let followup = if profile_ids.is_empty() {
        None
    } else {
        let request = StatsRequest {
            location_id: DEMO_LOCATION.into(),
            profile_ids,
            platforms: vec![],
            dashboard_id: DEMO_DASHBOARD.into(),
            as_of: None,
            per_profile: true,
        };
        let report = engine
            .stats_sync(&env, &settings, &request, Some(&stats_report.state))?
            .map_err(|f| anyhow!(render::error_message(&f.error)))?;
        text.push_str(&render::summary("stats-sync after the post went live", &report));
        Some(report)
    };
    text.push('\n');

    // What Rankr now holds.
    let r = rankr.state.lock().map_err(|_| anyhow!("fake Rankr state poisoned"))?;
    let archived: Vec<&str> = r
        .tags
        .values()
        .filter(|t| t.input["archived"] == json!(true))
        .map(|t| t.input["externalId"].as_str().unwrap_or(""))
        .collect();
    let post_tags = r.post_tags.get(DEMO_POST).cloned().unwrap_or_default();
    let mut per_metric: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, _, metric, _) in r.points.keys() {
        *per_metric.entry(metric.as_str()).or_default() += 1;
    }
    let days: std::collections::BTreeSet<&str> = r
        .points
        .keys()
        .filter(|(_, _, m, _)| m == "post_performance.impressions")
        .map(|(_, _, _, ts)| ts.as_str())
        .collect();
    text.push_str("Rankr now holds:\n");
    text.push_str(&format!(
        "  tags: {} ({} archived: {})\n",
        r.tags.len(),
        archived.len(),
        archived.join(", ")
    ));
    if let Some(t) = r.tags.values().find(|t| t.input["externalId"] == json!("tag00001")) {
        text.push_str(&format!("  e.g. {}\n", t.input));
    }
    text.push_str(&format!("  post {DEMO_POST} tags: {}\n", post_tags.join(", ")));
    let new_post_tags = r.post_tags.get(NEW_POST).cloned().unwrap_or_default();
    text.push_str(&format!("  post {NEW_POST} tags: {}\n", new_post_tags.join(", ")));
    text.push_str(&format!(
        "  dashboard {DEMO_DASHBOARD}: {} points in {} metrics; daily points {} .. {}\n",
        r.points.len(),
        per_metric.len(),
        days.iter().next().unwrap_or(&"-"),
        days.iter().last().unwrap_or(&"-")
    ));
    let mut scopes: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, scope, _, _) in r.points.keys() {
        if scope.contains("/profile:") && !scope.contains("/platform:") {
            *scopes.entry(scope.as_str()).or_default() += 1;
        }
    }
    for (scope, n) in &scopes {
        text.push_str(&format!("  {scope}: {n} points (after the post went live)\n"));
    }
    let refused = ghl
        .state
        .lock()
        .map_err(|_| anyhow!("fake GHL state poisoned"))?
        .refusals
        .clone();
    text.push_str(&format!(
        "  GHL requests refused by the official OpenAPI check: {}\n",
        refused.len()
    ));
    for r in &refused {
        text.push_str(&format!("    {r}\n"));
    }
    let writes = r.ledger.len();
    let replays = r.ledger.iter().filter(|l| l.replayed).count();
    text.push_str(&format!("  writes received: {writes} ({replays} idempotent replays)\n"));

    if json_out {
        let doc = json!({
            "tag_sync": render::report_json(&tag_report),
            "tag_details_push": render::report_json(&details_report),
            "tag_sync_rerun": render::report_json(&rerun_report),
            "stats_sync": render::report_json(&stats_report),
            "new_posts_baseline": render::posts_json(&baseline),
            "new_posts": render::posts_json(&found),
            "tag_sync_new_posts": post_reports,
            "check": render::check::json(&check),
            "posts_published": render::published::json(&live),
            "stats_sync_after_publish": followup.as_ref().map(render::report_json),
            "rankr": {
                "tags": r.tags.len(),
                "archived": archived,
                "post_tags": post_tags,
                "points": r.points.len(),
                "daily_days": days,
            },
            "ghl_spec_refusals": refused,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?).context("writing the output")?;
    } else {
        write!(out, "{text}").context("writing the output")?;
    }
    Ok(())
}
