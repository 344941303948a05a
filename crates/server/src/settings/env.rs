//! The environment as the sections of [`Settings`](super::Settings) read it:
//! which variables exist, and the shapes their values take (numbers,
//! switches, choices, lists, URLs, secrets). Each shape trims the value, treats
//! an empty one as unset, and refuses a bad one with a [`ConfigError`] naming
//! the variable.

use std::net::Ipv4Addr;
use std::ops::RangeInclusive;
use std::str::FromStr;

use secrecy::SecretString;
use url::{Host, Url};

/// A configuration value that stops start-up: `{variable} {problem}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable} {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

impl ConfigError {
    pub(super) fn new(var: Var, problem: impl Into<String>) -> Self {
        Self {
            variable: var.name(),
            problem: problem.into(),
        }
    }
}

/// The name of a variable askgate reads. Sections declare theirs with
/// [`variables!`]; everything here reads and reports only through a `Var`, so
/// the variables askgate reads are exactly the ones its sections declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Var(&'static str);

impl Var {
    /// Only for [`variables!`].
    pub(crate) const fn declared(name: &'static str) -> Self {
        Self(name)
    }

    pub(crate) const fn name(self) -> &'static str {
        self.0
    }
}

/// Declares the variables a section reads: one constant per variable, named
/// as the variable (other sections name it in their messages through it), and
/// in tests `VARIABLES`, all of them, so the test that holds `.env.example` to
/// the code needs no list of its own.
macro_rules! variables {
    ($($name:ident),+ $(,)?) => {
        $(
            pub(super) const $name: $crate::settings::env::Var =
                $crate::settings::env::Var::declared(stringify!($name));
        )+
        #[cfg(test)]
        pub(super) const VARIABLES: &[$crate::settings::env::Var] = &[$($name),+];
    };
}
pub(super) use variables;

/// The schemes of web URLs.
pub(super) const HTTP: &[&str] = &["http", "https"];

/// Reads variables through a lookup (the process environment, or test pairs).
pub(super) struct Env<'a>(&'a dyn Fn(&str) -> Option<String>);

impl<'a> Env<'a> {
    pub(super) fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Self(lookup)
    }

    /// The trimmed value; an empty variable counts as unset.
    pub(super) fn get(&self, var: Var) -> Option<String> {
        (self.0)(var.name())
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// A value that `valid` accepts; `problem` says what it must be instead.
    pub(super) fn checked(
        &self,
        var: Var,
        valid: impl Fn(&str) -> bool,
        problem: impl Into<String>,
    ) -> Result<Option<String>, ConfigError> {
        match self.get(var) {
            Some(value) if !valid(&value) => Err(ConfigError::new(var, problem)),
            value => Ok(value),
        }
    }

    /// A value that must never be shown: `Debug` hides it.
    pub(super) fn secret(&self, var: Var) -> Option<SecretString> {
        self.get(var).map(SecretString::from)
    }

    /// A secret that `valid` accepts. `problem` is written without the value,
    /// so a refused secret is never repeated in a log.
    pub(super) fn checked_secret(
        &self,
        var: Var,
        valid: impl Fn(&str) -> bool,
        problem: impl Into<String>,
    ) -> Result<Option<SecretString>, ConfigError> {
        Ok(self.checked(var, valid, problem)?.map(SecretString::from))
    }

    /// `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`, in any case).
    pub(super) fn bool(&self, var: Var) -> Result<Option<bool>, ConfigError> {
        self.get(var)
            .map(|raw| match raw.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(true),
                "false" | "0" | "no" | "off" => Ok(false),
                _ => Err(ConfigError::new(var, "must be true or false")),
            })
            .transpose()
    }

    /// A whole number in `range`, `default` when unset.
    pub(super) fn integer(
        &self,
        var: Var,
        default: u64,
        range: RangeInclusive<u64>,
    ) -> Result<u64, ConfigError> {
        let Some(raw) = self.get(var) else {
            return Ok(default);
        };
        raw.parse::<u64>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| {
                ConfigError::new(
                    var,
                    format!(
                        "must be a whole number from {} to {}",
                        range.start(),
                        range.end()
                    ),
                )
            })
    }

    /// One of a few words, exactly as written in `choices`.
    pub(super) fn one_of<T: Copy>(
        &self,
        var: Var,
        choices: &[(&str, T)],
    ) -> Result<Option<T>, ConfigError> {
        let Some(raw) = self.get(var) else {
            return Ok(None);
        };
        choices
            .iter()
            .find(|(word, _)| *word == raw)
            .map(|(_, choice)| Some(*choice))
            .ok_or_else(|| ConfigError::new(var, format!("must be {}", alternatives(choices))))
    }

    /// A value of a type that parses itself (addresses, modes);
    /// `problem` says what it must be.
    pub(super) fn parsed<T: FromStr>(
        &self,
        var: Var,
        problem: &str,
    ) -> Result<Option<T>, ConfigError> {
        self.get(var)
            .map(|raw| raw.parse().map_err(|_| ConfigError::new(var, problem)))
            .transpose()
    }

    /// An absolute http(s) URL; `example` shows what one looks like.
    pub(super) fn http_url(&self, var: Var, example: &str) -> Result<Option<Url>, ConfigError> {
        self.get(var)
            .map(|raw| http_url(var, &raw, example))
            .transpose()
    }

    /// A comma-separated list: entries trimmed, empty ones skipped. `entry`
    /// parses one, or says what the whole value must be and which entry is not.
    pub(super) fn list<T>(
        &self,
        var: Var,
        entry: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Option<Vec<T>>, ConfigError> {
        self.get(var)
            .map(|raw| {
                entries(&raw)
                    .map(|e| entry(e).map_err(|problem| ConfigError::new(var, problem)))
                    .collect()
            })
            .transpose()
    }
}

