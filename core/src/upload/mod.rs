//! Journal shipping: what a phone sends to the office's collector and what the collector
//! answers (docs/upload.md).
//!
//! [`wire`] is the versioned format and the pure checks both sides run: the phone builds
//! and signs batches and checks receipts; the collector decodes, verifies and signs
//! receipts with the same code, so the two can never disagree on what a byte means.

pub mod wire;

pub use wire::{
    batch_digest, decode_batch, decode_receipt, device_id, encode_batch, encode_receipt,
    sign_batch, sign_receipt, verify_batch, verify_receipt, Batch, ChainPosition, CollectorCursor,
    DecodeLimits, EnrolledDevice, Receipt, UploadError, UploadEvidence, UploadRecord, Verified,
    VerifyFailure, BATCH_FORMAT, RECEIPT_FORMAT,
};
