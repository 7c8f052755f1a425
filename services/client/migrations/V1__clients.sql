-- The client service's schema (CL-1 .. CL-11). Every primary key starts with tenant_id.

CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;

CREATE TABLE tenant_settings (
    tenant_id              text PRIMARY KEY,
    time_zone              text NOT NULL DEFAULT 'Europe/Vilnius',
    default_phone_region   text NOT NULL DEFAULT 'LT',
    currency               text NOT NULL DEFAULT 'EUR',
    history_retention_days int  NOT NULL DEFAULT 3650
);

CREATE TABLE stores (
    tenant_id text    NOT NULL,
    id        text    NOT NULL,
    name      text    NOT NULL,
    city      text    NOT NULL DEFAULT '',
    address   text    NOT NULL DEFAULT '',
    archived  boolean NOT NULL DEFAULT false,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE clients (
    tenant_id             text        NOT NULL,
    id                    uuid        NOT NULL,
    first_name            text        NOT NULL DEFAULT '',
    last_name             text        NOT NULL DEFAULT '',
    middle_name           text        NOT NULL DEFAULT '',
    email                 text,
    email_key             text,          -- lower(email): uniqueness and exact search
    phone                 text,          -- E.164
    phone_original        text,
    phone_verified        boolean     NOT NULL DEFAULT false,
    birth_date            date,
    gender                text        NOT NULL DEFAULT 'unknown',
    address               text        NOT NULL DEFAULT '',
    city                  text        NOT NULL DEFAULT '',
    region                text        NOT NULL DEFAULT '',
    notes                 text        NOT NULL DEFAULT '',
    car_number            text        NOT NULL DEFAULT '',
    additional_keys       text[]      NOT NULL DEFAULT '{}',
    custom_attributes     jsonb       NOT NULL DEFAULT '{}',
    children              jsonb       NOT NULL DEFAULT '[]',
    registration_store_id text        NOT NULL DEFAULT '',
    added_by              text        NOT NULL DEFAULT 'user',
    registered_at         timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL,
    utm                   jsonb       NOT NULL DEFAULT '{}',
    referrer_client_id    uuid,
    source_channel        text        NOT NULL DEFAULT '',
    anonymous_ids         text[]      NOT NULL DEFAULT '{}',
    status                text        NOT NULL DEFAULT 'member',
    block                 jsonb,
    personal_data_consent jsonb,
    third_party_consent   jsonb,
    merged_into           uuid,
    erased                boolean     NOT NULL DEFAULT false,
    version               bigint      NOT NULL DEFAULT 1,
    name_search           text        NOT NULL DEFAULT '',  -- folded "first middle last"
    PRIMARY KEY (tenant_id, id)
);

-- CL-2: an email belongs to one live client of a tenant.
CREATE UNIQUE INDEX clients_email_unique ON clients (tenant_id, email_key)
    WHERE email_key IS NOT NULL AND merged_into IS NULL;
-- Quick search (CL-7) and lists.
CREATE INDEX clients_by_phone ON clients (tenant_id, phone);
CREATE INDEX clients_name_trgm ON clients USING gin (name_search public.gin_trgm_ops);
CREATE INDEX clients_email_trgm ON clients USING gin (email_key public.gin_trgm_ops);
CREATE INDEX clients_phone_trgm ON clients USING gin (phone public.gin_trgm_ops);
CREATE INDEX clients_newest_first ON clients (tenant_id, registered_at DESC, id DESC);
CREATE INDEX clients_by_store ON clients (tenant_id, registration_store_id);
CREATE INDEX clients_merged_into ON clients (tenant_id, merged_into) WHERE merged_into IS NOT NULL;

-- CL-5: one row per client and channel.
CREATE TABLE consents (
    tenant_id  text        NOT NULL,
    client_id  uuid        NOT NULL,
    channel    text        NOT NULL,
    status     text        NOT NULL,
    changed_at timestamptz NOT NULL,
    source     text        NOT NULL DEFAULT '',
    address    text        NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, client_id, channel),
    FOREIGN KEY (tenant_id, client_id) REFERENCES clients (tenant_id, id) ON DELETE CASCADE
);

-- CL-6
CREATE TABLE tags (
    tenant_id text NOT NULL,
    id        uuid NOT NULL,
    name      text NOT NULL,
    name_key  text NOT NULL,
    colour    text NOT NULL DEFAULT '#808080',
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, name_key)
);

CREATE TABLE client_tags (
    tenant_id text NOT NULL,
    client_id uuid NOT NULL,
    tag_id    uuid NOT NULL,
    PRIMARY KEY (tenant_id, client_id, tag_id),
    FOREIGN KEY (tenant_id, client_id) REFERENCES clients (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, tag_id) REFERENCES tags (tenant_id, id) ON DELETE CASCADE
);

CREATE INDEX client_tags_by_tag ON client_tags (tenant_id, tag_id);

-- CL-9, X-3: every change of a client.
CREATE TABLE history (
    tenant_id text        NOT NULL,
    client_id uuid        NOT NULL,
    id        bigint      GENERATED ALWAYS AS IDENTITY,
    kind      text        NOT NULL,
    at        timestamptz NOT NULL,
    actor     jsonb       NOT NULL,
    before    jsonb       NOT NULL DEFAULT '{}',
    after     jsonb       NOT NULL DEFAULT '{}',
    comment   text        NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, client_id, id)
);
