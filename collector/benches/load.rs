//! Load measurement: simulated devices each upload a day's journal to a collector over
//! loopback HTTP, against plain `INSERT`s of the same rows into the same store, side by
//! side in one run; and the collector's peak memory.
//!
//!     cargo bench -p portcullis-collector --bench load -- [--devices 200]
//!         [--records-per-batch 25] [--batches 12] [--store sqlite|postgres:URL]
//!
//! The collector runs in a child process (this binary, `--serve`), so its peak resident
//! memory (`VmHWM`) is its own, not the clients'. Batches are made and signed before the
//! clock starts: what is timed is the collector's work (HTTP, decoding, verification,
//! the store) against the store's work alone.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use portcullis_collector::alerts::AlertSink;
use portcullis_collector::enroll;
use portcullis_collector::keys::CollectorKey;
use portcullis_collector::server::{self, Collector, ServeOptions, UPLOAD_PATH};
use portcullis_collector::store::{RecordRow, Store};
use portcullis_collector::synthetic::SyntheticDevice;
use portcullis_core::upload::{
    encode_batch, verify_batch, CollectorCursor, EnrolledDevice, Receipt,
};
use portcullis_core::Timestamp;

const T0: i64 = 1_772_323_200_000; // 2026-03-01T00:00:00Z

