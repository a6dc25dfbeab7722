//! The agent facade: the one object the native layers drive.
//!
//! Sans-IO in the quinn-proto style: inputs are `handle_*` calls carrying an
//! observation and the current time, outputs are read with `pending_alerts`
//! and `next_wakeup`. The only I/O is the SQLite store, and every step commits
//! its state change and its alerts in one transaction before returning.

use std::path::Path;

use crate::alert::{Alert, AlertId, Finding};
use crate::error::{Error, Result};
use crate::identity::{hex, DeviceKey, IdentityHasher};
use crate::sim::{Facts, SimEvent, SimGuard, SimPolicy};
use crate::store::{Commit, JournalEntry, Store};
use crate::time::Timestamp;

const SIM_GUARD_STATE: &str = "sim_guard";
const META_ENROLLED_AT: &str = "enrolled_at";
const META_KEY_CHECK: &str = "device_key_check";
/// Label MACed to recognise the enrolled device key; distinct from the identity-key label.
const KEY_CHECK_LABEL: &[u8] = b"portcullis/device-key-check/v1";

/// The Portcullis agent: policy, SIM guard and alert outbox over one database.
pub struct Agent {
    store: Store,
    hasher: IdentityHasher,
    guard: SimGuard,
    /// The guard state as last committed, to skip unchanged writes and to roll back a failed step.
    persisted_guard: String,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent").finish_non_exhaustive()
    }
}

impl Agent {
    /// Opens the agent's database at `path`, enrolling the device on first use.
    ///
    /// Fails with [`Error::DeviceKey`] if `device_key` is not the key the database
    /// was enrolled with: comparing hashes made under different keys would report
    /// every SIM as replaced.
    pub fn open(path: &Path, device_key: &dyn DeviceKey, now: Timestamp) -> Result<Self> {
        Self::with_store(Store::open(path)?, device_key, now)
    }

    /// An agent on a private in-memory database (simulations, tests).
    pub fn open_in_memory(device_key: &dyn DeviceKey, now: Timestamp) -> Result<Self> {
        Self::with_store(Store::open_in_memory()?, device_key, now)
    }

    fn with_store(mut store: Store, device_key: &dyn DeviceKey, now: Timestamp) -> Result<Self> {
        let key_check = hex(&device_key.hmac_sha256(KEY_CHECK_LABEL)?);
        let hasher = IdentityHasher::derive(device_key)?;
        let enrolled_at = match (store.meta(META_ENROLLED_AT)?, store.meta(META_KEY_CHECK)?) {
            (Some(at), Some(check)) => {
                if check != key_check {
                    return Err(Error::DeviceKey(
                        "this database was enrolled with a different device key; re-enroll the device"
                            .into(),
                    ));
                }
                Timestamp::parse_rfc3339(&at)
                    .ok_or_else(|| Error::Corrupt("enrollment time is unreadable".into()))?
            }
            (None, None) => {
                store.commit(Commit {
                    at: Some(now),
                    journal: vec![JournalEntry {
                        kind: "enrolled".into(),
                        body: serde_json::json!({ "at": now }).to_string(),
                    }],
                    ..Commit::default()
                })?;
                store.set_meta(META_KEY_CHECK, &key_check)?;
                store.set_meta(META_ENROLLED_AT, &now.to_string())?;
                log::info!("portcullis: device enrolled");
                now
            }
            _ => return Err(Error::Corrupt("enrollment record is incomplete".into())),
        };
        let (guard, persisted_guard) = match store.load_state(SIM_GUARD_STATE)? {
            Some(json) => {
                let mut guard: SimGuard = serde_json::from_str(&json)
                    .map_err(|e| Error::Corrupt(format!("SIM guard state is unreadable: {e}")))?;
                guard.set_policy(SimPolicy::default());
                (guard, json)
            }
            None => (
                SimGuard::new(enrolled_at, SimPolicy::default()),
                String::new(),
            ),
        };
        Ok(Agent {
            store,
            hasher,
            guard,
            persisted_guard,
        })
    }

    /// Applies SIM rules from the active policy.
    pub fn set_sim_policy(&mut self, policy: SimPolicy) {
        self.guard.set_policy(policy);
    }

    /// Feeds one SIM, radio, connectivity or console observation taken at `now`.
    ///
    /// Returns the alerts this step queued (also readable through [`Agent::pending_alerts`]).
    /// Invalid input is refused with [`Error::InvalidInput`] and changes nothing.
    pub fn handle(&mut self, event: &SimEvent, now: Timestamp) -> Result<Vec<Alert>> {
        let mut findings = Vec::new();
        self.guard.handle(event, now, &self.hasher, &mut findings)?;
        self.persist(now, findings)
    }

    /// Lets time pass: call at [`Agent::next_wakeup`] (or any time) so timed detections fire.
    pub fn handle_timeout(&mut self, now: Timestamp) -> Result<Vec<Alert>> {
        let mut findings = Vec::new();
        self.guard.handle_timeout(now, &mut findings);
        self.persist(now, findings)
    }

    /// When the platform scheduler should wake the agent, if anything is pending.
    pub fn next_wakeup(&self) -> Option<Timestamp> {
        self.guard.next_deadline()
    }

    /// Up to `limit` undelivered alerts, oldest first. Each call counts a delivery attempt;
    /// alerts come back until acknowledged.
    pub fn pending_alerts(&mut self, limit: u32) -> Result<Vec<Alert>> {
        self.store.pending_alerts(limit)
    }

    /// Acknowledges delivered alerts; returns how many were newly acknowledged.
    pub fn ack_alerts(&mut self, ids: &[AlertId], now: Timestamp) -> Result<usize> {
        self.store.ack(ids, now)
    }

    /// What the SIM guard currently knows (hashes only).
    pub fn sim_facts(&self) -> &Facts {
        self.guard.facts()
    }

    /// Verifies the journal's hash chain: the record count, or the first broken sequence number.
    pub fn verify_journal(&self) -> Result<std::result::Result<u64, i64>> {
        self.store.verify_chain()
    }

    fn persist(&mut self, now: Timestamp, findings: Vec<Finding>) -> Result<Vec<Alert>> {
        let json = serde_json::to_string(&self.guard)
            .map_err(|e| Error::Corrupt(format!("cannot encode SIM guard state: {e}")))?;
        let changed = json != self.persisted_guard;
        if !changed && findings.is_empty() {
            return Ok(Vec::new());
        }
        for f in &findings {
            log::warn!(
                "portcullis: alert {} (severity {}, slot {:?}, detector {})",
                f.kind,
                f.kind.severity(),
                f.slot,
                f.detector
            );
        }
        let commit = Commit {
            at: Some(now),
            states: if changed {
                vec![(SIM_GUARD_STATE, json.clone())]
            } else {
                Vec::new()
            },
            journal: Vec::new(),
            findings,
        };
        match self.store.commit(commit) {
            Ok(alerts) => {
                self.persisted_guard = json;
                Ok(alerts)
            }
            Err(e) => {
                // Keep memory and disk in step: the step did not happen.
                self.rollback_guard();
                Err(e)
            }
        }
    }

    fn rollback_guard(&mut self) {
        let policy = self.guard.policy().clone();
        let enrolled_at = self.guard.facts().enrolled_at;
        self.guard = if self.persisted_guard.is_empty() {
            SimGuard::new(enrolled_at, policy)
        } else {
            match serde_json::from_str::<SimGuard>(&self.persisted_guard) {
                Ok(mut g) => {
                    g.set_policy(policy);
                    g
                }
                Err(_) => SimGuard::new(enrolled_at, policy),
            }
        };
    }
}
