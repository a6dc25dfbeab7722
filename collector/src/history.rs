//! What the collector holds, read back: `collector export` (for a SIEM) and
//! `collector verify` (the whole stored history of a device, checked again).

use portcullis_core::journal::{
    self, unhex32, Anchor, EpochKey, RecordHasher, RecordRef, SignedCheckpoint, StoredRecord,
    Verdict, MAC_LEN,
};
use portcullis_core::upload::wire::MAX_EPOCH_STEPS;

use crate::enroll;
use crate::error::Error;
use crate::keys::CollectorKey;
use crate::store::{RecordRow, Store};

/// Rows read per query, so an export of millions of records runs in bounded memory.
const PAGE: i64 = 5_000;

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// One JSON object per record, with its device.
    Jsonl,
    /// Alert records as OCSF Detection Findings (and their network events).
    Ocsf,
}

fn stored(r: &RecordRow) -> StoredRecord {
    StoredRecord {
        seq: r.seq,
        at: r.at,
        epoch: r.epoch,
        kind: r.kind.clone(),
        body: r.body.clone(),
        hash: r.hash.clone(),
        mac: r.mac.clone(),
    }
}

/// Writes every record made at or after `since_ms`, device by device in sequence
/// order, one JSON value per call of `emit`. Returns the number of values written.
pub async fn export(
    store: &Store,
    format: ExportFormat,
    since_ms: i64,
    mut emit: impl FnMut(&serde_json::Value) -> Result<(), Error>,
) -> Result<u64, Error> {
    let mut written = 0;
    let mut after: Option<(String, i64)> = None;
    loop {
        let page = store
            .records_since(
                since_ms,
                after.as_ref().map(|(d, s)| (d.as_str(), *s)),
                PAGE,
            )
            .await?;
        let Some((last_device, last)) = page.last() else {
            return Ok(written);
        };
        after = Some((last_device.clone(), last.seq));
        for (device, row) in &page {
            let r = stored(row);
            match format {
                ExportFormat::Jsonl => {
                    let mut value = journal::record_json(&r);
                    value["device"] = serde_json::Value::String(device.clone());
                    emit(&value)?;
                    written += 1;
                }
                ExportFormat::Ocsf => {
                    let events =
                        journal::record_ocsf_events(&r, &journal::OcsfDevice::enrolled(device))
                            .map_err(|e| {
                                Error::Store(format!(
                                    "record {} of device {}: {e}",
                                    r.seq,
                                    crate::label(device)
                                ))
                            })?;
                    for event in &events {
                        emit(event)?;
                        written += 1;
                    }
                }
            }
        }
    }
}

/// The outcome of `collector verify`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryVerdict {
    /// The verdict over the stored records.
    pub verdict: Verdict,
    /// The first record the collector holds: 1, or the record after the signed
    /// checkpoint the history starts at (a phone that pruned its journal before its first
    /// upload, or a store that applied retention).
    pub first_seq: i64,
    /// Records at the collector past what its cursor says it took (or fewer): a store
    /// edited behind the collector's back.
    pub cursor_mismatch: Option<String>,
}

impl HistoryVerdict {
    /// Whether everything checked out.
    pub fn is_intact(&self) -> bool {
        matches!(self.verdict, Verdict::Intact { .. }) && self.cursor_mismatch.is_none()
    }
}

