//! `portcullis inspect`: scan an evidence snapshot against STIX 2.1 indicator
//! collections, offline, as the forensic kiosk does.
//!
//! With `--telemetry FILE.jsonl` it reads an export of the phone's network and security
//! logs (one event per line, the records of `portcullis_core::telemetry`) instead, and
//! runs it through an offline agent: indicator matches and the living-off-the-land
//! detectors, exactly as the phone would have raised them.
//!
//! Exit status: 0 when no indicator matched (and, for telemetry, nothing was detected),
//! 3 when any did, 2 when an input could not be read or parsed (or no usable indicator
//! was loaded, which would prove nothing).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use portcullis_core::inspection::{androidqf, EvidenceSnapshot, IndicatorSet, ScanReport};

/// Exit status when at least one indicator matched.
pub(crate) const EXIT_FINDINGS: u8 = 3;

/// Arguments of `portcullis inspect`.
#[derive(Args)]
pub(crate) struct InspectArgs {
    /// A STIX 2.1 indicator bundle (`.stix2`), or a folder of them; repeat for more collections.
    #[arg(long = "indicators", value_name = "FILE.stix2", required = true)]
    indicators: Vec<PathBuf>,
    /// The evidence snapshot the agent collected (JSON, see docs/inspection.md).
    #[arg(
        long,
        value_name = "FILE.json",
        required_unless_present_any = ["telemetry", "androidqf"]
    )]
    evidence: Option<PathBuf>,
    /// An androidqf acquisition folder (decrypted and unzipped), read into a snapshot.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["evidence", "telemetry"])]
    androidqf: Option<PathBuf>,
    /// A JSON Lines export of network and security-log events (docs/inspection.md).
    #[arg(long, value_name = "FILE.jsonl", conflicts_with = "evidence")]
    telemetry: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = InspectFormat::Text)]
    format: InspectFormat,
}

/// Output format of `inspect`.
#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum InspectFormat {
    /// A report for a person.
    Text,
    /// One JSON object: counts, collections, unparsed indicators and findings.
    Json,
}

/// Runs the scan and turns the outcome into the exit status the kiosk scripts key on.
pub(crate) fn run(args: &InspectArgs) -> ExitCode {
    let clean = match &args.telemetry {
        Some(path) => telemetry(args, path).map(|(set, outcome)| {
            match args.format {
                InspectFormat::Text => print_telemetry(&set, &outcome),
                InspectFormat::Json => crate::out::json(&telemetry_json(&set, &outcome)),
            }
            outcome.matches.is_empty() && outcome.alerts.is_empty()
        }),
        None => scan(args).map(|(set, report, acquisition)| {
            match args.format {
                InspectFormat::Text => {
                    if let Some(a) = &acquisition {
                        print_acquisition(a);
                    }
                    print_text(&set, &report);
                }
                InspectFormat::Json => {
                    let mut json = json_report(&set, &report);
                    if let Some(a) = &acquisition {
                        json["acquisition"] = acquisition_json(a);
                    }
                    crate::out::json(&json);
                }
            }
            report.is_clean()
        }),
    };
    crate::out::judged(clean, EXIT_FINDINGS)
}

/// The bundles named on the command line; a folder stands for its `.stix2` files, sorted.
fn bundle_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let entries = std::fs::read_dir(path)
                .map_err(|e| format!("cannot list {}: {e}", path.display()))?;
            let mut found: Vec<PathBuf> = entries
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "stix2"))
                .collect();
            if found.is_empty() {
                return Err(format!("{} holds no .stix2 bundles", path.display()));
            }
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

/// A collection's label: the file's stem, or its whole path when the stem is taken.
fn label(path: &Path, set: &IndicatorSet) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    if set.collections().iter().any(|c| c.name == stem) {
        path.display().to_string()
    } else {
        stem
    }
}

