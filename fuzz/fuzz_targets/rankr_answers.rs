//! Any bytes as every Rankr answer (and as its error body), behind a GHL
//! that serves two tags: to tag-sync and to check.
#![no_main]

mod common;

use ghl_rankr_core::client::error_message;
use ghl_rankr_core::io::{Request, Response, TransportError};
use ghl_rankr_core::json::parse;
use ghl_rankr_core::rankr::model::{MetricBatchResponse, TagBatchResponse, TagListPage};
use ghl_rankr_core::testing::ScriptedHost;
use ghl_rankr_core::{check, tag_sync, CheckRequest, Service, TagSyncEvent};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse::<TagBatchResponse>(Service::Rankr, "x", data);
    let _ = parse::<MetricBatchResponse>(Service::Rankr, "x", data);
    let _ = parse::<TagListPage>(Service::Rankr, "x", data);
    let _ = ghl_rankr_core::rankr::error::message(data);
    let status = data.first().map_or(200, |b| [200u16, 409, 422, 500][*b as usize % 4]);
    let _ = error_message(Service::Rankr, &Response {
        status,
        headers: vec![],
        body: data.to_vec(),
    });
    let body = data.to_vec();
    let mut host = ScriptedHost::new(move |r: &Request| -> Result<Response, TransportError> {
        if r.url.contains("ghl.test") {
            let tags = br#"{"results":{"tags":[{"_id":"a","tag":"A"},{"_id":"b","tag":"B"}],"count":2}}"#;
            return Ok(Response {
                status: 200,
                headers: vec![],
                body: tags.to_vec(),
            });
        }
        Ok(Response {
            status,
            headers: vec![],
            body: body.clone(),
        })
    });
    let e = TagSyncEvent {
        location_id: "l".into(),
        post_id: Some("p".into()),
        tag_ids: Some(vec!["a".into()]),
        full_pass: false,
    };
    let _ = tag_sync(&mut host, &common::settings(), &e, None);
    let probe = CheckRequest {
        location_id: "l".into(),
        operations: vec![],
        dashboard_id: Some("d".into()),
    };
    // A server's answer is an item of the report, never a failure.
    if let Err(f) = check(&mut host, &common::settings(), &probe) {
        panic!("check failed on a server's answer: {f}");
    }
});
