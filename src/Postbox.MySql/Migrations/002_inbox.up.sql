-- The consumers' inbox on MySQL/MariaDB, with the PostgreSQL inbox's semantics (see docs/consumers.md): one row per
-- (message, consumer), at once the dedupe record (written in the handler's own transaction), the durable retry
-- schedule (with a copy of the payload) and the dead-letter store. state: 1 processed, 2 retrying (due at
-- next_attempt_at; while lease_owner is set, next_attempt_at is the lease expiry), 3 dead. Times are UTC DATETIME(6).
CREATE TABLE IF NOT EXISTS {prefix}inbox (
    message_id      BINARY(16)   NOT NULL,
    consumer        VARCHAR(200) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    state           TINYINT      NOT NULL,
    topic           VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    `key`           VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    type            VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    payload         LONGBLOB     NULL,
    headers         MEDIUMTEXT   CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    attempts        INT          NOT NULL DEFAULT 1,
    -- A JSON array of {"attempt", "at", "error"}, the last 50 kept. JSON is LONGTEXT with a validity check on MariaDB
    -- and a binary type on MySQL; both read back as text.
    errors          JSON         NOT NULL,
    received_at     DATETIME(6)  NOT NULL,
    processed_at    DATETIME(6)  NULL,
    next_attempt_at DATETIME(6)  NULL,
    lease_owner     VARCHAR(200) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    dead_at         DATETIME(6)  NULL,
    replays         INT          NOT NULL DEFAULT 0,
    PRIMARY KEY (message_id, consumer),
    CONSTRAINT {prefix}inbox_state_check CHECK (state BETWEEN 1 AND 3),
    -- Due retries and expired retry leases, by due time: the scheduler's claim (FOR UPDATE SKIP LOCKED needs an index
    -- that serves both its filter and its order, or it locks and skips far more than it returns).
    INDEX {prefix}inbox_due_idx (state, next_attempt_at),
    -- Processed rows by age (only processed rows have processed_at): retention cleanup.
    INDEX {prefix}inbox_processed_idx (processed_at),
    -- Dead letters, most recent first (only dead rows have dead_at).
    INDEX {prefix}inbox_dead_idx (dead_at)
) ENGINE = InnoDB;
