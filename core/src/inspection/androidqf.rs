//! An androidqf acquisition folder read into an [`EvidenceSnapshot`], so the forensic
//! kiosk scans what an analyst already holds after collecting a phone with androidqf.
//!
//! androidqf writes one file per module into its acquisition folder. The ones read here:
//!
//! | file | written by | read into |
//! |---|---|---|
//! | `packages.json` | packages module: a list of `{name, installer, system, files: [{path, md5, sha1, sha256, certificate: {..}}]}` | `packages` (id, installer, system, signing certificate digests) and `files` (each APK with its digests) |
//! | `processes.json` | processes module with its on-device collector: `{pid, filename, path, ..}` | `processes` |
//! | `processes.txt` | processes module without the collector: `ps -A` output | `processes` (the `PID` and `NAME` columns) |
//! | `getprop.txt` | getprop module: `[name]: [value]` lines | `system_properties` |
//! | `settings_system.txt`, `settings_secure.txt`, `settings_global.txt` | settings module: `cmd settings list NS`, `name=value` lines | `settings` |
//! | `files.json` | files module: a list of `{path, md5, sha1, sha256, ..}` | `files` |
//!
//! The other files androidqf writes (`acquisition.json`, `dumpsys.txt`, `logcat.txt`,
//! `backup.ab`, `bugreport.zip`, ...) are listed as known but not scanned; any other
//! file is listed as unknown. A module's file that is missing, or cannot be read, is
//! reported and the rest is still read: an acquisition is often partial. Pure: the
//! caller reads the folder and hands in the files' contents.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::evidence::{
    Certificate, EvidenceSnapshot, File, Package, Platform, Process, Property, Setting,
    EVIDENCE_VERSION,
};
use super::stix::{normalize_digest, HashAlgorithm};

/// The largest file read: `files.json` of a whole phone stays well under it, and a JSON
/// file is held as a tree while it is read, several times its size.
pub const MAX_FILE_BYTES: u64 = 128 * 1024 * 1024;
/// The most bytes read from one acquisition, all files together.
pub const MAX_TOTAL_BYTES: u64 = 1024 * 1024 * 1024;
/// The most items taken from one file; the rest is reported, not read.
pub const MAX_ITEMS_PER_FILE: usize = 2_000_000;

/// Files androidqf writes that hold nothing the scanner reads.
pub const KNOWN_NOT_SCANNED: &[&str] = &[
    "acquisition.json",
    "backup.ab",
    "bugreport.zip",
    "command.log",
    "dumpsys.txt",
    "env.txt",
    "logcat.txt",
    "logcat_old.txt",
    "mounts.json",
    "root_binaries.json",
    "selinux.txt",
    "services.txt",
];

/// The settings namespaces androidqf lists.
const SETTINGS: [(&str, &str); 3] = [
    ("settings_system.txt", "system"),
    ("settings_secure.txt", "secure"),
    ("settings_global.txt", "global"),
];

/// True for the files [`read_acquisition`] reads; the caller reads only these.
pub fn is_read(name: &str) -> bool {
    matches!(
        name,
        "packages.json" | "processes.json" | "processes.txt" | "getprop.txt" | "files.json"
    ) || SETTINGS.iter().any(|(file, _)| *file == name)
}

/// A file the acquisition holds that was not (fully) used, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FileNote {
    /// The file's name in the acquisition folder.
    pub file: String,
    /// What happened to it.
    pub note: String,
}

/// An acquisition read into a snapshot, with what was and was not used.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AndroidqfImport {
    /// The evidence, ready to scan.
    pub snapshot: EvidenceSnapshot,
    /// Files read into the snapshot, with the items each gave.
    pub read: BTreeMap<String, usize>,
    /// Files androidqf writes that are missing from this acquisition.
    pub missing: Vec<String>,
    /// Files read only in part or not at all because of a problem (bad JSON, a
    /// malformed line, a digest of the wrong length, too many items).
    pub problems: Vec<FileNote>,
    /// Files androidqf writes that hold nothing the scanner reads.
    pub not_scanned: Vec<String>,
    /// Files androidqf does not write (or folders): not read.
    pub unknown: Vec<String>,
}

