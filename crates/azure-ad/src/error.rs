use askgate_domain::BoxError;

/// Why the adapter could not be set up. Each variant names what failed.
#[derive(Debug, thiserror::Error)]
pub enum AzureAdError {
    #[error("Azure AD configuration is invalid: {0}")]
    Config(&'static str),
    #[error("could not build the HTTP client for Azure AD")]
    HttpClient(#[source] reqwest::Error),
    #[error("OpenID discovery (metadata or JWKS) for issuer {issuer} failed")]
    Discovery {
        issuer: String,
        #[source]
        source: BoxError,
    },
    #[error("the discovery document of {issuer} has no token_endpoint")]
    NoTokenEndpoint { issuer: String },
}
