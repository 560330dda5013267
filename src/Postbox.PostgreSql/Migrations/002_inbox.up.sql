-- The consumer inbox: one row per (message, consumer). It is at once the dedupe record (written in the handler's own
-- transaction), the durable retry schedule (with a copy of the payload) and the dead-letter store. See docs/consumers.md.
-- state: 1 processed, 2 retrying (due at next_attempt_at; while lease_owner is set, next_attempt_at is the lease
-- expiry), 3 dead.
CREATE TABLE {schema}.inbox (
    message_id      uuid        NOT NULL,
    consumer        text        NOT NULL,
    state           smallint    NOT NULL,
    topic           text        NOT NULL,
    key             text        NULL,
    type            text        NULL,
    payload         bytea       NULL,
    headers         jsonb       NULL,
    attempts        integer     NOT NULL DEFAULT 1,
    errors          jsonb       NOT NULL DEFAULT '[]',
    received_at     timestamptz NOT NULL,
    processed_at    timestamptz NULL,
    next_attempt_at timestamptz NULL,
    lease_owner     text        NULL,
    dead_at         timestamptz NULL,
    replays         integer     NOT NULL DEFAULT 0,
    CONSTRAINT inbox_pkey PRIMARY KEY (message_id, consumer),
    CONSTRAINT inbox_state_check CHECK (state BETWEEN 1 AND 3)
) WITH (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_insert_scale_factor = 0.05);

-- Due retries and expired retry leases: the scheduler's claim.
CREATE INDEX inbox_due_idx ON {schema}.inbox (next_attempt_at) WHERE state = 2;

-- Processed rows by age: retention cleanup.
CREATE INDEX inbox_processed_idx ON {schema}.inbox (processed_at) WHERE state = 1;

-- Dead letters, most recent first, for inspection and replay.
CREATE INDEX inbox_dead_idx ON {schema}.inbox (dead_at) WHERE state = 3;
