//! Journal shipping, phone side: the agent builds signed batches as requests, a collector
//! made of the same wire module verifies them and signs receipts, and only verified
//! receipts move the phone's cursor and allow pruning. Retries send the same bytes; a
//! severe alert makes an upload due at once; bad receipts change nothing.

mod policy_support;

use std::path::Path;
use std::sync::Arc;

use policy_support::{
    enroll_with_policy, pending_ids, repo, sim_ready as sim, software_key, DAY, HOUR, MINUTE, T0,
};
use portcullis_core::agent::MAX_PENDING_EVIDENCE;
use portcullis_core::journal::EpochKey;
use portcullis_core::policy::model::UploadRules;
use portcullis_core::policy::{Policy, PolicyError};
use portcullis_core::upload::{
    batch_digest, decode_batch, encode_receipt, sign_receipt, verify_batch, Batch, CollectorCursor,
    DecodeLimits, EnrolledDevice, Receipt, VerifyFailure,
};
use portcullis_core::{Agent, DeviceKey, Error, Timestamp};
use ring::signature::{Ed25519KeyPair, KeyPair};

fn device_key() -> Arc<dyn DeviceKey> {
    software_key(b"upload-test-device-secret")
}

fn collector_key() -> Ed25519KeyPair {
    Ed25519KeyPair::from_seed_unchecked(&[21; 32]).unwrap()
}

fn shipping_policy(interval_minutes: u32) -> Policy {
    let mut p = Policy::from_json(&std::fs::read(repo("policies/baseline.json")).unwrap()).unwrap();
    let pk = collector_key().public_key().as_ref().to_vec();
    p.upload = Some(UploadRules {
        collector_url: "https://collector.example.org".into(),
        certificate_sha256: vec!["ab".repeat(32)],
        receipt_key: pk.iter().map(|b| format!("{b:02x}")).collect(),
        interval_minutes,
        max_batch_bytes: 64 * 1024,
        heartbeat_minutes: 24 * 60,
        notes: Vec::new(),
    });
    p.validate().unwrap();
    p
}

fn agent_with(db: &Path, policy: Policy) -> Agent {
    let mut agent = Agent::open(db, device_key(), T0, [5; 32]).unwrap();
    enroll_with_policy(&mut agent, policy);
    agent
}

/// A collector as the wire module defines it: verifies, keeps the cursor, signs receipts,
/// answers a re-sent batch with its stored receipt.
struct Collector {
    device: EnrolledDevice,
    cursor: CollectorCursor,
    stored: Vec<([u8; 32], Vec<u8>)>,
    records: usize,
    evidence: usize,
}

impl Collector {
    fn enroll(agent: &Agent) -> Self {
        Collector {
            device: EnrolledDevice {
                checkpoint_public_key: agent.checkpoint_public_key(),
                journal_key: agent
                    .journal_key_export()
                    .unwrap()
                    .map(|k| EpochKey::from_bytes(0, k)),
            },
            cursor: CollectorCursor::NEW,
            stored: Vec::new(),
            records: 0,
            evidence: 0,
        }
    }

    fn take(&mut self, body: &[u8], at: Timestamp) -> Result<Vec<u8>, VerifyFailure> {
        let batch = decode_batch(body, &DecodeLimits::default())
            .map_err(|e| VerifyFailure::Malformed(e.to_string()))?;
        let digest = batch_digest(&batch);
        if let Some((_, receipt)) = self.stored.iter().find(|(d, _)| *d == digest) {
            return Ok(receipt.clone());
        }
        let v = verify_batch(&batch, &self.device, &self.cursor)?;
        assert_eq!(
            v.macs_checked, v.records,
            "the collector holds the journal key"
        );
        self.cursor = v.cursor;
        self.records += v.records;
        self.evidence += v.evidence_ids.len();
        let receipt = encode_receipt(&sign_receipt(Receipt::for_batch(&v, at), &collector_key()));
        self.stored.push((digest, receipt.clone()));
        Ok(receipt)
    }
}

