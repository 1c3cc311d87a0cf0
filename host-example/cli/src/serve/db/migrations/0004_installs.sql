-- Agency installs: each agency's token pair (sealed), the sub-accounts its
-- installs made connections of, the single-use states of the consent
-- flow, the webhooks already acted on, and commands the CLI leaves for a
-- running service.
CREATE TABLE agencies (
    company_id TEXT PRIMARY KEY,
    access_token BLOB NOT NULL,
    refresh_token BLOB NOT NULL,
    expires_at_ms INTEGER,
    scopes TEXT NOT NULL,
    state TEXT NOT NULL,
    note TEXT,
    connected_ms INTEGER NOT NULL,
    listed_ms INTEGER,
    updated_ms INTEGER NOT NULL
);
CREATE TABLE installs (
    location_id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    company_id TEXT,
    location_name TEXT,
    state TEXT NOT NULL,
    note TEXT,
    installed_ms INTEGER NOT NULL,
    changed_ms INTEGER NOT NULL
);
CREATE INDEX installs_by_state ON installs (state);
CREATE TABLE oauth_states (
    state TEXT PRIMARY KEY,
    created_ms INTEGER NOT NULL
);
CREATE TABLE webhooks (
    webhook_id TEXT PRIMARY KEY,
    received_ms INTEGER NOT NULL
);
CREATE TABLE control (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    connection TEXT NOT NULL,
    action TEXT NOT NULL,
    by TEXT NOT NULL,
    at_ms INTEGER NOT NULL
);
