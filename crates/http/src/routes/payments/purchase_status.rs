//! `GET /api/purchases/{checkout_session_id}`: `{status, tokens, balance}` of
//! a checkout the caller started, for the success page to poll. Someone
//! else's checkout is answered like an unknown one (404).

use actix_web::{HttpResponse, web};

use crate::auth::AuthenticatedUser;
use crate::error::ApiError;
use crate::state::AppState;

pub async fn handle(
    state: web::Data<AppState>,
    caller: AuthenticatedUser,
    checkout_session_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let view = state
        .billing()?
        .purchase(&caller.actor(), &checkout_session_id)
        .await?;
    Ok(HttpResponse::Ok().json(view))
}