fn collector_key() -> CollectorKey {
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(&[0x5a; 32]);
    CollectorKey::from_pkcs8(der).expect("a valid key")
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// One device's day: its id, its batches (bytes) and their rows.
struct Day {
    device_id: String,
    batches: Vec<(Vec<u8>, Vec<RecordRow>)>,
}

fn make_day(index: usize, batches: usize, per_batch: usize) -> (SyntheticDevice, Day) {
    let secret = format!("load-device-secret-{index:08}");
    let mut journal_key = [0u8; 32];
    journal_key[..8].copy_from_slice(&(index as u64).to_be_bytes());
    let mut device = SyntheticDevice::new(secret.as_bytes(), journal_key, T0);
    let enrolled = EnrolledDevice {
        checkpoint_public_key: device.checkpoint_public_key(),
        journal_key: Some(portcullis_core::journal::EpochKey::from_bytes(
            0,
            journal_key,
        )),
    };
    let mut cursor = CollectorCursor::NEW;
    let step = 86_400_000 / (batches * per_batch) as i64;
    let mut at = T0;
    let mut out = Vec::new();
    for _ in 0..batches {
        for _ in 0..per_batch {
            at += step;
            let body = serde_json::json!({
                "at": Timestamp::from_unix_millis(at),
                "kind": "sim_replaced", "slot": 0, "detector": "sim_guard", "detector_version": 1,
                "summary": "the SIM in slot 0 was replaced by one the policy does not allow",
                "evidence": [["iccid_pin", "0a1b2c3d"], ["carrier", "5e6f7a8b"]],
            })
            .to_string();
            device.append(at, "alert", &body);
        }
        let batch = device.batch(at);
        let verified = verify_batch(&batch, &enrolled, &cursor).expect("synthetic batches verify");
        cursor = verified.cursor;
        let rows = batch
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
            .collect();
        out.push((encode_batch(&batch), rows));
        device.acknowledge(&Receipt::for_batch(
            &verified,
            Timestamp::from_unix_millis(at),
        ));
    }
    let day = Day {
        device_id: device.device_id(),
        batches: out,
    };
    (device, day)
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn serve_child(store: &str) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let store = Store::open(store).await.expect("store");
        let sink = AlertSink::new(None, None).expect("sink");
        let collector = Arc::new(Collector::new(
            store,
            collector_key(),
            sink,
            server::DEFAULT_MAX_BATCH_BYTES,
        ));
        server::serve(
            collector,
            ServeOptions {
                bind: "127.0.0.1:0".parse().unwrap(),
                silence_check: Duration::from_secs(3600),
            },
        )
        .await
        .expect("serve");
    });
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(store) = arg(&args, "--serve") {
        serve_child(&store);
        return;
    }
    let devices: usize = arg(&args, "--devices").map_or(200, |v| v.parse().expect("a count"));
    let batches: usize = arg(&args, "--batches").map_or(12, |v| v.parse().expect("a count"));
    let per_batch: usize =
        arg(&args, "--records-per-batch").map_or(25, |v| v.parse().expect("a count"));
    let dir = tempfile::tempdir().expect("tempdir");
    let store_arg = match arg(&args, "--store").as_deref() {
        None | Some("sqlite") => format!("sqlite:{}", dir.path().join("load.db").display()),
        Some(other) => other.to_owned(),
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");

    eprintln!("making {devices} devices x {batches} batches x {per_batch} records ...");
    let days: Vec<(SyntheticDevice, Day)> = (0..devices)
        .map(|i| make_day(i, batches, per_batch))
        .collect();
    let total_records = days
        .iter()
        .flat_map(|(_, d)| d.batches.iter().map(|(_, rows)| rows.len()))
        .sum::<usize>() as f64;
    let batch_bytes: usize = days
        .iter()
        .flat_map(|(_, d)| d.batches.iter().map(|(b, _)| b.len()))
        .sum();

    // Enroll every device, and take the baseline: plain INSERTs of the same rows, one
    // transaction per batch, as many concurrent writers as devices, into the same store.
    let (plain_secs, store_kind) = rt.block_on(async {
        let store = Store::open(&store_arg).await.expect("store");
        for (device, day) in &days {
            enroll::enroll(
                &store,
                &collector_key(),
                &day.device_id,
                device.checkpoint_public_key(),
                device.journal_key(),
                86_400,
                portcullis_collector::now_millis(),
            )
            .await
            .expect("enroll");
        }
        let started = Instant::now();
        let mut tasks = Vec::new();
        for (_, day) in &days {
            let store = store.clone();
            let id = format!("plain-{}", day.device_id);
            let rows: Vec<Vec<RecordRow>> = day.batches.iter().map(|(_, r)| r.clone()).collect();
            tasks.push(tokio::spawn(async move {
                for batch in rows {
                    store
                        .insert_records_plain(&id, &batch)
                        .await
                        .expect("insert");
                }
            }));
        }
        for t in tasks {
            t.await.expect("task");
        }
        let secs = started.elapsed().as_secs_f64();
        let kind = format!("{:?}", store.dialect());
        store.close().await;
        (secs, kind)
    });

    // The collector in its own process.
    let mut child = Command::new(std::env::current_exe().expect("own path"))
        .args(["--serve", &store_arg])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the collector");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the collector's address");
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .expect("an address")
        .to_owned();
    let idle_kib = vm_hwm_kib(child.id()).unwrap_or(0);

    let upload_secs = rt.block_on(async {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(devices)
            .build()
            .expect("client");
        let url = format!("http://{addr}{UPLOAD_PATH}");
        let started = Instant::now();
        let mut tasks = Vec::new();
        for (_, day) in &days {
            let client = client.clone();
            let url = url.clone();
            let bodies: Vec<Vec<u8>> = day.batches.iter().map(|(b, _)| b.clone()).collect();
            tasks.push(tokio::spawn(async move {
                for body in bodies {
                    loop {
                        let response = client
                            .post(&url)
                            .body(body.clone())
                            .send()
                            .await
                            .expect("post");
                        let status = response.status();
                        let _ = response.bytes().await;
                        if status == reqwest::StatusCode::SERVICE_UNAVAILABLE {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            continue;
                        }
                        assert_eq!(status, reqwest::StatusCode::OK, "a batch was refused");
                        break;
                    }
                }
            }));
        }
        for t in tasks {
            t.await.expect("task");
        }
        started.elapsed().as_secs_f64()
    });
    let peak_kib = vm_hwm_kib(child.id()).unwrap_or(0);
    let _ = child.kill();
    let _ = child.wait();

    let stored = rt.block_on(async {
        let store = Store::open(&store_arg).await.expect("store");
        let counts = store.counts().await.expect("counts");
        store.close().await;
        counts
    });
    let uploads_rate = total_records / upload_secs;
    let plain_rate = total_records / plain_secs;
    println!(
        "store: {store_kind}; {devices} devices x {batches} batches x {per_batch} records (+1 enrollment record each) = {} records, {:.1} MB of batches",
        total_records as u64,
        batch_bytes as f64 / 1e6
    );
    println!("plain INSERTs:       {plain_secs:8.2} s  {plain_rate:10.0} records/s");
    println!(
        "uploads (verified):  {upload_secs:8.2} s  {uploads_rate:10.0} records/s  ({:.2} of the plain rate)",
        uploads_rate / plain_rate
    );
    println!(
        "collector peak memory (VmHWM): {:.1} MB (idle {:.1} MB)",
        peak_kib as f64 / 1024.0,
        idle_kib as f64 / 1024.0
    );
    println!(
        "stored at the collector: {} records ({} of them the baseline's), {} batches",
        stored[0], total_records as u64, stored[3]
    );
}
