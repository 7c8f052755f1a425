-- What read models filter on besides the balances (SE-1: last accrual, last write-off, the share of
-- earned points a client used): kept on the account as its entries are appended, so every
-- `BalanceChanged` carries them without a scan of the entries.
ALTER TABLE accounts
    ADD COLUMN earned_total      bigint NOT NULL DEFAULT 0,
    ADD COLUMN last_accrual_at   timestamptz,
    ADD COLUMN last_write_off_at timestamptz;

UPDATE accounts a
SET earned_total = s.earned, last_accrual_at = s.accrual, last_write_off_at = s.write_off
FROM (
    SELECT tenant_id, client_id,
           coalesce(sum(points) FILTER (WHERE kind = 'earned'), 0) AS earned,
           max(at) FILTER (WHERE kind = 'earned') AS accrual,
           max(at) FILTER (WHERE kind = 'spent') AS write_off
    FROM entries GROUP BY tenant_id, client_id
) s
WHERE a.tenant_id = s.tenant_id AND a.client_id = s.client_id;

-- The card a buyer came with (SE-1 card facts; a purchase by client id has none).
ALTER TABLE purchases ADD COLUMN card_id text NOT NULL DEFAULT '';
