//! Device telemetry: the network and security logs a device-owner app receives from the
//! platform (Android `DevicePolicyManager` network and security logging), as typed
//! records the agent matches against indicators as they arrive.
//!
//! A [`TelemetryBatch`] holds what one platform callback delivered: DNS lookups and
//! connections with the package that made them, and security-log events (adb, process
//! starts, CA installs, unlock attempts, boot state, media mounts, radio connections,
//! wipe failures). [`TelemetryBatch::validate`] refuses malformed input naming the
//! event and field, never the value; [`TelemetryBatch::from_json`] and
//! [`TelemetryBatch::from_jsonl`] read the JSON forms (the agent's own export and a
//! kiosk's offline file). The living-off-the-land detectors are in [`detectors`].

pub mod detectors;

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::inspection::evidence::{Contact, File, Package, Process};
use crate::inspection::stix::{normalize_digest, HashAlgorithm};
use crate::inspection::EvidenceSnapshot;
use crate::time::Timestamp;

/// The most events one batch may carry. Android hands network logs over in batches of
/// about 1,200 and security logs in similar runs; anything far larger is not a platform batch.
pub const MAX_BATCH_EVENTS: usize = 5_000;
/// The most resolved addresses one DNS event may carry.
pub const MAX_DNS_ADDRESSES: usize = 64;
/// The longest host name (RFC 1035 limit).
pub const MAX_HOST_BYTES: usize = 253;
/// The longest package or process name.
pub const MAX_NAME_BYTES: usize = 255;
/// The longest free-text field (paths, certificate subjects, adb commands).
pub const MAX_TEXT_BYTES: usize = 4_096;
/// The source name network events carry when they become evidence.
pub const NETWORK_LOG_SOURCE: &str = "network_log";

/// What one platform callback delivered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetryBatch {
    /// The events, in the order the platform gave them.
    pub events: Vec<TelemetryEvent>,
}

/// One logged event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TelemetryEvent {
    /// A DNS lookup (Android `DnsEvent`).
    Dns(DnsEvent),
    /// An outgoing connection (Android `ConnectEvent`).
    Connect(ConnectEvent),
    /// A security-log entry (Android `SecurityEvent`).
    Security(SecurityEvent),
}

impl TelemetryEvent {
    /// When the event happened.
    pub fn at(&self) -> Timestamp {
        match self {
            TelemetryEvent::Dns(e) => e.at,
            TelemetryEvent::Connect(e) => e.at,
            TelemetryEvent::Security(e) => e.at,
        }
    }
}

/// A DNS lookup: the host, what it resolved to, and the package that asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsEvent {
    /// When the lookup happened.
    pub at: Timestamp,
    /// The package that made it.
    pub package: String,
    /// The host name looked up.
    pub host: String,
    /// The addresses it resolved to (Android reports at most ten).
    #[serde(default)]
    pub addresses: Vec<IpAddr>,
}

/// An outgoing TCP connection: the address and port, and the package that made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectEvent {
    /// When the connection was made.
    pub at: Timestamp,
    /// The package that made it.
    pub package: String,
    /// The remote address.
    pub address: IpAddr,
    /// The remote port.
    pub port: u16,
}

/// A security-log entry: when, and what (by Android security-log tag).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityEvent {
    /// When the event was logged.
    pub at: Timestamp,
    /// What happened.
    pub event: SecurityEventKind,
}

