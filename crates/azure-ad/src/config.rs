use std::time::Duration;

use secrecy::SecretString;
use url::Url;

/// The largest clock skew tolerated for `exp`/`nbf`/`iat`.
pub(crate) const MAX_LEEWAY: Duration = Duration::from_secs(60);

/// How askgate is registered with the tenant.
#[derive(Debug, Clone)]
pub struct AzureAdConfig {
    /// The issuer (`AZURE_AD_AUTHORITY`); discovery is read from
    /// `{authority}/.well-known/openid-configuration`. See [`Self::default_authority`].
    pub authority: Url,
    /// `AZURE_AD_TENANT_ID`: tokens carrying a `tid` claim must carry this one.
    pub tenant_id: String,
    /// `AZURE_AD_CLIENT_ID`: the audience of ID tokens.
    pub client_id: String,
    /// `AZURE_AD_CLIENT_SECRET`: needed for the code exchange of a confidential client
    /// and for client-credentials tokens.
    pub client_secret: Option<SecretString>,
    /// Audiences accepted on bearer access tokens: the client id and the app ID URI
    /// (`api://...`).
    pub accepted_audiences: Vec<String>,
    /// The app role that makes a user an admin (`Admin`).
    pub admin_role: String,
    /// Tolerated clock skew, at most 60 seconds.
    pub leeway: Duration,
}

impl AzureAdConfig {
    /// `https://login.microsoftonline.com/{tenant_id}/v2.0`, the v2.0 issuer of a tenant.
    pub fn default_authority(tenant_id: &str) -> Result<Url, url::ParseError> {
        Url::parse(&format!(
            "https://login.microsoftonline.com/{tenant_id}/v2.0"
        ))
    }
}
