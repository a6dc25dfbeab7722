//! `portcullis journal verify|export`: check and export a device's journal on the console.

use std::path::Path;

use portcullis_core::journal::{self, EpochKey, SignedCheckpoint, Verdict, VerifyOptions};
use portcullis_core::store::Store;

/// Export formats.
#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum ExportFormat {
    /// One JSON object per record.
    Jsonl,
    /// Alerts as OCSF Detection Findings (class 2004), one per line.
    Ocsf,
}

fn open(db: &Path) -> Result<Store, String> {
    if !db.exists() {
        return Err(format!("{}: no such database", db.display()));
    }
    Store::open_read_only(db).map_err(|e| format!("{}: {e}", db.display()))
}

/// Verifies the journal; `Ok(true)` when intact. Prints a summary or the first broken record.
pub(crate) fn verify(
    db: &Path,
    checkpoint: Option<&Path>,
    journal_key: Option<&Path>,
) -> Result<bool, String> {
    let store = open(db)?;
    let console_checkpoint = match checkpoint {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            Some(
                portcullis_core::json::from_str::<SignedCheckpoint>(&text).map_err(|e| {
                    format!(
                        "{}: not a checkpoint ({})",
                        path.display(),
                        portcullis_core::json::describe(&e)
                    )
                })?,
            )
        }
        None => None,
    };
    // The key file's name is never repeated: it might be the key itself.
    let initial_key = match journal_key {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read the --journal-key file ({})", e.kind()))?;
            let bytes = journal::unhex32(text.trim())
                .ok_or("the --journal-key file must hold the key as 64 hex digits")?;
            Some(EpochKey::from_bytes(0, bytes))
        }
        None => None,
    };
    let verdict = store
        .verify_journal(VerifyOptions {
            initial_key,
            console_checkpoint,
        })
        .map_err(|e| e.to_string())?;
    Ok(report(&verdict, "not checked (no --journal-key)"))
}

/// Prints a verdict as one line and says whether the journal is intact: `journal verify`
/// and `collector verify` word it alike. `unchecked` says why MACs were not checked.
pub(crate) fn report(verdict: &Verdict, unchecked: &str) -> bool {
    match verdict {
        Verdict::Intact {
            records,
            checkpoints,
            macs_checked,
            last_seq,
        } => {
            outln!(
                "journal intact: {records} records (last {last_seq}), {checkpoints} signed checkpoints, MACs {}",
                if *macs_checked { "verified" } else { unchecked }
            );
            true
        }
        Verdict::Broken { seq, reason } => {
            outln!("journal BROKEN at record {seq}: {reason}");
            false
        }
    }
}

/// Prints every record (jsonl) or every alert as OCSF. OCSF events name the device by
/// its enrolled id: `device_id` when given, else the journal's `trust_root_installed`
/// record; a journal with neither (a simulation database) falls back to the database
/// name, and says so on standard error.
pub(crate) fn export(
    db: &Path,
    format: ExportFormat,
    device_id: Option<&str>,
) -> Result<(), String> {
    let store = open(db)?;
    let records = store.journal_records().map_err(|e| e.to_string())?;
    let device = match format {
        ExportFormat::Jsonl => None,
        ExportFormat::Ocsf => Some(ocsf_device(db, &records, device_id)?),
    };
    for r in &records {
        match &device {
            None => crate::out::json(&journal::record_json(r)),
            Some(device) => {
                // A telemetry match comes as its DNS or network event, then the finding.
                for event in journal::record_ocsf_events(r, device)
                    .map_err(|e| format!("record {}: {e}", r.seq))?
                {
                    crate::out::json(&event);
                }
            }
        }
    }
    Ok(())
}

fn ocsf_device(
    db: &Path,
    records: &[journal::StoredRecord],
    device_id: Option<&str>,
) -> Result<journal::OcsfDevice, String> {
    if let Some(id) = device_id {
        if !valid_device_id(id) {
            return Err(
                "--device-id must be 1 to 128 characters of letters, digits, '.', '_', ':' or '-'"
                    .into(),
            );
        }
        return Ok(journal::OcsfDevice::enrolled(id));
    }
    if let Some(id) = journal::enrolled_device_id(records) {
        return Ok(journal::OcsfDevice::enrolled(&id));
    }
    let stem = db
        .file_stem()
        .map_or("device".into(), |s| s.to_string_lossy().into_owned());
    eprintln!(
        "note: the journal names no enrolled device id (no trust root installed); device.uid is the database name; pass --device-id to set it"
    );
    Ok(journal::OcsfDevice::enrolled(&stem))
}

fn valid_device_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-'))
}
