//! Identifier newtypes. Each wraps a UUID and cannot be confused with another.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The text given was not a UUID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid identifier")]
pub struct IdParseError;

macro_rules! uuid_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new, time-ordered (UUIDv7) identifier.
            #[must_use]
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps an identifier read from storage or a trusted token.
            #[must_use]
            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            /// The underlying UUID, for adapters.
            #[must_use]
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = IdParseError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self).map_err(|_| IdParseError)
            }
        }
    };
}

uuid_id!(
    /// A user of askgate (`users.id`, the `sub` of the session token).
    UserId
);
uuid_id!(
    /// An AskDocs domain.
    DomainId
);
uuid_id!(
    /// A ledger row (`transactions.id`).
    TransactionId
);
uuid_id!(
    /// One chat's charge: a token reserved, then settled or refunded.
    ChargeId
);
uuid_id!(
    /// A conversation a user keeps with one service.
    ConversationId
);
uuid_id!(
    /// One message of a conversation.
    MessageId
);
uuid_id!(
    /// A sign-in session: one family of rotating refresh tokens (`sid` claim).
    SessionId
);
uuid_id!(
    /// A user's personal API key (`api_keys.id`).
    ApiKeyId
);
uuid_id!(
    /// A registered app (`apps.id`), which is also its client id.
    AppId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_text() {
        let id = UserId::generate();
        assert_eq!(id.to_string().parse::<UserId>(), Ok(id));
    }

    #[test]
    fn garbage_is_not_an_id() {
        assert_eq!("not-a-uuid".parse::<DomainId>(), Err(IdParseError));
    }
}