/// `'a' or 'b'`, `'a', 'b' or 'c'`.
fn alternatives<T>(choices: &[(&str, T)]) -> String {
    let quoted: Vec<String> = choices
        .iter()
        .map(|(word, _)| format!("'{word}'"))
        .collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => quoted.concat(),
    }
}

/// The entries of a comma-separated list, trimmed, without empty ones.
pub(super) fn entries(raw: &str) -> impl Iterator<Item = &str> {
    raw.split(',').map(str::trim).filter(|e| !e.is_empty())
}

/// `raw` as an absolute URL with a host and one of `schemes`.
pub(super) fn parse_url(raw: &str, schemes: &[&str]) -> Option<Url> {
    Url::parse(raw)
        .ok()
        .filter(|u| schemes.contains(&u.scheme()) && u.has_host())
}

/// `raw` as an absolute http(s) URL, for a value that has a default or is
/// derived from another; the message shows `example`, never `raw`.
pub(super) fn http_url(var: Var, raw: &str, example: &str) -> Result<Url, ConfigError> {
    parse_url(raw, HTTP).ok_or_else(|| {
        ConfigError::new(
            var,
            format!("must be an absolute http(s) URL, e.g. {example}"),
        )
    })
}

/// Printable ASCII without spaces, as keys, ids and tokens are.
pub(super) fn is_token(value: &str) -> bool {
    value.bytes().all(|b| b.is_ascii_graphic())
}

