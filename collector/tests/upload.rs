//! The collector's upload path against synthetic devices: what is accepted, what is
//! refused with which status, that a refusal changes nothing stored, and the alerts.

use std::path::PathBuf;
use std::sync::Arc;

use axum::http::StatusCode;
use portcullis_collector::alerts::AlertSink;
use portcullis_collector::enroll;
use portcullis_collector::history::{self, ExportFormat};
use portcullis_collector::keys::CollectorKey;
use portcullis_collector::server::{Collector, UPLOAD_PATH};
use portcullis_collector::store::{BatchWrite, RecordRow, Store};
use portcullis_collector::synthetic::SyntheticDevice;
use portcullis_core::journal::{SignedCheckpoint, Verdict};
use portcullis_core::upload::{encode_batch, verify_receipt, Receipt};

const T0: i64 = 1_772_355_600_000; // 2026-03-01T09:00:00Z

/// Keeps OCSF events where `scripts/ocsf-tests.sh` validates them against the OCSF schema.
fn keep_for_validation(name: &str, events: &[serde_json::Value]) {
    if let Some(dir) = std::env::var_os("PORTCULLIS_OCSF_DUMP") {
        let lines: String = events.iter().map(|e| format!("{e}\n")).collect();
        std::fs::write(
            std::path::Path::new(&dir).join(format!("{name}.jsonl")),
            lines,
        )
        .unwrap();
    }
}

/// The alert file's events, as OCSF JSON.
fn alert_events(s: &Setup) -> Vec<serde_json::Value> {
    std::fs::read_to_string(&s.alerts)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn collector_key() -> CollectorKey {
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(&[42; 32]);
    CollectorKey::from_pkcs8(der).unwrap()
}

struct Setup {
    _dir: tempfile::TempDir,
    collector: Arc<Collector>,
    store: Store,
    alerts: PathBuf,
    device: SyntheticDevice,
}

async fn setup(max_batch_bytes: usize) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&format!("sqlite:{}", dir.path().join("c.db").display()))
        .await
        .unwrap();
    let device = SyntheticDevice::new(b"synthetic-device-secret-0001", [7; 32], T0);
    enroll::enroll(
        &store,
        &collector_key(),
        &device.device_id(),
        device.checkpoint_public_key(),
        device.journal_key(),
        3600,
        T0,
    )
    .await
    .unwrap();
    let alerts = dir.path().join("alerts.jsonl");
    let sink = AlertSink::new(Some(&alerts), None).unwrap();
    let collector = Arc::new(Collector::new(
        store.clone(),
        collector_key(),
        sink,
        max_batch_bytes,
    ));
    Setup {
        _dir: dir,
        collector,
        store,
        alerts,
        device,
    }
}

fn day(device: &mut SyntheticDevice, from_ms: i64, n: i64) {
    for i in 0..n {
        let at = from_ms + i * 60_000;
        device.append(
            at,
            "alert",
            &serde_json::json!({
                "at": portcullis_core::Timestamp::from_unix_millis(at),
                "kind": "sim_replaced", "slot": 0, "detector": "sim_guard", "detector_version": 1,
                "summary": "the SIM in slot 0 was replaced", "evidence": [["iccid_pin", "0a1b2c3d"]],
            })
            .to_string(),
        );
    }
}

async fn post(s: &Setup, bytes: &[u8]) -> (StatusCode, Vec<u8>) {
    let response = s.collector.take(bytes).await;
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    (status, body)
}

fn error_code(body: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap();
    v["error"].as_str().unwrap().to_owned()
}

fn alert_titles(s: &Setup) -> Vec<String> {
    std::fs::read_to_string(&s.alerts)
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["finding_info"]["title"].as_str().unwrap().to_owned()
        })
        .collect()
}

/// Takes one batch and acknowledges it on the device; returns the receipt bytes.
async fn upload(s: &mut Setup, at: i64) -> Vec<u8> {
    let batch = s.device.batch(at);
    let (status, body) = post(s, &encode_batch(&batch)).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let receipt: Receipt = verify_receipt(&body, &collector_key().public_key()).unwrap();
    s.device.acknowledge(&receipt);
    body
}

