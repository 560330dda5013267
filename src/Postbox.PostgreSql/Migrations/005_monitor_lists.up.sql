-- Dashboard lists (Postbox.Monitoring.IPostboxMonitor) page by keyset, newest first, over one state at a time. Dead
-- rows have outbox_dead_idx (seq) and delivered rows outbox_delivered_idx (delivered_at); ready, in-flight and
-- scheduled rows had no index in enqueue order (the claim's indexes split them by key), so listing them sorted the
-- whole state. This index costs one more entry per enqueue and per claim (rows leave it once delivered or dead).
CREATE INDEX outbox_pending_state_idx ON {schema}.outbox (state, seq) WHERE state IN (0, 3, 4);
