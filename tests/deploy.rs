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
    let rankr: serde_yaml::Value = serde_yaml::from_str(include_str!("../spec/rankr-api.yaml"))?;
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
    let app: serde_yaml::Value = serde_yaml::from_str(&deploy_file("spinapp.yaml")?)?;
    assert_eq!(app["apiVersion"].as_str(), Some("core.spinkube.dev/v1alpha1"));
    assert_eq!(app["kind"].as_str(), Some("SpinApp"));
    assert_eq!(app["spec"]["executor"].as_str(), Some("containerd-shim-spin"));
    assert!(app["spec"]["replicas"].as_u64().unwrap_or(0) >= 2, "replicas");
    assert!(app["spec"]["image"].as_str().is_some_and(|i| i.contains("ghl-rankr")));
    Ok(())
}

#[test]
fn the_wadm_manifest_passes_wadms_own_validation_and_links_both_http_sides() -> Result<()> {
    let text = deploy_file("wadm.yaml")?;
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    let (manifest, failures) = runtime.block_on(wadm_types::validation::validate_manifest_bytes(&text))?;
    let errors: Vec<String> = failures
        .iter()
        .filter(|f| f.level == wadm_types::validation::ValidationFailureLevel::Error)
        .map(|f| f.to_string())
        .collect();
    assert!(errors.is_empty(), "wadm refuses the manifest: {errors:?}");

    let doc: serde_yaml::Value = serde_yaml::from_str(&text)?;
    let components = doc["spec"]["components"].as_sequence().context("components")?;
    let ours = components
        .iter()
        .find(|c| c["type"].as_str() == Some("component"))
        .context("the component")?;
    let image = ours["properties"]["image"].as_str().context("image")?;
    assert_eq!(resolved(image.trim_start_matches("file://")), built_component());
    let links = |c: &serde_yaml::Value| -> Vec<String> {
        c["traits"]
            .as_sequence()
            .into_iter()
            .flatten()
            .filter(|t| t["type"].as_str() == Some("link"))
            .map(|t| serde_yaml::to_string(&t["properties"]["interfaces"]).unwrap_or_default())
            .collect()
    };
    assert!(links(ours).iter().any(|l| l.contains("outgoing-handler")));
    assert!(components
        .iter()
        .any(|c| links(c).iter().any(|l| l.contains("incoming-handler"))));
    assert_eq!(manifest.metadata.name, "ghl-rankr");
    Ok(())
}
