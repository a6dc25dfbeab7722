//! Verification of the stored journal: the verifier's walk over the journal table and
//! the checks that bind it to the rest of the database (enrollment facts, outbox,
//! acknowledgements, pruning anchor).

use rusqlite::types::ValueRef;

use super::{Store, ACK_KIND, ALERT_KIND, META_ENROLLED_AT, META_PUBLIC_KEY, PRUNED_KIND};
use crate::error::{Result, StorageContext};
use crate::identity::hex;
use crate::journal::{self, unhex32, Anchor, RecordRef, Verdict, Verifier, VerifyOptions};
use crate::time::Timestamp;

impl Store {
    /// Verifies the journal: hash chain, MACs (with the console's epoch-0 key), checkpoints,
    /// the pruning anchor, the enrollment facts and the outbox's binding to the journal.
    pub fn verify_journal(&self, options: VerifyOptions) -> Result<Verdict> {
        // Sized by sequence numbers alone: a damaged record must be reported by the walk,
        // not fail the sizing.
        let last: Option<i64> = self
            .conn
            .query_row("SELECT max(seq) FROM journal", [], |r| r.get(0))
            .context("sizing the journal")?;
        let records = last.map_or(0, |last| {
            last.saturating_sub(self.anchor().map_or(0, |a| a.seq))
        });
        self.verify_journal_with(options, Parallelism::for_records(records))
    }

    /// [`Store::verify_journal`] with the thread count and batch size chosen by the caller.
    pub fn verify_journal_with(
        &self,
        options: VerifyOptions,
        parallelism: Parallelism,
    ) -> Result<Verdict> {
        // One read transaction: the journal, checkpoints and outbox are read as of one moment.
        let _snapshot = self
            .conn
            .unchecked_transaction()
            .context("starting to read the journal")?;
        let anchor = self.anchor()?;
        let checkpoints = self.checkpoints()?;
        // Enrollment stores the checkpoint public key; without it stored checkpoints could
        // not be checked, so its absence is tampering, never a reason to skip the check.
        let stored_key = self.meta(META_PUBLIC_KEY)?;
        let Some(public_key) = stored_key.as_deref().and_then(unhex32) else {
            return Ok(Verdict::Broken {
                seq: 1,
                reason: "the checkpoint public key enrollment stores (meta checkpoint_public_key) is missing or malformed (deleted or edited)".into(),
            });
        };
        if let Some(console) = &options.console_checkpoint {
            if unhex32(&console.public_key).is_some_and(|k| k != public_key) {
                return Ok(Verdict::Broken {
                    seq: 1,
                    reason: "the stored checkpoint public key is not the one the console pinned (replaced)".into(),
                });
            }
        }
        let mut verifier = match Verifier::new(anchor, checkpoints, Some(public_key), options) {
            Ok(v) => v,
            Err(failure) => return Ok(Verdict::broken(failure)),
        };
        let mut outbox = self
            .conn
            .prepare(
                "SELECT id, journal_seq, at, kind, severity, slot, detector, detector_version, summary, evidence, acked_at
                 FROM outbox ORDER BY journal_seq, id",
            )
            .context("preparing the outbox check")?;
        let mut bindings = Bindings::start(
            outbox.query([]).context("reading the outbox")?,
            anchor,
            hex(&public_key),
            self.meta(META_ENROLLED_AT)?,
        );
        let mut stmt = self
            .conn
            .prepare("SELECT seq, at, epoch, kind, body, hash, mac FROM journal ORDER BY seq")
            .context("preparing journal verification")?;
        let mut rows = stmt.query([]).context("reading the journal")?;
        if parallelism.workers == 0 {
            while let Some(row) = rows.next().context("reading a journal record")? {
                let expected = verifier.expected_seq();
                if let Err(failure) = with_row(row, expected, |r, hash, mac| {
                    verifier.push_parts(r, hash, mac)?;
                    bindings.record(r)
                }) {
                    return Ok(Verdict::broken(failure));
                }
            }
            let tail = bindings.finish();
            return Ok(with_failure(verifier.finish(), tail));
        }
        // SQLite is read on this thread, in order, with the checks that need order; the
        // hashes and MACs of whole batches are checked by the workers meanwhile.
        let batch_len = parallelism.batch.max(1);
        let (verdict, complete) = journal::verify_threaded(
            verifier,
            parallelism.workers,
            |verifier, send| -> Result<_> {
                while let Some(row) = rows.next().context("reading a journal record")? {
                    let expected = verifier.expected_seq();
                    match with_row(row, expected, |r, hash, mac| {
                        let batch = verifier.push_deferred(r, hash, mac, batch_len)?;
                        Ok((batch, bindings.record(r)))
                    }) {
                        Ok((batch, bound)) => {
                            // A full batch goes to the workers even when the record fails
                            // its binding: it may hold an earlier failure.
                            if let Some(batch) = batch {
                                if !send(batch) {
                                    break;
                                }
                            }
                            if let Err(failure) = bound {
                                return Ok(Some(failure));
                            }
                        }
                        Err(failure) => return Ok(Some(failure)),
                    }
                }
                Ok(None)
            },
        )?;
        // What the outbox holds beyond the records read counts only after a complete walk
        // over intact records, as in the one-thread walk, which stops at the first failure.
        let tail = if complete { bindings.finish() } else { None };
        Ok(with_failure(verdict, tail))
    }
}

