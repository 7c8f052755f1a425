-- The tenant's frequency cap (ME-2): at most cap_messages marketing messages per client and
-- channel in any cap_days days; 0 messages is no cap.
ALTER TABLE tenants
    ADD COLUMN cap_messages integer NOT NULL DEFAULT 0,
    ADD COLUMN cap_days integer NOT NULL DEFAULT 0,
    ADD COLUMN rules_updated_at timestamptz;
