//! Users, domains, health and the pool itself on a real PostgreSQL.

use std::time::Duration;

use askgate_domain::audit::{AuditFilter, AuditStamp};
use askgate_domain::domain::{
    AllowedRoles, ApiEndpoint, DisplayName, DomainConfiguration, DomainDeletion, DomainSlug,
    NewDomain, UpstreamKind,
};
use askgate_domain::ledger::ServiceType;
use askgate_domain::page::PageRequest;
use askgate_domain::ports::AdminStore;
use askgate_domain::ports::{
    BalanceError, Charges, DomainRepository, HealthCheck, Ledger, Reservation, ReserveError,
    UserRepository,
};
use askgate_domain::testing as fixtures;
use askgate_domain::user::{Memberships, Role, SignIn};
use askgate_domain::{ChargeId, ConversationId, DomainId, Email, StoreError, Tokens, UserId};
use askgate_postgres::testing::TestDatabase;
use askgate_postgres::{
    Database, MIGRATIONS, PgAdmin, PgCharges, PgConfig, PgDomains, PgError, PgHealth, PgLedger,
    PgUsers,
};
use chrono::{Duration as ChronoDuration, SubsecRound, Utc};
use diesel::QueryableByName;
use diesel::migration::MigrationSource;
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use futures::future::join_all;
use serde_json::json;

fn config(url: &str) -> PgConfig {
    PgConfig {
        url: url.to_owned(),
        max_connections: 2,
        application_name: "askgate-store-test".to_owned(),
        statement_timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(2),
        tls: Default::default(),
    }
}

fn sign_in(external_id: &str, email: &str) -> SignIn {
    SignIn {
        display_name: Some("Ann".to_owned()),
        ..fixtures::sign_in(external_id, email)
    }
}

/// A chat's reservation of one token.
fn chat(user: UserId) -> Reservation<'static> {
    Reservation {
        charge: ChargeId::generate(),
        user,
        service: ServiceType::AskDocs,
        domain: None,
        conversation: ConversationId::generate(),
        idempotency: None,
        api_key: None,
    }
}

fn stamp(actor: UserId) -> AuditStamp {
    AuditStamp {
        actor,
        request_id: Some("req-test".to_owned()),
    }
}

fn new_domain(name: &str) -> NewDomain {
    NewDomain {
        name: DomainSlug::parse(name).unwrap(),
        display_name: DisplayName::parse("HR policies").unwrap(),
        description: Some("Handbook".to_owned()),
        api_endpoint: Some(ApiEndpoint::parse("https://docs.example.com/hr").unwrap()),
        configuration: DomainConfiguration::parse(json!({ "kind": "askdocs" })).unwrap(),
        is_active: true,
        allowed_roles: AllowedRoles::everyone(),
    }
}

#[tokio::test]
async fn a_sign_ins_roles_and_groups_are_kept_and_replaced_by_the_next_one() {
    let test_db = TestDatabase::new().await;
    let users = PgUsers::new(test_db.database());
    let first = SignIn {
        memberships: Memberships::new(vec!["Finance".into()], vec!["g-1".into(), "g-2".into()]),
        ..sign_in("oid-mem", "mem@example.com")
    };
    let user = users.upsert_sign_in(&first).await.unwrap();
    let kept = users.memberships(user.id).await.unwrap();
    assert_eq!(kept.roles(), ["Finance"]);
    assert_eq!(kept.groups(), ["g-1", "g-2"]);

    let again = SignIn {
        memberships: Memberships::new(vec![], vec!["g-3".into()]),
        ..sign_in("oid-mem", "mem@example.com")
    };
    users.upsert_sign_in(&again).await.unwrap();
    let kept = users.memberships(user.id).await.unwrap();
    assert!(kept.roles().is_empty());
    assert_eq!(kept.groups(), ["g-3"]);
    assert_eq!(
        users.memberships(UserId::generate()).await.unwrap(),
        Memberships::none()
    );
}

