//! The admin overview over real HTTP against a fresh real database, on a
//! ledger written the way production writes it: purchases and their refund
//! and dispute through signed Stripe webhooks, chats through both chat
//! endpoints (one failing upstream answer refunded), a grant by an admin.

use reqwest::StatusCode;
use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::payments::{Payment, Shop, spawn_shop};
use crate::support::assert_problem;

const ADMIN: &str = "boss@example.com";

/// An AskAT&T upstream that fails any question containing "fail".
async fn askatt() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/chat"))
        .and(body_string_contains("fail"))
        .respond_with(ResponseTemplate::new(500))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/chat"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"response": "ok"})))
        .mount(&server)
        .await;
    server
}

async fn chat(app: &Shop, token: &str, service: &str, body: Value, status: StatusCode) {
    let reply = app.chat(service, token, &body, None).await;
    assert_eq!(reply.status, status, "{}", reply.body);
}

async fn overview(app: &Shop, token: &str, query: &str) -> Value {
    let reply = app
        .get(&format!("/api/admin/overview{query}"), Some(token))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

/// The database's clock now, as RFC 3339 (rows are stamped by it).
async fn db_now(app: &Shop) -> String {
    app.sql()
        .await
        .query_one(
            "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

fn money(cents: i64) -> Value {
    json!([{"currency": "usd", "amount_cents": cents}])
}

fn tally(count: i64, tokens: i64) -> Value {
    json!({"count": count, "tokens": tokens})
}

#[tokio::test]
async fn the_overview_reports_every_figure_of_a_known_ledger_and_the_liability_at_its_end() {
    let upstream = askatt().await;
    let app = spawn_shop(&[
        ("ADMIN_EMAILS", ADMIN),
        ("ASKATT_API_ENDPOINT", &upstream.uri()),
        ("UPSTREAM_ALLOWED_HOSTS", "127.0.0.1"),
        ("RATE_LIMIT_PER_MINUTE", "1000"),
    ])
    .await;
    let (boss, _) = app.sign_in(ADMIN).await;
    let (ann, ann_id) = app.sign_in_id("ann@example.com").await;
    let (bob, bob_id) = app.sign_in_id("bob@example.com").await;
    let (carl, carl_user) = app.sign_in("carl@example.com").await;
    let domain = |name: &'static str| {
        let app = &app;
        let boss = &boss;
        async move {
            let reply = app
                .post(
                    "/api/domains",
                    Some(boss),
                    &json!({"name": name, "display_name": name.to_uppercase()}),
                )
                .await;
            assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
            reply.body["id"].as_str().unwrap().to_owned()
        }
    };
    let hr = domain("hr").await;
    let it = domain("it").await;

    // Ann buys 100 tokens for $5 and 600 for $20, Bob 250 for $10.
    let small = Payment::new(ann_id, "100", 500);
    let large = Payment::new(ann_id, "600", 2000);
    let medium = Payment::new(bob_id, "250", 1000);
    for payment in [&small, &large, &medium] {
        let reply = app.deliver_signed(&payment.intent_succeeded()).await;
        assert_eq!(reply.body["outcome"], "credited", "{}", reply.body);
    }
    // Carl gets 30 tokens from an admin.
    let granted = app
        .post_with_key(
            &format!(
                "/api/admin/users/{}/credits",
                carl_user["id"].as_str().unwrap()
            ),
            Some(&boss),
            &json!({"type": "grant", "amount": 30, "reason": "Pilot"}),
            Some("pilot-1"),
        )
        .await;
    assert_eq!(granted.status, StatusCode::CREATED, "{}", granted.body);

    let ok = StatusCode::OK;
    for _ in 0..2 {
        chat(&app, &ann, "askatt", json!({"message": "hi"}), ok).await;
    }
    chat(
        &app,
        &ann,
        "askatt",
        json!({"message": "please fail"}),
        StatusCode::BAD_GATEWAY,
    )
    .await;
    for _ in 0..3 {
        chat(
            &app,
            &ann,
            "askdocs",
            json!({"message": "q", "domain_id": hr}),
            ok,
        )
        .await;
    }
    chat(
        &app,
        &ann,
        "askdocs",
        json!({"message": "q", "domain_id": it}),
        ok,
    )
    .await;
    for _ in 0..2 {
        chat(
            &app,
            &bob,
            "askdocs",
            json!({"message": "q", "domain_id": hr}),
            ok,
        )
        .await;
    }
    chat(&app, &carl, "askatt", json!({"message": "hi"}), ok).await;
    let before_reversals = db_now(&app).await;

    // Ann's $5 payment is refunded (all 100 tokens taken back); Bob disputes
    // his (248 of 250 left to take back: 2 already spent).
    let reply = app.deliver_signed(&small.refunded()).await;
    assert_eq!(reply.body["outcome"], "reversed", "{}", reply.body);
    let reply = app.deliver_signed(&medium.disputed()).await;
    assert_eq!(reply.body["outcome"], "reversed", "{}", reply.body);
    assert_eq!(app.balance(&ann).await, 594);
    assert_eq!(app.balance(&bob).await, 0);
    assert_eq!(app.balance(&carl).await, 29);

    let o = overview(&app, &boss, "").await;
    assert_eq!(o["sales"]["tokens"], 950);
    assert_eq!(o["sales"]["count"], 3);
    assert_eq!(
        o["sales"]["by_package"],
        json!([
            {"package": "100", "currency": "usd", "count": 1, "tokens": 100, "amount_cents": 500},
            {"package": "250", "currency": "usd", "count": 1, "tokens": 250, "amount_cents": 1000},
            {"package": "600", "currency": "usd", "count": 1, "tokens": 600, "amount_cents": 2000},
        ])
    );
    assert_eq!(o["revenue"], money(3500));
    assert_eq!(o["spent"]["tokens"], 9);
    assert_eq!(
        o["spent"]["by_service"],
        json!([
            {"service_type": "askatt", "tokens": 3},
            {"service_type": "askdocs", "tokens": 6},
        ])
    );
    assert_eq!(
        o["spent"]["by_domain"],
        json!([
            {"domain_id": hr, "name": "hr", "display_name": "HR", "tokens": 5},
            {"domain_id": it, "name": "it", "display_name": "IT", "tokens": 1},
        ])
    );
    assert_eq!(o["chat_refunds"], tally(1, 1));
    assert_eq!(
        o["reversals"],
        json!({
            "refunds": tally(1, 100),
            "disputes": tally(1, 248),
            "shortfall": 2,
            "disputes_won": tally(0, 0),
        })
    );
    assert_eq!(o["grants"], tally(1, 30));
    assert_eq!(o["adjustments"], tally(0, 0));
    assert_eq!(o["active_users"], 3);
    // Ann keeps 594 bought tokens, all of her $20 package (the refunded $5
    // one is no longer hers): 594 × 2000/600 cents. Carl's 29 are a grant.
    assert_eq!(o["liability"]["tokens"], 623);
    assert_eq!(o["liability"]["paid_tokens"], 594);
    assert_eq!(o["liability"]["free_tokens"], 29);
    assert_eq!(o["liability"]["value"], money(1980));
    assert_eq!(o["liability"]["at"], o["to"]);
    // Thirty days ending today, every one listed; what happened, today.
    let daily = o["daily"].as_array().unwrap();
    assert_eq!(daily.len(), 30);
    let sum = |field: &str| {
        daily
            .iter()
            .map(|d| d[field].as_i64().unwrap())
            .sum::<i64>()
    };
    assert_eq!((sum("sold"), sum("spent")), (950, 9));
    let today = &o["to"].as_str().unwrap()[..10];
    assert_eq!(daily[29]["day"], today);
    assert!(
        daily
            .iter()
            .all(|d| d["day"] == today || (d["sold"] == 0 && d["spent"] == 0)),
        "{daily:?}"
    );

    // Up to just before the refund and the dispute: no reversals, and the
    // liability then. Ann held 694 of 700 bought tokens at (500 + 2000) / 700
    // cents, Bob 248 of 250 at 4 cents: 2478.57 + 992 cents.
    let earlier = overview(&app, &boss, &format!("?to={before_reversals}")).await;
    assert_eq!(earlier["sales"]["tokens"], 950);
    assert_eq!(earlier["spent"]["tokens"], 9);
    assert_eq!(earlier["reversals"]["refunds"], tally(0, 0));
    assert_eq!(earlier["reversals"]["disputes"], tally(0, 0));
    assert_eq!(earlier["liability"]["tokens"], 971);
    assert_eq!(earlier["liability"]["paid_tokens"], 942);
    assert_eq!(earlier["liability"]["value"], money(3471));

    // A period before any of it: nothing sold or spent, nothing owed.
    let before = overview(&app, &boss, "?from=2026-01-01&to=2026-01-31").await;
    assert_eq!(before["from"], "2026-01-01T00:00:00Z");
    assert_eq!(before["to"], "2026-02-01T00:00:00Z");
    assert_eq!(before["daily"].as_array().unwrap().len(), 31);
    assert_eq!(before["sales"]["tokens"], 0);
    assert_eq!(before["revenue"], json!([]));
    assert_eq!(before["liability"]["tokens"], 0);
    assert_eq!(before["liability"]["value"], json!([]));
    app.db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn the_overview_is_for_admins_only_and_refuses_bad_periods() {
    let app = spawn_shop(&[("ADMIN_EMAILS", ADMIN)]).await;
    let (boss, _) = app.sign_in(ADMIN).await;
    let (ann, _) = app.sign_in("ann@example.com").await;

    let anonymous = app.get("/api/admin/overview", None).await;
    assert_problem(&anonymous, StatusCode::UNAUTHORIZED, "unauthenticated");
    let user = app.get("/api/admin/overview", Some(&ann)).await;
    assert_problem(&user, StatusCode::FORBIDDEN, "forbidden");

    for (query, field) in [
        ("?from=yesterday", "from"),
        ("?to=2026-02-30", "to"),
        ("?from=2026-12-02&to=2026-12-01", "to"),
        ("?from=2026-12-01T10:00:00Z&to=2026-12-01T10:00:00Z", "to"),
        ("?from=2025-01-01&to=2026-01-02", "to"),
        ("?from=0000-01-01", "from"),
        ("?days=30", ""),
    ] {
        let reply = app
            .get(&format!("/api/admin/overview{query}"), Some(&boss))
            .await;
        assert_problem(
            &reply,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        );
        if !field.is_empty() {
            assert_eq!(reply.body["field"], field, "{query}: {}", reply.body);
        }
    }
    let longest = app
        .get(
            "/api/admin/overview?from=2025-01-01&to=2026-01-01",
            Some(&boss),
        )
        .await;
    assert_eq!(longest.status, StatusCode::OK, "{}", longest.body);
    assert_eq!(longest.body["daily"].as_array().unwrap().len(), 366);
}
