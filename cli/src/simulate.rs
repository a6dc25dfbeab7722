//! `portcullis simulate`: replay a scenario trace through the real agent.

use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ring::rand::{SecureRandom, SystemRandom};

use portcullis_core::policy::{
    BundlePayload, BundleScope, DeviceScope, PinKey, Policy, SigningKey, TrustRoot,
};
use portcullis_core::trace::{Shorthand, SimulatorSigner};
use portcullis_core::{trace, Agent, Alert, SoftwareDeviceKey, Timestamp};

use crate::Format;

/// The secret the simulator's software device key uses unless `--device-secret-file` is given.
/// Simulated databases are test material; never enroll a real device with it.
const SIMULATOR_SECRET: &[u8] = b"portcullis simulator device key (not for real devices)";

/// What `portcullis simulate` was asked to do.
#[derive(clap::Args)]
pub(crate) struct Options {
    /// The trace file: one `{"at": ..., <event>: {...}}` object per line.
    #[arg(long)]
    pub(crate) scenario: PathBuf,
    /// A policy document (JSON) to put in force first; without it the built-in baseline SIM rules apply.
    #[arg(long)]
    pub(crate) policy: Option<PathBuf>,
    /// Keep the agent's database here instead of a temporary file.
    #[arg(long)]
    pub(crate) db: Option<PathBuf>,
    /// A file holding the software device key's secret (at least 16 bytes).
    #[arg(long)]
    pub(crate) device_secret_file: Option<PathBuf>,
    /// Enroll the simulated device with this signed trust root instead of the
    /// simulator's own (then `instruction` lines must be signed under it, and the
    /// `authorize_sim_change`/`carrier_check` shorthands are refused like forgeries).
    #[arg(long)]
    pub(crate) trust_root: Option<PathBuf>,
    /// The simulated device's id, which instructions' scopes must name.
    #[arg(long, default_value = "simulated-device")]
    pub(crate) device: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,
    /// Sign a journal checkpoint after every N trace events, as a device does when it
    /// reports to the console (without it the database holds no checkpoints).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) checkpoint_every: Option<u64>,
    /// Write the last checkpoint here (JSON), as the console stores it for
    /// `journal verify --checkpoint`; checkpoints the end of the trace if needed.
    #[arg(long, value_name = "FILE")]
    pub(crate) checkpoint_out: Option<PathBuf>,
    /// Also print how often the agent asked to be woken: for the re-read cadence, and
    /// for everything else (timers, windows, retries), in total and per day.
    #[arg(long)]
    pub(crate) wakeups: bool,
    /// An evidence snapshot (docs/evidence.schema.json) submitted whenever a wake-up
    /// opens an inspection window, as a phone carrying out its inspections does;
    /// without it, windows are missed and make-up windows follow.
    #[arg(long, value_name = "FILE")]
    pub(crate) inspect_with: Option<PathBuf>,
}

