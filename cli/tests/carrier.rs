//! End-to-end checks of `portcullis carrier watch`: roster errors, and one pass against
//! a minimal loopback carrier (the contract-level behaviour is tested in the
//! portcullis-carrier crate against the CAMARA contracts).

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;

use support::{fails, ok, p, portcullis};

const NUMBER: &str = "+447700900123";

/// A carrier on loopback answering every request (HTTP/1.1, one per connection):
/// a token on `/token`, a recent SIM change elsewhere. Returns its base URL.
fn tiny_carrier(latest: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            let mut length = 0;
            loop {
                let mut header = String::new();
                reader.read_line(&mut header).unwrap();
                if header.trim().is_empty() {
                    break;
                }
                if let Some(v) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let answer = if request_line.contains("/token") {
                r#"{"access_token":"t","token_type":"Bearer","expires_in":3600}"#.to_owned()
            } else if request_line.contains("/sim-swap") {
                format!(r#"{{"latestSimChange":"{latest}"}}"#)
            } else {
                r#"{"latestDeviceChange":null}"#.to_owned()
            };
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    format!("http://{addr}")
}

fn roster(dir: &Path, base: &str, phone: &str) -> String {
    std::fs::write(dir.join("pin.key"), "ab".repeat(32)).unwrap();
    std::fs::write(dir.join("secret"), "client-secret").unwrap();
    let text = format!(
        "[carrier.acme]\nsim_swap_url = \"{base}/sim-swap/v2\"\ndevice_swap_url = \"{base}/device-swap/v1\"\ntoken_url = \"{base}/token\"\nclient_id = \"c\"\nclient_secret = {{ file = \"secret\" }}\n\n[[line]]\ndevice = \"minister-01\"\nphone = \"{phone}\"\ncarrier = \"acme\"\npin_key = \"pin.key\"\n"
    );
    std::fs::write(dir.join("roster.toml"), text).unwrap();
    p(dir, "roster.toml")
}

/// Writes a roster naming PHONE at the carrier BASE and an operations key into DIR;
/// returns the arguments of `carrier watch --once` that use them, and EXTRA.
fn watch_args(dir: &Path, base: &str, phone: &str, extra: &[&str]) -> Vec<String> {
    let roster = roster(dir, base, phone);
    ok(&["keygen", "--out", &p(dir, "keys"), "--name", "operations"]);
    let (out, key) = (p(dir, "out"), p(dir, "keys/operations.key"));
    let mut args = vec!["carrier", "watch", "--roster", &roster, "--out", &out];
    args.extend(["--operations-key", &key, "--once"]);
    args.extend_from_slice(extra);
    args.into_iter().map(String::from).collect()
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

#[test]
fn a_bad_roster_is_refused_naming_line_and_field_without_the_number() {
    let dir = tempfile::tempdir().unwrap();
    let args = watch_args(dir.path(), "http://127.0.0.1:9", "+44 7700 900123", &[]);
    let err = fails(&strs(&args));
    assert!(err.contains("line 1: field `phone`"), "{err}");
    assert!(!err.contains("900123"), "{err}");
}

#[test]
fn watch_once_alerts_and_writes_signed_instructions() {
    let dir = tempfile::tempdir().unwrap();
    let recent = jiff_now_minus_hour();
    let base = tiny_carrier(recent.clone());
    let alerts_out = p(dir.path(), "alerts.jsonl");
    let args = watch_args(
        dir.path(),
        &base,
        NUMBER,
        &["--alerts-out", &alerts_out, "--timeout", "5s"],
    );
    let args = strs(&args);
    let out = portcullis(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("2 request(s), 2 answered, 1 alert(s), 2 instruction(s), 0 failure(s)"),
        "{stderr}"
    );
    let alerts = std::fs::read_to_string(dir.path().join("alerts.jsonl")).unwrap();
    assert_eq!(alerts.lines().count(), 1);
    keep_for_validation("cli-carrier-watch", &alerts);
    let alert: serde_json::Value = serde_json::from_str(alerts.trim()).unwrap();
    assert_eq!(alert["finding_info"]["title"], "carrier_reported_swap");
    for text in [
        &alerts,
        &stderr.to_string(),
        &std::fs::read_to_string(dir.path().join("out/carrier-state.json")).unwrap(),
    ] {
        assert!(!text.contains("7700900123"), "the number leaked: {text}");
    }
    // The instruction verifies under the operations public key.
    let public = std::fs::read_to_string(dir.path().join("keys/operations.pub")).unwrap();
    let envelope = std::fs::read(
        dir.path()
            .join("out/minister-01.carrier_check.sim_swap.json"),
    )
    .unwrap();
    let env = portcullis_core::policy::Envelope::parse(&envelope, 64 * 1024).unwrap();
    assert_eq!(
        env.payload_type,
        "application/vnd.portcullis.instruction+json"
    );
    let key_b64: String = public.lines().filter(|l| !l.starts_with("-----")).collect();
    use base64::Engine;
    let der = base64::engine::general_purpose::STANDARD
        .decode(key_b64)
        .unwrap();
    let key = portcullis_core::policy::PublicKey::from_bytes(&der[12..]).unwrap();
    assert!(key.verifies(&env.signing_input(), &env.signatures[0].sig));
    // A second run does not alert again.
    assert!(portcullis(&args).status.success());
    let alerts = std::fs::read_to_string(dir.path().join("alerts.jsonl")).unwrap();
    assert_eq!(alerts.lines().count(), 1);
    keep_for_validation("cli-carrier-watch", &alerts);
}

fn jiff_now_minus_hour() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    portcullis_core::Timestamp::from_unix_millis(now - 3_600_000).to_string()
}

#[test]
fn watch_once_with_phone_alerts_checks_only_the_flagged_lines() {
    let dir = tempfile::tempdir().unwrap();
    let base = tiny_carrier(jiff_now_minus_hour());
    let phone_alerts = p(dir.path(), "phone-alerts.jsonl");
    let args = watch_args(dir.path(), &base, NUMBER, &["--alerts", &phone_alerts]);
    std::fs::write(
        dir.path().join("phone-alerts.jsonl"),
        concat!(
            r#"{"device_id":"ghost-07","kind":"sim_replaced","carrier_check_wanted":true}"#,
            "\n",
            r#"{"device_id":"minister-01","kind":"port_out_suspected","carrier_check_wanted":true}"#,
            "\n"
        ),
    )
    .unwrap();
    let out = portcullis(&strs(&args));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("alerts line 1: device ghost-07 is not in the roster; skipped"),
        "{stderr}"
    );
    assert!(
        stderr.contains("carrier watch (phone alerts): 2 request(s), 2 answered, 1 alert(s)"),
        "{stderr}"
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    keep_for_validation("cli-carrier-phone-alerts", &stdout);
    let alert: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(alert["evidences"][0]["data"]["trigger"], "phone_alert");
}

/// Keeps OCSF alerts where `scripts/ocsf-tests.sh` validates them against the OCSF schema.
fn keep_for_validation(name: &str, jsonl: &str) {
    if let Some(dir) = std::env::var_os("PORTCULLIS_OCSF_DUMP") {
        std::fs::write(
            std::path::Path::new(&dir).join(format!("{name}.jsonl")),
            jsonl,
        )
        .unwrap();
    }
}
