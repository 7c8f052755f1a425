-- CL-11: a store-scoped token also sees the clients who bought in its stores. Filled from the
-- ledger's feed (purchase_recorded); one row per client and store.
CREATE TABLE purchase_stores (
    tenant_id text        NOT NULL,
    client_id uuid        NOT NULL,
    store_id  text        NOT NULL,
    first_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, client_id, store_id)
);
