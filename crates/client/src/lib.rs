//! A typed client for askgate's API, for Rust programs and the `askgate`
//! command-line tool.
//!
//! ```no_run
//! # async fn run() -> Result<(), askgate_client::Error> {
//! use askgate_client::{Client, ChatRequest, Credentials};
//!
//! let client = Client::new("https://askgate.example.com")?
//!     .with_credentials(Credentials::ApiKey("agk_…".into()));
//! println!("{} tokens", client.balance().await?);
//! let answer = client.chat(&ChatRequest::askatt("What is askgate?")).await?;
//! println!("{}", answer.response);
//! # Ok(())
//! # }
//! ```
//!
//! Signed in with a session (from [`Client::wait_for_device_sign_in`] or a
//! refresh token), the client trades the refresh token for a new session
//! when the access token is refused and retries once; refresh tokens rotate,
//! so read [`Client::refresh_token`] after a call and keep the new one.
//! Every refusal is an [`Error::Api`] carrying askgate's problem+json body.
//!
//! A registered app's backend uses [`AppClient`] instead: the app's
//! credentials, and the user's token forwarded, to verify people and to spend,
//! refund and sell their tokens.

mod app;
mod client;
mod error;
mod stream;
mod types;

pub use app::{AppClient, Consumption, Introspection, USER_TOKEN_HEADER};
pub use client::{Client, Credentials};
pub use error::{Error, Problem};
pub use stream::{ChatEvent, ChatStream};
pub use types::*;
