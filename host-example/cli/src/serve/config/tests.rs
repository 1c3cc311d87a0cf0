use super::*;

fn parse(text: &str) -> Result<ServeConfig, ConfigError> {
    ServeConfig::parse(text, Path::new("/srv"))
}

const ONE: &str = "[[connection]]\nname = \"acme\"\nlocation = \"loc1\"\ndashboard = \"d1\"\nghl_token_env = \"ACME_GHL\"\nrankr_api_key_env = \"ACME_RANKR\"\n";

#[test]
fn the_documented_example_parses_with_its_defaults() {
    let doc: String = include_str!("mod.rs")
        .lines()
        .skip_while(|l| !l.starts_with("//! ```toml"))
        .skip(1)
        .take_while(|l| !l.starts_with("//! ```"))
        .map(|l| l.trim_start_matches("//!").trim_start())
        .collect::<Vec<_>>()
        .join("\n");
    let c = parse(&doc).unwrap();
    assert_eq!(c.database, Path::new("/srv/ghl-rankr.db"));
    assert_eq!(c.listen.to_string(), "127.0.0.1:8787");
    assert_eq!(c.connections.len(), 1);
    let s = &c.connections[0].schedule;
    assert_eq!(s.poll_posts, Some(Duration::from_secs(300)));
    assert_eq!(s.tag_sync, Some(Duration::from_secs(3600)));
    assert_eq!(s.stats_daily_at, Some((6, 0)));
    assert_eq!(c.connections[0].settings.page_size, Some(100));
    assert_eq!(c.connections[0].ghl, GhlCredentialEnv::Token("ACME_GHL_TOKEN".into()));
    assert_eq!(c.alert_after_failures, 3);
    assert_eq!(c.event_token_env, "GHL_RANKR_EVENT_TOKEN");
}

#[test]
fn the_deploy_example_parses() {
    let c = parse(include_str!("../../../../deploy/connections.example.toml")).unwrap();
    assert_eq!(c.connections.len(), 2);
    assert!(matches!(c.connections[1].ghl, GhlCredentialEnv::OAuth { .. }));
    assert_eq!(c.connections[1].schedule.poll_posts, Some(Duration::from_secs(120)));
    assert_eq!(c.connections[1].settings.tag_mapping.len(), 1);
    assert_eq!(c.connections[0].settings.tag_mapping.len(), 0);
    assert_eq!(c.shutdown_grace, Duration::from_secs(30));
    assert_eq!(c.key_file.as_deref(), Some(Path::new("/srv/ghl-rankr.key")));
    assert_eq!(c.access.len(), 2);
    assert_eq!(c.access[1].role, crate::serve::access::Role::Operator);
}

#[test]
fn access_tokens_are_named_once_with_a_role_and_a_variable() {
    let access = |body: &str| parse(&format!("{ONE}[[access]]\n{body}"));
    let ok = access("name = \"ops\"\nrole = \"operator\"\ntoken_env = \"OPS\"\n").unwrap();
    assert_eq!(ok.access[0].token_env, "OPS");
    let e = access("name = \"ops\"\nrole = \"admin\"\ntoken_env = \"OPS\"\n").unwrap_err();
    assert!(e.message.contains("\"viewer\" or \"operator\""), "{e}");
    let e = access("name = \"ops\"\nrole = \"viewer\"\ntoken_env = \"s3cr3t-token value\"\n").unwrap_err();
    assert!(
        e.message.contains("must name an environment variable") && !e.to_string().contains("s3cr3t"),
        "{e}"
    );
    let twice = format!("{ONE}[[access]]\nname = \"a\"\nrole = \"viewer\"\ntoken_env = \"A\"\n[[access]]\nname = \"a\"\nrole = \"viewer\"\ntoken_env = \"B\"\n");
    assert!(parse(&twice).unwrap_err().message.contains("a second [[access]]"));
    let env = |k: &str| (k != "OPS").then(|| "x".to_string());
    assert!(ok.missing_variables(&env).contains(&"access ops: OPS".to_string()));
    let e = parse(&format!("[service]\nrequest_timeout = \"1h\"\n{ONE}")).unwrap_err();
    assert!(e.message.contains("request_timeout"), "{e}");
}

#[test]
fn a_connection_overrides_the_schedule_and_can_turn_parts_off() {
    let text = format!(
        "[schedule]\npoll_posts = \"2m\"\n{ONE}[connection.schedule]\ntag_sync = \"off\"\nstats_daily_at = \"23:59\"\n"
    );
    let c = parse(&text).unwrap();
    let s = &c.connections[0].schedule;
    assert_eq!(s.poll_posts, Some(Duration::from_secs(120)));
    assert_eq!(s.tag_sync, None);
    assert_eq!(s.stats_daily_at, Some((23, 59)));
}

