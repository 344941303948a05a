use std::time::Duration;

/// The HTTP client every request to the identity provider goes through. Redirects are
/// never followed (an OAuth endpoint that redirects is misconfigured or hostile, and a
/// followed redirect could leak credentials to another host).
pub(crate) fn client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(15))
        .build()
}
