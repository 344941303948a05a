//! The pace of device-code polls, shared by every instance through PostgreSQL.

use std::time::Duration;

use askgate_domain::ports::{DeviceCodes, PollPace};
use askgate_postgres::PgDeviceCodes;
use askgate_postgres::testing::TestDatabase;
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use futures::future::join_all;

const MINUTE: Duration = Duration::from_secs(60);

#[tokio::test]
async fn a_code_polled_before_its_interval_slows_down_and_waits_longer() {
    let db = TestDatabase::new().await;
    let codes = PgDeviceCodes::new(db.database());
    codes.issued("device-1", 10 * MINUTE, MINUTE).await.unwrap();
    assert_eq!(codes.polled("device-1").await.unwrap(), PollPace::InTime);
    assert_eq!(codes.polled("device-1").await.unwrap(), PollPace::TooSoon);

    let mut conn = AsyncPgConnection::establish(db.url()).await.unwrap();
    // Only the hash is kept: the code itself is a credential.
    conn.batch_execute(
        "DO $$ BEGIN IF EXISTS (SELECT 1 FROM device_codes \
         WHERE code_hash = convert_to('device-1', 'UTF8')) \
         OR (SELECT count(*) FROM device_codes) <> 1 \
         THEN RAISE EXCEPTION 'not stored by hash'; END IF; END $$",
    )
    .await
    .unwrap();

    // After slow_down the interval is 5 seconds longer: 61 seconds on is
    // still too soon, 66 seconds on is in time.
    conn.batch_execute("UPDATE device_codes SET last_poll_at = now() - interval '61 seconds'")
        .await
        .unwrap();
    assert_eq!(codes.polled("device-1").await.unwrap(), PollPace::TooSoon);
    conn.batch_execute("UPDATE device_codes SET last_poll_at = now() - interval '71 seconds'")
        .await
        .unwrap();
    assert_eq!(codes.polled("device-1").await.unwrap(), PollPace::InTime);
    drop(conn);

    codes.finished("device-1").await.unwrap();
    assert_eq!(codes.polled("device-1").await.unwrap(), PollPace::Unknown);
}

#[tokio::test]
async fn unknown_and_expired_codes_are_told_apart() {
    let db = TestDatabase::new().await;
    let codes = PgDeviceCodes::new(db.database());
    assert_eq!(
        codes.polled("never-issued").await.unwrap(),
        PollPace::Unknown
    );
    codes
        .issued("device-2", Duration::ZERO, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(codes.polled("device-2").await.unwrap(), PollPace::Expired);
}

#[tokio::test]
async fn of_polls_at_the_same_moment_only_one_is_in_time() {
    let db = TestDatabase::new().await;
    let codes = PgDeviceCodes::new(db.database());
    codes.issued("device-3", 10 * MINUTE, MINUTE).await.unwrap();
    let paces = join_all((0..8).map(|_| codes.polled("device-3"))).await;
    let in_time = paces
        .iter()
        .filter(|p| matches!(p, Ok(PollPace::InTime)))
        .count();
    assert_eq!(in_time, 1, "{paces:?}");
    assert!(paces.iter().all(Result::is_ok));
}
