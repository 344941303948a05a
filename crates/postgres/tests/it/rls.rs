//! The Supabase row-level security of `sql/`, proven on the real PostgreSQL.
//!
//! Each test gets a database of its own with `sql/00_supabase_local.sql`
//! (Supabase's roles and `auth.uid()`), `sql/10_schema.sql` and
//! `sql/20_rls.sql` applied and a few rows inserted by the superuser. Checks
//! then run the way PostgREST runs a request: in a transaction, as the JWT's
//! role, with the claims in `request.jwt.claims`.

use serde_json::json;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, Transaction};
use uuid::Uuid;

use crate::support::ScratchDatabase;

const SUPABASE_LOCAL: &str = include_str!("../../../../sql/00_supabase_local.sql");
const SCHEMA: &str = include_str!("../../../../sql/10_schema.sql");
const RLS: &str = include_str!("../../../../sql/20_rls.sql");

// --- the fixture --------------------------------------------------------------

/// Users A and B, an admin, ledger rows for A and B, one active and one
/// inactive domain, one processed Stripe event.
struct Fixture {
    db: ScratchDatabase,
    a: String,
    b: String,
    admin: String,
    active_domain: String,
    inactive_domain: String,
    a_transactions: Vec<String>,
    b_transactions: Vec<String>,
}

async fn fixture() -> Fixture {
    let db = ScratchDatabase::create().await;
    db.client.batch_execute(SUPABASE_LOCAL).await.unwrap();
    db.client.batch_execute(SCHEMA).await.unwrap();
    db.client.batch_execute(RLS).await.unwrap();

    let id = || Uuid::new_v4().to_string();
    let (a, b, admin) = (id(), id(), id());
    let (active_domain, inactive_domain) = (id(), id());
    let a_transactions = vec![id(), id()];
    let b_transactions = vec![id()];
    db.client
        .batch_execute(&format!(
            "INSERT INTO users (id, azure_ad_id, email, display_name, tokens, role) VALUES
                ('{a}', 'oid-a', 'a@example.com', 'Alice', 9, 'user'),
                ('{b}', 'oid-b', 'b@example.com', 'Bob', 20, 'user'),
                ('{admin}', 'oid-admin', 'admin@example.com', 'Ada', 0, 'admin');
             INSERT INTO transactions (id, user_id, transaction_type, amount, balance_after, service_type) VALUES
                ('{a1}', '{a}', 'purchase', 10, 10, NULL),
                ('{a2}', '{a}', 'consumption', -1, 9, 'askatt'),
                ('{b1}', '{b}', 'purchase', 20, 20, NULL);
             INSERT INTO domains (id, name, display_name, is_active, created_by) VALUES
                ('{active_domain}', 'handbook', 'Handbook', true, '{admin}'),
                ('{inactive_domain}', 'retired', 'Retired docs', false, '{admin}');
             INSERT INTO stripe_events (event_id, event_type) VALUES ('evt_1', 'payment_intent.succeeded');",
            a1 = a_transactions[0],
            a2 = a_transactions[1],
            b1 = b_transactions[0],
        ))
        .await
        .unwrap();
    Fixture {
        db,
        a,
        b,
        admin,
        active_domain,
        inactive_domain,
        a_transactions,
        b_transactions,
    }
}

/// A request as PostgREST makes it: a transaction, `SET LOCAL ROLE` to the
/// JWT's role and the claims in `request.jwt.claims`. Dropping it rolls back.
async fn request<'c>(client: &'c mut Client, role: &str, sub: Option<&str>) -> Transaction<'c> {
    let tx = client.transaction().await.unwrap();
    tx.batch_execute(&format!("SET LOCAL ROLE {role}"))
        .await
        .unwrap();
    let claims = match sub {
        Some(sub) => json!({ "sub": sub, "role": role }),
        None => json!({ "role": role }),
    };
    tx.execute(
        "SELECT set_config('request.jwt.claims', $1, true)",
        &[&claims.to_string()],
    )
    .await
    .unwrap();
    tx
}

async fn as_user<'c>(client: &'c mut Client, user: &str) -> Transaction<'c> {
    request(client, "authenticated", Some(user)).await
}

