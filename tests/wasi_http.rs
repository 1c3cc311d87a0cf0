//! The `wasi:http/proxy` component on two independent runtimes, against the
//! same fakes over loopback:
//!
//! - wasmtime, with `wasmtime-wasi-http` serving it on a loopback port, as
//!   `wasmtime serve` does;
//! - jco under Node.js (`jco serve`, pinned in `tests/jco/package.json`).
//!
//! Both run one scenario and must leave identical outputs and ledgers. The
//! fault subset runs on wasmtime with the fault matrix's checks. jco is
//! installed by `npm ci` when it is missing; where Node.js or the npm
//! registry is missing the jco tests fail and say what to install: they
//! never skip.

use anyhow::{anyhow, bail, Context, Result};
use ghl_rankr_testkit::fakes::ghl::{FakePost, DEMO_LOCATION, DEMO_POST};
use ghl_rankr_testkit::fakes::{GhlFake, GhlFault, GhlState, RankrFake, RankrFault, RankrState};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

const PIT: &str = "pit-wasi-http-1";
const KEY: &str = "rk-wasi-http-2";
const TAGS: usize = 250;
const LOG_LEVEL: &str = "GHL_RANKR_LOG";

// ---- the runtimes -----------------------------------------------------------

/// A runtime serving the component on a loopback port.
trait Runtime {
    fn base_url(&self) -> &str;
}

/// What the component wrote to stderr so far.
trait Logs {
    fn logs(&self) -> String;
}

/// wasmtime, as `wasmtime serve` runs a proxy component: a fresh instance
/// per request, WASI and WASI HTTP from wasmtime's own crates.
struct Wasmtime {
    base: String,
    /// The server's tasks; dropping it stops them.
    runtime: Option<tokio::runtime::Runtime>,
    /// What the component wrote to stderr (its logs), for every request.
    logs: MemoryOutputPipe,
}

struct Client {
    table: ResourceTable,
    wasi: WasiCtx,
    http: WasiHttpCtx,
}

impl WasiView for Client {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for Client {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: Default::default(),
        }
    }
}

/// The component, compiled once for every server of the test binary.
fn proxy_pre() -> Result<ProxyPre<Client>> {
    static PRE: std::sync::OnceLock<std::result::Result<ProxyPre<Client>, String>> = std::sync::OnceLock::new();
    let pre = PRE.get_or_init(|| {
        let compile = || -> wasmtime::Result<ProxyPre<Client>> {
            let engine = Engine::new(&Config::new())?;
            let component = Component::new(&engine, ghl_rankr_artifact::HTTP_COMPONENT)?;
            let mut linker = Linker::new(&engine);
            wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
            wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
            ProxyPre::new(linker.instantiate_pre(&component)?)
        };
        compile().map_err(|e| format!("{e:?}"))
    });
    pre.clone()
        .map_err(|e| anyhow!("the wasi:http component does not load: {e}"))
}

impl Wasmtime {
    fn serve(env: &[(&str, &str)]) -> Result<Wasmtime> {
        let pre = proxy_pre()?;
        let env: Arc<Vec<(String, String)>> =
            Arc::new(env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
        let logs = MemoryOutputPipe::new(64 * 1024 * 1024);
        let stderr = logs.clone();
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let base = format!("http://{}", listener.local_addr()?);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let listener = {
            let _entered = runtime.enter();
            tokio::net::TcpListener::from_std(listener)?
        };
        runtime.spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let (pre, env, stderr) = (pre.clone(), env.clone(), stderr.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let (pre, env, stderr) = (pre.clone(), env.clone(), stderr.clone());
                        async move { handle(pre, &env, stderr, req).await }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(client), service)
                        .await;
                });
            }
        });
        Ok(Wasmtime {
            base,
            runtime: Some(runtime),
            logs,
        })
    }
}

