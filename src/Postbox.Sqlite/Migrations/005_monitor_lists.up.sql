-- Dashboard lists (Postbox.Monitoring.IPostboxMonitor) page by keyset over one state at a time, newest first. Every
-- SQLite index carries the rowid (seq), so an index on state alone reads any state in enqueue order; the partial
-- indexes of the claim split pending rows by key and could not. One more index entry per enqueue and state change.
CREATE INDEX {prefix}outbox_state_idx ON {prefix}outbox (state);

-- The inbox's lists read retrying, dead and processed rows through inbox_due_idx, inbox_dead_idx and
-- inbox_processed_idx (migration 002), which also carry the rowid as the tie-breaker.
