//! `ghl-rankr`: runs the connector component against GHL and Rankr.

use clap::{Parser, Subcommand};
use ghl_rankr::config::{settings, ConfigFile, SettingsParts};
use ghl_rankr::credentials::{credential, TokenFile};
use ghl_rankr::files::{read_optional, write_atomic};
use ghl_rankr::progress::TermProgress;
use ghl_rankr::render;
use ghl_rankr::secret::Secret;
use ghl_rankr_host::clock::SystemClock;
use ghl_rankr_host::egress::Allowlist;
use ghl_rankr_host::engine::{ConnectorEngine, EngineOptions};
use ghl_rankr_host::imports::ProgressSink;
use ghl_rankr_host::imports::{Env, TokenStore};
use ghl_rankr_host::limits::Limits;
use ghl_rankr_host::net::{Network, NetworkConfig};
use ghl_rankr_host::transport::UreqTransport;
use ghl_rankr_host::types::{
    NewPostsReport, NewPostsRequest, Settings, StatsRequest, SyncError, SyncFailure, SyncReport, TagDetailsEvent,
    TagSyncEvent,
};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use ghl_rankr::{DEFAULT_GHL, DEFAULT_RANKR};

/// Sync HighLevel Social Planner tags, tag details and statistics into
/// Rankr, through the connector WebAssembly component.
///
/// Secrets come from the environment only: RANKR_API_KEY, and for GHL either
/// GHL_ACCESS_TOKEN (a Private Integration Token of the location) or OAuth:
/// GHL_REFRESH_TOKEN, GHL_CLIENT_ID, GHL_CLIENT_SECRET (and optionally
/// GHL_ACCESS_TOKEN, GHL_SCOPES), with the rotated pair kept in --token-file.
///
/// Exit status: 0 done, 1 failed, 2 bad configuration, 3 incomplete (run
/// again with the same --state-file to resume), 4 authorize GHL again.
#[derive(Parser)]
#[command(name = "ghl-rankr", version)]
struct Cli {
    /// GHL API base URL [env: GHL_BASE_URL] [default: https://services.leadconnectorhq.com]
    #[arg(long, global = true)]
    ghl_base_url: Option<String>,
    /// Rankr API base URL [env: RANKR_BASE_URL] [default: https://api.rankr.io]
    #[arg(long, global = true)]
    rankr_base_url: Option<String>,
    /// Settings file (TOML): page size, retry policy, mapping tables.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Print the report as JSON on stdout.
    #[arg(long, global = true)]
    json: bool,
    /// Read everything, write nothing; the report lists what would be written.
    #[arg(long, global = true)]
    dry_run: bool,
    /// Tags per GHL page (1..=1000, default 100).
    #[arg(long, global = true)]
    page_size: Option<u32>,
    /// Longest any one HTTP exchange may take, in seconds.
    #[arg(long, global = true, value_name = "SECS", default_value_t = 30)]
    request_timeout: u32,
    /// Trust the CA certificates in FILE (PEM) too, on top of the system's
    /// (or SSL_CERT_FILE's): a company's TLS-inspecting proxy, a staging
    /// server's private CA. Wins over `ca_cert` in the settings.
    #[arg(long, global = true, value_name = "FILE")]
    ca_cert: Option<PathBuf>,
    /// Run this component instead of the embedded one.
    #[arg(long, global = true, value_name = "PATH")]
    component: Option<PathBuf>,
    /// OAuth: keep the current GHL token pair here (read at start, rewritten
    /// atomically with mode 0600 as soon as a refresh returns).
    #[arg(long, global = true, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// Keep the sync state here (content hashes, checkpoint), so reruns write
    /// only what changed and resume where a run stopped.
    #[arg(long, global = true, value_name = "FILE")]
    state_file: Option<PathBuf>,
    /// Ignore the state's hashes: write every item (the state is rebuilt).
    #[arg(long, global = true)]
    full_refresh: bool,
    /// Do not archive in Rankr the tags that are gone from GHL.
    #[arg(long, global = true)]
    no_archive: bool,
    /// Time budget of the whole operation, in seconds (default 900).
    #[arg(long, global = true, value_name = "SECS")]
    deadline: Option<u64>,
    /// Hard wall-time limit of one component call, in seconds (the host
    /// stops the component; default: 1200, or the deadline plus 60).
    #[arg(long, global = true, value_name = "SECS")]
    call_timeout: Option<u64>,
    /// Linear memory the component may use, in MiB.
    #[arg(long, global = true, value_name = "MIB", default_value_t = 64)]
    memory_mib: usize,
    /// Meter the component with this much fuel per call (off by default).
    #[arg(long, global = true, value_name = "UNITS")]
    fuel: Option<u64>,
    /// Requests sent at once: GHL pages (within GHL's rate budget) and Rankr
    /// batches (1..=64, default 16; 1 = one at a time). Also the host's pool.
    #[arg(long, global = true, value_name = "N")]
    max_in_flight: Option<u32>,
    /// Most HTTP requests one call may make.
    #[arg(long, global = true, value_name = "N", default_value_t = 100_000)]
    max_requests: u32,
    /// Do not use the compiled-component cache (GHL_RANKR_CACHE_DIR, else
    /// ~/.cache/ghl-rankr): compile at every start.
    #[arg(long, global = true)]
    no_cache: bool,
    /// Compile with wasmtime's inliner: the component's own CPU time drops a
    /// little, and a cold start compiles several times longer with far more
    /// memory (BENCHMARKS.md). Its compiled code has its own cache entry.
    #[arg(long, global = true)]
    inlining: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// A post was created: sync its tags (with --tag-id, only those; else
    /// every page of the location's), then apply them to the post.
    TagSync {
        #[arg(long, value_name = "ID")]
        location: String,
        /// The new post; its tags are applied to its Rankr record.
        #[arg(long, value_name = "ID")]
        post: Option<String>,
        /// The post's tag ids, if known (otherwise read from GHL). With them
        /// only these tags are read (the post path), not every page.
        #[arg(long = "tag-id", value_name = "ID")]
        tag_ids: Vec<String>,
        /// Read every page of the location's tags even with --tag-id (it
        /// also catches edits to other tags and deletions).
        #[arg(long)]
        full_pass: bool,
    },
    /// Tags changed in GHL: read them by id and update Rankr.
    TagDetailsPush {
        #[arg(long, value_name = "ID")]
        location: String,
        #[arg(long = "tag-id", value_name = "ID", required = true)]
        tag_ids: Vec<String>,
    },
    /// Read Social Planner statistics into a Rankr dashboard.
    StatsSync {
        #[arg(long, value_name = "ID")]
        location: String,
        /// Connected social accounts (GHL profileIds); none = the location's
        /// connected accounts that have not expired.
        #[arg(long = "profile-id", value_name = "ID")]
        profile_ids: Vec<String>,
        /// facebook, instagram, linkedin, google, pinterest, youtube, tiktok (default: all).
        #[arg(long = "platform", value_name = "P")]
        platforms: Vec<String>,
        #[arg(long, value_name = "ID")]
        dashboard: String,
        /// Last day of the 7-day window, YYYY-MM-DD (default: today, UTC).
        #[arg(long, value_name = "YYYY-MM-DD")]
        as_of: Option<String>,
    },
    /// Poll for posts created since the last call (the Social Planner sends
    /// no webhooks). Keep its state with --state-file: the first call only
    /// records what exists (unless --backfill-since), each later call prints
    /// the new posts once.
    NewPosts {
        #[arg(long, value_name = "ID")]
        location: String,
        /// Look back this far before the last poll, for late and back-dated
        /// posts (default 15).
        #[arg(long, value_name = "MINUTES")]
        overlap_minutes: Option<u64>,
        /// First call only: print the posts created since then
        /// (2026-11-01 or 2026-11-01T00:00:00Z) instead of a baseline.
        #[arg(long, value_name = "WHEN")]
        backfill_since: Option<String>,
        /// Most posts one call returns (1..=1000, default 100).
        #[arg(long, value_name = "N")]
        max_posts: Option<u32>,
        /// Run tag-sync for each new post, with its tag ids, before the
        /// trigger's state is saved: a failed tag-sync leaves the posts to
        /// come again next time.
        #[arg(long)]
        then_tag_sync: bool,
        /// tag-sync's own state (with --then-tag-sync); without it each
        /// tag-sync writes every tag.
        #[arg(long, value_name = "FILE", requires = "then_tag_sync")]
        tag_state_file: Option<PathBuf>,
    },
    /// Keep many locations in step, unattended: polls for new posts and
    /// syncs their tags, runs full tag syncs and statistics on schedules,
    /// takes events over HTTP, with state in SQLite. --config names the
    /// connections file (README: "Run it as a service").
    Serve,
    /// What the service's database says: each connection's last and next
    /// runs, paused connections, queued posts.
    Status {
        /// The database (default: the one --config names).
        #[arg(long, value_name = "FILE")]
        database: Option<PathBuf>,
    },
    /// Print the catalog: every operation and trigger with its inputs,
    /// outputs and scopes as JSON Schema (--json for the document itself).
    Describe,
    /// Run the operations and the new-posts trigger against fake GHL and
    /// Rankr servers on loopback.
    #[cfg(feature = "demo")]
    Demo {
        /// Only start the fakes and keep them up, printing what to export to
        /// run the other commands against them.
        #[arg(long)]
        serve: bool,
        /// Tags in the fake location (with --serve).
        #[arg(long, default_value_t = 260)]
        tags: usize,
        /// With --serve: serve HTTPS, with certificates from a private CA
        /// made for the occasion; its certificate is written to DIR/ca.pem.
        #[arg(long, value_name = "DIR", requires = "serve")]
        tls: Option<PathBuf>,
    },
    /// Measure compile, start-up, instantiation, CPU per tag, guest memory
    /// and request counts, in process (build with --release for meaningful
    /// figures).
    Bench {
        /// Repetitions of each timed measurement (medians are printed).
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
}

fn main() -> ExitCode {
    // RUST_LOG filters the connector's logs. Two kinds of dependency logs
    // stay capped whatever it says: the JIT's (millions of lines when it
    // compiles a component) and the HTTP client's wire dumps, which at trace
    // level print request bytes, `Authorization` header included.
    let mut filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    for quiet in [
        "cranelift_codegen=warn",
        "cranelift_frontend=warn",
        "regalloc2=warn",
        "wasmtime_internal_cranelift=warn",
        "wasmtime=warn",
        "wasmtime_environ=warn",
        "wasmparser=warn",
        "ureq_proto=info",
        "ureq=info",
        "rustls=info",
    ] {
        if let Ok(d) = quiet.parse() {
            filter = filter.add_directive(d);
        }
    }
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours only on a terminal: not in journald, files or pipes.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn pick(flag: Option<String>, env: &str, file: Option<&String>, default: &str) -> String {
    flag.or_else(|| std::env::var(env).ok().filter(|v| !v.is_empty()))
        .or_else(|| file.cloned())
        .unwrap_or_else(|| default.to_string())
}

/// One of the operations, with its input.
enum Operation {
    TagSync(TagSyncEvent),
    TagDetailsPush(TagDetailsEvent),
    StatsSync(StatsRequest),
    NewPosts {
        request: NewPostsRequest,
        then_tag_sync: bool,
        tag_state_file: Option<PathBuf>,
    },
}

impl Operation {
    fn name(&self) -> &'static str {
        match self {
            Operation::TagSync(_) => "tag-sync",
            Operation::TagDetailsPush(_) => "tag-details-push",
            Operation::StatsSync(_) => "stats-sync",
            Operation::NewPosts { .. } => "new-posts",
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let limits = limits(&cli);
    let operation = match cli.command {
        Command::TagSync {
            location,
            post,
            tag_ids,
            full_pass,
        } => Operation::TagSync(TagSyncEvent {
            location_id: location,
            post_id: post,
            tag_ids: (!tag_ids.is_empty()).then_some(tag_ids),
            full_pass,
        }),
        Command::TagDetailsPush { location, tag_ids } => Operation::TagDetailsPush(TagDetailsEvent {
            location_id: location,
            tag_ids,
        }),
        Command::StatsSync {
            location,
            profile_ids,
            platforms,
            dashboard,
            as_of,
        } => Operation::StatsSync(StatsRequest {
            location_id: location,
            profile_ids,
            platforms,
            dashboard_id: dashboard,
            as_of,
        }),
        Command::NewPosts {
            location,
            overlap_minutes,
            backfill_since,
            max_posts,
            then_tag_sync,
            tag_state_file,
        } => Operation::NewPosts {
            request: NewPostsRequest {
                location_id: location,
                overlap_ms: overlap_minutes.map(|m| m.saturating_mul(60_000)),
                backfill_since,
                max_posts,
            },
            then_tag_sync,
            tag_state_file,
        },
        Command::Describe => {
            let engine = engine(&cli.component, cli.inlining, cli.no_cache, limits)?;
            let env = Env {
                // The catalog comes from the component: no request is made.
                transport: Arc::new(UreqTransport::direct(Duration::from_secs(1))),
                clock: Arc::new(SystemClock::default()),
                tokens: None,
                captured_logs: None,
                progress: None,
            };
            let catalog: serde_json::Value = serde_json::from_str(&engine.describe(&env)?)?;
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&catalog)?);
            } else {
                print!("{}", render::catalog_summary(&catalog));
            }
            return Ok(ExitCode::SUCCESS);
        }
        Command::Serve => {
            let Some(path) = &cli.config else {
                eprintln!("error: serve needs --config connections.toml (README: \"Run it as a service\")");
                return Ok(ExitCode::from(2));
            };
            let config = match ghl_rankr::serve::config::ServeConfig::load(path) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("error: {e}");
                    return Ok(ExitCode::from(2));
                }
            };
            if let Err(e) = config.check_variables(&|k: &str| std::env::var(k).ok()) {
                eprintln!("error: {e}");
                return Ok(ExitCode::from(2));
            }
            let network = match network(config.network.clone().with_ca_cert(cli.ca_cert.as_deref())) {
                Ok(n) => n,
                Err(code) => return Ok(code),
            };
            // Each run stops at its deadline with a checkpoint; the host's
            // hard limit comes a minute later.
            let limits = Limits {
                call_timeout: config.run_deadline + Duration::from_secs(60),
                ..limits
            };
            let engine = engine(&cli.component, cli.inlining, cli.no_cache, limits)?;
            return Ok(match ghl_rankr::serve::run(config, engine, network) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(2)
                }
            });
        }
        Command::Status { database } => {
            let database = match (database, &cli.config) {
                (Some(d), _) => d,
                (None, Some(path)) => match ghl_rankr::serve::config::ServeConfig::load(path) {
                    Ok(c) => c.database,
                    Err(e) => {
                        eprintln!("error: {e}");
                        return Ok(ExitCode::from(2));
                    }
                },
                (None, None) => {
                    eprintln!("error: status needs --config connections.toml or --database FILE");
                    return Ok(ExitCode::from(2));
                }
            };
            return Ok(match ghl_rankr::serve::status(&database, cli.json) {
                Ok(text) => {
                    print!("{text}");
                    if cli.json {
                        println!();
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(2)
                }
            });
        }
        Command::Bench { runs } => {
            let figures = ghl_rankr::bench::run(&component_bytes(cli.component.as_deref())?, runs)?;
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&figures)?);
            } else {
                print!("{}", ghl_rankr::bench::table(&figures));
            }
            return Ok(ExitCode::SUCCESS);
        }
        #[cfg(feature = "demo")]
        Command::Demo { serve: true, tags, tls } => {
            ghl_rankr::demo::serve(tags, tls.as_deref(), &mut std::io::stdout())?;
            return Ok(ExitCode::SUCCESS);
        }
        #[cfg(feature = "demo")]
        Command::Demo { serve: false, .. } => {
            let engine = engine(&cli.component, cli.inlining, cli.no_cache, limits)?;
            ghl_rankr::demo::run(&engine, &mut std::io::stdout(), cli.json)?;
            return Ok(ExitCode::SUCCESS);
        }
    };
    let config = match &cli.config {
        Some(path) => ConfigFile::load(path).map_err(anyhow::Error::msg)?,
        None => ConfigFile::default(),
    };
    let network = match network(config.network(cli.ca_cert.as_deref())) {
        Ok(n) => n,
        Err(code) => return Ok(code),
    };
    let engine = engine(&cli.component, cli.inlining, cli.no_cache, limits)?;
    let token_file = cli.token_file.as_deref().map(TokenFile::new);
    let ghl_credential =
        credential(&|k: &str| std::env::var(k).ok(), token_file.as_ref()).map_err(anyhow::Error::msg)?;
    let rankr_key = Secret::from_env("RANKR_API_KEY").map_err(anyhow::Error::msg)?;
    let state = match &cli.state_file {
        Some(p) => read_optional(p).map_err(|e| anyhow::anyhow!("cannot read the state file {}: {e}", p.display()))?,
        None => None,
    };
    let settings = settings(SettingsParts {
        ghl_base_url: pick(
            cli.ghl_base_url,
            "GHL_BASE_URL",
            config.ghl_base_url.as_ref(),
            DEFAULT_GHL,
        ),
        ghl_credential,
        rankr_base_url: pick(
            cli.rankr_base_url,
            "RANKR_BASE_URL",
            config.rankr_base_url.as_ref(),
            DEFAULT_RANKR,
        ),
        rankr_api_key: &rankr_key,
        page_size: cli.page_size,
        dry_run: cli.dry_run,
        deadline_secs: cli.deadline,
        full_refresh: cli.full_refresh,
        full_pass: false,
        no_archive: cli.no_archive,
        max_in_flight: cli.max_in_flight,
        config: &config,
    });
    // The component may reach the two configured origins and nothing else.
    let transport = Allowlist::new(
        UreqTransport::new(network, Duration::from_secs(cli.request_timeout.max(1) as u64)),
        &[&settings.ghl_base_url, &settings.rankr_base_url],
    );
    let bar = TermProgress::if_terminal().map(Arc::new);
    let env = Env {
        transport: Arc::new(transport),
        clock: Arc::new(SystemClock::default()),
        tokens: token_file.map(|f| Arc::new(f) as Arc<dyn TokenStore>),
        captured_logs: None,
        progress: bar.clone().map(|b| b as Arc<dyn ProgressSink>),
    };
    let state = state.as_deref();
    let result: Result<SyncReport, SyncFailure> = match &operation {
        Operation::TagSync(event) => engine.tag_sync(&env, &settings, event, state)?,
        Operation::TagDetailsPush(event) => engine.tag_details_push(&env, &settings, event, state)?,
        Operation::StatsSync(request) => engine.stats_sync(&env, &settings, request, state)?,
        Operation::NewPosts {
            request,
            then_tag_sync,
            tag_state_file,
        } => {
            let run = PollRun {
                engine: &engine,
                env: &env,
                settings: &settings,
                state_file: cli.state_file.as_deref(),
                tag_state_file: tag_state_file.as_deref(),
                json: cli.json,
            };
            let code = run.poll(request, state, *then_tag_sync);
            if let Some(bar) = &bar {
                bar.finish();
            }
            return code;
        }
    };
    if let Some(bar) = &bar {
        bar.finish();
    }
    let operation = operation.name();
    // The state describes what was written, on success and on failure alike.
    let new_state = match &result {
        Ok(r) => Some(&r.state),
        Err(f) => f.state.as_ref(),
    };
    if let (Some(path), Some(blob), false) = (&cli.state_file, new_state, settings.dry_run) {
        write_atomic(path, blob).map_err(|e| anyhow::anyhow!("cannot write the state file {}: {e}", path.display()))?;
    }
    match result {
        Ok(report) => {
            if cli.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &serde_json::json!({"operation": operation, "ok": true, "report": render::report_json(&report)})
                    )?
                );
            } else {
                print!("{}", render::summary(operation, &report));
            }
            if report.incomplete.is_some() {
                return Ok(ExitCode::from(3));
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(SyncFailure { error: e, .. }) => Ok(failed(operation, &e, cli.json)),
    }
}

