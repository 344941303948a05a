//! What admins send and read about registered apps.

use askgate_domain::AppId;
use askgate_domain::app::{App, AppOrigin, AppScope, ReturnUrl};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};

/// A scope of a registered app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = AppScope)]
pub enum AppScopeView {
    #[serde(rename = "credits:consume")]
    CreditsConsume,
    #[serde(rename = "balance:read")]
    BalanceRead,
    #[serde(rename = "checkout:create")]
    CheckoutCreate,
    #[serde(rename = "token:introspect")]
    TokenIntrospect,
}

impl From<AppScopeView> for AppScope {
    fn from(v: AppScopeView) -> Self {
        match v {
            AppScopeView::CreditsConsume => Self::CreditsConsume,
            AppScopeView::BalanceRead => Self::BalanceRead,
            AppScopeView::CheckoutCreate => Self::CheckoutCreate,
            AppScopeView::TokenIntrospect => Self::TokenIntrospect,
        }
    }
}

impl From<AppScope> for AppScopeView {
    fn from(s: AppScope) -> Self {
        match s {
            AppScope::CreditsConsume => Self::CreditsConsume,
            AppScope::BalanceRead => Self::BalanceRead,
            AppScope::CheckoutCreate => Self::CheckoutCreate,
            AppScope::TokenIntrospect => Self::TokenIntrospect,
        }
    }
}

/// An app to register.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = AppCreate)]
#[serde(deny_unknown_fields)]
pub struct AppBody {
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// Browser origins of the app (`https://…`, or `http://localhost…` for development).
    #[serde(default)]
    #[schema(max_items = 20)]
    pub allowed_origins: Vec<String>,
    /// Where checkouts may send users back: absolute https URLs (or
    /// `http://localhost…`/`http://127.0.0.1…` for development).
    #[serde(default)]
    #[schema(max_items = 20)]
    pub allowed_return_urls: Vec<String>,
    #[schema(min_items = 1)]
    pub scopes: Vec<AppScopeView>,
    /// At most this many tokens a day per user through this app (UTC days).
    #[serde(default)]
    #[schema(minimum = 1)]
    pub daily_limit_per_user: Option<i32>,
}

/// `Some(None)` for an explicit `null`, `None` when the field is absent.
fn explicit<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<i32>>, D::Error> {
    Option::<i32>::deserialize(d).map(Some)
}

/// What to change on an app: only the fields given.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = AppUpdate)]
#[serde(deny_unknown_fields)]
pub struct AppPatchBody {
    #[serde(default)]
    #[schema(min_length = 1, max_length = 100)]
    pub name: Option<String>,
    #[serde(default)]
    #[schema(max_items = 20)]
    pub allowed_origins: Option<Vec<String>>,
    #[serde(default)]
    #[schema(max_items = 20)]
    pub allowed_return_urls: Option<Vec<String>>,
    #[serde(default)]
    #[schema(min_items = 1)]
    pub scopes: Option<Vec<AppScopeView>>,
    /// `null` removes the limit.
    #[serde(default, deserialize_with = "explicit")]
    #[schema(value_type = Option<i32>, minimum = 1)]
    pub daily_limit_per_user: Option<Option<i32>>,
}

/// A rotation of the app's secret.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[schema(as = AppRotateSecret)]
#[serde(deny_unknown_fields)]
pub struct RotateBody {
    /// How long the previous secret stays valid: 0 to 2592000 seconds (30
    /// days), a day without it.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 2_592_000)]
    pub overlap_seconds: Option<u32>,
}

/// A registered app (never a secret). Its id is the client id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = App)]
pub struct AppView {
    #[schema(value_type = uuid::Uuid)]
    pub id: AppId,
    /// The client id of HTTP Basic app credentials (the app's id).
    #[schema(value_type = uuid::Uuid)]
    pub client_id: AppId,
    pub name: String,
    pub allowed_origins: Vec<String>,
    pub allowed_return_urls: Vec<String>,
    pub scopes: Vec<AppScopeView>,
    pub daily_limit_per_user: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<&App> for AppView {
    fn from(a: &App) -> Self {
        Self {
            id: a.id,
            client_id: a.id,
            name: a.name.as_str().to_owned(),
            allowed_origins: a
                .allowed_origins
                .iter()
                .map(AppOrigin::as_str)
                .map(str::to_owned)
                .collect(),
            allowed_return_urls: a
                .allowed_return_urls
                .iter()
                .map(ReturnUrl::as_str)
                .map(str::to_owned)
                .collect(),
            scopes: a.scopes.iter().copied().map(Into::into).collect(),
            daily_limit_per_user: a.daily_limit_per_user,
            created_at: a.created_at,
            updated_at: a.updated_at,
            revoked_at: a.revoked_at,
        }
    }
}

/// An app with a secret, shown this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = AppWithSecret)]
pub struct AppSecretView {
    #[serde(flatten)]
    pub app: AppView,
    /// `ags_…`: the client secret. Store it now; it is never shown again.
    pub client_secret: String,
}

/// Every registered app, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = AppList)]
pub struct AppListView {
    pub items: Vec<AppView>,
}
