//! Use cases: plain structs holding the ports they need.

pub mod account;
pub mod admin;
pub mod api_keys;
pub mod app_credits;
pub mod apps;
pub mod billing;
pub mod chat;
pub mod conversations;
pub mod device;
pub mod domains;
pub mod reports;
pub mod session;

pub use account::{AccountError, AccountService};
pub use admin::{AdminError, AdminService, CreditInput};
pub use api_keys::{ApiKeyError, ApiKeyInput, ApiKeyService, CreatedApiKey, KeyAuthError};
pub use app_credits::{AppCreditError, AppCreditService, ConsumeRequest, Consumed};
pub use apps::{AppAuthError, AppError, AppService, AppWithSecret};
pub use billing::{BillingError, BillingService, EventOutcome, PurchaseView, ReturnUrls};
pub use chat::{
    ChargeRecovery, ChatError, ChatEvent, ChatEvents, ChatPorts, ChatReply, ChatRequest,
    ChatService, StreamFailure,
};
pub use conversations::{ConversationError, ConversationService};
pub use device::{DeviceError, DeviceSignInService};
pub use domains::{DomainError, DomainInput, DomainService};
pub use reports::{ReportError, ReportService};
pub use session::{Refreshed, SessionError, SessionGrant, SessionPolicy, SessionService};
