-- The dashboard's servers page and its rates and charts (Postbox.Monitoring.IServerRegistry); the same tables as
-- PostgreSQL's migration 007 (see there). Times are UTC ticks; minutes are whole minutes since the Unix epoch.
CREATE TABLE {prefix}servers (
    owner_id     TEXT    NOT NULL PRIMARY KEY,
    role         INTEGER NOT NULL,
    host         TEXT    NOT NULL,
    pid          INTEGER NOT NULL,
    started_at   INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL,
    heartbeat_ms INTEGER NOT NULL,
    handlers     TEXT    NOT NULL
);

CREATE TABLE {prefix}stats (
    minute         INTEGER NOT NULL,
    side           INTEGER NOT NULL,
    name           TEXT    NOT NULL,
    handled        INTEGER NOT NULL,
    failed         INTEGER NOT NULL,
    dead           INTEGER NOT NULL,
    latency_sum_ms INTEGER NOT NULL,
    latency_max_ms INTEGER NOT NULL,
    PRIMARY KEY (minute, side, name)
) WITHOUT ROWID;
