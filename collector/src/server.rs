//! `collector serve`: the HTTP endpoint phones post upload batches to.
//!
//! One route, `POST /v1/upload`, taking a `portcullis/upload/v1` batch and answering
//! with a signed `portcullis/upload-receipt/v1` receipt. The core decodes and verifies
//! the batch against the device's enrollment and the stored cursor; this module only
//! orders the steps, stores what passed in one transaction, and answers:
//!
//! | status | when |
//! |---|---|
//! | 200 | accepted (or the last accepted batch re-sent: the same receipt again) |
//! | 400 | malformed: not JSON of the format, inconsistent fields, over a list cap |
//! | 403 | device not enrolled, or a batch, checkpoint or evidence signature that does not verify |
//! | 409 | replay (an old batch number), rollback, gap or fork against the stored history |
//! | 413 | larger than `--max-batch-bytes` |
//! | 422 | a record MAC that does not verify under the enrolled journal key |
//! | 503 | the store failed; nothing was stored, send again later |
//!
//! Every refusal has a JSON body `{"error": CODE, "reason": TEXT}`, is logged to standard
//! error, and leaves the store as it was. Gaps, forks, rollbacks and MAC failures of
//! batches signed by the enrolled device also raise an alert.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use portcullis_core::upload::{
    batch_digest, decode_batch, encode_receipt, sign_receipt, verify_batch, Batch, CollectorCursor,
    DecodeLimits, Receipt, UploadError, VerifyFailure,
};
use portcullis_core::Timestamp;
use tokio::sync::Mutex;

use crate::alerts::{Alert, AlertKind, AlertSink};
use crate::enroll::{self, EnrolledDevice};
use crate::error::Error;
use crate::keys::CollectorKey;
use crate::store::{BatchWrite, RecordRow, Store};

/// The path phones post batches to.
pub const UPLOAD_PATH: &str = "/v1/upload";

/// The default cap on a batch's size.
pub const DEFAULT_MAX_BATCH_BYTES: usize = 8 * 1024 * 1024;

/// The collector's state shared by every request.
pub struct Collector {
    store: Store,
    key: CollectorKey,
    alerts: AlertSink,
    limits: DecodeLimits,
    /// Verified enrollments, by device id (enrollments are added, never changed).
    enrolled: std::sync::RwLock<HashMap<String, Arc<EnrolledDevice>>>,
    /// One lock per device: a device's batches are judged and stored one at a time. It
    /// guards the device's cursor as this process last read or wrote it, so a batch is
    /// judged without reading the cursor back from the store; any batch that would be
    /// refused against a remembered cursor is judged again against the stored one (another
    /// process sharing the store may have moved it), and the store's guarded cursor update
    /// keeps a stale one from ever storing anything.
    locks: std::sync::Mutex<HashMap<String, Arc<Mutex<Option<KnownCursor>>>>>,
}

/// A device's cursor and the batch sequence its stored row holds (`None`: no row yet).
#[derive(Debug, Clone, Copy)]
struct KnownCursor {
    cursor: CollectorCursor,
    stored_batch_seq: Option<i64>,
}

/// How one judgement of a batch ended.
enum Judged {
    /// Accepted (or the stored receipt of a re-send): the receipt, and the device's
    /// cursor now.
    Receipt(Vec<u8>, KnownCursor),
    /// Refused by verification.
    Failed(VerifyFailure),
    /// Another writer moved the cursor between the read and the write.
    Moved,
}

/// A refusal: status, stable code, reason.
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    code: &'static str,
    reason: String,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.code, "reason": self.reason }).to_string();
        (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response()
    }
}

fn receipt_response(bytes: Vec<u8>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        bytes,
    )
        .into_response()
}

fn decode_refusal(e: &UploadError) -> Refusal {
    let status = match e {
        UploadError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        _ => StatusCode::BAD_REQUEST,
    };
    Refusal {
        status,
        code: e.code(),
        reason: e.to_string(),
    }
}

