//! `portcullis`: the console and forensic-kiosk tool.
//!
//! Each subcommand lives in its own module; this file only parses arguments and
//! turns a failure into a one-line message and a non-zero exit.

mod simulate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "portcullis",
    version,
    about = "Portcullis console tool: simulate SIM-guard traces and inspect agent databases"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Replay a scenario trace (JSON Lines) through the real agent and print the alerts it raises.
    Simulate {
        /// The trace file: one `{"at": ..., <event>: {...}}` object per line.
        #[arg(long)]
        scenario: PathBuf,
        /// Keep the agent's database here instead of a temporary file.
        #[arg(long)]
        db: Option<PathBuf>,
        /// A file holding the software device key's secret (at least 16 bytes).
        #[arg(long)]
        device_secret_file: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

/// Output format of `simulate`.
#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Format {
    /// A timeline for a person.
    Text,
    /// One JSON object per alert.
    Jsonl,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Simulate {
            scenario,
            db,
            device_secret_file,
            format,
        } => simulate::run(&scenario, db, device_secret_file, format),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("portcullis: {message}");
            ExitCode::FAILURE
        }
    }
}
