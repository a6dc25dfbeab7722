//! `portcullis collector`: the office's journal collector (serve, enroll, export, verify).
//! The work is done by the `portcullis-collector` crate; this module parses arguments.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use portcullis_collector::alerts::AlertSink;
use portcullis_collector::history::{self, ExportFormat};
use portcullis_collector::keys::{read_checkpoint_key, read_journal_key, CollectorKey};
use portcullis_collector::server::{self, Collector, ServeOptions, DEFAULT_MAX_BATCH_BYTES};
use portcullis_collector::store::Store;
use portcullis_collector::{enroll, Error};
use portcullis_core::journal::Verdict;
use portcullis_core::Timestamp;

use crate::common::help_for;

/// `portcullis collector ...`.
#[derive(Subcommand)]
pub(crate) enum CollectorAction {
    /// Take phones' upload batches over HTTP (put TLS in front: docs/collector.md).
    Serve(ServeArgs),
    /// Enroll a device: sign its checkpoint key and seal its journal key into the store.
    Enroll(EnrollArgs),
    /// Print the stored records of every device as JSON lines or OCSF findings.
    Export(ExportArgs),
    /// Re-verify a device's whole stored history; exit 1 naming the first broken record.
    Verify(VerifyArgs),
}

#[derive(Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on, e.g. 127.0.0.1:8443 (port 0: any free port, printed).
    #[arg(long)]
    bind: std::net::SocketAddr,
    /// sqlite:PATH or postgres:URL.
    #[arg(long)]
    store: String,
    /// The collector's private key (PEM, from `portcullis keygen`): signs receipts.
    #[arg(long)]
    key: PathBuf,
    /// Append alerts (OCSF Detection Findings, one per line) to this file.
    #[arg(long)]
    alerts: Option<PathBuf>,
    /// Also post each alert to this URL.
    #[arg(long)]
    webhook: Option<String>,
    /// The largest batch accepted, in bytes.
    #[arg(long, default_value_t = DEFAULT_MAX_BATCH_BYTES)]
    max_batch_bytes: usize,
    /// How often to look for devices silent longer than their heartbeat, in seconds.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    silence_check_seconds: u64,
}

/// The store, the collector's key and the device that `enroll` and `verify` act on.
/// Each command words the key's and the device's helps (`help_for`).
#[derive(Args)]
pub(crate) struct DeviceInStore {
    /// sqlite:PATH or postgres:URL.
    #[arg(long)]
    store: String,
    /// The collector's private key (PEM).
    #[arg(long)]
    key: PathBuf,
    /// The device.
    #[arg(long)]
    device: String,
}

#[derive(Args)]
#[command(
    mut_args(help_for(
        "key",
        "The collector's private key (PEM): signs the enrollment and seals the journal key"
    )),
    mut_args(help_for(
        "device",
        "The device id the phone uploads as (derived from its checkpoint key)"
    ))
)]
pub(crate) struct EnrollArgs {
    #[command(flatten)]
    at: DeviceInStore,
    /// The phone's checkpoint public key: 64 hex digits, or a file with them or a PEM.
    #[arg(long)]
    checkpoint_key: String,
    /// A file with the journal's epoch-0 key (64 hex digits) from the enrollment hand-off.
    #[arg(long)]
    journal_key_file: PathBuf,
    /// Alert when the device has not uploaded for this long.
    #[arg(long, default_value_t = 1440, value_parser = clap::value_parser!(u64).range(1..))]
    heartbeat_minutes: u64,
}

#[derive(Args)]
pub(crate) struct ExportArgs {
    /// sqlite:PATH or postgres:URL.
    #[arg(long)]
    store: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Jsonl)]
    format: FormatArg,
    /// Only records made at or after this time (RFC 3339, e.g. 2026-03-01T00:00:00Z).
    #[arg(long)]
    since: Option<String>,
}

