//! The Microsoft Entra ID (Azure AD) section of [`Settings`](super::Settings):
//! sign-in, bearer access tokens and the client-credentials tokens for the
//! upstreams. See docs/entra-id-setup.md.

use secrecy::SecretString;
use url::Url;

use super::env::{ConfigError, Env, http_url, variables};
use super::http::HttpSettings;

variables! {
    AZURE_AD_TENANT_ID,
    AZURE_AD_CLIENT_ID,
    AZURE_AD_CLIENT_SECRET,
    AZURE_AD_AUTHORITY,
    AZURE_AD_REDIRECT_URI,
    AZURE_AD_AUDIENCES,
    AZURE_AD_ADMIN_ROLE,
}

/// Where the provider sends the browser back, under `PUBLIC_BASE_URL`.
const CALLBACK_PATH: &str = "/api/auth/callback";

#[derive(Debug, Clone)]
pub struct AzureAdSettings {
    /// Present when `AZURE_AD_TENANT_ID` and `AZURE_AD_CLIENT_ID` are both set.
    pub app: Option<AzureAdApp>,
    /// `AZURE_AD_ADMIN_ROLE`: the app role that makes an admin (default `Admin`).
    pub admin_role: String,
}

/// askgate's app registration in one tenant.
#[derive(Debug, Clone)]
pub struct AzureAdApp {
    /// `AZURE_AD_TENANT_ID`.
    pub tenant_id: String,
    /// `AZURE_AD_CLIENT_ID`.
    pub client_id: String,
    /// `AZURE_AD_CLIENT_SECRET`: for the code exchange and client-credentials tokens.
    pub client_secret: Option<SecretString>,
    /// `AZURE_AD_AUTHORITY` (default `https://login.microsoftonline.com/{tenant}/v2.0`):
    /// the issuer, whose discovery document askgate reads at start-up.
    pub authority: Url,
    /// `AZURE_AD_REDIRECT_URI` (default `{PUBLIC_BASE_URL}/api/auth/callback`).
    pub redirect_uri: Url,
    /// `AZURE_AD_AUDIENCES`: `aud` values accepted on bearer access tokens
    /// (default the client id and `api://{client id}`).
    pub audiences: Vec<String>,
}

impl AzureAdSettings {
    pub(super) fn read(env: &Env<'_>, http: &HttpSettings) -> Result<Self, ConfigError> {
        let admin_role = env
            .get(AZURE_AD_ADMIN_ROLE)
            .unwrap_or_else(|| "Admin".to_owned());
        let app = match (env.get(AZURE_AD_TENANT_ID), env.get(AZURE_AD_CLIENT_ID)) {
            (None, None) => None,
            (Some(_), None) => {
                return Err(ConfigError::new(
                    AZURE_AD_CLIENT_ID,
                    "must be set when AZURE_AD_TENANT_ID is (Microsoft sign-in needs both)",
                ));
            }
            (None, Some(_)) => {
                return Err(ConfigError::new(
                    AZURE_AD_TENANT_ID,
                    "must be set when AZURE_AD_CLIENT_ID is (Microsoft sign-in needs both)",
                ));
            }
            (Some(tenant_id), Some(client_id)) => {
                Some(AzureAdApp::read(env, http, tenant_id, client_id)?)
            }
        };
        Ok(Self { app, admin_role })
    }
}

