//! Helpers shared by the CLI's end-to-end tests of signed policy bundles and indicator
//! files: running the binary, keys in a temporary folder, signing at a fixed time.
#![allow(dead_code)] // each test binary uses a different part

use std::path::Path;
use std::process::{Command, Output};

/// The signing time the tests sign at.
pub(crate) const ISSUED: &str = "2026-03-01T00:00:00Z";
/// A day after `ISSUED`: the time the tests verify at.
pub(crate) const CHECKED: &str = "2026-03-02T00:00:00Z";

pub(crate) fn portcullis(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(args)
        .output()
        .expect("the binary runs")
}

pub(crate) fn ok(args: &[&str]) -> String {
    let out = portcullis(args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs a command that must fail and returns its one-line reason.
pub(crate) fn fails(args: &[&str]) -> String {
    let out = portcullis(args);
    assert!(!out.status.success(), "{args:?} succeeded");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "not one line: {stderr}");
    assert!(stderr.starts_with("portcullis: "), "{stderr}");
    stderr
}

pub(crate) fn p(dir: &Path, name: &str) -> String {
    dir.join(name).to_string_lossy().into_owned()
}

/// Generates key NAME in DIR and returns (private, public) paths.
pub(crate) fn keygen(dir: &Path, name: &str) -> (String, String) {
    ok(&["keygen", "--out", dir.to_str().unwrap(), "--name", name]);
    (
        p(dir, &format!("{name}.key")),
        p(dir, &format!("{name}.pub")),
    )
}

/// Runs `portcullis COMMAND sign` with KEY, IN, OUT, signing time `ISSUED` and EXTRA
/// arguments; it must succeed, and its output is returned.
pub(crate) fn sign(command: &str, key: &str, input: &str, out: &str, extra: &[&str]) -> String {
    let mut args = vec![
        command,
        "sign",
        "--key",
        key,
        "--in",
        input,
        "--out",
        out,
        "--issued-at",
        ISSUED,
    ];
    args.extend_from_slice(extra);
    ok(&args)
}

/// A path inside the repository, from its root.
pub(crate) fn repo(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

/// A file of `../shared/attestation/` (beside the repository) as a command argument.
pub(crate) fn shared_attestation(rel: &str) -> String {
    let path = repo("../shared/attestation").join(rel);
    assert!(path.exists(), "{} is missing", path.display());
    path.to_str().unwrap().to_owned()
}

/// Lower-case hex of a text's bytes (challenges are given in hex).
pub(crate) fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}
