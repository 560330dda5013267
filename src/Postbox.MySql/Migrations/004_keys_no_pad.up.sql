-- Ordering keys compare without padding. utf8mb4_bin is a PAD SPACE collation: 'k' and 'k ' compared equal, so two
-- keys that differ only in trailing spaces shared one head (one waited for the other) and the claim's "next key after
-- k" skipped 'k '. PostgreSQL ("C") and SQLite keep them apart; keys are opaque and keep their white space. The NO PAD
-- binary collation compares the bytes as they are, in the same order as before for every other pair of keys.
-- {nopad_bin} is utf8mb4_nopad_bin on MariaDB and utf8mb4_0900_bin on MySQL 8.0 (chosen by the migrator). One ALTER
-- per table, so each table's change is applied whole or not at all (DDL commits implicitly).
ALTER TABLE {prefix}outbox
    MODIFY `key` VARCHAR(255) CHARACTER SET utf8mb4 COLLATE {nopad_bin} NULL;
ALTER TABLE {prefix}inbox
    MODIFY `key` VARCHAR(255) CHARACTER SET utf8mb4 COLLATE {nopad_bin} NULL,
    MODIFY pending_key VARCHAR(255) CHARACTER SET utf8mb4 COLLATE {nopad_bin} AS (IF(state IN (2, 3), `key`, NULL)) STORED;
