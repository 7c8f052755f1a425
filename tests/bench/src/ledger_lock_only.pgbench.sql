-- The least any purchase's transaction costs, for pgbench (see ledger.rs): lock the account, commit.
\set c random(0, :accounts - 1)
BEGIN;
SELECT 1 FROM ledger.accounts WHERE tenant_id = 'bench' AND client_id = ('01900000-0000-7002-0000-' || lpad(to_hex(:c::bigint), 12, '0'))::uuid FOR UPDATE;
COMMIT;
