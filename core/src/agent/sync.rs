//! The managed configuration on the agent: what the MDM delivered (trust root, device
//! scope, policy bundle, signed indicator collections, signed instructions) taken in one
//! call, in one order, with one typed answer that the platforms only report.
//!
//! The order is fixed: the trust root first (installed at enrollment, offered as a
//! rotation afterwards), then the bundle (which may be signed under the new root), then
//! the indicator collections, then the instructions (verified against the root in force).
//! A refused root is remembered and not offered again until the configuration changes;
//! a refused bundle or collection is remembered until the trust root changes (a rotation
//! can make it acceptable). A remembered refusal is reported again, never journaled or
//! alerted again. The memory is component `managed_config`, so it survives restarts.

use serde::{Deserialize, Serialize};

use super::Agent;
use crate::agent::{InstructionOutcome, PolicyOutcome, RootOutcome};
use crate::error::{Error, Result};
use crate::identity::hex;
use crate::policy::{AppliedPolicy, DeviceScope};
use crate::store::Commit;
use crate::time::Timestamp;

const SYNC_STATE: &str = "managed_config";
/// Refused indicator collections remembered at most (the oldest is forgotten first).
const MAX_REMEMBERED_COLLECTIONS: usize = 32;

/// Managed-configuration keys, as the MDM sets them (Android `app_restrictions.xml`, the
/// iOS managed app configuration dictionary).
pub mod keys {
    /// The signed trust root (`portcullis root sign`).
    pub const TRUST_ROOT: &str = "trust_root";
    /// The device's enrollment id, as bundles address it.
    pub const DEVICE_ID: &str = "device_id";
    /// The device's groups at enrollment, comma-separated.
    pub const DEVICE_GROUPS: &str = "device_groups";
    /// The signed policy bundle (`portcullis policy sign`).
    pub const POLICY_BUNDLE: &str = "policy_bundle";
    /// Signed indicator collections, one per line.
    pub const INDICATOR_COLLECTIONS: &str = "indicator_collections";
    /// Signed console instructions, one envelope per line.
    pub const INSTRUCTIONS: &str = "instructions";
    /// The console's HTTPS endpoint.
    pub const CONSOLE_ENDPOINT: &str = "console_endpoint";
}

/// The managed configuration as the platform read it: values as delivered, untrimmed.
/// Absent keys are `None` (or empty lists); the core trims, splits and validates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManagedConfig {
    /// `trust_root`.
    pub trust_root: Option<String>,
    /// `device_id`.
    pub device_id: Option<String>,
    /// `device_groups` (comma-separated).
    pub device_groups: Option<String>,
    /// `policy_bundle`.
    pub policy_bundle: Option<String>,
    /// `indicator_collections`: each entry as delivered (a string, or each element of an
    /// array); every entry is split into lines, one signed file per line.
    pub indicator_collections: Vec<String>,
    /// `instructions`: as `indicator_collections`, one envelope per line.
    pub instructions: Vec<String>,
    /// `console_endpoint`.
    pub console_endpoint: Option<String>,
    /// Keys the platform found holding a value that is not text (named, never echoed).
    pub not_text: Vec<String>,
}

/// A configuration value that cannot be used as it is; names the key, never the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The managed-configuration key.
    pub key: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

/// The core refused an input. Nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// Stable short code (`rollback`, `expired`, `threshold`, `bad_signature`, ...).
    pub code: String,
    /// What failed, naming the check or field, never a value.
    pub reason: String,
    /// The same input was refused before and was not offered again: no new journal
    /// record, no new alert.
    #[serde(skip)]
    pub remembered: bool,
}

/// What became of `trust_root`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootSync {
    /// No `trust_root` configured.
    NotConfigured,
    /// Installed at enrollment, at this version.
    Installed {
        /// The root's version.
        version: u64,
    },
    /// A rotation put this root in force.
    Rotated {
        /// The version it replaced.
        from: u64,
        /// Its version.
        to: u64,
    },
    /// The root in force, delivered again.
    Unchanged {
        /// Its version.
        version: u64,
    },
    /// Refused (at enrollment, or as a rotation).
    Refused(Refusal),
    /// Not installed: the configuration is incomplete or names the device wrongly.
    NotInstalled(ConfigProblem),
}

