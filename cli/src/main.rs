//! `portcullis`: the console and forensic-kiosk tool.
//!
//! Each subcommand lives in its own module; this file only parses arguments and
//! turns a failure into a one-line message and a non-zero exit.

#![forbid(unsafe_code)]

#[macro_use]
mod out;

mod apple;
mod attest;
mod carrier;
mod collector;
mod common;
mod evaluate;
mod indicators;
mod inspect;
mod instruction;
mod journal;
mod keygen;
mod policy;
mod schedule;
mod sign;
mod sim;
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
    /// Verify Android key attestation chains or iOS App Attest objects (device integrity); exit 1 if refused, 2 on bad input.
    Attest {
        #[command(subcommand)]
        action: attest::AttestAction,
    },
    /// Ask carriers (CAMARA SIM Swap / Device Swap) about the roster's lines; relay signed answers.
    Carrier {
        #[command(subcommand)]
        action: carrier::CarrierAction,
    },
    /// The office's journal collector: take phones' uploads, enroll devices, export, re-verify.
    Collector {
        #[command(subcommand)]
        action: collector::CollectorAction,
    },
    /// Evaluate a device snapshot against a policy: verdicts and requested actions; exit 3 if not compliant, 2 on bad input.
    Evaluate(evaluate::EvaluateArgs),
    /// Sign STIX 2.1 indicator collections into separately signed files for phones, and verify them.
    Indicators {
        #[command(subcommand)]
        action: indicators::IndicatorsAction,
    },
    /// Scan an evidence snapshot against STIX 2.1 indicator bundles; exit 3 on findings, 2 on bad input.
    Inspect(inspect::InspectArgs),
    /// Sign console instructions (SIM-change authorisations, carrier checks, lock, wipe) and check them as a phone would.
    Instruction {
        #[command(subcommand)]
        action: instruction::InstructionAction,
    },
    /// Verify or export an agent's tamper-evident journal.
    Journal {
        #[command(subcommand)]
        action: JournalAction,
    },
    /// Generate an Ed25519 key pair for signing policy bundles or trust roots.
    Keygen(keygen::KeygenArgs),
    /// Sign, verify and check policy bundles; print the policy JSON Schema.
    Policy {
        #[command(subcommand)]
        action: policy::PolicyAction,
    },
    /// Create and sign trust roots: the keys phones trust to sign policy bundles.
    Root {
        #[command(subcommand)]
        action: policy::RootAction,
    },
    /// Preview the inspection windows a policy produces for a device, from a given time.
    Schedule(schedule::ScheduleArgs),
    /// Compute the keyed SIM pins a policy names a phone's expected SIM with.
    Sim {
        #[command(subcommand)]
        action: sim::SimAction,
    },
    /// Replay a scenario trace (JSON Lines) through the real agent and print the alerts it raises.
    Simulate(simulate::Options),
}

#[derive(Subcommand)]
enum JournalAction {
    /// Check the hash chain, MACs and signed checkpoints; exit 1 naming the first broken record.
    Verify {
        /// The agent database (opened read-only).
        #[arg(long)]
        db: PathBuf,
        /// A checkpoint the console stored (JSON), to detect a truncated tail.
        #[arg(long)]
        checkpoint: Option<PathBuf>,
        /// A file with the journal's epoch-0 key (64 hex digits) the console received at enrollment.
        #[arg(long)]
        journal_key: Option<PathBuf>,
    },
    /// Print the records as JSON lines, or the alerts as OCSF Detection Findings.
    Export {
        /// The agent database (opened read-only).
        #[arg(long)]
        db: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = journal::ExportFormat::Jsonl)]
        format: journal::ExportFormat,
        /// The enrolled device id OCSF events name (`device.uid`); by default the one the
        /// journal's trust-root record holds.
        #[arg(long)]
        device_id: Option<String>,
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
        Command::Attest { action } => return attest::run(action),
        Command::Carrier { action } => carrier::run(action),
        Command::Collector { action } => return collector::run(action),
        Command::Evaluate(args) => return evaluate::run(&args),
        Command::Indicators { action } => indicators::run(action),
        Command::Inspect(args) => return inspect::run(&args),
        Command::Instruction { action } => instruction::run(action),
        Command::Journal { action } => match action {
            JournalAction::Verify {
                db,
                checkpoint,
                journal_key,
            } => match journal::verify(&db, checkpoint.as_deref(), journal_key.as_deref()) {
                Ok(true) => Ok(()),
                Ok(false) => return ExitCode::FAILURE,
                Err(e) => Err(e),
            },
            JournalAction::Export {
                db,
                format,
                device_id,
            } => journal::export(&db, format, device_id.as_deref()),
        },
        Command::Keygen(args) => keygen::run(&args),
        Command::Policy { action } => policy::run(action),
        Command::Root { action } => policy::run_root(action),
        Command::Schedule(args) => schedule::run(&args),
        Command::Sim { action } => sim::run(action),
        Command::Simulate(options) => simulate::run(&options),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            out::error(&message);
            ExitCode::FAILURE
        }
    }
}
