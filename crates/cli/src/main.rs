//! `askgate`: askgate on the command line.
//!
//! ```text
//! askgate login [--url URL]        sign in with a device code
//! askgate chat "question"          ask AskAT&T (one token), the answer streamed
//! askgate chat --docs it-help -    ask an AskDocs domain, the question from stdin
//! askgate balance | whoami | history [--csv] | domains | buy 100 | logout
//! ```
//!
//! `ASKGATE_API_KEY` (an API key, `agk_…`) is used instead of a sign-in when
//! set; `ASKGATE_URL` names the server when `--url` does not.

mod config;

use std::io::{Read as _, Write as _};
use std::process::ExitCode;

use askgate_client::{ChatEvent, ChatRequest, Client, Credentials, Error};
use clap::{Parser, Subcommand};
use futures::StreamExt as _;

/// Where the tool goes when nothing names a server: a local askgate.
const DEFAULT_URL: &str = "http://127.0.0.1:8080";

#[derive(Debug, Parser)]
#[command(
    name = "askgate",
    version,
    about = "askgate on the command line: AskAT&T and AskDocs, paid with your askgate tokens"
)]
struct Cli {
    /// The askgate server (default: ASKGATE_URL, else the one you signed in to, else http://127.0.0.1:8080).
    #[arg(long, global = true)]
    url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Sign in with a device code: open the page shown, enter the code.
    Login,
    /// Sign out: ends the session and forgets it.
    Logout,
    /// Who you are signed in as, and your balance.
    Whoami,
    /// Your balance in tokens.
    Balance,
    /// Ask a question (one token); the answer is printed as it is written.
    Chat {
        /// Ask this AskDocs domain (its name or id) instead of AskAT&T.
        #[arg(long, value_name = "DOMAIN")]
        docs: Option<String>,
        /// Continue this conversation.
        #[arg(long, value_name = "ID")]
        conversation: Option<String>,
        /// The question; `-` reads it from standard input.
        question: String,
    },
    /// Your purchases and uses, newest first.
    History {
        /// The whole ledger as CSV instead.
        #[arg(long)]
        csv: bool,
    },
    /// The AskDocs domains you may ask.
    Domains,
    /// Buy tokens: prints the payment page for a package (100, 250 or 600).
    Buy {
        /// The package: 100, 250 or 600 tokens.
        package: String,
    },
}

/// Exit codes, so scripts can tell what happened.
mod exit {
    pub const FAILED: u8 = 1;
    pub const NOT_SIGNED_IN: u8 = 3;
    pub const OUT_OF_TOKENS: u8 = 4;
    pub const FORBIDDEN: u8 = 5;
    pub const NOT_FOUND: u8 = 6;
    pub const RATE_LIMITED: u8 = 7;
    pub const UNREACHABLE: u8 = 8;
}

/// A failure as the person reads it, and the exit code.
struct Failure {
    message: String,
    code: u8,
}

