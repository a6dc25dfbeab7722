//! `portcullis inspect`: scan an evidence snapshot against STIX 2.1 indicator
//! collections, offline, as the forensic kiosk does.
//!
//! Exit status: 0 when no indicator matched, 3 when any did, 2 when an input could
//! not be read or parsed (or no usable indicator was loaded, which would prove nothing).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use portcullis_core::inspection::{EvidenceSnapshot, IndicatorSet, ScanReport};

/// Exit status when at least one indicator matched.
pub(crate) const EXIT_FINDINGS: u8 = 3;
/// Exit status when an input is unreadable or malformed.
pub(crate) const EXIT_BAD_INPUT: u8 = 2;

/// Arguments of `portcullis inspect`.
#[derive(Args)]
pub(crate) struct InspectArgs {
    /// A STIX 2.1 indicator bundle (`.stix2`), or a folder of them; repeat for more collections.
    #[arg(long = "indicators", value_name = "FILE.stix2", required = true)]
    indicators: Vec<PathBuf>,
    /// The evidence snapshot the agent collected (JSON, see docs/inspection.md).
    #[arg(long, value_name = "FILE.json")]
    evidence: PathBuf,
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
    match scan(args) {
        Ok((set, report)) => {
            match args.format {
                InspectFormat::Text => print_text(&set, &report),
                InspectFormat::Json => crate::out::json(&json_report(&set, &report)),
            }
            if report.is_clean() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_FINDINGS)
            }
        }
        Err(message) => {
            crate::out::error(&message);
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
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

fn scan(args: &InspectArgs) -> Result<(IndicatorSet, ScanReport), String> {
    let mut set = IndicatorSet::new();
    for path in bundle_files(&args.indicators)? {
        let json = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let name = label(&path, &set);
        set.load_stix2(&name, &json)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    if set.is_empty() {
        return Err(format!(
            "no usable indicator in the given bundles ({} unparsed); a scan would prove nothing",
            set.unparsed().len()
        ));
    }
    let text = std::fs::read_to_string(&args.evidence)
        .map_err(|e| format!("cannot read {}: {e}", args.evidence.display()))?;
    let evidence = EvidenceSnapshot::from_json(&text)
        .map_err(|e| format!("{}: {e}", args.evidence.display()))?;
    let report = set.scan(&evidence);
    Ok((set, report))
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
    }
}
