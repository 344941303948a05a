//! Chat charges on a real PostgreSQL: reserve → settle or refund, recovery of
//! charges whose process died, the Idempotency-Key rules, the database's own
//! guard of the ledger invariant and the whole-ledger audit.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use askgate_domain::conversation::ChatMessage;
use askgate_domain::domain::{DisplayName, DomainConfiguration, DomainSlug, NewDomain};
use askgate_domain::ledger::{
    CreditKind, CreditRequest, EntryKind, IdempotencyKey, LedgerEntry, PurchaseCredit,
    PurchaseReversal, ReversalCause, ServiceType,
};
use askgate_domain::page::PageRequest;
use askgate_domain::payment::{PaymentIntentId, StripeEventId};
use askgate_domain::ports::{
    AnswerEnd, Charges, DomainRepository, ExchangeTarget, Ledger, Reservation, ReserveError,
    Reserved, SettleOutcome, Settlement, StoredReply,
};
use askgate_domain::{ChargeId, ConversationId, Tokens, UserId};
use askgate_postgres::audit::audit;
use askgate_postgres::testing::{TestDatabase, user_with};
use askgate_postgres::{Database, PgCharges, PgDomains, PgLedger};
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use futures::future::join_all;
use serde_json::json;
use uuid::Uuid;

const NO_WAIT: Duration = Duration::ZERO;
const WINDOW: Duration = Duration::from_secs(60);

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", Uuid::now_v7().simple())
}

async fn grant(db: &Database, user: UserId, tokens: i64) {
    PgLedger::new(db.clone())
        .credit(&CreditRequest {
            user,
            kind: CreditKind::Grant,
            amount: Tokens::new(tokens).unwrap(),
            idempotency_key: IdempotencyKey::parse(&unique("grant")).unwrap(),
            metadata: json!({}),
        })
        .await
        .unwrap();
}

async fn balance(db: &Database, user: UserId) -> i64 {
    i64::from(PgLedger::new(db.clone()).balance(user).await.unwrap().get())
}

/// The user's ledger rows, newest first.
async fn entries(db: &Database, user: UserId) -> Vec<LedgerEntry> {
    PgLedger::new(db.clone())
        .history(user, PageRequest::parse(Some(100), None).unwrap())
        .await
        .unwrap()
        .items
}

/// The format version replies are settled with: not 1, so that an adapter
/// which wrote a fixed version instead of the one given would show.
const REPLY_FORMAT: u16 = 2;

fn key(raw: &str) -> IdempotencyKey {
    IdempotencyKey::parse(raw).unwrap()
}

fn reservation<'a>(
    user: UserId,
    idempotency: Option<(&'a IdempotencyKey, &'a str)>,
) -> Reservation<'a> {
    Reservation {
        charge: ChargeId::generate(),
        user,
        service: ServiceType::AskAtt,
        domain: None,
        conversation: ConversationId::generate(),
        idempotency,
        api_key: None,
    }
}

async fn settle(
    charges: &PgCharges,
    r: &Reservation<'_>,
    answer: &str,
    key: Option<&IdempotencyKey>,
) -> askgate_domain::ports::Settled {
    settle_ending(charges, r, answer, key, AnswerEnd::Complete).await
}

async fn settle_ending(
    charges: &PgCharges,
    r: &Reservation<'_>,
    answer: &str,
    key: Option<&IdempotencyKey>,
    end: AnswerEnd<'_>,
) -> askgate_domain::ports::Settled {
    let question = ChatMessage::parse("what is the answer?").unwrap();
    let reply = StoredReply::new(REPLY_FORMAT, json!({ "response": answer }));
    charges
        .settle(&Settlement {
            charge: r.charge,
            user: r.user,
            service: r.service,
            domain: None,
            target: ExchangeTarget::New(r.conversation),
            question: &question,
            answer,
            idempotency: key.map(|k| (k, &reply)),
            end,
        })
        .await
        .unwrap()
}

/// The conversation's messages as (author, content, interrupted), oldest first.
async fn messages(db: &TestDatabase, conversation: ConversationId) -> Vec<(String, String, bool)> {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        author: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        content: String,
        #[diesel(sql_type = diesel::sql_types::Bool)]
        interrupted: bool,
    }
    let mut conn = AsyncPgConnection::establish(db.url()).await.unwrap();
    diesel_async::RunQueryDsl::load::<Row>(
        diesel::sql_query(
            "SELECT author, content, interrupted FROM messages WHERE conversation_id = $1 \
             ORDER BY created_at, id",
        )
        .bind::<diesel::sql_types::Uuid, _>(conversation.as_uuid()),
        &mut conn,
    )
    .await
    .unwrap()
    .into_iter()
    .map(|r| (r.author, r.content, r.interrupted))
    .collect()
}

async fn sql(db: &TestDatabase, statement: &str) -> Result<(), String> {
    let mut conn = AsyncPgConnection::establish(db.url()).await.unwrap();
    conn.batch_execute(statement)
        .await
        .map_err(|e| e.to_string())
}

