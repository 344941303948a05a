//! `POST /api/v1/credits/consume {amount, reason, idempotency_key}`, app
//! scope `credits:consume`: spends 1–100 of the user's tokens, once per
//! (app, key).

use actix_web::{HttpRequest, HttpResponse, web};
use askgate_domain::TransactionId;
use askgate_domain::api_key::ApiKeyScope;
use askgate_domain::ledger::IdempotencyKey;
use askgate_domain::services::ConsumeRequest;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::auth::{AppCaller, app_scope};
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = ConsumeRequest)]
#[serde(deny_unknown_fields)]
pub struct Body {
    /// Tokens to spend: 1 to 100.
    #[schema(minimum = 1, maximum = 100)]
    amount: i32,
    /// What for, shown to the user in their history: 1 to 200 characters.
    #[schema(min_length = 1, max_length = 200)]
    reason: String,
    /// Makes the call happen at most once per app: a retry with the same key
    /// and body is answered with the first consumption; another body is 422.
    #[schema(min_length = 1, max_length = 255, pattern = "^[\\x21-\\x7E]+$")]
    idempotency_key: String,
}

/// One consumption: the same answer on every retry with its key.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Consumption)]
pub struct ConsumptionView {
    /// The ledger row; refund it with `POST /api/v1/credits/{id}/refund`.
    #[schema(value_type = uuid::Uuid)]
    pub id: TransactionId,
    pub amount: i32,
    /// The user's balance right after this consumption.
    #[schema(minimum = 0)]
    pub balance_after: i32,
    pub created_at: DateTime<Utc>,
    /// True when answered from an earlier call with the same key.
    pub replayed: bool,
}

#[utoipa::path(
    post,
    path = "/api/v1/credits/consume",
    tag = "apps",
    params(("X-Askgate-User-Token" = String, Header, description = "The user's session token, or their API key with `chat`")),
    request_body = Body,
    responses(
        (status = 201, description = "Spent: a consumption row naming the app", body = ConsumptionView),
        (status = 200, description = "Spent before under this key, for the same request: nothing more", body = ConsumptionView),
        (status = 401, description = "App credentials (`WWW-Authenticate: Basic`) or the user's token missing or refused", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 402, description = "The user has fewer tokens than `amount` (`balance`, `purchase_url`); nothing spent", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The app lacks `credits:consume`, or the user's API key lacks `chat` (`insufficient_scope`); the account is disabled (`account_disabled`)", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid amount, reason or key, or the key was used for another request", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 429, description = "The app's daily limit for this user is reached (`daily_limit_exceeded`, `Retry-After`)", body = crate::dto::Problem, content_type = "application/problem+json"),
    ),
    security(("app" = [])),
)]
pub async fn handle(
    state: web::Data<AppState>,
    app: AppCaller<app_scope::CreditsConsume>,
    req: HttpRequest,
    body: web::Json<Body>,
) -> Result<HttpResponse, ApiError> {
    let Body {
        amount,
        reason,
        idempotency_key,
    } = body.into_inner();
    let idempotency_key = IdempotencyKey::parse(&idempotency_key)
        .map_err(|e| ApiError::invalid_field("idempotency_key", e.to_string()))?;
    let user = super::user_of(&state, &req, ApiKeyScope::Chat).await?;
    let consumed = state
        .services
        .app_credits
        .consume(
            &app,
            &ConsumeRequest {
                user: user.user,
                amount,
                reason,
                idempotency_key,
                api_key: user.api_key_ref(),
            },
        )
        .await?;
    let c = &consumed.consumption;
    let view = ConsumptionView {
        id: c.id,
        amount: c.amount,
        balance_after: c.balance_after.get(),
        created_at: c.created_at,
        replayed: consumed.replayed,
    };
    Ok(if consumed.replayed {
        HttpResponse::Ok().json(view)
    } else {
        HttpResponse::Created().json(view)
    })
}
