-- Levels the ledger moves by itself (LE-9): after a programme change, and once a day as purchases
-- leave the rolling level period. One row per tenant: `after_client` is where the review in
-- progress stands (NULL: none in progress), `next_due` when the next daily review starts.
CREATE TABLE level_reviews (
    tenant_id    text PRIMARY KEY,
    after_client uuid,
    next_due     timestamptz NOT NULL DEFAULT now()
);
