-- Platform tables that live in every service's schema.

-- Domain events written in the same transaction as the change they describe. `sequence` is given
-- after commit, in the order the rows were written, by the sequencer in outbox.rs; readers only
-- ever see sequenced rows, so a feed has no gaps and never shows an event that was rolled back.
CREATE TABLE outbox (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sequence    bigint UNIQUE,
    tenant_id   text        NOT NULL,
    kind        text        NOT NULL,
    subject_id  text        NOT NULL,
    occurred_at timestamptz NOT NULL,
    payload     bytea       NOT NULL
);

CREATE INDEX outbox_unsequenced_by_id ON outbox (id) WHERE sequence IS NULL;
CREATE INDEX outbox_by_tenant_sequence ON outbox (tenant_id, sequence);

-- Wakes feed readers when events commit (NOTIFY is delivered only on commit).
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_TABLE_SCHEMA || '_outbox', '');
    RETURN NULL;
END $$;

CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

-- Where each consumer of another service's feed stands, updated in the same transaction as what
-- it applied (exactly-once application).
CREATE TABLE feed_cursors (
    consumer   text PRIMARY KEY,
    position   bigint      NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);
