-- Durable pauses: one row per paused outbox topic or inbox consumer (see the PostgreSQL migration 006 and
-- docs/operations.md). Names compare in binary, like topics and consumers elsewhere. A claim parks a keyless message of
-- a paused topic as scheduled (state 4, claim class 2) due at 9999-12-31, at the far end of outbox_class_due_idx; resume
-- takes the claim lock, so it cannot land between a claim's read of this table and its commit.
CREATE TABLE IF NOT EXISTS {prefix}pauses (
    side      VARCHAR(6)   CHARACTER SET ascii NOT NULL,
    name      VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    paused_at DATETIME(6)  NOT NULL,
    paused_by VARCHAR(200) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    PRIMARY KEY (side, name),
    CONSTRAINT {prefix}pauses_side_check CHECK (side IN ('outbox', 'inbox'))
) ENGINE = InnoDB;
