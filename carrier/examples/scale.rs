//! Scale comparison: one `carrier watch` pass over a 10,000-line roster against a
//! local mock carrier, side by side with a bare reqwest loop sending the same
//! requests at the same per-endpoint concurrency. Rounds alternate the two sides so
//! both see the same machine state. Not part of the test command; the figures go
//! into docs/performance.md.
//!
//!   cargo run --profile bench -p portcullis-carrier --example scale -- [LINES] [CONCURRENCY] [ROUNDS]
//!
//! The mock runs in a child process (this binary with `--serve`), so the peak memory
//! reported (VmHWM) is the client's alone.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use portcullis_carrier::output::{AlertSink, Trigger};
use portcullis_carrier::{Roster, Watch, WatchConfig};

const SIM_ANSWER: &str = r#"{"latestSimChange":"2024-09-18T07:37:53.471829447Z"}"#;
const DEVICE_ANSWER: &str = r#"{"latestDeviceChange":null,"monitoredPeriod":120}"#;
const TOKEN_ANSWER: &str =
    r#"{"access_token":"scale-token","token_type":"Bearer","expires_in":3600}"#;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--serve") {
        serve();
        return;
    }
    let lines: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let concurrency: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(32);
    let rounds: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(3);

    let mut child = Command::new(std::env::current_exe().unwrap())
        .arg("--serve")
        .stdout(Stdio::piped())
        .spawn()
        .expect("the mock starts");
    let mut port_line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut port_line)
        .unwrap();
    let base = format!("http://{}", port_line.trim());

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let roster_path = write_roster(dir.path(), &base, lines, concurrency);
    let phones: Vec<String> = Roster::load(&roster_path)
        .unwrap()
        .lines
        .iter()
        .map(|l| l.phone().to_owned())
        .collect();

    println!(
        "{lines} lines x 2 APIs = {} requests per pass, {concurrency} per endpoint",
        lines * 2
    );
    let (mut cold_ratios, mut steady_ratios) = (Vec::new(), Vec::new());
    // Steady state: one watch that already relayed every answer once; its passes
    // find nothing new (the usual pass). Measured first, before the first-pass
    // rounds leave the disk busy writing back their files.
    let mut watch = new_watch(&rt, &roster_path, &dir.path().join("out-steady"));
    pass(&rt, &mut watch, lines);
    std::thread::sleep(Duration::from_secs(5));
    for round in 1..=rounds {
        let bare = rt.block_on(bare_loop(&base, &phones, concurrency));
        let steady = pass(&rt, &mut watch, lines);
        steady_ratios.push(steady.as_secs_f64() / bare.as_secs_f64());
        println!(
            "steady round {round}: bare reqwest {:.3} s | watch pass (nothing new) {:.3} s | ratio {:.2}",
            bare.as_secs_f64(),
            steady.as_secs_f64(),
            steady_ratios[round - 1],
        );
    }
    drop(watch);
    // `steady` as fourth argument: the steady-state rounds only (for profiling).
    let first_pass_rounds = if args.get(4).map(String::as_str) == Some("steady") {
        0
    } else {
        rounds
    };
    for round in 1..=first_pass_rounds {
        // A fresh watch (empty state): every answer is signed and written.
        let mut watch = new_watch(&rt, &roster_path, &dir.path().join(format!("out-{round}")));
        let bare = rt.block_on(bare_loop(&base, &phones, concurrency));
        let cold = pass(&rt, &mut watch, lines);
        cold_ratios.push(cold.as_secs_f64() / bare.as_secs_f64());
        println!(
            "first-pass round {round}: bare reqwest {:.3} s | watch pass ({} instructions written) {:.3} s | ratio {:.2}",
            bare.as_secs_f64(),
            lines * 2,
            cold.as_secs_f64(),
            cold_ratios[round - 1],
        );
    }
    for (what, ratios) in [
        ("pass with nothing new", &mut steady_ratios),
        ("first pass", &mut cold_ratios),
    ] {
        if ratios.is_empty() {
            continue;
        }
        ratios.sort_by(f64::total_cmp);
        println!(
            "median ratio, {what}: {:.2} (limit 1.30)",
            ratios[ratios.len() / 2]
        );
    }
    // What the disk alone costs for the first pass's files: the same number of
    // atomic writes (temporary file, rename) of an instruction-sized file.
    let files = dir.path().join("files-alone");
    std::fs::create_dir_all(&files).unwrap();
    let started = Instant::now();
    for i in 0..lines * 2 {
        let path = files.join(format!("device-{i:05}.carrier_check.json"));
        portcullis_carrier::state::write_atomically(&path, &[b'x'; 900]).unwrap();
    }
    println!(
        "the {} instruction files alone, written atomically one by one: {:.3} s",
        lines * 2,
        started.elapsed().as_secs_f64()
    );
    println!(
        "peak memory (VmHWM) {} MiB (limit 100)",
        peak_rss_kib() / 1024
    );
    let _ = child.kill();
    let _ = child.wait();
}