/// The security-log tags the agent reads, each with its fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "tag", rename_all = "snake_case", deny_unknown_fields)]
pub enum SecurityEventKind {
    /// `TAG_ADB_SHELL_CMD`: a command run through `adb shell`. The command is read only
    /// for its length; it is never stored or repeated.
    AdbShellCommand {
        /// The command line as logged.
        command: String,
    },
    /// `TAG_ADB_SHELL_INTERACTIVE`: an interactive `adb shell` was opened.
    AdbShellInteractive,
    /// `TAG_SYNC_RECV_FILE`: a file was pulled off the phone over adb.
    AdbFilePulled {
        /// The file's path on the phone.
        path: String,
    },
    /// `TAG_APP_PROCESS_START`: an app process started.
    AppProcessStart {
        /// The process name.
        process: String,
        /// The package, where the platform resolved it (otherwise the process name).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        package: Option<String>,
        /// SHA-256 of the APK the process runs (hex).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        apk_sha256: Option<String>,
    },
    /// `TAG_CERT_AUTHORITY_INSTALLED`: a CA certificate was added to the user trust store.
    CertAuthorityInstalled {
        /// Whether the install succeeded.
        success: bool,
        /// The certificate's subject, for the report.
        subject: String,
        /// SHA-256 of the DER certificate, when the agent could read it from the store.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sha256: Option<String>,
    },
    /// `TAG_KEYGUARD_DISMISS_AUTH_ATTEMPT`: an attempt to unlock the lock screen.
    KeyguardAuthAttempt {
        /// Whether it unlocked.
        success: bool,
    },
    /// `TAG_OS_STARTUP`: the OS started, with its verified-boot state.
    OsStartup {
        /// The verified-boot state.
        verified_boot_state: BootState,
        /// dm-verity's mode.
        dm_verity: DmVerity,
    },
    /// `TAG_MEDIA_MOUNT`: removable media was mounted.
    MediaMount {
        /// The mount point.
        mount_point: String,
    },
    /// `TAG_WIFI_CONNECTION`: the phone joined a Wi-Fi network (counted only).
    WifiConnection,
    /// `TAG_BLUETOOTH_CONNECTION`: a Bluetooth device connected (counted only).
    BluetoothConnection {
        /// Whether the connection succeeded.
        success: bool,
    },
    /// `TAG_WIPE_FAILURE`: a requested wipe failed (counted only; the outcome of a wipe
    /// the agent asked for arrives through `report_action_outcome`).
    WipeFailure,
}

/// Android's verified-boot states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BootState {
    /// Locked bootloader, OS signed by the OEM.
    Green,
    /// Locked bootloader, OS signed by a user-installed key.
    Yellow,
    /// Unlocked bootloader: the OS is not verified.
    Orange,
    /// Verification failed.
    Red,
}

/// dm-verity's modes as the security log reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DmVerity {
    /// Corruption is refused.
    Enforcing,
    /// Corruption returns I/O errors (logging mode).
    Eio,
    /// Off.
    Disabled,
}

fn bad(index: usize, field: &str, problem: &str) -> Error {
    Error::invalid("telemetry", format!("events[{index}].{field} {problem}"))
}

/// Names: non-empty, bounded, printable ASCII without spaces (package and process
/// names, host names).
fn check_name(index: usize, field: &str, value: &str, max: usize) -> Result<()> {
    if value.trim().is_empty() {
        return Err(bad(index, field, "is empty"));
    }
    if value.len() > max {
        return Err(bad(index, field, &format!("is longer than {max} bytes")));
    }
    if !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad(
            index,
            field,
            "holds characters other than printable ASCII without spaces",
        ));
    }
    Ok(())
}

fn check_text(index: usize, field: &str, value: &str) -> Result<()> {
    if value.len() > MAX_TEXT_BYTES {
        return Err(bad(
            index,
            field,
            &format!("is longer than {MAX_TEXT_BYTES} bytes"),
        ));
    }
    Ok(())
}

fn check_sha256(index: usize, field: &str, value: &Option<String>) -> Result<()> {
    match value {
        Some(v) if normalize_digest(HashAlgorithm::Sha256, v).is_none() => {
            Err(bad(index, field, "is not 64 hex digits"))
        }
        _ => Ok(()),
    }
}

impl TelemetryBatch {
    /// Reads a batch from its JSON form (`{"events": [...]}`) and validates it.
    pub fn from_json(json: &str) -> Result<Self> {
        let batch: TelemetryBatch = crate::json::from_str(json)
            .map_err(|e| Error::invalid("telemetry", crate::json::describe(&e)))?;
        batch.validate()?;
        Ok(batch)
    }

    /// Reads JSON Lines, one event per line (blank lines skipped), as a forensic kiosk
    /// reads an export; errors name the line. The size bound applies per batch, so a
    /// long file is read with [`TelemetryBatch::from_jsonl_chunks`].
    pub fn from_jsonl(text: &str) -> Result<Self> {
        let mut chunks = Self::from_jsonl_chunks(text, usize::MAX)?;
        let batch = chunks.pop().unwrap_or_default();
        batch.validate()?;
        Ok(batch)
    }