/// The collections named on the command line, as `(label, JSON)`, and their index.
fn load(args: &InspectArgs) -> Result<(IndicatorSet, Vec<(String, String)>), String> {
    let mut set = IndicatorSet::new();
    let mut texts = Vec::new();
    for path in bundle_files(&args.indicators)? {
        let json = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let name = label(&path, &set);
        set.load_stix2(&name, &json)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        texts.push((name, json));
    }
    if set.is_empty() {
        return Err(format!(
            "no usable indicator in the given bundles ({} unparsed); a scan would prove nothing",
            set.unparsed().len()
        ));
    }
    Ok((set, texts))
}

/// What an offline run over a telemetry export found.
struct TelemetryRun {
    events: usize,
    batches: usize,
    matches: Vec<portcullis_core::agent::TelemetryMatch>,
    alerts: Vec<portcullis_core::Alert>,
}

/// Replays the export through an in-memory agent in the phone's batch size, each batch
/// at the time of its last event.
fn telemetry(args: &InspectArgs, path: &Path) -> Result<(IndicatorSet, TelemetryRun), String> {
    use portcullis_core::telemetry::TelemetryBatch;
    use portcullis_core::{Agent, SoftwareDeviceKey, Timestamp};
    let (set, texts) = load(args)?;
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let batches = TelemetryBatch::from_jsonl_chunks(&text, 1_200)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let start = batches
        .iter()
        .flat_map(|b| {
            b.events
                .iter()
                .map(portcullis_core::telemetry::TelemetryEvent::at)
        })
        .min()
        .unwrap_or(Timestamp::EPOCH);
    // A throwaway agent: the key only separates this run's hashes from any phone's.
    let key = std::sync::Arc::new(
        SoftwareDeviceKey::new(b"portcullis-kiosk-offline-telemetry").map_err(|e| e.to_string())?,
    );
    let mut agent = Agent::open_in_memory(key, start, [0; 32]).map_err(|e| e.to_string())?;
    for (name, json) in &texts {
        agent
            .load_indicators(name, json)
            .map_err(|e| format!("{name}: {e}"))?;
    }
    let mut run = TelemetryRun {
        events: 0,
        batches: 0,
        matches: Vec::new(),
        alerts: Vec::new(),
    };
    for batch in batches.iter().filter(|b| !b.events.is_empty()) {
        let now = batch
            .events
            .iter()
            .map(portcullis_core::telemetry::TelemetryEvent::at)
            .max()
            .unwrap_or(start);
        let outcome = agent
            .ingest_telemetry(batch, now)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        run.events += batch.events.len();
        run.batches += 1;
        run.matches.extend(outcome.matches);
        run.alerts.extend(outcome.alerts);
    }
    Ok((set, run))
}

fn telemetry_json(set: &IndicatorSet, run: &TelemetryRun) -> serde_json::Value {
    serde_json::json!({
        "clean": run.matches.is_empty() && run.alerts.is_empty(),
        "indicators": set.len(),
        "unparsed_patterns": set.unparsed().len(),
        "events": run.events,
        "batches": run.batches,
        "collections": set.collections(),
        "matches": run.matches,
        "alerts": run.alerts.iter().map(|a| serde_json::json!({
            "at": a.finding.at,
            "kind": a.finding.kind.as_str(),
            "severity": a.severity.as_str(),
            "detector": a.finding.detector,
            "summary": a.finding.summary,
            "evidence": a.finding.evidence,
        })).collect::<Vec<_>>(),
    })
}

