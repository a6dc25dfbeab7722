//! Upload batches arrive at the collector from the network, from any device or none:
//! decoding must never panic, whatever the bytes; whatever decodes must survive a round
//! trip through its encoding with the same digest, and verifying it (against the key the
//! batch itself names, so real batches in the seeds reach every check) must never panic.
//! Receipts are read from the same bytes: the phone reads them from the network too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_core::journal::{unhex32, EpochKey};
use portcullis_core::upload::{
    batch_digest, decode_batch, decode_receipt, encode_batch, encode_receipt, verify_batch,
    verify_receipt, CollectorCursor, DecodeLimits, EnrolledDevice,
};

fuzz_target!(|data: &[u8]| {
    let limits = DecodeLimits {
        max_bytes: 64 * 1024,
        max_records: 256,
        max_checkpoints: 64,
        max_evidence: 4,
    };
    if let Ok(batch) = decode_batch(data, &limits) {
        let again = decode_batch(&encode_batch(&batch), &DecodeLimits::default())
            .expect("an encoded batch decodes");
        assert_eq!(again, batch);
        assert_eq!(batch_digest(&again), batch_digest(&batch));
        if let Some(pk) = unhex32(&batch.head_checkpoint.public_key) {
            for journal_key in [None, Some(EpochKey::initial([9; 32]))] {
                let device = EnrolledDevice {
                    checkpoint_public_key: pk,
                    journal_key,
                };
                if let Ok(v) = verify_batch(&batch, &device, &CollectorCursor::NEW) {
                    assert_eq!(v.cursor.position(), batch.end());
                    assert!(v.records == batch.records.len());
                }
            }
        }
    }
    if let Ok(receipt) = decode_receipt(data) {
        assert_eq!(decode_receipt(&encode_receipt(&receipt)).unwrap(), receipt);
        let _ = verify_receipt(data, &[0; 32]);
    }
});
