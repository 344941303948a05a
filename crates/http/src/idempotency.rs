//! The `Idempotency-Key` request header, as chat and purchase requests take it.

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpRequest, dev::Payload};
use askgate_domain::ledger::IdempotencyKey;

use crate::error::ApiError;

/// Name of the header, as clients send it.
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

/// The optional `Idempotency-Key` of a request. A key that is not 1–255
/// printable ASCII characters, or a repeated header, is refused with 422
/// naming the header before the handler runs. Purchases take at most
/// [`ProviderIdempotencyKey::MAX_CLIENT_KEY_LEN`] of them, which their use
/// case checks.
///
/// [`ProviderIdempotencyKey::MAX_CLIENT_KEY_LEN`]: askgate_domain::payment::ProviderIdempotencyKey::MAX_CLIENT_KEY_LEN
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IdempotencyKeyHeader(Option<IdempotencyKey>);

impl IdempotencyKeyHeader {
    #[must_use]
    pub fn key(&self) -> Option<&IdempotencyKey> {
        self.0.as_ref()
    }

    #[must_use]
    pub fn into_key(self) -> Option<IdempotencyKey> {
        self.0
    }
}

/// The header was repeated or its value is not a valid key.
#[derive(Debug)]
pub(crate) struct InvalidHeader;

fn parse(req: &HttpRequest) -> Result<IdempotencyKeyHeader, InvalidHeader> {
    let mut values = req.headers().get_all(IDEMPOTENCY_KEY);
    let Some(value) = values.next() else {
        return Ok(IdempotencyKeyHeader(None));
    };
    if values.next().is_some() {
        return Err(InvalidHeader);
    }
    let text = value.to_str().map_err(|_| InvalidHeader)?;
    IdempotencyKey::parse(text)
        .map(|key| IdempotencyKeyHeader(Some(key)))
        .map_err(|_| InvalidHeader)
}

impl FromRequest for IdempotencyKeyHeader {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(parse(req).map_err(ApiError::from))
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn extract(req: TestRequest) -> Result<IdempotencyKeyHeader, ApiError> {
        IdempotencyKeyHeader::extract(&req.to_http_request()).into_inner()
    }

    #[test]
    fn absent_is_none_and_a_valid_key_is_kept() {
        let none = extract(TestRequest::default()).unwrap();
        assert_eq!(none.key(), None);
        let req = TestRequest::default().insert_header((IDEMPOTENCY_KEY, "retry-1"));
        assert_eq!(
            extract(req).unwrap().key().map(IdempotencyKey::as_str),
            Some("retry-1")
        );
    }

    #[test]
    fn invalid_or_repeated_keys_are_422_naming_the_header() {
        for req in [
            TestRequest::default().insert_header((IDEMPOTENCY_KEY, "has space")),
            TestRequest::default().insert_header((IDEMPOTENCY_KEY, "x".repeat(256))),
            TestRequest::default()
                .append_header((IDEMPOTENCY_KEY, "a"))
                .append_header((IDEMPOTENCY_KEY, "b")),
        ] {
            let err = extract(req).unwrap_err();
            assert_eq!(err.field(), Some(IDEMPOTENCY_KEY));
            assert_eq!(err.code(), crate::ProblemCode::ValidationFailed);
        }
    }
}