    /// Reads JSON Lines into batches of at most `chunk` events each (at least one).
    pub fn from_jsonl_chunks(text: &str, chunk: usize) -> Result<Vec<Self>> {
        let chunk = chunk.max(1);
        let mut batches = vec![TelemetryBatch::default()];
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let event: TelemetryEvent = crate::json::from_str(line).map_err(|e| {
                Error::invalid(
                    "telemetry",
                    format!("line {}: {}", n + 1, crate::json::describe(&e)),
                )
            })?;
            let last = batches.last_mut().expect("never empty");
            if last.events.len() == chunk {
                batches.push(TelemetryBatch {
                    events: vec![event],
                });
            } else {
                last.events.push(event);
            }
        }
        if chunk != usize::MAX {
            for batch in &batches {
                batch.validate()?;
            }
        }
        Ok(batches)
    }

    /// Checks what types cannot: the batch size, names and text bounds, digests.
    /// Errors name the event's position and field, never its value.
    pub fn validate(&self) -> Result<()> {
        if self.events.len() > MAX_BATCH_EVENTS {
            return Err(Error::invalid(
                "telemetry",
                format!(
                    "a batch holds at most {MAX_BATCH_EVENTS} events, this one {}",
                    self.events.len()
                ),
            ));
        }
        for (i, event) in self.events.iter().enumerate() {
            match event {
                TelemetryEvent::Dns(e) => {
                    check_name(i, "package", &e.package, MAX_NAME_BYTES)?;
                    check_name(i, "host", &e.host, MAX_HOST_BYTES)?;
                    if e.addresses.len() > MAX_DNS_ADDRESSES {
                        return Err(bad(
                            i,
                            "addresses",
                            &format!("holds more than {MAX_DNS_ADDRESSES} addresses"),
                        ));
                    }
                }
                TelemetryEvent::Connect(e) => {
                    check_name(i, "package", &e.package, MAX_NAME_BYTES)?;
                }
                TelemetryEvent::Security(e) => match &e.event {
                    SecurityEventKind::AdbShellCommand { command } => {
                        check_text(i, "command", command)?;
                    }
                    SecurityEventKind::AdbFilePulled { path } => {
                        if path.trim().is_empty() {
                            return Err(bad(i, "path", "is empty"));
                        }
                        check_text(i, "path", path)?;
                    }
                    SecurityEventKind::AppProcessStart {
                        process,
                        package,
                        apk_sha256,
                    } => {
                        check_name(i, "process", process, MAX_NAME_BYTES)?;
                        if let Some(p) = package {
                            check_name(i, "package", p, MAX_NAME_BYTES)?;
                        }
                        check_sha256(i, "apk_sha256", apk_sha256)?;
                    }
                    SecurityEventKind::CertAuthorityInstalled {
                        subject, sha256, ..
                    } => {
                        check_text(i, "subject", subject)?;
                        check_sha256(i, "sha256", sha256)?;
                    }
                    SecurityEventKind::MediaMount { mount_point } => {
                        check_text(i, "mount_point", mount_point)?;
                    }
                    SecurityEventKind::AdbShellInteractive
                    | SecurityEventKind::KeyguardAuthAttempt { .. }
                    | SecurityEventKind::OsStartup { .. }
                    | SecurityEventKind::WifiConnection
                    | SecurityEventKind::BluetoothConnection { .. }
                    | SecurityEventKind::WipeFailure => {}
                },
            }
        }
        Ok(())
    }

    /// Counts per event family, for the batch's journal record.
    pub fn counts(&self) -> BatchCounts {
        let mut counts = BatchCounts::default();
        for event in &self.events {
            match event {
                TelemetryEvent::Dns(_) => counts.dns += 1,
                TelemetryEvent::Connect(_) => counts.connect += 1,
                TelemetryEvent::Security(_) => counts.security += 1,
            }
        }
        counts
    }
}

/// How many events of each family a batch held.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct BatchCounts {
    /// DNS lookups.
    pub dns: usize,
    /// Connections.
    pub connect: usize,
    /// Security-log entries.
    pub security: usize,
}

/// A batch's events as an evidence snapshot, and where each evidence item came from.
///
/// Matching goes through [`crate::inspection::IndicatorSet::scan`] on this snapshot, so
/// streamed events match with exactly the rules of an inspection: hosts and their parent
/// domains, addresses by value, APK hashes as file hashes, packages as app ids.
#[derive(Debug, Clone, Default)]
pub struct BatchEvidence {
    /// The snapshot: `domains` and `ip_addresses` with source `network_log`, and for
    /// process starts `packages`, `processes` and `files` (the APK by hash).
    pub snapshot: EvidenceSnapshot,
    /// For each `domains` item, the event it came from.
    pub domain_events: Vec<usize>,
    /// For each `ip_addresses` item, the event it came from.
    pub address_events: Vec<usize>,
    /// For each `packages` item, the event it came from.
    pub package_events: Vec<usize>,
    /// For each `processes` item, the event it came from.
    pub process_events: Vec<usize>,
    /// For each `files` item, the event it came from.
    pub file_events: Vec<usize>,
}

