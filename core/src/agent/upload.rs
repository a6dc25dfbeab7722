//! Journal shipping, sans-IO: the core builds each upload request as data, the platform
//! sends it with its own HTTP stack (checking the collector's certificate pin the request
//! carries) and hands back the status and body; the core checks the receipt, moves its
//! cursor and decides retries (docs/upload.md).
//!
//! A batch, once built, is *in flight* until a receipt acknowledges it: every retry sends
//! the same bytes (it is rebuilt from what it covers; records are never pruned before
//! they are acknowledged, and the signatures are deterministic), so a collector that
//! took it but whose receipt was lost recognises it by its digest.

use serde::{Deserialize, Serialize};

use super::persisted::{Persisted, State};
use super::schedule::retry_delay_ms;
use super::Agent;
use crate::error::{Error, Result};
use crate::identity::hex;
use crate::journal::{unhex32, SignedCheckpoint};
use crate::policy::model::UploadRules;
use crate::time::{Timestamp, MINUTE_MS};
use crate::upload::wire::{
    self, Batch, ChainPosition, Receipt, UploadEvidence, UploadRecord, BATCH_FORMAT,
};

pub(super) const UPLOAD_STATE: &str = "upload";
pub(super) const UPLOAD_EVIDENCE_STATE: &str = "upload_evidence";

pub use crate::upload::wire::UPLOAD_PATH;
/// Evidence bundles kept for upload; beyond this the oldest is dropped (the platform
/// also received each bundle when the inspection was submitted).
pub const MAX_PENDING_EVIDENCE: usize = 16;
/// Records in one batch at most, whatever the byte budget.
pub(super) const MAX_BATCH_RECORDS: usize = 20_000;

/// One upload for the platform to send: an HTTP request as data, and the certificate
/// pins its TLS stack must enforce. The platform decides nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRequest {
    /// Always `POST`.
    pub method: String,
    /// The full URL: the policy's collector URL and [`UPLOAD_PATH`].
    pub url: String,
    /// [`UPLOAD_PATH`].
    pub path: String,
    /// Headers to send, in order.
    pub headers: Vec<(String, String)>,
    /// The `portcullis/upload/v1` batch.
    pub body: Vec<u8>,
    /// SHA-256 (hex) of the collector certificates to accept; any other is refused.
    pub certificate_sha256: Vec<String>,
    /// The batch's number (for logs).
    pub batch_seq: u64,
    /// Records it carries.
    pub records: u64,
    /// Evidence bundles it carries.
    pub evidence: u64,
}

/// What the core made of an upload attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadOutcome {
    /// The collector acknowledged the batch: its records may now be pruned.
    pub acknowledged: bool,
    /// The last record the collector holds.
    pub acknowledged_seq: i64,
    /// Consecutive failed attempts.
    pub failures: u32,
    /// When the upload is tried again, after a failure.
    pub retry_at: Option<Timestamp>,
    /// Why the attempt failed, when it did (never repeats the response body).
    pub problem: Option<String>,
    /// When to arm the timer next.
    pub next_wakeup: Option<Timestamp>,
}

/// What a batch in flight covers, enough to rebuild the same bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct InFlight {
    batch_seq: u64,
    created_at: Timestamp,
    start: ChainPosition,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    start_checkpoint: Option<i64>,
    end_seq: i64,
    head_checkpoint: i64,
    evidence_ids: Vec<u64>,
    digest: String,
    end: ChainPosition,
}

/// The upload side of the agent, persisted as component `upload`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct UploadState {
    /// The position the collector acknowledged last.
    acknowledged: ChainPosition,
    /// The last batch it acknowledged.
    last_batch_seq: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    in_flight: Option<InFlight>,
    #[serde(default)]
    failures: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retry_at: Option<Timestamp>,
    /// When the collector last acknowledged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    acknowledged_at: Option<Timestamp>,
    /// When the upload duty was last handed out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    duty_at: Option<Timestamp>,
}

impl Default for UploadState {
    fn default() -> Self {
        UploadState {
            acknowledged: ChainPosition::GENESIS,
            last_batch_seq: 0,
            in_flight: None,
            failures: 0,
            retry_at: None,
            acknowledged_at: None,
            duty_at: None,
        }
    }
}

impl State for UploadState {
    const WHAT: &'static str = "upload state";
}

/// Evidence bundles waiting for the collector, persisted as component `upload_evidence`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct EvidenceQueue {
    next_id: u64,
    bundles: Vec<UploadEvidence>,
}