/// True for `localhost` and loopback IP addresses.
pub(super) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        // URLs of other schemes than http(s), such as postgres://, keep IPv4
        // addresses as names.
        Some(Host::Domain(name)) => {
            name.eq_ignore_ascii_case("localhost")
                || name.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
        }
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    variables! { COLOURS, SIZE, MODE, KEY }

    fn with<T>(pairs: &[(&str, &str)], read: impl FnOnce(&Env<'_>) -> T) -> T {
        let lookup = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        };
        read(&Env::new(&lookup))
    }

    #[test]
    fn variables_are_declared_under_their_own_names() {
        let names: Vec<_> = VARIABLES.iter().map(|var| var.name()).collect();
        assert_eq!(names, ["COLOURS", "SIZE", "MODE", "KEY"]);
        assert_eq!(
            ConfigError::new(SIZE, "is wrong").to_string(),
            "SIZE is wrong"
        );
    }

    #[test]
    fn blank_values_count_as_unset() {
        with(&[("COLOURS", "  "), ("SIZE", "")], |env| {
            assert_eq!(env.get(COLOURS), None);
            assert_eq!(env.integer(SIZE, 7, 1..=9), Ok(7));
            assert_eq!(
                env.list(COLOURS, |e| Ok::<_, String>(e.to_owned())),
                Ok(None)
            );
        });
    }

    #[test]
    fn list_entries_are_trimmed_and_empty_ones_skipped() {
        with(&[("COLOURS", " red ,, blue ,")], |env| {
            let colours = env.list(COLOURS, |e| Ok::<_, String>(e.to_owned()));
            assert_eq!(colours, Ok(Some(vec!["red".to_owned(), "blue".to_owned()])));
        });
        with(&[("COLOURS", ",,")], |env| {
            assert_eq!(
                env.list(COLOURS, |e| Ok::<_, String>(e.to_owned())),
                Ok(Some(vec![]))
            );
        });
    }

    #[test]
    fn a_bad_list_entry_is_refused_with_the_entry_s_problem() {
        with(&[("COLOURS", "red, plaid")], |env| {
            let err = env
                .list(COLOURS, |e| match e {
                    "red" => Ok(()),
                    other => Err(format!("must be colours; '{other}' is not one")),
                })
                .unwrap_err();
            assert_eq!(
                err.to_string(),
                "COLOURS must be colours; 'plaid' is not one"
            );
        });
    }

    #[test]
    fn one_of_lists_the_choices_when_refusing() {
        let choices = [("a", 1), ("b", 2), ("c", 3)];
        with(&[("MODE", "b")], |env| {
            assert_eq!(env.one_of(MODE, &choices), Ok(Some(2)))
        });
        with(&[("MODE", "B")], |env| {
            assert_eq!(
                env.one_of(MODE, &choices).unwrap_err().to_string(),
                "MODE must be 'a', 'b' or 'c'"
            );
            assert_eq!(
                env.one_of(MODE, &choices[..2]).unwrap_err().to_string(),
                "MODE must be 'a' or 'b'"
            );
        });
    }

    #[test]
    fn a_refused_secret_is_not_repeated() {
        with(&[("KEY", "hunter2")], |env| {
            let err = env
                .checked_secret(KEY, |k| k.len() > 10, "must be long")
                .unwrap_err();
            assert_eq!(err.to_string(), "KEY must be long");
            let key = env.checked_secret(KEY, |k| k.len() > 5, "must be long");
            assert_eq!(key.unwrap().unwrap().expose_secret(), "hunter2");
        });
    }

    #[test]
    fn urls_need_a_host_and_one_of_the_schemes() {
        assert!(parse_url("https://example.com/x", HTTP).is_some());
        assert!(parse_url("redis://127.0.0.1:6379", HTTP).is_none());
        assert!(parse_url("mailto:x@example.com", &["mailto"]).is_none());
        let err =
            http_url(SIZE, "ftp://u:hunter2@example.com", "https://x.example.com").unwrap_err();
        assert_eq!(
            err.to_string(),
            "SIZE must be an absolute http(s) URL, e.g. https://x.example.com"
        );
    }

    #[test]
    fn loopback_covers_localhost_and_loopback_addresses_in_any_scheme() {
        for raw in [
            "http://localhost:8080",
            "http://127.0.0.2/",
            "http://[::1]/",
            "postgres://u@127.0.0.1/db",
            "postgres://u@LocalHost/db",
        ] {
            assert!(is_loopback(&Url::parse(raw).unwrap()), "{raw}");
        }
        for raw in ["http://10.0.0.1/", "postgres://u@db.example.com/db"] {
            assert!(!is_loopback(&Url::parse(raw).unwrap()), "{raw}");
        }
    }
}