/// Re-verifies a device's whole stored history: hash chain, MACs under the enrolled
/// epoch-0 key (evolved to each record's epoch), every stored checkpoint under the enrolled
/// key, and that the records end where the collector's cursor says.
///
/// A history that starts at record 1 is walked by the journal verifier from genesis. One
/// that starts later must start right after a stored checkpoint that verifies under the
/// enrolled key, with the checks the upload path applies to a first batch that starts at a
/// signed checkpoint: the signature over the checkpoint's head hash and epoch establishes
/// where the chain resumes. Without such a checkpoint the history is broken: nothing
/// vouches for its first record.
pub async fn verify_device(
    store: &Store,
    key: &CollectorKey,
    device_id: &str,
) -> Result<HistoryVerdict, Error> {
    let device = enroll::load(store, key, device_id).await?.ok_or_else(|| {
        Error::Usage(format!(
            "device {} is not enrolled at this collector",
            crate::label(device_id)
        ))
    })?;
    let mut checkpoints = Vec::new();
    for json in store.checkpoints(device_id).await? {
        let cp: SignedCheckpoint = serde_json::from_str(&json).map_err(|_| {
            Error::Store(format!(
                "a stored checkpoint of device {} is unreadable",
                crate::label(device_id)
            ))
        })?;
        checkpoints.push(cp);
    }
    let mut records = Vec::new();
    let mut from = 1;
    loop {
        let page = store.records(device_id, from, PAGE).await?;
        let Some(last) = page.last() else { break };
        from = last.seq + 1;
        records.extend(page.iter().map(stored));
    }
    let first_seq = records.first().map_or(1, |r| r.seq);
    let last_seq = records.last().map_or(0, |r| r.seq);
    let verdict = if first_seq <= 1 {
        verify_from_genesis(&device, records, checkpoints, last_seq)
    } else {
        verify_anchored(&device, &records, checkpoints, first_seq, last_seq)
    };
    let cursor_mismatch = match store.cursor(device_id).await? {
        Some(row) => {
            let cursor: portcullis_core::upload::CollectorCursor =
                serde_json::from_str(&row.cursor).map_err(|_| {
                    Error::Store(format!(
                        "the stored cursor of device {} is unreadable",
                        crate::label(device_id)
                    ))
                })?;
            (cursor.last_seq != last_seq).then(|| {
                format!(
                    "the collector took records up to {}, but the store holds records up to {last_seq}",
                    cursor.last_seq
                )
            })
        }
        None if last_seq != 0 => Some(format!(
            "the store holds records up to {last_seq} for a device that never uploaded"
        )),
        None => None,
    };
    Ok(HistoryVerdict {
        verdict,
        first_seq,
        cursor_mismatch,
    })
}

/// Checkpoints outside the walked records (the head checkpoint of the newest batch may
/// cover records still on the phone; a store that applied retention keeps checkpoints of
/// deleted records) are checked by their signature alone.
fn check_signatures_only(
    checkpoints: &[SignedCheckpoint],
    device: &enroll::EnrolledDevice,
) -> Result<(), Verdict> {
    for cp in checkpoints {
        let names_key = unhex32(&cp.public_key).as_ref() == Some(&device.checkpoint_key);
        let signed = cp.verify(&device.checkpoint_key);
        if !names_key || signed.is_err() {
            return Err(Verdict::Broken {
                seq: cp.seq,
                reason: signed.err().unwrap_or_else(|| {
                    format!("checkpoint {} names another public key (edited)", cp.seq)
                }),
            });
        }
    }
    Ok(())
}

fn verify_from_genesis(
    device: &enroll::EnrolledDevice,
    records: Vec<StoredRecord>,
    checkpoints: Vec<SignedCheckpoint>,
    last_seq: i64,
) -> Verdict {
    let (covered, ahead): (Vec<_>, Vec<_>) =
        checkpoints.into_iter().partition(|c| c.seq <= last_seq);
    if let Err(broken) = check_signatures_only(&ahead, device) {
        return broken;
    }
    journal::verify(
        Anchor::GENESIS,
        &records,
        covered,
        Some(device.checkpoint_key),
        journal::VerifyOptions {
            initial_key: Some(EpochKey::from_bytes(0, device.journal_key)),
            console_checkpoint: None,
        },
    )
}

/// Where a history that starts at `cp` resumes: the same conditions as the upload path's
/// start checkpoint (`verify_batch`), so a history the collector took from a signed
/// checkpoint verifies again from it, and nothing else does.
fn anchor_at(cp: &SignedCheckpoint, public_key: &[u8; 32]) -> Result<Anchor, String> {
    if unhex32(&cp.public_key).as_ref() != Some(public_key) {
        return Err("it names another public key than the enrolled one (edited)".into());
    }
    let hash = cp
        .verify(public_key)
        .map_err(|e| format!("{e} under the enrolled key (forged or edited)"))?;
    let next_epoch = cp
        .epoch
        .checked_add(1)
        .ok_or("its epoch is out of range (forged or edited)")?;
    // Every epoch was closed by a checkpoint at a record: no more epochs than records.
    if i64::try_from(next_epoch).map_or(true, |e| e > cp.seq) || next_epoch > MAX_EPOCH_STEPS {
        return Err("it claims more epochs than records (forged or edited)".into());
    }
    Ok(Anchor {
        seq: cp.seq,
        hash,
        next_epoch,
    })
}