/// Reads the acquisition's files, given as `(name, contents)` with names relative to
/// the acquisition folder. Folders (`apks/`, `logs/`, ...) are the caller's to list as
/// names ending in `/`; they are reported as not scanned.
pub fn read_acquisition<'a>(
    files: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> AndroidqfImport {
    let mut out = AndroidqfImport {
        snapshot: EvidenceSnapshot {
            version: EVIDENCE_VERSION,
            platform: Some(Platform::Android),
            ..EvidenceSnapshot::default()
        },
        read: BTreeMap::new(),
        missing: Vec::new(),
        problems: Vec::new(),
        not_scanned: Vec::new(),
        unknown: Vec::new(),
    };
    let mut seen: Vec<String> = Vec::new();
    for (name, text) in files {
        seen.push(name.to_owned());
        let mut file = FileReader {
            snapshot: &mut out.snapshot,
            problems: Vec::new(),
        };
        let count = match name {
            "packages.json" => packages(text, &mut file),
            "processes.json" => processes_json(text, &mut file),
            "processes.txt" => processes_txt(text, &mut file),
            "getprop.txt" => getprop(text, &mut file),
            "files.json" => files_json(text, &mut file),
            _ => match SETTINGS.iter().find(|(file, _)| *file == name) {
                Some((_, namespace)) => settings(text, namespace, &mut file),
                None => {
                    if KNOWN_NOT_SCANNED.contains(&name)
                        || name.ends_with('/')
                        || name.ends_with(".apk")
                    {
                        out.not_scanned.push(name.to_owned());
                    } else {
                        out.unknown.push(name.to_owned());
                    }
                    continue;
                }
            },
        };
        if let Some(n) = count {
            out.read.insert(name.to_owned(), n);
        }
        for problem in file.problems {
            out.problems.push(FileNote {
                file: name.to_owned(),
                note: problem,
            });
        }
    }
    let has = |n: &str| seen.iter().any(|s| s == n);
    for expected in ["packages.json", "getprop.txt", "files.json"] {
        if !has(expected) {
            out.missing.push(expected.to_owned());
        }
    }
    if !has("processes.json") && !has("processes.txt") {
        out.missing
            .push("processes.json or processes.txt".to_owned());
    }
    for (file, _) in SETTINGS {
        if !has(file) {
            out.missing.push(file.to_owned());
        }
    }
    out
}

/// A list of JSON objects, each read on its own: one malformed item is a problem for
/// that item, not for the file. `None` when the file is not a JSON list.
fn items<T: for<'de> Deserialize<'de>>(text: &str, problems: &mut Vec<String>) -> Option<Vec<T>> {
    let raw: Vec<serde_json::Value> = match serde_json::from_str(text) {
        Ok(serde_json::Value::Array(items)) => items,
        // A module that found nothing writes `null`.
        Ok(serde_json::Value::Null) => Vec::new(),
        Ok(_) => {
            problems.push("not a JSON list; not read".to_owned());
            return None;
        }
        Err(e) => {
            problems.push(format!(
                "not valid JSON ({}); not read",
                crate::json::describe(&e)
            ));
            return None;
        }
    };
    if raw.len() > MAX_ITEMS_PER_FILE {
        problems.push(format!(
            "holds {} items; only the first {MAX_ITEMS_PER_FILE} were read",
            raw.len()
        ));
    }
    let mut out = Vec::new();
    let mut bad = 0usize;
    let mut first_bad = None;
    for (i, item) in raw.into_iter().take(MAX_ITEMS_PER_FILE).enumerate() {
        match serde_json::from_value::<T>(item) {
            Ok(v) => out.push(v),
            Err(e) => {
                bad += 1;
                first_bad.get_or_insert((i, e.to_string()));
            }
        }
    }
    if let Some((i, e)) = first_bad {
        problems.push(format!(
            "{bad} item(s) not in androidqf's format were skipped (the first, item {i}: {})",
            crate::redact::sanitize(&e)
        ));
    }
    Some(out)
}

/// A digest as androidqf wrote it: empty means not computed; a wrong length is counted.
fn digest(algorithm: HashAlgorithm, text: Option<&str>, bad: &mut usize) -> Option<String> {
    let text = text?.trim();
    if text.is_empty() {
        return None;
    }
    match normalize_digest(algorithm, text) {
        Some(d) => Some(d.into_owned()),
        None => {
            *bad += 1;
            None
        }
    }
}

/// The SHA-256, SHA-1 and MD5 digests as androidqf wrote them, each read with [`digest`].
fn digests([sha256, sha1, md5]: [Option<&str>; 3], bad: &mut usize) -> [Option<String>; 3] {
    [
        digest(HashAlgorithm::Sha256, sha256, bad),
        digest(HashAlgorithm::Sha1, sha1, bad),
        digest(HashAlgorithm::Md5, md5, bad),
    ]
}

