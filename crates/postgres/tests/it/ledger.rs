//! The ledger on a real PostgreSQL: each test has a database of its own, and
//! every scenario ends by checking `users.tokens = Σ transactions.amount`.
//! Chats spend tokens through charges (tests/it/charges.rs); here they are spent
//! with `testing::spend`.

use std::collections::HashSet;
use std::time::Duration;

use askgate_domain::ledger::{
    CreditKind, CreditRequest, DisputeWon, EntryKind, IdempotencyKey, LedgerEntry, PaymentOutcome,
    PurchaseCredit, PurchaseReversal, Recorded, RefundShare, ReversalCause, ServiceType,
};
use askgate_domain::page::PageRequest;
use askgate_domain::payment::{PaymentIntentId, StripeEventId};
use askgate_domain::ports::{BalanceError, Charges, CreditError, Ledger, Reservation, Reserved};
use askgate_domain::{ChargeId, ConversationId, Tokens, UserId};
use askgate_postgres::audit::audit;
use askgate_postgres::testing::{TestDatabase, spend, user_with};
use askgate_postgres::{PgCharges, PgLedger};
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use futures::future::join_all;
use serde_json::json;
use uuid::Uuid;

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", Uuid::now_v7().simple())
}

fn grant(user: UserId, tokens: i64, key: &str) -> CreditRequest {
    CreditRequest {
        user,
        kind: CreditKind::Grant,
        amount: Tokens::new(tokens).unwrap(),
        idempotency_key: IdempotencyKey::parse(key).unwrap(),
        metadata: json!({ "by": "test" }),
    }
}

fn purchase(user: UserId, pi: &str, tokens: i64, event: Option<&str>) -> PurchaseCredit {
    PurchaseCredit {
        user,
        payment_intent_id: PaymentIntentId::parse(pi).unwrap(),
        tokens: Tokens::new(tokens).unwrap(),
        event_id: event.map(|e| StripeEventId::parse(e).unwrap()),
        metadata: json!({ "package": tokens.to_string() }),
    }
}

fn reversal(pi: &str, event: &str) -> PurchaseReversal {
    PurchaseReversal {
        payment_intent_id: PaymentIntentId::parse(pi).unwrap(),
        event_id: Some(StripeEventId::parse(event).unwrap()),
        reason: "charge.refunded".to_owned(),
        cause: ReversalCause::Refund,
        share: None,
    }
}

fn dispute(pi: &str, event: &str) -> PurchaseReversal {
    PurchaseReversal {
        reason: "dispute".to_owned(),
        cause: ReversalCause::Dispute,
        ..reversal(pi, event)
    }
}

fn won(pi: &str, event: Option<&str>) -> DisputeWon {
    DisputeWon {
        payment_intent_id: PaymentIntentId::parse(pi).unwrap(),
        event_id: event.map(|e| StripeEventId::parse(e).unwrap()),
    }
}

fn partial(pi: &str, event: &str, refunded_cents: i64, paid_cents: i64) -> PurchaseReversal {
    PurchaseReversal {
        share: Some(RefundShare {
            refunded_cents,
            paid_cents,
        }),
        ..reversal(pi, event)
    }
}

/// The amount a reversal outcome took (0 when it wrote no row).
fn took(outcome: &PaymentOutcome) -> i32 {
    match outcome {
        PaymentOutcome::Applied(entry) => -entry.amount,
        _ => 0,
    }
}

async fn all_entries(ledger: &PgLedger, user: UserId) -> Vec<LedgerEntry> {
    ledger
        .history(user, PageRequest::parse(Some(100), None).unwrap())
        .await
        .unwrap()
        .items
}

