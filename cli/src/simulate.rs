//! `portcullis simulate`: replay a scenario trace through the real agent.

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
pub(crate) struct Options {
    pub(crate) scenario: PathBuf,
    pub(crate) policy: Option<PathBuf>,
    pub(crate) db: Option<PathBuf>,
    pub(crate) device_secret_file: Option<PathBuf>,
    pub(crate) trust_root: Option<PathBuf>,
    pub(crate) device: String,
    pub(crate) format: Format,
}

/// Replays the scenario and prints the alerts in the chosen format.
pub(crate) fn run(options: &Options) -> Result<(), String> {
    let scenario = &options.scenario;
    let text = std::fs::read_to_string(scenario)
        .map_err(|e| format!("cannot read {}: {e}", scenario.display()))?;
    let events = trace::parse(&text).map_err(|e| format!("{}: {e}", scenario.display()))?;
    let Some(first) = events.first() else {
        return Err(format!("{}: the trace has no events", scenario.display()));
    };
    let secret = match &options.device_secret_file {
        Some(path) => std::fs::read(path)
            .map_err(|e| format!("cannot read the device secret file {}: {e}", path.display()))?,
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
    let alerts = trace::replay(&mut agent, &events, &mut sign)
        .map_err(|e| format!("{}: {e}", scenario.display()))?;
    match options.format {
        Format::Jsonl => {
            for alert in &alerts {
                println!("{}", alert_json(alert));
            }
        }
        Format::Text => print_timeline(&events, &alerts),
    }
    Ok(())
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

fn print_timeline(events: &[trace::TraceEvent], alerts: &[Alert]) {
    let start = events.first().map(|e| e.at).unwrap_or(Timestamp::EPOCH);
    let end = events.last().map(|e| e.at).unwrap_or(start);
    println!("Replayed {} events from {start} to {end}.", events.len());
    if alerts.is_empty() {
        println!("No alerts.");
        return;
    }
    println!("{} alert(s):", alerts.len());
    for alert in alerts {
        let f = &alert.finding;
        let slot = f.slot.map_or("-".to_owned(), |s| s.to_string());
        println!(
            "  {}  {:<8}  {:<22}  slot {slot}  {}",
            f.at,
            alert.severity.as_str().to_uppercase(),
            f.kind.as_str(),
            f.summary
        );
        let evidence: Vec<String> = f.evidence.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!(
            "      detector {} v{}; {}",
            f.detector,
            f.detector_version,
            evidence.join(", ")
        );
    }
}