/// Makes every pending charge look `age` old, as if its process died then.
async fn age_pending_charges(db: &TestDatabase, age: &str) {
    sql(
        db,
        &format!(
            "UPDATE charges SET created_at = now() - interval '{age}' WHERE state = 'pending'"
        ),
    )
    .await
    .unwrap();
}

async fn assert_audit_clean(db: &TestDatabase) {
    let report = audit(&db.database(), WINDOW).await.unwrap();
    assert!(report.is_clean(), "{report}");
}

// --- reserve → settle / refund ----------------------------------------------

#[tokio::test]
async fn a_settled_charge_costs_one_token_and_records_the_exchange() {
    let db = TestDatabase::new().await;
    let charges = PgCharges::new(db.database());
    let ann = user_with(&db.database(), 2).await;
    let r = reservation(ann, None);
    assert_eq!(
        charges.reserve(&r, NO_WAIT).await.unwrap(),
        Reserved::Held {
            balance_after: Tokens::ONE
        }
    );
    let settled = settle(&charges, &r, "42", None).await;
    assert_eq!(settled.outcome, SettleOutcome::Charged);
    assert_eq!(settled.conversation, Some(r.conversation));
    // A settlement tried again (its connection broke) records nothing twice.
    assert_eq!(settle(&charges, &r, "42", None).await, settled);
    assert_eq!(balance(&db.database(), ann).await, 1);
    // The consumption row names its conversation and its charge.
    let mut conn = AsyncPgConnection::establish(db.url()).await.unwrap();
    conn.batch_execute(&format!(
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM transactions
            WHERE transaction_type = 'consumption'
              AND metadata->>'conversation_id' = '{}' AND metadata->>'charge_id' = '{}')
         THEN RAISE EXCEPTION 'consumption does not name its conversation'; END IF;
         IF (SELECT count(*) FROM messages WHERE conversation_id = '{}') <> 2
         THEN RAISE EXCEPTION 'exchange not recorded'; END IF; END $$",
        r.conversation, r.charge, r.conversation
    ))
    .await
    .unwrap();
    // Settling again changes nothing.
    assert_eq!(charges.refund(r.charge, "late").await.unwrap(), None);
    assert_eq!(balance(&db.database(), ann).await, 1);
    db.assert_ledger_invariant().await;
    assert_audit_clean(&db).await;
}

#[tokio::test]
async fn a_broken_off_answer_is_kept_interrupted_and_its_token_given_back_once() {
    let db = TestDatabase::new().await;
    let charges = PgCharges::new(db.database());
    let ann = user_with(&db.database(), 2).await;
    let k = key("k-broken");
    let r = reservation(ann, Some((&k, "body")));
    charges.reserve(&r, NO_WAIT).await.unwrap();
    let end = AnswerEnd::BrokenOff {
        reason: "upstream_failed",
    };
    let settled = settle_ending(&charges, &r, "the first half", Some(&k), end).await;
    assert_eq!(
        settled.outcome,
        SettleOutcome::Refunded {
            balance_after: Tokens::new(2).unwrap()
        }
    );
    assert_eq!(settled.conversation, Some(r.conversation));
    assert_eq!(balance(&db.database(), ann).await, 2);
    let refund = &entries(&db.database(), ann).await[0];
    assert_eq!(refund.kind, EntryKind::Refund);
    assert_eq!(refund.metadata["reason"], "upstream_failed");
    assert_eq!(
        messages(&db, r.conversation).await,
        [
            ("user".into(), "what is the answer?".into(), false),
            ("assistant".into(), "the first half".into(), true),
        ]
    );
    // The key is released: a retry runs afresh, and pays afresh.
    let retry = reservation(ann, Some((&k, "body")));
    assert!(matches!(
        charges.reserve(&retry, NO_WAIT).await.unwrap(),
        Reserved::Held { balance_after } if balance_after.get() == 1
    ));
    // Nothing more is refunded for the first charge.
    assert_eq!(charges.refund(r.charge, "late").await.unwrap(), None);
    db.assert_ledger_invariant().await;
    assert_audit_clean(&db).await;
}

#[tokio::test]
async fn an_answer_whose_client_left_is_kept_interrupted_and_paid_for() {
    let db = TestDatabase::new().await;
    let charges = PgCharges::new(db.database());
    let ann = user_with(&db.database(), 1).await;
    let k = key("k-left");
    let r = reservation(ann, Some((&k, "body")));
    charges.reserve(&r, NO_WAIT).await.unwrap();
    let settled = settle_ending(
        &charges,
        &r,
        "as far as it got",
        Some(&k),
        AnswerEnd::ClientLeft,
    )
    .await;
    assert_eq!(settled.outcome, SettleOutcome::Charged);
    assert_eq!(balance(&db.database(), ann).await, 0);
    assert_eq!(
        messages(&db, r.conversation).await[1],
        ("assistant".into(), "as far as it got".into(), true)
    );
    // A retry is answered with what was stored, free.
    let retry = reservation(ann, Some((&k, "body")));
    assert!(matches!(
        charges.reserve(&retry, NO_WAIT).await.unwrap(),
        Reserved::Replay(reply) if reply.body()["response"] == "as far as it got"
    ));
    db.assert_ledger_invariant().await;
    assert_audit_clean(&db).await;
}