impl BatchEvidence {
    /// Builds the snapshot of `batch`.
    pub fn of(batch: &TelemetryBatch) -> Self {
        Self::build(batch, true)
    }

    /// Builds the snapshot of the batch's process starts only (`packages`, `processes`
    /// and `files`, numbered as in [`BatchEvidence::of`]): ingest matches the network
    /// events one by one instead ([`crate::inspection::NetworkMatcher`]).
    pub fn of_processes(batch: &TelemetryBatch) -> Self {
        Self::build(batch, false)
    }

    fn build(batch: &TelemetryBatch, network: bool) -> Self {
        let mut out = BatchEvidence::default();
        out.snapshot.version = crate::inspection::EVIDENCE_VERSION;
        let contact = |value: String, at: Timestamp| Contact {
            value,
            source: Some(NETWORK_LOG_SOURCE.to_owned()),
            seen_at: Some(at),
        };
        for (i, event) in batch.events.iter().enumerate() {
            match event {
                TelemetryEvent::Dns(_) | TelemetryEvent::Connect(_) if !network => {}
                TelemetryEvent::Dns(e) => {
                    out.snapshot.domains.push(contact(e.host.clone(), e.at));
                    out.domain_events.push(i);
                    for address in &e.addresses {
                        out.snapshot
                            .ip_addresses
                            .push(contact(address_text(address), e.at));
                        out.address_events.push(i);
                    }
                }
                TelemetryEvent::Connect(e) => {
                    out.snapshot
                        .ip_addresses
                        .push(contact(address_text(&e.address), e.at));
                    out.address_events.push(i);
                }
                TelemetryEvent::Security(SecurityEvent {
                    event:
                        SecurityEventKind::AppProcessStart {
                            process,
                            package,
                            apk_sha256,
                        },
                    ..
                }) => {
                    out.snapshot.packages.push(Package {
                        id: package.clone().unwrap_or_else(|| process.clone()),
                        ..Package::default()
                    });
                    out.package_events.push(i);
                    out.snapshot.processes.push(Process {
                        name: process.clone(),
                        ..Process::default()
                    });
                    out.process_events.push(i);
                    if let Some(hash) = apk_sha256 {
                        out.snapshot.files.push(File {
                            name: Some("base.apk".into()),
                            sha256: Some(hash.clone()),
                            ..File::default()
                        });
                        out.file_events.push(i);
                    }
                }
                TelemetryEvent::Security(_) => {}
            }
        }
        out
    }

    /// The event an evidence item came from.
    pub fn event_of(&self, section: &str, index: usize) -> Option<usize> {
        let list = match section {
            "domains" => &self.domain_events,
            "ip_addresses" => &self.address_events,
            "packages" => &self.package_events,
            "processes" => &self.process_events,
            "files" => &self.file_events,
            _ => return None,
        };
        list.get(index).copied()
    }
}

/// An address's text form, as `Display` writes it; IPv4 (most of a batch) without the
/// formatting machinery, which costs several times the rest of building the evidence.
pub fn address_text(address: &IpAddr) -> String {
    let mut out = Vec::with_capacity(15);
    push_address_text(&mut out, address);
    String::from_utf8(out).expect("an address's text is ASCII")
}

/// Appends an address's text, as [`address_text`] gives it, to `out` (the network log
/// takes it this way, with no string of its own).
pub fn push_address_text(out: &mut Vec<u8>, address: &IpAddr) {
    match address {
        IpAddr::V4(v4) => {
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                if octet >= 100 {
                    out.push(b'0' + octet / 100);
                }
                if octet >= 10 {
                    out.push(b'0' + octet / 10 % 10);
                }
                out.push(b'0' + octet % 10);
            }
        }
        IpAddr::V6(_) => {
            use std::io::Write;
            write!(out, "{address}").expect("writing to memory succeeds");
        }
    }
}

