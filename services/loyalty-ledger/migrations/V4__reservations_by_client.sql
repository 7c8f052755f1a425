-- A client merge cancels the merged clients' open reservations: find them by client, not by walking
-- every held reservation of every tenant through the timeout worker's queue.
CREATE INDEX reservations_held_by_client ON reservations (tenant_id, client_id) WHERE state = 'held';