#[tokio::test]
async fn batches_are_stored_once_and_answered_with_signed_receipts() {
    let mut s = setup(1 << 20).await;
    day(&mut s.device, T0, 30);
    let first = s.device.batch(T0 + 3_600_000);
    let bytes = encode_batch(&first);
    let (status, receipt) = post(&s, &bytes).await;
    assert_eq!(status, StatusCode::OK);
    let r = verify_receipt(&receipt, &collector_key().public_key()).unwrap();
    assert_eq!((r.batch_seq, r.acknowledged.seq), (1, 31));
    let counts = s.store.counts().await.unwrap();
    assert_eq!(counts, [31, 1, 0, 1]);
    // The receipt was lost: the same batch again is the same receipt, stored once.
    let (status, again) = post(&s, &bytes).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again, receipt);
    assert_eq!(s.store.counts().await.unwrap(), counts);
    s.device.acknowledge(&r);

    day(&mut s.device, T0 + 4_000_000, 10);
    upload(&mut s, T0 + 5_000_000).await;
    assert_eq!(s.store.counts().await.unwrap(), [41, 2, 0, 2]);
    let verdict = history::verify_device(&s.store, &collector_key(), &s.device.device_id())
        .await
        .unwrap();
    assert!(verdict.is_intact(), "{verdict:?}");
    let mut exported = Vec::new();
    history::export(&s.store, ExportFormat::Jsonl, T0 + 4_000_000, |v| {
        exported.push(v.clone());
        Ok(())
    })
    .await
    .unwrap();
    assert_eq!(exported.len(), 10);
    assert_eq!(exported[0]["device"], s.device.device_id());
    let mut findings = Vec::new();
    history::export(&s.store, ExportFormat::Ocsf, i64::MIN, |v| {
        assert_eq!(v["class_uid"], 2004);
        findings.push(v.clone());
        Ok(())
    })
    .await
    .unwrap();
    assert_eq!(findings.len(), 40);
    keep_for_validation("collector-export", &findings);
    assert!(alert_titles(&s).is_empty());
}

#[tokio::test]
async fn refused_batches_change_nothing_and_raise_alerts_for_history_problems() {
    let mut s = setup(1 << 20).await;
    day(&mut s.device, T0, 5);
    let old = encode_batch(&s.device.batch(T0 + 600_000));
    upload(&mut s, T0 + 600_000).await;
    day(&mut s.device, T0 + 700_000, 5);
    upload(&mut s, T0 + 1_000_000).await;
    let counts = s.store.counts().await.unwrap();
    let cursor = s
        .store
        .cursor(&s.device.device_id())
        .await
        .unwrap()
        .unwrap()
        .cursor;

    day(&mut s.device, T0 + 1_100_000, 5);
    let good = s.device.batch(T0 + 1_500_000);

    // Tampered in transit: a record's body changed, the device's signature no longer holds.
    let mut tampered = good.clone();
    tampered.records[0].body = tampered.records[0].body.replace("slot 0", "slot 1");
    let (status, body) = post(&s, &encode_batch(&tampered)).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::FORBIDDEN, "bad_batch_signature")
    );

    // An old batch sent again after newer ones were taken.
    let (status, body) = post(&s, &old).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::CONFLICT, "replay")
    );

    // A history rewritten on the phone and signed with its key: a fork.
    let mut forked = good.clone();
    forked.start.hash[0] ^= 1;
    s.device.resign(&mut forked);
    let (status, body) = post(&s, &encode_batch(&forked)).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::CONFLICT, "fork")
    );

    // A record rewritten without the journal key: its MAC fails.
    let mut rewritten = good.clone();
    rewritten.records[2].mac[0] ^= 1;
    s.device.resign(&mut rewritten);
    let (status, body) = post(&s, &encode_batch(&rewritten)).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "mac_failure")
    );

    // Records missing between what the collector holds and the batch.
    let mut gap = good.clone();
    gap.records.remove(1);
    s.device.resign(&mut gap);
    let (status, body) = post(&s, &encode_batch(&gap)).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::CONFLICT, "gap")
    );

    // The phone's journal went back behind what it already shipped.
    let mut rolled = good.clone();
    rolled.start.seq -= 3;
    s.device.resign(&mut rolled);
    let (status, body) = post(&s, &encode_batch(&rolled)).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::CONFLICT, "rollback")
    );

    // Not a batch at all.
    let (status, body) = post(&s, b"{\"format\":\"portcullis/upload/v1\"").await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::BAD_REQUEST, "malformed")
    );

    // A device nobody enrolled, with a perfectly valid batch.
    let mut stranger = SyntheticDevice::new(b"unknown-device-secret-000001", [1; 32], T0);
    let (status, body) = post(&s, &encode_batch(&stranger.batch(T0))).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (StatusCode::FORBIDDEN, "not_enrolled")
    );

    assert_eq!(s.store.counts().await.unwrap(), counts);
    assert_eq!(
        s.store
            .cursor(&s.device.device_id())
            .await
            .unwrap()
            .unwrap()
            .cursor,
        cursor
    );
    assert_eq!(
        alert_titles(&s),
        [
            "journal_upload_fork",
            "journal_upload_mac_failure",
            "journal_upload_gap",
            "journal_upload_rollback"
        ]
    );
    keep_for_validation("collector-alerts-history", &alert_events(&s));
    // The genuine batch is still taken afterwards.
    let (status, _) = post(&s, &encode_batch(&good)).await;
    assert_eq!(status, StatusCode::OK);
    let verdict = history::verify_device(&s.store, &collector_key(), &s.device.device_id())
        .await
        .unwrap();
    assert!(verdict.is_intact(), "{verdict:?}");
}