#[tokio::test]
async fn settling_a_charge_that_was_never_reserved_records_nothing() {
    let db = TestDatabase::new().await;
    let charges = PgCharges::new(db.database());
    let ann = user_with(&db.database(), 1).await;
    // As when a reservation answered but its commit was lost with the connection.
    let r = reservation(ann, None);
    let settled = settle(&charges, &r, "free?", None).await;
    assert_eq!(settled.outcome, SettleOutcome::NeverReserved);
    assert_eq!(settled.conversation, None);
    assert_eq!(balance(&db.database(), ann).await, 1);
    assert_audit_clean(&db).await;
}

#[tokio::test]
async fn a_refunded_charge_gives_the_token_back_once() {
    let db = TestDatabase::new().await;
    let charges = PgCharges::new(db.database());
    let ann = user_with(&db.database(), 1).await;
    let r = reservation(ann, None);
    charges.reserve(&r, NO_WAIT).await.unwrap();
    assert_eq!(balance(&db.database(), ann).await, 0);
    assert_eq!(
        charges.refund(r.charge, "upstream_failed").await.unwrap(),
        Some(Tokens::ONE)
    );
    assert_eq!(
        charges.refund(r.charge, "upstream_failed").await.unwrap(),
        None
    );
    // A refunded charge cannot be settled into a charge again.
    assert_eq!(
        settle(&charges, &r, "too late", None).await.outcome,
        SettleOutcome::AlreadyRefunded
    );
    assert_eq!(balance(&db.database(), ann).await, 1);
    db.assert_ledger_invariant().await;
    assert_audit_clean(&db).await;
}

