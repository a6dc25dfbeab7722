//! The agent facade: the one object the native layers drive.
//!
//! Sans-IO in the quinn-proto style: inputs are `handle_*` calls carrying an
//! observation and the current time, outputs are read with `pending_alerts`
//! and `next_wakeup`. The only I/O is the SQLite store, and every step commits
//! its state change and its alerts in one transaction before returning.

mod compliance;
mod delivery;
mod fusion;
mod inspection;
mod instruction;
mod persisted;
mod policy;
mod repeats;
mod schedule;
mod sync;
mod telemetry;
mod upload;

pub use compliance::ComplianceOutcome;
pub use delivery::{
    ChannelOutcome, DeliveryBatch, DeliveryStep, DELIVERY_BATCH, DELIVERY_BATCHES_PER_RUN,
};
pub use inspection::InspectionReceipt;
pub(crate) use instruction::action_name;
pub use instruction::{
    bound_reason, ActionOutcome, AppliedInstruction, AttestationAnswer, AttestationReceipt,
    AttestationSubmission, HandedAction, InstructionAction, InstructionOutcome, RefusedInstruction,
    MAX_ATTESTATION_CERTS, MAX_ATTESTATION_CERT_BYTES, MAX_CERTIFICATION_BYTES,
    MAX_OUTCOME_REASON_BYTES,
};
pub use policy::{PolicyOutcome, RootOutcome};
pub use schedule::{
    infer_boot, retry_delay_ms, BootReport, BootVerdict, DeliveryResult, DeliveryVerdict, Wakeup,
    WakeupDuties, BOOT_TOLERANCE_MS, COMPLIANCE_INTERVAL_MS, RETRY_INITIAL_MS, RETRY_MAX_MS,
};
pub use sync::{
    keys as managed_config_keys, split_groups, split_lines, BundleSync, ConfigProblem,
    IndicatorSync, InstructionsSync, ManagedConfig, ManagedConfigSync, Refusal, RootSync,
    SyncHeadline,
};
pub use telemetry::{TelemetryMatch, TelemetryOutcome, INGEST_CHUNK_EVENTS};
pub use upload::{UploadOutcome, UploadRequest, MAX_PENDING_EVIDENCE, UPLOAD_PATH};

use std::path::Path;
use std::sync::Arc;

use crate::alert::{Alert, AlertId, Finding};
use crate::error::{Error, Result};
use crate::identity::{hex, DeviceKey, IdentityHasher};
use crate::inspection::{ScheduleEvent, ScheduleKey};
use crate::journal::{
    unhex32, CheckpointSigner, EpochKey, SignedCheckpoint, Verdict, VerifyOptions,
};
use crate::policy::PinKey;
use crate::sim::{Facts, SimEvent, SimGuard, SimPolicy};
use crate::store::{
    Commit, Enrollment, JournalEntry, Store, META_ENROLLED_AT, META_KEY_CHECK, META_KEY_EXPORT,
};
use crate::time::Timestamp;
use persisted::{Persisted, State};

impl State for SimGuard {
    const WHAT: &'static str = "SIM guard state";
}

const SIM_GUARD_STATE: &str = "sim_guard";
/// Label MACed to recognise the enrolled device key; distinct from every other label.
const KEY_CHECK_LABEL: &[u8] = b"portcullis/device-key-check/v1";

/// The Portcullis agent: policy, SIM guard and alert outbox over one database.
pub struct Agent {
    store: Store,
    device_key: Arc<dyn DeviceKey>,
    hasher: IdentityHasher,
    signer: CheckpointSigner,
    /// The SIM guard, with its state as last committed (to skip unchanged writes and to
    /// roll back a failed step).
    guard: Persisted<SimGuard>,
    policy: policy::PolicySlot,
    inspection: inspection::InspectionSlot,
    compliance: compliance::ComplianceSlot,
    instructions: instruction::InstructionSlot,
    fusion: fusion::FusionSlot,
    wakeup: schedule::WakeupSlot,
    upload: upload::UploadSlot,
    telemetry: telemetry::TelemetrySlot,
    /// The alert delivery run in progress.
    delivery: delivery::DeliveryRun,
    /// The live readings last taken, to drop repeats.
    repeats: repeats::Repeats,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent").finish_non_exhaustive()
    }
}

impl Agent {
    /// Opens the agent's database at `path`, enrolling the device on first use.
    ///
    /// `entropy` must be fresh randomness from the platform; it becomes the journal's
    /// first MAC key at enrollment and is ignored afterwards. Fails with
    /// [`Error::DeviceKey`] if `device_key` is not the key the database was enrolled
    /// with: comparing hashes made under different keys would report every SIM as replaced.
    pub fn open(
        path: &Path,
        device_key: Arc<dyn DeviceKey>,
        now: Timestamp,
        entropy: [u8; 32],
    ) -> Result<Self> {
        Self::with_store(Store::open(path)?, device_key, now, entropy)
    }