/// Replays the scenario and prints the alerts in the chosen format.
///
/// The trace is streamed: one line is read, parsed and replayed at a time, and each
/// alert is printed (JSON Lines) or spooled to a temporary file (the text timeline,
/// whose header counts what follows) as it is raised, so memory does not grow with the
/// trace. Lines are never longer than `trace::MAX_LINE_BYTES`.
pub(crate) fn run(options: &Options) -> Result<(), String> {
    let scenario = &options.scenario;
    let in_trace = |e: portcullis_core::Error| format!("{}: {e}", scenario.display());
    let file = std::fs::File::open(scenario)
        .map_err(|e| format!("cannot read {}: {e}", scenario.display()))?;
    let mut events = trace::TraceReader::new(BufReader::new(file));
    let Some(first) = events.next().transpose().map_err(in_trace)? else {
        return Err(format!("{}: the trace has no events", scenario.display()));
    };
    let secret = match &options.device_secret_file {
        // The file's name is not repeated: it might be the secret itself.
        Some(path) => std::fs::read(path)
            .map_err(|e| format!("cannot read the --device-secret-file ({})", e.kind()))?,
        None => SIMULATOR_SECRET.to_vec(),
    };
    let key = Arc::new(SoftwareDeviceKey::new(&secret).map_err(|e| e.to_string())?);
    let pin_key = PinKey::new(&PinKey::derive(key.as_ref()).map_err(|e| e.to_string())?);
    let mut entropy = [0u8; 32];
    SystemRandom::new()
        .fill(&mut entropy)
        .map_err(|_| "the system random generator failed".to_owned())?;
    let tempdir;
    let db_path = match &options.db {
        Some(path) => path.clone(),
        None => {
            tempdir = tempfile::tempdir()
                .map_err(|e| format!("cannot create a temporary folder: {e}"))?;
            crate::out::remove_on_early_exit(tempdir.path().to_owned());
            tempdir.path().join("agent.db")
        }
    };
    let mut agent = Agent::open(&db_path, key, first.at, entropy)
        .map_err(|e| format!("cannot open the agent database {}: {e}", db_path.display()))?;
    let simulator_key = simulator_key(&secret)?;
    enroll(&mut agent, options, &simulator_key, first.at)?;
    if let Some(path) = &options.policy {
        if options.trust_root.is_some() {
            return Err(
                "--policy signs the document under the simulator's own root, which --trust-root replaces; leave one out"
                    .into(),
            );
        }
        apply_policy_file(&mut agent, path, &simulator_key, &options.device, first.at)?;
    }
    let signer = SimulatorSigner::new(simulator_key, pin_key, &options.device);
    let mut sign = |shorthand: Shorthand<'_>, at: Timestamp| signer.sign(shorthand, at);
    let mut timeline = match options.format {
        Format::Text => Some(Spool::new()?),
        Format::Jsonl => None,
    };
    let mut summary = Summary {
        events: 0,
        start: first.at,
        end: first.at,
        alerts: 0,
    };
    let mut checkpoint = None;
    let mut alerts = Vec::new();
    let mut tally = trace::WakeupTally::default();
    let evidence = match &options.inspect_with {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
        ),
        None => None,
    };
    let mut next = Some(first);
    while let Some(ev) = next.take() {
        alerts.clear();
        trace::replay_event_counted(
            &mut agent,
            &ev,
            &mut sign,
            &mut alerts,
            &mut tally,
            evidence.as_deref(),
        )
        .map_err(in_trace)?;
        summary.events += 1;
        summary.end = ev.at;
        for alert in &alerts {
            summary.alerts += 1;
            match &mut timeline {
                Some(spool) => spool.alert(alert)?,
                None => crate::out::json(&alert_json(alert)),
            }
        }
        if options
            .checkpoint_every
            .is_some_and(|n| summary.events.is_multiple_of(n))
        {
            checkpoint = Some(
                agent
                    .checkpoint(ev.at)
                    .map_err(|e| format!("cannot checkpoint the journal: {e}"))?,
            );
        }
        next = events.next().transpose().map_err(in_trace)?;
    }
    if let Some(path) = &options.checkpoint_out {
        let cp = match checkpoint {
            Some(cp) => cp,
            None => agent
                .checkpoint(summary.end)
                .map_err(|e| format!("cannot checkpoint the journal: {e}"))?,
        };
        let json = serde_json::to_string_pretty(&cp).map_err(|e| e.to_string())?;
        std::fs::write(path, json + "\n")
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    if let Some(spool) = timeline {
        spool.print(&summary)?;
    }
    if options.wakeups {
        print_wakeups(&summary, tally, options.format);
    }
    Ok(())
}

/// The wake-ups the replay asked for, in total and per day of the trace.
fn print_wakeups(summary: &Summary, tally: trace::WakeupTally, format: Format) {
    let days = summary.end.millis_since(summary.start) as f64 / 86_400_000.0;
    let per_day = |n: u64| if days > 0.0 { n as f64 / days } else { 0.0 };
    match format {
        Format::Text => outln!(
            "Wake-ups over {days:.1} days: {} for the re-read cadence ({:.1} a day), {} extra ({:.2} a day).",
            tally.reread,
            per_day(tally.reread),
            tally.extra,
            per_day(tally.extra)
        ),
        Format::Jsonl => crate::out::json(&serde_json::json!({
            "wakeups": {
                "days": days,
                "reread": tally.reread,
                "extra": tally.extra,
                "rereadPerDay": per_day(tally.reread),
                "extraPerDay": per_day(tally.extra),
            }
        })),
    }
}

/// What the text timeline's header says.
struct Summary {
    events: u64,
    start: Timestamp,
    end: Timestamp,
    alerts: u64,
}

/// The text timeline's alert lines, kept on disk until the header (which counts them)
/// has been printed.
struct Spool {
    file: std::io::BufWriter<std::fs::File>,
}

impl Spool {
    fn new() -> Result<Self, String> {
        let file =
            tempfile::tempfile().map_err(|e| format!("cannot create a temporary file: {e}"))?;
        Ok(Spool {
            file: std::io::BufWriter::new(file),
        })
    }