fn verify_refusal(e: &VerifyFailure) -> Refusal {
    let status = match e {
        VerifyFailure::Malformed(_) => StatusCode::BAD_REQUEST,
        VerifyFailure::WrongDevice
        | VerifyFailure::BadBatchSignature
        | VerifyFailure::BadCheckpointSignature { .. }
        | VerifyFailure::BadEvidenceSignature { .. } => StatusCode::FORBIDDEN,
        VerifyFailure::Replay { .. }
        | VerifyFailure::Rollback { .. }
        | VerifyFailure::Gap { .. }
        | VerifyFailure::Fork { .. } => StatusCode::CONFLICT,
        VerifyFailure::MacFailure { .. } => StatusCode::UNPROCESSABLE_ENTITY,
    };
    Refusal {
        status,
        code: e.code(),
        reason: e.to_string(),
    }
}

fn store_refusal(e: &Error) -> Refusal {
    eprintln!("collector: {e}");
    Refusal {
        status: StatusCode::SERVICE_UNAVAILABLE,
        code: "store_unavailable",
        reason: "the store failed; nothing was stored, send the batch again later".into(),
    }
}

/// The alert a refusal raises, if any: only failures of a batch the enrolled device
/// signed say something about the device's history.
fn alert_kind(e: &VerifyFailure) -> Option<AlertKind> {
    match e {
        VerifyFailure::Gap { .. } => Some(AlertKind::Gap),
        VerifyFailure::Fork { .. } => Some(AlertKind::Fork),
        VerifyFailure::Rollback { .. } => Some(AlertKind::Rollback),
        VerifyFailure::MacFailure { .. } => Some(AlertKind::MacFailure),
        _ => None,
    }
}

impl Collector {
    /// A collector over an open store.
    pub fn new(
        store: Store,
        key: CollectorKey,
        alerts: AlertSink,
        max_batch_bytes: usize,
    ) -> Collector {
        Collector {
            store,
            key,
            alerts,
            limits: DecodeLimits {
                max_bytes: max_batch_bytes,
                ..DecodeLimits::default()
            },
            enrolled: Default::default(),
            locks: Default::default(),
        }
    }

    /// The store, for the silence monitor and tests.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The router: the upload route with the body cap.
    pub fn router(self: Arc<Self>) -> Router {
        let cap = self.limits.max_bytes;
        Router::new()
            .route(UPLOAD_PATH, post(upload))
            .layer(DefaultBodyLimit::max(cap))
            .with_state(self)
    }

    async fn enrolled(&self, device_id: &str) -> Result<Option<Arc<EnrolledDevice>>, Error> {
        if let Some(d) = self
            .enrolled
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(device_id)
        {
            return Ok(Some(d.clone()));
        }
        let Some(device) = enroll::load(&self.store, &self.key, device_id).await? else {
            return Ok(None);
        };
        let device = Arc::new(device);
        self.enrolled
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(device_id.to_owned(), device.clone());
        Ok(Some(device))
    }

    fn lock(&self, device_id: &str) -> Arc<Mutex<Option<KnownCursor>>> {
        self.locks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(device_id.to_owned())
            .or_default()
            .clone()
    }

    /// Takes one batch: the answer's status and body. Public so the load measurement and
    /// tests can drive the same path without HTTP.
    pub async fn take(&self, bytes: &[u8]) -> Response {
        match self.take_inner(bytes).await {
            Ok(receipt) => receipt_response(receipt),
            Err(refusal) => refusal.into_response(),
        }
    }

