-- Per-key order at the consumer (docs/ordering.md): "does this consumer have an unfinished earlier message of key K?"
-- Arrival order is the rowid (always above every existing row's, and unfinished rows are never deleted), which every
-- index carries, so (consumer, key) over the retrying and dead rows answers it with one probe.
CREATE INDEX {prefix}inbox_key_idx ON {prefix}inbox (consumer, key) WHERE state IN (2, 3) AND key IS NOT NULL;
