//! The outbox: alerts queued in the transaction of their journal record, handed out
//! until acknowledged.

use rusqlite::{params, Connection, TransactionBehavior};

use super::journal_tables::Appender;
use super::{Store, ALERT_KIND};
use crate::alert::{Alert, AlertId, AlertKind, Finding, Severity};
use crate::error::{Error, Result, StorageContext};
use crate::time::Timestamp;

impl Store {
    /// Hands out up to `limit` unacknowledged alerts, oldest first, counting the attempt.
    pub(crate) fn pending_alerts(&mut self, limit: u32) -> Result<Vec<Alert>> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .context("starting to read pending alerts")?;
        let alerts = {
            let mut stmt = tx
                .prepare_cached(
                    "UPDATE outbox SET delivery_attempts = delivery_attempts + 1
                     WHERE id IN (SELECT id FROM outbox WHERE acked_at IS NULL ORDER BY id LIMIT ?1)
                     RETURNING id, at, kind, slot, detector, detector_version, summary, evidence, delivery_attempts, severity",
                )
                .context("preparing the pending-alerts query")?;
            let rows = stmt
                .query_map([limit], |r| {
                    Ok(PendingRow {
                        id: r.get(0)?,
                        at: r.get(1)?,
                        kind: r.get(2)?,
                        slot: r.get(3)?,
                        detector: r.get(4)?,
                        detector_version: r.get(5)?,
                        summary: r.get(6)?,
                        evidence: r.get(7)?,
                        attempts: r.get(8)?,
                        severity: r.get(9)?,
                    })
                })
                .context("reading pending alerts")?;
            let mut alerts = Vec::new();
            for row in rows {
                let row = row.context("reading a pending alert")?;
                let id = row.id;
                let severity: Severity = row.severity.parse().map_err(|()| {
                    Error::Corrupt(format!("outbox row {id} has an unknown severity"))
                })?;
                let kind: AlertKind = row.kind.parse().map_err(|()| {
                    Error::Corrupt(format!("outbox row {id} has an unknown alert kind"))
                })?;
                let evidence: Vec<(String, String)> = crate::json::from_str(&row.evidence)
                    .map_err(|_| {
                        Error::Corrupt(format!("outbox row {id} has unreadable evidence"))
                    })?;
                alerts.push(Alert {
                    id: AlertId::try_from(id)
                        .map_err(|_| Error::Corrupt("an outbox row id is out of range".into()))?,
                    finding: Finding {
                        at: Timestamp::from_unix_millis(row.at),
                        kind,
                        slot: row.slot,
                        detector: row.detector,
                        detector_version: row.detector_version,
                        summary: row.summary,
                        evidence,
                        severity: Some(severity),
                    },
                    severity,
                    delivery_attempts: row.attempts,
                });
            }
            crate::sort::sort_by_key(&mut alerts, |a| a.id);
            alerts
        };
        tx.commit().context("recording delivery attempts")?;
        Ok(alerts)
    }

    /// Marks alerts delivered; unknown or already acknowledged ids are ignored. Returns how many changed.
    pub(crate) fn ack(&mut self, ids: &[AlertId], now: Timestamp) -> Result<usize> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .context("starting an acknowledgement")?;
        let mut acked = Vec::new();
        {
            let mut stmt = tx
                .prepare_cached(
                    "UPDATE outbox SET acked_at = ?2 WHERE id = ?1 AND acked_at IS NULL",
                )
                .context("preparing an acknowledgement")?;
            for id in ids {
                let row =
                    i64::try_from(*id).map_err(|_| Error::invalid("alert_id", "out of range"))?;
                if stmt
                    .execute(params![row, now.as_unix_millis()])
                    .context("acknowledging an alert")?
                    > 0
                {
                    acked.push(*id);
                }
            }
        }
        if !acked.is_empty() {
            let body = serde_json::json!({ "alert_ids": acked }).to_string();
            Appender::start(&tx, self.key.as_ref(), now.as_unix_millis())?
                .append("alerts_acknowledged", &body)?;
        }
        tx.commit().context("committing acknowledgements")?;
        Ok(acked.len())
    }

    /// Counts unacknowledged alerts.
    pub fn pending_count(&self) -> Result<u64> {
        self.conn
            .query_row(
                "SELECT count(*) FROM outbox WHERE acked_at IS NULL",
                [],
                |r| r.get::<_, i64>(0),
            )
            .context("counting pending alerts")
            .map(|n| n.max(0) as u64)
    }
    /// When the first high or critical alert journalled after record `after` was raised:
    /// an upload is due at once after one.
    pub fn severe_alert_after(&self, after: i64) -> Result<Option<Timestamp>> {
        let at: Option<i64> = self
            .conn
            .query_row(
                "SELECT min(at) FROM outbox WHERE journal_seq > ?1 AND severity IN ('high', 'critical')",
                [after],
                |r| r.get(0),
            )
            .context("looking for severe alerts")?;
        Ok(at.map(Timestamp::from_unix_millis))
    }
}

/// An outbox row as read back, before its kind, severity and evidence are parsed.
struct PendingRow {
    id: i64,
    at: i64,
    kind: String,
    slot: Option<u8>,
    detector: String,
    detector_version: u32,
    summary: String,
    evidence: String,
    attempts: u32,
    severity: String,
}

/// Journals each finding as an `alert` record and queues it in the outbox, inside a
/// step's transaction.
pub(super) fn queue(
    tx: &Connection,
    journal: &mut Appender<'_>,
    findings: Vec<Finding>,
) -> Result<Vec<Alert>> {
    let mut queued = Vec::with_capacity(findings.len());
    for finding in findings {
        let body = serde_json::to_string(&finding)
            .map_err(|e| Error::Corrupt(format!("cannot encode a finding: {e}")))?;
        let journal_seq = journal.append(ALERT_KIND, &body)?;
        let evidence = serde_json::to_string(&finding.evidence)
            .map_err(|e| Error::Corrupt(format!("cannot encode evidence: {e}")))?;
        let severity = finding.severity();
        tx.execute(
            "INSERT INTO outbox(journal_seq, at, kind, severity, slot, detector, detector_version, summary, evidence)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                journal_seq,
                finding.at.as_unix_millis(),
                finding.kind.as_str(),
                severity.as_str(),
                finding.slot,
                finding.detector,
                finding.detector_version,
                finding.summary,
                evidence,
            ],
        )
        .context("queueing an alert")?;
        queued.push(Alert {
            id: AlertId::try_from(tx.last_insert_rowid())
                .map_err(|_| Error::Corrupt("an outbox row id is out of range".into()))?,
            finding,
            severity,
            delivery_attempts: 0,
        });
    }
    Ok(queued)
}