async fn handle(
    pre: ProxyPre<Client>,
    env: &[(String, String)],
    stderr: MemoryOutputPipe,
    req: hyper::Request<hyper::body::Incoming>,
) -> wasmtime::Result<hyper::Response<HyperOutgoingBody>> {
    let mut wasi = WasiCtx::builder();
    wasi.stderr(stderr);
    // The component's warnings and errors only, unless a test asks for more.
    if !env.iter().any(|(k, _)| k == LOG_LEVEL) {
        wasi.env(LOG_LEVEL, "warn");
    }
    for (k, v) in env {
        wasi.env(k, v);
    }
    let mut store = Store::new(
        pre.engine(),
        Client {
            table: ResourceTable::new(),
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
        },
    );
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let req = store.data_mut().http().new_incoming_request(Scheme::Http, req)?;
    let out = store.data_mut().http().new_response_outparam(sender)?;
    let task = tokio::task::spawn(async move {
        let proxy = pre.instantiate_async(&mut store).await?;
        proxy.wasi_http_incoming_handler().call_handle(store, req, out).await
    });
    match receiver.await {
        Ok(Ok(response)) => Ok(response),
        Ok(Err(e)) => Err(e.into()),
        // The handler returned (or trapped) without setting a response.
        Err(_) => match task.await {
            Ok(Ok(())) => Err(wasmtime::format_err!("the component set no response")),
            Ok(Err(e)) => Err(e.context("the component trapped")),
            Err(e) => Err(wasmtime::format_err!("the handler task failed: {e}")),
        },
    }
}

impl Runtime for Wasmtime {
    fn base_url(&self) -> &str {
        &self.base
    }
}

impl Logs for Wasmtime {
    fn logs(&self) -> String {
        String::from_utf8_lossy(&self.logs.contents()).into_owned()
    }
}

impl Drop for Wasmtime {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("wasmtime's component logs:\n{}", self.logs());
        }
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// jco under Node.js: `jco serve`, which transpiles the component and serves
/// it with the preview2 shims.
struct Jco {
    base: String,
    child: Child,
    /// jco's and the component's stderr.
    logs: PathBuf,
}

fn jco_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("jco")
}

/// jco's entry point, installed from the lock file when missing: once per
/// process (the threads of one test binary share the outcome) and once per
/// checkout (test binaries that run at the same time take turns on a file
/// lock). `npm ci` writes into a fresh directory of its own, which is moved
/// into place whole, so a `node_modules` is either complete or absent: an
/// install cut short leaves nothing another run could take for a good one.
fn jco_bin() -> Result<PathBuf> {
    static INSTALLED: std::sync::OnceLock<std::result::Result<PathBuf, String>> = std::sync::OnceLock::new();
    INSTALLED
        .get_or_init(|| install_jco().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|e| anyhow!(e))
}

