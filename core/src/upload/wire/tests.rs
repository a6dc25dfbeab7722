use super::*;
use crate::identity::SoftwareDeviceKey;

/// A device's journal built as the store builds it: chained, MACed under an evolving
/// key, with a checkpoint after every `every` records.
struct Chain {
    signer: CheckpointSigner,
    k0: EpochKey,
    records: Vec<UploadRecord>,
    checkpoints: Vec<SignedCheckpoint>,
}

fn chain(n: i64, every: i64) -> Chain {
    let c =
        crate::journal::test_chain::chain(b"upload-wire-test-device-secret", 9, 1_000, n, every);
    Chain {
        signer: c.signer,
        k0: c.k0,
        records: c
            .records
            .iter()
            .map(|r| UploadRecord::from_stored(r).unwrap())
            .collect(),
        checkpoints: c.checkpoints,
    }
}

impl Chain {
    fn position(&self, seq: i64) -> ChainPosition {
        if seq == 0 {
            return ChainPosition::GENESIS;
        }
        let r = &self.records[seq as usize - 1];
        let closed = self.checkpoints.iter().filter(|c| c.seq <= seq).count() as u64;
        ChainPosition {
            seq,
            hash: r.hash,
            next_epoch: closed,
        }
    }

    /// A signed batch of records `after + 1 ..= last`.
    fn batch(&self, batch_seq: u64, after: i64, last: i64) -> Batch {
        let head = self
            .checkpoints
            .iter()
            .find(|c| c.seq >= last)
            .or(self.checkpoints.last())
            .unwrap()
            .clone();
        let mut b = Batch {
            format: BATCH_FORMAT.into(),
            device_id: device_id(&self.signer.public_key()),
            batch_seq,
            created_at: Timestamp::from_unix_millis(50_000),
            start: self.position(after),
            start_checkpoint: None,
            records: self.records[after as usize..last as usize].to_vec(),
            checkpoints: self
                .checkpoints
                .iter()
                .filter(|c| c.seq > after && c.seq <= last)
                .cloned()
                .collect(),
            head_checkpoint: head,
            evidence: Vec::new(),
            signature: [0; 64],
        };
        sign_batch(&mut b, &self.signer);
        b
    }

    fn device(&self) -> EnrolledDevice {
        EnrolledDevice {
            checkpoint_public_key: self.signer.public_key(),
            journal_key: Some(self.k0.clone()),
        }
    }

    fn evidence(&self, id: u64, evidence: &str) -> UploadEvidence {
        let e_sha = hex(digest::digest(&digest::SHA256, evidence.as_bytes()).as_ref());
        let report = serde_json::json!({ "evidence_sha256": e_sha, "findings": [] }).to_string();
        let d: [u8; 32] = digest::digest(&digest::SHA256, report.as_bytes())
            .as_ref()
            .try_into()
            .unwrap();
        let bundle = serde_json::json!({
            "format": EVIDENCE_BUNDLE_FORMAT,
            "report": report,
            "report_signature": hex(&self.signer.sign_report(&d)),
            "public_key": hex(&self.signer.public_key()),
            "evidence": evidence,
        })
        .to_string();
        UploadEvidence { id, bundle }
    }
}

fn roundtrip(b: &Batch) -> Batch {
    decode_batch(&encode_batch(b), &DecodeLimits::default()).unwrap()
}

#[test]
fn consecutive_batches_verify_and_advance_the_cursor() {
    let c = chain(20, 6);
    let first = roundtrip(&c.batch(1, 0, 9));
    let v = verify_batch(&first, &c.device(), &CollectorCursor::NEW).unwrap();
    assert_eq!(v.records, 9);
    assert_eq!(v.macs_checked, 9);
    assert_eq!(v.cursor.last_seq, 9);
    assert_eq!(v.cursor.position(), c.position(9));
    assert_eq!(v.cursor.position(), first.end());
    // Checkpoint 6 inside, head checkpoint 12 beyond.
    assert_eq!(v.checkpoints, 2);
    let second = roundtrip(&c.batch(2, 9, 18));
    let v2 = verify_batch(&second, &c.device(), &v.cursor).unwrap();
    assert_eq!(v2.cursor.position(), c.position(18));
    assert_eq!(
        v2.cursor.next_epoch, 3,
        "the checkpoint at 18 closed epoch 2"
    );
    assert_eq!(v2.cursor.position(), second.end());
}

#[test]
fn a_collector_holding_a_later_key_skips_earlier_macs_only() {
    let c = chain(12, 4);
    let mut device = c.device();
    device.journal_key = Some(c.k0.evolve_to(2).unwrap());
    let v = verify_batch(&c.batch(1, 0, 12), &device, &CollectorCursor::NEW).unwrap();
    assert_eq!(
        v.macs_checked, 0,
        "the key is past the batch's starting epoch"
    );
    let v = verify_batch(
        &c.batch(2, 8, 12),
        &device,
        &CollectorCursor {
            last_batch_seq: 1,
            ..cursor_at(&c, 8)
        },
    )
    .unwrap();
    assert_eq!(v.macs_checked, 4);
}

