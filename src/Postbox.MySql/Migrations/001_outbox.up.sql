-- DDL commits implicitly in MySQL, so a migration cannot be applied atomically with its bookkeeping row: every
-- statement here is written to be re-run safely (IF NOT EXISTS, INSERT IGNORE) after a crash half-way.
--
-- The MySQL/MariaDB outbox: the same states and columns as the PostgreSQL store (see docs/mysql.md).
-- state: 0 ready, 1 delivered, 2 dead, 3 in flight (leased until available_at), 4 scheduled (delayed or waiting for
-- a retry, due at available_at). Times are UTC in DATETIME(6): the type holds no offset, so every writer converts to
-- UTC first (microseconds; .NET's 100 ns ticks are truncated).
--
-- seq is the clustered primary key: InnoDB stores rows in primary-key order, so an auto-increment key appends at
-- the end of the tree (a random UUID primary key would split pages all over it) and "ORDER BY seq" reads in storage
-- order. The message id is a BINARY(16) unique key (RFC 4122 byte order, what MySqlConnector's GuidFormat=Binary16
-- reads back as the same Guid).
--
-- MySQL has no partial indexes. claim_class is a stored generated column that says which claim path a row belongs
-- to and is NULL for delivered rows (the bulk of the table while retention keeps them), so each index below is
-- "partial" in effect: the claim's range conditions on claim_class never visit delivered rows. Composite indexes
-- led by state were the alternative; they need one range per state (IN (3, 4) cannot be read in available_at order
-- from a (state, available_at) index without a sort) and "the next key with any pending message" would be three
-- probes instead of one. claim_class:
--   1 keyless ready            (state 0, no key)
--   2 keyless leased/scheduled (state 3 or 4, no key)
--   3 keyed pending            (state 0, 3 or 4, with a key)
--   4 dead                     (state 2)
-- The key is compared in binary (utf8mb4_bin): byte order, exactly like PostgreSQL's "C" collation and SQLite, so
-- 'A' and 'a' are different keys and every store visits keys in the same order.
CREATE TABLE IF NOT EXISTS {prefix}outbox (
    seq             BIGINT       NOT NULL AUTO_INCREMENT,
    id              BINARY(16)   NOT NULL,
    state           TINYINT      NOT NULL,
    topic           VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    `key`           VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    type            VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    payload         LONGBLOB     NOT NULL,
    headers         MEDIUMTEXT   CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    created_at      DATETIME(6)  NOT NULL,
    available_at    DATETIME(6)  NOT NULL,
    attempts        INT          NOT NULL DEFAULT 0,
    max_attempts    INT          NULL,
    lease_owner     VARCHAR(200) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    last_error      VARCHAR(2000) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    last_attempt_at DATETIME(6)  NULL,
    delivered_at    DATETIME(6)  NULL,
    claim_class     TINYINT AS (CASE
                        WHEN state = 0 AND `key` IS NULL THEN 1
                        WHEN state IN (3, 4) AND `key` IS NULL THEN 2
                        WHEN state IN (0, 3, 4) THEN 3
                        WHEN state = 2 THEN 4
                    END) STORED,
    PRIMARY KEY (seq),
    CONSTRAINT {prefix}outbox_id_key UNIQUE (id),
    CONSTRAINT {prefix}outbox_state_check CHECK (state BETWEEN 0 AND 4),
    -- Keyless ready messages in enqueue order (class 1); dead messages in enqueue order for the monitor (class 4);
    -- the first pending row of each class for the oldest-pending figure.
    INDEX {prefix}outbox_class_seq_idx (claim_class, seq),
    -- Keyless leased and scheduled messages by due time (class 2): expired leases, due retries and delays.
    INDEX {prefix}outbox_class_due_idx (claim_class, available_at),
    -- Keyed pending messages by key then enqueue order (class 3): the first entry of a key is its head, and "the next
    -- key after k" is one probe however many followers k has. Also dead messages by key (class 4): under
    -- DeadKeyPolicy.Block an earlier dead message of the key holds its head back.
    INDEX {prefix}outbox_class_key_idx (claim_class, `key`, seq),
    -- Delivered messages by delivery time (only delivered rows have one): retention cleanup.
    INDEX {prefix}outbox_delivered_idx (delivered_at)
) ENGINE = InnoDB;

-- Claims are serialized on this one row (SELECT ... FOR UPDATE, released at commit) so that two relays never judge
-- a key's head from the same snapshot. FOR UPDATE SKIP LOCKED over the candidates is not enough on its own: the
-- eligibility of a keyed message depends on other rows of its key, which SKIP LOCKED would not see as in flight.
CREATE TABLE IF NOT EXISTS {prefix}outbox_claim_lock (
    id TINYINT NOT NULL PRIMARY KEY
) ENGINE = InnoDB;

INSERT IGNORE INTO {prefix}outbox_claim_lock (id) VALUES (1);