    async fn take_inner(&self, bytes: &[u8]) -> Result<Vec<u8>, Refusal> {
        let batch = decode_batch(bytes, &self.limits).map_err(|e| {
            let r = decode_refusal(&e);
            log_refusal(None, &r);
            r
        })?;
        let device_id = batch.device_id.clone();
        let device = match self.enrolled(&device_id).await {
            Ok(Some(d)) => d,
            Ok(None) => {
                let r = Refusal {
                    status: StatusCode::FORBIDDEN,
                    code: "not_enrolled",
                    reason: "the device id is not enrolled at this collector".into(),
                };
                log_refusal(Some(&device_id), &r);
                return Err(r);
            }
            Err(e @ Error::Enrollment(_)) => {
                let r = Refusal {
                    status: StatusCode::FORBIDDEN,
                    code: "enrollment_refused",
                    reason: "the device's enrollment does not verify at this collector".into(),
                };
                eprintln!("collector: {e}");
                log_refusal(Some(&device_id), &r);
                return Err(r);
            }
            Err(e) => return Err(store_refusal(&e)),
        };
        let lock = self.lock(&device_id);
        let mut known = lock.lock().await;
        let core_device = device.core();
        // First against the remembered cursor (if any); a refusal or a moved cursor is
        // judged once more against the stored one before it is answered.
        let mut remembered = known.is_some();
        loop {
            let current = match *known {
                Some(k) => k,
                None => {
                    let k = self.read_cursor(&device_id).await?;
                    *known = Some(k);
                    k
                }
            };
            let judged = self.judge(&batch, &core_device, current).await;
            match judged {
                Ok(Judged::Receipt(receipt, now)) => {
                    *known = Some(now);
                    return Ok(receipt);
                }
                Ok(Judged::Failed(_) | Judged::Moved) if remembered => {
                    *known = None;
                    remembered = false;
                }
                Ok(Judged::Failed(failure)) => {
                    return Err(self.refuse(&batch, &current.cursor, &failure).await)
                }
                Ok(Judged::Moved) => {
                    *known = None;
                    // Another collector process moved this device's cursor meanwhile.
                    let r = Refusal {
                        status: StatusCode::SERVICE_UNAVAILABLE,
                        code: "busy",
                        reason: "another batch of this device was stored meanwhile; send again"
                            .into(),
                    };
                    log_refusal(Some(&device_id), &r);
                    return Err(r);
                }
                Err(e) => {
                    *known = None;
                    return Err(store_refusal(&e));
                }
            }
        }
    }

    async fn read_cursor(&self, device_id: &str) -> Result<KnownCursor, Refusal> {
        let row = self
            .store
            .cursor(device_id)
            .await
            .map_err(|e| store_refusal(&e))?;
        Ok(match &row {
            Some(row) => KnownCursor {
                cursor: serde_json::from_str::<CollectorCursor>(&row.cursor).map_err(|_| {
                    store_refusal(&Error::Store(format!(
                        "the stored cursor of device {} is unreadable",
                        crate::label(device_id)
                    )))
                })?,
                stored_batch_seq: Some(row.last_batch_seq),
            },
            None => KnownCursor {
                cursor: CollectorCursor::NEW,
                stored_batch_seq: None,
            },
        })
    }

    /// Judges a batch against a cursor and, if it passes, stores it with its receipt.
    async fn judge(
        &self,
        batch: &Batch,
        core_device: &portcullis_core::upload::EnrolledDevice,
        known: KnownCursor,
    ) -> Result<Judged, Error> {
        let cursor = known.cursor;
        let device_id = &batch.device_id;
        // The batch the collector took last, sent again because its receipt was lost:
        // the same receipt again, once the batch proves to be the device's own.
        if batch.batch_seq == cursor.last_batch_seq && cursor.last_batch_seq > 0 {
            let digest = batch_digest(batch);
            if let Some(Ok(receipt)) = self
                .store
                .stored_receipt(device_id, batch.batch_seq as i64, &digest)
                .await?
            {
                if verify_batch(batch, core_device, &resend_cursor(batch)).is_ok() {
                    return Ok(Judged::Receipt(receipt, known));
                }
            }
        }
        let verified = match verify_batch(batch, core_device, &cursor) {
            Ok(v) => v,
            Err(failure) => return Ok(Judged::Failed(failure)),
        };
        let now = crate::now_millis();
        let receipt = sign_receipt(
            Receipt::for_batch(&verified, Timestamp::from_unix_millis(now)),
            self.key.pair(),
        );
        let receipt_bytes = encode_receipt(&receipt);
        let write = batch_write(
            batch,
            &verified.cursor,
            verified.digest,
            &receipt_bytes,
            now,
        );
        if !self
            .store
            .write_batch(write, known.stored_batch_seq)
            .await?
        {
            return Ok(Judged::Moved);
        }
        if let Some(first) = verified.skipped_before {
            eprintln!(
                "collector: device {} starts its history at record {first}, at a signed checkpoint (earlier records were pruned on the phone before its first upload)",
                crate::label(device_id)
            );
        }
        Ok(Judged::Receipt(
            receipt_bytes,
            KnownCursor {
                cursor: verified.cursor,
                stored_batch_seq: Some(batch.batch_seq as i64),
            },
        ))
    }

