//! Load measurement: simulated devices each upload a day's journal to a collector over
//! loopback HTTP, against plain `INSERT`s of the same rows into the same store, side by
//! side in one run; and the collector's peak memory.
//!
//!     cargo bench -p portcullis-collector --bench load -- [--devices 200]
//!         [--records-per-batch 25] [--batches 12] [--store sqlite|postgres:URL] [--rounds 4]
//!         [--uploads-first]
//!
//! Each round measures both sides against a fresh store (SQLite: a new file; PostgreSQL:
//! one round per run, into the empty database given), alternating which side goes first
//! (the second writes into a table the first filled; `--uploads-first` starts with the
//! uploads). The summary is each side's rate
//! over all rounds, because this runs on shared machines whose other load moves single
//! timings by a factor of two, and the CPU time each side used per record.
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

/// One side-by-side measurement against a fresh store.
struct Round {
    /// Batches answered 503 and sent again.
    retries: usize,
    plain_secs: f64,
    upload_secs: f64,
    /// CPU time (user + system) of the plain INSERTs: the measuring process's own.
    plain_cpu: f64,
    /// CPU time of the collector process over the uploads (clients not counted).
    collector_cpu: f64,
    peak_kib: u64,
    idle_kib: u64,
    stored: [i64; 4],
    store_kind: String,
}

