//! The deploy files of the wasi:http component (`wasi-http/deploy/`): each
//! parses as its engine reads it, points at the file the build produces,
//! and lets the component reach GHL's and Rankr's API origins and nothing
//! else.

use anyhow::{Context, Result};
use serde_json::Value;
use std::path::{Component, Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn deploy_file(name: &str) -> Result<String> {
    let path = root().join("wasi-http/deploy").join(name);
    std::fs::read_to_string(&path).with_context(|| format!("{}", path.display()))
}

/// `path` without `.` and `..`, textually (the build output need not exist).
fn normal(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Where `cargo build --release --target wasm32-wasip2 -p ghl-rankr-wasi-http` puts it.
fn built_component() -> PathBuf {
    let file = Path::new(ghl_rankr_artifact::HTTP_PATH)
        .file_name()
        .expect("the component path names a file");
    normal(&root().join("target/wasm32-wasip2/release").join(file))
}

/// A manifest's relative component path, as its engine resolves it (from
/// the manifest's folder).
fn resolved(relative: &str) -> PathBuf {
    normal(&root().join("wasi-http/deploy").join(relative))
}

/// The origins the connector calls: the servers of the two API contracts.
fn api_origins() -> Result<Vec<String>> {
    let ghl: Value = serde_json::from_str(include_str!("../spec/social-media-posting.json"))?;
    let rankr: serde_norway::Value = serde_norway::from_str(include_str!("../spec/rankr-api.yaml"))?;
    let ghl = ghl["servers"][0]["url"].as_str().context("GHL's server")?;
    let rankr = rankr["servers"][0]["url"].as_str().context("Rankr's server")?;
    Ok(vec![
        ghl.trim_end_matches('/').to_string(),
        rankr.trim_end_matches('/').to_string(),
    ])
}

#[test]
fn spin_toml_has_one_route_the_built_component_and_only_the_api_origins() -> Result<()> {
    let doc: toml::Table = toml::from_str(&deploy_file("spin.toml")?)?;
    assert_eq!(doc["spin_manifest_version"].as_integer(), Some(2));
    let triggers = doc["trigger"]["http"].as_array().context("[[trigger.http]]")?;
    assert_eq!(triggers.len(), 1, "one HTTP route");
    assert_eq!(triggers[0]["route"].as_str(), Some("/..."));
    let name = triggers[0]["component"].as_str().context("the route's component")?;
    let component = &doc["component"][name];
    let source = component["source"].as_str().context("source")?;
    assert_eq!(resolved(source), built_component());
    let hosts: Vec<&str> = component["allowed_outbound_hosts"]
        .as_array()
        .context("allowed_outbound_hosts")?
        .iter()
        .filter_map(|h| h.as_str())
        .collect();
    assert_eq!(hosts, api_origins()?);
    // No credential is written into the manifest.
    let env = component["environment"].as_table().context("environment")?;
    for key in env.keys() {
        assert!(!key.contains("KEY") && !key.contains("SECRET"), "{key} in spin.toml");
    }
    Ok(())
}

#[test]
fn the_spinapp_runs_replicas_on_the_spin_shim() -> Result<()> {
    let app: serde_norway::Value = serde_norway::from_str(&deploy_file("spinapp.yaml")?)?;
    assert_eq!(app["apiVersion"].as_str(), Some("core.spinkube.dev/v1alpha1"));
    assert_eq!(app["kind"].as_str(), Some("SpinApp"));
    assert_eq!(app["spec"]["executor"].as_str(), Some("containerd-shim-spin"));
    assert!(app["spec"]["replicas"].as_u64().unwrap_or(0) >= 2, "replicas");
    assert!(app["spec"]["image"].as_str().is_some_and(|i| i.contains("ghl-rankr")));
    Ok(())
}

/// A wadm link trait's (namespace, package, interfaces, target).
fn link(t: &serde_norway::Value) -> Option<(String, String, Vec<String>, String)> {
    let p = &t["properties"];
    let text = |v: &serde_norway::Value| v.as_str().map(str::to_string);
    Some((
        text(&p["namespace"])?,
        text(&p["package"])?,
        p["interfaces"]
            .as_sequence()?
            .iter()
            .filter_map(|i| i.as_str().map(str::to_string))
            .collect(),
        text(&p["target"])?,
    ))
}

#[test]
fn the_wadm_manifest_runs_the_built_component_between_the_http_providers() -> Result<()> {
    let doc: serde_norway::Value = serde_norway::from_str(&deploy_file("wadm.yaml")?)?;
    assert_eq!(doc["apiVersion"].as_str(), Some("core.oam.dev/v1beta1"));
    assert_eq!(doc["kind"].as_str(), Some("Application"));
    let components = doc["spec"]["components"].as_sequence().context("components")?;
    let named = |name: &str| components.iter().find(|c| c["name"].as_str() == Some(name));
    let ours = named("ghl-rankr").context("the component")?;
    assert_eq!(ours["type"].as_str(), Some("component"));
    let image = ours["properties"]["image"].as_str().context("image")?;
    assert_eq!(resolved(image.trim_start_matches("file://")), built_component());

    // Every link names a component of the manifest and a wasi:http interface
    // the component has: outgoing-handler from it, incoming-handler to it.
    let mut links = Vec::new();
    for c in components {
        for t in c["traits"].as_sequence().into_iter().flatten() {
            if t["type"].as_str() == Some("link") {
                let (namespace, package, interfaces, target) = link(t).context("a link's properties")?;
                assert!(named(&target).is_some(), "a link to no component: {target}");
                assert_eq!((namespace.as_str(), package.as_str()), ("wasi", "http"));
                links.push((c["name"].as_str().unwrap_or("").to_string(), interfaces, target));
            }
        }
    }
    let client = (
        "ghl-rankr".to_string(),
        vec!["outgoing-handler".to_string()],
        "httpclient".to_string(),
    );
    let server = (
        "httpserver".to_string(),
        vec!["incoming-handler".to_string()],
        "ghl-rankr".to_string(),
    );
    assert_eq!(links, [client, server]);
    assert_eq!(
        named("httpserver").map(|c| c["type"].as_str()),
        Some(Some("capability"))
    );
    assert!(
        ours["traits"]
            .as_sequence()
            .into_iter()
            .flatten()
            .any(|t| t["type"].as_str() == Some("spreadscaler")),
        "scaled by a spreadscaler"
    );
    Ok(())
}
