-- The consumers' inbox on SQLite, with the PostgreSQL inbox's semantics (see docs/consumers.md): dedupe record,
-- durable retry schedule (with a copy of the payload) and dead letters. state: 1 processed, 2 retrying (due at
-- next_attempt_at; while lease_owner is set, next_attempt_at is the lease expiry), 3 dead. Times are UTC ticks.
CREATE TABLE {prefix}inbox (
    message_id      TEXT    NOT NULL,
    consumer        TEXT    NOT NULL,
    state           INTEGER NOT NULL CHECK (state BETWEEN 1 AND 3),
    topic           TEXT    NOT NULL,
    key             TEXT    NULL,
    type            TEXT    NULL,
    payload         BLOB    NULL,
    headers         TEXT    NULL,
    attempts        INTEGER NOT NULL DEFAULT 1,
    errors          TEXT    NOT NULL DEFAULT '[]',
    received_at     INTEGER NOT NULL,
    processed_at    INTEGER NULL,
    next_attempt_at INTEGER NULL,
    lease_owner     TEXT    NULL,
    dead_at         INTEGER NULL,
    replays         INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (message_id, consumer)
);

CREATE INDEX {prefix}inbox_due_idx ON {prefix}inbox (next_attempt_at) WHERE state = 2;
CREATE INDEX {prefix}inbox_processed_idx ON {prefix}inbox (processed_at) WHERE state = 1;
CREATE INDEX {prefix}inbox_dead_idx ON {prefix}inbox (dead_at) WHERE state = 3;