    /// Answers a refused batch: logged, and an alert when it says something about the
    /// device's history.
    async fn refuse(
        &self,
        batch: &Batch,
        cursor: &CollectorCursor,
        failure: &VerifyFailure,
    ) -> Refusal {
        let r = verify_refusal(failure);
        log_refusal(Some(&batch.device_id), &r);
        if let Some(kind) = alert_kind(failure) {
            self.alerts
                .raise(&Alert {
                    kind,
                    device_id: batch.device_id.clone(),
                    at_ms: crate::now_millis(),
                    summary: format!("an upload was refused: {failure}"),
                    evidence: vec![
                        ("reason".into(), failure.code().into()),
                        ("batch_seq".into(), batch.batch_seq.to_string()),
                        ("collector_seq".into(), cursor.last_seq.to_string()),
                    ],
                })
                .await;
        }
        r
    }

    /// Raises an alert for every device silent longer than its heartbeat (once per
    /// silence: the next accepted batch re-arms it).
    pub async fn check_silence(&self, now_ms: i64) -> Result<usize, Error> {
        let mut raised = 0;
        for row in self.store.devices().await? {
            let device = match enroll::verify_row(&self.key, &row) {
                Ok(d) => d,
                Err(e) => {
                    eprintln!("collector: {e}");
                    continue;
                }
            };
            let heartbeat_ms =
                i64::try_from(device.enrollment.heartbeat_seconds.saturating_mul(1000))
                    .unwrap_or(i64::MAX);
            let cursor = self.store.cursor(&row.device_id).await?;
            let (last_seen, alerted) = match &cursor {
                Some(c) => (c.last_seen_at, c.silent_alerted),
                None => (device.enrollment.enrolled_at, false),
            };
            if alerted || now_ms.saturating_sub(last_seen) <= heartbeat_ms {
                continue;
            }
            let silent_minutes = now_ms.saturating_sub(last_seen) / 60_000;
            self.alerts
                .raise(&Alert {
                    kind: AlertKind::Silent,
                    device_id: row.device_id.clone(),
                    at_ms: now_ms,
                    summary: format!(
                        "the device has not uploaded for {silent_minutes} minutes, longer than its heartbeat of {} minutes",
                        device.enrollment.heartbeat_seconds / 60
                    ),
                    evidence: vec![
                        ("last_seen".into(), Timestamp::from_unix_millis(last_seen).to_string()),
                        (
                            "heartbeat_seconds".into(),
                            device.enrollment.heartbeat_seconds.to_string(),
                        ),
                    ],
                })
                .await;
            match cursor {
                Some(_) => self.store.mark_silent_alerted(&row.device_id).await?,
                None => {
                    let new = serde_json::to_string(&CollectorCursor::NEW).expect("serializes");
                    self.store
                        .mark_never_seen_alerted(&row.device_id, &new, last_seen)
                        .await?;
                }
            }
            raised += 1;
        }
        Ok(raised)
    }
}

/// The cursor a re-sent batch was first verified against.
fn resend_cursor(batch: &Batch) -> CollectorCursor {
    if batch.start_checkpoint.is_some() {
        return CollectorCursor::NEW;
    }
    CollectorCursor {
        last_seq: batch.start.seq,
        last_hash: batch.start.hash,
        next_epoch: batch.start.next_epoch,
        last_batch_seq: batch.batch_seq.saturating_sub(1),
    }
}