fn install_jco() -> Result<PathBuf> {
    let dir = jco_dir();
    let bin = dir.join("node_modules/@bytecodealliance/jco/dist/jco.js");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(".install.lock"))
        .with_context(|| format!("cannot open {}", dir.join(".install.lock").display()))?;
    lock.lock().context("cannot lock tests/jco/.install.lock")?;
    if bin.exists() {
        return Ok(bin);
    }
    let staging = dir.join(format!(".install-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging)?;
    for file in ["package.json", "package-lock.json"] {
        std::fs::copy(dir.join(file), staging.join(file))?;
    }
    let npm = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--prefix"])
        .arg(&staging)
        .status()
        .map_err(|e| {
            anyhow!("the jco tests need Node.js and npm ({e}); install them (Debian: `apt-get install nodejs npm`)")
        })?;
    if !npm.success() || !staging.join("node_modules/@bytecodealliance/jco/dist/jco.js").exists() {
        let _ = std::fs::remove_dir_all(&staging);
        bail!("`npm ci` of tests/jco could not install jco ({npm}); the jco tests need the npm registry");
    }
    // An old, partial `node_modules` (from an install killed before this
    // rule) goes first: the move needs the name free.
    let _ = std::fs::remove_dir_all(dir.join("node_modules"));
    std::fs::rename(staging.join("node_modules"), dir.join("node_modules"))
        .context("cannot move the installed jco into tests/jco/node_modules")?;
    let _ = std::fs::remove_dir_all(&staging);
    Ok(bin)
}

impl Jco {
    fn serve(env: &[(&str, &str)]) -> Result<Jco> {
        let bin = jco_bin()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let logs = std::env::temp_dir().join(format!("ghl-rankr-jco-{}-{port}.log", std::process::id()));
        let mut cmd = Command::new("node");
        // Its own process group: `jco serve` runs the server in a child
        // process, and the group is what `drop` stops.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        cmd.arg(&bin)
            .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
            .arg(ghl_rankr_artifact::HTTP_PATH)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env(LOG_LEVEL, "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(std::fs::File::create(&logs)?));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .spawn()
            .context("could not start `node` for jco; install Node.js (Debian: `apt-get install nodejs`)")?;
        // The server says where it listens once the component is transpiled.
        let stdout = child.stdout.take().context("jco's stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
                if line.contains("listening") {
                    let _ = tx.send(());
                }
            }
        });
        let mut jco = Jco {
            base: format!("http://127.0.0.1:{port}"),
            child,
            logs,
        };
        let started = Instant::now();
        loop {
            if rx.try_recv().is_ok() || get(&jco.base, "/").map(|(s, _)| s == 200).unwrap_or(false) {
                return Ok(jco);
            }
            if let Some(status) = jco.child.try_wait()? {
                bail!("jco serve exited before it served ({status})");
            }
            if started.elapsed() > Duration::from_secs(120) {
                let _ = jco.child.kill();
                bail!("jco serve did not listen within 120 s");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Whether the Node.js process is still running.
    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Runtime for Jco {
    fn base_url(&self) -> &str {
        &self.base
    }
}

impl Logs for Jco {
    fn logs(&self) -> String {
        std::fs::read_to_string(&self.logs).unwrap_or_default()
    }
}

impl Drop for Jco {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("jco's logs:\n{}", self.logs());
        }
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.logs);
    }
}

// ---- HTTP to the component ---------------------------------------------------

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into()
}

fn get(base: &str, path: &str) -> Result<(u16, Value)> {
    get_as(base, path, None)
}

/// `GET`, with `Authorization: Bearer <token>` when one is given.
fn get_as(base: &str, path: &str, token: Option<&str>) -> Result<(u16, Value)> {
    let mut request = agent().get(format!("{base}{path}"));
    if let Some(token) = token {
        request = request.header("authorization", &format!("Bearer {token}"));
    }
    let mut r = request.call()?;
    let status = r.status().as_u16();
    let text = r.body_mut().with_config().limit(64 * 1024 * 1024).read_to_string()?;
    Ok((
        status,
        serde_json::from_str(&text).with_context(|| format!("not JSON: {text}"))?,
    ))
}

fn post(base: &str, path: &str, body: &[u8]) -> Result<(u16, Value)> {
    let mut r = agent()
        .post(format!("{base}{path}"))
        .header("content-type", "application/json")
        .send(body)?;
    let status = r.status().as_u16();
    let text = r.body_mut().read_to_string()?;
    Ok((
        status,
        serde_json::from_str(&text).with_context(|| format!("not JSON: {text}"))?,
    ))
}

/// POSTs a body one byte over the limit, its length declared up front (the
/// component refuses it unread) or chunked (it reads up to the limit), and
/// reads the answer while the body is still going out: the component
/// answers before the body ends, which clients that write the whole body
/// first (ureq) report as a broken pipe.
fn oversized_post(base: &str, path: &str, declare_length: bool) -> Result<(u16, Value)> {
    use std::io::{Read, Write};
    let size = 10 * 1024 * 1024 + 1;
    let address = base.trim_start_matches("http://");
    let mut socket = std::net::TcpStream::connect(address)?;
    socket.set_read_timeout(Some(Duration::from_secs(60)))?;
    let length = if declare_length {
        format!("content-length: {size}")
    } else {
        "transfer-encoding: chunked".to_string()
    };
    write!(
        socket,
        "POST {path} HTTP/1.1\r\nhost: {address}\r\ncontent-type: application/json\r\n{length}\r\nconnection: close\r\n\r\n"
    )?;
    let mut writer = socket.try_clone()?;
    let feeder = (!declare_length).then(|| {
        std::thread::spawn(move || {
            let chunk = vec![b' '; 1024 * 1024];
            let mut sent = 0;
            while sent < size {
                let n = chunk.len().min(size - sent);
                let head = format!("{n:x}\r\n");
                let ok = writer.write_all(head.as_bytes()).is_ok()
                    && writer.write_all(&chunk[..n]).is_ok()
                    && writer.write_all(b"\r\n").is_ok();
                if !ok {
                    return;
                }
                sent += n;
            }
            let _ = writer.write_all(b"0\r\n\r\n");
        })
    });
    let mut answer = Vec::new();
    let _ = socket.read_to_end(&mut answer);
    if let Some(feeder) = feeder {
        let _ = feeder.join();
    }
    let text = String::from_utf8_lossy(&answer);
    let (head, body) = text.split_once("\r\n\r\n").context("no answer head")?;
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("no status in {head}"))?;
    // A chunked answer (jco's) has its JSON between the chunk sizes.
    let json = &body[body.find('{').unwrap_or(0)..=body.rfind('}').unwrap_or(0)];
    Ok((
        status,
        serde_json::from_str(json).with_context(|| format!("not JSON: {body}"))?,
    ))
}

