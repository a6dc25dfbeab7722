//! Forensic inspection: scanning an evidence snapshot from the phone against public
//! STIX 2.1 indicator collections (the spyware answer of the threat model).
//!
//! The native layer collects an [`EvidenceSnapshot`] (installed apps and their signing
//! certificates, privileged components, network settings, files, processes, contacted
//! domains...) and hands it in as JSON; the console or the agent loads indicator
//! bundles into an [`IndicatorSet`] and calls [`IndicatorSet::scan`]. Everything here
//! is pure: bytes in, findings out, no clock, no I/O.
//!
//! ```
//! use portcullis_core::inspection::{EvidenceSnapshot, IndicatorSet};
//!
//! let mut set = IndicatorSet::new();
//! set.load_stix2("example", r#"{"type": "bundle", "id": "bundle--1", "objects": [
//!     {"type": "indicator", "id": "indicator--1", "pattern_type": "stix",
//!      "pattern": "[domain-name:value='evil.com']"}]}"#)?;
//! let evidence = EvidenceSnapshot::from_json(
//!     r#"{"version": 1, "domains": [{"value": "c2.evil.com", "source": "dns"}]}"#)?;
//! let report = set.scan(&evidence);
//! assert_eq!(report.findings.len(), 1);
//! assert_eq!(report.findings[0].evidence.section, "domains");
//! # Ok::<(), portcullis_core::Error>(())
//! ```

pub mod androidqf;
pub mod evidence;
pub mod rules;
pub mod scan;
pub mod schedule;
pub mod stix;

pub use evidence::{EvidenceSnapshot, EVIDENCE_VERSION};
pub use scan::{
    CollectionSummary, EvidenceRef, IndicatorFinding, IndicatorSet, MatchKind, NetworkMatcher,
    ScanReport, KNOWN_SYSTEM_PROCESS_NAMES, TRUNCATED_PROCESS_NAME_LENGTHS,
};
pub use schedule::{InspectionScheduler, ScheduleEvent, ScheduleKey, ScheduleRules};
pub use stix::{
    parse_bundle, Collection, HashAlgorithm, Indicator, IndicatorNote, MalwareNames, Observable,
    Pattern, PatternError, TargetPlatforms, UnparsedIndicator,
};