#[tokio::test]
async fn a_store_edited_behind_the_collector_fails_verification() {
    let mut s = setup(1 << 20).await;
    day(&mut s.device, T0, 8);
    upload(&mut s, T0 + 600_000).await;
    let id = s.device.device_id();
    let mut rows = s.store.records(&id, 1, 100).await.unwrap();
    // Someone with write access to the database drops the newest records.
    let kept: Vec<_> = rows.drain(..5).collect();
    let dir = tempfile::tempdir().unwrap();
    let copy = Store::open(&format!("sqlite:{}", dir.path().join("c.db").display()))
        .await
        .unwrap();
    enroll::enroll(
        &copy,
        &collector_key(),
        &id,
        s.device.checkpoint_public_key(),
        s.device.journal_key(),
        3600,
        T0,
    )
    .await
    .unwrap();
    copy.insert_records_plain(&id, &kept).await.unwrap();
    let verdict = history::verify_device(&copy, &collector_key(), &id)
        .await
        .unwrap();
    assert!(!verdict.is_intact());
    let intact = history::verify_device(&s.store, &collector_key(), &id)
        .await
        .unwrap();
    assert!(intact.is_intact(), "{intact:?}");
}

#[tokio::test]
async fn silent_devices_raise_one_alert_per_silence() {
    let mut s = setup(1 << 20).await;
    let now = portcullis_collector::now_millis();
    // Enrolled at T0 (long ago) and never heard from.
    assert_eq!(s.collector.check_silence(now).await.unwrap(), 1);
    assert_eq!(s.collector.check_silence(now).await.unwrap(), 0);
    day(&mut s.device, T0, 3);
    upload(&mut s, T0 + 600_000).await;
    assert_eq!(s.collector.check_silence(now).await.unwrap(), 0);
    // An hour and a bit later (heartbeat 3600 s), silent again.
    assert_eq!(s.collector.check_silence(now + 3_700_000).await.unwrap(), 1);
    assert_eq!(alert_titles(&s), ["device_silent", "device_silent"]);
    keep_for_validation("collector-alerts-silent", &alert_events(&s));
}

#[tokio::test]
async fn http_refuses_oversized_bodies_and_serves_receipts() {
    let mut s = setup(4096).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = s.collector.clone().router();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let client = reqwest::Client::new();
    let url = format!("http://{addr}{UPLOAD_PATH}");

    day(&mut s.device, T0, 2);
    let small = encode_batch(&s.device.batch(T0 + 600_000));
    let response = client.post(&url).body(small).send().await.unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    let receipt = verify_receipt(
        &response.bytes().await.unwrap(),
        &collector_key().public_key(),
    )
    .unwrap();
    s.device.acknowledge(&receipt);

    day(&mut s.device, T0 + 700_000, 40);
    let big = encode_batch(&s.device.batch(T0 + 900_000));
    assert!(big.len() > 4096);
    let response = client.post(&url).body(big).send().await.unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::PAYLOAD_TOO_LARGE);
    let body: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(body["error"], "too_large");
    assert_eq!(s.store.counts().await.unwrap(), [3, 1, 0, 1]);
}

