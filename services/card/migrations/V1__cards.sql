-- The card service's schema (CA-1 .. CA-5). Every primary key starts with tenant_id.

CREATE TABLE card_templates (
    tenant_id         text NOT NULL,
    id                uuid NOT NULL,
    name              text NOT NULL,
    kind              text NOT NULL,
    background_colour text NOT NULL DEFAULT '',
    foreground_colour text NOT NULL DEFAULT '',
    logo_url          text NOT NULL DEFAULT '',
    description       text NOT NULL DEFAULT '',
    barcode_format    text NOT NULL DEFAULT 'code128',
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE issue_forms (
    tenant_id text NOT NULL,
    id        uuid NOT NULL,
    name      text NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX issue_forms_name ON issue_forms (tenant_id, lower(name));

-- The numbering rule and the next sequence number of generated cards, one row per tenant; issuing
-- locks the row, so concurrent issuers never get the same number.
CREATE TABLE numbering (
    tenant_id     text    PRIMARY KEY,
    prefix        text    NOT NULL DEFAULT '2',
    length        int     NOT NULL DEFAULT 13,
    luhn          boolean NOT NULL DEFAULT true,
    next_sequence bigint  NOT NULL DEFAULT 1
);

CREATE TABLE cards (
    tenant_id         text        NOT NULL,
    id                uuid        NOT NULL,
    number            text        NOT NULL,
    barcode           text        NOT NULL,
    barcode_format    text        NOT NULL,
    kind              text        NOT NULL,
    template_id       uuid,
    issue_form_id     uuid,
    store_id          text        NOT NULL DEFAULT '',
    client_id         uuid        NOT NULL,
    status            text        NOT NULL DEFAULT 'active',
    wallet_link       text        NOT NULL DEFAULT '',
    tags              text[]      NOT NULL DEFAULT '{}',
    successor_card_id uuid,
    status_reason     text        NOT NULL DEFAULT '',
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, template_id) REFERENCES card_templates (tenant_id, id),
    FOREIGN KEY (tenant_id, issue_form_id) REFERENCES issue_forms (tenant_id, id)
);

-- CA-2: the POS path, by number or barcode.
CREATE UNIQUE INDEX cards_by_number ON cards (tenant_id, number);
CREATE UNIQUE INDEX cards_by_barcode ON cards (tenant_id, barcode);
CREATE INDEX cards_by_client ON cards (tenant_id, client_id);
CREATE INDEX cards_by_template ON cards (tenant_id, template_id);
