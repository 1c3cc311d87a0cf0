//! Any bytes as every GHL answer: the envelopes alone, then the operations,
//! the triggers and the check over a host that answers every request with
//! them.
#![no_main]

mod common;

use ghl_rankr_core::ghl::model::{PostEnvelope, StatisticsEnvelope, TagsEnvelope};
use ghl_rankr_core::ghl::{read_accounts, read_post_page, read_tag_page};
use ghl_rankr_core::json::parse;
use ghl_rankr_core::io::{Request, Response, TransportError};
use ghl_rankr_core::testing::ScriptedHost;
use ghl_rankr_core::{
    check, new_posts, posts_published, stats_sync, tag_details_push, tag_sync, CheckRequest, NewPostsRequest,
    PublishedPostsRequest, Service, StatsRequest, TagDetailsEvent, TagSyncEvent,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse::<TagsEnvelope>(Service::Ghl, "x", data);
    // A page either fails whole, or reads with each bad tag named.
    if let Ok(page) = read_tag_page("x", data) {
        for bad in page.tags.iter().filter_map(|t| t.as_ref().err()) {
            assert!(!bad.item.is_empty() && !bad.why.is_empty());
        }
    }
    if let Ok(page) = read_post_page(data) {
        for bad in page.posts.iter().filter_map(|p| p.as_ref().err()) {
            assert!(!bad.item.is_empty() && !bad.why.is_empty());
        }
    }
    let _ = read_accounts(data);
    let _ = parse::<PostEnvelope>(Service::Ghl, "x", data);
    let _ = parse::<StatisticsEnvelope>(Service::Ghl, "x", data);
    let body = data.to_vec();
    let mut host = ScriptedHost::new(move |r: &Request| -> Result<Response, TransportError> {
        let status = if r.url.contains("ghl.test") { 200 } else { 503 };
        Ok(Response {
            status,
            headers: vec![],
            body: body.clone(),
        })
    });
    let s = common::settings();
    let _ = tag_sync(
        &mut host,
        &s,
        &TagSyncEvent {
            location_id: "l".into(),
            post_id: Some("p".into()),
            tag_ids: None,
            full_pass: false,
        },
        None,
    );
    let _ = tag_details_push(
        &mut host,
        &s,
        &TagDetailsEvent {
            location_id: "l".into(),
            tag_ids: vec!["a".into()],
        },
        None,
    );
    let req = StatsRequest {
        location_id: "l".into(),
        profile_ids: vec!["p".into()],
        platforms: vec![],
        dashboard_id: "d".into(),
        as_of: Some("2026-01-01".into()),
    };
    let _ = stats_sync(&mut host, &s, &req, None);
    let discover = StatsRequest {
        profile_ids: vec![],
        ..req
    };
    let _ = stats_sync(&mut host, &s, &discover, None);
    let poll = NewPostsRequest {
        location_id: "l".into(),
        backfill_since: Some("2026-01-01".into()),
        ..NewPostsRequest::default()
    };
    let _ = new_posts(&mut host, &s, &poll, None);
    let published = PublishedPostsRequest {
        location_id: "l".into(),
        backfill_since: Some("2026-01-01".into()),
        ..PublishedPostsRequest::default()
    };
    let _ = posts_published(&mut host, &s, &published, None);
    let probe = CheckRequest {
        location_id: "l".into(),
        operations: vec![],
        dashboard_id: Some("d".into()),
    };
    // A server's answer is an item of the report, never a failure.
    if let Err(f) = check(&mut host, &s, &probe) {
        panic!("check failed on a server's answer: {f}");
    }
});