/// A verdict with a further failure found beside the walk: the earlier one is reported.
fn with_failure(verdict: Verdict, failure: Option<(i64, String)>) -> Verdict {
    match (verdict, failure) {
        (verdict, None) => verdict,
        (verdict @ Verdict::Broken { seq: first, .. }, Some((seq, _))) if first <= seq => verdict,
        (_, Some(failure)) => Verdict::broken(failure),
    }
}

/// One outbox row as verification compares it with its alert record.
struct OutboxRow {
    id: i64,
    journal_seq: i64,
    at: i64,
    kind: String,
    severity: String,
    slot: Option<i64>,
    detector: String,
    detector_version: i64,
    summary: String,
    evidence: String,
    acked_at: Option<i64>,
}

impl OutboxRow {
    fn read(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(OutboxRow {
            id: row.get(0)?,
            journal_seq: row.get(1)?,
            at: row.get(2)?,
            kind: row.get(3)?,
            severity: row.get(4)?,
            slot: row.get(5)?,
            detector: row.get(6)?,
            detector_version: row.get(7)?,
            summary: row.get(8)?,
            evidence: row.get(9)?,
            acked_at: row.get(10)?,
        })
    }

    /// Whether the row holds exactly what its alert record queued.
    fn matches(&self, record: &RecordRef<'_>) -> bool {
        let Ok(journal::RecordBody::Alert(f)) = journal::decode_record(record.kind, record.body)
        else {
            return false;
        };
        let evidence = serde_json::to_string(&f.evidence).unwrap_or_default();
        self.at == f.at.as_unix_millis()
            && self.kind == f.kind.as_str()
            && self.severity == f.severity().as_str()
            && self.slot == f.slot.map(i64::from)
            && self.detector == f.detector
            && self.detector_version == i64::from(f.detector_version)
            && self.summary == f.summary
            && self.evidence == evidence
    }
}

/// What ties the journal to the rest of the database, checked as the walk passes each
/// record: record 1 is the enrollment and names the stored checkpoint public key; every
/// `alert` record has exactly one outbox row holding the same alert, and no row exists
/// without one; a row marked delivered is named by a later acknowledgement record at
/// the same time, and no acknowledgement names a row still marked undelivered.
///
/// Both tables are read in journal order, so memory holds only the rows marked delivered
/// whose acknowledgement record has not been reached yet, and the undelivered ones.
struct Bindings<'s> {
    rows: rusqlite::Rows<'s>,
    next: Option<OutboxRow>,
    /// Whether the next row was read (`next` may be `None` at the end).
    peeked: bool,
    anchor_seq: i64,
    anchor: Anchor,
    /// The anchor the last `journal_pruned` record names.
    last_pruned: Option<(i64, String)>,
    public_key: String,
    enrolled_at: Option<String>,
    /// Rows marked delivered, by id: their alert's record and the delivery time.
    awaiting_ack: std::collections::HashMap<i64, (i64, i64)>,
    undelivered: std::collections::HashSet<i64>,
}

type Failure = (i64, String);

impl<'s> Bindings<'s> {
    fn start(
        rows: rusqlite::Rows<'s>,
        anchor: Anchor,
        public_key: String,
        enrolled_at: Option<String>,
    ) -> Self {
        Bindings {
            rows,
            next: None,
            peeked: false,
            anchor_seq: anchor.seq,
            anchor,
            last_pruned: None,
            public_key,
            enrolled_at,
            awaiting_ack: Default::default(),
            undelivered: Default::default(),
        }
    }

