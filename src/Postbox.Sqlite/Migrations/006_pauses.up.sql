-- Durable pauses: one row per paused outbox topic or inbox consumer (see the PostgreSQL migration 006 and
-- docs/operations.md). Times are UTC ticks. A claim parks a keyless message of a paused topic as scheduled (state 4)
-- due at 9999-12-31; resume makes the topic's parked messages ready again.
CREATE TABLE {prefix}pauses (
    side      TEXT    NOT NULL CHECK (side IN ('outbox', 'inbox')),
    name      TEXT    NOT NULL,
    paused_at INTEGER NOT NULL,
    paused_by TEXT    NULL,
    PRIMARY KEY (side, name)
) WITHOUT ROWID;