    /// An agent on a private in-memory database (simulations, tests).
    pub fn open_in_memory(
        device_key: Arc<dyn DeviceKey>,
        now: Timestamp,
        entropy: [u8; 32],
    ) -> Result<Self> {
        Self::with_store(Store::open_in_memory()?, device_key, now, entropy)
    }

    fn with_store(
        mut store: Store,
        device_key: Arc<dyn DeviceKey>,
        now: Timestamp,
        entropy: [u8; 32],
    ) -> Result<Self> {
        let key_check = hex(&device_key.hmac_sha256(KEY_CHECK_LABEL)?);
        let hasher = IdentityHasher::derive(device_key.as_ref())?;
        let signer = CheckpointSigner::derive(device_key.as_ref())?;
        let enrolled = (
            store.meta(META_ENROLLED_AT)?,
            store.meta(META_KEY_CHECK)?,
            store.wrapped_journal_key()?,
        );
        let enrolled_at = match enrolled {
            (Some(at), Some(check), Some((epoch, wrapped))) => {
                if check != key_check {
                    return Err(Error::DeviceKey(
                        "this database was enrolled with a different device key; re-enroll the device".into(),
                    ));
                }
                store.set_journal_key(EpochKey::unwrap(device_key.as_ref(), epoch, &wrapped)?);
                Timestamp::parse_rfc3339(&at)
                    .ok_or_else(|| Error::Corrupt("enrollment time is unreadable".into()))?
            }
            (None, None, None) => {
                let key = EpochKey::initial(entropy);
                let wrapped = key.wrap(device_key.as_ref())?;
                store.enroll(Enrollment {
                    at: now,
                    wrapped_key: wrapped,
                    wrapped_export: wrapped,
                    key,
                    public_key: signer.public_key(),
                    key_check,
                })?;
                log::info!("portcullis: device enrolled");
                now
            }
            _ => return Err(Error::Corrupt("enrollment record is incomplete".into())),
        };
        let (policy, note) = policy::PolicySlot::restore(store.load_state(policy::POLICY_STATE)?)?;
        if let Some(note) = note {
            store.commit(Commit {
                at: Some(now),
                journal: vec![note],
                ..Commit::default()
            })?;
        }
        let sim_policy = policy
            .active
            .as_ref()
            .map_or_else(SimPolicy::default, |p| p.policy().sim_policy());
        let mut guard = Persisted::restore(store.load_state(SIM_GUARD_STATE)?, || {
            SimGuard::new(enrolled_at, sim_policy.clone())
        })?;
        guard.set_policy(sim_policy);
        let inspection = inspection::InspectionSlot::restore(
            store.load_state(inspection::INSPECTION_STATE)?,
            store.load_state(inspection::INDICATORS_STATE)?,
            ScheduleKey::derive(device_key.as_ref())?,
        )?;
        let compliance = compliance::ComplianceSlot::restore(
            store.load_state(compliance::COMPLIANCE_STATE)?,
            store.load_state(compliance::ACTIONS_STATE)?,
            policy
                .active
                .as_ref()
                .map(super::policy::trust::VerifiedPolicy::policy),
        )?;
        let instructions = instruction::InstructionSlot::restore(
            store.load_state(instruction::INSTRUCTION_STATE)?,
        )?;
        let fusion = fusion::FusionSlot::restore(store.load_state(fusion::FUSION_STATE)?)?;
        let wakeup = schedule::WakeupSlot::restore(store.load_state(schedule::WAKEUP_STATE)?)?;
        let upload = upload::UploadSlot::restore(
            store.load_state(upload::UPLOAD_STATE)?,
            store.load_state(upload::UPLOAD_EVIDENCE_STATE)?,
        )?;
        let mut agent = Agent {
            telemetry: telemetry::TelemetrySlot::default(),
            delivery: delivery::DeliveryRun::default(),
            repeats: repeats::Repeats::default(),
            upload,
            wakeup,
            fusion,
            store,
            device_key,
            hasher,
            signer,
            guard,
            policy,
            inspection,
            compliance,
            instructions,
        };
        agent.restore_upload_urgency()?;
        Ok(agent)
    }

    /// Feeds one SIM, radio, connectivity or console observation taken at `now`.
    ///
    /// Returns the alerts this step queued (also readable through [`Agent::pending_alerts`]).
    /// Invalid input is refused with [`Error::InvalidInput`] and changes nothing.
    pub fn handle(&mut self, event: &SimEvent, now: Timestamp) -> Result<Vec<Alert>> {
        let mut findings = Vec::new();
        self.guard.handle(event, now, &self.hasher, &mut findings)?;
        let alerts = self.persist(now, findings)?;
        if matches!(event, SimEvent::Reboot) {
            self.repeats = repeats::Repeats::default();
        }
        Ok(alerts)
    }