async fn ids(tx: &Transaction<'_>, sql: &str) -> Vec<String> {
    let mut ids: Vec<String> = tx
        .query(sql, &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    ids.sort();
    ids
}

/// Runs `sql` and asserts PostgreSQL refuses it for lack of privilege, with a
/// message containing `because`.
async fn assert_refused(tx: &Transaction<'_>, sql: &str, because: &str) {
    let error = match tx.batch_execute(sql).await {
        Ok(()) => panic!("expected `{sql}` to be refused, it succeeded"),
        Err(e) => e,
    };
    assert_eq!(
        error.code(),
        Some(&SqlState::INSUFFICIENT_PRIVILEGE),
        "`{sql}`: {error:?}"
    );
    let message = error
        .as_db_error()
        .map(|e| e.message().to_owned())
        .unwrap_or_default();
    assert!(
        message.contains(because),
        "`{sql}` was refused with `{message}`, expected `{because}`"
    );
}

async fn rows_affected(tx: &Transaction<'_>, sql: &str) -> u64 {
    tx.execute(sql, &[]).await.unwrap()
}

/// A value read by the superuser, outside any request.
async fn superuser_reads(client: &Client, sql: &str) -> String {
    client.query_one(sql, &[]).await.unwrap().get(0)
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

// --- users --------------------------------------------------------------------

#[tokio::test]
async fn a_user_sees_only_their_own_user_row() {
    let mut f = fixture().await;
    let tx = as_user(&mut f.db.client, &f.a).await;

    assert_eq!(
        ids(&tx, "SELECT id::text FROM users").await,
        vec![f.a.clone()]
    );
    assert!(
        ids(
            &tx,
            &format!("SELECT id::text FROM users WHERE id = '{}'", f.b)
        )
        .await
        .is_empty()
    );
    let tokens: i32 = tx
        .query_one("SELECT tokens FROM users", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(tokens, 9, "a user can read their own balance");
}

#[tokio::test]
async fn a_user_cannot_set_their_own_tokens() {
    let mut f = fixture().await;
    {
        let tx = as_user(&mut f.db.client, &f.a).await;
        assert_refused(
            &tx,
            &format!("UPDATE users SET tokens = 1000000 WHERE id = '{}'", f.a),
            "permission denied for table users",
        )
        .await;
    }
    {
        // Not even as part of a harmless-looking update.
        let tx = as_user(&mut f.db.client, &f.a).await;
        assert_refused(
            &tx,
            "UPDATE users SET display_name = 'Alice', tokens = tokens + 1",
            "permission denied for table users",
        )
        .await;
    }
    let tokens = superuser_reads(
        &f.db.client,
        &format!("SELECT tokens::text FROM users WHERE id = '{}'", f.a),
    )
    .await;
    assert_eq!(tokens, "9");
}

#[tokio::test]
async fn a_user_cannot_change_their_own_role_azure_ad_id_or_email() {
    let mut f = fixture().await;
    for assignment in [
        "role = 'admin'",
        "azure_ad_id = 'oid-b'",
        "email = 'someone-else@example.com'",
        "created_at = now()",
        "last_login = now()",
        "id = gen_random_uuid()",
    ] {
        let tx = as_user(&mut f.db.client, &f.a).await;
        assert_refused(
            &tx,
            &format!("UPDATE users SET {assignment} WHERE id = '{}'", f.a),
            "permission denied for table users",
        )
        .await;
    }
    let row = superuser_reads(
        &f.db.client,
        &format!(
            "SELECT concat_ws(' ', role, azure_ad_id, email) FROM users WHERE id = '{}'",
            f.a
        ),
    )
    .await;
    assert_eq!(row, "user oid-a a@example.com");
}

#[tokio::test]
async fn a_user_can_rename_themselves_but_not_another_user() {
    let mut f = fixture().await;
    {
        let tx = as_user(&mut f.db.client, &f.a).await;
        let own = format!(
            "UPDATE users SET display_name = 'Alice Liddell' WHERE id = '{}'",
            f.a
        );
        assert_eq!(rows_affected(&tx, &own).await, 1);
        let other = format!(
            "UPDATE users SET display_name = 'Mallory' WHERE id = '{}'",
            f.b
        );
        assert_eq!(
            rows_affected(&tx, &other).await,
            0,
            "another user's row is invisible"
        );
        assert_eq!(
            rows_affected(&tx, "UPDATE users SET display_name = 'Mallory'").await,
            1
        );
        tx.commit().await.unwrap();
    }
    let names = superuser_reads(
        &f.db.client,
        &format!(
            "SELECT string_agg(display_name, ',' ORDER BY email) FROM users WHERE id IN ('{}', '{}')",
            f.a, f.b
        ),
    )
    .await;
    assert_eq!(names, "Mallory,Bob", "only A's own row changed");
}

#[tokio::test]
async fn a_user_cannot_create_or_delete_users() {
    let mut f = fixture().await;
    {
        let tx = as_user(&mut f.db.client, &f.a).await;
        assert_refused(
            &tx,
            &format!(
                "INSERT INTO users (id, azure_ad_id, email, tokens, role) \
                 VALUES ('{}', 'oid-x', 'x@example.com', 1000000, 'admin')",
                Uuid::new_v4()
            ),
            "permission denied for table users",
        )
        .await;
    }
    let tx = as_user(&mut f.db.client, &f.a).await;
    assert_refused(
        &tx,
        &format!("DELETE FROM users WHERE id = '{}'", f.a),
        "permission denied for table users",
    )
    .await;
}

#[tokio::test]
async fn a_request_without_a_subject_sees_no_user_and_no_transaction() {
    let mut f = fixture().await;
    let tx = request(&mut f.db.client, "authenticated", None).await;
    assert!(ids(&tx, "SELECT id::text FROM users").await.is_empty());
    assert!(
        ids(&tx, "SELECT id::text FROM transactions")
            .await
            .is_empty()
    );
    assert_eq!(
        rows_affected(&tx, "UPDATE users SET display_name = 'nobody'").await,
        0
    );
}

// --- transactions -------------------------------------------------------------

#[tokio::test]
async fn a_user_sees_only_their_own_transactions() {
    let mut f = fixture().await;
    {
        let tx = as_user(&mut f.db.client, &f.a).await;
        assert_eq!(
            ids(&tx, "SELECT id::text FROM transactions").await,
            sorted(f.a_transactions.clone())
        );
        let others = format!(
            "SELECT id::text FROM transactions WHERE user_id = '{}'",
            f.b
        );
        assert!(ids(&tx, &others).await.is_empty());
    }
    let tx = as_user(&mut f.db.client, &f.b).await;
    assert_eq!(
        ids(&tx, "SELECT id::text FROM transactions").await,
        f.b_transactions
    );
}

#[tokio::test]
async fn a_user_cannot_insert_transactions() {
    let mut f = fixture().await;
    let tx = as_user(&mut f.db.client, &f.a).await;
    assert_refused(
        &tx,
        &format!(
            "INSERT INTO transactions (id, user_id, transaction_type, amount, balance_after) \
             VALUES ('{}', '{}', 'grant', 1000000, 1000009)",
            Uuid::new_v4(),
            f.a
        ),
        "permission denied for table transactions",
    )
    .await;
}

#[tokio::test]
async fn a_user_cannot_update_or_delete_their_transactions() {
    let mut f = fixture().await;
    for sql in [
        format!(
            "UPDATE transactions SET amount = 1000 WHERE id = '{}'",
            f.a_transactions[0]
        ),
        format!(
            "DELETE FROM transactions WHERE id = '{}'",
            f.a_transactions[1]
        ),
        "TRUNCATE transactions CASCADE".to_owned(),
    ] {
        let tx = as_user(&mut f.db.client, &f.a).await;
        assert_refused(&tx, &sql, "permission denied for table transactions").await;
    }
}

#[tokio::test]
async fn nobody_can_update_delete_or_truncate_transactions_not_even_the_owner() {
    let f = fixture().await;
    let update = format!(
        "UPDATE transactions SET amount = 1000 WHERE id = '{}'",
        f.a_transactions[0]
    );
    let delete = format!(
        "DELETE FROM transactions WHERE id = '{}'",
        f.a_transactions[1]
    );
    // The superuser owns the tables and bypasses RLS and grants; the trigger still says no.
    for sql in [update.as_str(), delete.as_str(), "TRUNCATE transactions"] {
        let error = f.db.client.batch_execute(sql).await.expect_err(sql);
        assert_eq!(
            error.code(),
            Some(&SqlState::INSUFFICIENT_PRIVILEGE),
            "{sql}"
        );
        assert!(
            error
                .as_db_error()
                .unwrap()
                .message()
                .contains("transactions is append-only"),
            "{sql}: {error:?}"
        );
    }
    let count = superuser_reads(&f.db.client, "SELECT count(*)::text FROM transactions").await;
    assert_eq!(count, "3");
}

// --- domains ------------------------------------------------------------------

#[tokio::test]
async fn a_user_sees_active_domains_but_not_inactive_ones() {
    let mut f = fixture().await;
    let tx = as_user(&mut f.db.client, &f.a).await;
    assert_eq!(
        ids(&tx, "SELECT id::text FROM domains").await,
        vec![f.active_domain.clone()]
    );
    let inactive = format!(
        "SELECT id::text FROM domains WHERE id = '{}'",
        f.inactive_domain
    );
    assert!(ids(&tx, &inactive).await.is_empty());
}

#[tokio::test]
async fn a_user_cannot_insert_update_or_delete_domains() {
    let mut f = fixture().await;
    {
        let tx = as_user(&mut f.db.client, &f.a).await;
        assert_refused(
            &tx,
            &format!(
                "INSERT INTO domains (id, name, display_name) VALUES ('{}', 'mine', 'Mine')",
                Uuid::new_v4()
            ),
            "violates row-level security policy",
        )
        .await;
    }
    {
        let tx = as_user(&mut f.db.client, &f.a).await;
        let update = format!(
            "UPDATE domains SET api_endpoint = 'https://evil.example' WHERE id = '{}'",
            f.active_domain
        );
        assert_eq!(rows_affected(&tx, &update).await, 0);
        let delete = format!("DELETE FROM domains WHERE id = '{}'", f.active_domain);
        assert_eq!(rows_affected(&tx, &delete).await, 0);
        let reactivate = format!(
            "UPDATE domains SET is_active = true WHERE id = '{}'",
            f.inactive_domain
        );
        assert_eq!(rows_affected(&tx, &reactivate).await, 0);
        tx.commit().await.unwrap();
    }
    let state = superuser_reads(
        &f.db.client,
        "SELECT string_agg(concat_ws(':', name, is_active, api_endpoint), ',' ORDER BY name) FROM domains",
    )
    .await;
    assert_eq!(state, "handbook:t,retired:f");
}

#[tokio::test]
async fn an_admin_can_insert_update_and_delete_domains_and_sees_inactive_ones() {
    let mut f = fixture().await;
    let created = Uuid::new_v4().to_string();
    {
        let tx = as_user(&mut f.db.client, &f.admin).await;
        assert_eq!(
            ids(&tx, "SELECT id::text FROM domains").await,
            sorted(vec![f.active_domain.clone(), f.inactive_domain.clone()])
        );
        let insert = format!(
            "INSERT INTO domains (id, name, display_name, created_by) VALUES ('{created}', 'policies', 'Policies', '{}')",
            f.admin
        );
        assert_eq!(rows_affected(&tx, &insert).await, 1);
        let update = format!(
            "UPDATE domains SET is_active = true WHERE id = '{}'",
            f.inactive_domain
        );
        assert_eq!(rows_affected(&tx, &update).await, 1);
        let delete = format!("DELETE FROM domains WHERE id = '{}'", f.active_domain);
        assert_eq!(rows_affected(&tx, &delete).await, 1);
        tx.commit().await.unwrap();
    }
    let state = superuser_reads(
        &f.db.client,
        "SELECT string_agg(concat_ws(':', name, is_active), ',' ORDER BY name) FROM domains",
    )
    .await;
    assert_eq!(state, "policies:t,retired:t");
}

#[tokio::test]
async fn is_admin_answers_for_the_signed_in_user_only() {
    let mut f = fixture().await;
    for (user, expected) in [(&f.a, false), (&f.admin, true)] {
        let tx = as_user(&mut f.db.client, user).await;
        let is_admin: bool = tx
            .query_one("SELECT public.is_admin()", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(is_admin, expected, "is_admin() for {user}");
    }
    let tx = request(&mut f.db.client, "anon", None).await;
    assert_refused(
        &tx,
        "SELECT public.is_admin()",
        "permission denied for function is_admin",
    )
    .await;
}

// --- stripe_events, anon, service_role ---------------------------------------

#[tokio::test]
async fn signed_in_users_cannot_touch_stripe_events() {
    let mut f = fixture().await;
    for sql in [
        "SELECT * FROM stripe_events",
        "INSERT INTO stripe_events (event_id, event_type) VALUES ('evt_forged', 'payment_intent.succeeded')",
        "DELETE FROM stripe_events",
    ] {
        let tx = as_user(&mut f.db.client, &f.admin).await;
        assert_refused(&tx, sql, "permission denied for table stripe_events").await;
    }
}

#[tokio::test]
async fn anon_is_refused_every_table() {
    let mut f = fixture().await;
    for table in [
        "users",
        "transactions",
        "domains",
        "stripe_events",
        "__diesel_schema_migrations",
    ] {
        let tx = request(&mut f.db.client, "anon", None).await;
        assert_refused(
            &tx,
            &format!("SELECT * FROM {table}"),
            &format!("permission denied for table {table}"),
        )
        .await;
    }
    let tx = request(&mut f.db.client, "anon", None).await;
    assert_refused(
        &tx,
        &format!(
            "INSERT INTO domains (id, name, display_name) VALUES ('{}', 'x', 'X')",
            Uuid::new_v4()
        ),
        "permission denied for table domains",
    )
    .await;
}

#[tokio::test]
async fn anon_with_a_stolen_user_id_still_sees_nothing() {
    let mut f = fixture().await;
    let tx = request(&mut f.db.client, "anon", Some(&f.a)).await;
    assert_refused(
        &tx,
        "SELECT * FROM users",
        "permission denied for table users",
    )
    .await;
}

#[tokio::test]
async fn service_role_bypasses_rls_but_still_cannot_rewrite_the_ledger() {
    let mut f = fixture().await;
    {
        let tx = request(&mut f.db.client, "service_role", None).await;
        assert_eq!(ids(&tx, "SELECT id::text FROM users").await.len(), 3);
        assert_eq!(ids(&tx, "SELECT id::text FROM transactions").await.len(), 3);
        assert_eq!(ids(&tx, "SELECT id::text FROM domains").await.len(), 2);
        assert_eq!(
            ids(&tx, "SELECT event_id FROM stripe_events").await.len(),
            1
        );
        let credit = format!(
            "INSERT INTO transactions (id, user_id, transaction_type, amount, balance_after) \
             VALUES ('{}', '{}', 'grant', 5, 25)",
            Uuid::new_v4(),
            f.b
        );
        assert_eq!(rows_affected(&tx, &credit).await, 1);
        let balance = format!("UPDATE users SET tokens = 25 WHERE id = '{}'", f.b);
        assert_eq!(rows_affected(&tx, &balance).await, 1);
    }
    let tx = request(&mut f.db.client, "service_role", None).await;
    assert_refused(
        &tx,
        "DELETE FROM transactions",
        "permission denied for table transactions",
    )
    .await;
}

// --- the scripts themselves ---------------------------------------------------

#[tokio::test]
async fn tables_created_after_the_rls_script_are_not_exposed_to_jwt_roles() {
    let mut f = fixture().await;
    f.db.client
        .batch_execute("CREATE TABLE refresh_tokens (token text PRIMARY KEY); INSERT INTO refresh_tokens VALUES ('secret');")
        .await
        .unwrap();
    for role in ["anon", "authenticated"] {
        let tx = request(&mut f.db.client, role, Some(&f.a)).await;
        assert_refused(
            &tx,
            "SELECT * FROM refresh_tokens",
            "permission denied for table refresh_tokens",
        )
        .await;
    }
}

#[tokio::test]
async fn applying_the_scripts_a_second_time_keeps_every_protection() {
    let mut f = fixture().await;
    f.db.client.batch_execute(SUPABASE_LOCAL).await.unwrap();
    f.db.client.batch_execute(RLS).await.unwrap();
    {
        let tx = as_user(&mut f.db.client, &f.a).await;
        assert_eq!(
            ids(&tx, "SELECT id::text FROM users").await,
            vec![f.a.clone()]
        );
        assert_eq!(
            ids(&tx, "SELECT id::text FROM domains").await,
            vec![f.active_domain.clone()]
        );
        assert_eq!(
            rows_affected(&tx, "UPDATE users SET display_name = 'A'").await,
            1
        );
    }
    let tx = as_user(&mut f.db.client, &f.a).await;
    assert_refused(
        &tx,
        "UPDATE users SET tokens = 1000000",
        "permission denied for table users",
    )
    .await;
}

// --- the migrations alone, before sql/20_rls.sql -------------------------------

/// Every `migrations/*/up.sql`, in the order diesel applies them.
fn migrations_in_order() -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
    let mut found: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|entry| entry.path().join("up.sql").is_file())
        .map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let sql = std::fs::read_to_string(entry.path().join("up.sql")).unwrap();
            (name, sql)
        })
        .collect();
    found.sort();
    found
}