fn new_watch(
    rt: &tokio::runtime::Runtime,
    roster: &std::path::Path,
    out: &std::path::Path,
) -> Watch {
    let roster = Roster::load(roster).unwrap();
    let key = portcullis_core::policy::SigningKey::from_seed(&[1; 32]).unwrap();
    let config = WatchConfig::new(out.to_path_buf());
    let sink = AlertSink::writer(Box::new(std::io::sink()));
    rt.block_on(async {
        Watch::new(
            roster,
            key,
            config,
            sink,
            portcullis_carrier::watch::system_clock(),
        )
    })
    .unwrap()
}

fn pass(rt: &tokio::runtime::Runtime, watch: &mut Watch, lines: usize) -> Duration {
    let r = rt
        .block_on(watch.pass(None::<&BTreeSet<String>>, Trigger::Poll))
        .unwrap();
    assert!(
        r.failures.is_empty(),
        "{:?}",
        &r.failures[..r.failures.len().min(3)]
    );
    assert_eq!(r.answered, lines * 2);
    r.elapsed
}

/// The same requests the watch sends (token once, then every line's two POSTs with
/// a bearer token, an x-correlator and the JSON body), with nothing done with the answers
/// beyond reading them.
async fn bare_loop(base: &str, phones: &[String], concurrency: usize) -> Duration {
    let started = Instant::now();
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .pool_max_idle_per_host(concurrency)
        .build()
        .unwrap();
    let token = client
        .post(format!("{base}/token"))
        .basic_auth("scale", Some("secret"))
        .form(&[("grant_type", "client_credentials"), ("scope", "x")])
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(!token.is_empty());
    let endpoint = |path: &'static str| {
        let client = client.clone();
        futures_util::stream::iter(phones.iter())
            .map(move |phone| {
                let client = client.clone();
                async move {
                    let body = format!(r#"{{"phoneNumber":"{phone}"}}"#);
                    let resp = client
                        .post(format!("{base}{path}"))
                        .bearer_auth("scale-token")
                        .header("x-correlator", portcullis_carrier::http::correlator())
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await
                        .unwrap();
                    assert!(resp.status().is_success());
                    resp.bytes().await.unwrap().len()
                }
            })
            .buffer_unordered(concurrency)
            .for_each(|_| async {})
    };
    futures_util::future::join(
        endpoint("/sim-swap/v2/retrieve-date"),
        endpoint("/device-swap/v1/retrieve-date"),
    )
    .await;
    started.elapsed()
}

fn write_roster(
    dir: &std::path::Path,
    base: &str,
    lines: usize,
    concurrency: usize,
) -> std::path::PathBuf {
    std::fs::write(dir.join("pin.key"), "42".repeat(32)).unwrap();
    std::fs::write(dir.join("secret"), "secret").unwrap();
    let mut text = format!(
        "[carrier.mock]\nsim_swap_url = \"{base}/sim-swap/v2\"\ndevice_swap_url = \"{base}/device-swap/v1\"\ntoken_url = \"{base}/token\"\nclient_id = \"scale\"\nclient_secret = {{ file = \"secret\" }}\nconcurrency = {concurrency}\n\n"
    );
    for i in 0..lines {
        text.push_str(&format!(
            "[[line]]\ndevice = \"device-{i:05}\"\nphone = \"+3466{i:07}\"\ncarrier = \"mock\"\npin_key = \"pin.key\"\n\n"
        ));
    }
    let path = dir.join("roster.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// The mock carrier: fixed, contract-conforming answers, as fast as axum goes.
fn serve() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let app = axum::Router::new()
            .route(
                "/token",
                axum::routing::post(|| async { json(TOKEN_ANSWER) }),
            )
            .route(
                "/sim-swap/v2/retrieve-date",
                axum::routing::post(|| async { json(SIM_ANSWER) }),
            )
            .route(
                "/device-swap/v1/retrieve-date",
                axum::routing::post(|| async { json(DEVICE_ANSWER) }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("{}", listener.local_addr().unwrap());
        std::io::stdout().flush().unwrap();
        axum::serve(listener, app).await.unwrap();
    });
}

fn json(body: &'static str) -> impl axum::response::IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
}