/// User + system CPU seconds of a process, from /proc (clock ticks of 10 ms).
fn cpu_secs(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

async fn enroll_all(store: &Store, days: &[(SyntheticDevice, Day)]) {
    for (device, day) in days {
        enroll::enroll(
            store,
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
}

/// The baseline: plain INSERTs of the same rows, one statement a row and one
/// transaction per batch, as many concurrent writers as devices, into the same store
/// through the same connection settings. Returns wall and CPU seconds.
async fn plain(store: &Store, days: &[(SyntheticDevice, Day)]) -> (f64, f64) {
    let cpu = cpu_secs("self");
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (_, day) in days {
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
    (started.elapsed().as_secs_f64(), cpu_secs("self") - cpu)
}

/// The collector in its own process, and every device posting its batches in order.
/// Returns wall seconds, the collector's CPU seconds, its idle and peak memory, and the
/// number of 503 answers.
fn uploads(
    rt: &tokio::runtime::Runtime,
    store_arg: &str,
    days: &[(SyntheticDevice, Day)],
) -> (f64, f64, u64, u64, usize) {
    let mut child = Command::new(std::env::current_exe().expect("own path"))
        .args(["--serve", store_arg])
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
    let pid = child.id();
    let idle_kib = vm_hwm_kib(pid).unwrap_or(0);
    let cpu_before = cpu_secs(&pid.to_string());
    let retries = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let secs = rt.block_on(async {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(days.len())
            .build()
            .expect("client");
        let url = format!("http://{addr}{UPLOAD_PATH}");
        let started = Instant::now();
        let mut tasks = Vec::new();
        for (_, day) in days {
            let client = client.clone();
            let url = url.clone();
            let retries = retries.clone();
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
                            retries.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
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
    let cpu = cpu_secs(&pid.to_string()) - cpu_before;
    let peak_kib = vm_hwm_kib(pid).unwrap_or(0);
    let _ = child.kill();
    let _ = child.wait();
    (
        secs,
        cpu,
        idle_kib,
        peak_kib,
        retries.load(std::sync::atomic::Ordering::Relaxed),
    )
}

/// Both sides against one store; `uploads_first` alternates the order between rounds,
/// so neither side always writes into the emptier table.
fn round(
    rt: &tokio::runtime::Runtime,
    store_arg: &str,
    days: &[(SyntheticDevice, Day)],
    uploads_first: bool,
) -> Round {
    let store = rt.block_on(async {
        let store = Store::open(store_arg).await.expect("store");
        enroll_all(&store, days).await;
        store
    });
    let store_kind = format!("{:?}", store.dialect());
    let mut up = None;
    if uploads_first {
        up = Some(uploads(rt, store_arg, days));
    }
    let (plain_secs, plain_cpu) = rt.block_on(plain(&store, days));
    let (upload_secs, collector_cpu, idle_kib, peak_kib, retries) =
        up.unwrap_or_else(|| uploads(rt, store_arg, days));
    let stored = rt.block_on(async {
        let counts = store.counts().await.expect("counts");
        store.close().await;
        counts
    });
    Round {
        retries,
        plain_secs,
        upload_secs,
        plain_cpu,
        collector_cpu,
        peak_kib,
        idle_kib,
        stored,
        store_kind,
    }
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
    let postgres = arg(&args, "--store").filter(|s| s != "sqlite");
    // Each SQLite round gets a fresh file; a PostgreSQL database is measured once per run
    // (give a fresh database each time).
    let rounds: usize = match &postgres {
        Some(_) => 1,
        None => arg(&args, "--rounds").map_or(4, |v| v.parse().expect("a count")),
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

    let mut results = Vec::new();
    for i in 0..rounds {
        let dir = tempfile::tempdir().expect("tempdir");
        let store_arg = match &postgres {
            Some(url) => url.clone(),
            None => format!("sqlite:{}", dir.path().join("load.db").display()),
        };
        let uploads_first = (i % 2 == 1) != args.iter().any(|a| a == "--uploads-first");
        let r = round(&rt, &store_arg, &days, uploads_first);
        if i == 0 {
            println!(
                "store: {}; {devices} devices x {batches} batches x {per_batch} records (+1 enrollment record each) = {} records, {:.1} MB of batches",
                r.store_kind,
                total_records as u64,
                batch_bytes as f64 / 1e6
            );
        }
        let plain_rate = total_records / r.plain_secs;
        let uploads_rate = total_records / r.upload_secs;
        println!(
            "round {}: plain INSERTs {:.2} s ({plain_rate:.0} records/s), uploads (verified) {:.2} s ({uploads_rate:.0} records/s): {:.2} of the plain rate; CPU {:.2} s plain, {:.2} s collector ({:.2}); collector peak memory (VmHWM) {:.1} MB (idle {:.1} MB); {} batches sent again after a 503",
            i + 1,
            r.plain_secs,
            r.upload_secs,
            uploads_rate / plain_rate,
            r.plain_cpu,
            r.collector_cpu,
            r.plain_cpu / r.collector_cpu,
            r.peak_kib as f64 / 1024.0,
            r.idle_kib as f64 / 1024.0,
            r.retries
        );
        assert_eq!(
            r.stored[0],
            2 * total_records as i64,
            "every record stored by both sides"
        );
        assert_eq!(r.stored[3], (devices * batches) as i64, "every batch taken");
        results.push(r);
    }
    if rounds > 1 {
        // Over all rounds: each side's records over its total time. With an even number
        // of rounds each side went first equally often, so the order cancels out.
        let plain_total: f64 = results.iter().map(|r| r.plain_secs).sum();
        let upload_total: f64 = results.iter().map(|r| r.upload_secs).sum();
        let best_plain = results
            .iter()
            .map(|r| r.plain_secs)
            .fold(f64::MAX, f64::min);
        let best_upload = results
            .iter()
            .map(|r| r.upload_secs)
            .fold(f64::MAX, f64::min);
        let cpu_plain: f64 = results.iter().map(|r| r.plain_cpu).sum();
        let cpu_collector: f64 = results.iter().map(|r| r.collector_cpu).sum();
        println!(
            "over {rounds} rounds: plain INSERTs {:.0} records/s, uploads {:.0} records/s: {:.2} of the plain rate (best single times {best_plain:.2} s and {best_upload:.2} s: {:.2}); CPU per record {:.1} us plain, {:.1} us collector; peak memory {:.1} MB",
            rounds as f64 * total_records / plain_total,
            rounds as f64 * total_records / upload_total,
            plain_total / upload_total,
            best_plain / best_upload,
            cpu_plain * 1e6 / (rounds as f64 * total_records),
            cpu_collector * 1e6 / (rounds as f64 * total_records),
            results.iter().map(|r| r.peak_kib).max().unwrap_or(0) as f64 / 1024.0
        );
    }
}