/// A database with Supabase's roles and default privileges, then every
/// migration, as a deployment looks before `sql/20_rls.sql` is applied.
async fn migrated_supabase_database() -> ScratchDatabase {
    let db = ScratchDatabase::create().await;
    db.client.batch_execute(SUPABASE_LOCAL).await.unwrap();
    for (name, sql) in migrations_in_order() {
        db.client
            .batch_execute(&sql)
            .await
            .unwrap_or_else(|e| panic!("migration {name}: {e:?}"));
    }
    db
}

#[tokio::test]
async fn every_table_in_public_has_row_level_security() {
    let db = migrated_supabase_database().await;
    let open: Vec<String> = db
        .client
        .query(
            "SELECT c.relname::text FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') \
               AND NOT c.relrowsecurity ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert!(
        open.is_empty(),
        "tables without row-level security (enable it and revoke anon/authenticated \
         in their migration, see sql/README.md): {open:?}"
    );
}

#[tokio::test]
async fn before_the_rls_script_the_anon_key_cannot_make_itself_admin() {
    let mut db = migrated_supabase_database().await;
    let user = Uuid::new_v4().to_string();
    db.client
        .execute(
            "INSERT INTO users (id, azure_ad_id, email, display_name) \
             VALUES ($1::text::uuid, 'oid-a', 'a@example.com', 'A')",
            &[&user],
        )
        .await
        .unwrap();
    for role in ["anon", "authenticated"] {
        let tx = request(&mut db.client, role, Some(&user)).await;
        assert_refused(
            &tx,
            "UPDATE users SET role = 'admin', tokens = 1000000",
            "permission denied for table users",
        )
        .await;
        drop(tx);
        for table in [
            "users",
            "domains",
            "transactions",
            "stripe_events",
            "refresh_tokens",
        ] {
            let tx = request(&mut db.client, role, Some(&user)).await;
            assert_refused(
                &tx,
                &format!("SELECT * FROM {table}"),
                &format!("permission denied for table {table}"),
            )
            .await;
        }
        let tx = request(&mut db.client, role, Some(&user)).await;
        assert_refused(
            &tx,
            "INSERT INTO transactions (id, user_id, transaction_type, amount, balance_after) \
             VALUES (gen_random_uuid(), auth.uid(), 'grant', 1000000, 1000000)",
            "permission denied for table transactions",
        )
        .await;
    }
}

