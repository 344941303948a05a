-- Streamed answers can end early: the client went away after part of the
-- answer reached it (the token is spent), or the upstream broke off mid-answer
-- (the token is refunded). Either way the part written is kept in the
-- conversation, marked as interrupted.

ALTER TABLE messages ADD COLUMN interrupted boolean NOT NULL DEFAULT false;
ALTER TABLE messages ADD CONSTRAINT messages_only_answers_interrupted
    CHECK (NOT interrupted OR author = 'assistant');

-- Settles a reserved charge: records the exchange (creating the conversation
-- when `p_new_conversation`, the answer marked `p_interrupted`) and then either
--   * keeps the token (`p_refund` NULL): the charge is settled and the reply
--     stored under its Idempotency-Key (`p_reply`, in format `p_reply_version`);
--   * or gives it back (`p_refund` is the refund row's id, `p_refund_metadata`
--     its metadata): an answer the upstream broke off is kept, but not paid
--     for; the key is released so a retry runs again.
-- `settled` is true when the charge was pending and is now finished as asked
-- (`balance` is then the balance after a refund), false when it was no longer
-- pending (the sweeper refunded it first: the answer was then free), NULL when
-- there is no such charge (its reservation never committed).
-- `conversation_id` is NULL when an existing conversation is no longer the user's.
--
-- Safe to call again with the same arguments after a connection broke: a
-- settled charge, or one refunded by this very refund, records nothing twice,
-- and the messages' ids make a repeated insert a no-op.
--
-- A settlement that keeps the token does not wait for its WAL flush: if
-- PostgreSQL itself crashes right after, the charge is found pending again and
-- refunded by the sweeper, an error only ever in the user's favour. Refunds
-- stay durable.
CREATE FUNCTION askgate_settle_charge(
    p_charge uuid, p_user uuid, p_conversation uuid, p_new_conversation boolean,
    p_service text, p_domain uuid, p_title text,
    p_question_id uuid, p_question text, p_answer_id uuid, p_answer text,
    p_key text, p_reply_version smallint, p_reply jsonb,
    p_interrupted boolean, p_refund uuid, p_refund_metadata jsonb
) RETURNS TABLE (settled boolean, conversation_id uuid, balance integer)
LANGUAGE plpgsql AS $$
DECLARE
    v_charge       record;
    v_pending      boolean;
    v_conversation uuid := p_conversation;
    v_balance      integer;
BEGIN
    IF p_refund IS NULL THEN
        PERFORM set_config('synchronous_commit', 'off', true);
    END IF;

    SELECT c.state, c.refund_id INTO v_charge FROM charges c WHERE c.id = p_charge FOR UPDATE;
    IF NOT FOUND THEN
        -- No such charge: its reservation never committed. Nothing to record.
        RETURN QUERY SELECT NULL::boolean, NULL::uuid, NULL::integer;
        RETURN;
    END IF;
    IF v_charge.state = 'settled' OR (p_refund IS NOT NULL AND v_charge.refund_id = p_refund) THEN
        -- A retry of a settlement whose answer was lost with its connection:
        -- it is recorded already.
        RETURN QUERY SELECT true,
            (SELECT cv.id FROM conversations cv WHERE cv.id = p_conversation AND cv.user_id = p_user),
            (SELECT u.tokens FROM users u WHERE u.id = p_user);
        RETURN;
    END IF;
    v_pending := v_charge.state = 'pending';

    IF p_new_conversation THEN
        INSERT INTO conversations (id, user_id, service_type, domain_id, title)
        VALUES (p_conversation, p_user, p_service, p_domain, p_title)
        ON CONFLICT (id) DO NOTHING;
        IF NOT FOUND AND NOT EXISTS
            (SELECT 1 FROM conversations cv WHERE cv.id = p_conversation AND cv.user_id = p_user) THEN
            v_conversation := NULL;
        END IF;
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
        VALUES (p_question_id, v_conversation, 'user', p_question)
        ON CONFLICT (id) DO NOTHING;
        INSERT INTO messages (id, conversation_id, author, content, interrupted)
        VALUES (p_answer_id, v_conversation, 'assistant', p_answer, p_interrupted)
        ON CONFLICT (id) DO NOTHING;
    END IF;

    IF v_pending AND p_refund IS NOT NULL THEN
        SELECT r.balance INTO v_balance
          FROM askgate_refund_charge(p_charge, p_refund, p_refund_metadata) r;
    ELSIF v_pending THEN
        UPDATE charges SET state = 'settled', finished_at = clock_timestamp() WHERE id = p_charge;
        IF p_key IS NOT NULL THEN
            UPDATE idempotency_keys
               SET state = 'completed', response_version = p_reply_version, response_body = p_reply,
                   completed_at = now()
             WHERE user_id = p_user AND key = p_key AND charge_id = p_charge AND state = 'in_progress';
        END IF;
    END IF;

    RETURN QUERY SELECT v_pending, v_conversation, v_balance;
END;
$$;

-- The settlement an earlier release calls, kept so that instances of both
-- releases can run side by side during an upgrade: a whole answer whose token
-- is kept.
DROP FUNCTION askgate_settle_charge(uuid, uuid, uuid, boolean, text, uuid, text, uuid, text, uuid, text, text, smallint, jsonb);
CREATE FUNCTION askgate_settle_charge(
    p_charge uuid, p_user uuid, p_conversation uuid, p_new_conversation boolean,
    p_service text, p_domain uuid, p_title text,
    p_question_id uuid, p_question text, p_answer_id uuid, p_answer text,
    p_key text, p_reply_version smallint, p_reply jsonb
) RETURNS TABLE (settled boolean, conversation_id uuid)
LANGUAGE sql AS $$
    SELECT s.settled, s.conversation_id
      FROM askgate_settle_charge(p_charge, p_user, p_conversation, p_new_conversation,
                                 p_service, p_domain, p_title, p_question_id, p_question,
                                 p_answer_id, p_answer, p_key, p_reply_version, p_reply,
                                 false, NULL, NULL) s;
$$;

-- Only the server calls these (it owns them); no other role may.
REVOKE ALL ON FUNCTION askgate_settle_charge(uuid, uuid, uuid, boolean, text, uuid, text, uuid, text, uuid, text, text, smallint, jsonb, boolean, uuid, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION askgate_settle_charge(uuid, uuid, uuid, boolean, text, uuid, text, uuid, text, uuid, text, text, smallint, jsonb) FROM PUBLIC;
