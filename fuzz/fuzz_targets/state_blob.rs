//! Any bytes as a state blob: decoded alone, then handed to tag-sync,
//! stats-sync and both triggers; and as the JSON forms of settings and
//! inputs.
#![no_main]

mod common;

use ghl_rankr_core::io::{Request, Response, TransportError};
use ghl_rankr_core::state;
use ghl_rankr_core::testing::ScriptedHost;
use ghl_rankr_core::wire::{self, Operation};
use ghl_rankr_core::{
    new_posts, posts_published, stats_sync, tag_sync, NewPostsRequest, PublishedPostsRequest, StatsRequest,
    TagSyncEvent,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = state::decode_tags(Some(data), "l");
    let _ = state::decode_stats(Some(data), "l", "d");
    let _ = state::decode_posts(Some(data), "l");
    let _ = state::decode_published(Some(data), "l");
    let _ = wire::parse_settings(data);
    for op in Operation::ALL {
        let _ = wire::parse_event(op, data);
    }
    let mut host = ScriptedHost::new(|r: &Request| -> Result<Response, TransportError> {
        let body: &[u8] = if r.url.contains("ghl.test") {
            br#"{"results":{"tags":[{"_id":"a","tag":"A"}],"count":1}}"#
        } else {
            br#"{"results":[{"externalId":"a","status":"created"}],"data":[],"nextCursor":null}"#
        };
        Ok(Response {
            status: 200,
            headers: vec![],
            body: body.to_vec(),
        })
    });
    let s = common::settings();
    let _ = tag_sync(
        &mut host,
        &s,
        &TagSyncEvent {
            location_id: "l".into(),
            post_id: None,
            tag_ids: None,
            full_pass: false,
        },
        Some(data),
    );
    let req = StatsRequest {
        location_id: "l".into(),
        profile_ids: vec!["p".into()],
        platforms: vec![],
        dashboard_id: "d".into(),
        as_of: Some("2026-01-01".into()),
    };
    let _ = stats_sync(&mut host, &s, &req, Some(data));
    let poll = NewPostsRequest {
        location_id: "l".into(),
        ..NewPostsRequest::default()
    };
    let _ = new_posts(&mut host, &s, &poll, Some(data));
    let published = PublishedPostsRequest {
        location_id: "l".into(),
        ..PublishedPostsRequest::default()
    };
    let _ = posts_published(&mut host, &s, &published, Some(data));
});
