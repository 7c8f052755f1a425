-- Feed readers are now nudged after commit (outbox::commit) with one coalesced NOTIFY per replica.
-- A NOTIFY inside every writing transaction made all commits queue on Postgres's notification lock,
-- which is held through the WAL flush.
DROP TRIGGER IF EXISTS outbox_notify ON outbox;
DROP FUNCTION IF EXISTS outbox_notify();
