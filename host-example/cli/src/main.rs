//! `ghl-rankr`: runs the connector component against GHL and Rankr.

use clap::{Parser, Subcommand};
use ghl_rankr::config::ConfigFile;
use ghl_rankr::credentials::{credential, TokenFile};
use ghl_rankr::files::{read_optional, write_atomic};
use ghl_rankr::invoke::{self, Credentials, Endpoints, Imports, Invocation, OpResult, Prepared, RunFlags};
use ghl_rankr::progress::TermProgress;
use ghl_rankr::render;
use ghl_rankr::secret::Secret;
use ghl_rankr::serve::config::ServeConfig;
use ghl_rankr::serve::db::{Db, DbError};
use ghl_rankr::serve::error::ServeError;
use ghl_rankr::serve::seal::key::{self, Key, KEY_ENV};
use ghl_rankr::serve::seal::Sealer;
use ghl_rankr_host::clock::SystemClock;
use ghl_rankr_host::engine::{ConnectorEngine, EngineOptions};
use ghl_rankr_host::imports::{Env, ProgressSink, TokenStore};
use ghl_rankr_host::limits::Limits;
use ghl_rankr_host::net::{Network, NetworkError};
use ghl_rankr_host::transport::UreqTransport;
use ghl_rankr_host::types::{
    CheckRequest, NewPostsReport, NewPostsRequest, PublishedPostsRequest, StatsRequest, SyncError, SyncFailure,
    TagDetailsEvent, TagSyncEvent,
};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

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
        /// Read each profile alone and write under
        /// location:{id}/profile:{profileId}, leaving the location's points.
        #[arg(long)]
        per_profile: bool,
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
    /// Poll for posts that went live since the last call. Keep its state
    /// with --state-file: the first call only records what is published
    /// (unless --backfill-since), each later call prints each post that
    /// went live once, with its accounts' profile ids.
    PostsPublished {
        #[arg(long, value_name = "ID")]
        location: String,
        /// Look back this far before the last poll, for late posts
        /// (default 15).
        #[arg(long, value_name = "MINUTES")]
        overlap_minutes: Option<u64>,
        /// First call only: print the posts published since then instead of
        /// a baseline.
        #[arg(long, value_name = "WHEN")]
        backfill_since: Option<String>,
        /// Most posts one call returns (1..=1000, default 100).
        #[arg(long, value_name = "N")]
        max_posts: Option<u32>,
    },
    /// Test the connection without writing anything: the smallest read that
    /// proves each credential and operation. Exit 0 when all pass, 2 for a
    /// credential or configuration problem, 1 otherwise.
    Check {
        #[arg(long, value_name = "ID")]
        location: String,
        /// The operations to prove (default: all): tag-sync,
        /// tag-details-push, stats-sync, new-posts, posts-published.
        #[arg(long = "operation", value_name = "NAME")]
        operations: Vec<String>,
        /// stats-sync's dashboard, to prove Rankr has it.
        #[arg(long, value_name = "ID")]
        dashboard: Option<String>,
    },
    /// Keep many locations in step, unattended: polls for new posts and
    /// syncs their tags, runs full tag syncs and statistics on schedules,
    /// takes events over HTTP, with state in SQLite. --config names the
    /// connections file (docs/serve.md).
    Serve,
    /// What the service's database says: each connection's last and next
    /// runs, paused connections, queued posts.
    Status {
        /// The database (default: the one --config names).
        #[arg(long, value_name = "FILE")]
        database: Option<PathBuf>,
    },
    /// The connections, of connections.toml and of agency installs alike:
    /// list them, or pause, resume or remove one, beside a running service
    /// (it takes the command within a second) or without one.
    Connections {
        #[command(subcommand)]
        action: ConnectionsAction,
    },
    /// The service's audit log: operator actions, installs, key rotations
    /// and refused credentials, newest first.
    Audit {
        /// The database (default: the one --config names).
        #[arg(long, value_name = "FILE")]
        database: Option<PathBuf>,
        /// Rows to print (1..=10000).
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Write a new random encryption key (base64) to a new file of mode
    /// 0600, for service.key_file or GHL_RANKR_ENCRYPTION_KEY.
    Keygen {
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Re-seal every token in the service's database under a new key, in
    /// one transaction, with the service stopped (it holds the database
    /// alone). The current key comes from the usual places; then point the
    /// service at the new one.
    RotateKey {
        #[arg(long, value_name = "FILE")]
        new_key_file: PathBuf,
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
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}

#[derive(Subcommand, Debug)]
enum ConnectionsAction {
    /// Every connection, its origin (file or install) and state; with
    /// --json, and the agencies.
    List,
    /// Nothing runs for it until it is resumed.
    Pause {
        name: String,
    },
    Resume {
        name: String,
    },
    /// An install's connection stops for good: its tokens are deleted, its
    /// history kept, and the agency's listing does not bring it back (an
    /// INSTALL does). A connection of the file is removed by editing it.
    Remove {
        name: String,
    },
}

/// Why a command stopped: what it prints once, here at the edge, and its
/// exit status.
#[derive(Debug)]
enum CliError {
    /// Configuration the user must fix (exit 2).
    Config(String),
    /// Anything else (exit 1).
    Failed(anyhow::Error),
}

impl CliError {
    fn exit_code(&self) -> ExitCode {
        match self {
            CliError::Config(_) => ExitCode::from(2),
            CliError::Failed(_) => ExitCode::from(1),
        }
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CliError::Config(m) => f.write_str(m),
            CliError::Failed(e) => write!(f, "{e:#}"),
        }
    }
}

impl From<anyhow::Error> for CliError {
    fn from(e: anyhow::Error) -> Self {
        CliError::Failed(e)
    }
}

impl From<ServeError> for CliError {
    fn from(e: ServeError) -> Self {
        CliError::Config(e.to_string())
    }
}

impl From<NetworkError> for CliError {
    fn from(e: NetworkError) -> Self {
        CliError::Config(e.to_string())
    }
}

type CliResult = Result<ExitCode, CliError>;

fn run(cli: Cli) -> CliResult {
    match &cli.command {
        Command::TagSync {
            location,
            post,
            tag_ids,
            full_pass,
        } => {
            let event = TagSyncEvent {
                location_id: location.clone(),
                post_id: post.clone(),
                tag_ids: (!tag_ids.is_empty()).then(|| tag_ids.clone()),
                full_pass: *full_pass,
            };
            operation(&cli, Invocation::TagSync(event))
        }
        Command::TagDetailsPush { location, tag_ids } => operation(
            &cli,
            Invocation::TagDetailsPush(TagDetailsEvent {
                location_id: location.clone(),
                tag_ids: tag_ids.clone(),
            }),
        ),
        Command::StatsSync {
            location,
            profile_ids,
            platforms,
            dashboard,
            as_of,
            per_profile,
        } => operation(
            &cli,
            Invocation::StatsSync(StatsRequest {
                location_id: location.clone(),
                profile_ids: profile_ids.clone(),
                platforms: platforms.clone(),
                dashboard_id: dashboard.clone(),
                as_of: as_of.clone(),
                per_profile: *per_profile,
            }),
        ),
        Command::NewPosts {
            location,
            overlap_minutes,
            backfill_since,
            max_posts,
            then_tag_sync,
            tag_state_file,
        } => {
            let request = NewPostsRequest {
                location_id: location.clone(),
                overlap_ms: overlap_minutes.map(|m| m.saturating_mul(60_000)),
                backfill_since: backfill_since.clone(),
                max_posts: *max_posts,
            };
            new_posts(&cli, &request, *then_tag_sync, tag_state_file.as_deref())
        }
        Command::PostsPublished {
            location,
            overlap_minutes,
            backfill_since,
            max_posts,
        } => posts_published(
            &cli,
            PublishedPostsRequest {
                location_id: location.clone(),
                overlap_ms: overlap_minutes.map(|m| m.saturating_mul(60_000)),
                backfill_since: backfill_since.clone(),
                max_posts: *max_posts,
            },
        ),
        Command::Check {
            location,
            operations,
            dashboard,
        } => check(
            &cli,
            CheckRequest {
                location_id: location.clone(),
                operations: operations.clone(),
                dashboard_id: dashboard.clone(),
            },
        ),
        Command::Describe => describe(&cli),
        Command::Serve => serve(&cli),
        Command::Status { database } => status(&cli, database.as_deref()),
        Command::Audit { database, limit } => audit(&cli, database.as_deref(), *limit),
        Command::Connections { action } => connections(&cli, action),
        Command::Keygen { out } => keygen(out),
        Command::RotateKey { new_key_file } => rotate_key(&cli, new_key_file),
        Command::Bench { runs } => bench(&cli, *runs),
        #[cfg(feature = "demo")]
        Command::Demo { serve: true, tags, tls } => {
            ghl_rankr::demo::serve(*tags, tls.as_deref(), &mut std::io::stdout())?;
            Ok(ExitCode::SUCCESS)
        }
        #[cfg(feature = "demo")]
        Command::Demo { serve: false, .. } => {
            let engine = engine(&cli, limits(&cli))?;
            ghl_rankr::demo::run(&engine, &mut std::io::stdout(), cli.json)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `describe`: the catalog, from the component (no request is made).
fn describe(cli: &Cli) -> CliResult {
    let engine = engine(cli, limits(cli))?;
    let env = Env {
        transport: Arc::new(UreqTransport::direct(Duration::from_secs(1))),
        clock: Arc::new(SystemClock::default()),
        tokens: None,
        captured_logs: None,
        progress: None,
    };
    let catalog: serde_json::Value =
        serde_json::from_str(&engine.describe(&env)?).map_err(|e| anyhow::anyhow!("the catalog is not JSON: {e}"))?;
    if cli.json {
        println!("{}", serde_json::to_string_pretty(&catalog).unwrap_or_default());
    } else {
        print!("{}", render::catalog_summary(&catalog));
    }
    Ok(ExitCode::SUCCESS)
}

/// `serve`: the service, until a signal stops it.
fn serve(cli: &Cli) -> CliResult {
    let Some(path) = &cli.config else {
        return Err(CliError::Config(
            "serve needs --config connections.toml (docs/serve.md)".into(),
        ));
    };
    let config = ServeConfig::load(path).map_err(ServeError::from)?;
    config
        .check_variables(&|k: &str| std::env::var(k).ok())
        .map_err(ServeError::from)?;
    let network = Network::from_env(&config.network.clone().with_ca_cert(cli.ca_cert.as_deref()))?;
    // Each run stops at its deadline with a checkpoint; the host's hard
    // limit comes a minute later.
    let limits = Limits {
        call_timeout: config.run_deadline + Duration::from_secs(60),
        ..limits(cli)
    };
    let engine = engine(cli, limits)?;
    ghl_rankr::serve::run(config, engine, network)?;
    Ok(ExitCode::SUCCESS)
}

/// `status`: the database's view, beside a running service.
fn status(cli: &Cli, database: Option<&Path>) -> CliResult {
    let database = database_path(cli, database, "status")?;
    let text =
        ghl_rankr::serve::status::status(&database, cli.json).map_err(|e| CliError::from(ServeError::from(e)))?;
    print!("{text}");
    if cli.json {
        println!();
    }
    Ok(ExitCode::SUCCESS)
}

/// The database `--database` names, else the one `--config` does.
fn database_path(cli: &Cli, database: Option<&Path>, command: &str) -> Result<PathBuf, CliError> {
    match (database, &cli.config) {
        (Some(d), _) => Ok(d.to_path_buf()),
        (None, Some(path)) => Ok(ServeConfig::load(path).map_err(ServeError::from)?.database),
        (None, None) => Err(CliError::Config(format!(
            "{command} needs --config connections.toml or --database FILE"
        ))),
    }
}

/// `connections`: list, pause, resume or remove, beside a running service.
fn connections(cli: &Cli, action: &ConnectionsAction) -> CliResult {
    use ghl_rankr::serve::manage::{self, Change};
    let Some(path) = &cli.config else {
        return Err(CliError::Config("connections needs --config connections.toml".into()));
    };
    let config = ServeConfig::load(path).map_err(ServeError::from)?;
    let (name, change) = match action {
        ConnectionsAction::List => {
            let text = manage::list(&config, cli.json).map_err(|e| CliError::Config(e.to_string()))?;
            print!("{text}");
            return Ok(ExitCode::SUCCESS);
        }
        ConnectionsAction::Pause { name } => (name, Change::Pause),
        ConnectionsAction::Resume { name } => (name, Change::Resume),
        ConnectionsAction::Remove { name } => (name, Change::Remove),
    };
    match manage::change(&config, name, change) {
        Ok(said) => {
            println!("{said}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ manage::ManageError::NotTaken(_)) => Err(CliError::Failed(anyhow::anyhow!(e))),
        Err(e) => Err(CliError::Config(e.to_string())),
    }
}

/// `audit`: the audit log, beside a running service.
fn audit(cli: &Cli, database: Option<&Path>, limit: u32) -> CliResult {
    let database = database_path(cli, database, "audit")?;
    let db = Db::open_read_only(&database).map_err(ServeError::from)?;
    let rows = db.audit(limit.clamp(1, 10_000)).map_err(ServeError::from)?;
    if cli.json {
        let rows: Vec<serde_json::Value> = rows.iter().map(ghl_rankr::serve::view::audit_json).collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "audit": rows })).unwrap_or_default()
        );
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        println!("the audit log is empty");
    }
    for r in &rows {
        println!(
            "{} {} {} {}{}: {}{}",
            ghl_rankr::serve::view::when(Some(r.at_ms)),
            r.actor,
            r.action,
            r.target.as_deref().unwrap_or("-"),
            r.address.as_deref().map(|a| format!(" from {a}")).unwrap_or_default(),
            r.verdict.as_str(),
            r.detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `keygen`: a new key in a new private file.
fn keygen(out: &Path) -> CliResult {
    let key = Key::generate();
    key.write_new(out).map_err(|e| CliError::Config(e.to_string()))?;
    println!(
        "wrote a new encryption key to {} (mode 0600; its fingerprint is {}); keep a copy apart from the database's backups: without it the tokens cannot be read",
        out.display(),
        key.fingerprint()
    );
    Ok(ExitCode::SUCCESS)
}

/// `rotate-key`: every token re-sealed under the new key, in one
/// transaction, with the service stopped.
fn rotate_key(cli: &Cli, new_key_file: &Path) -> CliResult {
    let Some(path) = &cli.config else {
        return Err(CliError::Config("rotate-key needs --config connections.toml".into()));
    };
    let config = ServeConfig::load(path).map_err(ServeError::from)?;
    let env = |k: &str| std::env::var(k).ok();
    let old = key::load(config.key_file.as_deref(), &env)
        .map_err(ServeError::from)?
        .ok_or_else(|| {
            CliError::Config(format!(
                "rotate-key needs the current key: set {KEY_ENV} or service.key_file"
            ))
        })?;
    let new = Key::from_file(new_key_file).map_err(ServeError::from)?;
    if new == old {
        return Err(CliError::Config(
            "the new key is the current key; make a new one with `ghl-rankr keygen`".into(),
        ));
    }
    let db = match Db::open(&config.database, Some(&old)) {
        Err(DbError::Locked(p)) => {
            return Err(CliError::Config(format!(
            "a `ghl-rankr serve` is using {}: stop it first; rotate-key runs instead of the service, never beside it",
            p.display()
        )))
        }
        other => other.map_err(ServeError::from)?,
    };
    let now = ghl_rankr_host::clock::Clock::now_ms(&SystemClock::default());
    let n = db.rotate_key(&Sealer::new(&new), now).map_err(ServeError::from)?;
    println!(
        "re-sealed {n} tokens under the key {} (was {}); now point service.key_file (or {KEY_ENV}) at {} and start the service: the old key no longer opens them",
        new.fingerprint(),
        old.fingerprint(),
        new_key_file.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `bench`: in-process measurements.
fn bench(cli: &Cli, runs: usize) -> CliResult {
    let figures = ghl_rankr::bench::run(&component_bytes(cli.component.as_deref())?, runs)?;
    if cli.json {
        println!("{}", serde_json::to_string_pretty(&figures).unwrap_or_default());
    } else {
        print!("{}", ghl_rankr::bench::table(&figures));
    }
    Ok(ExitCode::SUCCESS)
}

/// A call of the component as the flags, the environment and the settings
/// file describe it, with the compiled component.
struct Call {
    engine: ConnectorEngine,
    prepared: Prepared,
    bar: Option<Arc<TermProgress>>,
}

impl Call {
    fn prepare(cli: &Cli) -> Result<Call, CliError> {
        let config = match &cli.config {
            Some(path) => ConfigFile::load(path).map_err(anyhow::Error::msg)?,
            None => ConfigFile::default(),
        };
        let network = Network::from_env(&config.network(cli.ca_cert.as_deref()))?;
        let engine = engine(cli, limits(cli))?;
        let token_file = cli.token_file.as_deref().map(TokenFile::new);
        let ghl = credential(&|k: &str| std::env::var(k).ok(), token_file.as_ref()).map_err(anyhow::Error::msg)?;
        let rankr_key = Secret::from_env("RANKR_API_KEY").map_err(anyhow::Error::msg)?;
        let endpoints = Endpoints::resolve(
            cli.ghl_base_url.clone(),
            cli.rankr_base_url.clone(),
            &|k: &str| std::env::var(k).ok(),
            &config,
        );
        let flags = RunFlags {
            page_size: cli.page_size,
            dry_run: cli.dry_run,
            deadline_secs: cli.deadline,
            full_refresh: cli.full_refresh,
            full_pass: false,
            no_archive: cli.no_archive,
            max_in_flight: cli.max_in_flight,
        };
        let credentials = Credentials {
            ghl,
            rankr_key: &rankr_key,
        };
        let settings = invoke::settings(&endpoints, &credentials, &flags, &config);
        let bar = TermProgress::if_terminal().map(Arc::new);
        let prepared = Prepared::new(
            settings,
            UreqTransport::new(network, Duration::from_secs(u64::from(cli.request_timeout.max(1)))),
            Imports {
                clock: Arc::new(SystemClock::default()),
                tokens: token_file.map(|f| Arc::new(f) as Arc<dyn TokenStore>),
                progress: bar.clone().map(|b| b as Arc<dyn ProgressSink>),
            },
        );
        Ok(Call { engine, prepared, bar })
    }

    fn finish_bar(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}

/// `tag-sync`, `tag-details-push` and `stats-sync`: one call, its state
/// kept, its report printed.
fn operation(cli: &Cli, invocation: Invocation) -> CliResult {
    let call = Call::prepare(cli)?;
    let state = read_state(cli.state_file.as_deref(), "state file")?;
    let result = call.prepared.run(&call.engine, &invocation, state.as_deref())?;
    call.finish_bar();
    let operation = invocation.name();
    // The state describes what was written, on success and on failure alike.
    if let (Some(path), Some(blob), false) = (&cli.state_file, result.state(), call.prepared.settings.dry_run) {
        write_state(path, blob, "state file")?;
    }
    match result {
        OpResult::Sync(Ok(report)) => {
            if cli.json {
                let out =
                    serde_json::json!({"operation": operation, "ok": true, "report": render::report_json(&report)});
                println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
            } else {
                print!("{}", render::summary(operation, &report));
            }
            Ok(if report.incomplete.is_some() {
                ExitCode::from(3)
            } else {
                ExitCode::SUCCESS
            })
        }
        other => match other.failure() {
            Some(f) => Ok(failed(operation, &f.error, cli.json)),
            None => Err(CliError::Failed(anyhow::anyhow!(
                "{operation} answered as another operation"
            ))),
        },
    }
}

/// `posts-published`: one poll, its state kept, the posts printed.
fn posts_published(cli: &Cli, request: PublishedPostsRequest) -> CliResult {
    let call = Call::prepare(cli)?;
    let state = read_state(cli.state_file.as_deref(), "state file")?;
    let result = call
        .prepared
        .run(&call.engine, &Invocation::PostsPublished(request), state.as_deref())?;
    call.finish_bar();
    let report = match result {
        OpResult::Published(Ok(report)) => report,
        OpResult::Published(Err(SyncFailure { error, .. })) => return Ok(failed("posts-published", &error, cli.json)),
        _ => {
            return Err(CliError::Failed(anyhow::anyhow!(
                "posts-published answered as another operation"
            )))
        }
    };
    if let (Some(path), false) = (&cli.state_file, call.prepared.settings.dry_run) {
        write_state(path, &report.state, "state file")?;
    }
    if cli.json {
        let out =
            serde_json::json!({"operation": "posts-published", "ok": true, "report": render::published::json(&report)});
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else {
        print!("{}", render::published::summary(&report));
    }
    Ok(if report.incomplete.is_some() {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}

/// `check`: a table of what works, and the fix beside what does not.
fn check(cli: &Cli, request: CheckRequest) -> CliResult {
    let call = Call::prepare(cli)?;
    let result = call.prepared.run(&call.engine, &Invocation::Check(request), None)?;
    let report = match result {
        OpResult::Check(Ok(report)) => report,
        OpResult::Check(Err(SyncFailure { error, .. })) => return Ok(failed("check", &error, cli.json)),
        _ => return Err(CliError::Failed(anyhow::anyhow!("check answered as another operation"))),
    };
    if cli.json {
        let out = serde_json::json!({"operation": "check", "ok": report.ok, "report": render::check::json(&report)});
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else {
        print!("{}", render::check::table(&report, &render::Hints::cli()));
    }
    Ok(ExitCode::from(render::check::exit_code(&report)))
}

/// `new-posts`, and with `--then-tag-sync` a `tag-sync` per new post.
fn new_posts(cli: &Cli, request: &NewPostsRequest, then_tag_sync: bool, tag_state_file: Option<&Path>) -> CliResult {
    let call = Call::prepare(cli)?;
    let state = read_state(cli.state_file.as_deref(), "state file")?;
    let run = PollRun {
        call: &call,
        state_file: cli.state_file.as_deref(),
        tag_state_file,
        json: cli.json,
    };
    let code = run.poll(request, state.as_deref(), then_tag_sync);
    call.finish_bar();
    code
}

fn read_state(path: Option<&Path>, what: &str) -> Result<Option<Vec<u8>>, CliError> {
    match path {
        Some(p) => read_optional(p)
            .map_err(|e| CliError::Failed(anyhow::anyhow!("cannot read the {what} {}: {e}", p.display()))),
        None => Ok(None),
    }
}

fn write_state(path: &Path, blob: &[u8], what: &str) -> Result<(), CliError> {
    write_atomic(path, blob)
        .map_err(|e| CliError::Failed(anyhow::anyhow!("cannot write the {what} {}: {e}", path.display())))
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
    call: &'a Call,
    state_file: Option<&'a Path>,
    tag_state_file: Option<&'a Path>,
    json: bool,
}

impl PollRun<'_> {
    /// Polls; the trigger's state is saved only once every post was acted
    /// on (at least once: a failure leaves the posts to come again).
    fn poll(&self, request: &NewPostsRequest, state: Option<&[u8]>, then_tag_sync: bool) -> CliResult {
        let (engine, prepared) = (&self.call.engine, &self.call.prepared);
        let report: NewPostsReport = match prepared.run(engine, &Invocation::NewPosts(request.clone()), state)? {
            OpResult::Posts(Ok(report)) => report,
            other => {
                return match other.failure() {
                    Some(f) => Ok(failed("new-posts", &f.error, self.json)),
                    None => Err(CliError::Failed(anyhow::anyhow!(
                        "new-posts answered as another operation"
                    ))),
                }
            }
        };
        let dry_run = prepared.settings.dry_run;
        let mut synced = Vec::new();
        if then_tag_sync && !dry_run {
            let mut tag_state = read_state(self.tag_state_file, "tag state file")?;
            for post in &report.posts {
                let event = TagSyncEvent {
                    location_id: request.location_id.clone(),
                    post_id: Some(post.id.clone()),
                    tag_ids: Some(post.tag_ids.clone()),
                    full_pass: false,
                };
                let result = prepared.run(engine, &Invocation::TagSync(event), tag_state.as_deref())?;
                let blob = result.state().map(<[u8]>::to_vec);
                if let (Some(path), Some(blob)) = (self.tag_state_file, &blob) {
                    write_state(path, blob, "tag state file")?;
                }
                tag_state = blob.or(tag_state);
                match result {
                    // An incomplete tag-sync holds the post in its checkpoint:
                    // queued durably, it is applied when the pass completes.
                    OpResult::Sync(Ok(r)) => synced.push((post.id.clone(), r)),
                    other => {
                        let Some(f) = other.failure() else {
                            return Err(CliError::Failed(anyhow::anyhow!(
                                "tag-sync answered as another operation"
                            )));
                        };
                        eprintln!(
                            "new-posts: tag-sync of post {} failed; the trigger's state is not saved, so the new posts come again next time",
                            post.id
                        );
                        return Ok(failed("tag-sync", &f.error, self.json));
                    }
                }
            }
        }
        if let (Some(path), false) = (self.state_file, dry_run) {
            write_state(path, &report.state, "state file")?;
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
            println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
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
fn engine(cli: &Cli, limits: Limits) -> anyhow::Result<ConnectorEngine> {
    let bytes = component_bytes(cli.component.as_deref())?;
    let options = EngineOptions {
        pooling: false,
        inlining: cli.inlining,
    };
    let cache_dir = if cli.no_cache {
        None
    } else {
        ghl_rankr::cache::default_dir()
    };
    let wasmtime = wasmtime::Engine::new(&ConnectorEngine::config(&limits, &options)).map_err(anyhow::Error::from)?;
    let (component, start) = ghl_rankr::cache::load_or_compile(&wasmtime, &bytes, cache_dir.as_deref())
        .map_err(anyhow::Error::from)
        .map_err(|e| {
            e.context(format!(
                "compiling the component (is it a wasm32-wasip2 component of {}?)",
                ghl_rankr_host::WIT_PACKAGE
            ))
        })?;
    tracing::debug!(target: "ghl_rankr::start", warm = start.warm, ms = start.ms, "component ready");
    ConnectorEngine::from_component(wasmtime, &component, limits)
}
