-- Claims by key head (see docs/ordering.md). Before this migration the claim read a window of the oldest ready
-- messages and dropped the ones whose key was blocked; a key with many blocked followers filled that window and
-- stalled every other key. Now keyless and keyed messages are found through different indexes:
--  * keyless messages through their own ready and due indexes, oldest first, as before;
--  * keyed messages one key at a time: a loose index scan visits each key that has pending messages once (one index
--    probe per key, however many followers it has) and looks only at the key's head.
-- Each message still sits in exactly one ready index, so an enqueue writes as many index entries as before.

DROP INDEX IF EXISTS {schema}.outbox_ready_idx;
DROP INDEX IF EXISTS {schema}.outbox_due_idx;
DROP INDEX IF EXISTS {schema}.outbox_key_blocking_idx;

-- Keyless ready messages in enqueue order.
CREATE INDEX outbox_ready_idx ON {schema}.outbox (seq) WHERE state = 0 AND key IS NULL;

-- Keyless leased and scheduled messages by due time: expired leases, due retries and delays.
CREATE INDEX outbox_due_idx ON {schema}.outbox (available_at) WHERE state IN (3, 4) AND key IS NULL;

-- Keyed messages not yet settled (ready, in flight, scheduled), by key then enqueue order. The first entry of a key
-- is its head; "the next key after k" is one probe. "C" collation: byte order, the same in every database, and
-- cheaper to compare than a linguistic one.
CREATE INDEX outbox_key_pending_idx ON {schema}.outbox (key COLLATE "C", seq) WHERE state IN (0, 3, 4) AND key IS NOT NULL;

-- Dead keyed messages: under DeadKeyPolicy.Block an earlier dead message of the key holds its head back.
CREATE INDEX outbox_key_dead_idx ON {schema}.outbox (key COLLATE "C", seq) WHERE state = 2 AND key IS NOT NULL;