#[tokio::test]
async fn a_users_display_name_longer_than_100_characters_is_refused_by_the_database() {
    let mut db = migrated_supabase_database().await;
    db.client.batch_execute(RLS).await.unwrap();
    let client = &mut db.client;
    let user = Uuid::new_v4().to_string();
    client
        .execute(
            "INSERT INTO users (id, azure_ad_id, email) VALUES ($1::text::uuid, 'oid-a', 'a@example.com')",
            &[&user],
        )
        .await
        .unwrap();
    let tx = as_user(client, &user).await;
    let error = tx
        .batch_execute(&format!(
            "UPDATE users SET display_name = '{}'",
            "é".repeat(101)
        ))
        .await
        .expect_err("a 101-character display name is refused");
    assert_eq!(error.code(), Some(&SqlState::CHECK_VIOLATION), "{error:?}");
    drop(tx);
    let tx = as_user(client, &user).await;
    assert_eq!(
        rows_affected(
            &tx,
            &format!("UPDATE users SET display_name = '{}'", "é".repeat(100))
        )
        .await,
        1
    );
}

#[tokio::test]
async fn a_domains_endpoint_and_configuration_are_not_readable_through_the_data_api() {
    let mut f = fixture().await;
    for user in [f.a.clone(), f.admin.clone()] {
        for column in ["api_endpoint", "configuration"] {
            let tx = as_user(&mut f.db.client, &user).await;
            assert_refused(
                &tx,
                &format!("SELECT {column} FROM domains"),
                "permission denied for table domains",
            )
            .await;
        }
        let tx = as_user(&mut f.db.client, &user).await;
        assert!(!ids(&tx, "SELECT name FROM domains").await.is_empty());
    }
}

