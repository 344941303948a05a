//! `askgate-server [serve | migrate | grant ... | reconcile ...]`.
//!
//! Exit codes: 0 done, 1 could not start or the command failed, 2 bad command
//! line or configuration. Failures are one line on stderr, never a panic.

use std::process::ExitCode;

use askgate_server::cli::{self, Command};
use askgate_server::settings::Settings;
use askgate_server::{Application, commands, telemetry};

fn main() -> ExitCode {
    let command = match cli::parse(std::env::args().skip(1)) {
        Ok(Command::Help) => {
            println!("{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
        Ok(command) => command,
        Err(e) => {
            eprintln!("askgate: {e}\n{}", cli::USAGE);
            return ExitCode::from(2);
        }
    };
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("askgate: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = telemetry::init(&settings.telemetry) {
        eprintln!("askgate: configuration error: {e}");
        return ExitCode::from(2);
    }
    actix_web::rt::System::new().block_on(run(command, settings))
}

async fn run(command: Command, settings: Settings) -> ExitCode {
    let outcome = match command {
        Command::Serve => serve(settings).await,
        Command::Migrate => commands::migrate(&settings)
            .await
            .map(|done| println!("{done}"))
            .map_err(|e| e.to_string()),
        Command::Grant(args) => commands::grant(&settings, args)
            .await
            .map(|done| println!("{done}"))
            .map_err(|e| e.to_string()),
        Command::Reconcile(args) => commands::reconcile(&settings, args)
            .await
            .map(|done| println!("{done}"))
            .map_err(|e| e.to_string()),
        Command::Audit => match commands::audit(&settings).await {
            Ok(report) => {
                println!("{report}");
                if report.is_clean() {
                    Ok(())
                } else {
                    Err("the ledger audit found violations (listed above)".to_owned())
                }
            }
            Err(e) => Err(e.to_string()),
        },
        Command::Help => Ok(()),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("askgate: {}", one_line(&message));
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: Settings) -> Result<(), String> {
    if settings.auth.jwt_secret_generated {
        tracing::warn!(
            "JWT_SECRET is not set: using a random secret for this run; sessions end when askgate restarts"
        );
    }
    let app = Application::build(settings)
        .await
        .map_err(|e| e.to_string())?;
    app.run_until_stopped()
        .await
        .map_err(|e| format!("the server stopped with an error: {e}"))?;
    tracing::info!("askgate stopped");
    Ok(())
}

/// Keeps a failure to exactly one line, whatever the cause printed.
fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}
