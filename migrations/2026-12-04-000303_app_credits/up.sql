-- Registered apps spend their users' tokens: an app consumption is a ledger
-- `consumption` row with service type `app` (the app named in its metadata)
-- and a row here that holds the app's idempotency key, the request it was
-- made for, and its refund. The debit is the same single conditional
-- statement as a chat's, so no number of concurrent calls overspends, and
-- the ledger guard still refuses any balance change without its row.

ALTER TABLE transactions DROP CONSTRAINT transactions_service_known;
ALTER TABLE transactions ADD CONSTRAINT transactions_service_known
    CHECK (service_type IN ('askatt', 'askdocs', 'app'));

CREATE TABLE app_consumptions (
    id               uuid PRIMARY KEY,
    app_id           uuid NOT NULL REFERENCES apps (id),
    user_id          uuid NOT NULL REFERENCES users (id),
    consumption_id   uuid NOT NULL UNIQUE REFERENCES transactions (id),
    refund_id        uuid UNIQUE REFERENCES transactions (id),
    amount           integer NOT NULL CONSTRAINT app_consumptions_amount_range CHECK (amount BETWEEN 1 AND 100),
    reason           text NOT NULL,
    idempotency_key  text NOT NULL,
    -- The canonical request the key was first used for.
    fingerprint      text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    refunded_at      timestamptz,
    CONSTRAINT app_consumptions_key_once UNIQUE (app_id, idempotency_key),
    CONSTRAINT app_consumptions_refund_when_refunded CHECK ((refund_id IS NULL) = (refunded_at IS NULL))
);

-- The per-user daily limit's question: what this app spent for this user today.
CREATE INDEX app_consumptions_app_user_day ON app_consumptions (app_id, user_id, created_at);

ALTER TABLE app_consumptions ENABLE ROW LEVEL SECURITY;
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['anon', 'authenticated'] LOOP
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('REVOKE ALL ON TABLE app_consumptions FROM %I', r);
        END IF;
    END LOOP;
END;
$$;

-- Spends `p_amount` of the user's tokens for an app. Outcomes (`outcome`):
--   consumed      debited now
--   replay        the key was used before for the same request: its consumption
--   mismatch      the key was used before for another request; nothing written
--   insufficient  the balance is below the amount; nothing written
--   limit         the app's daily limit for this user would be passed; nothing written
--   no_user       the user does not exist
-- `spent_today` is what the app spent for the user today (UTC), before this call.
CREATE FUNCTION askgate_consume_for_app(
    p_id uuid, p_consumption uuid, p_app uuid, p_user uuid, p_amount integer,
    p_reason text, p_key text, p_fingerprint text, p_daily_limit integer, p_metadata jsonb
) RETURNS TABLE (outcome text, consumption_id uuid, amount integer, balance integer,
                 created_at timestamptz, spent_today integer)
LANGUAGE plpgsql AS $$
DECLARE
    v_held    record;
    v_balance integer;
    v_spent   boolean := false;
    v_today   integer := 0;