fn cursor_at(c: &Chain, seq: i64) -> CollectorCursor {
    let p = c.position(seq);
    CollectorCursor {
        last_seq: p.seq,
        last_hash: p.hash,
        next_epoch: p.next_epoch,
        last_batch_seq: 1,
    }
}

#[test]
fn tampering_is_caught_by_the_batch_signature_and_by_the_chain() {
    let c = chain(10, 5);
    let mut b = c.batch(1, 0, 10);
    b.records[3].body = "{\"n\":99}".into();
    assert_eq!(
        verify_batch(&b, &c.device(), &CollectorCursor::NEW),
        Err(VerifyFailure::BadBatchSignature)
    );
    // Re-signed by the device key: the record still does not match its hash.
    sign_batch(&mut b, &c.signer);
    assert!(matches!(
        verify_batch(&b, &c.device(), &CollectorCursor::NEW),
        Err(VerifyFailure::Fork { seq: 4, .. })
    ));
    // A rewritten chain with fresh hashes but no MAC key fails the MAC.
    let mut b = c.batch(1, 0, 3);
    let mut prev = GENESIS;
    for r in &mut b.records {
        r.body = "{}".into();
        r.hash = crate::journal::record_hash(&prev, &r.fields());
        prev = r.hash;
    }
    sign_batch(&mut b, &c.signer);
    assert_eq!(
        verify_batch(&b, &c.device(), &CollectorCursor::NEW),
        Err(VerifyFailure::MacFailure { seq: 1 })
    );
    // Without the journal key the collector cannot see that.
    let no_key = EnrolledDevice {
        journal_key: None,
        ..c.device()
    };
    assert_eq!(
        verify_batch(&b, &no_key, &CollectorCursor::NEW)
            .unwrap()
            .macs_checked,
        0
    );
}

#[test]
fn replay_rollback_gap_and_fork_are_told_apart() {
    let c = chain(20, 5);
    let device = c.device();
    let first = c.batch(1, 0, 10);
    let after = verify_batch(&first, &device, &CollectorCursor::NEW)
        .unwrap()
        .cursor;
    assert_eq!(
        verify_batch(&first, &device, &after),
        Err(VerifyFailure::Replay {
            batch_seq: 1,
            last_batch_seq: 1
        })
    );
    assert_eq!(
        verify_batch(&c.batch(2, 5, 15), &device, &after),
        Err(VerifyFailure::Rollback {
            start_seq: 5,
            collector_seq: 10
        })
    );
    assert_eq!(
        verify_batch(&c.batch(2, 12, 15), &device, &after),
        Err(VerifyFailure::Gap {
            after_seq: 10,
            found_seq: 13
        })
    );
    let mut holed = c.batch(2, 10, 15);
    holed.records.remove(2);
    sign_batch(&mut holed, &c.signer);
    assert_eq!(
        verify_batch(&holed, &device, &after),
        Err(VerifyFailure::Gap {
            after_seq: 12,
            found_seq: 14
        })
    );
    // Another history from record 10 on, validly signed: a fork.
    let other = chain(20, 4);
    let mut forked = c.batch(2, 10, 15);
    forked.start.hash = other.records[9].hash;
    sign_batch(&mut forked, &c.signer);
    assert!(matches!(
        verify_batch(&forked, &device, &after),
        Err(VerifyFailure::Fork { seq: 10, .. })
    ));
}

#[test]
fn checkpoints_and_devices_are_checked() {
    let c = chain(10, 5);
    let mut b = c.batch(1, 0, 10);
    let mut sig = unhex(&b.checkpoints[0].signature).unwrap();
    sig[0] ^= 1;
    b.checkpoints[0].signature = hex(&sig);
    sign_batch(&mut b, &c.signer);
    assert!(matches!(
        verify_batch(&b, &c.device(), &CollectorCursor::NEW),
        Err(VerifyFailure::BadCheckpointSignature { seq: 5, .. })
    ));
    let mut b = c.batch(1, 0, 10);
    b.checkpoints.remove(0);
    sign_batch(&mut b, &c.signer);
    assert!(
        matches!(
            verify_batch(&b, &c.device(), &CollectorCursor::NEW),
            Err(VerifyFailure::Fork { seq: 6, .. })
        ),
        "without the checkpoint, record 6's new epoch is out of step"
    );
    let other = SoftwareDeviceKey::new(b"another-device-secret-entirely").unwrap();
    let stranger = EnrolledDevice {
        checkpoint_public_key: CheckpointSigner::derive(&other).unwrap().public_key(),
        journal_key: None,
    };
    assert_eq!(
        verify_batch(&c.batch(1, 0, 10), &stranger, &CollectorCursor::NEW),
        Err(VerifyFailure::WrongDevice)
    );
    let mut b = c.batch(1, 0, 10);
    b.device_id = device_id(&[7; 32]);
    assert_eq!(
        verify_batch(&b, &c.device(), &CollectorCursor::NEW),
        Err(VerifyFailure::WrongDevice)
    );
}