/// Sends every upload the agent has now; returns how many batches went.
fn ship(agent: &mut Agent, collector: &mut Collector, now: Timestamp) -> usize {
    ship_within(agent, collector, now, 16 * 1024)
}

fn ship_within(agent: &mut Agent, collector: &mut Collector, now: Timestamp, budget: u64) -> usize {
    let mut sent = 0;
    while let Some(req) = agent.next_upload(budget, now).unwrap() {
        assert!(req.body.len() as u64 <= budget, "{} bytes", req.body.len());
        assert_eq!(req.method, "POST");
        assert_eq!(req.url, "https://collector.example.org/v1/upload");
        assert_eq!(req.certificate_sha256, vec!["ab".repeat(32)]);
        let receipt = collector.take(&req.body, now).expect("the batch verifies");
        let outcome = agent.upload_response(200, &receipt, now).unwrap();
        assert!(outcome.acknowledged, "{outcome:?}");
        sent += 1;
        assert!(sent < 200, "uploads never end");
    }
    assert_eq!(
        agent.upload_acknowledged_seq(),
        agent_head(agent),
        "shipped up to the head"
    );
    sent
}

fn evidence() -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/spyware-evidence.json"),
    )
    .unwrap()
}

fn agent_head(agent: &Agent) -> i64 {
    match agent.verify_journal(Default::default()).unwrap() {
        portcullis_core::journal::Verdict::Intact { last_seq, .. } => last_seq,
        broken @ portcullis_core::journal::Verdict::Broken { .. } => panic!("{broken:?}"),
    }
}

#[test]
fn a_day_of_events_ships_in_verified_batches() {
    let dir = tempfile::tempdir().unwrap();
    let mut agent = agent_with(&dir.path().join("agent.db"), shipping_policy(30));
    let mut collector = Collector::enroll(&agent);
    let mut batches = 0;
    let mut wakes_with_upload = 0;
    let mut t = T0;
    for step in 0..(24 * 6) {
        t = T0.plus_millis(step * 10 * MINUTE);
        // A SIM swapped back and forth every four hours: alerts, journalled.
        let iccid = ["8944110012345678901", "8944110098765432109"][(step / 24) as usize % 2];
        agent.handle(&sim(iccid), t).unwrap();
        let ids = pending_ids(&mut agent, 50);
        agent.ack_alerts(&ids, t).unwrap();
        if step % 3 == 0 {
            let w = agent.wake(t, None).unwrap();
            if w.duties.upload {
                wakes_with_upload += 1;
                batches += ship(&mut agent, &mut collector, t);
            }
        }
    }
    assert!(
        (40..=60).contains(&wakes_with_upload),
        "a 30-minute cadence over a day: {wakes_with_upload}"
    );
    assert!(batches >= wakes_with_upload);
    // Everything up to the last acknowledgement is at the collector, chained and MACed.
    let acked = agent.upload_acknowledged_seq();
    assert_eq!(collector.cursor.last_seq, acked);
    assert!(acked > 10, "a day of records: {acked}");
    assert!(collector.records as i64 >= acked);
    assert!(agent.next_wakeup().unwrap() <= t.plus_millis(30 * MINUTE));
}

#[test]
fn a_severe_alert_makes_an_upload_due_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut agent = agent_with(&dir.path().join("agent.db"), shipping_policy(240));
    let mut collector = Collector::enroll(&agent);
    let t = T0.plus_millis(HOUR);
    assert!(
        agent.wake(t, None).unwrap().duties.upload,
        "never uploaded: due"
    );
    ship(&mut agent, &mut collector, t);
    let quiet = agent.wake(t.plus_millis(MINUTE), None).unwrap();
    assert!(!quiet.duties.upload);
    agent
        .handle(&sim("8944110012345678901"), t.plus_millis(2 * MINUTE))
        .unwrap();
    let swap = t.plus_millis(3 * MINUTE);
    let alerts = agent.handle(&sim("8944110098765432109"), swap).unwrap();
    assert!(!alerts.is_empty(), "the SIM was replaced");
    assert_eq!(
        agent.next_wakeup(),
        Some(swap),
        "an upload is due at the alert"
    );
    let w = agent.wake(swap, None).unwrap();
    assert!(w.duties.upload);
    assert_eq!(ship(&mut agent, &mut collector, swap), 1);
    assert!(w.next_wakeup.unwrap() > swap);
}