// ---- the fakes and the scenario ---------------------------------------------

struct Fakes {
    ghl: GhlFake,
    rankr: RankrFake,
}

impl Fakes {
    fn start() -> Fakes {
        Fakes {
            ghl: GhlFake::start(GhlState::seeded(PIT, DEMO_LOCATION, TAGS)).expect("fake GHL"),
            rankr: RankrFake::start(RankrState::new(KEY)).expect("fake Rankr"),
        }
    }

    fn settings(&self) -> Value {
        json!({
            "ghl-base-url": self.ghl.base_url(),
            "ghl-credential": {"api-key": PIT},
            "rankr-base-url": self.rankr.base_url(),
            "rankr-api-key": KEY,
            "retry": {"max-attempts": 5, "base-delay-ms": 50, "max-delay-ms": 2000}
        })
    }

    /// What the fakes hold and saw, in a form two runs can compare:
    /// requests and writes as multisets (both go out concurrently).
    fn ledgers(&self) -> Value {
        let ghl = self.ghl.state.lock().unwrap();
        let mut requests: BTreeMap<String, u32> = BTreeMap::new();
        for r in &ghl.requests {
            let url = r.url.replacen(self.ghl.base_url(), "", 1);
            *requests.entry(format!("{} {url}", r.method)).or_default() += 1;
        }
        let rankr = self.rankr.state.lock().unwrap();
        // Batches of one call go out together: their order of arrival is the
        // network's, so writes are compared as a multiset too.
        let mut writes: Vec<String> = rankr
            .ledger
            .iter()
            .map(|e| json!([e.method, e.path, e.status, e.replayed, e.items]).to_string())
            .collect();
        writes.sort();
        json!({
            "ghl_requests": requests,
            "ghl_refusals": ghl.refusals,
            "rankr_ledger": writes,
            "rankr_tags": rankr.tags.iter().map(|(k, t)| json!([k, t.input])).collect::<Vec<_>>(),
            "rankr_post_tags": rankr.post_tags,
            "rankr_points": rankr.points.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
            "applied_twice": rankr.applied_twice(),
            "bodies_with_several_keys": rankr.bodies_with_several_keys(),
        })
    }
}

fn call(base: &str, op: &str, settings: &Value, event: Value, state: &Value) -> Result<(u16, Value)> {
    let body = json!({"settings": settings, "event": event, "state": state});
    post(base, &format!("/{op}"), body.to_string().as_bytes())
}

/// An answer without what is the wall clock's (the state blobs record when
/// they were written; the posts' `fetched` does not).
fn outcome(op: &str, (status, mut body): (u16, Value)) -> Value {
    let state = body.as_object_mut().and_then(|b| b.remove("state"));
    json!({"op": op, "status": status, "has_state": state.is_some_and(|s| s.is_string()), "body": body})
}