#[test]
fn evidence_bundles_are_verified() {
    let c = chain(5, 5);
    let mut b = c.batch(1, 0, 5);
    b.evidence = vec![c.evidence(1, "{\"apps\":[]}"), c.evidence(4, "{}")];
    sign_batch(&mut b, &c.signer);
    let v = verify_batch(&roundtrip(&b), &c.device(), &CollectorCursor::NEW).unwrap();
    assert_eq!(v.evidence_ids, vec![1, 4]);
    let mut e = c.evidence(2, "{\"apps\":[]}");
    e.bundle = e.bundle.replace("apps", "spps");
    b.evidence = vec![e];
    sign_batch(&mut b, &c.signer);
    assert!(matches!(
        verify_batch(&b, &c.device(), &CollectorCursor::NEW),
        Err(VerifyFailure::BadEvidenceSignature { id: 2, .. })
    ));
}

#[test]
fn a_first_batch_after_a_prune_starts_at_a_signed_checkpoint() {
    let c = chain(12, 4);
    let mut b = c.batch(1, 8, 12);
    assert!(matches!(
        verify_batch(&b, &c.device(), &CollectorCursor::NEW),
        Err(VerifyFailure::Gap { after_seq: 0, .. })
    ));
    b.start_checkpoint = Some(c.checkpoints[1].clone());
    sign_batch(&mut b, &c.signer);
    let v = verify_batch(&b, &c.device(), &CollectorCursor::NEW).unwrap();
    assert_eq!(v.skipped_before, Some(9));
    assert_eq!(v.macs_checked, 4);
    // Only a collector that never took anything accepts that.
    b.batch_seq = 2;
    sign_batch(&mut b, &c.signer);
    assert!(matches!(
        verify_batch(&b, &c.device(), &cursor_at(&c, 4)),
        Err(VerifyFailure::Gap { .. })
    ));
}

#[test]
fn the_decoder_is_strict_and_capped() {
    let c = chain(6, 3);
    let bytes = encode_batch(&c.batch(1, 0, 6));
    let limits = DecodeLimits::default();
    assert!(decode_batch(&bytes, &limits).is_ok());
    assert!(matches!(
        decode_batch(&bytes[..bytes.len() - 1], &limits),
        Err(UploadError::Malformed(_))
    ));
    let small = DecodeLimits {
        max_bytes: bytes.len() - 1,
        ..limits
    };
    assert_eq!(
        decode_batch(&bytes, &small),
        Err(UploadError::TooLarge {
            bytes: bytes.len(),
            limit: bytes.len() - 1
        })
    );
    let few = DecodeLimits {
        max_records: 5,
        ..limits
    };
    assert!(matches!(
        decode_batch(&bytes, &few),
        Err(UploadError::TooMany {
            what: "records",
            count: 6,
            limit: 5
        })
    ));
    let text = String::from_utf8(bytes.clone()).unwrap();
    let extra = text.replacen("{\"format\"", "{\"extra\":1,\"format\"", 1);
    assert!(matches!(
        decode_batch(extra.as_bytes(), &limits),
        Err(UploadError::Malformed(_))
    ));
    let twice = text.replacen("{\"format\"", "{\"batch_seq\":9,\"format\"", 1);
    assert!(matches!(
        decode_batch(twice.as_bytes(), &limits),
        Err(UploadError::Malformed(_))
    ));
    let v2 = text.replacen(BATCH_FORMAT, "portcullis/upload/v2", 1);
    assert!(matches!(
        decode_batch(v2.as_bytes(), &limits),
        Err(UploadError::UnsupportedFormat { .. })
    ));
    let short_mac = text.replacen(&hex(&c.records[0].mac), "00", 1);
    assert!(matches!(
        decode_batch(short_mac.as_bytes(), &limits),
        Err(UploadError::Malformed(_))
    ));
}

