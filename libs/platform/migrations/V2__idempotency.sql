-- Answers of retryable writes, by idempotency key (AIP-155, LE-11). The first call inserts its row
-- at the start of its transaction and fills the answer before commit; a concurrent retry waits on
-- that row, then replays the answer. Rows are kept at least 7 days.
CREATE TABLE idempotency_keys (
    tenant_id    text        NOT NULL,
    key          text        NOT NULL,
    method       text        NOT NULL,
    request_hash bytea       NOT NULL,
    response     bytea,
    -- What the answer is about (a client id), so a GDPR erase can forget answers holding its data.
    subject_id   text        NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, key)
);

CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
CREATE INDEX idempotency_keys_by_subject ON idempotency_keys (tenant_id, subject_id) WHERE subject_id <> '';
