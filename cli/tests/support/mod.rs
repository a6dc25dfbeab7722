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

/// Checks that OUT contains every one of EXPECTED, naming the first it lacks.
pub(crate) fn contains_all(out: &str, expected: &[&str]) {
    for text in expected {
        assert!(out.contains(text), "{text:?} is missing: {out}");
    }
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

/// A temporary folder holding the key pair `console`: (folder, private, public).
pub(crate) fn console_keys() -> (tempfile::TempDir, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keygen(dir.path(), "console");
    (dir, key, public)
}

/// A file signed by the key `console` in a temporary folder, with another key's public
/// half to try it with: what the tests of a verification's refusals start from.
pub(crate) struct SignedFile {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) key: String,
    pub(crate) public: String,
    pub(crate) other_public: String,
    pub(crate) signed: String,
}

/// Signs INPUT with `portcullis COMMAND sign` and EXTRA into NAME in a new folder.
pub(crate) fn signed_file(command: &str, input: &str, name: &str, extra: &[&str]) -> SignedFile {
    let (dir, key, public) = console_keys();
    let (_, other_public) = keygen(dir.path(), "other");
    let signed = p(dir.path(), name);
    sign(command, &key, input, &signed, extra);
    SignedFile {
        dir,
        key,
        public,
        other_public,
        signed,
    }
}

/// Generates key NAME in DIR and returns (private, public) paths.
pub(crate) fn keygen(dir: &Path, name: &str) -> (String, String) {
    ok(&["keygen", "--out", dir.to_str().unwrap(), "--name", name]);
    (
        p(dir, &format!("{name}.key")),
        p(dir, &format!("{name}.pub")),
    )
}

/// The arguments of `portcullis COMMAND sign` with KEY, IN, OUT and EXTRA.
pub(crate) fn sign_args<'a>(
    command: &'a str,
    key: &'a str,
    input: &'a str,
    out: &'a str,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec![command, "sign", "--key", key, "--in", input, "--out", out];
    args.extend_from_slice(extra);
    args
}

/// Runs `portcullis COMMAND sign` with KEY, IN, OUT, signing time `ISSUED` and EXTRA
/// arguments; it must succeed, and its output is returned.
pub(crate) fn sign(command: &str, key: &str, input: &str, out: &str, extra: &[&str]) -> String {
    let mut args = sign_args(command, key, input, out, &["--issued-at", ISSUED]);
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

/// The base64 body of a PEM file's text, without its armour lines.
pub(crate) fn pem_body(text: &str) -> String {
    text.lines().filter(|l| !l.starts_with("-----")).collect()
}

/// The arguments of `portcullis COMMAND verify` for INPUT, trusting TRUST, at NOW.
pub(crate) fn verify_args<'a>(
    command: &'a str,
    trust: &'a str,
    input: &'a str,
    now: &'a str,
) -> Vec<&'a str> {
    vec![
        command, "verify", "--trust", trust, "--in", input, "--now", now,
    ]
}

/// Flips one bit at six places across the signed file SIGNED (first and last bytes
/// among them), writes each copy beside it, and checks `COMMAND verify` refuses every
/// one with a one-line reason.
pub(crate) fn flipped_bits_fail(command: &str, trust: &str, signed: &str) {
    let flipped = &format!("{signed}.flipped");
    let good = std::fs::read(signed).unwrap();
    let n = good.len();
    for pos in [0, 20, n / 3, n / 2, n - 40, n - 1] {
        let mut bad = good.clone();
        bad[pos] ^= 0x01;
        std::fs::write(flipped, &bad).unwrap();
        fails(&verify_args(command, trust, flipped, CHECKED));
    }
}

/// Runs `root create` with ARGS, writing the document to DIR/NAME; returns its path.
pub(crate) fn root_create(dir: &Path, name: &str, args: &[&str]) -> String {
    let out = p(dir, name);
    ok(&[&["root", "create"], args, &["--out", &out]].concat());
    out
}

/// Runs `root sign` with every key of KEYS on INPUT, writing OUT; returns its output.
pub(crate) fn root_sign(keys: &[&str], input: &str, out: &str) -> String {
    let mut args = vec!["root", "sign"];
    for key in keys {
        args.extend(["--key", key]);
    }
    args.extend(["--in", input, "--out", out]);
    ok(&args)
}

/// Checks that OUT exited with CODE (showing what it printed otherwise) and returns its
/// standard output.
pub(crate) fn stdout_of(out: &Output, code: i32) -> String {
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    assert_eq!(
        out.status.code(),
        Some(code),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Checks that OUT exited with CODE and returns its standard output read as JSON.
pub(crate) fn json_of(out: &Output, code: i32) -> serde_json::Value {
    serde_json::from_str(&stdout_of(out, code)).expect("JSON on stdout")
}

/// Runs `portcullis attest verify` on CHAIN (a file of `../shared/attestation/`) with the
/// challenge CHALLENGE_HEX and EXTRA arguments.
pub(crate) fn attest_verify(chain: &str, challenge_hex: &str, extra: &[&str]) -> Output {
    let chain = shared_attestation(chain);
    let mut args = vec!["attest", "verify", "--chain", &chain];
    args.extend(["--challenge", challenge_hex]);
    args.extend_from_slice(extra);
    portcullis(&args)
}

/// Runs `portcullis inspect` of INPUT (`--evidence FILE`, `--androidqf DIR` or
/// `--telemetry FILE`) against every bundle of INDICATORS, and EXTRA arguments.
pub(crate) fn inspect(
    indicators: &[&Path],
    (flag, input): (&str, &Path),
    extra: &[&str],
) -> Output {
    let mut args = vec!["inspect"];
    for bundle in indicators {
        args.extend(["--indicators", bundle.to_str().unwrap()]);
    }
    args.extend([flag, input.to_str().unwrap()]);
    args.extend_from_slice(extra);
    portcullis(&args)
}

/// Checks that OUT exited with 0 and reads its standard output as JSON lines.
pub(crate) fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    stdout_of(out, 0)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The `root create` arguments that make every key of PUBLICS a key of ROLE (`root` or
/// `policy`), THRESHOLD of them required.
pub(crate) fn role<'a>(role: &str, publics: &[&'a str], threshold: &'a str) -> Vec<&'a str> {
    let (key_flag, threshold_flag) = match role {
        "root" => ("--root-key", "--root-threshold"),
        "policy" => ("--policy-key", "--policy-threshold"),
        other => panic!("no role {other}"),
    };
    let mut args = Vec::new();
    for public in publics {
        args.extend([key_flag, public]);
    }
    args.extend([threshold_flag, threshold]);
    args
}