/// The shared scenario; returns each step's outcome and the ledgers.
fn scenario(runtime: &dyn Runtime) -> Result<(Vec<Value>, Value)> {
    let base = runtime.base_url();
    let fakes = Fakes::start();
    let settings = fakes.settings();
    let mut outcomes = Vec::new();

    // 1. tag-sync of 250 tags with a post: every page, and the post's tags.
    let first = call(
        base,
        "tag-sync",
        &settings,
        json!({"location-id": DEMO_LOCATION, "post-id": DEMO_POST, "full-pass": true}),
        &Value::Null,
    )?;
    assert_eq!(first.0, 200, "{}", first.1);
    assert_eq!(first.1["fetched"], TAGS);
    let tags_state = first.1["state"].clone();
    outcomes.push(outcome("tag-sync", first));

    // 2. tag-details-push of a tag archived in GHL since.
    fakes.ghl.state.lock().unwrap().tags[11]["deleted"] = json!(true);
    let details = call(
        base,
        "tag-details-push",
        &settings,
        json!({"location-id": DEMO_LOCATION, "tag-ids": ["tag00011"]}),
        &tags_state,
    )?;
    assert_eq!(details.0, 200, "{}", details.1);
    assert_eq!(details.1["archived"], 1, "{}", details.1);
    let tags_state = details.1["state"].clone();
    outcomes.push(outcome("tag-details-push", details));

    // 3. stats-sync into a dashboard.
    let stats = call(
        base,
        "stats-sync",
        &settings,
        json!({"location-id": DEMO_LOCATION, "dashboard-id": "dash-1"}),
        &Value::Null,
    )?;
    assert_eq!(stats.0, 200, "{}", stats.1);
    outcomes.push(outcome("stats-sync", stats));

    // 4. new-posts: a baseline, then the two posts added after it.
    let poll = json!({"location-id": DEMO_LOCATION});
    let baseline = call(base, "new-posts", &settings, poll.clone(), &Value::Null)?;
    assert_eq!(
        (baseline.0, &baseline.1["baseline"]),
        (200, &json!(true)),
        "{}",
        baseline.1
    );
    let posts_state = baseline.1["state"].clone();
    outcomes.push(outcome("new-posts", baseline));
    let now = ghl_rankr_testkit::fakes::ghl::wall_ms();
    for (i, id) in ["post-new-1", "post-new-2"].into_iter().enumerate() {
        fakes
            .ghl
            .state
            .lock()
            .unwrap()
            .add_post(FakePost::new(id, now + i as u64, &["tag00001"]));
    }
    let polled = call(base, "new-posts", &settings, poll, &posts_state)?;
    assert_eq!(polled.0, 200, "{}", polled.1);
    let ids: Vec<&str> = polled.1["posts"]
        .as_array()
        .context("posts")?
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    assert_eq!(ids, ["post-new-1", "post-new-2"]);
    // Posts carry their GHL times, which are this run's wall clock.
    let mut polled = polled;
    for p in polled.1["posts"].as_array_mut().into_iter().flatten() {
        p["created-at"] = Value::Null;
        p["updated-at"] = Value::Null;
    }
    outcomes.push(outcome("new-posts", polled));

    // 5. The rerun with the returned state writes nothing.
    let writes_before = fakes.rankr.state.lock().unwrap().ledger.len();
    let rerun = call(
        base,
        "tag-sync",
        &settings,
        json!({"location-id": DEMO_LOCATION, "post-id": DEMO_POST, "full-pass": true}),
        &tags_state,
    )?;
    assert_eq!(rerun.0, 200, "{}", rerun.1);
    for field in ["created", "updated", "archived"] {
        assert_eq!(rerun.1[field], 0, "{field}: {}", rerun.1);
    }
    let rankr = fakes.rankr.state.lock().unwrap();
    let new_writes: Vec<_> = rankr.ledger[writes_before..]
        .iter()
        .filter(|e| e.path.contains("batch"))
        .collect();
    assert!(new_writes.is_empty(), "the rerun wrote {new_writes:?}");
    drop(rankr);
    outcomes.push(outcome("tag-sync", rerun));

    Ok((outcomes, fakes.ledgers()))
}

// ---- the tests ---------------------------------------------------------------