#[test]
fn mistakes_are_refused_with_their_line_and_fix() {
    let cases = [
        (format!("{ONE}colour = \"red\""), 7, "unknown field `colour`"),
        (format!("{ONE}[[connection]]\nname = \"acme\"\nlocation = \"l\"\nghl_token_env = \"A\"\nrankr_api_key_env = \"B\"\n[connection.schedule]\nstats_daily_at = \"off\"\n"), 8, "a second connection is named \"acme\""),
        (ONE.replace("dashboard = \"d1\"\n", ""), 1, "has no dashboard"),
        (format!("[service]\nmax_concurrent = 0\n{ONE}"), 2, "max_concurrent = 0 is out of range"),
        (format!("[service]\nlisten = \"localhost\"\n{ONE}"), 2, "not an address and port"),
        (format!("[schedule]\ntag_sync = \"every hour\"\n{ONE}"), 2, "not a possible schedule"),
        (ONE.replace("\"ACME_GHL\"", "\"eyJhbGciOi.secret\""), 5, "must name an environment variable"),
        (ONE.replace("ghl_token_env = \"ACME_GHL\"", "ghl_refresh_token_env = \"R\""), 2, "OAuth needs all three"),
        (ONE.replace("name = \"acme\"", "name = \"a b\""), 2, "letters, digits"),
    ];
    for (text, line, message) in cases {
        let e = parse(&text).unwrap_err();
        assert!(e.message.contains(message), "{e} / {text}");
        assert_eq!(e.line, Some(line), "{e} / {text}");
        assert!(!e.to_string().contains("eyJhbGciOi"), "a pasted secret is not echoed");
    }
    assert!(parse("").unwrap_err().message.contains("no [[connection]]"));
}

#[test]
fn oauth_reads_five_variables_and_missing_ones_are_listed() {
    let text = ONE.replace(
        "ghl_token_env = \"ACME_GHL\"",
        "ghl_refresh_token_env = \"R\"\nghl_client_id_env = \"I\"\nghl_client_secret_env = \"S\"\nghl_scopes_env = \"SC\"",
    );
    let c = parse(&text).unwrap();
    assert_eq!(
        c.connections[0].ghl,
        GhlCredentialEnv::OAuth {
            refresh_token: "R".into(),
            client_id: "I".into(),
            client_secret: "S".into(),
            access_token: None,
            scopes: Some("SC".into()),
        }
    );
    let env = |k: &str| (k == "R").then(|| "r".to_string());
    assert_eq!(c.missing_variables(&env), ["acme: ACME_RANKR", "acme: I", "acme: S"]);
}

const APP: &str = "[app]\nclient_id_env = \"APP_ID\"\nclient_secret_env = \"APP_SECRET\"\npublic_url = \"https://sync.example.com/\"\n";
const TEMPLATE: &str =
    "[template]\nname = \"social-{location}\"\ndashboard = \"dash-{location}\"\nrankr_api_key_env = \"RANKR\"\n";

#[test]
fn an_app_needs_no_connection_and_gets_its_defaults() {
    let c = parse(&format!("{APP}{TEMPLATE}")).unwrap();
    assert!(c.connections.is_empty());
    let app = c.app.clone().unwrap();
    assert_eq!(app.public_url, "https://sync.example.com");
    assert_eq!(app.marketplace_url, "https://marketplace.gohighlevel.com");
    assert_eq!(app.ghl_base_url, "https://services.leadconnectorhq.com");
    assert!(app.scopes.iter().any(|s| s == "oauth.write") && app.scopes.len() == 6);
    assert!(app.legacy_rsa && app.webhook_rsa_key.contains("MIICIjANBgkqhkiG9w0BAQEFAAOCAg8A"));
    assert_eq!(app.list_installs, Duration::from_secs(3600));
    let t = &app.template;
    assert_eq!(t.name_for("ve9EPM428h8vShlRW1KT"), "social-ve9EPM428h8vShlRW1KT");
    let conn = t.connection("social-x1", "x1");
    assert_eq!(conn.dashboard.as_deref(), Some("dash-x1"));
    assert_eq!(conn.ghl, GhlCredentialEnv::Installed);
    let env = |k: &str| (k != "APP_SECRET").then(|| "v".to_string());
    assert_eq!(c.missing_variables(&env), vec!["app: APP_SECRET"]);
}

#[test]
fn an_app_is_refused_with_what_to_fix() {
    let refused = |text: String, says: &str| {
        let e = parse(&text).unwrap_err().to_string();
        assert!(e.contains(says), "{e}");
    };
    refused(APP.to_string(), "needs a [template]");
    refused(
        format!("{APP}{}", TEMPLATE.replace("social-{location}", "social")),
        "must contain {location}",
    );
    refused(
        format!("{}{TEMPLATE}", APP.replace("https://sync", "http://sync")),
        "https:// URL",
    );
    refused(
        format!("{APP}list_installs = \"often\"\n{TEMPLATE}"),
        "list_installs must be a duration",
    );
    refused(
        format!("{APP}{}", TEMPLATE.replace("dashboard = \"dash-{location}\"\n", "")),
        "has no dashboard",
    );
    refused(
        format!("{}{TEMPLATE}", APP.replace("\"APP_SECRET\"", "\"sk-live abc\"")),
        "must name an environment variable",
    );
    refused(String::new(), "no [[connection]] and no [app]");
}