/// The file an androidqf entry describes, with its digests; `None` when it names no
/// path (its digests are then not read).
fn hashed_file(f: AqfFile, bad: &mut usize) -> Option<File> {
    let path = non_empty(f.path)?;
    let texts = [f.sha256.as_deref(), f.sha1.as_deref(), f.md5.as_deref()];
    let [sha256, sha1, md5] = digests(texts, bad);
    Some(File {
        path: Some(path),
        name: None,
        sha256,
        sha1,
        md5,
    })
}

/// One file being read: the snapshot its items go into, and what was not read.
struct FileReader<'s> {
    snapshot: &'s mut EvidenceSnapshot,
    problems: Vec<String>,
}

impl FileReader<'_> {
    /// Notes `count` items that were not read (`what` says which and why).
    fn left_out(&mut self, count: usize, what: &str) {
        if count > 0 {
            self.problems.push(format!("{count} {what}"));
        }
    }
}

fn non_empty(text: Option<String>) -> Option<String> {
    text.filter(|t| !t.trim().is_empty())
}

#[derive(Deserialize)]
struct AqfPackage {
    name: String,
    #[serde(default)]
    installer: Option<String>,
    #[serde(default)]
    system: bool,
    #[serde(default)]
    files: Option<Vec<AqfPackageFile>>,
}

#[derive(Deserialize)]
struct AqfPackageFile {
    /// Its path and digests, as `files.json` gives them.
    #[serde(flatten)]
    file: AqfFile,
    /// The signing certificate as the APK verifier describes it; its digest keys are
    /// read in any case (`Sha256`, `sha256`).
    #[serde(default)]
    certificate: Option<serde_json::Map<String, serde_json::Value>>,
}

fn key_any_case<'a>(
    map: &'a serde_json::Map<String, serde_json::Value>,
    key: &str,
) -> Option<&'a str> {
    map.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .and_then(|(_, v)| v.as_str())
}

fn packages(text: &str, file: &mut FileReader<'_>) -> Option<usize> {
    let list: Vec<AqfPackage> = items(text, &mut file.problems)?;
    let mut bad = 0;
    let n = list.len();
    for p in list {
        let mut package = Package {
            id: p.name,
            installer: non_empty(p.installer),
            system: p.system,
            ..Package::default()
        };
        for f in p.files.unwrap_or_default() {
            if let Some(cert) = &f.certificate {
                let keys = ["sha256", "sha1", "md5"].map(|k| key_any_case(cert, k));
                let [sha256, sha1, md5] = digests(keys, &mut bad);
                let c = Certificate {
                    subject: key_any_case(cert, "subject").map(str::to_owned),
                    sha256,
                    sha1,
                    md5,
                };
                let has_digest = c.sha256.is_some() || c.sha1.is_some() || c.md5.is_some();
                if has_digest && !package.certificates.contains(&c) {
                    package.certificates.push(c);
                }
            }
            file.snapshot.files.extend(hashed_file(f.file, &mut bad));
        }
        file.snapshot.packages.push(package);
    }
    file.left_out(
        bad,
        "digest(s) of the wrong length or not hex were left out",
    );
    Some(n)
}

#[derive(Deserialize)]
struct AqfProcess {
    #[serde(default)]
    pid: Option<u32>,
    #[serde(default)]
    filename: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    command_line: Option<Vec<String>>,
}

fn processes_json(text: &str, file: &mut FileReader<'_>) -> Option<usize> {
    let list: Vec<AqfProcess> = items(text, &mut file.problems)?;
    let mut n = 0;
    let mut nameless = 0;
    for p in list {
        let path = non_empty(p.path);
        let name = non_empty(p.filename)
            .or_else(|| {
                p.command_line
                    .and_then(|c| c.into_iter().next())
                    .and_then(|c| non_empty(c.rsplit('/').next().map(str::to_owned)))
            })
            .or_else(|| {
                path.as_deref()
                    .and_then(|p| p.rsplit('/').next())
                    .map(str::to_owned)
            });
        let Some(name) = name.filter(|n| !n.is_empty()) else {
            nameless += 1;
            continue;
        };
        file.snapshot.processes.push(Process {
            name,
            pid: p.pid,
            path,
        });
        n += 1;
    }
    file.left_out(nameless, "process(es) without a name were left out");
    Some(n)
}