fn verify_anchored(
    device: &enroll::EnrolledDevice,
    records: &[StoredRecord],
    mut checkpoints: Vec<SignedCheckpoint>,
    first_seq: i64,
    last_seq: i64,
) -> Verdict {
    let anchor_seq = first_seq - 1;
    checkpoints.sort_by_key(|c| c.seq);
    let Some(at) = checkpoints.iter().position(|c| c.seq == anchor_seq) else {
        return Verdict::Broken {
            seq: first_seq,
            reason: format!(
                "the history starts at record {first_seq}, but no stored signed checkpoint covers record \
                 {anchor_seq} before it, so nothing vouches for where it starts (records deleted from \
                 the store without the checkpoint at the cut, or never received)"
            ),
        };
    };
    let start = checkpoints.remove(at);
    let anchor = match anchor_at(&start, &device.checkpoint_key) {
        Ok(a) => a,
        Err(why) => {
            return Verdict::Broken {
                seq: anchor_seq,
                reason: format!(
                    "the checkpoint at record {anchor_seq}, where the history starts, does not verify: {why}"
                ),
            }
        }
    };
    let (within, outside): (Vec<_>, Vec<_>) = checkpoints
        .into_iter()
        .partition(|c| c.seq > anchor_seq && c.seq <= last_seq);
    if let Err(broken) = check_signatures_only(&outside, device) {
        return broken;
    }
    walk(anchor, records, &within, device)
}

/// The journal walk from a verified anchor: consecutive sequence numbers, each record's
/// epoch, its hash chained to its predecessor, its MAC under the epoch's key, and every
/// checkpoint at a record (signature, epoch, head hash), each closing an epoch.
fn walk(
    anchor: Anchor,
    records: &[StoredRecord],
    checkpoints: &[SignedCheckpoint],
    device: &enroll::EnrolledDevice,
) -> Verdict {
    let broken = |seq: i64, reason: String| Verdict::Broken { seq, reason };
    let pk = &device.checkpoint_key;
    let mut key = match EpochKey::from_bytes(0, device.journal_key).evolve_to(anchor.next_epoch) {
        Ok(k) => k,
        Err(e) => return broken(anchor.seq, e.to_string()),
    };
    let mut mac_key = key.mac_key();
    let mut hasher = RecordHasher::default();
    let mut prev = anchor.hash;
    let mut epoch = anchor.next_epoch;
    let mut expected = anchor.seq + 1;
    let mut pending = checkpoints.iter().peekable();
    // The anchor's checkpoint was verified.
    let mut verified = 1;
    for r in records {
        if r.seq != expected {
            return broken(
                expected,
                format!(
                    "expected record {expected}, found {} (removed or reordered)",
                    r.seq
                ),
            );
        }
        if i64::try_from(epoch).ok() != Some(r.epoch) {
            return broken(
                r.seq,
                format!("record is in epoch {}, expected {epoch}", r.epoch),
            );
        }
        let hash = hasher.hash(
            &prev,
            &RecordRef {
                seq: r.seq,
                at: r.at,
                epoch: r.epoch,
                kind: &r.kind,
                body: &r.body,
            },
        );
        if r.hash != hash {
            return broken(
                r.seq,
                "hash does not match its contents and predecessor (edited)".into(),
            );
        }
        let tag = ring::hmac::sign(&mac_key, &hash);
        if !constant_time_eq(&tag.as_ref()[..MAC_LEN], &r.mac) {
            return broken(
                r.seq,
                "MAC does not verify under the enrolled journal key (rewritten without the key)"
                    .into(),
            );
        }
        while let Some(cp) = pending.next_if(|c| c.seq == r.seq) {
            if cp.epoch != epoch {
                return broken(
                    cp.seq,
                    format!(
                        "checkpoint {} claims epoch {}, expected {epoch}",
                        cp.seq, cp.epoch
                    ),
                );
            }
            if unhex32(&cp.public_key).as_ref() != Some(pk) {
                return broken(
                    cp.seq,
                    format!("checkpoint {} names another public key (edited)", cp.seq),
                );
            }
            match cp.verify(pk) {
                Ok(head) if head == hash => {}
                Ok(_) => {
                    return broken(
                        cp.seq,
                        format!("checkpoint {} does not match record {}", cp.seq, cp.seq),
                    )
                }
                Err(e) => return broken(cp.seq, e),
            }
            verified += 1;
            epoch += 1;
            key = match key.evolve() {
                Ok(k) => k,
                Err(e) => return broken(cp.seq, e.to_string()),
            };
            mac_key = key.mac_key();
        }
        prev = hash;
        expected += 1;
    }
    Verdict::Intact {
        records: records.len() as u64,
        checkpoints: verified,
        macs_checked: true,
        last_seq: expected - 1,
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
