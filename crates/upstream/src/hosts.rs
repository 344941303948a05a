//! Where askgate may send questions: the operator's allow-list of upstream hosts.
//!
//! - A domain's `api_endpoint` and `configuration.base_url` must name an allowed
//!   host ([`AllowedHosts::check`]); in production they must use `https`.
//! - The host names of the operator's own endpoints (`ASKATT_API_ENDPOINT`,
//!   `ASKDOCS_API_BASE_ENDPOINT`) are always allowed.
//! - An entry is a host name, an IP address, or `*.example.com`, where `*` stands
//!   for exactly one whole label (`hr.example.com`, not `example.com` nor
//!   `a.hr.example.com`).
//! - Every name is checked again when a connection is opened ([`FilteringResolver`]):
//!   addresses that are loopback, link-local, private or unspecified are dropped
//!   unless the host itself is listed exactly (not through a wildcard). That also
//!   covers a name whose DNS answer changes after it was checked.
//! - IP-address URLs are never resolved, so they are allowed only when listed exactly.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use askgate_domain::ports::UpstreamTargets;
use async_trait::async_trait;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// One `UPSTREAM_ALLOWED_HOSTS` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    /// A host name, lowercase, without a trailing dot.
    Name(String),
    /// An IP address.
    Ip(IpAddr),
    /// `*.{suffix}`: any host of exactly one more label.
    Wildcard(String),
}

/// Why an `UPSTREAM_ALLOWED_HOSTS` entry was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a host name, an IP address or a wildcard such as *.askdocs.example.com")]
pub struct HostPatternError(pub String);

impl HostPattern {
    /// Parses `hr.example.com`, `10.0.0.7`, `::1`, `[::1]` or `*.example.com`.
    pub fn parse(raw: &str) -> Result<Self, HostPatternError> {
        let entry = raw.trim();
        let invalid = || HostPatternError(entry.to_owned());
        if let Ok(ip) = entry.parse::<IpAddr>() {
            return Ok(Self::Ip(ip));
        }
        let (wildcard, rest) = match entry.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, entry),
        };
        if rest.is_empty()
            || rest.contains(['*', '/', ':', '@', '?', '#']) && !rest.starts_with('[')
        {
            return Err(invalid());
        }
        match Host::parse(rest).map_err(|_| invalid())? {
            Host::Domain(name) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                let labels = name.split('.').count();
                if name.is_empty() || name.split('.').any(str::is_empty) {
                    Err(invalid())
                } else if wildcard && labels < 2 {
                    // `*.com` would allow half the internet.
                    Err(invalid())
                } else if wildcard {
                    Ok(Self::Wildcard(name))
                } else {
                    Ok(Self::Name(name))
                }
            }
            Host::Ipv4(ip) if !wildcard => Ok(Self::Ip(IpAddr::V4(ip))),
            Host::Ipv6(ip) if !wildcard => Ok(Self::Ip(IpAddr::V6(ip))),
            Host::Ipv4(_) | Host::Ipv6(_) => Err(invalid()),
        }
    }

    /// The pattern for `url`'s host (exactly that host), if it has one.
    #[must_use]
    pub fn of_url(url: &Url) -> Option<Self> {
        match url.host()? {
            Host::Domain(name) => Some(Self::Name(name.trim_end_matches('.').to_ascii_lowercase())),
            Host::Ipv4(ip) => Some(Self::Ip(IpAddr::V4(ip))),
            Host::Ipv6(ip) => Some(Self::Ip(IpAddr::V6(ip))),
        }
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Name(name) => f.write_str(name),
            Self::Ip(ip) => write!(f, "{ip}"),
            Self::Wildcard(suffix) => write!(f, "*.{suffix}"),
        }
    }
}

/// How a host matched the allow-list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Match {
    /// Listed as is: it may resolve to private addresses.
    Exact,
    /// Through a wildcard: public addresses only.
    Wildcard,
}

/// The allowed upstream hosts, and whether domain endpoints need `https`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedHosts {
    patterns: Vec<HostPattern>,
    require_https: bool,
}