#[test]
fn the_component_imports_only_wasi_and_exports_the_incoming_handler() -> Result<()> {
    let wit_component::DecodedWasm::Component(resolve, world) =
        wit_component::decode(ghl_rankr_artifact::HTTP_COMPONENT)?
    else {
        bail!("the .wasm is not a component");
    };
    let resolve = &resolve;
    let world = &resolve.worlds[world];
    let name = |key: &wit_parser::WorldKey| resolve.name_world_key(key);
    let imports: Vec<String> = world.imports.keys().map(name).collect();
    let exports: Vec<String> = world.exports.keys().map(name).collect();
    assert!(!imports.is_empty());
    for import in &imports {
        assert!(import.starts_with("wasi:"), "a non-WASI import: {import}");
    }
    assert_eq!(exports.len(), 1, "{exports:?}");
    assert!(exports[0].starts_with("wasi:http/incoming-handler@0.2."), "{exports:?}");
    eprintln!(
        "wasi:http component: {} bytes; imports {}; exports {}",
        ghl_rankr_artifact::HTTP_COMPONENT.len(),
        imports.join(", "),
        exports[0]
    );
    Ok(())
}

#[test]
fn the_scenario_leaves_identical_outputs_and_ledgers_on_wasmtime_and_jco_and_pages_go_out_together() -> Result<()> {
    // One server of each for the whole test: jco takes seconds to start.
    let wasmtime = Wasmtime::serve(&[])?;
    let jco = Jco::serve(&[])?;
    let started = Instant::now();
    let (on_wasmtime, wasmtime_ledgers) = scenario(&wasmtime)?;
    let wasmtime_time = started.elapsed();
    let started = Instant::now();
    let (on_jco, jco_ledgers) = scenario(&jco)?;
    let jco_time = started.elapsed();
    for (a, b) in on_wasmtime.iter().zip(&on_jco) {
        assert_eq!(a, b, "the runtimes answered differently");
    }
    assert_eq!(on_wasmtime.len(), on_jco.len());
    assert_eq!(wasmtime_ledgers, jco_ledgers, "the runtimes left different ledgers");
    // Created by the sync, then archived by the push: two changes, both real.
    assert_eq!(wasmtime_ledgers["applied_twice"], json!([[DEMO_LOCATION, "tag00011"]]));
    assert_eq!(wasmtime_ledgers["bodies_with_several_keys"], 0);
    assert_eq!(wasmtime_ledgers["ghl_refusals"], json!([]));
    for step in &on_wasmtime {
        let b = &step["body"];
        eprintln!(
            "{} {}: fetched {} created {} updated {} archived {} posts {} requests {}",
            step["op"],
            step["status"],
            b["fetched"],
            b["created"],
            b["updated"],
            b["archived"],
            b["posts"].as_array().map_or(0, Vec::len),
            b["requests"]
        );
    }
    eprintln!(
        "scenario: {} steps, {} Rankr writes, identical on wasmtime ({} ms) and jco ({} ms)",
        on_wasmtime.len(),
        wasmtime_ledgers["rankr_ledger"].as_array().map_or(0, Vec::len),
        wasmtime_time.as_millis(),
        jco_time.as_millis()
    );

    // send-all's pages go out together on both.
    let on_wasmtime = pages_in_flight(&wasmtime)?;
    let on_jco = pages_in_flight(&jco)?;
    eprintln!("GHL requests in flight at once: wasmtime {on_wasmtime}, jco {on_jco}");
    assert!(on_wasmtime >= 2, "wasmtime: {on_wasmtime}");
    assert!(on_jco >= 2, "jco: {on_jco}");
    Ok(())
}