#[test]
fn receipts_verify_only_under_the_collector_key_and_unchanged() {
    let c = chain(6, 3);
    let v = verify_batch(&c.batch(1, 0, 6), &c.device(), &CollectorCursor::NEW).unwrap();
    let key = Ed25519KeyPair::from_seed_unchecked(&[3; 32]).unwrap();
    let pk: [u8; 32] = ring::signature::KeyPair::public_key(&key)
        .as_ref()
        .try_into()
        .unwrap();
    let receipt = sign_receipt(
        Receipt::for_batch(&v, Timestamp::from_unix_millis(99_000)),
        &key,
    );
    let bytes = encode_receipt(&receipt);
    assert_eq!(verify_receipt(&bytes, &pk).unwrap(), receipt);
    assert_eq!(receipt.acknowledged, c.position(6));
    assert_eq!(
        verify_receipt(&bytes, &[4; 32]),
        Err(UploadError::BadReceiptSignature)
    );
    let mut forged = receipt.clone();
    forged.acknowledged.seq = 7;
    assert_eq!(
        verify_receipt(&encode_receipt(&forged), &pk),
        Err(UploadError::BadReceiptSignature)
    );
    assert!(matches!(
        verify_receipt(&bytes[..bytes.len() - 2], &pk),
        Err(UploadError::Malformed(_))
    ));
    assert!(matches!(
        verify_receipt(&vec![b' '; MAX_RECEIPT_BYTES + 1], &pk),
        Err(UploadError::TooLarge { .. })
    ));
}

type Change = Box<dyn Fn(&mut Batch)>;

#[test]
fn the_digest_covers_every_field() {
    let c = chain(6, 3);
    let b = c.batch(1, 0, 6);
    let d = batch_digest(&b);
    let mut changes: Vec<Change> = vec![
        Box::new(|b| b.batch_seq += 1),
        Box::new(|b| b.created_at = b.created_at.plus_millis(1)),
        Box::new(|b| b.start.next_epoch += 1),
        Box::new(|b| b.records[0].at += 1),
        Box::new(|b| b.records[0].mac[0] ^= 1),
        Box::new(|b| b.checkpoints[0].epoch += 1),
        Box::new(|b| b.head_checkpoint.seq += 1),
        Box::new(|b| {
            b.evidence.push(UploadEvidence {
                id: 1,
                bundle: "{}".into(),
            });
        }),
        Box::new(|b| b.device_id = device_id(&[1; 32])),
    ];
    for (i, change) in changes.drain(..).enumerate() {
        let mut changed = b.clone();
        change(&mut changed);
        assert_ne!(batch_digest(&changed), d, "change {i}");
    }
}

/// `b` changed by `edit` and signed again by the device, so only the edit is judged.
fn resigned(c: &Chain, mut b: Batch, edit: impl FnOnce(&mut Batch)) -> Batch {
    edit(&mut b);
    sign_batch(&mut b, &c.signer);
    b
}

#[test]
fn structural_faults_in_a_signed_batch_are_refused_by_kind() {
    let c = chain(20, 5);
    let device = c.device();
    let after = verify_batch(&c.batch(1, 0, 10), &device, &CollectorCursor::NEW)
        .unwrap()
        .cursor;
    let next = || c.batch(2, 10, 15);
    verify_batch(&next(), &device, &after).expect("the unchanged batch verifies");
    let malformed = |b: &Batch| {
        matches!(
            verify_batch(b, &device, &after),
            Err(VerifyFailure::Malformed(_))
        )
    };

    assert!(malformed(
        &resigned(&c, next(), |b| b.format = "portcullis/upload/v0".into())
    ));
    // A start checkpoint belongs only to a first batch after a prune.
    assert!(malformed(&resigned(&c, next(), |b| {
        b.start_checkpoint = Some(c.checkpoints[1].clone());
    })));
    // A record repeated: out of order, not a gap.
    assert!(malformed(&resigned(&c, next(), |b| {
        let first = b.records[0].clone();
        b.records.insert(1, first);
    })));
    // A checkpoint of an earlier record sent again in front.
    assert!(malformed(&resigned(&c, next(), |b| {
        b.checkpoints.insert(0, c.checkpoints[0].clone());
    })));
    // A checkpoint past the batch's last record.
    assert!(malformed(&resigned(&c, next(), |b| {
        b.checkpoints.push(c.checkpoints[3].clone());
    })));
    // The same hash, but another epoch than the collector holds: a fork at the start.
    assert!(matches!(
        verify_batch(
            &resigned(&c, next(), |b| b.start.next_epoch += 1),
            &device,
            &after
        ),
        Err(VerifyFailure::Fork { seq: 10, .. })
    ));
}

#[test]
fn an_upload_record_reads_back_from_its_stored_form() {
    let c = chain(6, 5);
    for r in &c.records {
        let stored = r.to_stored();
        assert_eq!((stored.seq, stored.epoch), (r.seq, r.epoch));
        assert_eq!(UploadRecord::from_stored(&stored).as_ref(), Some(r));
    }
    let mut short = c.records[0].to_stored();
    short.hash.pop();
    assert_eq!(
        UploadRecord::from_stored(&short),
        None,
        "a hash of 31 bytes"
    );
}
