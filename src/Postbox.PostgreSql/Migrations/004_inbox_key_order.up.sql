-- Per-key order at the consumer (docs/ordering.md). seq is the arrival order of inbox rows: a keyed message that
-- arrives while an earlier message of its key is unfinished for the consumer is parked behind it (state 2, attempts 0)
-- and runs only once every row of its key with a smaller seq is finished. A sequence rather than received_at, so clocks
-- of different workers cannot reorder a key after a failover.
ALTER TABLE {schema}.inbox ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;

-- "Does this consumer have an unfinished earlier message of key K?": the check of every keyed delivery and of the
-- retry claim, one probe of this small index (only retrying and dead rows are in it).
CREATE INDEX inbox_key_idx ON {schema}.inbox (consumer, key, seq) WHERE state IN (2, 3) AND key IS NOT NULL;
