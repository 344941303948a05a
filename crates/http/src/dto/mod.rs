//! The shapes the API takes and returns, and their OpenAPI schemas.
//!
//! The domain's types know nothing of JSON: each response here is built from
//! one (`From<&domain::X>`), and each request body turns into one. What a
//! client sees changes only when a type here changes. The schemathesis run
//! (`e2e/schemathesis/run.sh`) checks every live response against the schemas.

mod admin;
mod api_keys;
mod apps;
mod chat;
mod conversations;
mod domains;
mod health;
mod ledger;
mod payments;
mod problem;
mod report;
mod stream;
mod usage;
mod user;

pub use admin::{
    AccountBody, AdminCreditBody, AdminCreditTypeBody, AdminCreditView, AdminUserDetailView,
    AdminUserPageView, AdminUserView, AuditActionView, AuditPageView, AuditRecordView, RoleBody,
    RoleChangeBody,
};
pub use api_keys::{ApiKeyBody, ApiKeyCreatedView, ApiKeyListView, ApiKeyScopeView, ApiKeyView};
pub use apps::{
    AppBody, AppListView, AppPatchBody, AppScopeView, AppSecretView, AppView, RotateBody,
};
pub use chat::{ChatReplyFormat, ChatReplyView};
pub use conversations::{
    AuthorView, ConversationDetailView, ConversationPageView, ConversationView, MessageView,
};
pub use domains::{DomainBody, DomainView};
pub use health::HealthView;
pub use ledger::{EntryKindView, ServiceTypeView, TransactionPageView, TransactionView};
pub use payments::{
    CheckoutView, PackageView, PackagesView, PaymentIntentView, PurchaseStatusView, PurchaseView,
    WebhookReceivedView,
};
pub use problem::Problem;
pub use report::{
    DayView, DomainSpendView, LiabilityView, MoneyView, OverviewView, PackageSalesView,
    ReversalsView, SalesView, ServiceSpendView, SpentView, TallyView,
};
pub use stream::{
    DeltaEvent, DoneEvent, ErrorEvent, FinishReason, SourcesEvent, StartEvent, StreamEvent,
};
pub use usage::{CSV_HEADER, DailySpendView, FilterParams, UsageView, csv_record};
pub use user::{BalanceView, ProfileView, RoleView, UserView};