impl State for EvidenceQueue {
    const WHAT: &'static str = "upload evidence queue";
}

/// The upload component: its state, the evidence queue (written only when it changed,
/// since it is large), and when a severe alert made an upload due.
pub(super) struct UploadSlot {
    pub(super) state: Persisted<UploadState>,
    pub(super) evidence: Persisted<EvidenceQueue>,
    pub(super) evidence_dirty: bool,
    pub(super) urgent_at: Option<Timestamp>,
}

impl UploadSlot {
    pub(super) fn restore(state: Option<String>, evidence: Option<String>) -> Result<Self> {
        Ok(UploadSlot {
            state: Persisted::restore(state, UploadState::default)?,
            evidence: Persisted::restore(evidence, EvidenceQueue::default)?,
            evidence_dirty: false,
            urgent_at: None,
        })
    }

    /// The states to write with a step (`component`, JSON).
    pub(super) fn changed(&self) -> Result<Vec<(&'static str, String)>> {
        let mut out = Vec::new();
        if let Some(json) = self.state.changed()? {
            out.push((UPLOAD_STATE, json));
        }
        if self.evidence_dirty {
            if let Some(json) = self.evidence.changed()? {
                out.push((UPLOAD_EVIDENCE_STATE, json));
            }
        }
        Ok(out)
    }

