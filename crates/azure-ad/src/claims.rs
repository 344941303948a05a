//! The claims askgate reads from Azure AD tokens.

use askgate_domain::Email;
use askgate_domain::ports::ExternalIdentity;
use serde::{Deserialize, Serialize};

/// Azure AD claims outside the OpenID Connect standard set, as carried by ID tokens.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct AzureClaims {
    /// Object id of the user: stable across the apps of a tenant.
    pub(crate) oid: Option<String>,
    /// Tenant id.
    pub(crate) tid: Option<String>,
    /// App roles assigned to the user.
    #[serde(default)]
    pub(crate) roles: Vec<String>,
    /// Object ids of the user's groups, when the app registration emits them
    /// (absent on a token whose groups overflowed into `_claim_names`).
    #[serde(default)]
    pub(crate) groups: Vec<String>,
    /// Not-before, which openidconnect does not check on ID tokens.
    pub(crate) nbf: Option<i64>,
}

impl openidconnect::AdditionalClaims for AzureClaims {}

/// The claims of a bearer access token issued for askgate's API. `exp`, `nbf`, `iss`
/// and `aud` are checked by jsonwebtoken before these are read.
#[derive(Debug, Deserialize)]
pub(crate) struct AccessTokenClaims {
    pub(crate) oid: Option<String>,
    pub(crate) tid: Option<String>,
    #[serde(default)]
    pub(crate) roles: Vec<String>,
    #[serde(default)]
    pub(crate) groups: Vec<String>,
    pub(crate) email: Option<String>,
    pub(crate) preferred_username: Option<String>,
    /// v1 access tokens carry the sign-in name here instead.
    pub(crate) upn: Option<String>,
    pub(crate) name: Option<String>,
    /// Delegated scopes granted to the calling client: only access tokens carry them.
    pub(crate) scp: Option<String>,
    /// Token format version (`1.0` or `2.0`), present on every Entra access token.
    pub(crate) ver: Option<String>,
    /// The client the token was issued to (v2 `azp`, v1 `appid`). ID tokens name
    /// none, which is what tells an ID token with app roles from an access token.
    pub(crate) azp: Option<String>,
    pub(crate) appid: Option<String>,
}

impl AccessTokenClaims {
    /// Why these are not the claims of an access token, if they are not.
    pub(crate) fn not_an_access_token(&self) -> Option<&'static str> {
        if !matches!(self.ver.as_deref(), Some("1.0" | "2.0")) {
            return Some("token has no access-token version (ver)");
        }
        let scoped = self.scp.as_deref().is_some_and(|s| !s.trim().is_empty());
        if !scoped && self.roles.is_empty() {
            return Some("token grants neither scopes (scp) nor app roles (roles)");
        }
        let client = self.azp.as_deref().or(self.appid.as_deref());
        if client.is_none_or(|c| c.trim().is_empty()) {
            return Some("token names no client (azp/appid): an ID token, not an access token");
        }
        None
    }
}

/// Parts of an identity before they become an [`ExternalIdentity`].
pub(crate) struct IdentityParts<'a> {
    pub(crate) subject: String,
    pub(crate) tenant: Option<String>,
    /// Candidates for the e-mail address, best first.
    pub(crate) emails: [Option<&'a str>; 3],
    pub(crate) display_name: Option<String>,
    pub(crate) roles: Vec<String>,
    pub(crate) groups: Vec<String>,
}

impl IdentityParts<'_> {
    pub(crate) fn into_identity(self) -> ExternalIdentity {
        let email = self.emails.into_iter().flatten().find_map(|candidate| {
            Email::parse(candidate)
                .inspect_err(|err| {
                    tracing::debug!(error = %err, "ignoring a sign-in name that is not an e-mail");
                })
                .ok()
        });
        ExternalIdentity {
            subject: self.subject,
            tenant: self.tenant,
            email,
            display_name: self.display_name.filter(|name| !name.trim().is_empty()),
            roles: self.roles,
            groups: self.groups,
        }
    }
}