impl AllowedHosts {
    /// `patterns` (duplicates are harmless); `require_https` in production.
    #[must_use]
    pub fn new(patterns: Vec<HostPattern>, require_https: bool) -> Self {
        Self {
            patterns,
            require_https,
        }
    }

    /// The entries, in order.
    #[must_use]
    pub fn patterns(&self) -> &[HostPattern] {
        &self.patterns
    }

    #[must_use]
    pub const fn requires_https(&self) -> bool {
        self.require_https
    }

    fn matching(&self, host: &str) -> Option<Match> {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let ip = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .ok();
        let mut found = None;
        for pattern in &self.patterns {
            match pattern {
                HostPattern::Ip(allowed) if Some(*allowed) == ip => return Some(Match::Exact),
                HostPattern::Name(name) if *name == host => return Some(Match::Exact),
                HostPattern::Wildcard(suffix)
                    if ip.is_none()
                        && host
                            .strip_suffix(suffix.as_str())
                            .and_then(|label| label.strip_suffix('.'))
                            .is_some_and(|label| !label.is_empty() && !label.contains('.')) =>
                {
                    found = Some(Match::Wildcard);
                }
                _ => {}
            }
        }
        found
    }

    /// Whether a domain may send questions to `url`: an http(s) URL (`https`
    /// in production) whose host is allowed. The reason names the host, never
    /// the allow-list.
    pub fn check(&self, url: &Url) -> Result<(), String> {
        match url.scheme() {
            "https" => {}
            "http" if !self.require_https => {}
            "http" => return Err("https is required in production".to_owned()),
            _ => return Err("only http and https URLs can be asked".to_owned()),
        }
        let host = url.host_str().unwrap_or_default();
        if host.is_empty() {
            return Err("the URL has no host".to_owned());
        }
        if self.matching(host).is_none() {
            return Err(format!(
                "host {host} is not in the allowed upstream hosts (UPSTREAM_ALLOWED_HOSTS)"
            ));
        }
        Ok(())
    }
}

impl UpstreamTargets for AllowedHosts {
    fn check(&self, url: &Url) -> Result<(), String> {
        Self::check(self, url)
    }
}

/// True for addresses a question must never reach through a name that is not
/// listed exactly: loopback, link-local, private, shared (100.64/10),
/// unspecified, broadcast and multicast, including IPv4 inside IPv6.
#[must_use]
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal_v4(v4);
            }
            let first = v6.segments()[0];
            v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // fc00::/7 unique local
                || (first & 0xffc0) == 0xfe80 // fe80::/10 link-local
                || (first & 0xffc0) == 0xfec0 // fec0::/10 site-local (deprecated)
                || is_ipv4_compatible_internal(v6)
        }
    }
}

fn is_internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    a == 0 // 0.0.0.0/8
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || (a == 100 && (b & 0xc0) == 64) // 100.64.0.0/10 shared address space
        || ip.is_broadcast()
        || ip.is_multicast()
}

/// `::a.b.c.d` (deprecated IPv4-compatible) and `64:ff9b::a.b.c.d` (NAT64).
fn is_ipv4_compatible_internal(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let o = ip.octets();
    let embedded = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    let compatible = s[..6].iter().all(|x| *x == 0);
    let nat64 = s[0] == 0x64 && s[1] == 0xff9b && s[2..6].iter().all(|x| *x == 0);
    (compatible || nat64) && is_internal_v4(embedded)
}

/// Turns a host name into addresses: the system resolver, or a stand-in in tests.
#[async_trait]
pub trait HostLookup: Send + Sync {
    async fn lookup(&self, host: &str) -> std::io::Result<Vec<IpAddr>>;
}

/// The operating system's resolver (`getaddrinfo`, through tokio).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemLookup;

#[async_trait]
impl HostLookup for SystemLookup {
    async fn lookup(&self, host: &str) -> std::io::Result<Vec<IpAddr>> {
        Ok(tokio::net::lookup_host((host, 0))
            .await?
            .map(|addr| addr.ip())
            .collect())
    }
}