BEGIN
    -- One request per (app, key) at a time: a concurrent retry waits for the
    -- first and is then answered with its consumption.
    PERFORM pg_advisory_xact_lock(hashtextextended('app-key:' || p_app::text || ':' || p_key, 0));
    SELECT c.id, c.fingerprint, c.amount, c.created_at, t.balance_after INTO v_held
      FROM app_consumptions c JOIN transactions t ON t.id = c.consumption_id
     WHERE c.app_id = p_app AND c.idempotency_key = p_key;
    IF FOUND THEN
        IF v_held.fingerprint <> p_fingerprint THEN
            RETURN QUERY SELECT 'mismatch'::text, NULL::uuid, NULL::integer, NULL::integer, NULL::timestamptz, NULL::integer;
        ELSE
            RETURN QUERY SELECT 'replay'::text, v_held.id, v_held.amount, v_held.balance_after, v_held.created_at, NULL::integer;
        END IF;
        RETURN;
    END IF;

    IF p_daily_limit IS NOT NULL THEN
        -- The limit is checked and spent under one lock per (app, user), so
        -- concurrent calls cannot pass it together.
        PERFORM pg_advisory_xact_lock(hashtextextended('app-limit:' || p_app::text || ':' || p_user::text, 0));
        SELECT COALESCE(SUM(c.amount), 0)::integer INTO v_today
          FROM app_consumptions c
         WHERE c.app_id = p_app AND c.user_id = p_user AND c.refund_id IS NULL
           AND c.created_at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
        IF v_today + p_amount > p_daily_limit THEN
            RETURN QUERY SELECT 'limit'::text, NULL::uuid, NULL::integer, NULL::integer, NULL::timestamptz, v_today;
            RETURN;
        END IF;
    END IF;

    -- The conditional debit, re-checked against the committed balance like a chat's.
    FOR attempt IN 1..3 LOOP
        UPDATE users SET tokens = tokens - p_amount
         WHERE id = p_user AND tokens >= p_amount
        RETURNING tokens INTO v_balance;
        v_spent := FOUND;
        EXIT WHEN v_spent;
        SELECT u.tokens INTO v_balance FROM users u WHERE u.id = p_user;
        EXIT WHEN NOT FOUND OR v_balance < p_amount;
    END LOOP;
    IF NOT v_spent THEN
        SELECT u.tokens INTO v_balance FROM users u WHERE u.id = p_user;
        IF NOT FOUND THEN
            RETURN QUERY SELECT 'no_user'::text, NULL::uuid, NULL::integer, NULL::integer, NULL::timestamptz, NULL::integer;
        ELSE
            RETURN QUERY SELECT 'insufficient'::text, NULL::uuid, NULL::integer, v_balance, NULL::timestamptz, v_today;
        END IF;
        RETURN;
    END IF;

    INSERT INTO transactions
        (id, user_id, transaction_type, amount, balance_after, service_type, metadata)
    VALUES
        (p_consumption, p_user, 'consumption', -p_amount, v_balance, 'app',
         p_metadata || jsonb_build_object('app_id', p_app, 'app_consumption_id', p_id, 'reason', p_reason));
    INSERT INTO app_consumptions
        (id, app_id, user_id, consumption_id, amount, reason, idempotency_key, fingerprint)
    VALUES (p_id, p_app, p_user, p_consumption, p_amount, p_reason, p_key, p_fingerprint);
    RETURN QUERY SELECT 'consumed'::text, p_id, p_amount, v_balance,
        (SELECT c.created_at FROM app_consumptions c WHERE c.id = p_id), v_today;
END;
$$;

-- Gives an app consumption back, once, within `p_window` of it, and only to
-- the app that made it. Outcomes: refunded, not_found (no such consumption
-- of this app), already (refunded before), too_late.
CREATE FUNCTION askgate_refund_for_app(p_app uuid, p_id uuid, p_refund uuid, p_window interval)
RETURNS TABLE (outcome text, amount integer, balance integer, refunded_at timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
    v_c       record;
    v_balance integer;
BEGIN
    SELECT c.user_id, c.consumption_id, c.amount, c.created_at, c.refund_id, c.refunded_at INTO v_c
      FROM app_consumptions c WHERE c.id = p_id AND c.app_id = p_app
       FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_found'::text, NULL::integer, NULL::integer, NULL::timestamptz;
        RETURN;
    END IF;
    IF v_c.refund_id IS NOT NULL THEN
        RETURN QUERY SELECT 'already'::text, v_c.amount, NULL::integer, v_c.refunded_at;
        RETURN;
    END IF;
    IF v_c.created_at < clock_timestamp() - p_window THEN
        RETURN QUERY SELECT 'too_late'::text, v_c.amount, NULL::integer, NULL::timestamptz;
        RETURN;
    END IF;

    UPDATE users SET tokens = tokens + v_c.amount WHERE id = v_c.user_id
    RETURNING tokens INTO v_balance;
    INSERT INTO transactions
        (id, user_id, transaction_type, amount, balance_after, idempotency_key,
         service_type, refunds_transaction_id, metadata)
    SELECT p_refund, t.user_id, 'refund', v_c.amount, v_balance, 'refund:' || t.id::text,
           'app', t.id, jsonb_build_object('app_id', p_app, 'app_consumption_id', p_id, 'reason', 'refunded by the app')
      FROM transactions t WHERE t.id = v_c.consumption_id;
    UPDATE app_consumptions SET refund_id = p_refund, refunded_at = clock_timestamp() WHERE id = p_id;
    RETURN QUERY SELECT 'refunded'::text, v_c.amount, v_balance,
        (SELECT c.refunded_at FROM app_consumptions c WHERE c.id = p_id);
END;
$$;

REVOKE ALL ON FUNCTION askgate_consume_for_app(uuid, uuid, uuid, uuid, integer, text, text, text, integer, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION askgate_refund_for_app(uuid, uuid, uuid, interval) FROM PUBLIC;