/// Requests that are not JSON, too large, or for no route get typed 4xx
/// JSON; `serve` is `Wasmtime::serve` or `Jco::serve`.
fn bad_requests(base: &str) -> Result<()> {
    let (status, v) = post(base, "/tag-sync", b"{not json")?;
    assert_eq!(status, 400, "{v}");
    assert!(v["error"]["not-json"]["message"].is_string(), "{v}");
    let (status, v) = post(base, "/nope", b"{}")?;
    assert_eq!(status, 404, "{v}");
    assert!(v["error"]["unknown-route"]["routes"].is_array(), "{v}");
    let (status, v) = get(base, "/tag-sync")?;
    assert_eq!(status, 405, "{v}");
    for declared in [true, false] {
        let (status, v) = oversized_post(base, "/tag-sync", declared)?;
        assert_eq!(status, 413, "declared length: {declared}: {v}");
        assert!(v["error"]["body-too-large"]["message"].is_string(), "{v}");
    }
    let (status, v) = post(base, "/stats-sync", br#"{"settings": {}, "event": {}}"#)?;
    assert_eq!(status, 422, "{v}");
    assert!(v["error"]["invalid-config"].is_string(), "{v}");
    // And the next request is served.
    let (status, v) = get(base, "/describe")?;
    assert_eq!(status, 200);
    assert_eq!(v["catalog"], "rankr:ghl-connector");
    Ok(())
}

/// A tag-details-push whose settings carry no credential: the runtime's
/// environment gives both.
fn credentials_from_the_environment(runtime: &dyn Runtime, fakes: &Fakes) -> Result<()> {
    let mut settings = fakes.settings();
    let s = settings.as_object_mut().context("settings")?;
    s.remove("ghl-credential");
    s.remove("rankr-api-key");
    let (status, v) = call(
        runtime.base_url(),
        "tag-details-push",
        &settings,
        json!({"location-id": DEMO_LOCATION, "tag-ids": ["tag00001"]}),
        &Value::Null,
    )?;
    assert_eq!(status, 200, "{v}");
    let text = v.to_string();
    assert!(
        !text.contains(PIT) && !text.contains(KEY),
        "a credential came back: {text}"
    );
    Ok(())
}

#[test]
fn bad_requests_get_typed_4xx_json_jco_stays_up_and_credentials_may_come_from_the_environment() -> Result<()> {
    let env = [("GHL_API_KEY", PIT), ("RANKR_API_KEY", KEY), (LOG_LEVEL, "trace")];
    let wasmtime = Wasmtime::serve(&env)?;
    let mut jco = Jco::serve(&env)?;
    bad_requests(wasmtime.base_url())?;
    bad_requests(jco.base_url())?;
    assert!(jco.alive(), "jco's process exited");

    let fakes = Fakes::start();
    credentials_from_the_environment(&wasmtime, &fakes)?;
    credentials_from_the_environment(&jco, &fakes)?;
    let rankr = fakes.rankr.state.lock().unwrap();
    // Written once, by the first runtime; the second's write of it was a
    // replay or found it unchanged.
    assert_eq!(
        rankr.applied.get(&(DEMO_LOCATION.to_string(), "tag00001".to_string())),
        Some(&1)
    );
    // Every log line, at trace level, on both: no credential in any.
    for (runtime, logs) in [("wasmtime", wasmtime.logs()), ("jco", jco.logs())] {
        assert!(logs.contains("operation finished"), "{runtime} logged nothing: {logs}");
        assert!(
            !logs.contains(PIT) && !logs.contains(KEY),
            "{runtime} logged a credential"
        );
    }
    Ok(())
}

/// A full pass over 250 tags whose second page GHL holds for a while: the
/// third page's request arrives while the second is held only if the
/// component sent them together.
fn pages_in_flight(runtime: &dyn Runtime) -> Result<usize> {
    let fakes = Fakes::start();
    {
        let mut ghl = fakes.ghl.state.lock().unwrap();
        ghl.hang = Duration::from_millis(1500);
        ghl.fault_at(2, GhlFault::Hang);
    }
    let (status, v) = call(
        runtime.base_url(),
        "tag-sync",
        &fakes.settings(),
        json!({"location-id": DEMO_LOCATION, "full-pass": true}),
        &Value::Null,
    )?;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["fetched"], TAGS, "{v}");
    Ok(fakes.ghl.server.peak_in_flight())
}

#[test]
fn a_deployment_token_gates_every_route() -> Result<()> {
    let wasmtime = Wasmtime::serve(&[("GHL_RANKR_TOKEN", "t0ken-1")])?;
    let (status, v) = get(wasmtime.base_url(), "/describe")?;
    assert_eq!(status, 401, "{v}");
    assert!(v["error"]["unauthorized"]["message"].is_string(), "{v}");
    let (status, v) = get_as(wasmtime.base_url(), "/describe", Some("wrong"))?;
    assert_eq!(status, 401, "{v}");
    let (status, doc) = get_as(wasmtime.base_url(), "/describe", Some("t0ken-1"))?;
    assert_eq!(status, 200);
    assert_eq!(doc["catalog"], "rankr:ghl-connector");
    Ok(())
}

