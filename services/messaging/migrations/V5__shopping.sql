-- What the ledger feed tells of a client, apart from what the client feed tells: the two feeds
-- are applied by two consumers at once, and each now writes rows of its own table only (they
-- deadlocked on shared contact rows taken in different orders).
CREATE TABLE shopping (
    tenant_id           text        NOT NULL,
    client_id           uuid        NOT NULL,
    points_balance      bigint      NOT NULL DEFAULT 0,
    last_purchase_at    timestamptz,
    last_purchase_minor bigint,
    currency            text        NOT NULL DEFAULT '',
    -- Stores the client bought in (a scoped token sees clients registered or buying there).
    purchase_store_ids  text[]      NOT NULL DEFAULT '{}',
    -- Purchase lines per category, for the favourite category.
    categories          jsonb       NOT NULL DEFAULT '{}',
    PRIMARY KEY (tenant_id, client_id)
);
INSERT INTO shopping (tenant_id, client_id, points_balance, last_purchase_at, last_purchase_minor, currency,
                      purchase_store_ids, categories)
SELECT tenant_id, client_id, points_balance, last_purchase_at, last_purchase_minor, currency, purchase_store_ids, categories
FROM contacts;
ALTER TABLE contacts DROP COLUMN points_balance, DROP COLUMN last_purchase_at, DROP COLUMN last_purchase_minor,
    DROP COLUMN currency, DROP COLUMN purchase_store_ids, DROP COLUMN categories;