/// `ps -A`: a header naming the columns, then one process per line; the name is the
/// last column (it may hold spaces only in kernel threads' brackets, which stay whole).
fn processes_txt(text: &str, file: &mut FileReader<'_>) -> Option<usize> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let Some(header) = lines.next() else {
        file.problems.push("empty; no process read".to_owned());
        return Some(0);
    };
    let columns: Vec<&str> = header.split_whitespace().collect();
    let (Some(pid_at), Some(name_at)) = (
        columns.iter().position(|c| *c == "PID"),
        columns.iter().position(|c| *c == "NAME" || *c == "CMD"),
    ) else {
        file.problems
            .push("no `PID` and `NAME` header: not `ps -A` output; not read".to_owned());
        return None;
    };
    let mut n = 0;
    let mut bad = 0;
    for line in lines.take(MAX_ITEMS_PER_FILE) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() <= name_at.max(pid_at) {
            bad += 1;
            continue;
        }
        let name = fields[name_at..].join(" ");
        file.snapshot.processes.push(Process {
            name,
            pid: fields[pid_at].parse().ok(),
            path: None,
        });
        n += 1;
    }
    file.left_out(
        bad,
        "line(s) with fewer columns than the header were skipped",
    );
    Some(n)
}

/// `getprop`: `[name]: [value]`; a value may run over several lines until its `]`.
fn getprop(text: &str, file: &mut FileReader<'_>) -> Option<usize> {
    let mut n = 0;
    let mut bad = 0;
    let mut open: Option<(String, String)> = None;
    for line in text.lines().take(MAX_ITEMS_PER_FILE) {
        if let Some((name, mut value)) = open.take() {
            value.push('\n');
            match line.strip_suffix(']') {
                Some(end) => {
                    value.push_str(end);
                    file.snapshot
                        .system_properties
                        .push(Property { name, value });
                    n += 1;
                }
                None => {
                    value.push_str(line);
                    open = Some((name, value));
                }
            }
            continue;
        }
        let line = line.trim_end();
        if line.is_empty() {
            continue;
        }
        let parsed = line
            .strip_prefix('[')
            .and_then(|rest| rest.split_once("]: ["))
            .filter(|(name, _)| !name.is_empty());
        let Some((name, rest)) = parsed else {
            bad += 1;
            continue;
        };
        match rest.strip_suffix(']') {
            Some(value) => {
                file.snapshot.system_properties.push(Property {
                    name: name.to_owned(),
                    value: value.to_owned(),
                });
                n += 1;
            }
            None => open = Some((name.to_owned(), rest.to_owned())),
        }
    }
    if open.is_some() {
        bad += 1;
    }
    file.left_out(
        bad,
        "line(s) not of the form `[name]: [value]` were skipped",
    );
    Some(n)
}

/// `cmd settings list NS`: `name=value`, one per line.
fn settings(text: &str, namespace: &str, file: &mut FileReader<'_>) -> Option<usize> {
    let mut n = 0;
    let mut bad = 0;
    for line in text.lines().take(MAX_ITEMS_PER_FILE) {
        if line.trim().is_empty() {
            continue;
        }
        match line.split_once('=') {
            Some((name, value)) if !name.trim().is_empty() => {
                file.snapshot.settings.push(Setting {
                    namespace: namespace.to_owned(),
                    name: name.trim().to_owned(),
                    value: value.to_owned(),
                });
                n += 1;
            }
            _ => bad += 1,
        }
    }
    file.left_out(bad, "line(s) not of the form `name=value` were skipped");
    Some(n)
}

#[derive(Deserialize)]
struct AqfFile {
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    md5: Option<String>,
    #[serde(default)]
    sha1: Option<String>,
    #[serde(default)]
    sha256: Option<String>,
}

fn files_json(text: &str, file: &mut FileReader<'_>) -> Option<usize> {
    let list: Vec<AqfFile> = items(text, &mut file.problems)?;
    let mut n = 0;
    let mut bad = 0;
    let mut pathless = 0;
    for f in list {
        match hashed_file(f, &mut bad) {
            Some(f) => {
                file.snapshot.files.push(f);
                n += 1;
            }
            None => pathless += 1,
        }
    }
    file.left_out(pathless, "entr(ies) without a path were left out");
    file.left_out(
        bad,
        "digest(s) of the wrong length or not hex were left out",
    );
    Some(n)
}