/// One faulted full tag sync on wasmtime: it must end with all the tags in
/// Rankr, none applied twice, no body under two keys.
fn faulted_sync(ghl_fault: Option<GhlFault>, rankr_fault: Option<RankrFault>) -> Result<Value> {
    let wasmtime = Wasmtime::serve(&[])?;
    let fakes = Fakes::start();
    if let Some(f) = ghl_fault {
        fakes.ghl.state.lock().unwrap().fault_at(2, f);
    }
    if let Some(f) = rankr_fault {
        fakes.rankr.state.lock().unwrap().fault_at(2, f);
    }
    let (status, v) = call(
        wasmtime.base_url(),
        "tag-sync",
        &fakes.settings(),
        json!({"location-id": DEMO_LOCATION, "post-id": DEMO_POST, "full-pass": true}),
        &Value::Null,
    )?;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["fetched"], TAGS, "{v}");
    assert!(
        v["retries"].as_u64().unwrap_or(0) >= 1,
        "the fault was not retried: {v}"
    );
    let rankr = fakes.rankr.state.lock().unwrap();
    assert_eq!(rankr.tags.len(), TAGS, "tags lost");
    assert!(rankr.applied_twice().is_empty(), "{:?}", rankr.applied_twice());
    assert_eq!(rankr.bodies_with_several_keys(), 0);
    assert_eq!(rankr.post_tags.get(DEMO_POST).map(Vec::len), Some(3));
    Ok(v)
}

#[test]
fn a_429_with_retry_after_is_waited_out() -> Result<()> {
    let started = Instant::now();
    faulted_sync(
        Some(GhlFault::Status {
            status: 429,
            retry_after_secs: Some(1),
        }),
        None,
    )?;
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was not honoured"
    );
    Ok(())
}

#[test]
fn a_502_is_retried() -> Result<()> {
    faulted_sync(
        Some(GhlFault::Status {
            status: 502,
            retry_after_secs: None,
        }),
        None,
    )
    .map(|_| ())
}

#[test]
fn a_body_cut_by_a_broken_connection_is_retried() -> Result<()> {
    faulted_sync(Some(GhlFault::Reset), None).map(|_| ())
}

#[test]
fn a_rankr_answer_lost_after_its_commit_is_replayed_not_applied_twice() -> Result<()> {
    faulted_sync(None, Some(RankrFault::LostAfterCommit)).map(|_| ())
}

#[test]
fn a_certificate_the_runtime_does_not_trust_fails_at_once_on_wasmtime() -> Result<()> {
    use ghl_rankr_testkit::tls::{ServerCert, TestCa};
    let wasmtime = Wasmtime::serve(&[])?;
    // A private CA: wasmtime's outbound HTTP trusts Mozilla's roots only.
    let tls = TestCa::new("ghl-rankr wasi:http test CA")?.server(ServerCert::Loopback)?;
    let fakes = Fakes {
        ghl: GhlFake::start_with(GhlState::seeded(PIT, DEMO_LOCATION, TAGS), Some(tls.clone()))?,
        rankr: RankrFake::start_with(RankrState::new(KEY), Some(tls))?,
    };
    let (status, v) = call(
        wasmtime.base_url(),
        "tag-sync",
        &fakes.settings(),
        json!({"location-id": DEMO_LOCATION}),
        &Value::Null,
    )?;
    assert_eq!(status, 500, "{v}");
    let message = v["error"]["transport"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("TLS failed (not retried)"), "{v}");
    assert!(
        message.contains(fakes.ghl.base_url().trim_start_matches("https://")),
        "{v}"
    );
    assert_eq!(fakes.ghl.server.connections(), 1, "one attempt");
    assert_eq!(fakes.rankr.server.connections(), 0);
    Ok(())
}