fn count(entries: &[LedgerEntry], kind: EntryKind) -> usize {
    entries.iter().filter(|e| e.kind == kind).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_credits_with_one_key_credit_once() {
    let test_db = TestDatabase::with_max_connections(20).await;
    let db = test_db.database();
    let ledger = PgLedger::new(db.clone());
    let user = user_with(&db, 0).await;
    let key = unique("grant");

    let tasks = (0..20).map(|_| {
        let ledger = ledger.clone();
        let request = grant(user, 7, &key);
        tokio::spawn(async move { ledger.credit(&request).await })
    });
    let results: Vec<Recorded> = join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.unwrap().unwrap())
        .collect();

    let applied: Vec<_> = results.iter().filter(|r| r.was_applied()).collect();
    assert_eq!(applied.len(), 1);
    let original = applied[0].entry().id;
    assert!(results.iter().all(|r| r.entry().id == original));
    assert_eq!(ledger.balance(user).await.unwrap().get(), 7);
    assert_eq!(all_entries(&ledger, user).await.len(), 1);

    // A later retry is a duplicate too, and changes nothing.
    let again = ledger.credit(&grant(user, 7, &key)).await.unwrap();
    assert!(matches!(again, Recorded::Duplicate(e) if e.id == original));
    assert_eq!(ledger.balance(user).await.unwrap().get(), 7);
    test_db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn credit_and_balance_refuse_nothing_unknown_users_and_overflow() {
    let test_db = TestDatabase::new().await;
    let db = test_db.database();
    let ledger = PgLedger::new(db.clone());
    let user = user_with(&db, 0).await;

    let mut empty = grant(user, 1, &unique("k"));
    empty.amount = Tokens::ZERO;
    assert!(matches!(
        ledger.credit(&empty).await,
        Err(CreditError::EmptyCredit)
    ));
    assert!(matches!(
        ledger
            .credit(&grant(UserId::generate(), 5, &unique("k")))
            .await,
        Err(CreditError::UserNotFound)
    ));
    assert!(matches!(
        ledger.balance(UserId::generate()).await,
        Err(BalanceError::UserNotFound)
    ));
    ledger
        .credit(&grant(user, i64::from(i32::MAX), &unique("k")))
        .await
        .unwrap();
    let key = unique("k");
    assert!(matches!(
        ledger.credit(&grant(user, 1, &key)).await,
        Err(CreditError::Overflow)
    ));
    // The refused key was not used up.
    spend(&db, user, 1).await;
    assert!(
        ledger
            .credit(&grant(user, 1, &key))
            .await
            .unwrap()
            .was_applied()
    );
    test_db.assert_ledger_invariant().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_purchase_event_delivered_ten_times_at_once_credits_once() {
    let test_db = TestDatabase::with_max_connections(10).await;
    let db = test_db.database();
    let ledger = PgLedger::new(db.clone());
    let user = user_with(&db, 0).await;
    let pi = unique("pi");
    let event = unique("evt");

    let tasks = (0..10).map(|_| {
        let ledger = ledger.clone();
        let credit = purchase(user, &pi, 100, Some(&event));
        tokio::spawn(async move { ledger.credit_purchase(&credit).await })
    });
    let outcomes: Vec<PaymentOutcome> = join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.unwrap().unwrap())
        .collect();

    let applied: Vec<_> = outcomes
        .iter()
        .filter_map(|o| match o {
            PaymentOutcome::Applied(e) => Some(e),
            _ => None,
        })
        .collect();
    assert_eq!(applied.len(), 1);
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| **o == PaymentOutcome::DuplicateEvent)
            .count(),
        9
    );
    let credited = applied[0];
    assert_eq!(credited.kind, EntryKind::Purchase);
    assert_eq!(credited.amount, 100);
    assert_eq!(
        credited.stripe_payment_intent_id.as_deref(),
        Some(pi.as_str())
    );
    assert_eq!(
        credited.idempotency_key.as_deref(),
        Some(IdempotencyKey::for_payment(&PaymentIntentId::parse(&pi).unwrap()).as_str())
    );
    assert_eq!(credited.user_id, user);
    assert_eq!(ledger.balance(user).await.unwrap().get(), 100);
    test_db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn two_events_for_one_payment_credit_once_in_either_order() {
    let test_db = TestDatabase::new().await;
    let db = test_db.database();
    let ledger = PgLedger::new(db.clone());
    let user = user_with(&db, 0).await;

    for order in [["checkout", "intent"], ["intent", "checkout"]] {
        let pi = unique("pi");
        let first = format!("{}-{pi}", order[0]);
        let second = format!("{}-{pi}", order[1]);
        let outcome = ledger
            .credit_purchase(&purchase(user, &pi, 250, Some(&first)))
            .await
            .unwrap();
        assert!(matches!(outcome, PaymentOutcome::Applied(_)));
        let outcome = ledger
            .credit_purchase(&purchase(user, &pi, 250, Some(&second)))
            .await
            .unwrap();
        assert_eq!(outcome, PaymentOutcome::AlreadyApplied);
        // The second event was recorded even though it credited nothing.
        let outcome = ledger
            .credit_purchase(&purchase(user, &pi, 250, Some(&second)))
            .await
            .unwrap();
        assert_eq!(outcome, PaymentOutcome::DuplicateEvent);
        // Reconciliation (no event) finds it credited as well.
        let outcome = ledger
            .credit_purchase(&purchase(user, &pi, 250, None))
            .await
            .unwrap();
        assert_eq!(outcome, PaymentOutcome::AlreadyApplied);
    }
    assert_eq!(ledger.balance(user).await.unwrap().get(), 500);
    assert_eq!(
        count(&all_entries(&ledger, user).await, EntryKind::Purchase),
        2
    );
    test_db.assert_ledger_invariant().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_different_events_for_one_payment_at_once_credit_once() {
    let test_db = TestDatabase::with_max_connections(10).await;
    let db = test_db.database();
    let ledger = PgLedger::new(db.clone());
    let user = user_with(&db, 0).await;
    let pi = unique("pi");

    let tasks = (0..8).map(|i| {
        let ledger = ledger.clone();
        let credit = purchase(user, &pi, 600, Some(&format!("evt-{i}-{pi}")));
        tokio::spawn(async move { ledger.credit_purchase(&credit).await })
    });
    let outcomes: Vec<PaymentOutcome> = join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.unwrap().unwrap())
        .collect();

    let applied = outcomes
        .iter()
        .filter(|o| matches!(o, PaymentOutcome::Applied(_)))
        .count();
    let already = outcomes
        .iter()
        .filter(|o| **o == PaymentOutcome::AlreadyApplied)
        .count();
    assert_eq!((applied, already), (1, 7));
    assert_eq!(ledger.balance(user).await.unwrap().get(), 600);
    test_db.assert_ledger_invariant().await;
}

