//! The admin overview's figures on the real PostgreSQL: read from one
//! snapshot, they add up with each other even while chats and purchases
//! commit between its queries.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use askgate_domain::ledger::PurchaseCredit;
use askgate_domain::payment::PaymentIntentId;
use askgate_domain::ports::{Ledger, Reports};
use askgate_domain::report::{LedgerFigures, ReportPeriod};
use askgate_domain::{Tokens, UserId};
use askgate_postgres::testing::{TestDatabase, spend, user_with};
use askgate_postgres::{PgLedger, PgReports};
use chrono::{TimeDelta, Utc};
use serde_json::json;

/// Every row of the period moves the balances at its end: what the ledger
/// says happened must add up to what it says is left.
fn balance_of_the_period(f: &LedgerFigures) -> i64 {
    let sold: i64 = f.sales.iter().map(|s| s.tokens).sum();
    let spent: i64 = f.spending.iter().map(|g| g.tokens).sum();
    sold - spent + f.grants.tokens + f.adjustments.tokens + f.reversals.disputes_won.tokens
        - f.reversals.refunds.tokens
        - f.reversals.disputes.tokens
}

async fn buy(ledger: &PgLedger, user: UserId, n: usize) {
    for i in 0..n {
        let credit = PurchaseCredit {
            user,
            payment_intent_id: PaymentIntentId::parse(&format!(
                "pi_{}_{i}",
                user.as_uuid().simple()
            ))
            .unwrap(),
            tokens: Tokens::new(100).unwrap(),
            event_id: None,
            metadata: json!({"package": "100", "amount_cents": 500, "currency": "usd"}),
        };
        ledger.credit_purchase(&credit).await.unwrap();
    }
}

#[tokio::test]
async fn the_figures_agree_with_each_other_while_chats_and_purchases_commit() {
    let test_db = TestDatabase::with_max_connections(12).await;
    let db = test_db.database();
    let now = Utc::now();
    let period = ReportPeriod::new(now - TimeDelta::days(1), now + TimeDelta::days(1)).unwrap();
    let reports = PgReports::new(db.clone());
    let ledger = PgLedger::new(db.clone());
    let mut users = Vec::new();
    for _ in 0..4 {
        users.push(user_with(&db, 40).await);
    }

    let writing = Arc::new(AtomicBool::new(true));
    let writers: Vec<_> = users
        .iter()
        .map(|&user| {
            let db = db.clone();
            let ledger = ledger.clone();
            tokio::spawn(async move {
                buy(&ledger, user, 2).await;
                spend(&db, user, 30).await;
            })
        })
        .collect();
    let reader = {
        let writing = Arc::clone(&writing);
        tokio::spawn(async move {
            let mut reads = 0;
            while writing.load(Ordering::SeqCst) || reads == 0 {
                let f = reports.figures(&period).await.unwrap();
                assert_eq!(balance_of_the_period(&f), f.liability.tokens, "{f:#?}");
                let daily_spent: i64 = f.days.iter().map(|d| d.spent).sum();
                let spent: i64 = f.spending.iter().map(|g| g.tokens).sum();
                assert_eq!(daily_spent, spent, "{f:#?}");
                reads += 1;
            }
            reads
        })
    };
    for writer in writers {
        writer.await.unwrap();
    }
    writing.store(false, Ordering::SeqCst);
    assert!(reader.await.unwrap() > 0);

    let f = PgReports::new(db.clone()).figures(&period).await.unwrap();
    // 4 users: 40 granted, 200 bought (2 × 100 at 5 cents), 30 spent each.
    assert_eq!(f.liability.tokens, 4 * 210);
    assert_eq!(f.active_users, 4);
    // Each keeps 210, of which all 200 bought ones (free tokens go first).
    assert_eq!(f.liability.paid_tokens, 4 * 200);
    assert_eq!(f.liability.value.len(), 1);
    assert_eq!(f.liability.value[0].amount_cents, 4 * 1000);
    test_db.assert_ledger_invariant().await;
}
