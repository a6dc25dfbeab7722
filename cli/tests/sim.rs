//! End-to-end checks of `portcullis sim pin`: the pins it prints put a pinned policy in
//! force that the phone with the same key compares identically.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use portcullis_core::identity::{IdentityHasher, IdentityKind};
use portcullis_core::policy::model::PinnedIdentity;
use portcullis_core::policy::PinKey;
use portcullis_core::SoftwareDeviceKey;

const ICCID: &str = "8944501234567890123";
const NUMBER: &str = "+447700900123";

fn run(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    // A command that refuses its arguments may exit before reading its input: the pipe
    // closing under the write is part of that outcome, not a test failure.
    if let Err(e) = child.stdin.take().unwrap().write_all(stdin.as_bytes()) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    child.wait_with_output().unwrap()
}

fn key_file(dir: &std::path::Path, device: &SoftwareDeviceKey) -> String {
    let hex: String = PinKey::derive(device)
        .unwrap()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let path = dir.join("phone.pinkey");
    std::fs::write(&path, format!("{hex}\n")).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn pins_from_stdin_match_the_phone() {
    let dir = tempfile::tempdir().unwrap();
    let device = SoftwareDeviceKey::new(b"cli test device secret, 32 byte").unwrap();
    let key = key_file(dir.path(), &device);
    let out = run(
        &["sim", "pin", "--pin-key", &key],
        &format!(r#"{{"iccid": "{ICCID}", "msisdn": "{NUMBER}"}}"#),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pinned: PinnedIdentity = serde_json::from_slice(&out.stdout).unwrap();
    let phone = IdentityHasher::derive(&device).unwrap();
    assert_eq!(
        pinned.iccid,
        Some(phone.pin(IdentityKind::Iccid, ICCID).unwrap())
    );
    assert_eq!(
        pinned.msisdn,
        Some(phone.pin(IdentityKind::PhoneNumber, NUMBER).unwrap())
    );
    assert_eq!(pinned.imsi, None);
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(!printed.contains(ICCID) && !printed.contains(&NUMBER[1..]));
}

#[test]
fn a_malformed_identifier_fails_without_echoing_it() {
    let dir = tempfile::tempdir().unwrap();
    let device = SoftwareDeviceKey::new(b"cli test device secret, 32 byte").unwrap();
    let key = key_file(dir.path(), &device);
    let bad = "89445012345678901234567890";
    let out = run(
        &["sim", "pin", "--pin-key", &key],
        &format!(r#"{{"iccid": "{bad}"}}"#),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("iccid"), "{err}");
    assert!(!err.contains(bad), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn a_pin_key_that_is_not_64_hex_digits_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("short.pinkey");
    std::fs::write(&path, "abcd").unwrap();
    let out = run(
        &["sim", "pin", "--pin-key", path.to_str().unwrap()],
        &format!(r#"{{"iccid": "{ICCID}"}}"#),
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("64 hex digits"));
}
