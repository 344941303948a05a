-- B2, uniform (a diagnostic between B1 and B3): every statement askgate sends
-- PostgreSQL for one AskAT&T chat, in the same order and transactions, as read
-- from PostgreSQL's statement log of a chat by the release build:
--   the debit (B1's statement, autocommit, durable), then one transaction
--   recording the conversation and its two messages, which does not wait for
--   its WAL flush (SET LOCAL synchronous_commit = off).
-- The upstream call between the debit and the conversation is left out.
\set n random(1, 10000)
WITH spent AS (
    UPDATE users SET tokens = tokens - 1
    WHERE id = bench_user(:n) AND tokens >= 1
    RETURNING id, tokens
)
INSERT INTO transactions
    (id, user_id, transaction_type, amount, balance_after, service_type, domain_id, metadata)
SELECT bench_uuid_v7(), spent.id, 'consumption', -1, spent.tokens, 'askatt', NULL::uuid, '{"conversation_id": null}'::jsonb FROM spent
RETURNING *;
BEGIN;
SET LOCAL synchronous_commit = off;
INSERT INTO conversations (id, user_id, service_type, domain_id, title)
VALUES (bench_uuid_v7(), bench_user(:n), 'askatt', NULL, 'hi') RETURNING id AS conversation \gset
INSERT INTO messages (id, conversation_id, author, content) VALUES (bench_uuid_v7(), :conversation, 'user', 'hi');
INSERT INTO messages (id, conversation_id, author, content) VALUES (bench_uuid_v7(), :conversation, 'assistant', 'ok');
COMMIT;