#[test]
fn failures_back_off_and_retries_send_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agent.db");
    let mut agent = agent_with(&db, shipping_policy(60));
    let mut collector = Collector::enroll(&agent);
    let t = T0.plus_millis(HOUR);
    assert!(agent.wake(t, None).unwrap().duties.upload);
    let first = agent.next_upload(1 << 20, t).unwrap().unwrap();
    let failed = agent.upload_response(0, b"", t).unwrap();
    assert!(!failed.acknowledged);
    assert_eq!(failed.failures, 1);
    assert_eq!(failed.retry_at, Some(t.plus_millis(30_000)));
    assert_eq!(agent.next_wakeup(), Some(t.plus_millis(30_000)));
    assert_eq!(agent.next_upload(1 << 20, t).unwrap(), None, "backing off");
    let again = agent.upload_response(503, b"busy", t.plus_millis(40_000));
    assert_eq!(again.unwrap().retry_at, Some(t.plus_millis(100_000)));
    // The collector took it, but the receipt was lost.
    let t2 = t.plus_millis(2 * MINUTE);
    let retry = agent.next_upload(1 << 20, t2).unwrap().unwrap();
    assert_eq!(retry.body, first.body, "a retry sends the same batch");
    let receipt = collector.take(&retry.body, t2).unwrap();
    drop(agent);
    // Across a restart, still the same bytes; the collector answers with its stored receipt.
    let mut agent = Agent::open(&db, device_key(), t2, [5; 32]).unwrap();
    let retry = agent.next_upload(1 << 20, t2).unwrap().unwrap();
    assert_eq!(retry.body, first.body);
    assert_eq!(collector.take(&retry.body, t2).unwrap(), receipt);
    let ok = agent.upload_response(200, &receipt, t2).unwrap();
    assert!(ok.acknowledged);
    assert_eq!(ok.failures, 0);
    assert_eq!(ok.retry_at, None);
    assert_eq!(agent.upload_acknowledged_seq(), collector.cursor.last_seq);
}

#[test]
fn bad_receipts_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut agent = agent_with(&dir.path().join("agent.db"), shipping_policy(60));
    let mut collector = Collector::enroll(&agent);
    let t = T0.plus_millis(HOUR);
    agent.handle(&sim("8944110012345678901"), t).unwrap();
    ship(&mut agent, &mut collector, t);
    let acked = agent.upload_acknowledged_seq();
    let old_receipt = collector.stored.last().unwrap().1.clone();
    agent
        .handle(&sim("8944110098765432109"), t.plus_millis(MINUTE))
        .unwrap();
    let t2 = t.plus_millis(2 * MINUTE);
    let req = agent.next_upload(1 << 20, t2).unwrap().unwrap();
    let batch: Batch = decode_batch(&req.body, &DecodeLimits::default()).unwrap();
    let v = verify_batch(&batch, &collector.device, &collector.cursor).unwrap();
    let good = Receipt::for_batch(&v, t2);

    let other_key = Ed25519KeyPair::from_seed_unchecked(&[22; 32]).unwrap();
    let mut wrong_device = good.clone();
    wrong_device.device_id = "0".repeat(32);
    let mut other_batch = good.clone();
    other_batch.batch_digest[0] ^= 1;
    let mut short = good.clone();
    short.acknowledged = batch.start;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "signature",
            encode_receipt(&sign_receipt(good.clone(), &other_key)),
        ),
        (
            "another device",
            encode_receipt(&sign_receipt(wrong_device, &collector_key())),
        ),
        ("backwards", old_receipt),
        (
            "another batch",
            encode_receipt(&sign_receipt(other_batch, &collector_key())),
        ),
        (
            "another position",
            encode_receipt(&sign_receipt(short, &collector_key())),
        ),
        ("malformed", b"{\"format\":".to_vec()),
    ];
    for (what, bytes) in cases {
        let err = agent.upload_acknowledged(&bytes, t2).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidInput { field, .. } if field == "upload_receipt"),
            "{what}: {err}"
        );
        assert_eq!(agent.upload_acknowledged_seq(), acked, "{what}");
        let same = agent.next_upload(1 << 20, t2).unwrap().unwrap();
        assert_eq!(same.body, req.body, "{what}: the batch is still in flight");
    }
    // The same refusal through the transport path is a failed attempt: backoff, same batch.
    let forged = encode_receipt(&sign_receipt(good.clone(), &other_key));
    let failed = agent.upload_response(200, &forged, t2).unwrap();
    assert!(!failed.acknowledged);
    assert_eq!(failed.failures, 1);
    assert!(failed.problem.unwrap().contains("receipt"));
    assert_eq!(agent.upload_acknowledged_seq(), acked);
    let t3 = failed.retry_at.unwrap();
    assert_eq!(
        agent.next_upload(1 << 20, t3).unwrap().unwrap().body,
        req.body
    );
    let receipt = encode_receipt(&sign_receipt(good, &collector_key()));
    assert!(
        agent
            .upload_response(200, &receipt, t3)
            .unwrap()
            .acknowledged
    );
    assert!(agent.upload_acknowledged_seq() > acked);
}

