-- The outbox table. See docs/postgresql-schema.md for why each choice was made.
-- state: 0 ready, 1 delivered, 2 dead, 3 in flight (leased until available_at), 4 scheduled (delayed or
-- waiting for a retry until available_at).
CREATE TABLE {schema}.outbox (
    id              uuid        NOT NULL,
    seq             bigint      GENERATED ALWAYS AS IDENTITY,
    state           smallint    NOT NULL,
    topic           text        NOT NULL,
    key             text        NULL,
    type            text        NULL,
    payload         bytea       NOT NULL,
    headers         jsonb       NULL,
    created_at      timestamptz NOT NULL,
    available_at    timestamptz NOT NULL,
    attempts        integer     NOT NULL DEFAULT 0,
    max_attempts    integer     NULL,
    lease_owner     text        NULL,
    last_error      text        NULL,
    last_attempt_at timestamptz NULL,
    delivered_at    timestamptz NULL,
    CONSTRAINT outbox_pkey PRIMARY KEY (id),
    CONSTRAINT outbox_state_check CHECK (state BETWEEN 0 AND 4)
) WITH (fillfactor = 85, autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_insert_scale_factor = 0.05);

-- Ready messages in enqueue order: the claim's main scan.
CREATE INDEX outbox_ready_idx ON {schema}.outbox (seq) WHERE state = 0;

-- Leased and scheduled messages by due time: expired leases and due retries.
CREATE INDEX outbox_due_idx ON {schema}.outbox (available_at) WHERE state IN (3, 4);

-- Messages that hold back later messages of their key (in flight, waiting for a retry, or dead).
CREATE INDEX outbox_key_blocking_idx ON {schema}.outbox (key, seq) WHERE state IN (2, 3, 4) AND key IS NOT NULL;

-- Delivered messages by delivery time: cleanup.
CREATE INDEX outbox_delivered_idx ON {schema}.outbox (delivered_at) WHERE state = 1;

-- Dead messages, for inspection and replay.
CREATE INDEX outbox_dead_idx ON {schema}.outbox (seq) WHERE state = 2;