/// What became of `policy_bundle`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BundleSync {
    /// No `policy_bundle` configured.
    NotConfigured,
    /// Verified and now in force.
    Applied(AppliedPolicy),
    /// The bundle in force, delivered again.
    Unchanged(AppliedPolicy),
    /// Refused; the policy in force (if any) stays.
    Refused(Refusal),
    /// Not applied (typically: no trust root installed yet).
    NotApplied(ConfigProblem),
}

/// What became of one signed indicator collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndicatorSync {
    /// In use (newly loaded, or the one already loaded).
    InUse {
        /// The collection's label.
        collection: String,
        /// Its version.
        version: u64,
    },
    /// Refused.
    Refused(Refusal),
    /// Not loaded (no trust root yet); offered again at the next sync.
    NotLoaded(ConfigProblem),
}

/// What became of `instructions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstructionsSync {
    /// No `instructions` configured.
    NotConfigured,
    /// Each envelope's outcome, in the order applied (oldest sequence first).
    Applied(Vec<InstructionOutcome>),
    /// Not applied (no trust root yet); offered again at the next sync.
    NotApplied(ConfigProblem),
}

/// The one answer to a managed-configuration sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedConfigSync {
    /// `trust_root`.
    pub trust_root: RootSync,
    /// `policy_bundle`.
    pub policy: BundleSync,
    /// `indicator_collections`, one per configured collection, in order.
    pub indicators: Vec<IndicatorSync>,
    /// `instructions`.
    pub instructions: InstructionsSync,
    /// Values that cannot be used as they are (wrong type, not an https URL).
    pub problems: Vec<ConfigProblem>,
    /// Whether a trust root is installed after this sync.
    pub enrolled: bool,
    /// The policy in force after this sync.
    pub in_force: Option<AppliedPolicy>,
}

/// The sync in one word, as the console's policy state shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncHeadline {
    /// A bundle was put in force.
    Applied,
    /// The configured bundle is the one in force.
    InForce,
    /// No bundle configured and nothing wrong.
    NoBundle,
    /// An input was refused (`trust_root` or `policy_bundle`).
    Rejected {
        /// The key.
        input: &'static str,
        /// The refusal.
        refusal: Refusal,
    },
    /// The configuration cannot be applied as it is.
    Problem(ConfigProblem),
}

impl ManagedConfigSync {
    /// What the console's policy state shows: a refused rotation first (whatever the
    /// bundle did), then the bundle's outcome, then why enrollment did not happen.
    pub fn headline(&self) -> SyncHeadline {
        if let (RootSync::Refused(r), true) = (&self.trust_root, self.enrolled) {
            return rejected(keys::TRUST_ROOT, r);
        }
        match &self.policy {
            BundleSync::Applied(_) => return SyncHeadline::Applied,
            BundleSync::Unchanged(_) => return SyncHeadline::InForce,
            BundleSync::Refused(r) => return rejected(keys::POLICY_BUNDLE, r),
            BundleSync::NotConfigured | BundleSync::NotApplied(_) => {}
        }
        match (&self.trust_root, &self.policy) {
            (RootSync::Refused(r), _) => rejected(keys::TRUST_ROOT, r),
            (RootSync::NotInstalled(p), _) | (_, BundleSync::NotApplied(p)) => {
                SyncHeadline::Problem(p.clone())
            }
            _ => SyncHeadline::NoBundle,
        }
    }

    /// Whether the console should treat this sync as a fault (a refusal or a problem).
    pub fn is_error(&self) -> bool {
        matches!(
            self.headline(),
            SyncHeadline::Rejected { .. } | SyncHeadline::Problem(_)
        )
    }
}

fn rejected(input: &'static str, r: &Refusal) -> SyncHeadline {
    SyncHeadline::Rejected {
        input,
        refusal: r.clone(),
    }
}