#[test]
fn records_are_pruned_only_once_the_collector_holds_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut agent = agent_with(&dir.path().join("agent.db"), shipping_policy(60));
    let mut collector = Collector::enroll(&agent);
    let mut t = T0;
    for i in 0..20 {
        t = T0.plus_millis(i * MINUTE);
        let iccid = ["8944110012345678901", "8944110098765432109"][i as usize % 2];
        agent.handle(&sim(iccid), t).unwrap();
        agent.checkpoint(t).unwrap();
    }
    let ids = pending_ids(&mut agent, 100);
    assert!(ids.len() > 5);
    agent.ack_alerts(&ids, t).unwrap();
    let far = t.plus_millis(365 * DAY);
    assert_eq!(
        agent.prune_journal(far).unwrap(),
        0,
        "nothing acknowledged yet"
    );
    let t2 = t.plus_millis(HOUR);
    assert!(
        ship_within(&mut agent, &mut collector, t2, 4096) > 1,
        "the byte budget splits the journal"
    );
    let acked = agent.upload_acknowledged_seq();
    assert!(agent.prune_journal(far).unwrap() > 0);
    // The journal still verifies from its new anchor, and the next batch continues.
    assert!(matches!(
        agent.verify_journal(Default::default()).unwrap(),
        portcullis_core::journal::Verdict::Intact { .. }
    ));
    agent
        .handle(&sim("8944110012345678901"), t2.plus_millis(MINUTE))
        .unwrap();
    let t3 = t2.plus_millis(2 * HOUR);
    assert!(ship(&mut agent, &mut collector, t3) >= 1);
    assert!(agent.upload_acknowledged_seq() > acked);
}

#[test]
fn evidence_bundles_ride_along_and_leave_the_queue_on_receipt() {
    let dir = tempfile::tempdir().unwrap();
    let mut agent = agent_with(&dir.path().join("agent.db"), shipping_policy(60));
    let mut collector = Collector::enroll(&agent);
    let t = T0.plus_millis(HOUR);
    agent.submit_inspection(None, &evidence(), t).unwrap();
    assert_eq!(agent.upload_pending_evidence(), 1);
    let req = agent.next_upload(1 << 20, t).unwrap().unwrap();
    assert_eq!(req.evidence, 1);
    let receipt = collector.take(&req.body, t).unwrap();
    assert!(
        agent
            .upload_response(200, &receipt, t)
            .unwrap()
            .acknowledged
    );
    assert_eq!(collector.evidence, 1);
    assert_eq!(agent.upload_pending_evidence(), 0);
}

