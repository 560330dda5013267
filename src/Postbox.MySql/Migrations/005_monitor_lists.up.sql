-- Dashboard lists (Postbox.Monitoring.IPostboxMonitor) page by keyset over one state at a time, ordered by the state's
-- time and then the sequence, and count each state up to a bound.
--
-- The inbox's state indexes gain seq as their last column, so a list reads them in (time, seq) order without sorting
-- the whole state (the primary key (message_id, consumer) is what InnoDB appends to a secondary index, not seq). The
-- retry claim keeps reading inbox_due_idx in next_attempt_at order. The dead index is led by state as well: with
-- "state = 3" in the query MariaDB otherwise took inbox_due_idx and sorted every dead letter (seen with EXPLAIN). Dropping and re-adding an index under the same name
-- in one statement can be re-run after a crash before the migration is recorded.
ALTER TABLE {prefix}inbox
    DROP INDEX {prefix}inbox_due_idx, ADD INDEX {prefix}inbox_due_idx (state, next_attempt_at, seq),
    DROP INDEX {prefix}inbox_dead_idx, ADD INDEX {prefix}inbox_dead_idx (state, dead_at, seq),
    DROP INDEX {prefix}inbox_processed_idx, ADD INDEX {prefix}inbox_processed_idx (processed_at, seq);

-- Outbox rows by state in enqueue order: InnoDB appends the primary key (seq) to every secondary index entry, so an
-- index on state alone reads any state in seq order (ready, in flight, scheduled and dead lists, and the bounded counts
-- of each state, delivered included). The claim's indexes are split by claim class and key and could not: listing
-- ready messages sorted all of them. Costs one index entry per enqueue and one change per state change.
-- The migrator writes the ADD clause as ADD INDEX IF NOT EXISTS on MariaDB, so the statement can be re-run after a
-- crash before the bookkeeping row. MySQL 8.0 has no such clause: there a half-applied 005 needs the index dropped by
-- hand before the next start.
ALTER TABLE {prefix}outbox {add_index_if_missing} {prefix}outbox_state_idx (state);
