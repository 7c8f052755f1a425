-- The settings of a tenant's built-in segments (VIP, active, sleeping, ... RFM look-back). A write
-- takes the next `segment_seq`, so every replica loads it with the segments.
CREATE TABLE automatic_settings (
    tenant_id  text        PRIMARY KEY,
    seq        bigint      NOT NULL,
    -- loyalty.segment.v1.AutomaticSegmentSettings, encoded (without etag and time).
    settings   bytea       NOT NULL,
    -- Bumped by every change: the etag.
    version    integer     NOT NULL,
    updated_at timestamptz NOT NULL
);
