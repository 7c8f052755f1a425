-- LE-5: points held for unpaid orders. `holds` lists the lots and points held, so a commit spends
-- exactly those points and a cancel or timeout gives exactly those back.
CREATE TABLE reservations (
    tenant_id  text        NOT NULL,
    id         uuid        NOT NULL,
    client_id  uuid        NOT NULL,
    points     bigint      NOT NULL,
    committed  bigint      NOT NULL DEFAULT 0,
    state      text        NOT NULL DEFAULT 'held',
    order_ref  text        NOT NULL DEFAULT '',
    holds      jsonb       NOT NULL,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL,
    closed_at  timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, client_id) REFERENCES accounts (tenant_id, client_id)
);

-- The timeout worker's queue: held reservations by their deadline.
CREATE INDEX reservations_due ON reservations (expires_at) WHERE state = 'held';