/// Prints a failed operation (as JSON on stdout with `--json`; always on
/// stderr) and returns its exit status.
fn failed(operation: &str, e: &SyncError, json: bool) -> ExitCode {
    if json {
        let out = serde_json::json!({"operation": operation, "ok": false, "error": render::error_json(e)});
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    }
    eprintln!("error: {operation}: {}", render::error_message(e));
    ExitCode::from(render::exit_code(e) as u8)
}

/// `new-posts`, and with `--then-tag-sync` a `tag-sync` per new post.
struct PollRun<'a> {
    engine: &'a ConnectorEngine,
    env: &'a Env,
    settings: &'a Settings,
    state_file: Option<&'a std::path::Path>,
    tag_state_file: Option<&'a std::path::Path>,
    json: bool,
}

impl PollRun<'_> {
    /// Polls; the trigger's state is saved only once every post was acted
    /// on (at least once: a failure leaves the posts to come again).
    fn poll(&self, request: &NewPostsRequest, state: Option<&[u8]>, then_tag_sync: bool) -> anyhow::Result<ExitCode> {
        let report: NewPostsReport = match self.engine.new_posts(self.env, self.settings, request, state)? {
            Ok(report) => report,
            Err(SyncFailure { error: e, .. }) => return Ok(failed("new-posts", &e, self.json)),
        };
        let mut synced = Vec::new();
        if then_tag_sync && !self.settings.dry_run {
            let mut tag_state = match self.tag_state_file {
                Some(p) => read_optional(p)
                    .map_err(|e| anyhow::anyhow!("cannot read the tag state file {}: {e}", p.display()))?,
                None => None,
            };
            for post in &report.posts {
                let event = TagSyncEvent {
                    location_id: request.location_id.clone(),
                    post_id: Some(post.id.clone()),
                    tag_ids: Some(post.tag_ids.clone()),
                    full_pass: false,
                };
                let result = self
                    .engine
                    .tag_sync(self.env, self.settings, &event, tag_state.as_deref())?;
                let blob = match &result {
                    Ok(r) => Some(r.state.clone()),
                    Err(f) => f.state.clone(),
                };
                if let (Some(path), Some(blob)) = (self.tag_state_file, &blob) {
                    write_atomic(path, blob)
                        .map_err(|e| anyhow::anyhow!("cannot write the tag state file {}: {e}", path.display()))?;
                }
                tag_state = blob.or(tag_state);
                match result {
                    // An incomplete tag-sync holds the post in its checkpoint:
                    // queued durably, it is applied when the pass completes.
                    Ok(r) => synced.push((post.id.clone(), r)),
                    Err(SyncFailure { error: e, .. }) => {
                        eprintln!(
                            "new-posts: tag-sync of post {} failed; the trigger's state is not saved, so the new posts come again next time",
                            post.id
                        );
                        return Ok(failed("tag-sync", &e, self.json));
                    }
                }
            }
        }
        if let (Some(path), false) = (self.state_file, self.settings.dry_run) {
            write_atomic(path, &report.state)
                .map_err(|e| anyhow::anyhow!("cannot write the state file {}: {e}", path.display()))?;
        }
        if self.json {
            let tag_syncs: Vec<serde_json::Value> = synced
                .iter()
                .map(|(post, r)| serde_json::json!({"post": post, "report": render::report_json(r)}))
                .collect();
            let mut out =
                serde_json::json!({"operation": "new-posts", "ok": true, "report": render::posts_json(&report)});
            if then_tag_sync {
                out["tag_syncs"] = serde_json::Value::Array(tag_syncs);
            }
            println!("{}", serde_json::to_string_pretty(&out)?);
        } else {
            print!("{}", render::posts_summary(&report));
            for (_, r) in &synced {
                print!("{}", render::summary("tag-sync", r));
            }
        }
        let incomplete = report.incomplete.is_some() || synced.iter().any(|(_, r)| r.incomplete.is_some());
        Ok(if incomplete {
            ExitCode::from(3)
        } else {
            ExitCode::SUCCESS
        })
    }
}

