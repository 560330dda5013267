-- The service's business tables on MySQL/MariaDB, in the connection's database (Postbox's outbox and inbox come from
-- Postbox.MySql's migrations, with the postbox_ prefix). Emails are VARCHAR(760): the longest utf8mb4 column a unique
-- index can hold (3072 bytes). Ids are BINARY(16) (the service connects with
-- GuidFormat=Binary16); times are UTC DATETIME(6). MySQL commits DDL implicitly, so every statement can be re-run.
CREATE TABLE IF NOT EXISTS mail_deliveries (
    id           BINARY(16)    NOT NULL PRIMARY KEY,
    message_id   BINARY(16)    NOT NULL,
    from_address TEXT          NOT NULL,
    to_addresses MEDIUMTEXT    NOT NULL,
    subject      TEXT          NOT NULL,
    content      MEDIUMTEXT    NOT NULL,
    status       VARCHAR(16)   NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'failed')),
    attempts     INT           NOT NULL DEFAULT 0,
    last_error   TEXT          NULL,
    created_at   DATETIME(6)   NOT NULL,
    started_at   DATETIME(6)   NULL,
    finished_at  DATETIME(6)   NULL,
    updated_at   DATETIME(6)   NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

-- One row per failed attempt: the history survives later attempts and success.
CREATE TABLE IF NOT EXISTS mail_delivery_errors (
    id          BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
    delivery_id BINARY(16)  NOT NULL,
    attempt     INT         NOT NULL,
    occurred_at DATETIME(6) NOT NULL,
    error       TEXT        NOT NULL,
    INDEX mail_delivery_errors_delivery_idx (delivery_id, id),
    CONSTRAINT mail_delivery_errors_delivery_fk FOREIGN KEY (delivery_id) REFERENCES mail_deliveries (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE IF NOT EXISTS users (
    id            BINARY(16)   NOT NULL PRIMARY KEY,
    email         VARCHAR(760) NOT NULL UNIQUE,
    password_hash VARCHAR(512) NOT NULL,
    created_at    DATETIME(6)  NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE IF NOT EXISTS notifications (
    id         BINARY(16)   NOT NULL PRIMARY KEY,
    user_id    BINARY(16)   NOT NULL,
    kind       VARCHAR(32)  NOT NULL,
    recipient  VARCHAR(760) NOT NULL,
    status     VARCHAR(16)  NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts   INT          NOT NULL DEFAULT 0,
    last_error TEXT         NULL,
    created_at DATETIME(6)  NOT NULL,
    sent_at    DATETIME(6)  NULL,
    INDEX notifications_user_idx (user_id),
    CONSTRAINT notifications_user_fk FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE IF NOT EXISTS customers (
    id                  BINARY(16)   NOT NULL PRIMARY KEY,
    email               VARCHAR(760) NOT NULL UNIQUE,
    name                TEXT         NOT NULL,
    created_at          DATETIME(6)  NOT NULL,
    event_handled_count INT          NOT NULL DEFAULT 0,
    event_handled_at    DATETIME(6)  NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