#[tokio::test]
async fn functions_created_after_the_rls_script_are_not_executable_by_anon() {
    let mut f = fixture().await;
    f.db.client
        .batch_execute(
            "CREATE FUNCTION public.later_function() RETURNS integer LANGUAGE sql AS 'SELECT 1'",
        )
        .await
        .unwrap();
    let tx = request(&mut f.db.client, "anon", None).await;
    assert_refused(
        &tx,
        "SELECT public.later_function()",
        "permission denied for function later_function",
    )
    .await;
}

#[tokio::test]
async fn after_the_migrations_a_restricted_domain_is_read_only_by_holders_of_its_roles_or_groups() {
    let mut db = migrated_supabase_database().await;
    db.client.batch_execute(RLS).await.unwrap();
    let id = || Uuid::new_v4().to_string();
    let (by_role, by_group, outsider, admin) = (id(), id(), id(), id());
    let (open, finance, hr) = (id(), id(), id());
    db.client
        .batch_execute(&format!(
            "INSERT INTO users (id, azure_ad_id, email, role, entra_roles, entra_groups) VALUES
                ('{by_role}', 'oid-r', 'r@example.com', 'user', '{{Finance}}', '{{}}'),
                ('{by_group}', 'oid-g', 'g@example.com', 'user', '{{Reader}}', '{{g-1}}'),
                ('{outsider}', 'oid-o', 'o@example.com', 'user', '{{finance}}', '{{g-2}}'),
                ('{admin}', 'oid-a', 'a@example.com', 'admin', '{{}}', '{{}}');
             INSERT INTO domains (id, name, display_name, allowed_roles) VALUES
                ('{open}', 'open', 'Open', '{{}}'),
                ('{finance}', 'finance', 'Finance', '{{Finance,g-1}}'),
                ('{hr}', 'hr', 'HR', '{{HR}}');"
        ))
        .await
        .unwrap();
    let sorted = |v: &[&String]| {
        let mut v: Vec<String> = v.iter().map(|s| (*s).clone()).collect();
        v.sort();
        v
    };
    for (user, expected) in [
        (&by_role, sorted(&[&open, &finance])),
        (&by_group, sorted(&[&open, &finance])),
        (&outsider, sorted(&[&open])),
        (&admin, sorted(&[&open, &finance, &hr])),
    ] {
        let tx = as_user(&mut db.client, user).await;
        assert_eq!(
            ids(&tx, "SELECT id::text FROM public.domains").await,
            expected,
            "domains {user} reads"
        );
    }
}
