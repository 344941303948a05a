//! Azure AD (Microsoft Entra ID) adapter for askgate.
//!
//! - [`AzureAd`] implements [`askgate_domain::ports::IdentityProvider`]: OpenID Connect
//!   sign-in (authorization code + PKCE) and validation of bearer access tokens issued
//!   for askgate's API. Provider metadata comes from discovery; signing keys are cached
//!   and re-fetched when a token names a key id the cache does not know (at most once a
//!   minute).
//! - It also implements [`askgate_domain::ports::DeviceSignIn`]: device-code sign-in
//!   (RFC 8628) for clients without a browser, when the provider offers it.
//! - [`ClientCredentials`] implements [`askgate_domain::ports::ServiceTokenProvider`]:
//!   app-only tokens for the upstreams, cached per scope until five minutes before they
//!   expire, one token request per scope however many callers wait for it.
//!
//! Any OpenID provider with a tenant-specific issuer works (Keycloak, a local provider
//! in tests): nothing here is specific to Microsoft beyond the `oid`/`tid`/`roles` claims.

mod claims;
mod client_credentials;
mod config;
mod device;
mod error;
mod http;
mod keys;
mod provider;
#[cfg(feature = "test-support")]
pub mod testing;

pub use client_credentials::ClientCredentials;
pub use config::AzureAdConfig;
pub use error::AzureAdError;
pub use provider::AzureAd;