#[tokio::test]
async fn an_enrollment_the_collector_key_did_not_sign_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&format!("sqlite:{}", dir.path().join("c.db").display()))
        .await
        .unwrap();
    let mut device = SyntheticDevice::new(b"synthetic-device-secret-0002", [8; 32], T0);
    // Written into the store by someone holding another key.
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(&[43; 32]);
    let intruder = CollectorKey::from_pkcs8(der).unwrap();
    enroll::enroll(
        &store,
        &intruder,
        &device.device_id(),
        device.checkpoint_public_key(),
        device.journal_key(),
        3600,
        T0,
    )
    .await
    .unwrap();
    let collector = Collector::new(
        store.clone(),
        collector_key(),
        AlertSink::new(None, None).unwrap(),
        1 << 20,
    );
    let response = collector.take(&encode_batch(&device.batch(T0))).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    assert_eq!(error_code(&body), "enrollment_refused");
    assert_eq!(store.counts().await.unwrap(), [0; 4]);
}

/// A copy of the device's stored history in a fresh store, after `edit` changed its
/// records and checkpoints: what someone with write access to the database could leave.
async fn edited_copy(
    s: &Setup,
    edit: impl FnOnce(&mut Vec<RecordRow>, &mut Vec<(i64, String)>),
) -> (tempfile::TempDir, Store) {
    let id = s.device.device_id();
    let mut records = s.store.records(&id, 1, 10_000).await.unwrap();
    let mut checkpoints: Vec<(i64, String)> = s
        .store
        .checkpoints(&id)
        .await
        .unwrap()
        .into_iter()
        .map(|json| {
            let cp: SignedCheckpoint = serde_json::from_str(&json).unwrap();
            (cp.seq, json)
        })
        .collect();
    edit(&mut records, &mut checkpoints);
    let cursor = s.store.cursor(&id).await.unwrap().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let copy = Store::open(&format!("sqlite:{}", dir.path().join("c.db").display()))
        .await
        .unwrap();
    enroll::enroll(
        &copy,
        &collector_key(),
        &id,
        s.device.checkpoint_public_key(),
        s.device.journal_key(),
        3600,
        T0,
    )
    .await
    .unwrap();
    let write = BatchWrite {
        device_id: id,
        batch_seq: cursor.last_batch_seq,
        digest: vec![0; 32],
        receipt: Vec::new(),
        cursor: cursor.cursor,
        records,
        checkpoints,
        evidence: Vec::new(),
        received_at: T0,
    };
    assert!(copy.write_batch(write, None).await.unwrap());
    (dir, copy)
}

fn broken(v: &history::HistoryVerdict) -> (i64, String) {
    match &v.verdict {
        Verdict::Broken { seq, reason } => (*seq, reason.clone()),
        other @ Verdict::Intact { .. } => panic!("expected a broken history, got {other:?}"),
    }
}

#[tokio::test]
async fn a_history_that_starts_at_a_signed_checkpoint_verifies_from_there() {
    let mut s = setup(1 << 20).await;
    // The phone wrote 21 records over two epochs and pruned them all before its first
    // upload: its history at the collector starts after the checkpoint at record 21.
    day(&mut s.device, T0, 10);
    s.device.checkpoint(T0 + 700_000);
    day(&mut s.device, T0 + 800_000, 10);
    s.device.prune_before_first_upload(T0 + 1_500_000);
    day(&mut s.device, T0 + 2_000_000, 8);
    upload(&mut s, T0 + 3_000_000).await;
    day(&mut s.device, T0 + 4_000_000, 5);
    upload(&mut s, T0 + 5_000_000).await;
    let id = s.device.device_id();
    assert_eq!(s.store.records(&id, 1, 1).await.unwrap()[0].seq, 22);

    let v = history::verify_device(&s.store, &collector_key(), &id)
        .await
        .unwrap();
    assert!(v.is_intact(), "{v:?}");
    assert_eq!(v.first_seq, 22);
    assert_eq!(
        v.verdict,
        Verdict::Intact {
            records: 13,
            checkpoints: 3,
            macs_checked: true,
            last_seq: 34
        }
    );

    // A faithful copy verifies too (the helper below changes only what each case says).
    let (_d, copy) = edited_copy(&s, |_, _| {}).await;
    let v = history::verify_device(&copy, &collector_key(), &id)
        .await
        .unwrap();
    assert!(v.is_intact(), "{v:?}");

    // Retention that deleted the oldest records up to a stored checkpoint: the history
    // verifies from the record after it.
    let (_d, copy) = edited_copy(&s, |records, _| records.retain(|r| r.seq > 29)).await;
    let v = history::verify_device(&copy, &collector_key(), &id)
        .await
        .unwrap();
    assert!(v.is_intact(), "{v:?}");
    assert_eq!(v.first_seq, 30);
}