/// A connection was not opened because of where the host points.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AddressRefused {
    #[error("upstream host is not allowed")]
    HostNotAllowed,
    #[error("upstream host resolves only to internal addresses")]
    InternalOnly,
}

/// The DNS resolver of the upstream client: resolves only allowed names and
/// drops internal addresses of names not listed exactly.
pub(crate) struct FilteringResolver {
    hosts: Arc<AllowedHosts>,
    lookup: Arc<dyn HostLookup>,
}

impl FilteringResolver {
    pub(crate) fn new(hosts: Arc<AllowedHosts>, lookup: Arc<dyn HostLookup>) -> Self {
        Self { hosts, lookup }
    }

    /// The addresses `host` may be reached at.
    pub(crate) async fn addresses(&self, host: &str) -> Result<Vec<IpAddr>, BoxError> {
        let Some(matched) = self.hosts.matching(host) else {
            return Err(Box::new(AddressRefused::HostNotAllowed));
        };
        let found = self.lookup.lookup(host).await?;
        if matched == Match::Exact {
            return Ok(found);
        }
        let public: Vec<IpAddr> = found.into_iter().filter(|ip| !is_internal(*ip)).collect();
        if public.is_empty() {
            tracing::warn!(
                host,
                "upstream host refused: it resolves only to internal addresses"
            );
            return Err(Box::new(AddressRefused::InternalOnly));
        }
        Ok(public)
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl Resolve for FilteringResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let hosts = Arc::clone(&self.hosts);
        let lookup = Arc::clone(&self.lookup);
        Box::pin(async move {
            let resolver = Self { hosts, lookup };
            let addresses = resolver.addresses(name.as_str()).await?;
            let addrs: Addrs = Box::new(
                addresses
                    .into_iter()
                    .map(|ip| SocketAddr::new(ip, 0))
                    .collect::<Vec<_>>()
                    .into_iter(),
            );
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn hosts(entries: &[&str], require_https: bool) -> AllowedHosts {
        AllowedHosts::new(
            entries
                .iter()
                .map(|e| HostPattern::parse(e).unwrap())
                .collect(),
            require_https,
        )
    }

    fn url(raw: &str) -> Url {
        Url::parse(raw).unwrap()
    }

    #[test]
    fn entries_are_names_addresses_or_one_label_wildcards() {
        assert_eq!(
            HostPattern::parse(" Docs.Example.COM. "),
            Ok(HostPattern::Name("docs.example.com".into()))
        );
        assert_eq!(
            HostPattern::parse("*.askdocs.example.com"),
            Ok(HostPattern::Wildcard("askdocs.example.com".into()))
        );
        assert_eq!(
            HostPattern::parse("127.0.0.1"),
            Ok(HostPattern::Ip("127.0.0.1".parse().unwrap()))
        );
        assert_eq!(
            HostPattern::parse("[::1]"),
            Ok(HostPattern::Ip("::1".parse().unwrap()))
        );
        assert_eq!(HostPattern::parse("::1"), HostPattern::parse("[::1]"));
        for bad in [
            "",
            "*",
            "*.com",
            "a.*.example.com",
            "docs*.example.com",
            "https://docs.example.com",
            "docs.example.com:443",
            "docs.example.com/chat",
            "*.10.0.0.1",
            "a..b",
        ] {
            assert!(HostPattern::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_wildcard_allows_exactly_one_more_label() {
        let allowed = hosts(&["*.askdocs.example.com"], false);
        assert!(
            allowed
                .check(&url("https://hr.askdocs.example.com/chat"))
                .is_ok()
        );
        assert!(
            allowed
                .check(&url("https://HR.askdocs.example.com./chat"))
                .is_ok()
        );
        for refused in [
            "https://askdocs.example.com/chat",
            "https://a.hr.askdocs.example.com/chat",
            "https://hr.askdocs.example.com.evil.test/chat",
            "https://evilaskdocs.example.com/chat",
        ] {
            assert!(allowed.check(&url(refused)).is_err(), "{refused}");
        }
    }

    #[test]
    fn unlisted_hosts_and_addresses_are_refused_with_the_host_named() {
        let allowed = hosts(&["docs.example.com", "127.0.0.1"], false);
        assert!(allowed.check(&url("http://127.0.0.1:9000/hr")).is_ok());
        assert!(allowed.check(&url("http://docs.example.com/hr")).is_ok());
        let reason = allowed
            .check(&url("http://169.254.169.254/latest"))
            .unwrap_err();
        assert!(reason.contains("169.254.169.254"), "{reason}");
        assert!(!reason.contains("docs.example.com"), "{reason}");
        for refused in [
            "http://localhost:9000/hr",
            "http://[::1]:9000/hr",
            "http://10.0.0.1/",
            "http://0x7f000002/", // 127.0.0.2 written as a number
            "http://127.0.0.2/",
        ] {
            assert!(allowed.check(&url(refused)).is_err(), "{refused}");
        }
    }

    #[test]
    fn production_requires_https() {
        let allowed = hosts(&["docs.example.com"], true);
        assert!(allowed.check(&url("https://docs.example.com/hr")).is_ok());
        let reason = allowed
            .check(&url("http://docs.example.com/hr"))
            .unwrap_err();
        assert!(reason.contains("https"), "{reason}");
        assert!(
            hosts(&["docs.example.com"], false)
                .check(&url("http://docs.example.com/hr"))
                .is_ok()
        );
    }

    #[test]
    fn internal_addresses_are_recognised() {
        for internal in [
            "127.0.0.1",
            "127.1.2.3",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.254",
            "0.0.0.0",
            "255.255.255.255",
            "::",
            "::1",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::10.0.0.1",
        ] {
            assert!(is_internal(internal.parse().unwrap()), "{internal}");
        }
        for public in [
            "93.184.216.34",
            "172.32.0.1",
            "100.128.0.1",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(!is_internal(public.parse().unwrap()), "{public}");
        }
    }

    struct FixedLookup(HashMap<&'static str, Vec<IpAddr>>);

    #[async_trait]
    impl HostLookup for FixedLookup {
        async fn lookup(&self, host: &str) -> std::io::Result<Vec<IpAddr>> {
            self.0
                .get(host)
                .cloned()
                .ok_or_else(|| std::io::Error::other("no such host"))
        }
    }

    fn resolver(entries: &[&str]) -> FilteringResolver {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let lookup = FixedLookup(HashMap::from([
            ("hr.askdocs.example.com", vec![ip("10.0.0.5")]),
            (
                "mixed.askdocs.example.com",
                vec![ip("127.0.0.1"), ip("93.184.216.34")],
            ),
            ("public.askdocs.example.com", vec![ip("93.184.216.34")]),
        ]));
        FilteringResolver::new(Arc::new(hosts(entries, false)), Arc::new(lookup))
    }

    #[tokio::test]
    async fn a_wildcard_name_resolving_to_an_internal_address_is_refused() {
        let wildcard = resolver(&["*.askdocs.example.com"]);
        let err = wildcard
            .addresses("hr.askdocs.example.com")
            .await
            .unwrap_err();
        assert!(err.downcast_ref::<AddressRefused>().is_some(), "{err}");
        assert_eq!(
            wildcard
                .addresses("mixed.askdocs.example.com")
                .await
                .unwrap(),
            vec!["93.184.216.34".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(
            wildcard
                .addresses("public.askdocs.example.com")
                .await
                .unwrap()
                .len(),
            1
        );
    }

    #[tokio::test]
    async fn a_name_listed_exactly_may_resolve_to_an_internal_address() {
        let exact = resolver(&["hr.askdocs.example.com"]);
        assert_eq!(
            exact.addresses("hr.askdocs.example.com").await.unwrap(),
            vec!["10.0.0.5".parse::<IpAddr>().unwrap()]
        );
    }

    #[tokio::test]
    async fn an_unlisted_name_is_not_even_looked_up() {
        let err = resolver(&["*.askdocs.example.com"])
            .addresses("metadata.google.internal")
            .await
            .unwrap_err();
        assert!(matches!(
            err.downcast_ref::<AddressRefused>(),
            Some(AddressRefused::HostNotAllowed)
        ));
    }
}
