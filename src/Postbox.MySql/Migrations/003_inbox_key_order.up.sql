-- Per-key order at the consumer (docs/ordering.md), as PostgreSQL's 004_inbox_key_order. One ALTER statement: DDL
-- commits implicitly and MySQL 8.0 has no ADD COLUMN IF NOT EXISTS, so the change is applied whole or not at all.
--
-- seq is the arrival order of inbox rows: a keyed message that arrives while an earlier message of its key is
-- unfinished for the consumer is parked behind it (state 2, attempts 0) and runs only once every row of its key with a
-- smaller seq is finished. A counter rather than received_at, so clocks of different workers cannot reorder a key
-- after a failover. MySQL and MariaDB allow AUTO_INCREMENT only on the first column of an index, hence inbox_seq_idx
-- (the primary key stays (message_id, consumer), the dedupe key). Every insert into the inbox is a single-row
-- INSERT ... VALUES (a "simple insert"): with innodb_autoinc_lock_mode 1 (MariaDB's default) an INSERT ... SELECT
-- would hold the table's AUTO-INC lock to the end of the statement, also while it waits for a concurrent duplicate's
-- row lock, stalling every other insert into the inbox meanwhile. Existing rows are numbered by the ALTER itself.
--
-- pending_key is the key of retrying and dead rows only (NULL for processed rows, the bulk of the table, and for
-- keyless ones): MySQL has no partial indexes, so the index over it is partial in effect (like the outbox's
-- claim_class). "Does this consumer have an unfinished earlier message of key K?", the check of every keyed delivery
-- and of the retry claim, is one probe of (consumer, pending_key, seq); state is in the index so the probe does not
-- visit the rows.
ALTER TABLE {prefix}inbox
    ADD COLUMN seq BIGINT NOT NULL AUTO_INCREMENT,
    ADD COLUMN pending_key VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin AS (IF(state IN (2, 3), `key`, NULL)) STORED,
    ADD INDEX {prefix}inbox_seq_idx (seq),
    ADD INDEX {prefix}inbox_key_idx (consumer, pending_key, seq, state);