/// One remembered refusal: the input's SHA-256 and what was answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Remembered {
    sha256: String,
    refusal: Refusal,
}

/// What a sync keeps between calls (component `managed_config`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SyncMemory {
    /// The last refused root.
    root: Option<Remembered>,
    /// The last refused bundle, and the root version it was refused under.
    bundle: Option<(u64, Remembered)>,
    /// Refused collections, and the root version they were refused under.
    collections: Vec<(u64, Remembered)>,
}

fn sha256(bytes: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

fn trimmed(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// `device_groups`: comma-separated names, trimmed; blanks and repeats dropped, order kept.
pub fn split_groups(value: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if !out.iter().any(|n| n == name) {
            out.push(name.to_owned());
        }
    }
    out
}

/// Entries split into lines, each trimmed; blanks and repeats dropped, order kept (console
/// forms add newlines; a signed envelope never holds one).
pub fn split_lines(entries: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in entries
        .iter()
        .flat_map(|e| e.lines())
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        if !out.iter().any(|l| l == line) {
            out.push(line.to_owned());
        }
    }
    out
}

/// Whether `value` is an https URL with a host.
fn is_https_url(value: &str) -> bool {
    let Some(scheme_end) = value.find("://") else {
        return false;
    };
    if !value[..scheme_end].eq_ignore_ascii_case("https") {
        return false;
    }
    let rest = &value[scheme_end + 3..];
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    let host = if host_port.starts_with('[') {
        host_port
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    !host.is_empty() && !value.chars().any(char::is_whitespace)
}

fn refusal_of(error: &Error) -> Option<Refusal> {
    match error {
        Error::Policy(p) => Some(Refusal {
            code: p.code().to_owned(),
            reason: p.to_string(),
            remembered: false,
        }),
        _ => None,
    }
}

fn problem(key: &'static str, reason: impl Into<String>) -> ConfigProblem {
    ConfigProblem {
        key,
        reason: reason.into(),
    }
}

impl Agent {
    /// Applies what the MDM delivered, in order (root, bundle, indicator collections,
    /// instructions), and answers for each part. Refusals and problems are answers, not
    /// errors; errors are left for storage and key failures (nothing decided: sync again).
    /// Redelivering the same configuration changes nothing and raises nothing.
    pub fn sync_managed_config(
        &mut self,
        config: &ManagedConfig,
        now: Timestamp,
    ) -> Result<ManagedConfigSync> {
        let mut memory = self.sync_memory()?;
        let before = memory.clone();
        let mut problems: Vec<ConfigProblem> = Vec::new();
        for key in &config.not_text {
            if let Some(known) = [
                keys::TRUST_ROOT,
                keys::DEVICE_ID,
                keys::DEVICE_GROUPS,
                keys::POLICY_BUNDLE,
                keys::INDICATOR_COLLECTIONS,
                keys::INSTRUCTIONS,
                keys::CONSOLE_ENDPOINT,
            ]
            .into_iter()
            .find(|k| k == key)
            {
                problems.push(problem(known, "expected text"));
            }
        }
        if let Some(endpoint) = trimmed(&config.console_endpoint) {
            if !is_https_url(endpoint) {
                problems.push(problem(keys::CONSOLE_ENDPOINT, "expected an https URL"));
            }
        }

        let trust_root = self.sync_root(config, &mut memory, now)?;
        let policy = self.sync_bundle(config, &mut memory, now)?;
        let indicators = self.sync_indicators(config, &mut memory, now)?;
        let instructions = self.sync_instructions(config, now)?;

        if memory != before {
            let state = serde_json::to_string(&memory)
                .map_err(|e| Error::Corrupt(format!("cannot encode the sync state: {e}")))?;
            self.store.commit(Commit {
                at: Some(now),
                states: vec![(SYNC_STATE, state)],
                ..Commit::default()
            })?;
        }
        Ok(ManagedConfigSync {
            trust_root,
            policy,
            indicators,
            instructions,
            problems,
            enrolled: self.trust_root_installed(),
            in_force: self.policy_status().cloned(),
        })
    }

    fn sync_memory(&self) -> Result<SyncMemory> {
        match self.store.load_state(SYNC_STATE)? {
            None => Ok(SyncMemory::default()),
            Some(json) => crate::json::from_str(&json).map_err(|_| {
                Error::Corrupt("the stored managed-configuration state is unreadable".into())
            }),
        }
    }

    fn root_version(&self) -> Option<u64> {
        self.policy
            .component
            .as_ref()
            .map(|c| c.trust.root().version)
    }

    fn sync_root(
        &mut self,
        config: &ManagedConfig,
        memory: &mut SyncMemory,
        now: Timestamp,
    ) -> Result<RootSync> {
        let Some(root) = trimmed(&config.trust_root) else {
            return Ok(RootSync::NotConfigured);
        };
        let digest = sha256(root.as_bytes());
        if let Some(known) = memory.root.as_ref().filter(|r| r.sha256 == digest) {
            return Ok(RootSync::Refused(Refusal {
                remembered: true,
                ..known.refusal.clone()
            }));
        }
        let result = if self.trust_root_installed() {
            self.apply_root_update(root.as_bytes(), now)
                .map(|outcome| match outcome {
                    RootOutcome::Rotated { from, to } => RootSync::Rotated { from, to },
                    RootOutcome::Unchanged { version } => RootSync::Unchanged { version },
                })
        } else {
            let Some(device_id) = trimmed(&config.device_id) else {
                return Ok(RootSync::NotInstalled(problem(
                    keys::DEVICE_ID,
                    "not set: the trust_root is installed only together with the device's enrollment id (and device_groups)",
                )));
            };
            let scope = DeviceScope {
                device_id: device_id.to_owned(),
                groups: trimmed(&config.device_groups)
                    .map(split_groups)
                    .unwrap_or_default(),
            };
            self.install_trust_root(root.as_bytes(), scope, now)
                .map(|()| RootSync::Installed {
                    version: self.root_version().unwrap_or_default(),
                })
        };
        match result {
            Ok(sync) => {
                if matches!(sync, RootSync::Installed { .. } | RootSync::Rotated { .. }) {
                    // A new root can make a refused bundle or collection acceptable.
                    memory.bundle = None;
                    memory.collections.clear();
                }
                Ok(sync)
            }
            Err(e) => match refusal_of(&e) {
                Some(refusal) => {
                    memory.root = Some(Remembered {
                        sha256: digest,
                        refusal: refusal.clone(),
                    });
                    Ok(RootSync::Refused(refusal))
                }
                None => match e {
                    Error::InvalidInput { problem: p, .. } => Ok(RootSync::NotInstalled(problem(
                        keys::TRUST_ROOT,
                        format!("not installed: {p}"),
                    ))),
                    other => Err(other),
                },
            },
        }
    }

    fn sync_bundle(
        &mut self,
        config: &ManagedConfig,
        memory: &mut SyncMemory,
        now: Timestamp,
    ) -> Result<BundleSync> {
        let Some(bundle) = trimmed(&config.policy_bundle) else {
            return Ok(BundleSync::NotConfigured);
        };
        let Some(root_version) = self.root_version() else {
            return Ok(BundleSync::NotApplied(problem(
                keys::POLICY_BUNDLE,
                "not applied: no trust root is installed",
            )));
        };
        let digest = sha256(bundle.as_bytes());
        if let Some((_, known)) = memory
            .bundle
            .as_ref()
            .filter(|(v, r)| *v == root_version && r.sha256 == digest)
        {
            return Ok(BundleSync::Refused(Refusal {
                remembered: true,
                ..known.refusal.clone()
            }));
        }
        match self.apply_policy(bundle.as_bytes(), now) {
            Ok(PolicyOutcome::Applied(a)) => Ok(BundleSync::Applied(a)),
            Ok(PolicyOutcome::Unchanged(a)) => Ok(BundleSync::Unchanged(a)),
            Err(e) => match refusal_of(&e) {
                Some(refusal) => {
                    memory.bundle = Some((
                        root_version,
                        Remembered {
                            sha256: digest,
                            refusal: refusal.clone(),
                        },
                    ));
                    Ok(BundleSync::Refused(refusal))
                }
                None => match e {
                    Error::InvalidInput { problem: p, .. } => Ok(BundleSync::NotApplied(problem(
                        keys::POLICY_BUNDLE,
                        format!("not applied: {p}"),
                    ))),
                    other => Err(other),
                },
            },
        }
    }

    fn sync_indicators(
        &mut self,
        config: &ManagedConfig,
        memory: &mut SyncMemory,
        now: Timestamp,
    ) -> Result<Vec<IndicatorSync>> {
        let files = split_lines(&config.indicator_collections);
        let mut out = Vec::with_capacity(files.len());
        for file in files {
            let Some(root_version) = self.root_version() else {
                out.push(IndicatorSync::NotLoaded(problem(
                    keys::INDICATOR_COLLECTIONS,
                    "not loaded: no trust root is installed",
                )));
                continue;
            };
            let digest = sha256(file.as_bytes());
            if let Some((_, known)) = memory
                .collections
                .iter()
                .find(|(v, r)| *v == root_version && r.sha256 == digest)
            {
                out.push(IndicatorSync::Refused(Refusal {
                    remembered: true,
                    ..known.refusal.clone()
                }));
                continue;
            }
            match self.load_signed_indicators(file.as_bytes(), now) {
                Ok(accepted) => out.push(IndicatorSync::InUse {
                    collection: accepted.collection,
                    version: accepted.version,
                }),
                Err(e) => match refusal_of(&e) {
                    Some(refusal) => {
                        if memory.collections.len() >= MAX_REMEMBERED_COLLECTIONS {
                            memory.collections.remove(0);
                        }
                        memory.collections.push((
                            root_version,
                            Remembered {
                                sha256: digest,
                                refusal: refusal.clone(),
                            },
                        ));
                        out.push(IndicatorSync::Refused(refusal));
                    }
                    None => match e {
                        Error::InvalidInput { problem: p, .. } => {
                            out.push(IndicatorSync::NotLoaded(problem(
                                keys::INDICATOR_COLLECTIONS,
                                format!("not loaded: {p}"),
                            )));
                        }
                        other => return Err(other),
                    },
                },
            }
        }
        Ok(out)
    }

    fn sync_instructions(
        &mut self,
        config: &ManagedConfig,
        now: Timestamp,
    ) -> Result<InstructionsSync> {
        let envelopes: Vec<Vec<u8>> = split_lines(&config.instructions)
            .into_iter()
            .map(String::into_bytes)
            .collect();
        if envelopes.is_empty() {
            return Ok(InstructionsSync::NotConfigured);
        }
        if !self.trust_root_installed() {
            return Ok(InstructionsSync::NotApplied(problem(
                keys::INSTRUCTIONS,
                "not applied: no trust root is installed",
            )));
        }
        // The ledger remembers accepted and refused envelopes: a redelivered list is
        // `Unchanged`, a redelivered refusal raises nothing.
        Ok(InstructionsSync::Applied(
            self.apply_instruction_list(&envelopes, now)?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_and_lines_are_trimmed_and_deduplicated_in_order() {
        assert_eq!(split_groups(" b, a,,b , c "), ["b", "a", "c"]);
        assert_eq!(
            split_lines(&["x\r\n y \n\n x".into(), "z\ny".into()]),
            ["x", "y", "z"]
        );
    }

    #[test]
    fn only_https_urls_with_a_host_are_endpoints() {
        assert!(is_https_url("https://console.example.org/api"));
        assert!(is_https_url("HTTPS://console.example.org:8443"));
        assert!(is_https_url("https://[::1]:8443/"));
        for bad in [
            "http://console.example.org",
            "https://",
            "https:///path",
            "console.example.org",
            "https://user@:443/",
            "https://a b",
        ] {
            assert!(!is_https_url(bad), "{bad}");
        }
    }
}
