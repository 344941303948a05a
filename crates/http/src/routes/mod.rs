//! Route table. One module per area, one file per action.

use actix_web::guard::{self, GuardContext};
use actix_web::web;

use crate::state::AppState;

pub mod admin;
pub mod apps;
pub mod auth;
pub mod chat;
pub mod conversations;
pub mod domains;
pub mod health;
pub mod payments;
pub mod ui_config;
pub mod user;

pub(crate) fn register(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/health")
            .route("/live", web::get().to(health::live::handle))
            .route("/ready", web::get().to(health::ready::handle)),
    )
    .service(
        web::scope("/api")
            .route("/ui-config", web::get().to(ui_config::handle))
            .route(
                "/token-packages",
                web::get().to(payments::token_packages::handle),
            )
            .route(
                "/create-payment-intent",
                web::post().to(payments::create_payment_intent::handle),
            )
            .route(
                "/checkout-session",
                web::post().to(payments::checkout_session::handle),
            )
            .route(
                "/purchases/{checkout_session_id}",
                web::get().to(payments::purchase_status::handle),
            )
            .route(
                "/webhook/stripe",
                web::post().to(payments::stripe_webhook::handle),
            )
            .service(
                web::scope("/auth")
                    .service(
                        // Not mounted at all unless enabled: answers 404 like any unknown path.
                        web::resource("/dev-login")
                            .guard(guard::fn_guard(dev_login_enabled))
                            .route(web::post().to(auth::dev_login::handle)),
                    )
                    .route("/login", web::post().to(auth::login::handle))
                    .route("/authorize", web::get().to(auth::authorize::handle))
                    .route("/callback", web::get().to(auth::callback::handle))
                    .route("/refresh", web::post().to(auth::refresh::handle))
                    .route("/device", web::post().to(auth::device::start::handle))
                    .route("/device/token", web::post().to(auth::device::token::handle))
                    .route(
                        "/device/approve",
                        web::post().to(auth::device::approve::handle),
                    )
                    .route("/logout", web::post().to(auth::logout::handle)),
            )
            .service(
                web::scope("/v1")
                    .route(
                        "/token/introspect",
                        web::post().to(apps::introspect::handle),
                    )
                    .route("/balance", web::get().to(apps::balance::handle))
                    .route("/checkout", web::post().to(apps::checkout::handle))
                    .route("/credits/consume", web::post().to(apps::consume::handle))
                    .route("/credits/{id}/refund", web::post().to(apps::refund::handle)),
            )
            .route("/askatt/chat", web::post().to(chat::askatt::handle))
            .route("/askdocs/chat", web::post().to(chat::askdocs::handle))
            .service(
                web::resource("/domains")
                    .route(web::get().to(domains::list::handle))
                    .route(web::post().to(domains::create::handle)),
            )
            .service(
                web::resource("/domains/{id}")
                    .route(web::put().to(domains::update::handle))
                    .route(web::delete().to(domains::delete::handle)),
            )
            .route("/conversations", web::get().to(conversations::list::handle))
            .service(
                web::resource("/conversations/{id}")
                    .route(web::get().to(conversations::get::handle))
                    .route(web::delete().to(conversations::delete::handle)),
            )
            .service(
                web::scope("/admin")
                    .route("/users", web::get().to(admin::users::handle))
                    .route("/users/{id}", web::get().to(admin::user::handle))
                    .route(
                        "/users/{id}/transactions",
                        web::get().to(admin::transactions::handle),
                    )
                    .route("/users/{id}/credits", web::post().to(admin::credit::handle))
                    .route(
                        "/users/{id}/disable",
                        web::post().to(admin::disable::handle),
                    )
                    .route("/users/{id}/enable", web::post().to(admin::enable::handle))
                    .route("/users/{id}/role", web::put().to(admin::role::handle))
                    .route("/audit", web::get().to(admin::audit::handle))
                    .service(
                        web::resource("/apps")
                            .route(web::get().to(admin::apps::list::handle))
                            .route(web::post().to(admin::apps::create::handle)),
                    )
                    .service(
                        web::resource("/apps/{id}")
                            .route(web::get().to(admin::apps::get::handle))
                            .route(web::patch().to(admin::apps::update::handle))
                            .route(web::delete().to(admin::apps::revoke::handle)),
                    )
                    .route(
                        "/apps/{id}/rotate-secret",
                        web::post().to(admin::apps::rotate::handle),
                    )
                    .route("/overview", web::get().to(admin::overview::handle))
                    .route(
                        "/transactions.csv",
                        web::get().to(admin::transactions_csv::handle),
                    ),
            )
            .service(
                web::scope("/user")
                    .route("/me", web::get().to(user::me::handle))
                    .service(
                        web::resource("/api-keys")
                            .route(web::get().to(user::api_keys::list::handle))
                            .route(web::post().to(user::api_keys::create::handle)),
                    )
                    .route(
                        "/api-keys/{id}",
                        web::delete().to(user::api_keys::revoke::handle),
                    )
                    .route("/app-sessions", web::post().to(user::app_sessions::handle))
                    .route("/tokens", web::get().to(user::tokens::handle))
                    .route("/transactions", web::get().to(user::transactions::handle))
                    .route(
                        "/transactions.csv",
                        web::get().to(user::transactions_csv::handle),
                    )
                    .route("/usage", web::get().to(user::usage::handle)),
            ),
    );
}

fn dev_login_enabled(ctx: &GuardContext<'_>) -> bool {
    ctx.app_data::<web::Data<AppState>>()
        .is_some_and(|state| state.options.dev_login)
}
