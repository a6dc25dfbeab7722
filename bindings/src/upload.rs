//! Journal shipping across the boundary: the core hands out each upload as an HTTP
//! request in typed fields, the platform sends it with its own stack (checking the
//! certificate pins the request carries) and hands back the status and body. Every
//! decision (what to send, when, retries, receipts) is the core's.

use std::time::SystemTime;

use portcullis_core::agent;

use crate::types::{to_system_time, to_timestamp};
use crate::{Agent, PortcullisError};

/// One HTTP header.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HttpHeader {
    /// Header name.
    pub name: String,
    /// Header value.
    pub value: String,
}

/// One upload to send as it is: method, URL, headers and body. The platform's TLS stack
/// must accept only a collector certificate whose SHA-256 (of the DER) is listed.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UploadRequest {
    /// Always `POST`.
    pub method: String,
    /// The full URL.
    pub url: String,
    /// The path under the collector URL.
    pub path: String,
    /// Headers to send, in order.
    pub headers: Vec<HttpHeader>,
    /// The signed batch.
    pub body: Vec<u8>,
    /// Accepted collector certificates: SHA-256 of the DER, lower-case hex.
    pub certificate_sha256: Vec<String>,
    /// The batch's number (for logs).
    pub batch_seq: u64,
    /// Journal records it carries.
    pub records: u64,
    /// Evidence bundles it carries.
    pub evidence: u64,
}

impl From<agent::UploadRequest> for UploadRequest {
    fn from(r: agent::UploadRequest) -> Self {
        UploadRequest {
            method: r.method,
            url: r.url,
            path: r.path,
            headers: r
                .headers
                .into_iter()
                .map(|(name, value)| HttpHeader { name, value })
                .collect(),
            body: r.body,
            certificate_sha256: r.certificate_sha256,
            batch_seq: r.batch_seq,
            records: r.records,
            evidence: r.evidence,
        }
    }
}

/// What the core made of an upload attempt.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UploadOutcome {
    /// The collector acknowledged the batch.
    pub acknowledged: bool,
    /// The last journal record the collector holds.
    pub acknowledged_seq: i64,
    /// Consecutive failed attempts.
    pub failures: u32,
    /// When the upload is tried again after a failure.
    pub retry_at: Option<SystemTime>,
    /// Why the attempt failed, when it did.
    pub problem: Option<String>,
    /// When to arm the timer next.
    pub next_wakeup: Option<SystemTime>,
}

impl From<agent::UploadOutcome> for UploadOutcome {
    fn from(o: agent::UploadOutcome) -> Self {
        UploadOutcome {
            acknowledged: o.acknowledged,
            acknowledged_seq: o.acknowledged_seq,
            failures: o.failures,
            retry_at: o.retry_at.map(to_system_time),
            problem: o.problem,
            next_wakeup: o.next_wakeup.map(to_system_time),
        }
    }
}

/// Where shipping stands.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UploadStatus {
    /// The collector's name for this device.
    pub device_id: String,
    /// The last journal record the collector acknowledged (0: none).
    pub acknowledged_seq: i64,
    /// Evidence bundles waiting for the collector.
    pub pending_evidence: u64,
}

#[uniffi::export]
impl Agent {
    /// The next upload to send (on the `upload` wake duty, and again while one comes
    /// back), or `null` when there is nothing to send or a retry is not yet due. At most
    /// `max_bytes` long, within the policy's cap.
    pub async fn next_upload(
        &self,
        max_bytes: u64,
        now: SystemTime,
    ) -> Result<Option<UploadRequest>, PortcullisError> {
        let now = to_timestamp(now);
        self.with_agent(move |a| a.next_upload(max_bytes, now))
            .await
            .map(|r| r.map(Into::into))
    }

    /// How the request ended: the HTTP status (0 when no response came, including a
    /// refused certificate) and the body as received.
    pub async fn upload_response(
        &self,
        status: u16,
        body: Vec<u8>,
        now: SystemTime,
    ) -> Result<UploadOutcome, PortcullisError> {
        let now = to_timestamp(now);
        self.with_agent(move |a| a.upload_response(status, &body, now))
            .await
            .map(Into::into)
    }

    /// A collector receipt that arrived another way (the body of a 200 is passed to
    /// `upload_response`); refused unless it is signed by the policy's collector and
    /// acknowledges the batch in flight.
    pub async fn upload_acknowledged(
        &self,
        receipt: Vec<u8>,
        now: SystemTime,
    ) -> Result<UploadOutcome, PortcullisError> {
        let now = to_timestamp(now);
        self.with_agent(move |a| a.upload_acknowledged(&receipt, now))
            .await
            .map(Into::into)
    }

    /// Where shipping stands.
    pub async fn upload_status(&self) -> Result<UploadStatus, PortcullisError> {
        self.with_agent(|a| {
            Ok(UploadStatus {
                device_id: a.upload_device_id(),
                acknowledged_seq: a.upload_acknowledged_seq(),
                pending_evidence: a.upload_pending_evidence() as u64,
            })
        })
        .await
    }
}

/// A stand-in collector for binding tests: signs, with the Ed25519 key of `seed`, a
/// receipt acknowledging everything `batch` carries. It verifies nothing; the collector
/// proper verifies with `portcullis_core::upload::verify_batch`.
#[cfg(feature = "test-hooks")]
#[uniffi::export]
pub fn test_hook_collector_receipt(
    batch: Vec<u8>,
    seed: Vec<u8>,
    now: SystemTime,
) -> Result<Vec<u8>, PortcullisError> {
    use portcullis_core::upload::{self, wire};
    let invalid = |reason: String| PortcullisError::InvalidInput {
        field: "batch".into(),
        reason,
    };
    let b = upload::decode_batch(&batch, &upload::DecodeLimits::default())
        .map_err(|e| invalid(e.to_string()))?;
    let seed: [u8; 32] = seed
        .try_into()
        .map_err(|_| invalid("the seed is not 32 bytes".into()))?;
    let key = ring::signature::Ed25519KeyPair::from_seed_unchecked(&seed)
        .map_err(|_| invalid("the seed is unusable".into()))?;
    let receipt = wire::Receipt {
        format: wire::RECEIPT_FORMAT.into(),
        device_id: b.device_id.clone(),
        batch_seq: b.batch_seq,
        batch_digest: wire::batch_digest(&b),
        acknowledged: b.end(),
        evidence_ids: b.evidence.iter().map(|e| e.id).collect(),
        at: to_timestamp(now),
        signature: [0; 64],
    };
    Ok(upload::encode_receipt(&upload::sign_receipt(receipt, &key)))
}