#[tokio::test]
async fn no_tokens_means_no_charge_and_no_claim_left_behind() {
    let db = TestDatabase::new().await;
    let charges = PgCharges::new(db.database());
    let ann = user_with(&db.database(), 0).await;
    let k = key("k-broke");
    let r = reservation(ann, Some((&k, "body")));
    assert!(matches!(
        charges.reserve(&r, NO_WAIT).await,
        Err(ReserveError::InsufficientTokens { balance }) if balance.is_zero()
    ));
    assert!(entries(&db.database(), ann).await.is_empty());
    // After buying, the same key is free to use.
    grant(&db.database(), ann, 1).await;
    let r = reservation(ann, Some((&k, "body")));
    assert!(matches!(
        charges.reserve(&r, NO_WAIT).await.unwrap(),
        Reserved::Held { .. }
    ));
    let unknown = reservation(UserId::generate(), None);
    assert!(matches!(
        charges.reserve(&unknown, NO_WAIT).await,
        Err(ReserveError::UserNotFound)
    ));
    db.assert_ledger_invariant().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_reservations_against_fifty_tokens_hold_exactly_fifty() {
    let db = TestDatabase::with_max_connections(20).await;
    let charges = Arc::new(PgCharges::new(db.database()));
    let ann = user_with(&db.database(), 50).await;
    let outcomes = join_all((0..200).map(|_| {
        let charges = Arc::clone(&charges);
        tokio::spawn(async move {
            let r = reservation(ann, None);
            charges.reserve(&r, NO_WAIT).await
        })
    }))
    .await
    .into_iter()
    .map(Result::unwrap)
    .collect::<Vec<_>>();
    let balances_after: HashSet<i32> = outcomes
        .iter()
        .filter_map(|o| match o {
            Ok(Reserved::Held { balance_after }) => Some(balance_after.get()),
            _ => None,
        })
        .collect();
    let refused = outcomes
        .iter()
        .filter(
            |o| matches!(o, Err(ReserveError::InsufficientTokens { balance }) if balance.is_zero()),
        )
        .count();
    // Each token held once: every balance from 49 down to 0 seen exactly once.
    assert_eq!(balances_after, (0..50).collect::<HashSet<_>>());
    assert_eq!(refused, 150);
    assert_eq!(balance(&db.database(), ann).await, 0);
    let consumed: Vec<_> = entries(&db.database(), ann)
        .await
        .into_iter()
        .filter(|e| e.kind == EntryKind::Consumption)
        .collect();
    assert_eq!(consumed.len(), 50);
    assert!(
        consumed
            .iter()
            .all(|e| e.amount == -1 && e.service_type == Some(ServiceType::AskAtt))
    );
    db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn a_reservation_records_its_service_domain_conversation_and_charge() {
    let db = TestDatabase::new().await;
    let charges = PgCharges::new(db.database());
    let ann = user_with(&db.database(), 2).await;
    let domain = PgDomains::new(db.database())
        .create(
            &NewDomain {
                name: DomainSlug::parse("hr-policies").unwrap(),
                display_name: DisplayName::parse("HR policies").unwrap(),
                description: None,
                api_endpoint: None,
                configuration: DomainConfiguration::empty(),
                is_active: true,
                allowed_roles: askgate_domain::domain::AllowedRoles::everyone(),
            },
            ann,
            &askgate_domain::audit::AuditStamp {
                actor: ann,
                request_id: None,
            },
        )
        .await
        .unwrap();
    let r = Reservation {
        service: ServiceType::AskDocs,
        domain: Some(domain.id),
        ..reservation(ann, None)
    };
    charges.reserve(&r, NO_WAIT).await.unwrap();

    let newest = entries(&db.database(), ann).await.remove(0);
    assert_eq!(newest.kind, EntryKind::Consumption);
    assert_eq!(newest.amount, -1);
    assert_eq!(newest.balance_after, Tokens::ONE);
    assert_eq!(newest.user_id, ann);
    assert_eq!(newest.service_type, Some(ServiceType::AskDocs));
    assert_eq!(newest.domain_id, Some(domain.id));
    assert_eq!(
        newest.metadata,
        json!({ "conversation_id": r.conversation, "charge_id": r.charge })
    );
    db.assert_ledger_invariant().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_ten_concurrent_refunds_of_one_charge_exactly_one_gives_the_token_back() {
    let db = TestDatabase::with_max_connections(10).await;
    let charges = Arc::new(PgCharges::new(db.database()));
    let ann = user_with(&db.database(), 3).await;
    let r = Reservation {
        service: ServiceType::AskDocs,
        ..reservation(ann, None)
    };
    charges.reserve(&r, NO_WAIT).await.unwrap();

    let charge = r.charge;
    let results = join_all((0..10).map(|_| {
        let charges = Arc::clone(&charges);
        tokio::spawn(async move { charges.refund(charge, "upstream timed out").await })
    }))
    .await
    .into_iter()
    .map(|r| r.unwrap().unwrap())
    .collect::<Vec<_>>();
    assert_eq!(
        results.iter().filter(|r| r.is_some()).collect::<Vec<_>>(),
        [&Some(Tokens::new(3).unwrap())]
    );
    assert_eq!(balance(&db.database(), ann).await, 3);

    let ledger = entries(&db.database(), ann).await;
    let refunds: Vec<_> = ledger
        .iter()
        .filter(|e| e.kind == EntryKind::Refund)
        .collect();
    assert_eq!(refunds.len(), 1);
    let refund = refunds[0];
    assert_eq!(refund.amount, 1);
    assert_eq!(refund.balance_after.get(), 3);
    assert_eq!(refund.service_type, Some(ServiceType::AskDocs));
    assert_eq!(refund.metadata["reason"], "upstream timed out");
    assert_eq!(refund.metadata["charge_id"], json!(r.charge));

    // Later, and for a charge that does not exist: nothing changes.
    assert_eq!(charges.refund(r.charge, "again").await.unwrap(), None);
    assert_eq!(
        charges
            .refund(ChargeId::generate(), "nothing")
            .await
            .unwrap(),
        None
    );
    assert_eq!(balance(&db.database(), ann).await, 3);
    assert_eq!(entries(&db.database(), ann).await.len(), ledger.len());
    db.assert_ledger_invariant().await;
    assert_audit_clean(&db).await;
}

// --- Idempotency-Key --------------------------------------------------------

#[tokio::test]
async fn of_concurrent_reservations_with_one_key_exactly_one_holds_a_token() {
    let db = TestDatabase::with_max_connections(10).await;
    let charges = Arc::new(PgCharges::new(db.database()));
    let ann = user_with(&db.database(), 5).await;
    let k = key("k-concurrent");
    let outcomes = join_all((0..10).map(|_| {
        let charges = Arc::clone(&charges);
        let k = k.clone();
        async move {
            let r = reservation(ann, Some((&k, "same")));
            charges.reserve(&r, NO_WAIT).await.unwrap()
        }
    }))
    .await;
    let held = outcomes
        .iter()
        .filter(|o| matches!(o, Reserved::Held { .. }))
        .count();
    let in_progress = outcomes
        .iter()
        .filter(|o| **o == Reserved::InProgress)
        .count();
    assert_eq!((held, in_progress), (1, 9), "{outcomes:?}");
    assert_eq!(balance(&db.database(), ann).await, 4);
}

#[tokio::test]
async fn a_settled_key_replays_free_and_refuses_another_body() {
    let db = TestDatabase::new().await;
    let charges = PgCharges::new(db.database());
    let ann = user_with(&db.database(), 5).await;
    let bob = user_with(&db.database(), 5).await;
    let k = key("k1");
    let r = reservation(ann, Some((&k, "body-1")));
    charges.reserve(&r, NO_WAIT).await.unwrap();
    settle(&charges, &r, "first", Some(&k)).await;

    let again = reservation(ann, Some((&k, "body-1")));
    assert_eq!(
        charges.reserve(&again, NO_WAIT).await.unwrap(),
        Reserved::Replay(StoredReply::new(
            REPLY_FORMAT,
            json!({ "response": "first" })
        ))
    );
    let other = reservation(ann, Some((&k, "body-2")));
    assert_eq!(
        charges.reserve(&other, NO_WAIT).await.unwrap(),
        Reserved::Mismatch
    );
    // Keys are per user.
    let bobs = reservation(bob, Some((&k, "body-2")));
    assert!(matches!(
        charges.reserve(&bobs, NO_WAIT).await.unwrap(),
        Reserved::Held { .. }
    ));
    assert_eq!(balance(&db.database(), ann).await, 4);
}

#[tokio::test]
async fn a_waiting_duplicate_replays_the_first_once_it_settles() {
    let db = TestDatabase::new().await;
    let charges = Arc::new(PgCharges::new(db.database()));
    let ann = user_with(&db.database(), 5).await;
    let k = key("k-wait");
    let first = reservation(ann, Some((&k, "b")));
    charges.reserve(&first, NO_WAIT).await.unwrap();
    let finisher = {
        let charges = Arc::clone(&charges);
        let k = k.clone();
        let (charge, conversation) = (first.charge, first.conversation);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let r = Reservation {
                charge,
                conversation,
                ..reservation(ann, None)
            };
            settle(&charges, &r, "done", Some(&k)).await;
        })
    };
    let started = Instant::now();
    let dup = reservation(ann, Some((&k, "b")));
    assert_eq!(
        charges.reserve(&dup, Duration::from_secs(5)).await.unwrap(),
        Reserved::Replay(StoredReply::new(
            REPLY_FORMAT,
            json!({ "response": "done" })
        ))
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    finisher.await.unwrap();
    assert_eq!(balance(&db.database(), ann).await, 4);
}

#[tokio::test]
async fn a_duplicate_gives_up_waiting_with_in_progress() {
    let db = TestDatabase::new().await;
    let charges = PgCharges::new(db.database());
    let ann = user_with(&db.database(), 5).await;
    let k = key("k-slow");
    charges
        .reserve(&reservation(ann, Some((&k, "b"))), NO_WAIT)
        .await
        .unwrap();
    let started = Instant::now();
    assert_eq!(
        charges
            .reserve(
                &reservation(ann, Some((&k, "b"))),
                Duration::from_millis(200)
            )
            .await
            .unwrap(),
        Reserved::InProgress
    );
    assert!(started.elapsed() >= Duration::from_millis(200));
}

#[tokio::test]
async fn a_refund_releases_the_key_for_a_retry_even_while_it_waits() {
    let db = TestDatabase::new().await;
    let charges = Arc::new(PgCharges::new(db.database()));
    let ann = user_with(&db.database(), 5).await;
    let k = key("k-refund");
    let first = reservation(ann, Some((&k, "b")));
    charges.reserve(&first, NO_WAIT).await.unwrap();
    let refunder = {
        let charges = Arc::clone(&charges);
        let charge = first.charge;
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            charges.refund(charge, "upstream_failed").await.unwrap();
        })
    };
    let retry = reservation(ann, Some((&k, "b")));
    assert!(matches!(
        charges
            .reserve(&retry, Duration::from_secs(5))
            .await
            .unwrap(),
        Reserved::Held { .. }
    ));
    refunder.await.unwrap();
    // One token held in all: the first was refunded.
    assert_eq!(balance(&db.database(), ann).await, 4);
    db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn keys_expire_after_a_day() {
    let db = TestDatabase::new().await;
    let charges = PgCharges::new(db.database());
    let ann = user_with(&db.database(), 5).await;
    let k = key("k-old");
    let r = reservation(ann, Some((&k, "first body")));
    charges.reserve(&r, NO_WAIT).await.unwrap();
    settle(&charges, &r, "old", Some(&k)).await;
    let other = key("k-other-old");
    let r2 = reservation(ann, Some((&other, "x")));
    charges.reserve(&r2, NO_WAIT).await.unwrap();
    settle(&charges, &r2, "x", Some(&other)).await;
    sql(
        &db,
        "UPDATE idempotency_keys SET created_at = now() - interval '25 hours'",
    )
    .await
    .unwrap();

    // An expired key is absent: even another body may use it.
    let again = reservation(ann, Some((&k, "second body")));
    assert!(matches!(
        charges.reserve(&again, NO_WAIT).await.unwrap(),
        Reserved::Held { .. }
    ));
    // The sweep removes the other expired key and keeps the live one.
    assert_eq!(charges.sweep_expired_keys().await.unwrap(), 1);
    assert_eq!(
        charges
            .reserve(&reservation(ann, Some((&k, "second body"))), NO_WAIT)
            .await
            .unwrap(),
        Reserved::InProgress
    );
}

// --- recovery ---------------------------------------------------------------

#[tokio::test]
async fn a_charge_left_pending_is_refunded_after_the_window_and_its_key_retried() {
    let db = TestDatabase::new().await;
    let charges = PgCharges::new(db.database());
    let ann = user_with(&db.database(), 3).await;
    let k = key("k-crash");
    // The process holding this charge "dies": nothing settles or refunds it.
    let lost = reservation(ann, Some((&k, "b")));
    charges.reserve(&lost, NO_WAIT).await.unwrap();
    let young = reservation(ann, None);
    charges.reserve(&young, NO_WAIT).await.unwrap();
    assert_eq!(balance(&db.database(), ann).await, 1);

    // Within the window nothing is touched.
    assert!(charges.recover(WINDOW, 100).await.unwrap().is_empty());
    sql(
        &db,
        &format!(
            "UPDATE charges SET created_at = now() - interval '2 minutes' WHERE id = '{}'",
            lost.charge
        ),
    )
    .await
    .unwrap();
    let recovered = charges.recover(WINDOW, 100).await.unwrap();
    assert_eq!(recovered.len(), 1);
    assert_eq!(recovered[0].charge, lost.charge);
    assert!(recovered[0].pending_for >= Duration::from_secs(119));
    assert_eq!(balance(&db.database(), ann).await, 2);
    assert!(charges.recover(WINDOW, 100).await.unwrap().is_empty());

    // The refund row says why.
    sql(
        &db,
        &format!(
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM transactions WHERE transaction_type = 'refund'
                AND metadata->>'reason' = 'recovered' AND metadata->>'charge_id' = '{}')
             THEN RAISE EXCEPTION 'no recovery refund'; END IF; END $$",
            lost.charge
        ),
    )
    .await
    .unwrap();

    // The retry with the same key runs and is charged once in all.
    let retry = reservation(ann, Some((&k, "b")));
    assert!(matches!(
        charges.reserve(&retry, NO_WAIT).await.unwrap(),
        Reserved::Held { .. }
    ));
    settle(&charges, &retry, "answered", Some(&k)).await;
    assert_eq!(
        charges
            .reserve(&reservation(ann, Some((&k, "b"))), NO_WAIT)
            .await
            .unwrap(),
        Reserved::Replay(StoredReply::new(
            REPLY_FORMAT,
            json!({ "response": "answered" })
        ))
    );
    // The dead process's late settlement is not charged again.
    assert_eq!(
        settle(&charges, &lost, "late", None).await.outcome,
        SettleOutcome::AlreadyRefunded
    );
    assert_eq!(balance(&db.database(), ann).await, 1);
    db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn two_sweepers_refund_each_stale_charge_exactly_once() {
    let db = TestDatabase::with_max_connections(10).await;
    let charges = Arc::new(PgCharges::new(db.database()));
    let mut users = Vec::new();
    for _ in 0..5 {
        let u = user_with(&db.database(), 10).await;
        for _ in 0..10 {
            charges
                .reserve(&reservation(u, None), NO_WAIT)
                .await
                .unwrap();
        }
        users.push(u);
    }
    age_pending_charges(&db, "1 hour").await;
    let sweeps = join_all((0..4).map(|_| {
        let charges = Arc::clone(&charges);
        async move {
            let mut n = 0;
            loop {
                let batch = charges.recover(WINDOW, 7).await.unwrap();
                if batch.is_empty() {
                    return n;
                }
                n += batch.len();
            }
        }
    }))
    .await;
    assert_eq!(sweeps.iter().sum::<usize>(), 50);
    for u in users {
        assert_eq!(balance(&db.database(), u).await, 10);
    }
    db.assert_ledger_invariant().await;
    assert_audit_clean(&db).await;
}

// --- the database guards the invariant ---------------------------------------

#[tokio::test]
async fn a_balance_change_without_its_ledger_row_fails_at_commit() {
    let db = TestDatabase::new().await;
    let ann = user_with(&db.database(), 3).await;
    let err = sql(&db, "UPDATE users SET tokens = tokens + 5")
        .await
        .unwrap_err();
    assert!(err.contains("without a ledger row"), "{err}");
    let err = sql(
        &db,
        &format!(
            "INSERT INTO transactions (id, user_id, transaction_type, amount, balance_after)
             VALUES (gen_random_uuid(), '{ann}', 'grant', 5, 8)"
        ),
    )
    .await
    .unwrap_err();
    assert!(err.contains("without a ledger row"), "{err}");
    let err = sql(
        &db,
        "INSERT INTO users (id, azure_ad_id, email, tokens) VALUES (gen_random_uuid(), 'x', 'x@example.com', 9)",
    )
    .await
    .unwrap_err();
    assert!(err.contains("without a ledger row"), "{err}");
    assert_eq!(balance(&db.database(), ann).await, 3);

    // With its row, in the same transaction, the change commits.
    sql(
        &db,
        &format!(
            "BEGIN;
             UPDATE users SET tokens = tokens + 5 WHERE id = '{ann}';
             INSERT INTO transactions (id, user_id, transaction_type, amount, balance_after, metadata)
             VALUES (gen_random_uuid(), '{ann}', 'adjustment', 5, 8, '{{\"by\": \"psql\"}}');
             COMMIT;"
        ),
    )
    .await
    .unwrap();
    assert_eq!(balance(&db.database(), ann).await, 8);
    // A savepoint rolled back takes its share of the count with it.
    sql(
        &db,
        &format!(
            "BEGIN;
             SAVEPOINT s;
             UPDATE users SET tokens = tokens + 1 WHERE id = '{ann}';
             ROLLBACK TO SAVEPOINT s;
             COMMIT;"
        ),
    )
    .await
    .unwrap();
    // Ledger rows stay immutable.
    let err = sql(&db, "UPDATE transactions SET amount = 50")
        .await
        .unwrap_err();
    assert!(err.contains("append-only"), "{err}");
    db.assert_ledger_invariant().await;
    assert_audit_clean(&db).await;
}

// --- audit ------------------------------------------------------------------

#[tokio::test]
async fn audit_names_each_violation_and_totals_the_ledger() {
    let db = TestDatabase::new().await;
    let charges = PgCharges::new(db.database());
    let ann = user_with(&db.database(), 10).await;
    let spent = reservation(ann, None);
    charges.reserve(&spent, NO_WAIT).await.unwrap();
    settle(&charges, &spent, "ok", None).await;
    let refunded = reservation(ann, None);
    charges.reserve(&refunded, NO_WAIT).await.unwrap();
    charges
        .refund(refunded.charge, "upstream_failed")
        .await
        .unwrap();

    let report = audit(&db.database(), WINDOW).await.unwrap();
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.totals.granted, 10);
    assert_eq!(report.totals.consumed - report.totals.refunded, 1);
    assert_eq!(report.totals.outstanding, 9);

    // A charge left pending past the window is a violation until recovered.
    charges
        .reserve(&reservation(ann, None), NO_WAIT)
        .await
        .unwrap();
    age_pending_charges(&db, "2 minutes").await;
    let report = audit(&db.database(), WINDOW).await.unwrap();
    assert!(!report.is_clean());
    assert!(report.to_string().contains("pending since"), "{report}");
    charges.recover(WINDOW, 10).await.unwrap();
    assert_audit_clean(&db).await;

    // A ledger tampered with behind the triggers' back (as the owner can) is
    // reported, balance and chain.
    sql(
        &db,
        &format!(
            "SET session_replication_role = replica;
             UPDATE users SET tokens = tokens + 3 WHERE id = '{ann}';
             SET session_replication_role = origin;"
        ),
    )
    .await
    .unwrap();
    let report = audit(&db.database(), WINDOW).await.unwrap();
    assert!(!report.is_clean());
    let text = report.to_string();
    assert!(
        text.contains(&format!("user {ann}: balance 12, ledger sums to 9")),
        "{text}"
    );
    assert!(text.contains("VIOLATIONS FOUND"), "{text}");
}

