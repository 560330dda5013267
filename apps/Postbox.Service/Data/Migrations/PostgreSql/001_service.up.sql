-- The service's business tables, in the schema Postbox uses (its outbox and inbox come from Postbox.PostgreSql).
CREATE TABLE {schema}.mail_deliveries (
    id           uuid        NOT NULL PRIMARY KEY,
    message_id   uuid        NOT NULL,
    from_address text        NOT NULL,
    to_addresses text        NOT NULL,
    subject      text        NOT NULL,
    content      text        NOT NULL,
    status       text        NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'failed')),
    attempts     integer     NOT NULL DEFAULT 0,
    last_error   text        NULL,
    created_at   timestamptz NOT NULL,
    started_at   timestamptz NULL,
    finished_at  timestamptz NULL,
    updated_at   timestamptz NOT NULL
);

-- One row per failed attempt: the history survives later attempts and success.
CREATE TABLE {schema}.mail_delivery_errors (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id uuid        NOT NULL REFERENCES {schema}.mail_deliveries (id),
    attempt     integer     NOT NULL,
    occurred_at timestamptz NOT NULL,
    error       text        NOT NULL
);
CREATE INDEX mail_delivery_errors_delivery_idx ON {schema}.mail_delivery_errors (delivery_id, id);

CREATE TABLE {schema}.users (
    id            uuid        NOT NULL PRIMARY KEY,
    email         text        NOT NULL UNIQUE,
    password_hash text        NOT NULL,
    created_at    timestamptz NOT NULL
);

CREATE TABLE {schema}.notifications (
    id         uuid        NOT NULL PRIMARY KEY,
    user_id    uuid        NOT NULL REFERENCES {schema}.users (id),
    kind       text        NOT NULL,
    recipient  text        NOT NULL,
    status     text        NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts   integer     NOT NULL DEFAULT 0,
    last_error text        NULL,
    created_at timestamptz NOT NULL,
    sent_at    timestamptz NULL
);
CREATE INDEX notifications_user_idx ON {schema}.notifications (user_id);

CREATE TABLE {schema}.customers (
    id                  uuid        NOT NULL PRIMARY KEY,
    email               text        NOT NULL UNIQUE,
    name                text        NOT NULL,
    created_at          timestamptz NOT NULL,
    event_handled_count integer     NOT NULL DEFAULT 0,
    event_handled_at    timestamptz NULL
);
