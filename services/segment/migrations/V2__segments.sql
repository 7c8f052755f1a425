-- Saved segments. Every write takes the next `segment_seq`, so every replica reloads what changed
-- since the last `seq` it saw (deleted segments stay as rows with `deleted_at` until purged).
CREATE SEQUENCE segment_seq;

CREATE TABLE segments (
    tenant_id   text        NOT NULL,
    segment_id  uuid        NOT NULL,
    seq         bigint      NOT NULL,
    name        text        NOT NULL,
    -- The name folded (case and accents), unique among a tenant's live segments.
    name_key    text        NOT NULL,
    colour      text        NOT NULL DEFAULT '',
    description text        NOT NULL DEFAULT '',
    -- 'dynamic' or 'static'.
    kind        text        NOT NULL,
    -- The loyalty.filter.v1.Filter, encoded; NULL for a manual list.
    filter      bytea,
    -- Bumped by every change: the etag.
    version     integer     NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    snapshot_at timestamptz,
    -- Whether the initial members are announced as "entered" (else they are recorded silently).
    announce    boolean     NOT NULL DEFAULT false,
    deleted_at  timestamptz,
    PRIMARY KEY (tenant_id, segment_id)
);

CREATE UNIQUE INDEX segments_unique_name ON segments (tenant_id, name_key) WHERE deleted_at IS NULL;
CREATE INDEX segments_in_order ON segments (seq);

-- The members of static segments (snapshots and manual lists).
CREATE TABLE segment_members (
    tenant_id  text NOT NULL,
    segment_id uuid NOT NULL,
    client_id  uuid NOT NULL,
    PRIMARY KEY (tenant_id, segment_id, client_id)
);

-- Who was last published as a member (the entered/left events are the changes of this table), and
-- the read model position it was computed at, so a replica that lags never publishes older news.
CREATE TABLE published_members (
    tenant_id  text NOT NULL,
    segment_id uuid NOT NULL,
    client_id  uuid NOT NULL,
    PRIMARY KEY (tenant_id, segment_id, client_id)
);

CREATE TABLE published_state (
    tenant_id  text   NOT NULL,
    segment_id uuid   NOT NULL,
    -- The `facts.seq` and segment version the published members were computed at.
    facts_seq  bigint NOT NULL,
    version    integer NOT NULL,
    -- Bumped by each publication, so a replica knows whether its copy is current.
    generation bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, segment_id)
);

-- The size at the end of each day in the tenant's zone (the last size seen that day).
CREATE TABLE segment_sizes (
    tenant_id  text   NOT NULL,
    segment_id uuid   NOT NULL,
    day        date   NOT NULL,
    size       bigint NOT NULL,
    PRIMARY KEY (tenant_id, segment_id, day)
);

-- Campaigns and triggers whose audience names a segment (from the messaging feed).
CREATE TABLE segment_users (
    tenant_id  text NOT NULL,
    segment_id text NOT NULL,
    user_kind  text NOT NULL,
    user_id    text NOT NULL,
    user_name  text NOT NULL,
    PRIMARY KEY (tenant_id, segment_id, user_kind, user_id)
);
