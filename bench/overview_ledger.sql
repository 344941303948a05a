-- A ledger of 1 000 000 rows over the last 365 days for 10 000 users, to
-- measure the admin overview's queries (docs/benchmarks.md, "The admin
-- overview"). Run on a scratch database with askgate's migrations applied:
--   psql -d overview_bench -f bench/overview_ledger.sql
-- Triggers are off while loading (the ledger guard would check every row);
-- the balances are set to the sum of each user's rows at the end.
SET session_replication_role = replica;
INSERT INTO users (id, azure_ad_id, email, tokens, role)
SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid, 'oid-' || g, 'u' || g || '@example.com', 0, 'user'
  FROM generate_series(1, 10000) g;
INSERT INTO domains (id, name, display_name, configuration) VALUES
  ('00000000-0000-4000-9000-000000000001', 'hr', 'HR', '{}'),
  ('00000000-0000-4000-9000-000000000002', 'it', 'IT', '{}');
INSERT INTO transactions (id, user_id, transaction_type, amount, balance_after, stripe_payment_intent_id, service_type, domain_id, metadata, created_at)
SELECT gen_random_uuid(),
       ('00000000-0000-4000-8000-' || lpad(to_hex(1 + (g / 100) % 10000), 12, '0'))::uuid,
       CASE WHEN g % 100 = 0 THEN 'purchase' WHEN g % 100 = 1 THEN 'grant' WHEN g % 50 = 2 THEN 'refund'
            WHEN g % 1000 = 3 THEN 'reversal' ELSE 'consumption' END,
       CASE WHEN g % 100 = 0 THEN (ARRAY[100,250,600])[1 + g % 3] WHEN g % 100 = 1 THEN 100 WHEN g % 50 = 2 THEN 1
            WHEN g % 1000 = 3 THEN -20 ELSE -1 END,
       0,
       CASE WHEN g % 100 = 0 THEN 'pi_' || g WHEN g % 1000 = 3 THEN 'pi_' || (g - 3) END,
       CASE WHEN g % 100 IN (0, 1) OR g % 1000 = 3 THEN NULL WHEN g % 3 = 0 THEN 'askatt' ELSE 'askdocs' END,
       CASE WHEN g % 100 IN (0, 1) OR g % 1000 = 3 OR g % 3 = 0 THEN NULL WHEN g % 3 = 1 THEN '00000000-0000-4000-9000-000000000001'::uuid ELSE '00000000-0000-4000-9000-000000000002'::uuid END,
       CASE WHEN g % 100 = 0 THEN jsonb_build_object('package', ((ARRAY[100,250,600])[1 + g % 3])::text, 'amount_cents', (ARRAY[500,1000,2000])[1 + g % 3], 'currency', 'usd')
            WHEN g % 1000 = 3 THEN jsonb_build_object('reason', 'refund', 'purchased', 100, 'reversed', 20, 'shortfall', 0, 'due', 20)
            ELSE '{}'::jsonb END,
       now() - (g::double precision / 1000000) * interval '365 days'
  FROM generate_series(1, 1000000) g;
UPDATE users u SET tokens = s.total FROM (SELECT user_id, SUM(amount) AS total FROM transactions GROUP BY user_id) s WHERE s.user_id = u.id;
SET session_replication_role = origin;
ANALYZE;
SELECT transaction_type, count(*) FROM transactions GROUP BY 1;
SELECT min(tokens), max(tokens) FROM users;
