-- LE-6, LE-7, LE-9: purchases with their lines, returns, and the level each account holds.
CREATE TABLE purchases (
    tenant_id         text        NOT NULL,
    id                uuid        NOT NULL,
    client_id         uuid        NOT NULL,
    check_id          text        NOT NULL DEFAULT '',
    store_id          text        NOT NULL DEFAULT '',
    seller_id         text        NOT NULL DEFAULT '',
    purchased_at      timestamptz NOT NULL,
    amount            bigint      NOT NULL,
    currency          text        NOT NULL,
    payment_method    text        NOT NULL,
    lines             jsonb       NOT NULL DEFAULT '[]',
    promo_code        text        NOT NULL DEFAULT '',
    promotion_id      text        NOT NULL DEFAULT '',
    points_earned     bigint      NOT NULL DEFAULT 0,
    points_spent      bigint      NOT NULL DEFAULT 0,
    returned_amount   bigint      NOT NULL DEFAULT 0,
    points_cancelled  bigint      NOT NULL DEFAULT 0,
    points_refunded   bigint      NOT NULL DEFAULT 0,
    status            text        NOT NULL DEFAULT 'confirmed',
    manual            boolean     NOT NULL DEFAULT false,
    programme_version int         NOT NULL,
    lot_no            bigint,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, client_id) REFERENCES accounts (tenant_id, client_id)
);

-- A store's check is recorded once.
CREATE UNIQUE INDEX purchases_by_check ON purchases (tenant_id, store_id, check_id) WHERE check_id <> '';
-- The level basis: a client's purchases over the rolling period.
CREATE INDEX purchases_by_client_time ON purchases (tenant_id, client_id, purchased_at DESC);

-- LE-7: returns, full or by lines, against their purchase.
CREATE TABLE returns (
    tenant_id        text        NOT NULL,
    id               uuid        NOT NULL,
    purchase_id      uuid        NOT NULL,
    client_id        uuid        NOT NULL,
    store_id         text        NOT NULL DEFAULT '',
    accepted_by      text        NOT NULL DEFAULT '',
    returned_at      timestamptz NOT NULL,
    amount           bigint      NOT NULL,
    lines            jsonb       NOT NULL DEFAULT '[]',
    points_cancelled bigint      NOT NULL,
    points_refunded  bigint      NOT NULL,
    points_shortfall bigint      NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, purchase_id) REFERENCES purchases (tenant_id, id)
);

ALTER TABLE accounts ADD COLUMN level_id text NOT NULL DEFAULT '';