/// The package that made an event, where it has one.
pub fn package_of(event: &TelemetryEvent) -> Option<&str> {
    match event {
        TelemetryEvent::Dns(e) => Some(&e.package),
        TelemetryEvent::Connect(e) => Some(&e.package),
        TelemetryEvent::Security(SecurityEvent {
            event:
                SecurityEventKind::AppProcessStart {
                    process, package, ..
                },
            ..
        }) => Some(package.as_deref().unwrap_or(process)),
        TelemetryEvent::Security(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "2026-05-01T10:00:00Z";

    #[test]
    fn a_batch_reads_from_json_with_typed_events() {
        let json = format!(
            r#"{{"events": [
            {{"type": "dns", "at": "{T}", "package": "com.example", "host": "a.example.org",
              "addresses": ["192.0.2.1", "2001:db8::1"]}},
            {{"type": "connect", "at": "{T}", "package": "com.example", "address": "192.0.2.1", "port": 443}},
            {{"type": "security", "at": "{T}", "event": {{"tag": "os_startup",
              "verified_boot_state": "orange", "dm_verity": "enforcing"}}}},
            {{"type": "security", "at": "{T}", "event": {{"tag": "adb_shell_interactive"}}}}
        ]}}"#
        );
        let batch = TelemetryBatch::from_json(&json).unwrap();
        assert_eq!(
            batch.counts(),
            BatchCounts {
                dns: 1,
                connect: 1,
                security: 2
            }
        );
        let evidence = BatchEvidence::of(&batch);
        assert_eq!(evidence.snapshot.domains.len(), 1);
        assert_eq!(evidence.address_events, [0, 0, 1]);
    }

    #[test]
    fn errors_name_the_event_and_field_never_the_value() {
        let cases = [
            (
                r#"{"type": "dns", "at": "2026-05-01T10:00:00Z", "package": "com.x", "host": "+4915112345678 x"}"#,
                "events[0].host",
            ),
            (
                r#"{"type": "connect", "at": "2026-05-01T10:00:00Z", "package": "", "address": "192.0.2.1", "port": 1}"#,
                "events[0].package",
            ),
            (
                r#"{"type": "security", "at": "2026-05-01T10:00:00Z", "event": {"tag": "app_process_start", "process": "p.q", "apk_sha256": "123456789012"}}"#,
                "events[0].apk_sha256",
            ),
        ];
        for (event, field) in cases {
            let err =
                TelemetryBatch::from_json(&format!(r#"{{"events": [{event}]}}"#)).unwrap_err();
            // The batch is the field; the event's path opens the problem.
            assert!(
                matches!(&err, Error::InvalidInput { field: f, problem }
                    if f == "telemetry" && problem.starts_with(field)),
                "{err}"
            );
            let err = err.to_string();
            assert!(!err.contains("12345"), "{err}");
        }
        let err = TelemetryBatch::from_json(
            r#"{"events": [{"type": "connect", "at": "2026-05-01T10:00:00Z", "package": "com.x", "address": "4915112345678", "port": 1}]}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(!err.contains("4915112345678"), "{err}");
        let err = TelemetryBatch::from_json(r#"{"events": [{"type": "sms"}]}"#).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidInput { field, .. } if field == "telemetry"),
            "{err}"
        );
    }

    #[test]
    fn address_text_is_the_display_form() {
        for octets in [
            [0, 0, 0, 0],
            [255, 255, 255, 255],
            [10, 9, 100, 99],
            [1, 20, 199, 5],
        ] {
            let a = IpAddr::from(octets);
            assert_eq!(address_text(&a), a.to_string());
        }
        for n in (0..=u32::MAX).step_by(65_537) {
            let a = IpAddr::from(n.to_be_bytes());
            assert_eq!(address_text(&a), a.to_string());
        }
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(address_text(&v6), "2001:db8::1");
    }

    #[test]
    fn batches_are_bounded() {
        let event = TelemetryEvent::Security(SecurityEvent {
            at: Timestamp::EPOCH,
            event: SecurityEventKind::WifiConnection,
        });
        let batch = TelemetryBatch {
            events: vec![event; MAX_BATCH_EVENTS + 1],
        };
        let err = batch.validate().unwrap_err().to_string();
        assert!(err.contains("at most 5000"), "{err}");
        assert!(batch.validate().is_err());
    }

    #[test]
    fn jsonl_reads_in_bounded_chunks_and_names_the_line() {
        let line = format!(
            r#"{{"type": "connect", "at": "{T}", "package": "com.x", "address": "192.0.2.9", "port": 80}}"#
        );
        let text = format!("{line}\n\n{line}\n{line}\n");
        let chunks = TelemetryBatch::from_jsonl_chunks(&text, 2).unwrap();
        assert_eq!(
            chunks.iter().map(|b| b.events.len()).collect::<Vec<_>>(),
            [2, 1]
        );
        let err = TelemetryBatch::from_jsonl(&format!("{line}\nnot json\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2"), "{err}");
    }
}
