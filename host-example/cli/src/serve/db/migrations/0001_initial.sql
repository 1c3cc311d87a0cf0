-- The first schema: state blobs, OAuth pairs, the trigger's queue, run
-- history, event ids, connection health and next runs.
CREATE TABLE state (
    connection TEXT NOT NULL,
    slot TEXT NOT NULL,
    blob BLOB NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (connection, slot)
);
CREATE TABLE tokens (
    connection TEXT PRIMARY KEY,
    access_token TEXT NOT NULL,
    refresh_token TEXT NOT NULL,
    expires_at_ms INTEGER,
    scopes TEXT NOT NULL,
    seed TEXT NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE TABLE queue (
    connection TEXT NOT NULL,
    post_id TEXT NOT NULL,
    tag_ids TEXT NOT NULL,
    created_at TEXT NOT NULL,
    queued_ms INTEGER NOT NULL,
    PRIMARY KEY (connection, post_id)
);
CREATE TABLE runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    connection TEXT NOT NULL,
    operation TEXT NOT NULL,
    trigger TEXT NOT NULL,
    input TEXT,
    queued_ms INTEGER NOT NULL,
    started_ms INTEGER,
    ended_ms INTEGER,
    outcome TEXT NOT NULL,
    counters TEXT,
    error TEXT
);
CREATE INDEX runs_by_connection ON runs (connection, id);
CREATE INDEX runs_by_outcome ON runs (outcome, connection, id);
CREATE TABLE events (
    connection TEXT NOT NULL,
    event_id TEXT NOT NULL,
    received_ms INTEGER NOT NULL,
    run_id INTEGER NOT NULL,
    PRIMARY KEY (connection, event_id)
);
CREATE TABLE health (
    connection TEXT PRIMARY KEY,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    first_failure_ms INTEGER,
    last_error TEXT,
    last_failed_operation TEXT,
    alerted INTEGER NOT NULL DEFAULT 0,
    paused TEXT,
    last_success_ms INTEGER,
    retry_at_ms INTEGER
);
CREATE TABLE schedule (
    connection TEXT NOT NULL,
    operation TEXT NOT NULL,
    next_ms INTEGER NOT NULL,
    PRIMARY KEY (connection, operation)
);
