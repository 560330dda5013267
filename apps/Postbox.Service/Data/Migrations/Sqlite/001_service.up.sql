-- The service's business tables (Postbox's own tables are created by Postbox.Sqlite's migrations).
-- Times are ISO-8601 text with offset (what Microsoft.Data.Sqlite writes for a DateTimeOffset); ids are canonical text.
CREATE TABLE mail_deliveries (
    id           TEXT    NOT NULL PRIMARY KEY,
    message_id   TEXT    NOT NULL,
    from_address TEXT    NOT NULL,
    to_addresses TEXT    NOT NULL,
    subject      TEXT    NOT NULL,
    content      TEXT    NOT NULL,
    status       TEXT    NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'failed')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT    NULL,
    created_at   TEXT    NOT NULL,
    started_at   TEXT    NULL,
    finished_at  TEXT    NULL,
    updated_at   TEXT    NOT NULL
);

-- One row per failed attempt: the history survives later attempts and success.
CREATE TABLE mail_delivery_errors (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id TEXT    NOT NULL REFERENCES mail_deliveries (id),
    attempt     INTEGER NOT NULL,
    occurred_at TEXT    NOT NULL,
    error       TEXT    NOT NULL
);
CREATE INDEX mail_delivery_errors_delivery_idx ON mail_delivery_errors (delivery_id, id);

CREATE TABLE users (
    id            TEXT NOT NULL PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL
);

CREATE TABLE notifications (
    id         TEXT    NOT NULL PRIMARY KEY,
    user_id    TEXT    NOT NULL REFERENCES users (id),
    kind       TEXT    NOT NULL,
    recipient  TEXT    NOT NULL,
    status     TEXT    NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT    NULL,
    created_at TEXT    NOT NULL,
    sent_at    TEXT    NULL
);
CREATE INDEX notifications_user_idx ON notifications (user_id);

CREATE TABLE customers (
    id                  TEXT    NOT NULL PRIMARY KEY,
    email               TEXT    NOT NULL UNIQUE,
    name                TEXT    NOT NULL,
    created_at          TEXT    NOT NULL,
    event_handled_count INTEGER NOT NULL DEFAULT 0,
    event_handled_at    TEXT    NULL
);
