//! The device codes of device-code sign-ins in progress, by SHA-256.

use askgate_domain::StoreError;
use askgate_domain::ports::{DeviceCodes, PollPace};
use async_trait::async_trait;
use diesel::QueryableByName;
use diesel::sql_types::{Bool, Bytea, Integer, Interval, Nullable};
use diesel_async::RunQueryDsl;
use sha2::{Digest, Sha256};

use crate::Database;
use crate::errors::store;

/// Forgets codes an hour after they expired, when a new one is issued: a
/// device that stopped polling leaves nothing behind for long.
const ISSUE: &str = "\
WITH swept AS (
    DELETE FROM device_codes WHERE expires_at < now() - interval '1 hour'
)
INSERT INTO device_codes (code_hash, interval_seconds, expires_at)
VALUES ($1, $2, now() + $3)
ON CONFLICT (code_hash) DO NOTHING";

/// One poll, under a row lock so that concurrent polls count one after the
/// other. `too_soon`/`expired` describe the poll; the interval grows by 5 s
/// when it was too soon (RFC 8628 §3.5).
const POLL: &str = "\
WITH prev AS (
    SELECT code_hash,
           expires_at <= now() AS expired,
           last_poll_at IS NOT NULL
               AND now() < last_poll_at + make_interval(secs => interval_seconds) AS too_soon
    FROM device_codes
    WHERE code_hash = $1
    FOR UPDATE
)
UPDATE device_codes d
SET last_poll_at = now(),
    interval_seconds = d.interval_seconds + CASE WHEN prev.too_soon THEN 5 ELSE 0 END
FROM prev
WHERE d.code_hash = prev.code_hash
RETURNING prev.expired, prev.too_soon";

#[derive(Debug, QueryableByName)]
struct PollRow {
    #[diesel(sql_type = Bool)]
    expired: bool,
    #[diesel(sql_type = Nullable<Bool>)]
    too_soon: Option<bool>,
}

#[derive(Debug, Clone)]
pub struct PgDeviceCodes {
    db: Database,
}

impl PgDeviceCodes {
    #[must_use]
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

fn hash(device_code: &str) -> Vec<u8> {
    Sha256::digest(device_code.as_bytes()).to_vec()
}

#[async_trait]
impl DeviceCodes for PgDeviceCodes {
    async fn issued(
        &self,
        device_code: &str,
        expires_in: std::time::Duration,
        interval: std::time::Duration,
    ) -> Result<(), StoreError> {
        let interval = i32::try_from(interval.as_secs().min(3600)).unwrap_or(3600);
        let expires_in = diesel::data_types::PgInterval::from_microseconds(
            i64::try_from(expires_in.as_micros()).unwrap_or(i64::MAX),
        );
        let mut conn = self.db.conn().await.map_err(store)?;
        diesel::sql_query(ISSUE)
            .bind::<Bytea, _>(hash(device_code))
            .bind::<Integer, _>(interval)
            .bind::<Interval, _>(expires_in)
            .execute(&mut conn)
            .await
            .map_err(store)?;
        Ok(())
    }

    async fn polled(&self, device_code: &str) -> Result<PollPace, StoreError> {
        let mut conn = self.db.conn().await.map_err(store)?;
        let row = diesel::sql_query(POLL)
            .bind::<Bytea, _>(hash(device_code))
            .get_result::<PollRow>(&mut conn)
            .await;
        Ok(match row {
            Err(diesel::result::Error::NotFound) => PollPace::Unknown,
            Err(err) => return Err(store(err)),
            Ok(PollRow { expired: true, .. }) => PollPace::Expired,
            Ok(PollRow {
                too_soon: Some(true),
                ..
            }) => PollPace::TooSoon,
            Ok(_) => PollPace::InTime,
        })
    }

    async fn finished(&self, device_code: &str) -> Result<(), StoreError> {
        let mut conn = self.db.conn().await.map_err(store)?;
        diesel::sql_query("DELETE FROM device_codes WHERE code_hash = $1")
            .bind::<Bytea, _>(hash(device_code))
            .execute(&mut conn)
            .await
            .map_err(store)?;
        Ok(())
    }
}