// --- a model-based property test ------------------------------------------------

/// The ledger rules as a plain model of one account, driven through the real
/// adapters: after every step the balance is where the model says, the rows
/// are the ones it expects, and the whole ledger audits clean.
mod model {
    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    pub enum Op {
        Reserve,
        Settle(usize),
        Refund(usize),
        /// Refunds a charge already settled or refunded: nothing changes.
        RefundFinished(usize),
        Recover,
        Credit(i64),
        /// A credit of nothing: refused, nothing changes.
        EmptyCredit,
        Purchase(i64),
        ReversePurchase(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => Just(Op::Reserve),
            3 => (0..8usize).prop_map(Op::Settle),
            2 => (0..8usize).prop_map(Op::Refund),
            1 => (0..8usize).prop_map(Op::RefundFinished),
            1 => Just(Op::Recover),
            1 => (1..5i64).prop_map(Op::Credit),
            1 => Just(Op::EmptyCredit),
            1 => (1..5i64).prop_map(Op::Purchase),
            1 => (0..4usize).prop_map(Op::ReversePurchase),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

        /// Any sequence of reserve/settle/refund/recover/credit/purchase/
        /// reversal through the real adapter keeps the balance where a plain
        /// model says it is, equal to the sum of the ledger and never
        /// negative; a refused or repeated operation changes nothing, a
        /// consumption is refunded at most once, and a reversal takes only
        /// the unspent tokens, recording the shortfall. The whole ledger
        /// audits clean after every step.
        #[test]
        fn any_sequence_keeps_the_ledger_provable(ops in proptest::collection::vec(op(), 1..25)) {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(run(ops));
        }
    }

    /// A purchase of the run: its payment intent, tokens, and whether it was
    /// reversed already.
    struct Bought {
        intent: String,
        tokens: i64,
        reversed: bool,
    }

    async fn run(ops: Vec<Op>) {
        let db = TestDatabase::new().await;
        let charges = PgCharges::new(db.database());
        let ledger = PgLedger::new(db.database());
        let ann = user_with(&db.database(), 0).await;
        let mut model: i64 = 0;
        let mut rows: usize = 0;
        let mut pending: Vec<ChargeId> = Vec::new();
        let mut finished: Vec<ChargeId> = Vec::new();
        let mut purchases: Vec<Bought> = Vec::new();
        for op in ops {
            match op {
                Op::Reserve => {
                    let r = reservation(ann, None);
                    match charges.reserve(&r, NO_WAIT).await {
                        Ok(Reserved::Held { balance_after }) => {
                            model -= 1;
                            rows += 1;
                            assert_eq!(i64::from(balance_after.get()), model);
                            pending.push(r.charge);
                        }
                        Err(ReserveError::InsufficientTokens { balance }) => {
                            assert_eq!(model, 0);
                            assert!(balance.is_zero());
                        }
                        other => panic!("unexpected {other:?}"),
                    }
                }
                Op::Settle(i) if !pending.is_empty() => {
                    let charge = pending.remove(i % pending.len());
                    let r = Reservation {
                        charge,
                        ..reservation(ann, None)
                    };
                    assert_eq!(
                        settle(&charges, &r, "a", None).await.outcome,
                        SettleOutcome::Charged
                    );
                    finished.push(charge);
                }
                Op::Refund(i) if !pending.is_empty() => {
                    let charge = pending.remove(i % pending.len());
                    assert!(
                        charges
                            .refund(charge, "upstream_failed")
                            .await
                            .unwrap()
                            .is_some()
                    );
                    model += 1;
                    rows += 1;
                    finished.push(charge);
                }
                Op::RefundFinished(i) if !finished.is_empty() => {
                    let charge = finished[i % finished.len()];
                    assert_eq!(
                        charges.refund(charge, "upstream_failed").await.unwrap(),
                        None
                    );
                }
                Op::Recover => {
                    age_pending_charges(&db, "1 hour").await;
                    let n = charges.recover(WINDOW, 100).await.unwrap().len();
                    assert_eq!(n, pending.len());
                    model += i64::try_from(n).unwrap();
                    rows += n;
                    finished.append(&mut pending);
                }
                Op::Credit(n) => {
                    grant(&db.database(), ann, n).await;
                    model += n;
                    rows += 1;
                }
                Op::EmptyCredit => {
                    let refused = ledger
                        .credit(&CreditRequest {
                            user: ann,
                            kind: CreditKind::Grant,
                            amount: Tokens::ZERO,
                            idempotency_key: key(&unique("empty")),
                            metadata: json!({}),
                        })
                        .await;
                    assert!(refused.is_err(), "{refused:?}");
                }
                Op::Purchase(n) => {
                    let intent = unique("pi");
                    ledger
                        .credit_purchase(&PurchaseCredit {
                            user: ann,
                            payment_intent_id: PaymentIntentId::parse(&intent).unwrap(),
                            tokens: Tokens::new(n).unwrap(),
                            event_id: Some(StripeEventId::parse(&unique("evt")).unwrap()),
                            metadata: json!({}),
                        })
                        .await
                        .unwrap();
                    model += n;
                    rows += 1;
                    purchases.push(Bought {
                        intent,
                        tokens: n,
                        reversed: false,
                    });
                }
                Op::ReversePurchase(i) if !purchases.is_empty() => {
                    let at = i % purchases.len();
                    let bought = &mut purchases[at];
                    ledger
                        .reverse_purchase(&reversal(&bought.intent))
                        .await
                        .unwrap();
                    if !bought.reversed {
                        bought.reversed = true;
                        let taken = bought.tokens.min(model);
                        model -= taken;
                        if taken > 0 {
                            rows += 1;
                            let newest = &entries(&db.database(), ann).await[0];
                            assert_eq!(newest.kind, EntryKind::Reversal);
                            assert_eq!(i64::from(newest.amount), -taken);
                            assert_eq!(newest.metadata["shortfall"], bought.tokens - taken);
                        }
                    }
                }
                Op::Settle(_) | Op::Refund(_) | Op::RefundFinished(_) | Op::ReversePurchase(_) => {}
            }
            assert_eq!(balance(&db.database(), ann).await, model);
            assert!(model >= 0);
            let entries = entries(&db.database(), ann).await;
            assert_eq!(entries.len(), rows, "{entries:?}");
            let sum: i64 = entries.iter().map(|e| i64::from(e.amount)).sum();
            assert_eq!(sum, model);
            if let Some(newest) = entries.first() {
                assert_eq!(i64::from(newest.balance_after.get()), model);
            }
            let report = audit(&db.database(), WINDOW).await.unwrap();
            assert!(report.is_clean(), "{report}");
        }
    }

    fn reversal(pi: &str) -> PurchaseReversal {
        PurchaseReversal {
            payment_intent_id: PaymentIntentId::parse(pi).unwrap(),
            reason: "refund".to_owned(),
            event_id: Some(StripeEventId::parse(&unique("evt")).unwrap()),
            cause: ReversalCause::Refund,
            share: None,
        }
    }
}