fn batch_write(
    batch: &Batch,
    cursor: &CollectorCursor,
    digest: [u8; 32],
    receipt: &[u8],
    now: i64,
) -> BatchWrite {
    let mut checkpoints: Vec<(i64, String)> = batch
        .start_checkpoint
        .iter()
        .chain(batch.checkpoints.iter())
        .chain(std::iter::once(&batch.head_checkpoint))
        .map(|c| {
            (
                c.seq,
                serde_json::to_string(c).expect("checkpoints serialize"),
            )
        })
        .collect();
    checkpoints.dedup_by_key(|(seq, _)| *seq);
    BatchWrite {
        device_id: batch.device_id.clone(),
        batch_seq: batch.batch_seq as i64,
        digest: digest.to_vec(),
        receipt: receipt.to_vec(),
        cursor: serde_json::to_string(cursor).expect("cursors serialize"),
        records: batch
            .records
            .iter()
            .map(|r| RecordRow {
                seq: r.seq,
                at: r.at,
                epoch: r.epoch,
                kind: r.kind.clone(),
                body: r.body.clone(),
                hash: r.hash.to_vec(),
                mac: r.mac.to_vec(),
            })
            .collect(),
        checkpoints,
        evidence: batch
            .evidence
            .iter()
            .map(|e| (e.id as i64, e.bundle.clone()))
            .collect(),
        received_at: now,
    }
}

fn log_refusal(device_id: Option<&str>, r: &Refusal) {
    match device_id {
        Some(d) => eprintln!(
            "collector: refused a batch from device {} ({} {}): {}",
            crate::label(d),
            r.status.as_u16(),
            r.code,
            r.reason
        ),
        None => eprintln!(
            "collector: refused a batch ({} {}): {}",
            r.status.as_u16(),
            r.code,
            r.reason
        ),
    }
}

async fn upload(
    State(collector): State<Arc<Collector>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match body {
        Ok(bytes) => collector.take(&bytes).await,
        Err(rejection) => {
            let r = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Refusal {
                    status: StatusCode::PAYLOAD_TOO_LARGE,
                    code: "too_large",
                    reason: format!(
                        "the batch is over the cap of {} bytes",
                        collector.limits.max_bytes
                    ),
                }
            } else {
                Refusal {
                    status: rejection.status(),
                    code: "unreadable_body",
                    reason: "the request body could not be read".into(),
                }
            };
            log_refusal(None, &r);
            r.into_response()
        }
    }
}

/// What `collector serve` is given.
pub struct ServeOptions {
    /// Where to listen (put TLS in front: docs/collector.md).
    pub bind: SocketAddr,
    /// How often to look for silent devices.
    pub silence_check: Duration,
}

/// Serves until Ctrl-C (or SIGTERM); prints the bound address first so a caller that
/// asked for port 0 learns the port.
pub async fn serve(collector: Arc<Collector>, options: ServeOptions) -> Result<(), Error> {
    let listener = tokio::net::TcpListener::bind(options.bind)
        .await
        .map_err(|e| Error::Io(format!("cannot listen on {}: {e}", options.bind)))?;
    let local = listener
        .local_addr()
        .map_err(|e| Error::Io(format!("cannot read the bound address: {e}")))?;
    eprintln!("collector: listening on {local}");
    println!("listening on {local}");
    let monitor = {
        let collector = collector.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(options.silence_check);
            loop {
                tick.tick().await;
                if let Err(e) = collector.check_silence(crate::now_millis()).await {
                    eprintln!("collector: the silence check failed: {e}");
                }
            }
        })
    };
    let result = axum::serve(listener, collector.clone().router())
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| Error::Io(format!("the server failed: {e}")));
    monitor.abort();
    collector.store.close().await;
    result
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        else {
            let _ = ctrl_c.await;
            return;
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
