DROP FUNCTION askgate_settle_charge(uuid, uuid, uuid, boolean, text, uuid, text, uuid, text, uuid, text, text, smallint, jsonb);
DROP FUNCTION askgate_settle_charge(uuid, uuid, uuid, boolean, text, uuid, text, uuid, text, uuid, text, text, smallint, jsonb, boolean, uuid, jsonb);

-- Settles a reserved charge: records the exchange (creating the conversation
-- when `p_new_conversation`), marks the charge settled and stores the answer
-- under its Idempotency-Key (`p_reply`, in format `p_reply_version`). `settled` is false when the charge was no longer
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
    p_key text, p_reply_version smallint, p_reply jsonb
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
           SET state = 'completed', response_version = p_reply_version, response_body = p_reply,
               completed_at = now()
         WHERE user_id = p_user AND key = p_key AND charge_id = p_charge AND state = 'in_progress';
    END IF;

    RETURN QUERY SELECT v_settled, v_conversation;
END;
$$;

REVOKE ALL ON FUNCTION askgate_settle_charge(uuid, uuid, uuid, boolean, text, uuid, text, uuid, text, uuid, text, text, smallint, jsonb) FROM PUBLIC;

ALTER TABLE messages DROP CONSTRAINT messages_only_answers_interrupted;
ALTER TABLE messages DROP COLUMN interrupted;
