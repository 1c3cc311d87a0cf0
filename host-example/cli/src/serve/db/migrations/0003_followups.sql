-- Statistics due after posts went live: one row per post and offset, until
-- the stats-sync that read them commits.
CREATE TABLE followups (
    connection TEXT NOT NULL,
    post_id TEXT NOT NULL,
    offset_ms INTEGER NOT NULL,
    due_ms INTEGER NOT NULL,
    published_at TEXT NOT NULL,
    profile_ids TEXT NOT NULL,
    PRIMARY KEY (connection, post_id, offset_ms)
);
CREATE INDEX followups_by_due ON followups (connection, due_ms);