    /// Lets time pass: call at [`Agent::next_wakeup`] (or any time) so timed detections fire.
    /// The same as [`Agent::wake`] without a boot instant, keeping only the alerts: the
    /// duties falling due now are counted as handed out.
    pub fn handle_timeout(&mut self, now: Timestamp) -> Result<Vec<Alert>> {
        Ok(self.wake(now, None)?.alerts)
    }

    /// The time step itself: the guard's timers, the inspection schedule, the ladder.
    fn pass_time(&mut self, now: Timestamp) -> Result<Vec<Alert>> {
        let mut findings = Vec::new();
        self.guard.handle_timeout(now, &mut findings);
        let events = self.inspection.on_time(now);
        let escalation = self.compliance.engine.tick(now);
        self.compliance.pending.extend(escalation.new_actions);
        findings.extend(escalation.new_alerts.into_iter().map(compliance::finding));
        self.persist_with_events(now, findings, Vec::new(), events)
    }

    /// When the platform scheduler should wake the agent: the earliest of every deadline,
    /// the re-read cadence included, so there is always one. Wake it with [`Agent::wake`].
    pub fn next_wakeup(&self) -> Option<Timestamp> {
        [
            self.guard.next_deadline(),
            self.inspection.next_deadline(),
            self.compliance.engine.next_deadline(),
            self.schedule_deadline(),
            self.upload_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
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

    /// Verifies the journal on the device (chain and checkpoints; MACs when given the epoch-0 key).
    pub fn verify_journal(&self, options: VerifyOptions) -> Result<Verdict> {
        self.store.verify_journal(options)
    }

    /// Signs a checkpoint over the journal's head for the console to store, and moves
    /// the journal's MAC key forward (the old key is erased). Returns the checkpoint.
    pub fn checkpoint(&mut self, now: Timestamp) -> Result<SignedCheckpoint> {
        let (seq, head) = self.store.journal_head()?;
        let current = self
            .store
            .wrapped_journal_key()?
            .ok_or_else(|| Error::Corrupt("the journal key is missing".into()))?;
        let key = EpochKey::unwrap(self.device_key.as_ref(), current.0, &current.1)?;
        if let Some(last) = self.store.checkpoints()?.last() {
            if last.seq == seq {
                // Nothing was written since: the last checkpoint still covers the head.
                return Ok(last.clone());
            }
        }
        let cp = self.signer.sign(seq, key.epoch, now, &head);
        let next = key.evolve()?;
        let wrapped = next.wrap(self.device_key.as_ref())?;
        self.store.record_checkpoint(&cp, next, wrapped)?;
        Ok(cp)
    }

    /// The checkpoint-signing public key the console pins at enrollment.
    pub fn checkpoint_public_key(&self) -> [u8; 32] {
        self.signer.public_key()
    }

    /// The journal's epoch-0 MAC key, which the console needs to verify MACs, until
    /// [`Agent::confirm_journal_key_export`] erases the device's copy.
    pub fn journal_key_export(&self) -> Result<Option<[u8; 32]>> {
        match self.store.meta(META_KEY_EXPORT)? {
            None => Ok(None),
            Some(text) => {
                let wrapped = unhex32(&text)
                    .ok_or_else(|| Error::Corrupt("the key export is unreadable".into()))?;
                Ok(Some(
                    EpochKey::unwrap(self.device_key.as_ref(), 0, &wrapped)?.bytes(),
                ))
            }
        }
    }

    /// The key the console computes SIM pins under ([`PinKey`]), handed out only while
    /// the enrollment hand-off is open: once [`Agent::confirm_journal_key_export`] has
    /// closed it, `None`, so a later intruder with the agent's API cannot learn the key
    /// that would let them test guesses against the policy's pins.
    ///
    /// The hand-off counts as open only while the stored epoch-0 export evolves into the
    /// journal's current key: a row forged into the database by someone without the device
    /// key cannot reopen it.
    pub fn pin_key_export(&self) -> Result<Option<[u8; 32]>> {
        let Some(initial) = self.journal_key_export()? else {
            return Ok(None);
        };
        let (epoch, wrapped) = self
            .store
            .wrapped_journal_key()?
            .ok_or_else(|| Error::Corrupt("the journal key is missing".into()))?;
        // Each epoch was closed by a stored checkpoint: a larger stored epoch is forged,
        // and evolving the key that far would never end.
        if epoch > self.store.checkpoint_count()? {
            return Err(Error::Corrupt(
                "the journal key's epoch is beyond the stored checkpoints (edited)".into(),
            ));
        }
        let current = EpochKey::unwrap(self.device_key.as_ref(), epoch, &wrapped)?;
        let evolved = EpochKey::from_bytes(0, initial).evolve_to(epoch)?;
        if evolved.bytes() != current.bytes() {
            return Err(Error::Corrupt(
                "the journal key export does not match the journal key (edited)".into(),
            ));
        }
        PinKey::derive(self.device_key.as_ref()).map(Some)
    }

    /// The console has stored the epoch-0 key (and the pin key): erase the device's copy
    /// so a later intruder cannot forge records of past epochs, and close the enrollment
    /// hand-off.
    pub fn confirm_journal_key_export(&mut self) -> Result<bool> {
        self.store.forget_key_export()
    }

    /// Drops journal records older than the newest checkpoint made before `before`,
    /// keeping undelivered alerts and, when the policy ships the journal, every record
    /// the collector has not acknowledged; returns how many records were removed.
    pub fn prune_journal(&mut self, before: Timestamp) -> Result<u64> {
        let through = self.prunable_through();
        self.store.prune_through(before, through)
    }

    fn persist(&mut self, now: Timestamp, findings: Vec<Finding>) -> Result<Vec<Alert>> {
        self.persist_with_events(now, findings, Vec::new(), Vec::new())
    }

    /// Commits one step: guard and schedule state if changed, journal records, and the
    /// findings as alerts. High and critical alerts are shown to the scheduler first, so a
    /// triggered inspection is planned in the same transaction. On failure, memory is
    /// rolled back to what is on disk: the step did not happen.
    fn persist_with_events(
        &mut self,
        now: Timestamp,
        mut findings: Vec<Finding>,
        mut journal: Vec<JournalEntry>,
        mut events: Vec<ScheduleEvent>,
    ) -> Result<Vec<Alert>> {
        events.extend(self.inspection.on_alerts(&findings, now));
        inspection::record(&events, &mut journal, &mut findings);
        let guard_json = self.guard.changed()?;
        let schedule_json = self.inspection.state.changed()?;
        let engine_json = self.compliance.engine.changed()?;
        let pending_json = self.compliance.pending.changed()?;
        let mut states = Vec::new();
        for (component, json) in [
            (SIM_GUARD_STATE, &guard_json),
            (inspection::INSPECTION_STATE, &schedule_json),
            (compliance::COMPLIANCE_STATE, &engine_json),
            (compliance::ACTIONS_STATE, &pending_json),
        ] {
            if let Some(json) = json {
                states.push((component, json.clone()));
            }
        }
        let instructions_json = self.instructions.state.changed()?;
        if let Some(json) = &instructions_json {
            states.push((instruction::INSTRUCTION_STATE, json.clone()));
        }
        let wakeup_json = self.wakeup.changed()?;
        if let Some(json) = &wakeup_json {
            states.push((schedule::WAKEUP_STATE, json.clone()));
        }
        let upload_json = self.upload.changed()?;
        states.extend(upload_json.iter().cloned());
        if states.is_empty() && findings.is_empty() && journal.is_empty() {
            return Ok(Vec::new());
        }
        for f in &findings {
            log::warn!(
                "portcullis: alert {} (severity {}, slot {:?}, detector {})",
                f.kind,
                f.severity(),
                f.slot,
                f.detector
            );
        }
        let commit = Commit {
            at: Some(now),
            states,
            journal,
            findings,
        };
        match self.store.commit(commit) {
            Ok(mut alerts) => {
                if let Some(json) = guard_json {
                    self.guard.committed(json);
                }
                if let Some(json) = schedule_json {
                    self.inspection.state.committed(json);
                }
                if let Some(json) = engine_json {
                    self.compliance.engine.committed(json);
                }
                if let Some(json) = pending_json {
                    self.compliance.pending.committed(json);
                }
                if let Some(json) = instructions_json {
                    self.instructions.state.committed(json);
                }
                if let Some(json) = wakeup_json {
                    self.wakeup.committed(json);
                }
                self.upload.committed(&upload_json);
                self.upload_after_alerts(&alerts);
                self.fuse(&mut alerts, now)?;
                Ok(alerts)
            }
            Err(e) => {
                // Memory goes back to what is on disk. A committed form that no longer
                // reads is reported as Corrupt; nothing is reset to defaults.
                let rolled_back = [
                    self.rollback_guard(),
                    self.inspection
                        .state
                        .rollback(inspection::InspectionComponent::default),
                    self.compliance.rollback(),
                    self.wakeup.rollback(),
                    self.instructions.rollback(),
                    self.upload.rollback(),
                ];
                rolled_back.into_iter().collect::<Result<()>>()?;
                Err(e)
            }
        }
    }

    fn rollback_guard(&mut self) -> Result<()> {
        let policy = self.guard.policy().clone();
        let enrolled_at = self.guard.facts().enrolled_at;
        self.guard
            .rollback(|| SimGuard::new(enrolled_at, policy.clone()))?;
        self.guard.set_policy(policy);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