#[test]
fn without_an_upload_section_nothing_is_shipped() {
    let dir = tempfile::tempdir().unwrap();
    let p = Policy::from_json(&std::fs::read(repo("policies/baseline.json")).unwrap()).unwrap();
    let mut agent = agent_with(&dir.path().join("agent.db"), p);
    assert_eq!(
        agent.next_upload(1 << 20, T0.plus_millis(DAY)).unwrap(),
        None
    );
    assert!(!agent.wake(T0.plus_millis(DAY), None).unwrap().duties.upload);
    assert!(agent.upload_response(200, b"{}", T0).is_err());
}

type Edit = Box<dyn Fn(&mut UploadRules)>;

#[test]
fn the_policy_section_is_validated() {
    let mut p = shipping_policy(60);
    let bad: Vec<(&str, Edit)> = vec![
        (
            "collectorUrl",
            Box::new(|u| u.collector_url = "http://x.example".into()),
        ),
        (
            "certificateSha256",
            Box::new(|u| u.certificate_sha256 = vec!["zz".into()]),
        ),
        ("receiptKey", Box::new(|u| u.receipt_key = "00".into())),
        ("intervalMinutes", Box::new(|u| u.interval_minutes = 1)),
        ("maxBatchBytes", Box::new(|u| u.max_batch_bytes = 10)),
        ("heartbeatMinutes", Box::new(|u| u.heartbeat_minutes = 10)),
    ];
    for (field, change) in bad {
        let mut q = p.clone();
        change(q.upload.as_mut().unwrap());
        let err = q.validate().unwrap_err();
        assert!(
            matches!(
                &err,
                Error::Policy(PolicyError::InvalidPolicy { path, .. })
                    if path.split('[').next() == Some(format!("upload.{field}").as_str())
            ),
            "{field}: {err}"
        );
    }
    p.upload.as_mut().unwrap().interval_minutes = 5;
    p.validate().unwrap();
}

#[test]
fn each_failed_answer_is_named_and_backs_off_further() {
    let dir = tempfile::tempdir().unwrap();
    let mut agent = agent_with(&dir.path().join("agent.db"), shipping_policy(60));
    let t = T0.plus_millis(HOUR);
    assert!(agent.wake(t, None).unwrap().duties.upload);
    let first = agent.next_upload(1 << 20, t).unwrap().unwrap();
    let mut now = t;
    for (failures, (status, problem)) in [
        (0, "the collector could not be reached"),
        (
            413,
            "the collector refused the batch as too large (its cap is below maxBatchBytes)",
        ),
        (404, "the collector refused the batch (HTTP 404)"),
        (502, "the collector failed (HTTP 502)"),
    ]
    .into_iter()
    .enumerate()
    {
        let outcome = agent.upload_response(status, b"", now).unwrap();
        assert!(!outcome.acknowledged);
        assert_eq!(outcome.problem.as_deref(), Some(problem));
        assert_eq!(outcome.failures, failures as u32 + 1);
        let retry_at = outcome.retry_at.expect("a failure backs off");
        assert_eq!(retry_at, now.plus_millis(30_000 << failures), "{status}");
        now = retry_at;
        let retry = agent.next_upload(1 << 20, now).unwrap().unwrap();
        assert_eq!(retry.body, first.body, "{status}: the same batch again");
    }
}

#[test]
fn the_evidence_queue_keeps_at_most_its_limit() {
    let dir = tempfile::tempdir().unwrap();
    let mut agent = agent_with(&dir.path().join("agent.db"), shipping_policy(60));
    let t = T0.plus_millis(HOUR);
    for i in 0..=MAX_PENDING_EVIDENCE {
        agent
            .submit_inspection(None, &evidence(), t.plus_millis(i as i64 * MINUTE))
            .unwrap();
    }
    assert_eq!(agent.upload_pending_evidence(), MAX_PENDING_EVIDENCE);
    drop(agent);
    let agent = Agent::open(&dir.path().join("agent.db"), device_key(), t, [5; 32]).unwrap();
    assert_eq!(
        agent.upload_pending_evidence(),
        MAX_PENDING_EVIDENCE,
        "the trimmed queue is what was stored"
    );
}