#[tokio::test]
async fn a_history_whose_start_no_signed_checkpoint_anchors_is_refused() {
    let mut s = setup(1 << 20).await;
    day(&mut s.device, T0, 10);
    s.device.checkpoint(T0 + 700_000);
    day(&mut s.device, T0 + 800_000, 10);
    s.device.prune_before_first_upload(T0 + 1_500_000);
    day(&mut s.device, T0 + 2_000_000, 8);
    upload(&mut s, T0 + 3_000_000).await;
    day(&mut s.device, T0 + 4_000_000, 5);
    upload(&mut s, T0 + 5_000_000).await;
    let id = s.device.device_id();
    let verify = |store: Store| {
        let id = id.clone();
        async move {
            history::verify_device(&store, &collector_key(), &id)
                .await
                .unwrap()
        }
    };

    // The checkpoint the history starts at was removed.
    let (_d, copy) = edited_copy(&s, |_, cps| cps.retain(|(seq, _)| *seq != 21)).await;
    let (seq, reason) = broken(&verify(copy).await);
    assert_eq!(seq, 22);
    assert!(
        reason.contains("no stored signed checkpoint covers record 21"),
        "{reason}"
    );

    // Records deleted from the start at no checkpoint.
    let (_d, copy) = edited_copy(&s, |records, _| records.retain(|r| r.seq > 25)).await;
    let (seq, reason) = broken(&verify(copy).await);
    assert_eq!(seq, 26);
    assert!(reason.contains("record 25"), "{reason}");

    // The start checkpoint rewritten to claim an earlier epoch: its signature fails.
    let (_d, copy) = edited_copy(&s, |_, cps| {
        let (_, json) = cps.iter_mut().find(|(seq, _)| *seq == 21).unwrap();
        let mut cp: SignedCheckpoint = serde_json::from_str(json).unwrap();
        cp.epoch = 0;
        *json = serde_json::to_string(&cp).unwrap();
    })
    .await;
    let (seq, reason) = broken(&verify(copy).await);
    assert_eq!(seq, 21);
    assert!(reason.contains("does not verify"), "{reason}");

    // A record edited after the anchor.
    let (_d, copy) = edited_copy(&s, |records, _| {
        let r = records.iter_mut().find(|r| r.seq == 25).unwrap();
        r.body = r.body.replace("slot 0", "slot 1");
    })
    .await;
    assert_eq!(broken(&verify(copy).await).0, 25);

    // A record removed in the middle.
    let (_d, copy) = edited_copy(&s, |records, _| records.retain(|r| r.seq != 30)).await;
    assert_eq!(broken(&verify(copy).await).0, 30);

    // The original still verifies.
    assert!(verify(s.store.clone()).await.is_intact());
}

#[tokio::test]
async fn a_cursor_moved_by_another_process_is_read_again_before_refusing() {
    let mut s = setup(1 << 20).await;
    // A second collector process on the same store.
    let other = Arc::new(Collector::new(
        s.store.clone(),
        collector_key(),
        AlertSink::new(Some(&s.alerts), None).unwrap(),
        1 << 20,
    ));
    day(&mut s.device, T0, 5);
    upload(&mut s, T0 + 600_000).await; // taken by the first; it remembers batch 1
    day(&mut s.device, T0 + 700_000, 5);
    let second = encode_batch(&s.device.batch(T0 + 1_200_000));
    let response = other.take(&second).await;
    assert_eq!(response.status(), StatusCode::OK);
    let from_other = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    // Its receipt was lost: the phone sends batch 2 again, to the first process, whose
    // remembered cursor is still at batch 1. The stored receipt comes back.
    let (status, again) = post(&s, &second).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&again)
    );
    assert_eq!(again, from_other);
    s.device
        .acknowledge(&verify_receipt(&again, &collector_key().public_key()).unwrap());
    // Batch 3 continues from batch 2, which only the store knows: taken, no gap alert.
    day(&mut s.device, T0 + 1_300_000, 5);
    upload(&mut s, T0 + 1_800_000).await;
    assert!(alert_titles(&s).is_empty(), "{:?}", alert_titles(&s));
    assert_eq!(s.store.counts().await.unwrap()[3], 3);
    let verdict = history::verify_device(&s.store, &collector_key(), &s.device.device_id())
        .await
        .unwrap();
    assert!(verdict.is_intact(), "{verdict:?}");
}
