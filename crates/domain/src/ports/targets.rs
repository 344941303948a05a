use url::Url;

/// Where a domain may send its users' questions: the operator's rules for
/// upstream URLs (allowed hosts, `https` in production), checked when an admin
/// saves a domain.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait UpstreamTargets: Send + Sync {
    /// `Ok` when questions may be sent to `url`; otherwise why not, as one
    /// short sentence that may be shown to the admin (no secrets).
    fn check(&self, url: &Url) -> Result<(), String>;
}
