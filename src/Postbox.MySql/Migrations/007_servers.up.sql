-- The dashboard's servers page and its rates and charts (Postbox.Monitoring.IServerRegistry); the same tables as
-- PostgreSQL's migration 007 (see there). Times are UTC DATETIME(6); minutes are whole minutes since the Unix epoch.
-- Names compare byte for byte (NO PAD), as topics and consumers do elsewhere. IF NOT EXISTS: DDL commits at once, so
-- the migration can be re-run after a crash before its bookkeeping row.
CREATE TABLE IF NOT EXISTS {prefix}servers (
    owner_id     VARCHAR(200) CHARACTER SET utf8mb4 COLLATE {nopad_bin} NOT NULL PRIMARY KEY,
    role         TINYINT      NOT NULL,
    host         VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    pid          INT          NOT NULL,
    started_at   DATETIME(6)  NOT NULL,
    heartbeat_at DATETIME(6)  NOT NULL,
    heartbeat_ms INT          NOT NULL,
    handlers     MEDIUMTEXT   CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL
) ENGINE = InnoDB;

CREATE TABLE IF NOT EXISTS {prefix}stats (
    minute         BIGINT       NOT NULL,
    side           TINYINT      NOT NULL,
    name           VARCHAR(255) CHARACTER SET utf8mb4 COLLATE {nopad_bin} NOT NULL,
    handled        BIGINT       NOT NULL,
    failed         BIGINT       NOT NULL,
    dead           BIGINT       NOT NULL,
    latency_sum_ms BIGINT       NOT NULL,
    latency_max_ms BIGINT       NOT NULL,
    PRIMARY KEY (minute, side, name)
) ENGINE = InnoDB;
