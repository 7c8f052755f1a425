-- The import-export service's schema: uploads (the file as it arrived, in chunks), jobs (what was
-- asked, by whom, how far it got), row reports (what became of each refused or duplicate row).

-- A file being uploaded or uploaded: its chunks in order, `received` bytes so far.
CREATE TABLE uploads (
    tenant_id   text        NOT NULL,
    id          text        NOT NULL,
    file_name   text        NOT NULL,
    received    bigint      NOT NULL DEFAULT 0,
    sha256      bytea,                      -- set when the stream ended
    job_id      uuid,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE upload_chunks (
    tenant_id   text   NOT NULL,
    upload_id   text   NOT NULL,
    start_at    bigint NOT NULL,            -- the chunk's offset in the file
    data        bytea  NOT NULL,
    PRIMARY KEY (tenant_id, upload_id, start_at)
);

CREATE TABLE jobs (
    tenant_id          text        NOT NULL,
    id                 uuid        NOT NULL,
    kind               text        NOT NULL,      -- import_clients, export_clients, ...
    state              text        NOT NULL,      -- queued, running, succeeded, failed, cancelled
    request            jsonb       NOT NULL,      -- what was asked: mapping, encoding, match key, ...
    -- The principal that started it, which the job runs with: its actor and store scope.
    created_by         bytea       NOT NULL,      -- loyalty.common.v1.Actor
    store_scope        text[],                    -- NULL: the whole chain
    upload_id          text,
    encoding           text        NOT NULL DEFAULT '',
    delimiter          text        NOT NULL DEFAULT '',
    rows_done          bigint      NOT NULL DEFAULT 0,  -- data rows taken, in file order
    rows_total         bigint      NOT NULL DEFAULT 0,  -- known when the file was read to its end
    rows_imported      bigint      NOT NULL DEFAULT 0,
    rows_failed        bigint      NOT NULL DEFAULT 0,
    duplicate_warnings bigint      NOT NULL DEFAULT 0,
    error              text        NOT NULL DEFAULT '',
    lease_until        timestamptz,                   -- a worker holds the job until then
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    finished_at        timestamptz,
    PRIMARY KEY (tenant_id, id)
);

CREATE INDEX jobs_to_run ON jobs (created_at) WHERE state IN ('queued', 'running');
CREATE INDEX jobs_newest_first ON jobs (tenant_id, created_at DESC, id DESC);

CREATE TABLE row_reports (
    tenant_id   text   NOT NULL,
    job_id      uuid   NOT NULL,
    row_number  bigint NOT NULL,       -- 1-based row of the file; the header is row 1
    severity    text   NOT NULL,       -- error, duplicate_warning
    violations  jsonb  NOT NULL,       -- [[column, reason], ...]
    client_id   uuid,                  -- the client a duplicate matched
    cells       jsonb  NOT NULL,       -- the row as uploaded, for the error file
    PRIMARY KEY (tenant_id, job_id, row_number)
);
