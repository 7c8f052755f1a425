-- The messaging schema: what a campaign needs to know of each client (followed from the client
-- and ledger feeds), the channels' providers, templates, campaigns, their runs and deliveries.

-- One row per client of a tenant: addresses, consents, block and erase state, the stores a
-- store-scoped token sees them by, and the facts placeholders name.
CREATE TABLE contacts (
    tenant_id         text        NOT NULL,
    client_id         uuid        NOT NULL,
    first_name        text        NOT NULL DEFAULT '',
    last_name         text        NOT NULL DEFAULT '',
    email             text        NOT NULL DEFAULT '',
    phone             text        NOT NULL DEFAULT '',
    city              text        NOT NULL DEFAULT '',
    registration_store_id text    NOT NULL DEFAULT '',
    -- Stores the client bought in (a scoped token sees clients registered or buying there).
    purchase_store_ids text[]     NOT NULL DEFAULT '{}',
    blocked           boolean     NOT NULL DEFAULT false,
    erased            boolean     NOT NULL DEFAULT false,
    deleted           boolean     NOT NULL DEFAULT false,
    -- Consent per channel: 'unknown', 'subscribed', 'unsubscribed'.
    email_consent     text        NOT NULL DEFAULT 'unknown',
    sms_consent       text        NOT NULL DEFAULT 'unknown',
    push_consent      text        NOT NULL DEFAULT 'unknown',
    telegram_consent  text        NOT NULL DEFAULT 'unknown',
    -- Addresses of channels without a profile field (a push token, a Telegram chat id).
    push_address      text        NOT NULL DEFAULT '',
    telegram_address  text        NOT NULL DEFAULT '',
    points_balance    bigint      NOT NULL DEFAULT 0,
    last_purchase_at  timestamptz,
    last_purchase_minor bigint,
    currency          text        NOT NULL DEFAULT '',
    -- Purchase lines per category, for the favourite category.
    categories        jsonb       NOT NULL DEFAULT '{}',
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, client_id)
);

-- A tenant's settings that messaging needs (its time zone for schedules and triggers).
CREATE TABLE tenants (
    tenant_id  text PRIMARY KEY,
    time_zone  text NOT NULL DEFAULT 'UTC',
    currency   text NOT NULL DEFAULT 'EUR'
);

-- One provider per tenant and channel. Secrets (SMTP password, API key, bot token) are sealed
-- with the service's key (AES-256-GCM) and never returned.
CREATE TABLE providers (
    tenant_id       text        NOT NULL,
    channel         text        NOT NULL,
    -- The loyalty.messaging.v1.ChannelProvider without its secrets, encoded.
    settings        bytea       NOT NULL,
    sealed_secret   bytea,
    updated_at      timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, channel)
);

CREATE TABLE templates (
    tenant_id   text        NOT NULL,
    template_id uuid        NOT NULL,
    name        text        NOT NULL,
    -- loyalty.messaging.v1.Content, encoded.
    content     bytea       NOT NULL,
    updated_at  timestamptz NOT NULL,
    deleted_at  timestamptz,
    PRIMARY KEY (tenant_id, template_id)
);

CREATE TABLE campaigns (
    tenant_id    text        NOT NULL,
    campaign_id  uuid        NOT NULL,
    -- loyalty.messaging.v1.Campaign as written (audience, body, schedule), encoded.
    definition   bytea       NOT NULL,
    state        text        NOT NULL,
    channel      text        NOT NULL,
    created_at   timestamptz NOT NULL,
    started_at   timestamptz,
    completed_at timestamptz,
    last_run_id  uuid,
    pause_reason text        NOT NULL DEFAULT '',
    -- Store scope of whoever started it: the run sends only to clients it may see.
    started_by   text        NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, campaign_id)
);

-- One run of a campaign: the audience as it was when the run started, and the content it sends.
CREATE TABLE runs (
    tenant_id    text        NOT NULL,
    run_id       uuid        NOT NULL,
    campaign_id  uuid        NOT NULL,
    -- 'sending', 'paused', 'completed', 'cancelled'.
    state        text        NOT NULL,
    -- loyalty.messaging.v1.Content as it was at the start, encoded.
    content      bytea       NOT NULL,
    channel      text        NOT NULL,
    audience     bigint      NOT NULL DEFAULT 0,
    started_at   timestamptz NOT NULL,
    completed_at timestamptz,
    PRIMARY KEY (tenant_id, run_id)
);
CREATE INDEX runs_sending ON runs (state) WHERE state = 'sending';

-- One row per recipient of a run (or occurrence of a trigger): the snapshot of the audience, then
-- what happened to the message. Unique per occurrence and client: nobody gets two copies of one.
CREATE TABLE deliveries (
    tenant_id      text        NOT NULL,
    delivery_id    uuid        NOT NULL,
    -- The run id, or the trigger occurrence ("<trigger id>:<key>").
    occurrence     text        NOT NULL,
    run_id         uuid,
    campaign_id    uuid,
    trigger_id     uuid,
    client_id      uuid        NOT NULL,
    channel        text        NOT NULL,
    -- 'queued', 'excluded', 'sending', 'sent', 'delivered', 'failed'.
    transport      text        NOT NULL DEFAULT 'queued',
    -- Why the send-time rules left the client out ('blocked', 'unsubscribed', ...).
    excluded_reason text       NOT NULL DEFAULT '',
    address        text        NOT NULL DEFAULT '',
    provider_message_id text   NOT NULL DEFAULT '',
    failure_reason text        NOT NULL DEFAULT '',
    attempts       integer     NOT NULL DEFAULT 0,
    -- When the next attempt may start (back-off after a provider error).
    retry_at       timestamptz,
    queued_at      timestamptz NOT NULL,
    sent_at        timestamptz,
    delivered_at   timestamptz,
    failed_at      timestamptz,
    opened_at      timestamptz,
    clicked_at     timestamptz,
    converted_at   timestamptz,
    unsubscribed_at timestamptz,
    complained_at  timestamptz,
    updated_at     timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, delivery_id),
    UNIQUE (tenant_id, occurrence, client_id)
);
CREATE INDEX deliveries_to_send ON deliveries (tenant_id, run_id, delivery_id) WHERE transport IN ('queued', 'sending');
CREATE INDEX deliveries_of_client ON deliveries (tenant_id, client_id, queued_at);
CREATE INDEX deliveries_of_campaign ON deliveries (tenant_id, campaign_id, queued_at);
CREATE INDEX deliveries_by_provider_id ON deliveries (provider_message_id) WHERE provider_message_id <> '';

-- A purchase until this time counts as the campaign's conversion (sent_at + the window).
ALTER TABLE deliveries ADD COLUMN conversion_until timestamptz;
