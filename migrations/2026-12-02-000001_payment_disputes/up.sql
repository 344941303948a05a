-- A dispute (chargeback) of a payment, followed to its outcome. Stripe opens it
-- (`charge.dispute.created`), and closes it won (`charge.dispute.closed` with
-- status `won`, `charge.dispute.funds_reinstated`) or lost; the events come in
-- any order and any number of times. An open dispute takes back the payment's
-- tokens (a `reversal` row), and a lost one leaves it so (`open` here: nothing
-- more happens); a won one gives back what the dispute took (an `adjustment`
-- row), once.
--
-- `taken`/`shortfall`: what the dispute's own reversal took, and what of its
-- share had already been spent; NULL while the dispute has not been applied
-- (the payment is not credited yet, or it was won before it was seen).
-- `restored`/`transaction_id`: what the won dispute gave back and its row.
CREATE TABLE payment_disputes (
    payment_intent_id text PRIMARY KEY,
    status            text NOT NULL CONSTRAINT payment_disputes_status_known CHECK (status IN ('open', 'won')),
    -- The reason written on the dispute's reversal row.
    reason            text NOT NULL DEFAULT 'dispute',
    taken             integer CONSTRAINT payment_disputes_taken_not_negative CHECK (taken >= 0),
    shortfall         integer CONSTRAINT payment_disputes_shortfall_not_negative CHECK (shortfall >= 0),
    restored          integer CONSTRAINT payment_disputes_restored_not_negative CHECK (restored >= 0),
    transaction_id    uuid UNIQUE REFERENCES transactions (id),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT payment_disputes_applied_together CHECK ((taken IS NULL) = (shortfall IS NULL))
);

-- How many of a payment's due tokens its refunds alone make due (the largest
-- refunded share seen), so a won dispute leaves the refunds' share taken.
ALTER TABLE purchase_reversals ADD COLUMN refunded_due integer NOT NULL DEFAULT 0;

-- What earlier versions recorded: a dispute already applied (its reversal rows
-- say `reason: dispute`, or it was the payment's first reversal) ...
INSERT INTO payment_disputes (payment_intent_id, status, taken, shortfall)
SELECT r.payment_intent_id, 'open',
       COALESCE(d.taken, 0),
       CASE WHEN d.taken IS NULL THEN r.shortfall ELSE d.shortfall END
  FROM purchase_reversals r
  LEFT JOIN (
        SELECT t.stripe_payment_intent_id AS pi,
               -SUM(t.amount)::integer AS taken,
               COALESCE(SUM((t.metadata ->> 'shortfall')::integer), 0)::integer AS shortfall
          FROM transactions t
         WHERE t.transaction_type = 'reversal' AND t.metadata ->> 'reason' = 'dispute'
         GROUP BY t.stripe_payment_intent_id
       ) d ON d.pi = r.payment_intent_id
 WHERE r.reason = 'dispute' OR d.pi IS NOT NULL;
UPDATE purchase_reversals r
   SET refunded_due = GREATEST(0, r.due - COALESCE(
        (SELECT d.taken + d.shortfall FROM payment_disputes d WHERE d.payment_intent_id = r.payment_intent_id), 0));
ALTER TABLE purchase_reversals
    ADD CONSTRAINT purchase_reversals_refunded_due_in_range CHECK (refunded_due BETWEEN 0 AND due);

-- ... and a dispute remembered before its payment's credit.
INSERT INTO payment_disputes (payment_intent_id, status)
SELECT payment_intent_id, 'open' FROM pending_reversals WHERE reason = 'dispute'
ON CONFLICT DO NOTHING;
DELETE FROM pending_reversals WHERE reason = 'dispute';

-- Server-side bookkeeping only: no Supabase role may read or write it.
ALTER TABLE payment_disputes ENABLE ROW LEVEL SECURITY;
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['anon', 'authenticated'] LOOP
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('REVOKE ALL ON TABLE payment_disputes FROM %I', r);
        END IF;
    END LOOP;
END;
$$;