#[tokio::test]
async fn a_domains_allowed_roles_are_stored_and_replaced() {
    let test_db = TestDatabase::new().await;
    let db = test_db.database();
    let owner = PgUsers::new(db.clone())
        .upsert_sign_in(&sign_in("oid-owner", "owner@example.com"))
        .await
        .unwrap();
    let domains = PgDomains::new(db);
    let restricted = NewDomain {
        allowed_roles: AllowedRoles::parse(&["Finance", "g-1"]).unwrap(),
        ..new_domain("finance")
    };
    let created = domains
        .create(&restricted, owner.id, &stamp(owner.id))
        .await
        .unwrap();
    assert_eq!(created.allowed_roles.as_slice(), ["Finance", "g-1"]);
    let read = domains.get(created.id).await.unwrap().unwrap();
    assert_eq!(read.allowed_roles, created.allowed_roles);
    // Kept when the update leaves them out, replaced when it names them.
    let kept = domains
        .update(created.id, &new_domain("finance"), true, &stamp(owner.id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.allowed_roles.as_slice(), ["Finance", "g-1"]);
    let opened = domains
        .update(created.id, &new_domain("finance"), false, &stamp(owner.id))
        .await
        .unwrap()
        .unwrap();
    assert!(opened.allowed_roles.is_empty());
}

#[tokio::test]
async fn first_sign_in_creates_the_user_with_no_tokens() {
    let test_db = TestDatabase::new().await;
    let users = PgUsers::new(test_db.database());

    let first = sign_in("oid-ann", "Ann@Example.com");
    let user = users.upsert_sign_in(&first).await.unwrap();

    assert_eq!(user.tokens, Tokens::ZERO);
    assert_eq!(user.email.as_str(), "ann@example.com");
    assert_eq!(user.external_id.as_str(), "oid-ann");
    assert_eq!(user.role, Role::User);
    assert_eq!(user.last_login, Some(first.at));
    assert_eq!(users.find(user.id).await.unwrap(), Some(user.clone()));
    assert_eq!(
        users.find_by_email(&first.email).await.unwrap(),
        Some(user.clone())
    );
    assert_eq!(users.find(UserId::generate()).await.unwrap(), None);
    assert_eq!(
        users
            .find_by_email(&Email::parse("nobody@example.com").unwrap())
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn a_later_sign_in_updates_the_profile_and_last_login_but_keeps_the_balance() {
    let test_db = TestDatabase::new().await;
    let db = test_db.database();
    let users = PgUsers::new(db.clone());
    let ledger = PgLedger::new(db.clone());
    let user = users
        .upsert_sign_in(&sign_in("oid-bob", "bob@example.com"))
        .await
        .unwrap();
    ledger
        .credit(&askgate_domain::ledger::CreditRequest {
            user: user.id,
            kind: askgate_domain::ledger::CreditKind::Grant,
            amount: Tokens::new(12).unwrap(),
            idempotency_key: askgate_domain::ledger::IdempotencyKey::parse("welcome").unwrap(),
            metadata: json!({}),
        })
        .await
        .unwrap();

    let mut later = sign_in("oid-bob", "robert@example.com");
    later.display_name = Some("Robert".to_owned());
    later.role = Role::Admin;
    later.at = (Utc::now() + ChronoDuration::hours(1)).trunc_subsecs(6);
    let updated = users.upsert_sign_in(&later).await.unwrap();

    assert_eq!(updated.id, user.id);
    assert_eq!(updated.tokens.get(), 12);
    assert_eq!(updated.email.as_str(), "robert@example.com");
    assert_eq!(updated.display_name.as_deref(), Some("Robert"));
    assert_eq!(updated.role, Role::Admin);
    assert_eq!(updated.last_login, Some(later.at));
    assert_eq!(updated.created_at, user.created_at);
    test_db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn an_email_of_another_identity_is_a_conflict() {
    let test_db = TestDatabase::new().await;
    let users = PgUsers::new(test_db.database());
    users
        .upsert_sign_in(&sign_in("oid-1", "shared@example.com"))
        .await
        .unwrap();

    let taken = users
        .upsert_sign_in(&sign_in("oid-2", "shared@example.com"))
        .await;
    assert!(matches!(taken, Err(StoreError::Conflict(_))), "{taken:?}");

    // Also when an existing identity changes its address to a taken one.
    users
        .upsert_sign_in(&sign_in("oid-3", "other@example.com"))
        .await
        .unwrap();
    let taken = users
        .upsert_sign_in(&sign_in("oid-3", "shared@example.com"))
        .await;
    assert!(matches!(taken, Err(StoreError::Conflict(_))), "{taken:?}");
}

#[tokio::test]
async fn domains_are_created_read_listed_and_updated() {
    let test_db = TestDatabase::new().await;
    let db = test_db.database();
    let admin = PgUsers::new(db.clone())
        .upsert_sign_in(&sign_in("oid-admin", "admin@example.com"))
        .await
        .unwrap();
    let domains = PgDomains::new(db);

    let hr = domains
        .create(&new_domain("hr"), admin.id, &stamp(admin.id))
        .await
        .unwrap();
    assert_eq!(hr.name.as_str(), "hr");
    assert_eq!(hr.created_by, Some(admin.id));
    assert_eq!(hr.configuration.kind(), Ok(UpstreamKind::AskDocs));
    assert_eq!(
        hr.api_endpoint.as_ref().map(ApiEndpoint::as_str),
        Some("https://docs.example.com/hr")
    );
    assert_eq!(
        domains.get(hr.id).await.unwrap(),
        Some(std::sync::Arc::new(hr.clone()))
    );
    assert_eq!(domains.get(DomainId::generate()).await.unwrap(), None);

    let mut inactive = new_domain("archive");
    inactive.is_active = false;
    let archive = domains
        .create(&inactive, admin.id, &stamp(admin.id))
        .await
        .unwrap();
    let active: Vec<_> = domains.list(false).await.unwrap();
    assert_eq!(active, vec![hr.clone()]);
    let all: Vec<_> = domains.list(true).await.unwrap();
    assert_eq!(all, vec![archive.clone(), hr.clone()]); // by name

    let mut change = new_domain("human-resources");
    change.display_name = DisplayName::parse("Human resources").unwrap();
    change.description = None;
    change.api_endpoint = None;
    let updated = domains
        .update(hr.id, &change, false, &stamp(admin.id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.name.as_str(), "human-resources");
    assert_eq!(updated.display_name.as_str(), "Human resources");
    assert_eq!(updated.description, None);
    assert_eq!(updated.api_endpoint, None);
    assert_eq!(updated.created_at, hr.created_at);
    assert!(updated.updated_at > hr.updated_at);
    assert_eq!(
        domains
            .update(DomainId::generate(), &change, false, &stamp(admin.id))
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn a_taken_domain_name_is_a_conflict() {
    let test_db = TestDatabase::new().await;
    let db = test_db.database();
    let admin = PgUsers::new(db.clone())
        .upsert_sign_in(&sign_in("oid-admin", "admin@example.com"))
        .await
        .unwrap();
    let domains = PgDomains::new(db);
    domains
        .create(&new_domain("hr"), admin.id, &stamp(admin.id))
        .await
        .unwrap();
    let finance = domains
        .create(&new_domain("finance"), admin.id, &stamp(admin.id))
        .await
        .unwrap();

    let created = domains
        .create(&new_domain("hr"), admin.id, &stamp(admin.id))
        .await;
    assert!(
        matches!(created, Err(StoreError::Conflict(_))),
        "{created:?}"
    );
    let renamed = domains
        .update(finance.id, &new_domain("hr"), false, &stamp(admin.id))
        .await;
    assert!(
        matches!(renamed, Err(StoreError::Conflict(_))),
        "{renamed:?}"
    );
}

#[tokio::test]
async fn deleting_a_domain_with_history_deactivates_it() {
    let test_db = TestDatabase::new().await;
    let db = test_db.database();
    let admin = PgUsers::new(db.clone())
        .upsert_sign_in(&sign_in("oid-admin", "admin@example.com"))
        .await
        .unwrap();
    let ledger = PgLedger::new(db.clone());
    ledger
        .credit(&askgate_domain::ledger::CreditRequest {
            user: admin.id,
            kind: askgate_domain::ledger::CreditKind::Grant,
            amount: Tokens::ONE,
            idempotency_key: askgate_domain::ledger::IdempotencyKey::parse("seed").unwrap(),
            metadata: json!({}),
        })
        .await
        .unwrap();
    let charges = PgCharges::new(db.clone());
    let domains = PgDomains::new(db);
    let unused = domains
        .create(&new_domain("unused"), admin.id, &stamp(admin.id))
        .await
        .unwrap();
    let used = domains
        .create(&new_domain("used"), admin.id, &stamp(admin.id))
        .await
        .unwrap();
    // A chat asked `used`: its consumption row names the domain.
    charges
        .reserve(
            &Reservation {
                domain: Some(used.id),
                ..chat(admin.id)
            },
            Duration::ZERO,
        )
        .await
        .unwrap();

    assert_eq!(
        domains.delete(unused.id, &stamp(admin.id)).await.unwrap(),
        DomainDeletion::Deleted
    );
    assert_eq!(domains.get(unused.id).await.unwrap(), None);

    assert_eq!(
        domains.delete(used.id, &stamp(admin.id)).await.unwrap(),
        DomainDeletion::Deactivated
    );
    let kept = domains.get(used.id).await.unwrap().unwrap();
    assert!(!kept.is_active);
    assert!(kept.updated_at > used.updated_at);
    assert!(domains.list(false).await.unwrap().is_empty());

    assert_eq!(
        domains
            .delete(DomainId::generate(), &stamp(admin.id))
            .await
            .unwrap(),
        DomainDeletion::NotFound
    );
    test_db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn every_domain_change_is_audited_in_its_own_transaction() {
    let test_db = TestDatabase::new().await;
    let db = test_db.database();
    let admin = PgUsers::new(db.clone())
        .upsert_sign_in(&sign_in("oid-admin", "admin@example.com"))
        .await
        .unwrap();
    let domains = PgDomains::new(db.clone());
    let hr = domains
        .create(&new_domain("hr"), admin.id, &stamp(admin.id))
        .await
        .unwrap();
    domains
        .update(
            hr.id,
            &new_domain("human-resources"),
            true,
            &stamp(admin.id),
        )
        .await
        .unwrap();
    domains.delete(hr.id, &stamp(admin.id)).await.unwrap();
    let records = PgAdmin::new(db.clone())
        .audit(
            AuditFilter::default(),
            PageRequest::parse(Some(10), None).unwrap(),
        )
        .await
        .unwrap()
        .items;
    let actions: Vec<_> = records.iter().rev().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, ["domain_create", "domain_update", "domain_delete"]);
    let update = &records[1];
    assert_eq!(update.before.as_ref().unwrap()["name"], "hr");
    assert_eq!(update.after.as_ref().unwrap()["name"], "human-resources");
    assert_eq!(update.request_id.as_deref(), Some("req-test"));

    // A change whose audit record cannot be written does not happen: here
    // the record names an actor that does not exist.
    let nobody = stamp(UserId::generate());
    assert!(
        domains
            .create(&new_domain("finance"), admin.id, &nobody)
            .await
            .is_err()
    );
    assert!(
        domains.list(true).await.unwrap().is_empty(),
        "nothing created"
    );
}

#[tokio::test]
async fn health_check_answers_and_the_pool_reports_its_connections() {
    let test_db = TestDatabase::new().await;
    let db = Database::connect(&config(test_db.url())).await.unwrap();
    // `connect` checked one connection out and gave it back.
    assert_eq!(db.pool_status(), (0, 1));
    PgHealth::new(db.clone()).check().await.unwrap();
    assert_eq!(db.pool_status(), (0, 1));
}

#[tokio::test]
async fn connections_the_server_closed_are_replaced_before_they_are_handed_out() {
    let test_db = TestDatabase::new().await;
    let mut cfg = config(test_db.url());
    cfg.application_name = "askgate-recycle-test".to_owned();
    let db = Database::connect(&cfg).await.unwrap();
    let health = PgHealth::new(db.clone());
    health.check().await.unwrap();
    assert_eq!(db.pool_status(), (0, 1));

    // As a database restart or an idle timeout would: the server ends them.
    let mut admin = AsyncPgConnection::establish(test_db.url()).await.unwrap();
    admin
        .batch_execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name = 'askgate-recycle-test'",
        )
        .await
        .unwrap();
    // Termination is asynchronous: wait until the server has let them go.
    for _ in 0..100 {
        let left: Vec<Session> = diesel::sql_query(
            "SELECT application_name::text AS application_name FROM pg_stat_activity \
             WHERE application_name = 'askgate-recycle-test'",
        )
        .load(&mut admin)
        .await
        .unwrap();
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;

    // The next request gets a fresh connection, not the dead one.
    health.check().await.unwrap();
    // And so does the one after it (the query ran: the user is unknown).
    assert!(matches!(
        PgLedger::new(db.clone()).balance(UserId::generate()).await,
        Err(BalanceError::UserNotFound)
    ));
}

#[derive(QueryableByName)]
struct Session {
    #[diesel(sql_type = Text)]
    application_name: String,
}

#[tokio::test]
async fn pool_connections_carry_the_application_name_and_statement_timeout() {
    let test_db = TestDatabase::new().await;
    let mut cfg = config(test_db.url());
    cfg.statement_timeout = Duration::from_millis(300);
    let db = Database::connect(&cfg).await.unwrap();
    let ledger = PgLedger::new(db.clone());
    let charges = PgCharges::new(db.clone());
    let user = PgUsers::new(db.clone())
        .upsert_sign_in(&sign_in("oid-slow", "slow@example.com"))
        .await
        .unwrap();
    ledger
        .credit(&askgate_domain::ledger::CreditRequest {
            user: user.id,
            kind: askgate_domain::ledger::CreditKind::Grant,
            amount: Tokens::ONE,
            idempotency_key: askgate_domain::ledger::IdempotencyKey::parse("seed").unwrap(),
            metadata: json!({}),
        })
        .await
        .unwrap();

    let mut other = AsyncPgConnection::establish(test_db.url()).await.unwrap();
    let sessions: Vec<Session> = diesel::sql_query(
        "SELECT application_name::text AS application_name FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .load(&mut other)
    .await
    .unwrap();
    // This pool's connection, and the one `TestDatabase` itself opened.
    let mut names: Vec<&str> = sessions
        .iter()
        .map(|s| s.application_name.as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["askgate-store-test", "askgate-test"]);

    // Another session holds the user's row: a chat's reservation waits, and
    // the statement timeout turns the wait into `Unavailable` rather than a hang.
    other
        .batch_execute(&format!(
            "BEGIN; SELECT 1 FROM users WHERE id = '{}' FOR UPDATE;",
            user.id
        ))
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let blocked = charges.reserve(&chat(user.id), Duration::ZERO).await;
    assert!(
        matches!(blocked, Err(ReserveError::Unavailable(_))),
        "{blocked:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    other.batch_execute("ROLLBACK").await.unwrap();
    // Nothing was spent, and the pool still works.
    assert_eq!(ledger.balance(user.id).await.unwrap(), Tokens::ONE);
    drop(other);
    test_db.assert_ledger_invariant().await;
}

#[tokio::test]
async fn a_server_that_is_down_fails_with_one_clear_line_without_the_password() {
    let url = "postgres://askgate:s3cret-pw@127.0.0.1:1/askgate";
    let error = Database::connect(&config(url)).await.unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, PgError::Connect { .. }));
    assert_eq!(
        message,
        "cannot connect to PostgreSQL at 127.0.0.1:1/askgate: connection refused"
    );
    assert!(!message.contains("s3cret-pw"));
    assert!(!format!("{error:?}").contains("s3cret-pw"));
    assert!(!format!("{:?}", config(url)).contains("s3cret-pw"));
}

#[tokio::test]
async fn a_missing_database_and_a_bad_url_are_named() {
    let test_db = TestDatabase::new().await;
    let missing = format!("{}_missing", test_db.url().rsplit_once('/').unwrap().1);
    let url = format!("{}/{missing}", test_db.url().rsplit_once('/').unwrap().0);
    let error = Database::connect(&config(&url)).await.unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with("cannot connect to PostgreSQL at 127.0.0.1:5432/"),
        "{message}"
    );
    assert!(
        message.ends_with(&format!("database \"{missing}\" does not exist")),
        "{message}"
    );
    assert!(!message.contains('\n'));

    let error = Database::connect(&config("postgres://host:notaport/db"))
        .await
        .unwrap_err();
    assert!(matches!(error, PgError::InvalidUrl { .. }), "{error}");
}

#[tokio::test]
async fn a_url_without_a_database_uses_the_user_name() {
    let server = askgate_postgres::testing::test_server_url();
    let mut url = url::Url::parse(&server).unwrap();
    url.set_path("");
    let user = url.username().to_owned();
    let db = Database::connect(&config(url.as_str())).await.unwrap();
    assert!(
        db.target().ends_with(&format!("/{user}")),
        "{}",
        db.target()
    );
    PgHealth::new(db).check().await.unwrap();
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_migrations_apply_each_migration_once() {
    let empty = TestDatabase::empty().await;
    let url = empty.url();

    let db = Database::connect(&config(url)).await.unwrap();
    let runs = (0..3).map(|_| {
        let db = db.clone();
        tokio::spawn(async move { db.migrate().await })
    });
    for run in join_all(runs).await {
        run.unwrap().unwrap();
    }
    db.migrate().await.unwrap();

    let mut conn = AsyncPgConnection::establish(url).await.unwrap();
    let applied: Vec<Count> =
        diesel::sql_query("SELECT count(*) AS n FROM __diesel_schema_migrations")
            .load(&mut conn)
            .await
            .unwrap();
    let embedded = MigrationSource::<diesel::pg::Pg>::migrations(&MIGRATIONS)
        .unwrap()
        .len();
    assert_eq!(applied[0].n, i64::try_from(embedded).unwrap());
}

#[tokio::test]
async fn a_missing_database_is_created_once_and_then_left_alone() {
    use askgate_postgres::{PgConfig, create_database_if_missing};
    let base = askgate_postgres::testing::test_server_url();
    let name = format!("askgate_t_create_{}", uuid::Uuid::now_v7().simple());
    let (server, _) = base.rsplit_once('/').unwrap();
    let config = PgConfig {
        url: format!("{server}/{name}"),
        max_connections: 1,
        application_name: "askgate-test".into(),
        statement_timeout: std::time::Duration::from_secs(5),
        connect_timeout: std::time::Duration::from_secs(5),
        tls: Default::default(),
    };
    assert!(create_database_if_missing(&config).await.unwrap());
    assert!(!create_database_if_missing(&config).await.unwrap());
    let db = askgate_postgres::Database::connect(&config).await.unwrap();
    drop(db);
    let admin = PgConfig {
        url: base.clone(),
        ..config
    };
    let (client, conn) = tokio_postgres::connect(&admin.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .batch_execute(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
        .await
        .unwrap();
}

fn with_trial(external_id: &str, email: &str) -> SignIn {
    SignIn {
        trial: Tokens::new(5).unwrap(),
        ..sign_in(external_id, email)
    }
}

#[tokio::test]
async fn a_trial_comes_once_per_identity_and_once_per_email_address() {
    let test_db = TestDatabase::new().await;
    let users = PgUsers::new(test_db.database());

    let first = users
        .upsert_sign_in(&with_trial("oid-ann", "ann@example.com"))
        .await
        .unwrap();
    assert_eq!(first.tokens.get(), 5);
    // Ann's address changes at the identity provider; her old one signs in
    // again under a new identity: a new user, without a second trial.
    let moved = users
        .upsert_sign_in(&with_trial("oid-ann", "ann@example.org"))
        .await
        .unwrap();
    assert_eq!((moved.id, moved.tokens.get()), (first.id, 5));
    let newcomer = users
        .upsert_sign_in(&with_trial("oid-other", "ann@example.com"))
        .await
        .unwrap();
    assert_ne!(newcomer.id, first.id);
    assert_eq!(newcomer.tokens, Tokens::ZERO);
    // Someone new on both counts gets theirs.
    let fresh = users
        .upsert_sign_in(&with_trial("oid-fresh", "fresh@example.com"))
        .await
        .unwrap();
    assert_eq!(fresh.tokens.get(), 5);
    test_db.assert_ledger_invariant().await;
}
