-- Transactional notices carry their own content (a campaign's deliveries take their run's).
ALTER TABLE deliveries ADD COLUMN content bytea;
CREATE INDEX deliveries_notices ON deliveries (queued_at) WHERE run_id IS NULL AND transport = 'queued';
