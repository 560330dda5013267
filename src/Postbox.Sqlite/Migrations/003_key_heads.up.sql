-- Claims by key head, as in the PostgreSQL store (see its 003 migration and docs/ordering.md): keyless messages through
-- their own ready and due indexes, keyed messages one key at a time through (key, seq), so a key with many blocked
-- followers costs one probe instead of filling the claim's window. SQLite compares TEXT with BINARY collation (byte
-- order of UTF-8), the same order as PostgreSQL's "C" collation.
DROP INDEX IF EXISTS {prefix}outbox_ready_idx;
DROP INDEX IF EXISTS {prefix}outbox_due_idx;
DROP INDEX IF EXISTS {prefix}outbox_key_blocking_idx;
CREATE INDEX {prefix}outbox_ready_idx ON {prefix}outbox (seq) WHERE state = 0 AND key IS NULL;
CREATE INDEX {prefix}outbox_due_idx ON {prefix}outbox (available_at) WHERE state IN (3, 4) AND key IS NULL;
CREATE INDEX {prefix}outbox_key_pending_idx ON {prefix}outbox (key, seq) WHERE state IN (0, 3, 4) AND key IS NOT NULL;
CREATE INDEX {prefix}outbox_key_dead_idx ON {prefix}outbox (key, seq) WHERE state = 2 AND key IS NOT NULL;
