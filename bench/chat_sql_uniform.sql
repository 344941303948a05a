-- B2, uniform (a diagnostic between B1 and B3): every statement askgate sends
-- PostgreSQL for one AskAT&T chat in a new conversation, as the chat path binds
-- them (crates/postgres/src/charges.rs): the reservation (debit, consumption
-- row, pending charge; autocommit, durable), then the settlement (the
-- conversation, its two messages and the charge settled; its commit does not
-- wait for the WAL flush). Two round trips. The upstream call between them is
-- left out.
\set n random(1, 10000)
\set c1 random(1, 9223372036854775807)
\set c2 random(1, 9223372036854775807)
\set v1 random(1, 9223372036854775807)
\set v2 random(1, 9223372036854775807)
SELECT outcome, balance, response_body
FROM askgate_reserve_charge(bench_uuid(:c1, :c2), bench_uuid_v7(), bench_user(:n), 'askatt', NULL,
    jsonb_build_object('conversation_id', bench_uuid(:v1, :v2)), NULL, NULL);
SELECT settled, conversation_id
FROM askgate_settle_charge(bench_uuid(:c1, :c2), bench_user(:n), bench_uuid(:v1, :v2), true, 'askatt', NULL, 'hi',
    bench_uuid_v7(), 'hi', bench_uuid_v7(), 'ok', NULL, NULL, NULL);