impl AzureAdApp {
    fn read(
        env: &Env<'_>,
        http: &HttpSettings,
        tenant_id: String,
        client_id: String,
    ) -> Result<Self, ConfigError> {
        if !is_identifier(&tenant_id) {
            return Err(ConfigError::new(
                AZURE_AD_TENANT_ID,
                "must be the directory (tenant) id, e.g. 6f1c2b9e-0d7a-4c55-9a3e-7b1d4c2e8f10",
            ));
        }
        if !is_identifier(&client_id) {
            return Err(ConfigError::new(
                AZURE_AD_CLIENT_ID,
                "must be the application (client) id of askgate's app registration",
            ));
        }
        let authority = http_url(
            AZURE_AD_AUTHORITY,
            &env.get(AZURE_AD_AUTHORITY)
                .unwrap_or_else(|| format!("https://login.microsoftonline.com/{tenant_id}/v2.0")),
            "https://login.microsoftonline.com/<tenant id>/v2.0",
        )?;
        let redirect_uri = match env.http_url(
            AZURE_AD_REDIRECT_URI,
            "https://askgate.example.com/api/auth/callback",
        )? {
            Some(uri) => uri,
            None => http.public_url(CALLBACK_PATH)?,
        };
        let audiences = env
            .list(AZURE_AD_AUDIENCES, |audience| Ok(audience.to_owned()))?
            .unwrap_or_else(|| vec![client_id.clone(), format!("api://{client_id}")]);
        if audiences.is_empty() {
            return Err(ConfigError::new(
                AZURE_AD_AUDIENCES,
                "must list at least one audience, e.g. the client id and api://<client id>",
            ));
        }
        Ok(Self {
            client_secret: env.secret(AZURE_AD_CLIENT_SECRET),
            tenant_id,
            client_id,
            authority,
            redirect_uri,
            audiences,
        })
    }
}

/// A tenant or client id: a GUID, or a name such as `contoso.onmicrosoft.com`
/// (letters, digits, `.`, `-`, `_`), never something that changes a URL's path.
fn is_identifier(raw: &str) -> bool {
    raw.len() <= 100
        && raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::super::Settings;

    const TENANT: &str = "6f1c2b9e-0d7a-4c55-9a3e-7b1d4c2e8f10";
    const CLIENT: &str = "askgate-client";

    #[test]
    fn the_redirect_uri_defaults_to_the_callback_under_the_public_base_url() {
        let s = Settings::from_pairs(&[
            ("AZURE_AD_TENANT_ID", TENANT),
            ("AZURE_AD_CLIENT_ID", CLIENT),
            ("PUBLIC_BASE_URL", "https://example.com/askgate"),
        ])
        .unwrap();
        let app = s.azure_ad.app.unwrap();
        assert_eq!(
            app.redirect_uri.as_str(),
            "https://example.com/askgate/api/auth/callback"
        );
        let s = Settings::from_pairs(&[
            ("AZURE_AD_TENANT_ID", TENANT),
            ("AZURE_AD_CLIENT_ID", CLIENT),
            ("AZURE_AD_REDIRECT_URI", "http://127.0.0.1:9000/cb"),
        ])
        .unwrap();
        assert_eq!(
            s.azure_ad.app.unwrap().redirect_uri.as_str(),
            "http://127.0.0.1:9000/cb"
        );
    }

    #[test]
    fn audiences_are_a_list_that_cannot_be_empty() {
        let s = Settings::from_pairs(&[
            ("AZURE_AD_TENANT_ID", TENANT),
            ("AZURE_AD_CLIENT_ID", CLIENT),
            ("AZURE_AD_AUDIENCES", " api://askgate , other,"),
        ])
        .unwrap();
        assert_eq!(
            s.azure_ad.app.unwrap().audiences,
            ["api://askgate", "other"]
        );
        let err = Settings::from_pairs(&[
            ("AZURE_AD_TENANT_ID", TENANT),
            ("AZURE_AD_CLIENT_ID", CLIENT),
            ("AZURE_AD_AUDIENCES", ", ,"),
        ])
        .unwrap_err();
        assert_eq!(err.variable, "AZURE_AD_AUDIENCES");
    }

    #[test]
    fn the_client_secret_is_kept_out_of_debug() {
        let s = Settings::from_pairs(&[
            ("AZURE_AD_TENANT_ID", TENANT),
            ("AZURE_AD_CLIENT_ID", CLIENT),
            ("AZURE_AD_CLIENT_SECRET", "hunter2"),
        ])
        .unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
        let app = s.azure_ad.app.unwrap();
        assert_eq!(app.client_secret.unwrap().expose_secret(), "hunter2");
    }
}
