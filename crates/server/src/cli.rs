//! The command line: `askgate-server [serve | migrate | grant ...]`.
//!
//! Three commands with a handful of flags do not need an argument-parsing crate.

use askgate_domain::Email;
use askgate_domain::Tokens;
use askgate_domain::ledger::IdempotencyKey;

pub const USAGE: &str = "usage: askgate-server [serve | migrate | grant --email EMAIL --tokens N [--reason TEXT] [--key KEY]]";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run the HTTP server (the default).
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
    /// Credit tokens to a user with a `grant` ledger row.
    Grant(GrantArgs),
    /// Print the usage and exit.
    Help,
}

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
        Some("grant") => return parse_grant(args).map(Command::Grant),
        Some("help" | "--help" | "-h") => Command::Help,
        Some(other) => return Err(UsageError(format!("unknown command '{other}'"))),
    };
    match args.next() {
        None => Ok(command),
        Some(extra) => Err(UsageError(format!("unexpected argument '{extra}'"))),
    }
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