#[derive(Args)]
#[command(
    mut_args(help_for(
        "key",
        "The collector's private key (PEM): opens the device's journal key"
    )),
    mut_args(help_for("device", "The device to verify"))
)]
pub(crate) struct VerifyArgs {
    #[command(flatten)]
    at: DeviceInStore,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum FormatArg {
    /// One JSON object per record, with its device.
    Jsonl,
    /// Alerts as OCSF Detection Findings (class 2004), one per line.
    Ocsf,
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

fn text(e: Error) -> String {
    format!("collector: {e}")
}

/// Runs a `collector` subcommand.
pub(crate) fn run(action: CollectorAction) -> ExitCode {
    let result = match action {
        CollectorAction::Serve(args) => serve(args),
        CollectorAction::Enroll(args) => enroll_device(args),
        CollectorAction::Export(args) => export(args),
        CollectorAction::Verify(args) => return verify(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("portcullis: {e}");
            ExitCode::from(2)
        }
    }
}

fn serve(args: ServeArgs) -> Result<(), String> {
    let key = CollectorKey::read(&args.key).map_err(text)?;
    let alerts = AlertSink::new(args.alerts.as_deref(), args.webhook).map_err(text)?;
    runtime()?.block_on(async {
        let store = Store::open(&args.store).await.map_err(text)?;
        let collector = Arc::new(Collector::new(store, key, alerts, args.max_batch_bytes));
        server::serve(
            collector,
            ServeOptions {
                bind: args.bind,
                silence_check: Duration::from_secs(args.silence_check_seconds),
            },
        )
        .await
        .map_err(text)
    })
}

fn enroll_device(args: EnrollArgs) -> Result<(), String> {
    let key = CollectorKey::read(&args.at.key).map_err(text)?;
    let checkpoint_key = read_checkpoint_key(&args.checkpoint_key).map_err(text)?;
    let journal_key = read_journal_key(&args.journal_key_file).map_err(text)?;
    runtime()?.block_on(async {
        let store = Store::open(&args.at.store).await.map_err(text)?;
        let enrollment = enroll::enroll(
            &store,
            &key,
            &args.at.device,
            checkpoint_key,
            journal_key,
            args.heartbeat_minutes.saturating_mul(60),
            portcullis_collector::now_millis(),
        )
        .await
        .map_err(text);
        store.close().await;
        let enrollment = enrollment?;
        outln!("enrolled device {}", enrollment.device_id);
        outln!("journal key check: {}", enrollment.journal_key_check);
        Ok(())
    })
}

fn export(args: ExportArgs) -> Result<(), String> {
    let since = match &args.since {
        Some(t) => Timestamp::parse_rfc3339(t)
            .ok_or("collector export: --since must be an RFC 3339 time, e.g. 2026-03-01T00:00:00Z")?
            .as_unix_millis(),
        None => i64::MIN,
    };
    let format = match args.format {
        FormatArg::Jsonl => ExportFormat::Jsonl,
        FormatArg::Ocsf => ExportFormat::Ocsf,
    };
    runtime()?.block_on(async {
        let store = Store::open(&args.store).await.map_err(text)?;
        let result = history::export(&store, format, since, |value| {
            crate::out::json(value);
            Ok(())
        })
        .await;
        store.close().await;
        result.map(|_| ()).map_err(text)
    })
}

fn verify(args: VerifyArgs) -> ExitCode {
    let run = || -> Result<bool, String> {
        let key = CollectorKey::read(&args.at.key).map_err(text)?;
        runtime()?.block_on(async {
            let store = Store::open(&args.at.store).await.map_err(text)?;
            let result = history::verify_device(&store, &key, &args.at.device).await;
            store.close().await;
            let verdict = result.map_err(text)?;
            // Only an intact history starts after a checkpoint that verified.
            if verdict.first_seq > 1 && matches!(verdict.verdict, Verdict::Intact { .. }) {
                outln!(
                    "starts at record {}, after the signed checkpoint at record {} (earlier records were pruned before they reached the collector, or removed under retention)",
                    verdict.first_seq,
                    verdict.first_seq - 1
                );
            }
            // The collector always holds the enrolled key, so MACs are always checked.
            crate::journal::report(&verdict.verdict, "not checked");
            if let Some(m) = &verdict.cursor_mismatch {
                outln!("BROKEN: {m}");
            }
            if verdict.is_intact() {
                outln!("intact");
            }
            Ok(verdict.is_intact())
        })
    };
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("portcullis: {e}");
            ExitCode::from(2)
        }
    }
}
