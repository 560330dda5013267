-- The SQLite outbox: same states and columns as the PostgreSQL store (see docs/postgresql-schema.md).
-- Times are UTC ticks (100 ns) in INTEGER columns: exact round trips, cheap comparisons.
CREATE TABLE {prefix}outbox (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT    NOT NULL UNIQUE,
    state           INTEGER NOT NULL CHECK (state BETWEEN 0 AND 4),
    topic           TEXT    NOT NULL,
    key             TEXT    NULL,
    type            TEXT    NULL,
    payload         BLOB    NOT NULL,
    headers         TEXT    NULL,
    created_at      INTEGER NOT NULL,
    available_at    INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    max_attempts    INTEGER NULL,
    lease_owner     TEXT    NULL,
    last_error      TEXT    NULL,
    last_attempt_at INTEGER NULL,
    delivered_at    INTEGER NULL
);

CREATE INDEX {prefix}outbox_ready_idx ON {prefix}outbox (seq) WHERE state = 0;
CREATE INDEX {prefix}outbox_due_idx ON {prefix}outbox (available_at) WHERE state IN (3, 4);
CREATE INDEX {prefix}outbox_key_blocking_idx ON {prefix}outbox (key, seq) WHERE state IN (2, 3, 4) AND key IS NOT NULL;
CREATE INDEX {prefix}outbox_delivered_idx ON {prefix}outbox (delivered_at) WHERE state = 1;
CREATE INDEX {prefix}outbox_dead_idx ON {prefix}outbox (seq) WHERE state = 2;