fn print_telemetry(set: &IndicatorSet, run: &TelemetryRun) {
    outln!(
        "Indicators: {} loaded from {} collection(s); {} unparsed pattern(s).",
        set.len(),
        set.collections().len(),
        set.unparsed().len()
    );
    outln!(
        "Telemetry: {} event(s) in {} batch(es).",
        run.events,
        run.batches
    );
    if run.matches.is_empty() && run.alerts.is_empty() {
        outln!("Clean: no indicator matched and nothing was detected.");
        return;
    }
    outln!("FINDINGS: {} indicator match(es).", run.matches.len());
    for m in &run.matches {
        let f = &m.finding;
        let malware = if f.malware.is_empty() {
            "unnamed malware".to_owned()
        } else {
            f.malware.join(", ")
        };
        outln!("  {malware}  ({}, {})", f.collection, f.indicator_id);
        outln!(
            "      {}  {}  {} = {}  ({})",
            m.at,
            m.package,
            f.evidence.section,
            f.evidence.value,
            f.matched.as_str()
        );
    }
    outln!("ALERTS: {}.", run.alerts.len());
    for a in &run.alerts {
        outln!(
            "  {}  {} ({})  {}",
            a.finding.at,
            a.finding.kind.as_str(),
            a.severity.as_str(),
            a.finding.summary
        );
    }
}

/// What `--androidqf` read, for the report.
struct Acquisition {
    import: androidqf::AndroidqfImport,
    /// Files left unread by the folder reader (too large, not text, links).
    refused: Vec<androidqf::FileNote>,
}

/// Reads an androidqf acquisition folder: only the files the core reads, each within
/// the size caps; links are not followed.
fn read_androidqf(dir: &Path) -> Result<Acquisition, String> {
    let meta = std::fs::metadata(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    if !meta.is_dir() {
        return Err(format!(
            "{}: an androidqf acquisition folder is expected (decrypt and unzip an encrypted acquisition first)",
            dir.display()
        ));
    }
    let mut entries: Vec<std::fs::DirEntry> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    let mut names: Vec<String> = Vec::new();
    let mut texts: Vec<String> = Vec::new();
    let mut refused = Vec::new();
    let mut total: u64 = 0;
    let mut refuse = |file: &str, note: String| {
        refused.push(androidqf::FileNote {
            file: file.to_owned(),
            note,
        });
    };
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let kind = entry
            .file_type()
            .map_err(|e| format!("cannot read {}: {e}", entry.path().display()))?;
        if kind.is_dir() {
            names.push(format!("{name}/"));
            texts.push(String::new());
            continue;
        }
        if !androidqf::is_read(&name) {
            names.push(name);
            texts.push(String::new());
            continue;
        }
        if !kind.is_file() {
            refuse(
                &name,
                "not a regular file (links are not followed); not read".into(),
            );
            continue;
        }
        let size = entry
            .metadata()
            .map_err(|e| format!("cannot read {}: {e}", entry.path().display()))?
            .len();
        if size > androidqf::MAX_FILE_BYTES {
            refuse(
                &name,
                format!(
                    "{size} bytes, over the {} byte limit; not read",
                    androidqf::MAX_FILE_BYTES
                ),
            );
            continue;
        }
        if total + size > androidqf::MAX_TOTAL_BYTES {
            refuse(
                &name,
                format!(
                    "the acquisition exceeds {} bytes in all; not read",
                    androidqf::MAX_TOTAL_BYTES
                ),
            );
            continue;
        }
        total += size;
        let bytes = std::fs::read(entry.path())
            .map_err(|e| format!("cannot read {}: {e}", entry.path().display()))?;
        match String::from_utf8(bytes) {
            Ok(text) => {
                names.push(name);
                texts.push(text);
            }
            Err(_) => refuse(&name, "not UTF-8 text; not read".into()),
        }
    }
    let import = androidqf::read_acquisition(
        names
            .iter()
            .map(String::as_str)
            .zip(texts.iter().map(String::as_str)),
    );
    Ok(Acquisition { import, refused })
}

fn acquisition_json(a: &Acquisition) -> serde_json::Value {
    let mut problems = a.import.problems.clone();
    problems.extend(a.refused.iter().cloned());
    serde_json::json!({
        "format": "androidqf",
        "read": a.import.read,
        "missing": a.import.missing,
        "problems": problems,
        "not_scanned": a.import.not_scanned,
        "unknown": a.import.unknown,
    })
}

