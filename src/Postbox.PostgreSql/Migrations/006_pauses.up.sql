-- Durable pauses (docs/operations.md#pausing-a-topic-or-a-consumer): one row per paused outbox topic or inbox consumer,
-- read by every relay's claim (the outbox) and polled by every worker (the inbox), so a pause set from any process is
-- seen by all of them. A handful of rows at most; the primary key is the only index.
-- The outbox keeps no new state for paused messages: a claim parks a keyless message of a paused topic as scheduled
-- (state 4) due at 9999-12-31, at the far end of outbox_due_idx where no claim walks, and resume makes that topic's
-- parked messages ready again. Keyed messages of a paused topic are not parked (that would let later messages of their
-- key overtake them): their key is simply not eligible while the topic is paused.
CREATE TABLE {schema}.pauses (
    side      text        NOT NULL,
    name      text        NOT NULL,
    paused_at timestamptz NOT NULL,
    paused_by text        NULL,
    CONSTRAINT pauses_pkey PRIMARY KEY (side, name),
    CONSTRAINT pauses_side_check CHECK (side IN ('outbox', 'inbox'))
);
