//! Token counts.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A token count that is never negative: a balance, or the size of a credit.
///
/// Stored as PostgreSQL `integer`, so it never exceeds `i32::MAX`. Arithmetic is
/// checked: an operation that would leave the valid range returns `None`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(try_from = "i64", into = "i64")]
pub struct Tokens(i32);

/// A token count outside `0..=i32::MAX`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokensError {
    #[error("a token count cannot be negative")]
    Negative,
    #[error("a token count cannot exceed {max}", max = i32::MAX)]
    TooLarge,
}

impl Tokens {
    pub const ZERO: Self = Self(0);
    pub const ONE: Self = Self(1);
    pub(crate) const ONE_HUNDRED: Self = Self(100);
    pub(crate) const TWO_HUNDRED_FIFTY: Self = Self(250);
    pub(crate) const SIX_HUNDRED: Self = Self(600);

    /// Parses a count, refusing negatives and values that do not fit the column.
    pub fn new(value: i64) -> Result<Self, TokensError> {
        if value < 0 {
            return Err(TokensError::Negative);
        }
        i32::try_from(value)
            .map(Self)
            .map_err(|_| TokensError::TooLarge)
    }

    /// The count as stored.
    #[must_use]
    pub const fn get(self) -> i32 {
        self.0
    }

    #[must_use]
    pub fn checked_add(self, other: Self) -> Option<Self> {
        self.0.checked_add(other.0).map(Self)
    }

    /// `None` when `other` is larger than `self` (a balance never goes negative).
    #[must_use]
    pub fn checked_sub(self, other: Self) -> Option<Self> {
        self.0.checked_sub(other.0).filter(|v| *v >= 0).map(Self)
    }

    /// Subtracts as much as possible, stopping at zero.
    #[must_use]
    pub fn saturating_sub(self, other: Self) -> Self {
        Self(self.0.saturating_sub(other.0).max(0))
    }

    #[must_use]
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl TryFrom<i64> for Tokens {
    type Error = TokensError;

    fn try_from(value: i64) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<Tokens> for i64 {
    fn from(t: Tokens) -> Self {
        i64::from(t.0)
    }
}

impl fmt::Display for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_counts_are_refused() {
        assert_eq!(Tokens::new(-1), Err(TokensError::Negative));
    }

    #[test]
    fn counts_beyond_the_column_are_refused() {
        assert_eq!(
            Tokens::new(i64::from(i32::MAX) + 1),
            Err(TokensError::TooLarge)
        );
    }

    #[test]
    fn subtraction_never_goes_below_zero() {
        let one = Tokens::ONE;
        assert_eq!(Tokens::ZERO.checked_sub(one), None);
        assert_eq!(Tokens::ZERO.saturating_sub(one), Tokens::ZERO);
        assert_eq!(one.checked_sub(one), Some(Tokens::ZERO));
    }

    #[test]
    fn deserializing_a_negative_count_fails() {
        assert!(serde_json::from_str::<Tokens>("-5").is_err());
        assert_eq!(
            serde_json::from_str::<Tokens>("5").ok(),
            Tokens::new(5).ok()
        );
    }
}
