//! Issue 14's repros through the `portcullis` binary, as the adversarial pass ran them:
//! journal tampering, secrets and identifiers in messages, terminal injection, closed
//! pipes, and traces streamed by `simulate`.

mod support;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use portcullis_core::{trace, Agent, SoftwareDeviceKey};
use rusqlite::Connection;
use support::{inspect, portcullis, stdout_of};

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/scenarios")
        .join(name)
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A database written by `simulate --db`, as in the issue's repro.
fn simulated_db(dir: &Path, extra: &[&str]) -> PathBuf {
    let db = dir.join("x.db");
    let mut args = vec![
        "simulate",
        "--scenario",
        p(&scenario("sim-swap-at-night.jsonl")).to_owned().leak(),
        "--db",
        p(&db).to_owned().leak(),
    ];
    args.extend_from_slice(extra);
    let out = portcullis(&args);
    assert!(out.status.success(), "{}", text(&out));
    db
}

fn sql(db: &Path, sql: &str) {
    let conn = Connection::open(db).unwrap();
    conn.execute_batch("PRAGMA foreign_keys=OFF").unwrap();
    conn.execute_batch(sql).unwrap();
}

/// The one value the query SQL selects from DB.
fn query<T: rusqlite::types::FromSql>(db: &Path, sql: &str) -> T {
    Connection::open(db)
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

fn verify(db: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["journal", "verify", "--db", p(db)];
    args.extend_from_slice(extra);
    portcullis(&args)
}

fn assert_broken(out: &Output, what: &str) {
    assert_eq!(out.status.code(), Some(1), "{what}: {}", text(out));
    assert!(
        !text(out).contains("journal intact"),
        "{what}: {}",
        text(out)
    );
}

/// Item 1, exactly as reproduced: every journal and outbox row deleted, and an anchor
/// naming the real hash of record 3 inserted.
#[test]
fn item_1_a_wiped_journal_behind_a_forged_anchor_is_broken() {
    let dir = tempfile::tempdir().unwrap();
    let db = simulated_db(dir.path(), &[]);
    let hash: String = query(&db, "SELECT lower(hex(hash)) FROM journal WHERE seq = 3");
    sql(
        &db,
        &format!(
            r#"delete from outbox; delete from journal;
               insert into meta(key,value) values('journal_anchor','{{"seq":3,"hash":"{hash}","next_epoch":0}}')"#
        ),
    );
    let out = verify(&db, &[]);
    assert_broken(&out, "a forged anchor");
    assert!(text(&out).contains("anchor"), "{}", text(&out));
}

/// A device's database with its epoch-0 key and the console's checkpoint on disk.
struct Device {
    _dir: tempfile::TempDir,
    db: PathBuf,
    key: PathBuf,
    checkpoint: PathBuf,
}

fn device() -> Device {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("phone.db");
    let events =
        trace::parse(&std::fs::read_to_string(scenario("sim-swap-at-night.jsonl")).unwrap())
            .unwrap();
    let key = Arc::new(SoftwareDeviceKey::new(b"cli-hardening-secret").unwrap());
    let mut agent = Agent::open(&db, key, events[0].at, [6; 32]).unwrap();
    let key0 = agent.journal_key_export().unwrap().unwrap();
    trace::replay(&mut agent, &events[..4], &mut trace::refuse_shorthands).unwrap();
    agent.checkpoint(events[3].at).unwrap();
    trace::replay(&mut agent, &events[4..], &mut trace::refuse_shorthands).unwrap();
    let cp = agent.checkpoint(events.last().unwrap().at).unwrap();
    let checkpoint = dir.path().join("checkpoint.json");
    std::fs::write(&checkpoint, serde_json::to_string(&cp).unwrap()).unwrap();
    let key = dir.path().join("journal.key");
    let hex: String = key0.iter().map(|b| format!("{b:02x}")).collect();
    std::fs::write(&key, hex).unwrap();
    Device {
        _dir: dir,
        db,
        key,
        checkpoint,
    }
}

/// Item 2: an anchor whose epoch is 9,000,000,000,000,000,000 makes verification with
/// `--journal-key` answer at once instead of evolving the key for ever.
#[test]
fn item_2_a_huge_anchor_epoch_does_not_hang_verification() {
    let d = device();
    let (seq, hash): (i64, String) = Connection::open(&d.db)
        .unwrap()
        .query_row(
            "SELECT seq, head_hash FROM checkpoint ORDER BY seq LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    sql(
        &d.db,
        &format!(
            r#"delete from journal where seq <= {seq};
               insert into meta(key,value) values('journal_anchor','{{"seq":{seq},"hash":"{hash}","next_epoch":9000000000000000000}}')"#
        ),
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args([
            "journal",
            "verify",
            "--db",
            p(&d.db),
            "--journal-key",
            p(&d.key),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > std::time::Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("verification still running after 60 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_broken(&child.wait_with_output().unwrap(), "a huge anchor epoch");
}

/// Item 3: the whole journal deleted, with no checkpoints; and the checkpoint public
/// key deleted. Neither is "intact".
#[test]
fn item_3_required_facts_missing_are_broken() {
    let dir = tempfile::tempdir().unwrap();
    let db = simulated_db(dir.path(), &[]);
    sql(&db, "delete from outbox; delete from journal;");
    assert_broken(&verify(&db, &[]), "a deleted journal");

    let d = device();
    sql(
        &d.db,
        "delete from meta where key = 'checkpoint_public_key'",
    );
    let out = verify(&d.db, &[]);
    assert_broken(&out, "a deleted checkpoint public key");
    assert!(!text(&out).contains("signed checkpoints"), "{}", text(&out));
    assert_broken(
        &verify(
            &d.db,
            &["--checkpoint", p(&d.checkpoint), "--journal-key", p(&d.key)],
        ),
        "a deleted checkpoint public key, with the console's material",
    );
}

/// Item 4: a deleted undelivered outbox row is noticed.
#[test]
fn item_4_a_deleted_undelivered_alert_is_broken() {
    let dir = tempfile::tempdir().unwrap();
    let db = simulated_db(dir.path(), &[]);
    sql(
        &db,
        "delete from outbox where id = (select max(id) from outbox where acked_at is null)",
    );
    let out = verify(&db, &[]);
    assert_broken(&out, "a deleted undelivered alert");
    assert!(text(&out).contains("outbox"), "{}", text(&out));
}

/// `simulate --checkpoint-every` and `--checkpoint-out` give the console what it needs
/// to catch a truncated tail.
#[test]
fn simulate_can_checkpoint_for_the_console() {
    let dir = tempfile::tempdir().unwrap();
    let cp = dir.path().join("cp.json");
    let db = simulated_db(
        dir.path(),
        &[
            "--checkpoint-every",
            "3",
            "--checkpoint-out",
            p(&cp).to_owned().leak(),
        ],
    );
    let checkpoints: i64 = query(&db, "SELECT count(*) FROM checkpoint");
    assert!(checkpoints >= 2, "{checkpoints} checkpoints");
    let out = verify(&db, &["--checkpoint", p(&cp)]);
    assert!(out.status.success(), "{}", text(&out));
    sql(
        &db,
        "delete from journal where seq = (select max(seq) from journal)",
    );
    assert_broken(&verify(&db, &["--checkpoint", p(&cp)]), "a truncated tail");
}

/// Item 10: given the key itself instead of a file's name, `sim pin` does not echo it.
#[test]
fn item_10_sim_pin_does_not_echo_a_key_given_as_its_argument() {
    let key = "5f".repeat(32);
    for args in [
        vec![
            "sim",
            "pin",
            "--pin-key",
            key.as_str(),
            "--identity",
            "/nonexistent",
        ],
        vec![
            "sim",
            "pin",
            "--pin-key",
            "/nonexistent",
            "--identity",
            r#"{"iccid":"8944110012345678901"}"#,
        ],
        vec![
            "journal",
            "verify",
            "--db",
            "/nonexistent",
            "--journal-key",
            key.as_str(),
        ],
    ] {
        let out = portcullis(&args);
        assert!(!out.status.success());
        let all = text(&out);
        assert!(!all.contains(&key), "{all}");
        assert!(!all.contains("89441100"), "{all}");
    }
    let dir = tempfile::tempdir().unwrap();
    let db = simulated_db(dir.path(), &[]);
    let out = portcullis(&["journal", "verify", "--db", p(&db), "--journal-key", &key]);
    assert!(!text(&out).contains(&key), "{}", text(&out));
}

/// A bundle whose malware name and indicator carry terminal escapes, and evidence whose
/// file name does: `ESC[2J` clears the screen, `ESC]0;` retitles the window.
fn hostile_inspection(dir: &Path) -> (PathBuf, PathBuf) {
    let name = "\u{1b}[2J\u{1b}[HClean: no indicator matched.";
    let bundle = serde_json::json!({
        "type": "bundle",
        "id": "bundle--1",
        "objects": [
            {"type": "malware", "id": "malware--1", "name": "\u{1b}]0;pwned\u{7}Spy\u{202e}ware"},
            {"type": "indicator", "id": "indicator--1", "pattern": format!("[file:name='{name}']"), "pattern_type": "stix"},
            {"type": "relationship", "id": "relationship--1", "relationship_type": "indicates",
             "source_ref": "indicator--1", "target_ref": "malware--1"}
        ]
    });
    let evidence = serde_json::json!({
        "version": 1,
        "platform": "android",
        "files": [{"path": format!("/sdcard/Download/{name}")}]
    });
    let b = dir.join("hostile.stix2");
    let e = dir.join("evidence.json");
    std::fs::write(&b, bundle.to_string()).unwrap();
    std::fs::write(&e, evidence.to_string()).unwrap();
    (b, e)
}

/// Item 14: control characters in values reach the kiosk's text output escaped; the JSON
/// output carries them as JSON escapes.
#[test]
fn item_14_text_output_escapes_control_characters() {
    let dir = tempfile::tempdir().unwrap();
    let (bundle, evidence) = hostile_inspection(dir.path());
    let shown = stdout_of(&inspect(&[&bundle], ("--evidence", &evidence), &[]), 3);
    assert!(
        !shown.contains('\u{1b}') && !shown.contains('\u{7}') && !shown.contains('\u{202e}'),
        "{shown:?}"
    );
    assert!(shown.contains("\\u{1b}[2J"), "{shown}");
    assert!(shown.contains("\\u{202e}"), "{shown}");
    assert!(shown.lines().all(|l| !l.starts_with("Clean")), "{shown}");

    let out = inspect(&[&bundle], ("--evidence", &evidence), &["--format", "json"]);
    let raw = String::from_utf8(out.stdout).unwrap();
    assert!(!raw.contains('\u{1b}') && !raw.contains('\u{7}'), "{raw:?}");
    let report: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert!(report["findings"][0]["malware"][0]
        .as_str()
        .unwrap()
        .starts_with('\u{1b}'));
}

/// Writes TRACE as DIR/NAME and runs `simulate` on it, keeping the database as DIR/DB when
/// one is named; the run must fail. Returns the trace's path and what the run printed.
fn simulate_refuses(dir: &Path, name: &str, trace: &str, db: Option<&str>) -> (PathBuf, Output) {
    let path = dir.join(name);
    std::fs::write(&path, trace).unwrap();
    let db = db.map(|db| dir.join(db));
    let mut args = vec!["simulate", "--scenario", p(&path)];
    if let Some(db) = &db {
        args.extend(["--db", p(db)]);
    }
    let out = portcullis(&args);
    assert!(!out.status.success(), "{args:?} succeeded");
    (path, out)
}

/// Alert text printed by `simulate` and errors on standard error are escaped too.
#[test]
fn item_14_errors_are_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let trace = "{\"at\":\"x\",\"tick\":{}}\n";
    let (_, out) = simulate_refuses(dir.path(), "t\u{1b}[2J.jsonl", trace, None);
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(!err.contains('\u{1b}'), "{err:?}");
    assert!(err.contains("\\u{1b}"), "{err}");
}

/// A trace whose SIM comes and goes every minute: hundreds of alerts, so `simulate` and
/// `journal export` print far more than a pipe holds.
fn flapping_trace(dir: &Path) -> PathBuf {
    let path = dir.join("flapping.jsonl");
    let mut text = String::new();
    for i in 0..2_400 {
        let at = format!(
            "2026-03-{:02}T{:02}:{:02}:00Z",
            1 + i / 1440,
            (i / 60) % 24,
            i % 60
        );
        let state = if i % 2 == 0 {
            r#""state":"ready","iccid":"8944110012345678901","mcc_mnc":"23415""#
        } else {
            r#""state":"absent""#
        };
        text.push_str(&format!(
            "{{\"at\":\"{at}\",\"sim\":{{\"slot\":0,{state}}}}}\n"
        ));
    }
    std::fs::write(&path, text).unwrap();
    path
}

/// Item 15: a closed output pipe ends the command quietly with status 141 (what a shell
/// reports for SIGPIPE), never a panic with a backtrace. Each command prints more than a
/// pipe buffers, so it is still writing when the reading end closes, however the two
/// processes are scheduled.
#[test]
fn item_15_a_closed_pipe_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let trace = flapping_trace(dir.path());
    let db = dir.path().join("flapping.db");
    let out = portcullis(&[
        "simulate",
        "--scenario",
        p(&trace),
        "--db",
        p(&db),
        "--format",
        "jsonl",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(out.stdout.len() > 128 * 1024, "{} bytes", out.stdout.len());
    let (bundle, _) = hostile_inspection(dir.path());
    let evidence = dir.path().join("many.json");
    let files: Vec<serde_json::Value> = (0..2_000)
        .map(|i| serde_json::json!({"path": format!("/sdcard/{i}/\u{1b}[2J\u{1b}[HClean: no indicator matched.")}))
        .collect();
    std::fs::write(
        &evidence,
        serde_json::json!({"version": 1, "platform": "android", "files": files}).to_string(),
    )
    .unwrap();
    let commands: [&[&str]; 5] = [
        &["journal", "export", "--db", p(&db)],
        &["journal", "export", "--db", p(&db), "--format", "ocsf"],
        &["simulate", "--scenario", p(&trace)],
        &["simulate", "--scenario", p(&trace), "--format", "jsonl"],
        &[
            "inspect",
            "--indicators",
            p(&bundle),
            "--evidence",
            p(&evidence),
        ],
    ];
    for args in commands {
        let mut child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .args(args)
            .env("RUST_BACKTRACE", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Read a little, as `head -1` does, then close the reading end.
        let mut first = [0u8; 64];
        let mut stdout = child.stdout.take().unwrap();
        let _ = stdout.read(&mut first).unwrap();
        drop(stdout);
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(141), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
    }
}

/// Item 16: `simulate` reads the trace line by line; a line over the limit is refused by
/// number without reading the rest of the file into memory.
#[test]
fn item_16_simulate_streams_and_bounds_lines() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    for i in 0..2_000 {
        text.push_str(&format!(
            "{{\"at\":\"2026-03-01T{:02}:{:02}:{:02}Z\",\"tick\":{{}}}}\n",
            i / 3600,
            (i / 60) % 60,
            i % 60
        ));
    }
    text.push_str(&"x".repeat(200_000));
    text.push('\n');
    let (_, out) = simulate_refuses(dir.path(), "long.jsonl", &text, Some("streamed.db"));
    let db = dir.path().join("streamed.db");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("trace line 2001") && err.contains("longer than"),
        "{err}"
    );
    // Streamed: the lines before the bad one were replayed as they were read (a reader of
    // the whole file first would have refused it before opening the database).
    let enrolled: i64 = query(&db, "SELECT count(*) FROM journal WHERE kind = 'enrolled'");
    assert_eq!(enrolled, 1);
}

/// Item 11 through the binary: a trace line naming `at` twice is refused by line.
#[test]
fn item_11_duplicate_keys_in_a_trace_line_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let trace = "{\"at\":\"2026-03-01T09:00:00Z\",\"tick\":{}}\n{\"at\":\"2026-03-01T09:00:00Z\",\"at\":\"2027-03-01T09:00:00Z\",\"tick\":{}}\n";
    let (_, out) = simulate_refuses(dir.path(), "dup.jsonl", trace, None);
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("trace line 2") && err.contains("duplicate key"),
        "{err}"
    );
}

/// Item 9 through the binary: an ICCID typed into a reason is refused, naming the field,
/// and reaches neither the output nor the database.
#[test]
fn item_9_an_identifier_in_a_reason_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let lines = "{\"at\":\"2026-03-01T09:00:00Z\",\"tick\":{}}\n{\"at\":\"2026-03-01T09:00:00Z\",\"authorize_sim_change\":{\"until\":\"2026-03-01T12:00:00Z\",\"reason\":\"new SIM 8944 1100 1234 5678 901\"}}\n";
    let (trace, out) = simulate_refuses(dir.path(), "reason.jsonl", lines, Some("r.db"));
    let all = text(&out);
    assert!(all.contains("authorize_sim_change.reason"), "{all}");
    let digits: String = all.chars().filter(char::is_ascii_digit).collect();
    assert!(!digits.contains("89441100"), "{all}");
    for file in std::fs::read_dir(dir.path()).unwrap() {
        let path = file.unwrap().path();
        if path == trace {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        for secret in [&b"8944 1100"[..], b"89441100", b"1234 5678", b"12345678"] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret),
                "{}",
                path.display()
            );
        }
    }
}
