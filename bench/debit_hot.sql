-- B1, hot user: askgate's debit (crates/postgres/src/ledger.rs, const DEBIT) for
-- user 1 every time (every debit contends for one row lock). Parameters as the chat path
-- binds them: $1 the user, $2 a fresh uuid v7, $3 'askatt', $4 no domain,
-- $5 the chat's metadata for a new conversation.
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
