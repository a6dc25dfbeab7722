//! `portcullis carrier`: the console-side carrier watch. Argument parsing only; the
//! network code is in the `portcullis-carrier` crate.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use portcullis_carrier::output::AlertSink;
use portcullis_carrier::run::{parse_duration, RunOptions};
use portcullis_carrier::{Roster, Watch, WatchConfig};

use crate::keygen::read_private;

#[derive(Subcommand)]
pub(crate) enum CarrierAction {
    /// Check every roster line with its carrier; alert on new swaps; write signed instructions.
    Watch(WatchArgs),
    /// Receive the carriers' SIM swap notifications (CloudEvents) and act as a poll would.
    Listen(ListenArgs),
    /// Create or renew the SIM Swap Subscriptions that send notifications to `listen`.
    Subscribe(SubscribeArgs),
}

/// What every carrier command shares.
#[derive(Args)]
pub(crate) struct Common {
    /// The roster (TOML): lines, carriers, credentials references.
    #[arg(long)]
    roster: PathBuf,
    /// Folder for the signed instructions (and, by default, the state file).
    #[arg(long)]
    out: PathBuf,
    /// The operations role's private key (PEM, as `portcullis keygen` writes it).
    #[arg(long)]
    operations_key: PathBuf,
    /// The state file (last change seen per line, instruction sequences).
    #[arg(long)]
    state: Option<PathBuf>,
    /// Append alerts (OCSF Detection Findings, JSON Lines) to this file instead of standard output.
    #[arg(long)]
    alerts_out: Option<PathBuf>,
    /// Time limit for one request to a carrier, e.g. 20s.
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    timeout: std::time::Duration,
}

#[derive(Args)]
pub(crate) struct WatchArgs {
    #[command(flatten)]
    common: Common,
    /// One pass, then exit.
    #[arg(long)]
    once: bool,
    /// Time between passes, e.g. 15m.
    #[arg(long, default_value = "15m", value_parser = parse_duration)]
    interval: std::time::Duration,
    /// Phone alerts the MDM collected (JSON Lines); lines they flag are checked at once.
    #[arg(long)]
    alerts: Option<PathBuf>,
}

#[derive(Args)]
pub(crate) struct ListenArgs {
    #[command(flatten)]
    common: Common,
    /// Address to listen on, e.g. 127.0.0.1:8443 behind the TLS-terminating proxy.
    #[arg(long)]
    bind: std::net::SocketAddr,
}

#[derive(Args)]
pub(crate) struct SubscribeArgs {
    /// The roster (TOML) with a `[listen]` table.
    #[arg(long)]
    roster: PathBuf,
    /// The folder `listen` uses; the subscriptions are recorded there.
    #[arg(long)]
    out: PathBuf,
    /// Time limit for one request to a carrier, e.g. 20s.
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    timeout: std::time::Duration,
}

fn watch_for(common: &Common) -> Result<Watch, String> {
    let roster = Roster::load(&common.roster).map_err(|e| e.to_string())?;
    let key = read_private(&common.operations_key)?;
    let mut config = WatchConfig::new(common.out.clone());
    if let Some(state) = &common.state {
        config.state_path = state.clone();
    }
    config.http.timeout = common.timeout;
    let sink = match &common.alerts_out {
        Some(path) => AlertSink::file(path).map_err(|e| e.to_string())?,
        None => AlertSink::stdout(),
    };
    Watch::new(
        roster,
        key,
        config,
        sink,
        portcullis_carrier::watch::system_clock(),
    )
    .map_err(|e| e.to_string())
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

pub(crate) fn run(action: CarrierAction) -> Result<(), String> {
    match action {
        CarrierAction::Watch(args) => {
            let rt = runtime()?;
            let options = RunOptions {
                once: args.once,
                interval: args.interval,
                alerts: args.alerts,
            };
            rt.block_on(async {
                let watch = watch_for(&args.common)?;
                portcullis_carrier::run::run_watch(watch, options)
                    .await
                    .map_err(|e| e.to_string())
            })
        }
        CarrierAction::Listen(args) => {
            let rt = runtime()?;
            rt.block_on(async {
                let watch = watch_for(&args.common)?;
                portcullis_carrier::listen::run_listen(watch, args.common.out.clone(), args.bind)
                    .await
                    .map_err(|e| e.to_string())
            })
        }
        CarrierAction::Subscribe(args) => {
            let rt = runtime()?;
            rt.block_on(async {
                let roster = Roster::load(&args.roster).map_err(|e| e.to_string())?;
                let http = portcullis_carrier::http::HttpConfig {
                    timeout: args.timeout,
                    ..Default::default()
                };
                let report = portcullis_carrier::subscribe::subscribe(
                    &roster,
                    &args.out,
                    http,
                    portcullis_carrier::watch::system_clock(),
                )
                .await
                .map_err(|e| e.to_string())?;
                portcullis_carrier::subscribe::print_report(&report);
                if report.failures.is_empty() {
                    Ok(())
                } else {
                    Err(format!("{} subscription(s) failed", report.failures.len()))
                }
            })
        }
    }
}
