-- A delivery's row is updated two or three times (intent, answer, engagement). No index names a
-- column those updates change, and pages keep room, so the updates are HOT (no index entries
-- written): the sender claims a run's recipients in delivery order from the run's own index.
DROP INDEX deliveries_to_send;
DROP INDEX deliveries_by_provider_id;
DROP INDEX deliveries_notices;
CREATE INDEX deliveries_of_run ON deliveries (tenant_id, run_id, delivery_id);
CREATE INDEX deliveries_notices ON deliveries (queued_at) WHERE run_id IS NULL;
ALTER TABLE deliveries SET (fillfactor = 70);
