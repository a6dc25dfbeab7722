//! What the collector holds, read back: `collector export` (for a SIEM) and
//! `collector verify` (the whole stored history of a device, checked again).

use portcullis_core::journal::{self, Anchor, EpochKey, SignedCheckpoint, StoredRecord, Verdict};

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
    /// The journal verifier's verdict over the stored records.
    pub verdict: Verdict,
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

/// Re-verifies a device's whole stored history with the journal verifier: hash chain,
/// MACs under the enrolled epoch-0 key, every stored checkpoint under the enrolled key,
/// and that the records end where the collector's cursor says.
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
    let last_seq = records.last().map_or(0, |r| r.seq);
    // The head checkpoint of the newest batch may cover records still on the phone:
    // verify the chain against the checkpoints it has records for, and check the others'
    // signatures alone.
    let (covered, ahead): (Vec<_>, Vec<_>) =
        checkpoints.into_iter().partition(|c| c.seq <= last_seq);
    for cp in &ahead {
        if let Err(reason) = cp.verify(&device.checkpoint_key) {
            return Ok(HistoryVerdict {
                verdict: Verdict::Broken {
                    seq: cp.seq,
                    reason,
                },
                cursor_mismatch: None,
            });
        }
    }
    if let Some(first) = records.first().filter(|r| r.seq > 1) {
        // The journal verifier starts mid-journal only at a pruning anchor backed by every
        // checkpoint before it, which a device pruned before its first upload never sent.
        return Err(Error::Usage(format!(
            "device {}'s history at this collector starts at record {} (the phone pruned its journal \
             before the first upload); the upload path verified it from the signed checkpoint there, \
             but `collector verify` re-verifies histories from record 1 only",
            crate::label(device_id),
            first.seq
        )));
    }
    let verdict = journal::verify(
        Anchor::GENESIS,
        &records,
        covered,
        Some(device.checkpoint_key),
        journal::VerifyOptions {
            initial_key: Some(EpochKey::from_bytes(0, device.journal_key)),
            console_checkpoint: None,
        },
    );
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
        cursor_mismatch,
    })
}