/// The payments recorded as orphaned: (payment intent, user, tokens).
async fn orphaned(test_db: &TestDatabase) -> Vec<(String, Uuid, i32)> {
    use diesel::sql_types::{Int4, Text, Uuid as SqlUuid};
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        payment_intent_id: String,
        #[diesel(sql_type = SqlUuid)]
        user_id: Uuid,
        #[diesel(sql_type = Int4)]
        tokens: i32,
    }
    let mut conn = AsyncPgConnection::establish(test_db.url()).await.unwrap();
    diesel_async::RunQueryDsl::load::<Row>(
        diesel::sql_query(
            "SELECT payment_intent_id, user_id, tokens FROM orphaned_payments ORDER BY created_at",
        ),
        &mut conn,
    )
    .await
    .unwrap()
    .into_iter()
    .map(|r| (r.payment_intent_id, r.user_id, r.tokens))
    .collect()
}

#[tokio::test]
async fn a_purchase_for_a_deleted_user_is_recorded_once_as_orphaned_and_credits_nothing() {
    let test_db = TestDatabase::new().await;
    let db = test_db.database();
    let ledger = PgLedger::new(db.clone());
    let user = user_with(&db, 0).await;
    let mut conn = AsyncPgConnection::establish(test_db.url()).await.unwrap();
    conn.batch_execute(&format!("DELETE FROM users WHERE id = '{user}'"))
        .await
        .unwrap();
    let pi = unique("pi");
    let event = unique("evt");

    let outcome = ledger
        .credit_purchase(&purchase(user, &pi, 100, Some(&event)))
        .await
        .unwrap();
    assert_eq!(outcome, PaymentOutcome::Orphaned { first: true });
    // The outcome is final: a redelivery of the event is a duplicate, another
    // event for the same payment finds it recorded already.
    let again = ledger
        .credit_purchase(&purchase(user, &pi, 100, Some(&event)))
        .await
        .unwrap();
    assert_eq!(again, PaymentOutcome::DuplicateEvent);
    let other = ledger
        .credit_purchase(&purchase(user, &pi, 100, Some(&unique("evt"))))
        .await
        .unwrap();
    assert_eq!(other, PaymentOutcome::Orphaned { first: false });
    let reconciled = ledger
        .credit_purchase(&purchase(user, &pi, 100, None))
        .await
        .unwrap();
    assert_eq!(reconciled, PaymentOutcome::Orphaned { first: false });

    assert_eq!(
        orphaned(&test_db).await,
        vec![(pi.clone(), user.as_uuid(), 100)]
    );
    // No purchase was recorded anywhere.
    let report = audit(&db, Duration::from_secs(60)).await.unwrap();
    assert_eq!(report.totals.sold, 0);
    assert!(report.is_clean(), "{report}");
    test_db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn partial_refunds_take_their_pro_rata_share_cumulatively_and_a_full_refund_the_rest() {
    let test_db = TestDatabase::new().await;
    let db = test_db.database();
    let ledger = PgLedger::new(db.clone());
    let user = user_with(&db, 0).await;
    let pi = unique("pi");
    ledger
        .credit_purchase(&purchase(user, &pi, 600, Some(&unique("evt"))))
        .await
        .unwrap();

    // $5 of $20 refunded: floor(600 × 500 ÷ 2000) = 150.
    let first = unique("evt");
    let quarter = ledger
        .reverse_purchase(&partial(&pi, &first, 500, 2000))
        .await
        .unwrap();
    assert_eq!(took(&quarter), 150);
    assert_eq!(
        ledger
            .reverse_purchase(&partial(&pi, &first, 500, 2000))
            .await
            .unwrap(),
        PaymentOutcome::DuplicateEvent
    );
    // A second refund brings the charge's refunded amount to $7.77: only the
    // additional share, floor(600 × 777 ÷ 2000) − 150 = 233 − 150 = 83.
    let second = ledger
        .reverse_purchase(&partial(&pi, &unique("evt"), 777, 2000))
        .await
        .unwrap();
    assert_eq!(took(&second), 83);
    // The first refund's event delivered again under another id (or late)
    // gives nothing more.
    assert_eq!(
        ledger
            .reverse_purchase(&partial(&pi, &unique("evt"), 500, 2000))
            .await
            .unwrap(),
        PaymentOutcome::AlreadyApplied
    );
    assert_eq!(ledger.balance(user).await.unwrap().get(), 600 - 233);

    // Spend some, then the rest is refunded: what is unspent of the 367 due.
    spend(&db, user, 30).await;
    let full = ledger
        .reverse_purchase(&reversal(&pi, &unique("evt")))
        .await
        .unwrap();
    assert_eq!(took(&full), 337);
    let PaymentOutcome::Applied(row) = &full else {
        panic!("{full:?}")
    };
    assert_eq!(row.metadata["shortfall"], 30);
    assert_eq!(ledger.balance(user).await.unwrap().get(), 0);
    // A dispute of the refunded charge takes nothing more.
    assert_eq!(
        ledger
            .reverse_purchase(&PurchaseReversal {
                reason: "charge.dispute.created".to_owned(),
                cause: ReversalCause::Dispute,
                ..reversal(&pi, &unique("evt"))
            })
            .await
            .unwrap(),
        PaymentOutcome::AlreadyApplied
    );
    let entries = all_entries(&ledger, user).await;
    assert_eq!(count(&entries, EntryKind::Reversal), 3);
    test_db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn partial_refunds_before_the_credit_take_back_the_largest_share_at_once() {
    let test_db = TestDatabase::new().await;
    let db = test_db.database();
    let ledger = PgLedger::new(db.clone());
    let user = user_with(&db, 10).await;
    let pi = unique("pi");

    // Delivered out of order: the later (larger) refund first.
    for (refunded, event) in [(1000, unique("evt")), (500, unique("evt"))] {
        assert_eq!(
            ledger
                .reverse_purchase(&partial(&pi, &event, refunded, 2000))
                .await
                .unwrap(),
            PaymentOutcome::NothingToDo
        );
    }
    let outcome = ledger
        .credit_purchase(&purchase(user, &pi, 600, Some(&unique("evt"))))
        .await
        .unwrap();
    let PaymentOutcome::AppliedThenReversed {
        reversal: Some(taken),
        ..
    } = &outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(taken.amount, -300);
    assert_eq!(ledger.balance(user).await.unwrap().get(), 10 + 300);
    // The rest refunded later takes the other half.
    let rest = ledger
        .reverse_purchase(&reversal(&pi, &unique("evt")))
        .await
        .unwrap();
    assert_eq!(took(&rest), 300);
    assert_eq!(ledger.balance(user).await.unwrap().get(), 10);
    test_db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn reversal_after_partial_spending_takes_only_the_unspent_tokens() {
    let test_db = TestDatabase::new().await;
    let db = test_db.database();
    let ledger = PgLedger::new(db.clone());
    let user = user_with(&db, 0).await;
    let pi = unique("pi");
    ledger
        .credit_purchase(&purchase(user, &pi, 100, Some(&unique("evt"))))
        .await
        .unwrap();
    spend(&db, user, 30).await;

    let refund_event = unique("evt");
    let outcome = ledger
        .reverse_purchase(&reversal(&pi, &refund_event))
        .await
        .unwrap();

    let PaymentOutcome::Applied(entry) = outcome else {
        panic!("expected the reversal to apply, got {outcome:?}");
    };
    assert_eq!(entry.kind, EntryKind::Reversal);
    assert_eq!(entry.amount, -70);
    assert_eq!(entry.balance_after, Tokens::ZERO);
    assert_eq!(entry.stripe_payment_intent_id.as_deref(), Some(pi.as_str()));
    assert_eq!(
        entry.idempotency_key.as_deref(),
        Some(IdempotencyKey::for_reversal(&PaymentIntentId::parse(&pi).unwrap()).as_str())
    );
    assert_eq!(
        entry.metadata,
        json!({ "reason": "charge.refunded", "purchased": 100, "reversed": 70, "shortfall": 30 })
    );
    assert_eq!(ledger.balance(user).await.unwrap(), Tokens::ZERO);

    // The same event again, and a dispute of the same payment: nothing more.
    assert_eq!(
        ledger
            .reverse_purchase(&reversal(&pi, &refund_event))
            .await
            .unwrap(),
        PaymentOutcome::DuplicateEvent
    );
    assert_eq!(
        ledger
            .reverse_purchase(&reversal(&pi, &unique("evt")))
            .await
            .unwrap(),
        PaymentOutcome::AlreadyApplied
    );
    assert_eq!(
        count(&all_entries(&ledger, user).await, EntryKind::Reversal),
        1
    );
    test_db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn a_reversal_with_every_token_spent_is_remembered_and_never_takes_later_purchases() {
    let test_db = TestDatabase::new().await;
    let db = test_db.database();
    let ledger = PgLedger::new(db.clone());
    let user = user_with(&db, 0).await;
    let first_pi = unique("pi");
    ledger
        .credit_purchase(&purchase(user, &first_pi, 10, Some(&unique("evt"))))
        .await
        .unwrap();
    spend(&db, user, 10).await;

    // Nothing can be taken: no row is written, but the reversal is remembered.
    assert_eq!(
        ledger
            .reverse_purchase(&reversal(&first_pi, &unique("evt")))
            .await
            .unwrap(),
        PaymentOutcome::NothingToDo
    );
    let second_pi = unique("pi");
    ledger
        .credit_purchase(&purchase(user, &second_pi, 50, Some(&unique("evt"))))
        .await
        .unwrap();
    assert_eq!(
        ledger
            .reverse_purchase(&reversal(&first_pi, &unique("evt")))
            .await
            .unwrap(),
        PaymentOutcome::AlreadyApplied
    );
    assert_eq!(ledger.balance(user).await.unwrap().get(), 50);
    assert_eq!(
        count(&all_entries(&ledger, user).await, EntryKind::Reversal),
        0
    );
    test_db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn a_refund_before_the_credit_is_remembered_and_takes_the_credit_back_at_once() {
    let test_db = TestDatabase::new().await;
    let db = test_db.database();
    let ledger = PgLedger::new(db.clone());
    let user = user_with(&db, 5).await;
    let pi = unique("pi");
    let event = unique("evt");

    assert_eq!(
        ledger
            .reverse_purchase(&reversal(&pi, &event))
            .await
            .unwrap(),
        PaymentOutcome::NothingToDo
    );
    assert_eq!(ledger.balance(user).await.unwrap().get(), 5);
    // The credit arrives later: applied and reversed in one transaction.
    let outcome = ledger
        .credit_purchase(&purchase(user, &pi, 100, Some(&unique("evt"))))
        .await
        .unwrap();
    let PaymentOutcome::AppliedThenReversed {
        credit,
        reversal: Some(taken),
    } = outcome
    else {
        panic!("expected the credit to be reversed at once, got {outcome:?}");
    };
    assert_eq!(credit.amount, 100);
    assert_eq!(taken.amount, -100);
    assert_eq!(taken.balance_after.get(), 5);
    assert_eq!(taken.metadata["reason"], "charge.refunded");
    assert_eq!(ledger.balance(user).await.unwrap().get(), 5);
    // A redelivery of the refund event changes nothing.
    assert_eq!(
        ledger
            .reverse_purchase(&reversal(&pi, &event))
            .await
            .unwrap(),
        PaymentOutcome::DuplicateEvent
    );
    assert_eq!(ledger.balance(user).await.unwrap().get(), 5);
    test_db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn a_dispute_before_the_credit_is_remembered_and_a_credit_without_event_id_is_taken_back() {
    let test_db = TestDatabase::new().await;
    let db = test_db.database();
    let ledger = PgLedger::new(db.clone());
    let user = user_with(&db, 0).await;
    let pi = unique("pi");
    let dispute = PurchaseReversal {
        reason: "charge.dispute.created".to_owned(),
        cause: ReversalCause::Dispute,
        ..reversal(&pi, &unique("evt"))
    };
    assert_eq!(
        ledger.reverse_purchase(&dispute).await.unwrap(),
        PaymentOutcome::NothingToDo
    );
    // A credit without an event id is what reconciliation sends.
    let outcome = ledger
        .credit_purchase(&purchase(user, &pi, 100, None))
        .await
        .unwrap();
    assert!(
        matches!(&outcome, PaymentOutcome::AppliedThenReversed { reversal: Some(r), .. } if r.amount == -100 && r.metadata["reason"] == "charge.dispute.created"),
        "{outcome:?}"
    );
    // Reconciling again finds the payment credited already.
    assert_eq!(
        ledger
            .credit_purchase(&purchase(user, &pi, 100, None))
            .await
            .unwrap(),
        PaymentOutcome::AlreadyApplied
    );
    assert_eq!(ledger.balance(user).await.unwrap().get(), 0);
    test_db.assert_ledger_invariant().await;
}

/// Every order of the given events, plus each order with one event delivered
/// again right after itself and once more at the end: `(kind, event id)`.
fn orders_with_duplicates(events: &[(char, String)]) -> Vec<Vec<(char, String)>> {
    fn permutations(items: &[(char, String)]) -> Vec<Vec<(char, String)>> {
        if items.len() <= 1 {
            return vec![items.to_vec()];
        }
        let mut all = Vec::new();
        for i in 0..items.len() {
            let mut rest = items.to_vec();
            let first = rest.remove(i);
            for mut tail in permutations(&rest) {
                tail.insert(0, first.clone());
                all.push(tail);
            }
        }
        all
    }
    let mut orders = Vec::new();
    for order in permutations(events) {
        orders.push(order.clone());
        for (i, event) in order.iter().enumerate() {
            let mut twice = order.clone();
            twice.insert(i + 1, event.clone());
            orders.push(twice);
            let mut late = order.clone();
            late.push(event.clone());
            orders.push(late);
        }
    }
    orders
}

/// `p` = the payment's event, `c` = reconciliation (a credit with no event
/// id), `r` = a refund or dispute of the whole payment with `reason`, `q` and
/// `h` = partial refunds bringing the refunded amount to a quarter and a half
/// of the charge, `d` = a dispute opened, `l` = the dispute closed lost (a
/// dispute event of its own), `w` = the dispute won. Every order ends at
/// `start + tokens − taken`, `taken` being what reversals took minus what won
/// disputes gave back.
async fn deliver_in_every_order(
    reason: &str,
    events: &[(char, &str)],
    start: i64,
    tokens: i64,
    taken: i64,
) {
    let test_db = TestDatabase::new().await;
    let db = test_db.database();
    let ledger = PgLedger::new(db.clone());
    let events: Vec<(char, String)> = events
        .iter()
        .map(|&(kind, event)| (kind, event.to_owned()))
        .collect();
    let orders = orders_with_duplicates(&events);
    assert!(orders.len() >= 10, "{} orders", orders.len());
    for order in orders {
        let user = user_with(&db, start).await;
        // A fresh payment and event ids per order; stable within one order.
        let pi = unique("pi");
        let suffix = unique("_");
        for (kind, event) in &order {
            let event = format!("{event}{suffix}");
            match kind {
                'p' => {
                    ledger
                        .credit_purchase(&purchase(user, &pi, tokens, Some(&event)))
                        .await
                        .unwrap();
                }
                'c' => {
                    ledger
                        .credit_purchase(&purchase(user, &pi, tokens, None))
                        .await
                        .unwrap();
                }
                'r' => {
                    ledger
                        .reverse_purchase(&PurchaseReversal {
                            reason: reason.to_owned(),
                            cause: if reason.contains("dispute") {
                                ReversalCause::Dispute
                            } else {
                                ReversalCause::Refund
                            },
                            ..reversal(&pi, &event)
                        })
                        .await
                        .unwrap();
                }
                'q' | 'h' => {
                    let refunded = if *kind == 'q' { 500 } else { 1000 };
                    ledger
                        .reverse_purchase(&partial(&pi, &event, refunded, 2000))
                        .await
                        .unwrap();
                }
                'd' | 'l' => {
                    ledger
                        .reverse_purchase(&dispute(&pi, &event))
                        .await
                        .unwrap();
                }
                'w' => {
                    ledger
                        .restore_disputed(&DisputeWon {
                            payment_intent_id: PaymentIntentId::parse(&pi).unwrap(),
                            event_id: Some(StripeEventId::parse(&event).unwrap()),
                        })
                        .await
                        .unwrap();
                }
                other => panic!("unknown event kind {other}"),
            }
        }
        let entries = all_entries(&ledger, user).await;
        let end = start + tokens - taken;
        assert_eq!(
            i64::from(ledger.balance(user).await.unwrap().get()),
            end,
            "order {order:?}"
        );
        assert_eq!(count(&entries, EntryKind::Purchase), 1, "order {order:?}");
        let reversed: i64 = entries
            .iter()
            .filter(|e| e.kind == EntryKind::Reversal)
            .map(|e| -i64::from(e.amount))
            .sum();
        let restored: i64 = entries
            .iter()
            .filter(|e| e.kind == EntryKind::Adjustment)
            .map(|e| i64::from(e.amount))
            .sum();
        assert!(
            count(&entries, EntryKind::Adjustment) <= 1,
            "order {order:?}"
        );
        assert_eq!(reversed - restored, taken, "order {order:?}");
        let sum: i64 = entries.iter().map(|e| i64::from(e.amount)).sum();
        assert_eq!(sum, end, "order {order:?}");
    }
    test_db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn purchase_and_refund_in_every_order_with_duplicates_end_at_the_same_balance() {
    let events = [('p', "evt_paid"), ('r', "evt_refund")];
    deliver_in_every_order("charge.refunded", &events, 7, 100, 100).await;
}

#[tokio::test]
async fn purchase_dispute_and_reconcile_in_every_order_with_duplicates_end_at_the_same_balance() {
    let events = [('p', "evt_paid"), ('r', "evt_dispute"), ('c', "reconcile")];
    deliver_in_every_order("charge.dispute.created", &events, 3, 250, 250).await;
}

#[tokio::test]
async fn purchase_and_two_partial_refunds_in_every_order_with_duplicates_end_at_the_same_balance() {
    let events = [('p', "evt_paid"), ('q', "evt_quarter"), ('h', "evt_half")];
    // Half of 600 tokens, however the two refunds arrive.
    deliver_in_every_order("charge.refunded", &events, 7, 600, 300).await;
}

#[tokio::test]
async fn purchase_partial_refund_and_dispute_in_every_order_with_duplicates_end_at_the_same_balance()
 {
    let events = [
        ('p', "evt_paid"),
        ('q', "evt_quarter"),
        ('r', "evt_dispute"),
    ];
    deliver_in_every_order("charge.dispute.created", &events, 5, 600, 600).await;
}

#[tokio::test]
async fn purchase_dispute_and_its_win_in_every_order_with_duplicates_end_where_they_began() {
    let events = [('p', "evt_paid"), ('d', "evt_dispute"), ('w', "evt_won")];
    // Won: the buyer keeps the 250 tokens, however the events arrive.
    deliver_in_every_order("dispute", &events, 3, 250, 0).await;
}

#[tokio::test]
async fn a_won_dispute_closed_twice_and_reconciled_in_every_order_gives_back_once() {
    let events = [
        ('p', "evt_paid"),
        ('d', "evt_dispute"),
        ('w', "evt_closed_won"),
        ('w', "evt_funds_reinstated"),
    ];
    deliver_in_every_order("dispute", &events, 3, 250, 0).await;
}

#[tokio::test]
async fn purchase_dispute_and_its_loss_in_every_order_with_duplicates_take_everything() {
    let events = [
        ('p', "evt_paid"),
        ('d', "evt_dispute"),
        ('l', "evt_closed_lost"),
    ];
    deliver_in_every_order("dispute", &events, 3, 250, 250).await;
}

#[tokio::test]
async fn a_partial_refund_and_a_won_dispute_in_every_order_leave_the_refunds_share_taken() {
    let events = [
        ('p', "evt_paid"),
        ('q', "evt_quarter"),
        ('d', "evt_dispute"),
        ('w', "evt_won"),
    ];
    // A quarter of 600 tokens was refunded; the dispute's part comes back.
    deliver_in_every_order("dispute", &events, 5, 600, 150).await;
}

#[tokio::test]
async fn a_won_dispute_then_a_full_refund_in_every_order_take_everything_once() {
    let events = [
        ('c', "reconcile"),
        ('d', "evt_dispute"),
        ('w', "evt_won"),
        ('r', "evt_refund"),
    ];
    deliver_in_every_order("refund", &events, 5, 600, 600).await;
}

#[tokio::test]
async fn a_won_dispute_gives_back_what_it_took_and_not_what_was_spent() {
    let test_db = TestDatabase::new().await;
    let db = test_db.database();
    let ledger = PgLedger::new(db.clone());
    let user = user_with(&db, 0).await;
    let pi = unique("pi");
    ledger
        .credit_purchase(&purchase(user, &pi, 100, Some(&unique("evt"))))
        .await
        .unwrap();
    spend(&db, user, 30).await;
    let taken = ledger
        .reverse_purchase(&dispute(&pi, &unique("evt")))
        .await
        .unwrap();
    assert_eq!(took(&taken), 70);
    assert_eq!(ledger.balance(user).await.unwrap().get(), 0);

    let outcome = ledger
        .restore_disputed(&won(&pi, Some(&unique("evt"))))
        .await
        .unwrap();

    let PaymentOutcome::Applied(restored) = outcome else {
        panic!("expected the dispute's tokens back, got {outcome:?}");
    };
    assert_eq!(restored.kind, EntryKind::Adjustment);
    assert_eq!(restored.amount, 70);
    assert_eq!(restored.balance_after.get(), 70);
    assert_eq!(
        restored.stripe_payment_intent_id.as_deref(),
        Some(pi.as_str())
    );
    assert_eq!(restored.metadata["reason"], "dispute_won");
    // Another won event (funds reinstated), or reconciliation, gives nothing more.
    assert_eq!(
        ledger
            .restore_disputed(&won(&pi, Some(&unique("evt"))))
            .await
            .unwrap(),
        PaymentOutcome::AlreadyApplied
    );
    assert_eq!(
        ledger.restore_disputed(&won(&pi, None)).await.unwrap(),
        PaymentOutcome::AlreadyApplied
    );
    // A late redelivery of the dispute takes nothing either.
    assert_eq!(
        ledger
            .reverse_purchase(&dispute(&pi, &unique("evt")))
            .await
            .unwrap(),
        PaymentOutcome::NothingToDo
    );
    assert_eq!(ledger.balance(user).await.unwrap().get(), 70);
    test_db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn a_won_dispute_gives_back_only_the_disputes_part_after_a_partial_refund() {
    let test_db = TestDatabase::new().await;
    let db = test_db.database();
    let ledger = PgLedger::new(db.clone());
    let user = user_with(&db, 0).await;
    let pi = unique("pi");
    ledger
        .credit_purchase(&purchase(user, &pi, 600, Some(&unique("evt"))))
        .await
        .unwrap();
    // Spend all but 100, then a quarter refund is due 150: 100 taken, 50 short.
    spend(&db, user, 500).await;
    let quarter = ledger
        .reverse_purchase(&partial(&pi, &unique("evt"), 500, 2000))
        .await
        .unwrap();
    assert_eq!(took(&quarter), 100);
    // Tokens bought later, then the dispute takes the remaining 450.
    ledger
        .credit(&grant(user, 1000, &unique("grant")))
        .await
        .unwrap();
    let disputed = ledger
        .reverse_purchase(&dispute(&pi, &unique("evt")))
        .await
        .unwrap();
    assert_eq!(took(&disputed), 450);
    assert_eq!(ledger.balance(user).await.unwrap().get(), 550);

    let outcome = ledger
        .restore_disputed(&won(&pi, Some(&unique("evt"))))
        .await
        .unwrap();

    // Exactly what the dispute took; the refund's share stays taken.
    let PaymentOutcome::Applied(restored) = outcome else {
        panic!("expected the dispute's tokens back, got {outcome:?}");
    };
    assert_eq!(restored.amount, 450);
    assert_eq!(ledger.balance(user).await.unwrap().get(), 1000);
    // The rest of the payment refunded later: taken back as any refund.
    let rest = ledger
        .reverse_purchase(&reversal(&pi, &unique("evt")))
        .await
        .unwrap();
    assert_eq!(took(&rest), 450);
    assert_eq!(ledger.balance(user).await.unwrap().get(), 550);
    test_db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn a_dispute_won_before_it_was_seen_takes_nothing_when_it_arrives() {
    let test_db = TestDatabase::new().await;
    let db = test_db.database();
    let ledger = PgLedger::new(db.clone());
    let user = user_with(&db, 0).await;
    let pi = unique("pi");
    ledger
        .credit_purchase(&purchase(user, &pi, 100, Some(&unique("evt"))))
        .await
        .unwrap();

    assert_eq!(
        ledger
            .restore_disputed(&won(&pi, Some(&unique("evt"))))
            .await
            .unwrap(),
        PaymentOutcome::NothingToDo
    );
    assert_eq!(
        ledger
            .reverse_purchase(&dispute(&pi, &unique("evt")))
            .await
            .unwrap(),
        PaymentOutcome::NothingToDo
    );

    assert_eq!(ledger.balance(user).await.unwrap().get(), 100);
    let entries = all_entries(&ledger, user).await;
    assert_eq!(count(&entries, EntryKind::Reversal), 0);
    assert_eq!(count(&entries, EntryKind::Adjustment), 0);
    test_db.assert_ledger_invariant().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_reversals_and_chat_reservations_never_go_below_zero() {
    let test_db = TestDatabase::with_max_connections(20).await;
    let db = test_db.database();
    let ledger = PgLedger::new(db.clone());
    let charges = std::sync::Arc::new(PgCharges::new(db.clone()));
    let user = user_with(&db, 0).await;
    let pi = unique("pi");
    ledger
        .credit_purchase(&purchase(user, &pi, 40, Some(&unique("evt"))))
        .await
        .unwrap();

    let debits = (0..40).map(|_| {
        let charges = std::sync::Arc::clone(&charges);
        tokio::spawn(async move {
            let reservation = Reservation {
                charge: ChargeId::generate(),
                user,
                service: ServiceType::AskAtt,
                domain: None,
                conversation: ConversationId::generate(),
                idempotency: None,
                api_key: None,
            };
            matches!(
                charges.reserve(&reservation, Duration::ZERO).await,
                Ok(Reserved::Held { .. })
            )
        })
    });
    let reversals = (0..5).map(|_| {
        let ledger = ledger.clone();
        let r = reversal(&pi, &unique("evt"));
        tokio::spawn(async move { ledger.reverse_purchase(&r).await.unwrap() })
    });
    let (spent, reversed) = tokio::join!(join_all(debits), join_all(reversals));
    let spent = spent.into_iter().filter(|ok| *ok.as_ref().unwrap()).count();
    let taken: i32 = reversed
        .into_iter()
        .map(|o| match o.unwrap() {
            PaymentOutcome::Applied(e) => -e.amount,
            _ => 0,
        })
        .sum();

    assert_eq!(i32::try_from(spent).unwrap() + taken, 40);
    assert_eq!(ledger.balance(user).await.unwrap(), Tokens::ZERO);
    test_db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn the_ledger_is_append_only_at_the_database() {
    let test_db = TestDatabase::new().await;
    let db = test_db.database();
    let ledger = PgLedger::new(db.clone());
    let user = user_with(&db, 5).await;

    let mut conn = AsyncPgConnection::establish(test_db.url()).await.unwrap();
    let update = conn
        .batch_execute("UPDATE transactions SET amount = 1000000")
        .await
        .unwrap_err();
    assert!(update.to_string().contains("append-only"), "{update}");
    let delete = conn
        .batch_execute("DELETE FROM transactions")
        .await
        .unwrap_err();
    assert!(delete.to_string().contains("append-only"), "{delete}");
    let truncate = conn
        .batch_execute("TRUNCATE transactions CASCADE")
        .await
        .unwrap_err();
    assert!(truncate.to_string().contains("append-only"), "{truncate}");

    assert_eq!(ledger.balance(user).await.unwrap().get(), 5);
    assert_eq!(all_entries(&ledger, user).await.len(), 1);
    test_db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn history_is_newest_first_with_a_cursor_and_a_bounded_page() {
    let test_db = TestDatabase::new().await;
    let db = test_db.database();
    let ledger = PgLedger::new(db.clone());
    let user = user_with(&db, 24).await;
    let other = user_with(&db, 3).await;
    spend(&db, user, 24).await;

    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let request = PageRequest::parse(Some(10), cursor.as_deref()).unwrap();
        let page = ledger.history(user, request).await.unwrap();
        assert!(page.items.len() <= 10);
        pages.push(page.items.len());
        let items = page.items;
        cursor = page.next_cursor;
        for pair in items.windows(2) {
            assert!((pair[0].created_at, pair[0].id) > (pair[1].created_at, pair[1].id));
        }
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(pages, vec![10, 10, 5]);

    let everything = all_entries(&ledger, user).await;
    assert_eq!(everything.len(), 25);
    assert_eq!(everything[0].balance_after, Tokens::ZERO); // the newest chat's
    assert_eq!(everything[24].kind, EntryKind::Grant); // the oldest row
    assert!(everything.iter().all(|e| e.user_id == user));
    let unique_ids: HashSet<_> = everything.iter().map(|e| e.id).collect();
    assert_eq!(unique_ids.len(), 25);

    // Exactly one full page: no next cursor.
    let exact = ledger
        .history(other, PageRequest::parse(Some(1), None).unwrap())
        .await
        .unwrap();
    assert_eq!(exact.items.len(), 1);
    assert_eq!(exact.next_cursor, None);
    // The default page is 20 items.
    let default = ledger.history(user, PageRequest::default()).await.unwrap();
    assert_eq!(default.items.len(), 20);
    assert!(default.next_cursor.is_some());
    // No rows: an empty last page.
    let empty = ledger
        .history(UserId::generate(), PageRequest::default())
        .await
        .unwrap();
    assert!(empty.items.is_empty() && empty.next_cursor.is_none());
    test_db.assert_ledger_invariant().await;
}
