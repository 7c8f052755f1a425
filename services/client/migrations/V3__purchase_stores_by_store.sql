-- A store-scoped list finds the clients who bought in its stores from the store side (CL-11).
CREATE INDEX purchase_stores_by_store ON purchase_stores (tenant_id, store_id);
