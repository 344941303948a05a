//! Cursor pagination, newest first.

use chrono::{DateTime, Datelike, TimeZone, Utc};
use uuid::Uuid;

/// Largest page a client may ask for.
pub const MAX_PAGE_SIZE: u16 = 100;
/// Page size when the client does not say.
pub const DEFAULT_PAGE_SIZE: u16 = 20;

/// 1..=100 items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimit(u16);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    #[error("limit must be between 1 and 100")]
    InvalidLimit,
    #[error("cursor is not valid")]
    InvalidCursor,
}

impl PageLimit {
    /// What an export reads per round trip: large enough to be quick, small
    /// enough that a page is a small buffer.
    pub const EXPORT: Self = Self(1000);

    pub fn new(limit: Option<u32>) -> Result<Self, PageError> {
        match limit {
            None => Ok(Self(DEFAULT_PAGE_SIZE)),
            Some(n) if (1..=u32::from(MAX_PAGE_SIZE)).contains(&n) => u16::try_from(n)
                .map(Self)
                .map_err(|_| PageError::InvalidLimit),
            Some(_) => Err(PageError::InvalidLimit),
        }
    }

    #[must_use]
    pub const fn get(self) -> u16 {
        self.0
    }
}

impl Default for PageLimit {
    fn default() -> Self {
        Self(DEFAULT_PAGE_SIZE)
    }
}

/// Position after the last item of a page: `(created_at, id)` of that item.
/// Rendered opaque to clients as `<unix micros>_<uuid>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

impl Cursor {
    pub fn parse(raw: &str) -> Result<Self, PageError> {
        let (micros, id) = raw.split_once('_').ok_or(PageError::InvalidCursor)?;
        let micros: i64 = micros.parse().map_err(|_| PageError::InvalidCursor)?;
        // Only instants the database can hold (and real rows have): years 1 to 9999.
        let created_at = Utc
            .timestamp_micros(micros)
            .single()
            .filter(|t| (1..=9999).contains(&t.year()))
            .ok_or(PageError::InvalidCursor)?;
        let id = Uuid::parse_str(id).map_err(|_| PageError::InvalidCursor)?;
        Ok(Self { created_at, id })
    }

    #[must_use]
    pub fn encode(&self) -> String {
        format!("{}_{}", self.created_at.timestamp_micros(), self.id)
    }
}

/// Which page to read: items strictly older than `after` (or the newest when `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PageRequest {
    pub limit: PageLimit,
    pub after: Option<Cursor>,
}

impl PageRequest {
    pub fn parse(limit: Option<u32>, cursor: Option<&str>) -> Result<Self, PageError> {
        Ok(Self {
            limit: PageLimit::new(limit)?,
            after: cursor.map(Cursor::parse).transpose()?,
        })
    }
}

/// One page and where the next one starts (`None`: this was the last).
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        let c = Cursor {
            created_at: Utc.timestamp_micros(1_700_000_000_123_456).unwrap(),
            id: Uuid::now_v7(),
        };
        assert_eq!(Cursor::parse(&c.encode()), Ok(c));
        assert_eq!(Cursor::parse("garbage"), Err(PageError::InvalidCursor));
        let id = Uuid::now_v7();
        for micros in [
            i64::MIN,
            -8_200_000_000_000_000_000,
            8_200_000_000_000_000_000,
        ] {
            assert_eq!(
                Cursor::parse(&format!("{micros}_{id}")),
                Err(PageError::InvalidCursor)
            );
        }
    }

    #[test]
    fn limits_are_bounded() {
        assert_eq!(PageLimit::new(None).unwrap().get(), DEFAULT_PAGE_SIZE);
        assert_eq!(PageLimit::new(Some(100)).unwrap().get(), 100);
        assert_eq!(PageLimit::new(Some(0)), Err(PageError::InvalidLimit));
        assert_eq!(PageLimit::new(Some(101)), Err(PageError::InvalidLimit));
    }
}
