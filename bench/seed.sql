-- Seeds the benchmark database (already migrated by `askgate-server migrate`):
-- 10 000 users, user n having id 00000000-0000-0000-0000-<n as 12 hex digits>
-- (so pgbench can name one from a random integer), each with 1 000 000 tokens
-- granted by a `grant` ledger row, so balance = Σ ledger holds from the start.
-- User 1 is also the hot user of the hot-user runs.
--
-- The ledger is append-only (a trigger refuses DELETE and TRUNCATE), so a
-- re-run starts from a freshly created database instead of cleaning up.

\set ON_ERROR_STOP on

-- uuid v7 (48-bit unix-ms timestamp, version and variant bits), as askgate's
-- `Uuid::now_v7()` makes client-side; PostgreSQL 15 has no uuidv7().
CREATE OR REPLACE FUNCTION bench_uuid_v7() RETURNS uuid
LANGUAGE sql VOLATILE AS $$
    SELECT encode(
        set_bit(set_bit(
            overlay(uuid_send(gen_random_uuid())
                    PLACING substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
                    FROM 1 FOR 6),
            52, 1), 53, 1),
        'hex')::uuid
$$;

-- A uuid made from two random integers pgbench drew, so a script can name an
-- id before its first statement, as askgate does client-side.
CREATE OR REPLACE FUNCTION bench_uuid(a bigint, b bigint) RETURNS uuid
LANGUAGE sql IMMUTABLE AS $$
    SELECT (lpad(to_hex(a), 16, '0') || lpad(to_hex(b), 16, '0'))::uuid
$$;

CREATE OR REPLACE FUNCTION bench_user(n integer) RETURNS uuid
LANGUAGE sql IMMUTABLE AS $$
    SELECT ('00000000-0000-0000-0000-' || lpad(to_hex(n), 12, '0'))::uuid
$$;

-- Each user with its grant row, in turn: the database refuses a balance that
-- its ledger rows do not explain at commit, and pairing them keeps its count of
-- unexplained balances at one user at a time.
DO $$
BEGIN
    FOR n IN 1..10000 LOOP
        INSERT INTO users (id, azure_ad_id, email, display_name, tokens)
        VALUES (bench_user(n), 'bench:' || n, 'bench' || n || '@bench.invalid', 'Bench ' || n, 1000000);
        INSERT INTO transactions (id, user_id, transaction_type, amount, balance_after, idempotency_key, metadata)
        VALUES (bench_uuid_v7(), bench_user(n), 'grant', 1000000, 1000000, 'bench-seed-' || n, '{"reason":"benchmark"}');
    END LOOP;
END;
$$;

VACUUM ANALYZE users;
VACUUM ANALYZE transactions;
