-- The dashboard's servers page and its rates and charts (Postbox.Monitoring.IServerRegistry).
--
-- One row per running relay or worker, keyed by the owner id its leases carry (outbox.lease_owner, inbox.lease_owner),
-- written at start, refreshed every heartbeat interval (heartbeat_ms), deleted on a graceful stop. A row not refreshed
-- for three intervals is stale; rows not refreshed for an hour are deleted by any writer. role: 0 relay, 1 worker.
-- handlers: a JSON array of {"topic","consumer","concurrency"} (empty for a relay). No index: a row per process.
CREATE TABLE {schema}.servers (
    owner_id     text        PRIMARY KEY,
    role         smallint    NOT NULL,
    host         text        NOT NULL,
    pid          integer     NOT NULL,
    started_at   timestamptz NOT NULL,
    heartbeat_at timestamptz NOT NULL,
    heartbeat_ms integer     NOT NULL,
    handlers     text        NOT NULL
);

-- Per minute (whole minutes since the Unix epoch, UTC), side (0 outbox: a topic's publishes; 1 inbox: a consumer's
-- attempts) and name, what every process did, added up by each heartbeat's upsert. Latencies in milliseconds: enqueue
-- to broker confirm (outbox), attempt start to commit (inbox). Buckets older than a day are deleted by any writer,
-- through the primary key (minute first), which also serves the dashboard's "last hour" read.
CREATE TABLE {schema}.stats (
    minute         bigint   NOT NULL,
    side           smallint NOT NULL,
    name           text     NOT NULL,
    handled        bigint   NOT NULL,
    failed         bigint   NOT NULL,
    dead           bigint   NOT NULL,
    latency_sum_ms bigint   NOT NULL,
    latency_max_ms bigint   NOT NULL,
    PRIMARY KEY (minute, side, name)
);