    fn alert(&mut self, alert: &Alert) -> Result<(), String> {
        let f = &alert.finding;
        let slot = f.slot.map_or("-".to_owned(), |s| s.to_string());
        let evidence: Vec<String> = f.evidence.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let lines = [
            format!(
                "  {}  {:<8}  {:<22}  slot {slot}  {}",
                f.at,
                alert.severity.as_str().to_uppercase(),
                f.kind.as_str(),
                f.summary
            ),
            format!(
                "      detector {} v{}; {}",
                f.detector,
                f.detector_version,
                evidence.join(", ")
            ),
        ];
        for line in lines {
            // Escaped as it is spooled: the summary and evidence may come from inputs.
            writeln!(self.file, "{}", crate::out::escape(&line))
                .map_err(|e| format!("cannot write a temporary file: {e}"))?;
        }
        Ok(())
    }

    fn print(self, summary: &Summary) -> Result<(), String> {
        let spooled = |e: std::io::Error| format!("cannot read a temporary file: {e}");
        outln!(
            "Replayed {} events from {} to {}.",
            summary.events,
            summary.start,
            summary.end
        );
        if summary.alerts == 0 {
            outln!("No alerts.");
            return Ok(());
        }
        outln!("{} alert(s):", summary.alerts);
        let mut file = self
            .file
            .into_inner()
            .map_err(|e| spooled(e.into_error()))?;
        file.seek(SeekFrom::Start(0)).map_err(spooled)?;
        for line in BufReader::new(file).lines() {
            // Already escaped.
            crate::out::raw(&(line.map_err(spooled)? + "\n"));
        }
        Ok(())
    }
}

/// The simulator's signing key, derived from the device secret so a kept `--db`
/// accepts later runs. It holds every role of the simulator's root.
fn simulator_key(secret: &[u8]) -> Result<SigningKey, String> {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(b"portcullis simulator policy key\0");
    ctx.update(secret);
    let seed: [u8; 32] = ctx
        .finish()
        .as_ref()
        .try_into()
        .expect("SHA-256 is 32 bytes");
    SigningKey::from_seed(&seed).map_err(|e| e.to_string())
}

/// Enrolls the simulated device as a phone is enrolled: with `--trust-root`, or with
/// the simulator's own root. A kept database is already enrolled.
fn enroll(
    agent: &mut Agent,
    options: &Options,
    simulator_key: &SigningKey,
    at: Timestamp,
) -> Result<(), String> {
    if agent.trust_root_installed() {
        return Ok(());
    }
    let root = match &options.trust_root {
        Some(path) => std::fs::read(path)
            .map_err(|e| format!("cannot read the trust root {}: {e}", path.display()))?,
        None => TrustRoot::single_key(simulator_key.public_key(), "portcullis simulator")
            .sign(&[simulator_key])
            .map_err(|e| e.to_string())?,
    };
    let scope = DeviceScope {
        device_id: options.device.clone(),
        groups: Vec::new(),
    };
    agent
        .install_trust_root(&root, scope, at)
        .map_err(|e| match &options.trust_root {
            Some(path) => format!("cannot install the trust root {}: {e}", path.display()),
            None => format!("cannot install the simulator trust root: {e}"),
        })
}

/// Puts a plain policy document in force the way a phone receives one: signed into a
/// bundle under the simulator's root. The bundle version is the trace's start time, so
/// a later trace supersedes an earlier one.
fn apply_policy_file(
    agent: &mut Agent,
    path: &Path,
    key: &SigningKey,
    device: &str,
    at: Timestamp,
) -> Result<(), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let policy = Policy::from_json(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    let payload = BundlePayload {
        version: u64::try_from(at.as_unix_millis()).unwrap_or(1).max(1),
        root_version: 1,
        issued_at: at,
        expires: at.plus_millis(365 * 24 * 3_600_000),
        scope: BundleScope {
            devices: vec![device.to_owned()],
            groups: Vec::new(),
        },
        policy,
    };
    let bundle = payload.sign(&[key]).map_err(|e| e.to_string())?;
    agent
        .apply_policy(&bundle, at)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(())
}

fn alert_json(alert: &Alert) -> serde_json::Value {
    let evidence: serde_json::Map<String, serde_json::Value> = alert
        .finding
        .evidence
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    serde_json::json!({
        "id": alert.id,
        "at": alert.finding.at,
        "kind": alert.finding.kind.as_str(),
        "severity": alert.severity.as_str(),
        "slot": alert.finding.slot,
        "detector": alert.finding.detector,
        "detector_version": alert.finding.detector_version,
        "summary": alert.finding.summary,
        "evidence": evidence,
    })
}
