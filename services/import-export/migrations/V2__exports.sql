-- Exports: what was asked, the produced file in chunks (kept 24 hours), its size and checksum.
-- Imports keep their header row, so the upload can be dropped when the job ends.
ALTER TABLE jobs
    ADD COLUMN export      jsonb,                 -- an export's request
    ADD COLUMN header      jsonb,                 -- an import's header row as read
    ADD COLUMN file_size   bigint NOT NULL DEFAULT 0,
    ADD COLUMN sha256      text   NOT NULL DEFAULT '',
    ADD COLUMN expires_at  timestamptz,           -- when the produced file and row cells go
    ADD COLUMN purged_at   timestamptz;           -- when they went

CREATE INDEX jobs_to_purge ON jobs (expires_at) WHERE purged_at IS NULL;

CREATE TABLE export_chunks (
    tenant_id   text   NOT NULL,
    job_id      uuid   NOT NULL,
    start_at    bigint NOT NULL,
    data        bytea  NOT NULL,
    PRIMARY KEY (tenant_id, job_id, start_at)
);