    fn peek(&mut self) -> std::result::Result<Option<&OutboxRow>, Failure> {
        if !self.peeked {
            let first = self.anchor_seq.saturating_add(1);
            let row = self
                .rows
                .next()
                .map_err(|_| (first, "the outbox cannot be read".to_owned()))?;
            self.next = match row {
                Some(row) => Some(
                    OutboxRow::read(row)
                        .map_err(|_| (first, "an outbox row is malformed (edited)".to_owned()))?,
                ),
                None => None,
            };
            self.peeked = true;
        }
        Ok(self.next.as_ref())
    }

    fn take(&mut self) -> Option<OutboxRow> {
        self.peeked = false;
        self.next.take()
    }

    /// Rows before record `seq` that no alert record claimed.
    fn unclaimed_before(&mut self, seq: i64) -> std::result::Result<(), Failure> {
        let first = self.anchor_seq.saturating_add(1);
        if let Some(row) = self.peek()? {
            if row.journal_seq < seq {
                let at = row.journal_seq.max(first);
                return Err((
                    at,
                    format!(
                        "outbox row {} names record {}, which queued no alert (forged or edited)",
                        row.id, row.journal_seq
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Checks one record (already checked in order by the verifier) and the outbox rows
    /// that name it; a row that names it without being claimed is reported here, at it.
    fn record(&mut self, r: &RecordRef<'_>) -> std::result::Result<(), Failure> {
        self.unclaimed_before(r.seq)?;
        self.claim(r)?;
        self.unclaimed_before(r.seq.saturating_add(1))
    }

    fn claim(&mut self, r: &RecordRef<'_>) -> std::result::Result<(), Failure> {
        if r.seq == 1 {
            self.enrollment(r)?;
        }
        match r.kind {
            ALERT_KIND => {
                if self.peek()?.map(|row| row.journal_seq) != Some(r.seq) {
                    return Err((
                        r.seq,
                        "the alert's outbox row is missing (deleted)".to_owned(),
                    ));
                }
                let row = self.take().expect("peeked above");
                if !row.matches(r) {
                    return Err((
                        r.seq,
                        format!(
                            "outbox row {} does not hold the alert its record queued (edited)",
                            row.id
                        ),
                    ));
                }
                match row.acked_at {
                    Some(at) => {
                        self.awaiting_ack.insert(row.id, (r.seq, at));
                    }
                    None => {
                        self.undelivered.insert(row.id);
                    }
                }
                Ok(())
            }
            ACK_KIND => {
                #[derive(serde::Deserialize)]
                struct Acked {
                    alert_ids: Vec<i64>,
                }
                let acked: Acked = crate::json::from_str(r.body).map_err(|_| {
                    (
                        r.seq,
                        "the acknowledgement record is unreadable (edited)".to_owned(),
                    )
                })?;
                for id in acked.alert_ids {
                    match self.awaiting_ack.remove(&id) {
                        Some((_, at)) if at != r.at => {
                            return Err((
                                r.seq,
                                format!("outbox row {id} records another delivery time than its acknowledgement (edited)"),
                            ))
                        }
                        Some(_) => {}
                        // Acknowledged rows are pruned with their alert's record.
                        None if self.undelivered.contains(&id) => {
                            return Err((
                                r.seq,
                                format!("outbox row {id} is acknowledged here but marked undelivered (edited)"),
                            ))
                        }
                        None => {}
                    }
                }
                Ok(())
            }
            PRUNED_KIND => {
                #[derive(serde::Deserialize)]
                struct Pruned {
                    seq: i64,
                    hash: String,
                }
                let pruned: Pruned = crate::json::from_str(r.body).map_err(|_| {
                    (
                        r.seq,
                        "the pruning record is unreadable (edited)".to_owned(),
                    )
                })?;
                self.last_pruned = Some((pruned.seq, pruned.hash.to_ascii_lowercase()));
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Record 1 is the enrollment, naming the checkpoint public key and the enrollment
    /// time stored beside it.
    fn enrollment(&self, r: &RecordRef<'_>) -> std::result::Result<(), Failure> {
        let Ok(journal::RecordBody::Enrolled { public_key, at }) =
            journal::decode_record(r.kind, r.body)
        else {
            return Err((1, "record 1 is not the enrollment (edited)".to_owned()));
        };
        if !public_key.eq_ignore_ascii_case(&self.public_key) {
            return Err((
                1,
                "the enrollment record names another checkpoint public key than the one stored (replaced)".to_owned(),
            ));
        }
        if self
            .enrolled_at
            .as_deref()
            .and_then(Timestamp::parse_rfc3339)
            != Some(at)
        {
            return Err((
                1,
                "the stored enrollment time (meta enrolled_at) is missing or differs from record 1 (edited)".to_owned(),
            ));
        }
        Ok(())
    }

    /// After a complete walk: rows beyond the last record, and rows marked delivered that
    /// no acknowledgement record names.
    fn finish(mut self) -> Option<Failure> {
        let first = self.anchor_seq.saturating_add(1);
        if self.anchor != Anchor::GENESIS
            && self.last_pruned != Some((self.anchor.seq, hex(&self.anchor.hash)))
        {
            return Some((
                self.anchor.seq,
                format!(
                    "the pruning anchor at record {} is not the one the journal's last pruning record names (forged)",
                    self.anchor.seq
                ),
            ));
        }
        let mut failure = match self.peek() {
            Err(failure) => Some(failure),
            Ok(Some(row)) => Some((
                row.journal_seq.max(first),
                format!(
                    "outbox row {} names record {}, which the journal does not hold (removed)",
                    row.id, row.journal_seq
                ),
            )),
            Ok(None) => None,
        };
        if let Some((&id, &(seq, _))) = self.awaiting_ack.iter().min_by_key(|(_, (seq, _))| *seq) {
            failure = journal::earliest(
                failure,
                Some((
                    seq,
                    format!("outbox row {id} is marked delivered, but no acknowledgement record names it (edited)"),
                )),
            );
        }
        failure
    }
}

/// How journal verification spreads over threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parallelism {
    /// Threads checking hashes and MACs beside the one reading SQLite; 0 checks inline.
    pub workers: usize,
    /// Records per batch handed to a worker.
    pub batch: usize,
}

impl Parallelism {
    /// Journals shorter than this verify inline: starting threads would cost more.
    const MIN_RECORDS: i64 = 16_384;

    /// Inline for short journals; otherwise one worker per spare core, at most three
    /// (beyond that the reading thread is the bottleneck).
    pub fn for_records(records: i64) -> Self {
        let spare = std::thread::available_parallelism()
            .map(|n| n.get().saturating_sub(1))
            .unwrap_or(0);
        Parallelism {
            workers: if records < Self::MIN_RECORDS {
                0
            } else {
                spare.clamp(1, 3)
            },
            batch: 1_024,
        }
    }
}

/// Hands `f` one journal row, borrowed from SQLite's buffer; a field of the wrong type or
/// text that is not UTF-8 is a broken record.
/// `expected` is the sequence number the walk expects: a malformed row elsewhere means
/// records are missing before it, which is reported first, as for a well-formed row.
fn with_row<T>(
    row: &rusqlite::Row<'_>,
    expected: i64,
    f: impl FnOnce(&RecordRef<'_>, &[u8], &[u8]) -> std::result::Result<T, (i64, String)>,
) -> std::result::Result<T, (i64, String)> {
    // Verification touches every record; copying each into owned strings cost more
    // than hashing it.
    let seq: i64 = row.get(0).map_err(|_| {
        (
            0,
            "a record has a malformed sequence number (edited)".to_owned(),
        )
    })?;
    let edited = |what: &str| {
        if seq != expected {
            (
                expected,
                format!("expected record {expected}, found {seq} (removed or reordered)"),
            )
        } else {
            (seq, format!("record has a malformed {what} (edited)"))
        }
    };
    let text = |i: usize| match row.get_ref(i) {
        Ok(ValueRef::Text(t)) => std::str::from_utf8(t).map_err(|_| {
            let (at, reason) = edited("text");
            if at == seq {
                (seq, "record is not valid UTF-8 (edited)".to_owned())
            } else {
                (at, reason)
            }
        }),
        _ => Err(edited(if i == 3 { "kind" } else { "body" })),
    };
    let blob = |i: usize| match row.get_ref(i) {
        Ok(ValueRef::Blob(b)) => Ok(b),
        _ => Err(edited(if i == 5 { "hash" } else { "MAC" })),
    };
    let record = RecordRef {
        seq,
        at: row.get(1).map_err(|_| edited("time"))?,
        epoch: row.get(2).map_err(|_| edited("epoch"))?,
        kind: text(3)?,
        body: text(4)?,
    };
    f(&record, blob(5)?, blob(6)?)
}
