-- B1, hot user: the bare debit, for user 1 every time (every debit contends
-- for one row lock). It is the conditional debit inside askgate_reserve_charge
-- (migrations/2026-12-01-000001_charges/up.sql): the UPDATE of the balance
-- feeding the INSERT of the consumption row, in one statement, without the
-- charge row and Idempotency-Key claim a chat's reservation adds. Values as a
-- chat's: a fresh uuid v7, 'askatt', no domain, the chat's metadata.
\set n 1
WITH spent AS (
    UPDATE users SET tokens = tokens - 1
    WHERE id = bench_user(:n) AND tokens >= 1
    RETURNING id, tokens
)
INSERT INTO transactions
    (id, user_id, transaction_type, amount, balance_after, service_type, domain_id, metadata)
SELECT bench_uuid_v7(), spent.id, 'consumption', -1, spent.tokens, 'askatt', NULL::uuid, '{"conversation_id": null}'::jsonb FROM spent
RETURNING *;