/// The trust store and proxies; a mistake in them is a configuration error
/// (exit 2), said before the component is compiled.
fn network(wanted: NetworkConfig) -> Result<Network, ExitCode> {
    Network::from_env(&wanted).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })
}

/// The host's limits on one component call, from the flags.
fn limits(cli: &Cli) -> Limits {
    let defaults = Limits::default();
    Limits {
        call_timeout: match (cli.call_timeout, cli.deadline) {
            (Some(secs), _) => Duration::from_secs(secs.max(1)),
            (None, Some(d)) => defaults.call_timeout.max(Duration::from_secs(d.saturating_add(60))),
            (None, None) => defaults.call_timeout,
        },
        fuel: cli.fuel,
        memory_bytes: cli.memory_mib.clamp(16, 4096) * 1024 * 1024,
        max_requests: cli.max_requests.max(1),
        http_pool: cli
            .max_in_flight
            .map_or(defaults.http_pool, |n| n.clamp(1, 64) as usize),
        ..defaults
    }
}

/// `--component PATH`, else the component built into this binary.
fn component_bytes(path: Option<&std::path::Path>) -> anyhow::Result<Vec<u8>> {
    match path {
        Some(path) => std::fs::read(path).map_err(|e| anyhow::anyhow!("reading the component {}: {e}", path.display())),
        None => Ok(ghl_rankr_artifact::COMPONENT.to_vec()),
    }
}

/// The component compiled (or taken from the compile cache) and linked.
fn engine(
    component: &Option<PathBuf>,
    inlining: bool,
    no_cache: bool,
    limits: Limits,
) -> anyhow::Result<ConnectorEngine> {
    let bytes = component_bytes(component.as_deref())?;
    let options = EngineOptions {
        pooling: false,
        inlining,
    };
    let cache_dir = if no_cache {
        None
    } else {
        ghl_rankr::cache::default_dir()
    };
    let wasmtime = wasmtime::Engine::new(&ConnectorEngine::config(&limits, &options)).map_err(anyhow::Error::from)?;
    let (component, start) = ghl_rankr::cache::load_or_compile(&wasmtime, &bytes, cache_dir.as_deref())
        .map_err(anyhow::Error::from)
        .map_err(|e| {
            e.context("compiling the component (is it a wasm32-wasip2 component of rankr:ghl-connector@0.6.0?)")
        })?;
    tracing::debug!(target: "ghl_rankr::start", warm = start.warm, ms = start.ms, "component ready");
    ConnectorEngine::from_component(wasmtime, &component, limits)
}