fn print_acquisition(a: &Acquisition) {
    let read: Vec<String> = a
        .import
        .read
        .iter()
        .map(|(file, n)| format!("{file} ({n})"))
        .collect();
    outln!(
        "Acquisition (androidqf): read {}.",
        if read.is_empty() {
            "nothing".to_owned()
        } else {
            read.join(", ")
        }
    );
    if !a.import.missing.is_empty() {
        outln!("  missing      {}", a.import.missing.join(", "));
    }
    for p in a.import.problems.iter().chain(&a.refused) {
        outln!("  problem      {}: {}", p.file, p.note);
    }
    if !a.import.not_scanned.is_empty() {
        outln!("  not scanned  {}", a.import.not_scanned.join(", "));
    }
    if !a.import.unknown.is_empty() {
        outln!("  unknown      {}", a.import.unknown.join(", "));
    }
}

fn scan(args: &InspectArgs) -> Result<(IndicatorSet, ScanReport, Option<Acquisition>), String> {
    let (set, _) = load(args)?;
    if let Some(dir) = &args.androidqf {
        let acquisition = read_androidqf(dir)?;
        let report = set.scan(&acquisition.import.snapshot);
        return Ok((set, report, Some(acquisition)));
    }
    let evidence_path = args
        .evidence
        .as_ref()
        .ok_or("give --evidence FILE.json or --telemetry FILE.jsonl")?;
    let text = std::fs::read_to_string(evidence_path)
        .map_err(|e| format!("cannot read {}: {e}", evidence_path.display()))?;
    let evidence = EvidenceSnapshot::from_json(&text)
        .map_err(|e| format!("{}: {e}", evidence_path.display()))?;
    let report = set.scan(&evidence);
    Ok((set, report, None))
}

fn json_report(set: &IndicatorSet, report: &ScanReport) -> serde_json::Value {
    serde_json::json!({
        "clean": report.is_clean(),
        "indicators": report.indicators,
        "unparsed_patterns": report.unparsed_patterns,
        "evidence_items": report.evidence_items,
        "collections": set.collections(),
        "unparsed": set.unparsed(),
        "notes": set.notes(),
        "other_platform_skipped": report.other_platform_skipped,
        "findings": report.findings,
    })
}

fn print_text(set: &IndicatorSet, report: &ScanReport) {
    outln!(
        "Indicators: {} loaded from {} collection(s); {} unparsed pattern(s).",
        report.indicators,
        set.collections().len(),
        report.unparsed_patterns
    );
    for u in set.unparsed() {
        outln!(
            "  unparsed  {}  {}: {}",
            u.collection,
            u.indicator_id,
            u.reason
        );
    }
    for n in set.notes() {
        outln!(
            "  note      {}  {}: {}",
            n.collection,
            n.indicator_id,
            n.note
        );
    }
    outln!("Evidence: {} item(s) scanned.", report.evidence_items);
    if report.other_platform_skipped > 0 {
        outln!(
            "  {} process or file match(es) left out: their collection targets another platform.",
            report.other_platform_skipped
        );
    }
    if report.is_clean() {
        outln!("Clean: no indicator matched.");
        return;
    }
    outln!("FINDINGS: {} indicator match(es).", report.findings.len());
    for f in &report.findings {
        let malware = if f.malware.is_empty() {
            "unnamed malware".to_owned()
        } else {
            f.malware.join(", ")
        };
        outln!("  {malware}  ({}, {})", f.collection, f.indicator_id);
        outln!("      pattern   {}", f.pattern);
        let e = &f.evidence;
        outln!(
            "      evidence  {}[{}].{} = {}  ({})",
            e.section,
            e.index,
            e.field,
            e.value,
            f.matched.as_str()
        );
        if let Some(note) = &f.note {
            outln!("      note      {note}");
        }
    }
}
