DROP FUNCTION askgate_settle_charge(uuid, uuid, uuid, boolean, text, uuid, text, uuid, text, uuid, text, text, smallint, jsonb);
DROP FUNCTION askgate_reserve_charge(uuid, uuid, uuid, text, uuid, jsonb, text, text);

UPDATE idempotency_keys SET response_version = 200 WHERE response_version IS NOT NULL;
ALTER TABLE idempotency_keys RENAME COLUMN response_version TO response_status;

-- Reserves one token for a chat. Outcomes (column `outcome`):
--   reserved      debited; `balance` is the balance after
--   insufficient  nothing written; `balance` is the balance (0)
--   no_user       the user does not exist
--   replay        the key's request finished: `response_body` is its answer
--   in_progress   the key is held by a request still running
--   mismatch      the key was used with another request (`p_fingerprint` differs)
--   expired       the key's claim was older than 24 h and has been removed: call again
CREATE FUNCTION askgate_reserve_charge(
    p_charge uuid, p_consumption uuid, p_user uuid, p_service text, p_domain uuid,
    p_metadata jsonb, p_key text, p_fingerprint text
) RETURNS TABLE (outcome text, balance integer, response_body jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    v_balance integer;
    v_held    record;
    v_spent   boolean := false;
BEGIN
    IF p_key IS NOT NULL THEN
        INSERT INTO idempotency_keys (user_id, key, fingerprint_sha256, charge_id)
        VALUES (p_user, p_key, p_fingerprint, p_charge)
        ON CONFLICT DO NOTHING;
        IF NOT FOUND THEN
            SELECT k.fingerprint_sha256, k.state, k.response_body, k.created_at
              INTO v_held
              FROM idempotency_keys k
             WHERE k.user_id = p_user AND k.key = p_key;
            IF NOT FOUND THEN
                -- Released between the two statements: the caller tries again.
                RETURN QUERY SELECT 'expired'::text, NULL::integer, NULL::jsonb;
                RETURN;
            END IF;
            IF v_held.created_at <= now() - interval '24 hours' THEN
                DELETE FROM idempotency_keys k
                 WHERE k.user_id = p_user AND k.key = p_key AND k.created_at <= now() - interval '24 hours';
                RETURN QUERY SELECT 'expired'::text, NULL::integer, NULL::jsonb;
                RETURN;
            END IF;
            IF v_held.fingerprint_sha256 <> p_fingerprint THEN
                RETURN QUERY SELECT 'mismatch'::text, NULL::integer, NULL::jsonb;
            ELSIF v_held.state = 'completed' THEN
                RETURN QUERY SELECT 'replay'::text, NULL::integer, v_held.response_body;
            ELSE
                RETURN QUERY SELECT 'in_progress'::text, NULL::integer, NULL::jsonb;
            END IF;
            RETURN;
        END IF;
    END IF;

    -- The conditional debit: no number of concurrent calls can overspend. Under
    -- READ COMMITTED a credit committed after this statement's snapshot can be
    -- missed, so a refusal is re-checked against the committed balance.
    FOR attempt IN 1..3 LOOP
        UPDATE users SET tokens = tokens - 1
         WHERE id = p_user AND tokens >= 1
        RETURNING tokens INTO v_balance;
        v_spent := FOUND;
        EXIT WHEN v_spent;
        SELECT u.tokens INTO v_balance FROM users u WHERE u.id = p_user;
        EXIT WHEN NOT FOUND OR v_balance < 1;
    END LOOP;

    IF NOT v_spent THEN
        -- Nothing spent, so nothing is held: release the claim.
        IF p_key IS NOT NULL THEN
            DELETE FROM idempotency_keys k
             WHERE k.user_id = p_user AND k.key = p_key AND k.charge_id = p_charge;
        END IF;
        SELECT u.tokens INTO v_balance FROM users u WHERE u.id = p_user;
        IF NOT FOUND THEN
            RETURN QUERY SELECT 'no_user'::text, NULL::integer, NULL::jsonb;
        ELSE
            RETURN QUERY SELECT 'insufficient'::text, v_balance, NULL::jsonb;
        END IF;
        RETURN;
    END IF;

    INSERT INTO transactions
        (id, user_id, transaction_type, amount, balance_after, service_type, domain_id, metadata)
    VALUES
        (p_consumption, p_user, 'consumption', -1, v_balance, p_service, p_domain,
         p_metadata || jsonb_build_object('charge_id', p_charge));
    INSERT INTO charges (id, user_id, consumption_id, idempotency_key)
    VALUES (p_charge, p_user, p_consumption, p_key);
    RETURN QUERY SELECT 'reserved'::text, v_balance, NULL::jsonb;
END;
$$;

-- Settles a reserved charge: records the exchange (creating the conversation
-- when `p_new_conversation`), marks the charge settled and stores the answer
-- under its Idempotency-Key. `settled` is false when the charge was no longer
-- pending (the sweeper refunded it first: the answer was then free), NULL when
-- there is no such charge (its reservation never committed: the connection
-- broke between the reservation's answer and its commit).
-- `conversation_id` is NULL when an existing conversation is no longer the user's.
-- Settling a settled charge again changes nothing, so a caller whose connection
-- broke may simply call again.
--
-- The commit does not wait for its WAL flush: if PostgreSQL itself crashes
-- right after, the charge is found pending again and refunded by the sweeper,
-- an error only ever in the user's favour. Reserving and refunding stay durable.
CREATE FUNCTION askgate_settle_charge(
    p_charge uuid, p_user uuid, p_conversation uuid, p_new_conversation boolean,
    p_service text, p_domain uuid, p_title text,
    p_question_id uuid, p_question text, p_answer_id uuid, p_answer text,
    p_key text, p_reply jsonb
) RETURNS TABLE (settled boolean, conversation_id uuid)
LANGUAGE plpgsql AS $$
DECLARE
    v_settled      boolean;
    v_state        text;
    v_conversation uuid := p_conversation;
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);

    SELECT c.state INTO v_state FROM charges c WHERE c.id = p_charge FOR UPDATE;
    IF v_state = 'settled' THEN
        -- A retry of a settlement whose answer was lost with its connection:
        -- it is recorded already.
        RETURN QUERY SELECT true,
            (SELECT cv.id FROM conversations cv WHERE cv.id = p_conversation AND cv.user_id = p_user);
        RETURN;
    END IF;
    IF v_state IS NULL THEN
        -- No such charge: its reservation never committed. Nothing to record.
        RETURN QUERY SELECT NULL::boolean, NULL::uuid;
        RETURN;
    END IF;
    v_settled := v_state = 'pending';
    IF v_settled THEN
        UPDATE charges SET state = 'settled', finished_at = clock_timestamp() WHERE id = p_charge;
    END IF;

    IF p_new_conversation THEN
        INSERT INTO conversations (id, user_id, service_type, domain_id, title)
        VALUES (p_conversation, p_user, p_service, p_domain, p_title);
    ELSE
        UPDATE conversations SET updated_at = clock_timestamp()
         WHERE id = p_conversation AND user_id = p_user;
        IF NOT FOUND THEN
            v_conversation := NULL;
        END IF;
    END IF;

    IF v_conversation IS NOT NULL THEN
        -- Two statements, so each row's clock_timestamp() default orders them.
        INSERT INTO messages (id, conversation_id, author, content)
        VALUES (p_question_id, v_conversation, 'user', p_question);
        INSERT INTO messages (id, conversation_id, author, content)
        VALUES (p_answer_id, v_conversation, 'assistant', p_answer);
    END IF;

    IF v_settled AND p_key IS NOT NULL THEN
        UPDATE idempotency_keys
           SET state = 'completed', response_status = 200, response_body = p_reply, completed_at = now()
         WHERE user_id = p_user AND key = p_key AND charge_id = p_charge AND state = 'in_progress';
    END IF;

    RETURN QUERY SELECT v_settled, v_conversation;
END;
$$;

REVOKE ALL ON FUNCTION askgate_reserve_charge(uuid, uuid, uuid, text, uuid, jsonb, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION askgate_settle_charge(uuid, uuid, uuid, boolean, text, uuid, text, uuid, text, uuid, text, text, jsonb) FROM PUBLIC;
