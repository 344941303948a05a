//! The token packages askgate sells.

use std::fmt;
use std::str::FromStr;

use crate::Tokens;

/// One of the three prepaid packages. Tokens never expire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenPackage {
    /// 100 tokens for $5.
    Small,
    /// 250 tokens for $10.
    Medium,
    /// 600 tokens for $20.
    Large,
}

/// The currency every package is priced in (ISO 4217, lower case as Stripe writes it).
pub const CURRENCY: &str = "usd";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("package must be one of \"100\", \"250\" or \"600\"")]
pub struct UnknownPackage;

impl TokenPackage {
    pub const ALL: [Self; 3] = [Self::Small, Self::Medium, Self::Large];

    /// The package's id as clients and Stripe metadata spell it: "100", "250", "600".
    #[must_use]
    pub const fn id(self) -> &'static str {
        match self {
            Self::Small => "100",
            Self::Medium => "250",
            Self::Large => "600",
        }
    }

    #[must_use]
    pub const fn tokens(self) -> Tokens {
        match self {
            Self::Small => Tokens::ONE_HUNDRED,
            Self::Medium => Tokens::TWO_HUNDRED_FIFTY,
            Self::Large => Tokens::SIX_HUNDRED,
        }
    }

    /// Price in US cents.
    #[must_use]
    pub const fn amount_cents(self) -> i64 {
        match self {
            Self::Small => 500,
            Self::Medium => 1000,
            Self::Large => 2000,
        }
    }

    /// "$5.00"
    #[must_use]
    pub fn display_price(self) -> String {
        let cents = self.amount_cents();
        format!("${}.{:02}", cents / 100, cents % 100)
    }

    /// True only when a payment of exactly this package's price and currency was made.
    #[must_use]
    pub fn is_paid_by(self, amount_cents: i64, currency: &str) -> bool {
        amount_cents == self.amount_cents() && currency.eq_ignore_ascii_case(CURRENCY)
    }

    #[must_use]
    pub fn describe(self) -> PackageView {
        PackageView {
            id: self.id(),
            tokens: self.tokens(),
            amount_cents: self.amount_cents(),
            currency: CURRENCY,
            display_price: self.display_price(),
        }
    }
}

impl FromStr for TokenPackage {
    type Err = UnknownPackage;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.id() == s)
            .ok_or(UnknownPackage)
    }
}

impl fmt::Display for TokenPackage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// What a package is: its id, size and price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageView {
    pub id: &'static str,
    pub tokens: Tokens,
    pub amount_cents: i64,
    pub currency: &'static str,
    pub display_price: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_packages_have_the_advertised_prices() {
        let table: Vec<_> = TokenPackage::ALL
            .iter()
            .map(|p| {
                (
                    p.id(),
                    p.tokens().get(),
                    p.amount_cents(),
                    p.display_price(),
                )
            })
            .collect();
        assert_eq!(
            table,
            vec![
                ("100", 100, 500, "$5.00".to_owned()),
                ("250", 250, 1000, "$10.00".to_owned()),
                ("600", 600, 2000, "$20.00".to_owned()),
            ]
        );
    }

    #[test]
    fn unknown_packages_are_refused() {
        for bad in ["", "50", "1000", "100 ", "six hundred"] {
            assert_eq!(bad.parse::<TokenPackage>(), Err(UnknownPackage), "{bad:?}");
        }
        assert_eq!("250".parse(), Ok(TokenPackage::Medium));
    }

    #[test]
    fn only_the_exact_price_pays_for_a_package() {
        let p = TokenPackage::Small;
        assert!(p.is_paid_by(500, "usd"));
        assert!(p.is_paid_by(500, "USD"));
        assert!(!p.is_paid_by(499, "usd"));
        assert!(!p.is_paid_by(500, "eur"));
    }
}
