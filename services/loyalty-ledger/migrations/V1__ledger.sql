-- The loyalty ledger's schema (LE-1 .. LE-11). Every primary key starts with tenant_id.

-- Programme rules, versioned: purchases use the version in force at their time.
CREATE TABLE programme_versions (
    tenant_id      text        NOT NULL,
    version        int         NOT NULL,
    effective_from timestamptz NOT NULL,
    rules          jsonb       NOT NULL,
    PRIMARY KEY (tenant_id, version)
);

-- One row per client: the balances cached from the entries (checkable against them at any time),
-- the head of the entry hash chain, and the block flag. Every change locks this row first, so one
-- account's changes are serialised while different accounts proceed in parallel.
CREATE TABLE accounts (
    tenant_id  text        NOT NULL,
    client_id  uuid        NOT NULL,
    blocked    boolean     NOT NULL DEFAULT false,
    available  bigint      NOT NULL DEFAULT 0,
    pending    bigint      NOT NULL DEFAULT 0,
    reserved   bigint      NOT NULL DEFAULT 0,
    used       bigint      NOT NULL DEFAULT 0,
    expired    bigint      NOT NULL DEFAULT 0,
    cancelled  bigint      NOT NULL DEFAULT 0,
    debt       bigint      NOT NULL DEFAULT 0,
    next_lot   bigint      NOT NULL DEFAULT 0,
    entries    bigint      NOT NULL DEFAULT 0,
    last_hash  text        NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, client_id)
);

-- Points earned together, with their own activation and expiry.
CREATE TABLE lots (
    tenant_id    text        NOT NULL,
    client_id    uuid        NOT NULL,
    lot_no       bigint      NOT NULL,
    earned       bigint      NOT NULL,
    remaining    bigint      NOT NULL,
    held         bigint      NOT NULL DEFAULT 0,
    activates_at timestamptz NOT NULL,
    expires_at   timestamptz,
    state        text        NOT NULL,
    source       text        NOT NULL,
    purchase_id  uuid,
    PRIMARY KEY (tenant_id, client_id, lot_no),
    FOREIGN KEY (tenant_id, client_id) REFERENCES accounts (tenant_id, client_id)
);

-- LE-8: the expiry and activation worker finds due lots by these, without a nightly batch.
CREATE INDEX lots_to_activate ON lots (activates_at) WHERE state = 'pending';
CREATE INDEX lots_to_expire ON lots (expires_at) WHERE state = 'active' AND expires_at IS NOT NULL;

-- Immutable, hash-chained entries: every change of a client's points (LE-10).
CREATE TABLE entries (
    tenant_id      text        NOT NULL,
    client_id      uuid        NOT NULL,
    seq            bigint      NOT NULL,
    id             uuid        NOT NULL,
    kind           text        NOT NULL,
    points         bigint      NOT NULL,
    at             timestamptz NOT NULL,
    source         text        NOT NULL,
    actor          jsonb       NOT NULL,
    comment        text        NOT NULL DEFAULT '',
    purchase_id    uuid,
    reservation_id uuid,
    lot_no         bigint,
    hash           text        NOT NULL,
    PRIMARY KEY (tenant_id, client_id, seq),
    FOREIGN KEY (tenant_id, client_id) REFERENCES accounts (tenant_id, client_id)
);

CREATE INDEX entries_by_time ON entries (tenant_id, client_id, at DESC);