impl Failure {
    fn new(code: u8, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code,
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("askgate: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let saved = config::load();
    let url = cli
        .url
        .clone()
        .or_else(|| std::env::var("ASKGATE_URL").ok().filter(|u| !u.is_empty()))
        .or_else(|| saved.url.clone())
        .unwrap_or_else(|| DEFAULT_URL.to_owned());
    let client = Client::new(&url).map_err(|e| Failure::new(exit::FAILED, e.to_string()))?;
    let api_key = std::env::var("ASKGATE_API_KEY")
        .ok()
        .filter(|k| !k.is_empty());

    if let Command::Login = cli.command {
        if api_key.is_some() {
            println!(
                "ASKGATE_API_KEY is set: every command uses that key. Unset it to sign in with a device code."
            );
            return Ok(());
        }
        return login(&client, &url).await;
    }
    if let Command::Logout = cli.command {
        if saved.refresh_token.is_some() {
            client.set_credentials(Credentials::Session {
                access: None,
                refresh: saved.refresh_token.clone(),
            });
            // Ending it at the server is best effort; forgetting it is not.
            let _ = client.logout().await;
        }
        config::forget().map_err(|e| Failure::new(exit::FAILED, e))?;
        println!("Signed out.");
        return Ok(());
    }

    match (&api_key, &saved.refresh_token) {
        (Some(key), _) => client.set_credentials(Credentials::ApiKey(key.clone())),
        (None, Some(refresh)) if saved.url.as_deref() == Some(url.as_str()) => {
            client.set_credentials(Credentials::Session {
                access: None,
                refresh: Some(refresh.clone()),
            });
        }
        _ => {
            return Err(Failure::new(
                exit::NOT_SIGNED_IN,
                format!("not signed in to {url}: run `askgate login` (or set ASKGATE_API_KEY)"),
            ));
        }
    }
    let result = command(&client, &url, cli.command).await;
    // The refresh token rotates at every use: keep the new one, whatever happened after.
    if let Some(rotated) = client.refresh_token().filter(|_| api_key.is_none())
        && saved.refresh_token.as_deref() != Some(rotated.as_str())
    {
        let _ = config::store(&config::Saved {
            url: Some(url.clone()),
            refresh_token: Some(rotated),
        });
    }
    result.map_err(|e| failure(&e, &url))
}

async fn login(client: &Client, url: &str) -> Result<(), Failure> {
    let started = client
        .start_device_sign_in()
        .await
        .map_err(|e| failure(&e, url))?;
    println!("To sign in, open {}", started.verification_uri);
    println!("and enter the code {}", started.user_code);
    if let Some(complete) = &started.verification_uri_complete {
        println!("(or open {complete})");
    }
    println!("Waiting for you to finish…");
    let _ = std::io::stdout().flush();
    let signed_in = client
        .wait_for_device_sign_in(&started)
        .await
        .map_err(|e| match e.code() {
            Some("access_denied") => Failure::new(exit::NOT_SIGNED_IN, "the sign-in was declined"),
            Some("expired_token") => Failure::new(
                exit::NOT_SIGNED_IN,
                "the code expired before the sign-in was finished: run `askgate login` again",
            ),
            _ => failure(&e, url),
        })?;
    let refresh_token = signed_in
        .refresh_token
        .clone()
        .ok_or_else(|| Failure::new(exit::FAILED, "the server gave no refresh token to keep"))?;
    let path = config::store(&config::Saved {
        url: Some(url.to_owned()),
        refresh_token: Some(refresh_token),
    })
    .map_err(|e| Failure::new(exit::FAILED, e))?;
    println!(
        "Signed in to {url} as {} ({} tokens). Kept in {}.",
        signed_in.user.email,
        signed_in.user.tokens,
        path.display()
    );
    Ok(())
}

async fn command(client: &Client, url: &str, command: Command) -> Result<(), Error> {
    match command {
        Command::Login | Command::Logout => Ok(()),
        Command::Whoami => {
            let me = client.me().await?;
            let name = me
                .user
                .display_name
                .map(|n| format!(" ({n})"))
                .unwrap_or_default();
            println!(
                "{}{name}, {}, {} tokens, on {url}",
                me.user.email, me.user.role, me.user.tokens
            );
            Ok(())
        }
        Command::Balance => {
            println!("{}", client.balance().await?);
            Ok(())
        }
        Command::Chat {
            docs,
            conversation,
            question,
        } => chat(client, docs, conversation, question).await,
        Command::History { csv } => {
            if csv {
                print!("{}", client.history_csv().await?);
                return Ok(());
            }
            let page = client.history(None).await?;
            if page.items.is_empty() {
                println!("Nothing yet.");
            }
            for t in &page.items {
                let what = t
                    .service_type
                    .as_deref()
                    .or_else(|| t.metadata.get("app_name").and_then(|v| v.as_str()))
                    .unwrap_or("");
                println!(
                    "{}  {:<11} {:>+6}  balance {:>6}  {what}",
                    t.created_at.get(..19).unwrap_or(&t.created_at),
                    t.kind,
                    t.amount,
                    t.balance_after
                );
            }
            if page.next_cursor.is_some() {
                println!("(older rows: askgate history --csv)");
            }
            Ok(())
        }
        Command::Domains => {
            let domains = client.domains().await?;
            if domains.is_empty() {
                println!("No AskDocs domains are open to you.");
            }
            for d in domains {
                println!("{:<24} {}", d.name, d.display_name);
            }
            Ok(())
        }
        Command::Buy { package } => {
            let checkout = client.checkout(&package).await?;
            println!("Open this page to pay; the tokens arrive once the payment is confirmed:");
            println!("{}", checkout.url);
            Ok(())
        }
    }
}

async fn chat(
    client: &Client,
    docs: Option<String>,
    conversation: Option<String>,
    question: String,
) -> Result<(), Error> {
    let question = if question == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Error::Unexpected(format!("cannot read the question from stdin: {e}")))?;
        text
    } else {
        question
    };
    let mut request = match docs {
        Some(domain) => {
            let domains = client.domains().await?;
            let found = domains
                .iter()
                .find(|d| d.name == domain || d.id == domain)
                .ok_or_else(|| {
                    Error::Unexpected(format!(
                        "no AskDocs domain {domain:?} is open to you (see `askgate domains`)"
                    ))
                })?;
            ChatRequest::askdocs(found.id.clone(), question)
        }
        None => ChatRequest::askatt(question),
    };
    if let Some(id) = conversation {
        request = request.in_conversation(id);
    }
    let mut events = client.chat_stream(&request).await?;
    let mut out = std::io::stdout();
    let mut conversation = None;
    while let Some(event) = events.next().await {
        match event? {
            ChatEvent::Start {
                conversation_id, ..
            } => conversation = conversation_id,
            ChatEvent::Delta { text } => {
                let _ = out.write_all(text.as_bytes());
                let _ = out.flush();
            }
            ChatEvent::Sources { sources } => {
                let _ = writeln!(out);
                for source in sources {
                    let title = source.get("title").and_then(|v| v.as_str()).unwrap_or("");
                    let link = source.get("url").and_then(|v| v.as_str()).unwrap_or("");
                    let _ = writeln!(out, "  source: {title} {link}");
                }
            }
            ChatEvent::Done {
                tokens_remaining, ..
            } => {
                let _ = writeln!(out);
                let id = conversation
                    .as_deref()
                    .map(|c| format!(", conversation {c}"))
                    .unwrap_or_default();
                eprintln!("({tokens_remaining} tokens left{id})");
            }
            ChatEvent::Error {
                problem, refunded, ..
            } => {
                let _ = writeln!(out);
                let note = if refunded {
                    " Your token was refunded."
                } else {
                    ""
                };
                return Err(Error::Unexpected(format!("{}{note}", problem.detail)));
            }
        }
    }
    Ok(())
}

