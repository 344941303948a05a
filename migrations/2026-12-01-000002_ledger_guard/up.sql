-- The database itself keeps `users.tokens = Σ transactions.amount`: a change of
-- a balance without its ledger row in the same transaction fails at commit,
-- whoever makes it (the server, a script, a hand-typed UPDATE in psql).
--
-- How: every change of `users.tokens` adds its delta, and every ledger row
-- subtracts its amount, to a per-user counter kept in one transaction-local
-- setting (`askgate.ledger_pending`, a JSON object of user id → delta; rolled
-- back with the transaction or savepoint it belongs to, and holding only the
-- users whose counter is not 0). A deferred constraint trigger checks at
-- commit that each touched user's counter is back at 0. It costs no lookup of
-- the user's history, so it stays cheap for users with a long ledger, and one
-- setting name, so a pooled connection does not accumulate settings.
--
-- It guards against mistakes, not against the database owner deliberately
-- disabling triggers; `askgate-server audit` re-checks the whole ledger.

CREATE FUNCTION askgate_ledger_track() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_user    text;
    v_delta   bigint;
    v_pending jsonb;
    v_now     bigint;
BEGIN
    IF TG_TABLE_NAME = 'users' THEN
        v_user := NEW.id::text;
        v_delta := NEW.tokens::bigint - CASE WHEN TG_OP = 'INSERT' THEN 0 ELSE OLD.tokens END;
    ELSE
        v_user := NEW.user_id::text;
        v_delta := -NEW.amount::bigint;
    END IF;
    IF v_delta <> 0 THEN
        v_pending := coalesce(nullif(current_setting('askgate.ledger_pending', true), ''), '{}')::jsonb;
        v_now := coalesce((v_pending ->> v_user)::bigint, 0) + v_delta;
        IF v_now = 0 THEN
            v_pending := v_pending - v_user;
        ELSE
            v_pending := jsonb_set(v_pending, ARRAY[v_user], to_jsonb(v_now));
        END IF;
        PERFORM set_config('askgate.ledger_pending', v_pending::text, true);
    END IF;
    RETURN NULL;
END;
$$;

CREATE FUNCTION askgate_ledger_check() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_user text;
    v_off  bigint;
BEGIN
    IF TG_TABLE_NAME = 'users' THEN
        v_user := NEW.id::text;
    ELSE
        v_user := NEW.user_id::text;
    END IF;
    v_off := (coalesce(nullif(current_setting('askgate.ledger_pending', true), ''), '{}')::jsonb ->> v_user)::bigint;
    IF coalesce(v_off, 0) <> 0 THEN
        RAISE EXCEPTION 'users.tokens of user % changed by % without a ledger row for it', v_user, v_off
            USING ERRCODE = 'integrity_constraint_violation',
                  HINT = 'every balance change needs its row in transactions, in the same transaction';
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER users_ledger_track
    AFTER INSERT OR UPDATE OF tokens ON users
    FOR EACH ROW EXECUTE FUNCTION askgate_ledger_track();

CREATE TRIGGER transactions_ledger_track
    AFTER INSERT ON transactions
    FOR EACH ROW EXECUTE FUNCTION askgate_ledger_track();

CREATE CONSTRAINT TRIGGER users_ledger_balanced
    AFTER INSERT OR UPDATE OF tokens ON users
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION askgate_ledger_check();

CREATE CONSTRAINT TRIGGER transactions_ledger_balanced
    AFTER INSERT ON transactions
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION askgate_ledger_check();

