//! Checkouts followed from pending to credited or failed, on a real PostgreSQL.

use askgate_domain::Tokens;
use askgate_domain::ledger::PurchaseCredit;
use askgate_domain::package::TokenPackage;
use askgate_domain::payment::{
    CheckoutSessionId, PaymentIntentId, Purchase, PurchaseStatus, StripeEventId,
};
use askgate_domain::ports::{Ledger, PurchaseRepository, UserRepository};
use askgate_domain::testing as fixtures;

use askgate_domain::UserId;
use askgate_postgres::testing::TestDatabase;
use askgate_postgres::{Database, PgLedger, PgPurchases, PgUsers};

use futures::future::join_all;
use serde_json::json;
use uuid::Uuid;

fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", Uuid::now_v7().simple())
}

async fn new_user(db: &Database) -> UserId {
    PgUsers::new(db.clone())
        .upsert_sign_in(&fixtures::new_sign_in())
        .await
        .unwrap()
        .id
}

fn cs(raw: &str) -> CheckoutSessionId {
    CheckoutSessionId::parse(raw).unwrap()
}

fn pi(raw: &str) -> PaymentIntentId {
    PaymentIntentId::parse(raw).unwrap()
}

fn pending(checkout: &CheckoutSessionId, user: UserId, package: TokenPackage) -> Purchase {
    Purchase {
        checkout_session_id: checkout.clone(),
        user,
        package,
        payment_intent_id: None,
        status: PurchaseStatus::Pending,
    }
}

#[tokio::test]
async fn a_recorded_checkout_reads_back_pending_and_unknown_ones_are_none() {
    let test_db = TestDatabase::new().await;
    let purchases = PgPurchases::new(test_db.database());
    let user = new_user(&test_db.database()).await;
    let checkout = cs(&unique("cs_test"));

    purchases
        .record(&pending(&checkout, user, TokenPackage::Medium))
        .await
        .unwrap();

    assert_eq!(
        purchases.get(&checkout).await.unwrap(),
        Some(pending(&checkout, user, TokenPackage::Medium))
    );
    assert_eq!(purchases.get(&cs("cs_test_unknown")).await.unwrap(), None);
}

#[tokio::test]
async fn recording_the_same_checkout_again_changes_nothing() {
    let test_db = TestDatabase::new().await;
    let purchases = PgPurchases::new(test_db.database());
    let user = new_user(&test_db.database()).await;
    let checkout = cs(&unique("cs_test"));
    purchases
        .record(&pending(&checkout, user, TokenPackage::Small))
        .await
        .unwrap();
    purchases
        .attach_payment(&checkout, &pi("pi_1"))
        .await
        .unwrap();

    // A retried checkout request records again: the credited row stays credited.
    let again = pending(&checkout, user, TokenPackage::Small);
    let results = join_all((0..5).map(|_| purchases.record(&again))).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");

    let stored = purchases.get(&checkout).await.unwrap().unwrap();
    assert_eq!(stored.status, PurchaseStatus::Credited);
    assert_eq!(
        stored
            .payment_intent_id
            .as_ref()
            .map(PaymentIntentId::as_str),
        Some("pi_1")
    );
}

#[tokio::test]
async fn attaching_the_payment_marks_the_checkout_credited() {
    let test_db = TestDatabase::new().await;
    let purchases = PgPurchases::new(test_db.database());
    let user = new_user(&test_db.database()).await;
    let checkout = cs(&unique("cs_test"));
    purchases
        .record(&pending(&checkout, user, TokenPackage::Large))
        .await
        .unwrap();

    purchases
        .attach_payment(&checkout, &pi("pi_3Qpaid"))
        .await
        .unwrap();

    let stored = purchases.get(&checkout).await.unwrap().unwrap();
    assert_eq!(stored.status, PurchaseStatus::Credited);
    assert_eq!(
        stored
            .payment_intent_id
            .as_ref()
            .map(PaymentIntentId::as_str),
        Some("pi_3Qpaid")
    );
    assert_eq!(stored.package, TokenPackage::Large);
}

#[tokio::test]
async fn attaching_a_payment_to_an_unknown_checkout_is_ignored() {
    let test_db = TestDatabase::new().await;
    let purchases = PgPurchases::new(test_db.database());

    purchases
        .attach_payment(&cs("cs_test_made_elsewhere"), &pi("pi_1"))
        .await
        .unwrap();
    purchases
        .mark_failed(&cs("cs_test_made_elsewhere"))
        .await
        .unwrap();

    assert_eq!(
        purchases.get(&cs("cs_test_made_elsewhere")).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn a_failed_async_payment_marks_a_pending_checkout_failed() {
    let test_db = TestDatabase::new().await;
    let purchases = PgPurchases::new(test_db.database());
    let user = new_user(&test_db.database()).await;
    let checkout = cs(&unique("cs_test"));
    purchases
        .record(&pending(&checkout, user, TokenPackage::Small))
        .await
        .unwrap();

    purchases.mark_failed(&checkout).await.unwrap();

    let stored = purchases.get(&checkout).await.unwrap().unwrap();
    assert_eq!(stored.status, PurchaseStatus::Failed);
}

#[tokio::test]
async fn a_credited_checkout_is_never_downgraded_to_failed() {
    let test_db = TestDatabase::new().await;
    let purchases = PgPurchases::new(test_db.database());
    let user = new_user(&test_db.database()).await;
    let checkout = cs(&unique("cs_test"));
    purchases
        .record(&pending(&checkout, user, TokenPackage::Small))
        .await
        .unwrap();
    purchases
        .attach_payment(&checkout, &pi("pi_1"))
        .await
        .unwrap();

    purchases.mark_failed(&checkout).await.unwrap();

    let stored = purchases.get(&checkout).await.unwrap().unwrap();
    assert_eq!(stored.status, PurchaseStatus::Credited);
}

#[tokio::test]
async fn a_checkout_recorded_after_its_payment_was_credited_starts_credited() {
    // The webhook can beat the recording of the checkout it pays for.
    let test_db = TestDatabase::new().await;
    let db = test_db.database();
    let purchases = PgPurchases::new(db.clone());
    let user = new_user(&db).await;
    let checkout = cs(&unique("cs_test"));
    PgLedger::new(db.clone())
        .credit_purchase(&PurchaseCredit {
            user,
            payment_intent_id: PaymentIntentId::parse(&unique("pi")).unwrap(),
            tokens: Tokens::new(250).unwrap(),
            event_id: Some(StripeEventId::parse(&unique("evt")).unwrap()),
            metadata: json!({ "package": "250", "checkout_session_id": checkout }),
        })
        .await
        .unwrap();
    purchases
        .attach_payment(&checkout, &pi("pi_early"))
        .await
        .unwrap();

    purchases
        .record(&pending(&checkout, user, TokenPackage::Medium))
        .await
        .unwrap();

    let stored = purchases.get(&checkout).await.unwrap().unwrap();
    assert_eq!(stored.status, PurchaseStatus::Credited);
    // Another checkout of the same user is still pending.
    let other = cs(&unique("cs_test"));
    purchases
        .record(&pending(&other, user, TokenPackage::Medium))
        .await
        .unwrap();
    assert_eq!(
        purchases.get(&other).await.unwrap().unwrap().status,
        PurchaseStatus::Pending
    );
    test_db.assert_ledger_invariant().await;
}
