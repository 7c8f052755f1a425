-- One purchase's statements as the ledger sends them, for pgbench (see ledger.rs): the database's
-- ceiling for the same work. Accounts: 0 .. :accounts (-D); keys, ids and lot numbers are random.
\set c random(0, :accounts - 1)
BEGIN;
INSERT INTO ledger.idempotency_keys (tenant_id, key, method, request_hash) VALUES ('bench', gen_random_uuid()::text, 'RecordPurchase', '\x00') ON CONFLICT DO NOTHING;
SELECT blocked, used, expired, cancelled, debt, next_lot, entries, last_hash, level_id FROM ledger.accounts WHERE tenant_id = 'bench' AND client_id = ('01900000-0000-7002-0000-' || lpad(to_hex(:c::bigint), 12, '0'))::uuid FOR UPDATE;
SELECT lot_no, earned, remaining, held, activates_at, expires_at, state FROM ledger.lots WHERE tenant_id = 'bench' AND client_id = ('01900000-0000-7002-0000-' || lpad(to_hex(:c::bigint), 12, '0'))::uuid AND state IN ('pending', 'active') AND (remaining > 0 OR held > 0) ORDER BY lot_no;
SELECT rules FROM ledger.programme_versions WHERE tenant_id = 'bench' AND effective_from <= now() ORDER BY version DESC LIMIT 1;
SELECT coalesce(sum(amount - returned_amount), 0)::bigint, count(*) FROM ledger.purchases WHERE tenant_id = 'bench' AND client_id = ('01900000-0000-7002-0000-' || lpad(to_hex(:c::bigint), 12, '0'))::uuid AND purchased_at >= now() - interval '365 days' AND status <> 'returned';
INSERT INTO ledger.purchases (tenant_id, id, client_id, check_id, store_id, seller_id, purchased_at, amount, currency, payment_method, lines, promo_code, promotion_id, points_earned, points_spent, manual, programme_version, lot_no) VALUES ('bench', gen_random_uuid(), ('01900000-0000-7002-0000-' || lpad(to_hex(:c::bigint), 12, '0'))::uuid, '', '', '', now(), 3000, 'EUR', '', '[{"sku":"SKU-1"},{"sku":"SKU-2"},{"sku":"SKU-3"}]', '', '', 30, 0, false, 0, 2) ON CONFLICT DO NOTHING;
INSERT INTO ledger.entries (tenant_id, client_id, seq, id, kind, points, at, source, actor, comment, hash) VALUES ('bench', ('01900000-0000-7002-0000-' || lpad(to_hex(:c::bigint), 12, '0'))::uuid, (random() * 1e15)::bigint, gen_random_uuid(), 'earned', 30, now(), 'purchase', '{}', '', md5(random()::text));
INSERT INTO ledger.lots (tenant_id, client_id, lot_no, earned, remaining, held, activates_at, expires_at, state, source) VALUES ('bench', ('01900000-0000-7002-0000-' || lpad(to_hex(:c::bigint), 12, '0'))::uuid, (random() * 1e15)::bigint, 30, 30, 0, now(), NULL, 'active', 'purchase') ON CONFLICT (tenant_id, client_id, lot_no) DO UPDATE SET remaining = excluded.remaining;
UPDATE ledger.accounts SET available = available + 30, entries = entries + 1, updated_at = now() WHERE tenant_id = 'bench' AND client_id = ('01900000-0000-7002-0000-' || lpad(to_hex(:c::bigint), 12, '0'))::uuid;
INSERT INTO ledger.outbox (tenant_id, kind, subject_id, occurred_at, payload) SELECT 'bench', k, 's', now(), '\x00' FROM (SELECT pg_advisory_xact_lock_shared(hashtext('ledger.outbox'))) AS p, unnest(ARRAY['purchase_recorded', 'balance_changed']) AS k;
UPDATE ledger.idempotency_keys SET response = '\x00' WHERE tenant_id = 'bench' AND key = 'none';
COMMIT;
