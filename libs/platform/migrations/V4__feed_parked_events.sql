-- Events a feed consumer could not apply (PARK_AFTER attempts in a row, for a reason other than
-- the database going away), kept with the reason so an operator can fix the cause and retry them.
-- The cursor moved past them in the same transaction, so later events were not held back.
CREATE TABLE feed_parked_events (
    tenant_id  text        NOT NULL,
    consumer   text        NOT NULL,
    sequence   bigint      NOT NULL,
    event_id   text        NOT NULL,
    kind       text        NOT NULL,
    reason     text        NOT NULL,
    attempts   int         NOT NULL,
    payload    bytea       NOT NULL,
    parked_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, consumer, sequence)
);

CREATE INDEX feed_parked_events_by_time ON feed_parked_events (parked_at);
