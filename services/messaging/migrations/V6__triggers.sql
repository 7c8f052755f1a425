-- Triggers (ME-4): automatic mailings fired by a client's facts, and the facts they fire on.
ALTER TABLE contacts ADD COLUMN birth_date date;
-- When the client's facts last arrived by import (channel IMPORT): entering a segment because of
-- an import greets nobody.
ALTER TABLE contacts ADD COLUMN imported_at timestamptz;
ALTER TABLE shopping
    ADD COLUMN first_purchase_at timestamptz,
    -- The first purchase came in an import of history ("N days after the first purchase" skips it).
    ADD COLUMN first_purchase_imported boolean NOT NULL DEFAULT false,
    -- Earned all time: a rise is "points credited".
    ADD COLUMN earned_total bigint NOT NULL DEFAULT 0,
    ADD COLUMN next_expiry_at timestamptz,
    ADD COLUMN next_expiry_points bigint NOT NULL DEFAULT 0;

CREATE TABLE triggers (
    tenant_id   text        NOT NULL,
    trigger_id  uuid        NOT NULL,
    -- loyalty.messaging.v1.Trigger as written (output fields empty), encoded.
    definition  bytea       NOT NULL,
    -- 'birthday', 'days_after_first_purchase', 'points_credited', 'points_expiring',
    -- 'segment_entered', 'segment_left', 'date', 'event'.
    kind        text        NOT NULL,
    channel     text        NOT NULL,
    enabled     boolean     NOT NULL,
    segment_id  text        NOT NULL DEFAULT '',
    event_name  text        NOT NULL DEFAULT '',
    -- Store scope of whoever created it (JSON list), empty when unscoped.
    created_by  text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    deleted_at  timestamptz,
    -- Date-based triggers: the last tenant-local day looked at.
    swept_on    date,
    PRIMARY KEY (tenant_id, trigger_id)
);
CREATE INDEX triggers_live ON triggers (tenant_id, kind) WHERE deleted_at IS NULL AND enabled;

-- A trigger fired for a client, before its audience and store scope are checked; a delivery of
-- the same occurrence replaces it. Unique per occurrence, so a replayed fact fires once.
CREATE TABLE firings (
    tenant_id   text        NOT NULL,
    -- "<trigger id>:<key>", the occurrence of the delivery it becomes.
    occurrence  text        NOT NULL,
    client_id   uuid        NOT NULL,
    trigger_id  uuid        NOT NULL,
    fired_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, occurrence, client_id)
);
CREATE INDEX firings_in_order ON firings (fired_at);

CREATE INDEX deliveries_of_trigger ON deliveries (tenant_id, trigger_id, queued_at) WHERE trigger_id IS NOT NULL;
