//! The command line: `askgate-server [serve | migrate | grant … | reconcile … | audit]`
//! (see [`USAGE`]).
//!
//! Five commands with a handful of flags do not need an argument-parsing crate.

use askgate_domain::Email;
use askgate_domain::Tokens;
use askgate_domain::ledger::IdempotencyKey;

pub const USAGE: &str = "usage: askgate-server [serve | migrate | grant --email EMAIL --tokens N [--reason TEXT] [--key KEY] | reconcile [--since 72h] | audit]";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run the HTTP server (the default).
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
    /// Credit tokens to a user with a `grant` ledger row.
    Grant(GrantArgs),
    /// Credit Stripe payments of the recent past that no webhook credited.
    Reconcile(ReconcileArgs),
    /// Check the whole ledger and print a report; fails on any violation.
    Audit,
    /// Print the usage and exit.
    Help,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconcileArgs {
    /// How far back to look (`--since 72h`, `--since 3d`).
    pub since: std::time::Duration,
}

/// `reconcile` looks back this far unless told otherwise: Stripe retries a
/// webhook for up to three days.
pub const DEFAULT_RECONCILE_WINDOW: std::time::Duration = std::time::Duration::from_secs(72 * 3600);

/// The longest `--since` accepted: 90 days.
const MAX_RECONCILE_HOURS: u64 = 90 * 24;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantArgs {
    pub email: Email,
    pub tokens: Tokens,
    pub reason: String,
    /// Makes the grant happen at most once; a fresh one when not given.
    pub key: Option<IdempotencyKey>,
}

/// The command line could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(String);

/// Parses the arguments after the program name.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, UsageError> {
    let mut args = args.into_iter();
    let command = match args.next().as_deref() {
        None | Some("serve") => Command::Serve,
        Some("migrate") => Command::Migrate,
        Some("audit") => Command::Audit,
        Some("grant") => return parse_grant(args).map(Command::Grant),
        Some("reconcile") => return parse_reconcile(args).map(Command::Reconcile),
        Some("help" | "--help" | "-h") => Command::Help,
        Some(other) => return Err(UsageError(format!("unknown command '{other}'"))),
    };
    match args.next() {
        None => Ok(command),
        Some(extra) => Err(UsageError(format!("unexpected argument '{extra}'"))),
    }
}

fn parse_reconcile(mut args: impl Iterator<Item = String>) -> Result<ReconcileArgs, UsageError> {
    let mut since = DEFAULT_RECONCILE_WINDOW;
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--since" => {
                let value = args
                    .next()
                    .ok_or_else(|| UsageError("--since needs a value such as 72h or 3d".into()))?;
                since = parse_window(&value).ok_or_else(|| {
                    UsageError(format!(
                        "--since must be a number of hours or days such as 72h or 3d (at most {} days), not '{value}'",
                        MAX_RECONCILE_HOURS / 24
                    ))
                })?;
            }
            other => {
                return Err(UsageError(format!(
                    "unknown option '{other}' for reconcile"
                )));
            }
        }
    }
    Ok(ReconcileArgs { since })
}

/// `72h` or `3d`: a positive whole number of hours or days.
fn parse_window(value: &str) -> Option<std::time::Duration> {
    let (number, hours_per_unit) = if let Some(n) = value.strip_suffix('h') {
        (n, 1)
    } else if let Some(n) = value.strip_suffix('d') {
        (n, 24)
    } else {
        return None;
    };
    let hours = number.parse::<u64>().ok()?.checked_mul(hours_per_unit)?;
    (1..=MAX_RECONCILE_HOURS)
        .contains(&hours)
        .then(|| std::time::Duration::from_secs(hours * 3600))
}

fn parse_grant(mut args: impl Iterator<Item = String>) -> Result<GrantArgs, UsageError> {
    let (mut email, mut tokens, mut reason, mut key) = (None, None, None, None);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .ok_or_else(|| UsageError(format!("{flag} needs a value")))?;
        match flag.as_str() {
            "--email" => {
                email =
                    Some(Email::parse(&value).map_err(|e| UsageError(format!("--email: {e}")))?);
            }
            "--tokens" => {
                let n = value
                    .parse::<i64>()
                    .ok()
                    .and_then(|n| Tokens::new(n).ok())
                    .filter(|t| !t.is_zero())
                    .ok_or_else(|| {
                        UsageError("--tokens must be a whole number of at least 1".into())
                    })?;
                tokens = Some(n);
            }
            "--reason" => reason = Some(value),
            "--key" => {
                key = Some(
                    IdempotencyKey::parse(&value).map_err(|e| UsageError(format!("--key: {e}")))?,
                );
            }
            other => return Err(UsageError(format!("unknown option '{other}' for grant"))),
        }
    }
    Ok(GrantArgs {
        email: email.ok_or_else(|| UsageError("grant needs --email".into()))?,
        tokens: tokens.ok_or_else(|| UsageError("grant needs --tokens".into()))?,
        reason: reason.unwrap_or_else(|| "granted by an operator".to_owned()),
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn no_command_serves() {
        assert_eq!(parse(args("")), Ok(Command::Serve));
        assert_eq!(parse(args("serve")), Ok(Command::Serve));
        assert_eq!(parse(args("audit")), Ok(Command::Audit));
        assert_eq!(parse(args("migrate")), Ok(Command::Migrate));
    }

    #[test]
    fn grant_reads_its_flags() {
        let Command::Grant(g) =
            parse(args("grant --tokens 100 --email A@Example.com --key k1")).unwrap()
        else {
            panic!("not a grant");
        };
        assert_eq!(g.email.as_str(), "a@example.com");
        assert_eq!(g.tokens.get(), 100);
        assert_eq!(g.key.unwrap().as_str(), "k1");
        assert_eq!(g.reason, "granted by an operator");
    }

    #[test]
    fn reconcile_reads_hours_or_days_and_defaults_to_three_days() {
        let since = |line: &str| match parse(args(line)).unwrap() {
            Command::Reconcile(r) => r.since.as_secs(),
            other => panic!("not a reconcile: {other:?}"),
        };
        assert_eq!(since("reconcile"), 72 * 3600);
        assert_eq!(since("reconcile --since 72h"), 72 * 3600);
        assert_eq!(since("reconcile --since 2d"), 48 * 3600);
        assert_eq!(since("reconcile --since 1h"), 3600);
        for bad in [
            "reconcile --since",
            "reconcile --since 0h",
            "reconcile --since 72",
            "reconcile --since 3w",
            "reconcile --since -2d",
            "reconcile --since 91d",
            "reconcile --until 2d",
        ] {
            assert!(parse(args(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_command_lines_are_refused() {
        for line in [
            "launch",
            "serve now",
            "grant --email a@example.com",
            "grant --tokens 5",
            "grant --email a@example.com --tokens 0",
            "grant --email a@example.com --tokens -3",
            "grant --email nope --tokens 3",
            "grant --email a@example.com --tokens 3 --colour red",
            "grant --email",
        ] {
            assert!(parse(args(line)).is_err(), "{line}");
        }
    }
}
