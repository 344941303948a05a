//! Fixtures for tests (`test-support` feature, and this crate's own tests):
//! the values tests build again and again, with defaults for what a test does
//! not look at. A test that cares about a field sets it with struct update
//! syntax: `User { tokens: Tokens::ONE, ..testing::user("ann@example.com", Role::User) }`.
//!
//! Invalid input panics at once: a fixture is only ever given literals.

use chrono::{DateTime, SubsecRound, Utc};
use uuid::Uuid;

use crate::conversation::ChatMessage;
use crate::ledger::ServiceType;
use crate::ports::{AnswerEnd, ExchangeTarget, Reservation, Settlement};
use crate::services::chat::ChatRequest;
use crate::user::{Actor, ExternalId, Role, SignIn, User};
use crate::{ChargeId, ConversationId, DomainId, Email, Tokens, UserId};

/// `raw` as an email address.
#[must_use]
pub fn email(raw: &str) -> Email {
    Email::parse(raw).unwrap_or_else(|e| panic!("test email {raw:?}: {e}"))
}

/// `text` as a chat message.
#[must_use]
pub fn message(text: &str) -> ChatMessage {
    ChatMessage::parse(text).unwrap_or_else(|e| panic!("test message {text:?}: {e}"))
}

/// Now, to the microsecond, as PostgreSQL stores it: a value read back
/// equals the one written.
#[must_use]
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// A user of `email` with `role`, known by dev login, with no tokens, created
/// now and never signed in since.
#[must_use]
pub fn user(email: &str, role: Role) -> User {
    let email = self::email(email);
    User {
        id: UserId::generate(),
        external_id: ExternalId::for_dev_login(&email),
        email,
        display_name: None,
        tokens: Tokens::ZERO,
        role,
        created_at: now(),
        last_login: None,
        disabled_at: None,
        role_from_sign_in: true,
    }
}

/// The user a first `sign_in` creates: its identity, no tokens.
#[must_use]
pub fn user_signed_in(sign_in: &SignIn) -> User {
    User {
        id: UserId::generate(),
        external_id: sign_in.external_id.clone(),
        email: sign_in.email.clone(),
        display_name: sign_in.display_name.clone(),
        tokens: Tokens::ZERO,
        role: sign_in.role,
        created_at: sign_in.at,
        last_login: Some(sign_in.at),
        disabled_at: None,
        role_from_sign_in: true,
    }
}

/// A user's sign-in now as `external_id` with `email`, without a display name.
#[must_use]
pub fn sign_in(external_id: &str, email: &str) -> SignIn {
    SignIn {
        external_id: ExternalId::parse(external_id)
            .unwrap_or_else(|e| panic!("test external id {external_id:?}: {e}")),
        email: self::email(email),
        display_name: None,
        role: Role::User,
        memberships: crate::user::Memberships::none(),
        at: now(),
        trial: Tokens::ZERO,
    }
}

/// The sign-in of someone nobody else is (`oid-<uuid>`, `user-<uuid>@example.com`).
#[must_use]
pub fn new_sign_in() -> SignIn {
    let id = Uuid::now_v7().simple();
    sign_in(&format!("oid-{id}"), &format!("user-{id}@example.com"))
}

/// A user's chat request to `service` (in `domain`, for AskDocs) asking
/// "What is askgate?", in a new conversation, without an idempotency key.
#[must_use]
pub fn chat_request(service: ServiceType, domain: Option<DomainId>) -> ChatRequest {
    ChatRequest {
        actor: Actor {
            user: UserId::generate(),
            role: Role::User,
        },
        service,
        domain,
        message: message("What is askgate?"),
        conversation: None,
        idempotency_key: None,
        api_key: None,
    }
}

/// A chat's reservation of one of `user`'s tokens for AskAT&T, its exchange
/// going to `conversation`, without an idempotency key.
#[must_use]
pub fn reservation(user: UserId, conversation: ConversationId) -> Reservation<'static> {
    Reservation {
        charge: ChargeId::generate(),
        user,
        service: ServiceType::AskAtt,
        domain: None,
        conversation,
        idempotency: None,
        api_key: None,
    }
}

/// The settlement of `reserved` with `question` and `answer`, recorded in `target`.
#[must_use]
pub fn settlement<'a>(
    reserved: &Reservation<'_>,
    target: ExchangeTarget,
    question: &'a ChatMessage,
    answer: &'a str,
) -> Settlement<'a> {
    Settlement {
        charge: reserved.charge,
        user: reserved.user,
        service: reserved.service,
        domain: reserved.domain,
        target,
        question,
        answer,
        idempotency: None,
        end: AnswerEnd::Complete,
    }
}