/// What the person reads, and the exit code, for an error of `url`.
fn failure(error: &Error, url: &str) -> Failure {
    match error {
        Error::Api(problem) => match problem.status {
            402 => {
                let buy = problem
                    .purchase_url
                    .as_deref()
                    .map(|p| {
                        if p.starts_with('/') {
                            format!("{}{p}", url.trim_end_matches('/'))
                        } else {
                            p.to_owned()
                        }
                    })
                    .unwrap_or_else(|| "askgate buy 100".to_owned());
                Failure::new(
                    exit::OUT_OF_TOKENS,
                    format!("out of tokens, buy more: {buy} (or `askgate buy 100`)"),
                )
            }
            401 => Failure::new(
                exit::NOT_SIGNED_IN,
                format!("{} Run `askgate login`.", problem.detail),
            ),
            403 => Failure::new(exit::FORBIDDEN, problem.detail.clone()),
            404 => Failure::new(exit::NOT_FOUND, problem.detail.clone()),
            429 => Failure::new(exit::RATE_LIMITED, problem.detail.clone()),
            _ => Failure::new(exit::FAILED, problem.detail.clone()),
        },
        Error::Http(cause) => Failure::new(
            exit::UNREACHABLE,
            format!("{url} could not be reached: is askgate running there? ({cause})"),
        ),
        Error::NotSignedIn => {
            Failure::new(exit::NOT_SIGNED_IN, "not signed in: run `askgate login`")
        }
        other => Failure::new(exit::FAILED, other.to_string()),
    }
}