    pub(super) fn committed(&mut self, written: &[(&'static str, String)]) {
        for (component, json) in written {
            match *component {
                UPLOAD_STATE => self.state.committed(json.clone()),
                UPLOAD_EVIDENCE_STATE => {
                    self.evidence.committed(json.clone());
                    self.evidence_dirty = false;
                }
                _ => {}
            }
        }
    }

    pub(super) fn rollback(&mut self) -> Result<()> {
        self.state.rollback(UploadState::default)?;
        self.evidence.rollback(EvidenceQueue::default)?;
        self.evidence_dirty = false;
        Ok(())
    }

    /// Queues an evidence bundle for the collector (dropping the oldest beyond the cap).
    pub(super) fn queue_evidence(&mut self, bundle: String) {
        let id = self.evidence.next_id.saturating_add(1);
        self.evidence.next_id = id;
        self.evidence.bundles.push(UploadEvidence { id, bundle });
        let over = self
            .evidence
            .bundles
            .len()
            .saturating_sub(MAX_PENDING_EVIDENCE);
        if over > 0 {
            log::warn!("portcullis: {over} evidence bundle(s) dropped from the upload queue");
            self.evidence.bundles.drain(..over);
        }
        self.evidence_dirty = true;
    }
}

impl Agent {
    fn upload_rules(&self) -> Option<&UploadRules> {
        self.policy.active.as_ref()?.policy().upload.as_ref()
    }

    /// Whether the policy in force ships the journal.
    pub(super) fn upload_ships(&self) -> bool {
        self.upload_rules().is_some()
    }

    /// The collector's name for this device ([`wire::device_id`]).
    pub fn upload_device_id(&self) -> String {
        wire::device_id(&self.signer.public_key())
    }

    /// The last record the collector acknowledged (0: none).
    pub fn upload_acknowledged_seq(&self) -> i64 {
        self.upload.state.acknowledged.seq
    }

    /// Evidence bundles waiting for the collector.
    pub fn upload_pending_evidence(&self) -> usize {
        self.upload.evidence.bundles.len()
    }

    /// Reads the severe alerts not yet acknowledged by the collector, at start.
    pub(super) fn restore_upload_urgency(&mut self) -> Result<()> {
        self.upload.urgent_at = self
            .store
            .severe_alert_after(self.upload.state.acknowledged.seq)?;
        Ok(())
    }

    /// When an upload falls due, if the policy ships the journal: after a failure, the
    /// retry; otherwise the cadence, or at once after a severe alert.
    pub(super) fn upload_deadline(&self) -> Option<Timestamp> {
        let rules = self.upload_rules()?;
        let s = &self.upload.state;
        if let Some(at) = s.retry_at {
            return Some(at);
        }
        let interval = i64::from(rules.interval_minutes) * MINUTE_MS;
        let base = [s.duty_at, s.acknowledged_at]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(self.guard.facts().enrolled_at);
        let cadence = if s.duty_at.is_none() && s.acknowledged_at.is_none() {
            base
        } else {
            base.plus_millis(interval)
        };
        Some(self.upload.urgent_at.map_or(cadence, |u| u.min(cadence)))
    }

    /// Hands out the upload duty at a wake-up when it is due; it then moves by one interval.
    pub(super) fn take_upload_duty(&mut self, now: Timestamp) -> bool {
        if self.upload_deadline().is_none_or(|due| now < due) {
            return false;
        }
        let s = &mut self.upload.state;
        s.duty_at = Some(now);
        if s.retry_at.is_some_and(|at| now >= at) {
            s.retry_at = None;
        }
        self.upload.urgent_at = None;
        true
    }

    /// A severe alert was committed: an upload is due at once.
    pub(super) fn upload_after_alerts(&mut self, alerts: &[crate::alert::Alert]) {
        if self.upload_rules().is_none() {
            return;
        }
        if let Some(at) = alerts
            .iter()
            .filter(|a| a.severity >= crate::alert::Severity::High)
            .map(|a| a.finding.at)
            .min()
        {
            self.upload.urgent_at = Some(self.upload.urgent_at.map_or(at, |u| u.min(at)));
        }
    }

    /// The next upload to send, or `None` when the journal is not shipped, the last
    /// attempt is backing off, or there is nothing to send (no new record, no evidence,
    /// and the cadence has not come round for a heartbeat).
    ///
    /// A batch is at most `max_bytes` long (and at most the policy's `maxBatchBytes`),
    /// unless a single record is larger; a checkpoint is made first if none covers the
    /// journal's head. Until a receipt acknowledges it, the same batch is returned.
    pub fn next_upload(&mut self, max_bytes: u64, now: Timestamp) -> Result<Option<UploadRequest>> {
        let Some(rules) = self.upload_rules().cloned() else {
            return Ok(None);
        };
        if self.upload.state.retry_at.is_some_and(|at| now < at) {
            return Ok(None);
        }
        if let Some(flight) = self.upload.state.in_flight.clone() {
            let batch = self.rebuild(&flight)?;
            return Ok(Some(request(&rules, &batch)));
        }
        let budget = usize::try_from(max_bytes.min(u64::from(rules.max_batch_bytes)))
            .unwrap_or(usize::MAX)
            .max(4096);
        let acked = self.upload.state.acknowledged;
        let (head_seq, _) = self.store.journal_head()?;
        let heartbeat_due =
            self.upload.state.acknowledged_at.is_none_or(|at| {
                now >= at.plus_millis(i64::from(rules.interval_minutes) * MINUTE_MS)
            });
        if head_seq <= acked.seq && self.upload.evidence.bundles.is_empty() && !heartbeat_due {
            return Ok(None);
        }
        let head_checkpoint = self.checkpoint(now)?;
        let checkpoints = self.store.checkpoints()?;
        // Records the collector never had may already be pruned (an older version pruned
        // without shipping): the first batch then starts at the pruning checkpoint.
        let anchor = self.store.anchor()?;
        let (start, start_checkpoint) = if acked.seq < anchor.seq {
            if self.upload.state.last_batch_seq > 0 {
                return Err(Error::Corrupt(
                    "the journal was pruned past what the collector acknowledged".into(),
                ));
            }
            let start = ChainPosition {
                seq: anchor.seq,
                hash: anchor.hash,
                next_epoch: anchor.next_epoch,
            };
            (start, Some(anchor.seq))
        } else {
            (acked, None)
        };
        let records = self.store.journal_range(
            start.seq,
            head_checkpoint.seq,
            MAX_BATCH_RECORDS.min(budget / 64 + 1),
        )?;
        let mut flight = InFlight {
            batch_seq: self.upload.state.last_batch_seq.saturating_add(1),
            created_at: now,
            start,
            start_checkpoint,
            end_seq: records.last().map_or(start.seq, |r| r.seq),
            head_checkpoint: head_checkpoint.seq,
            evidence_ids: Vec::new(),
            digest: String::new(),
            end: start,
        };
        // Fit the records to the budget: the encoded size, halving the count until it fits.
        let mut count = records.len();
        let mut batch = loop {
            flight.end_seq = records
                .get(count.wrapping_sub(1))
                .map_or(start.seq, |r| r.seq);
            let b = self.assemble(&flight, &records[..count], &checkpoints)?;
            if count <= 1 || wire::encode_batch(&b).len() <= budget {
                break b;
            }
            count /= 2;
        };
        // Evidence rides along while it fits (a bundle alone in a batch always goes).
        for e in &self.upload.evidence.bundles {
            batch.evidence.push(e.clone());
            let alone = batch.evidence.len() == 1 && batch.records.is_empty();
            if !alone && wire::encode_batch(&batch).len() > budget {
                batch.evidence.pop();
                break;
            }
            flight.evidence_ids.push(e.id);
        }
        wire::sign_batch(&mut batch, &self.signer);
        flight.digest = hex(&wire::batch_digest(&batch));
        flight.end = batch.end();
        self.upload.state.in_flight = Some(flight);
        self.persist(now, Vec::new())?;
        Ok(Some(request(&rules, &batch)))
    }

    /// The batch `flight` describes, signed.
    fn rebuild(&self, flight: &InFlight) -> Result<Batch> {
        let records = self
            .store
            .journal_range(flight.start.seq, flight.end_seq, usize::MAX)?;
        let checkpoints = self.store.checkpoints()?;
        let mut batch = self.assemble(flight, &records, &checkpoints)?;
        for id in &flight.evidence_ids {
            let e = self
                .upload
                .evidence
                .bundles
                .iter()
                .find(|e| e.id == *id)
                .ok_or_else(|| {
                    Error::Corrupt("an evidence bundle in flight is no longer queued".into())
                })?;
            batch.evidence.push(e.clone());
        }
        wire::sign_batch(&mut batch, &self.signer);
        if hex(&wire::batch_digest(&batch)) != flight.digest {
            return Err(Error::Corrupt(
                "the batch in flight can no longer be rebuilt as sent (records changed)".into(),
            ));
        }
        Ok(batch)
    }

    fn assemble(
        &self,
        flight: &InFlight,
        records: &[crate::journal::StoredRecord],
        checkpoints: &[SignedCheckpoint],
    ) -> Result<Batch> {
        let records = records
            .iter()
            .map(|r| {
                UploadRecord::from_stored(r).ok_or_else(|| {
                    Error::Corrupt(format!("journal record {} has a malformed hash", r.seq))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let find = |seq: i64| {
            checkpoints
                .iter()
                .find(|c| c.seq == seq)
                .cloned()
                .ok_or_else(|| Error::Corrupt(format!("checkpoint {seq} is missing")))
        };
        Ok(Batch {
            format: BATCH_FORMAT.into(),
            device_id: self.upload_device_id(),
            batch_seq: flight.batch_seq,
            created_at: flight.created_at,
            start: flight.start,
            start_checkpoint: flight.start_checkpoint.map(find).transpose()?,
            records,
            checkpoints: checkpoints
                .iter()
                .filter(|c| c.seq > flight.start.seq && c.seq <= flight.end_seq)
                .cloned()
                .collect(),
            head_checkpoint: find(flight.head_checkpoint)?,
            evidence: Vec::new(),
            signature: [0; 64],
        })
    }

    /// The platform reports how the request from [`Agent::next_upload`] ended: the HTTP
    /// status (0 when no response came: no network, TLS or pin failure, timeout) and the
    /// body. A 200 carries the receipt, checked as [`Agent::upload_acknowledged`] does;
    /// anything else, a refused receipt included, backs off and the same batch is sent
    /// again later.
    pub fn upload_response(
        &mut self,
        status: u16,
        body: &[u8],
        now: Timestamp,
    ) -> Result<UploadOutcome> {
        if self.upload.state.in_flight.is_none() {
            return Err(Error::invalid(
                "upload_response",
                "no upload is in flight (call next_upload first)",
            ));
        }
        if status == 200 {
            // A 200 whose receipt does not verify is a failed attempt: the batch stays in
            // flight and the retry backs off (asking again at once would hammer a collector
            // that answers wrongly). Nothing else changes.
            return match self.upload_acknowledged(body, now) {
                Err(Error::InvalidInput { problem, .. }) => {
                    log::warn!("portcullis: upload receipt refused: {problem}");
                    self.upload_failed(
                        now,
                        format!("the collector's receipt was refused: {problem}"),
                    )
                }
                other => other,
            };
        }
        let problem = match status {
            0 => "the collector could not be reached".to_owned(),
            413 => "the collector refused the batch as too large (its cap is below maxBatchBytes)"
                .to_owned(),
            400..=499 => format!("the collector refused the batch (HTTP {status})"),
            _ => format!("the collector failed (HTTP {status})"),
        };
        log::warn!("portcullis: upload failed: {problem}");
        self.upload_failed(now, problem)
    }

    fn upload_failed(&mut self, now: Timestamp, problem: String) -> Result<UploadOutcome> {
        let s = &mut self.upload.state;
        s.failures = s.failures.saturating_add(1);
        s.retry_at = Some(now.plus_millis(retry_delay_ms(s.failures)));
        self.persist(now, Vec::new())?;
        Ok(self.upload_outcome(false, Some(problem)))
    }

    fn upload_outcome(&self, acknowledged: bool, problem: Option<String>) -> UploadOutcome {
        let s = &self.upload.state;
        UploadOutcome {
            acknowledged,
            acknowledged_seq: s.acknowledged.seq,
            failures: s.failures,
            retry_at: s.retry_at,
            problem,
            next_wakeup: self.next_wakeup(),
        }
    }

    /// Takes the collector's receipt for the batch in flight. It must verify under the
    /// policy's receipt key, name this device, the batch in flight (number and digest)
    /// and the position the batch ends at; otherwise it is refused with
    /// [`Error::InvalidInput`] naming the check, and nothing stored changes. On success
    /// the cursor moves, the evidence sent is dropped from the queue and records up to
    /// the acknowledged one become prunable.
    pub fn upload_acknowledged(&mut self, receipt: &[u8], now: Timestamp) -> Result<UploadOutcome> {
        let rules = self
            .upload_rules()
            .ok_or_else(|| Error::invalid("upload_receipt", "the policy ships no journal"))?;
        let key = unhex32(&rules.receipt_key).ok_or_else(|| {
            Error::invalid("upload_receipt", "the policy's receipt key is unreadable")
        })?;
        let receipt = wire::verify_receipt(receipt, &key)
            .map_err(|e| Error::invalid("upload_receipt", e.to_string()))?;
        let flight = self
            .upload
            .state
            .in_flight
            .clone()
            .ok_or_else(|| Error::invalid("upload_receipt", "no upload is in flight"))?;
        check_receipt(
            &receipt,
            &flight,
            &self.upload_device_id(),
            &self.upload.state,
        )?;
        let s = &mut self.upload.state;
        s.acknowledged = receipt.acknowledged;
        s.last_batch_seq = receipt.batch_seq;
        s.in_flight = None;
        s.failures = 0;
        s.retry_at = None;
        s.acknowledged_at = Some(now);
        self.upload
            .evidence
            .bundles
            .retain(|e| !receipt.evidence_ids.contains(&e.id));
        if !receipt.evidence_ids.is_empty() {
            self.upload.evidence_dirty = true;
        }
        // No journal record: one per receipt would always leave one record to ship, and
        // the collector keeps the receipts.
        self.persist(now, Vec::new())?;
        self.restore_upload_urgency()?;
        Ok(self.upload_outcome(true, None))
    }

    /// The last record a prune may drop: with shipping, the last the collector holds.
    pub(super) fn prunable_through(&self) -> i64 {
        if self.upload_rules().is_some() || self.upload.state.last_batch_seq > 0 {
            self.upload.state.acknowledged.seq
        } else {
            i64::MAX
        }
    }
}

fn check_receipt(
    receipt: &Receipt,
    flight: &InFlight,
    device_id: &str,
    state: &UploadState,
) -> Result<()> {
    let refuse = |why: &str| Err(Error::invalid("upload_receipt", why.to_owned()));
    if receipt.device_id != device_id {
        return refuse("the receipt names another device");
    }
    if receipt.acknowledged.seq < state.acknowledged.seq
        || receipt.batch_seq <= state.last_batch_seq
    {
        return refuse("the receipt moves the upload cursor backwards");
    }
    if receipt.batch_seq != flight.batch_seq || hex(&receipt.batch_digest) != flight.digest {
        return refuse("the receipt is for another batch than the one in flight");
    }
    if receipt.acknowledged != flight.end {
        return refuse("the receipt acknowledges another position than the batch ends at");
    }
    Ok(())
}

fn request(rules: &UploadRules, batch: &Batch) -> UploadRequest {
    UploadRequest {
        method: "POST".into(),
        url: format!("{}{UPLOAD_PATH}", rules.collector_url),
        path: UPLOAD_PATH.into(),
        headers: vec![
            ("Content-Type".into(), "application/json".into()),
            ("X-Portcullis-Device".into(), batch.device_id.clone()),
            ("X-Portcullis-Batch".into(), batch.batch_seq.to_string()),
        ],
        body: wire::encode_batch(batch),
        certificate_sha256: rules
            .certificate_sha256
            .iter()
            .map(|p| p.to_ascii_lowercase())
            .collect(),
        batch_seq: batch.batch_seq,
        records: batch.records.len() as u64,
        evidence: batch.evidence.len() as u64,
    }
}
