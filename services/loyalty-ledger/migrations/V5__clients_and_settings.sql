-- The clients the ledger knows, from the client feed (or asked of the client service on a miss):
-- an id no client has is NOT_FOUND, and a store-scoped token's reach is decided here as the client
-- service decides it (registered in one of its stores, or bought in one: `purchases.store_id`).
CREATE TABLE clients (
    tenant_id             text NOT NULL,
    client_id             uuid NOT NULL,
    registration_store_id text NOT NULL DEFAULT '',
    merged_into           uuid,
    -- live, deleted, erased
    state                 text NOT NULL DEFAULT 'live',
    PRIMARY KEY (tenant_id, client_id)
);

-- What the ledger follows of each tenant's settings: "today", month and year ends in the tenant's
-- time zone (X-4).
CREATE TABLE tenant_settings (
    tenant_id text PRIMARY KEY,
    time_zone text NOT NULL DEFAULT 'UTC'
);

-- A store-scoped token sees the clients who bought in its stores.
CREATE INDEX purchases_by_client_store ON purchases (tenant_id, client_id, store_id);
