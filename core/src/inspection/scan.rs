//! Matching evidence against indicators.
//!
//! Indicators are indexed by what they look for (hash maps keyed by normalised value),
//! so a scan costs one or a few lookups per evidence value: near-linear in the size of
//! the snapshot, whatever the number of indicators. Domains are looked up once per
//! label suffix (`a.b.evil.com`, `b.evil.com`, `evil.com`, `com`), paths once per
//! folder boundary.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use serde::Serialize;

use super::evidence::{EvidenceSnapshot, Platform};
use super::stix::{
    normalize_digest, normalize_domain, parse_bundle, url_key, url_parts, Collection,
    HashAlgorithm, Indicator, IndicatorNote, MalwareNames, Observable, UnparsedIndicator,
};

/// The lengths at which process tables cut names: Linux (Android) keeps 15 bytes of a
/// thread's name (`TASK_COMM_LEN` 16 with its terminator), Darwin (iOS) 16
/// (`MAXCOMLEN`). A process name of exactly one of these lengths may be the start of a
/// longer name, and matches an indicator's longer name by prefix, as MVT matches it.
/// Shorter names are whole names and only match exactly, so the prefix rule never lets
/// a short name (`sh`, `adbd`) match every indicator that starts with it: 15 bytes is
/// the minimum length for a prefix match.
pub const TRUNCATED_PROCESS_NAME_LENGTHS: [usize; 2] = [15, 16];

/// Process names that are genuine system processes on one platform and also appear in
/// public indicator collections for the other: a match on the platform where the name
/// is genuine keeps its severity but carries a note. Kept short and documented in
/// docs/inspection.md; each entry is checked against the real collections' indicators
/// or a published one (Pegasus's `gatekeeperd`, an iOS indicator, is Android's
/// gatekeeper daemon).
pub const KNOWN_SYSTEM_PROCESS_NAMES: &[(Platform, &str)] = &[
    (Platform::Android, "gatekeeperd"),
    (Platform::Android, "keystore"),
    (Platform::Android, "installd"),
    (Platform::Android, "vold"),
    (Platform::Android, "netd"),
    (Platform::Ios, "BackupAgent2"),
    (Platform::Ios, "securityd"),
    (Platform::Ios, "mediaserverd"),
    (Platform::Ios, "launchd"),
];

fn known_system_name(platform: Platform, name: &str) -> bool {
    KNOWN_SYSTEM_PROCESS_NAMES
        .iter()
        .any(|(p, n)| *p == platform && *n == name)
}
use crate::error::Result;

/// How an evidence value matched an indicator, so the analyst can judge the finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchKind {
    /// Equal after normalisation (case folded for hashes, domains, e-mail addresses).
    Exact,
    /// The evidence domain is a subdomain of the indicator's.
    Subdomain,
    /// The host of the evidence URL is the indicator's domain or address.
    UrlHost,
    /// The host of the evidence URL is a subdomain of the indicator's domain.
    UrlSubdomain,
    /// The evidence path lies inside the indicator's path.
    InDirectory,
    /// The indicator's relative path is the trailing part of the evidence path.
    PathSuffix,
    /// The last part of the evidence path is the indicator's file or process name.
    Basename,
    /// The evidence process name has a truncation length
    /// ([`TRUNCATED_PROCESS_NAME_LENGTHS`]) and starts the indicator's longer name.
    TruncatedPrefix,
}

impl MatchKind {
    /// The stable lower-case name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchKind::Exact => "exact",
            MatchKind::Subdomain => "subdomain",
            MatchKind::UrlHost => "url_host",
            MatchKind::UrlSubdomain => "url_subdomain",
            MatchKind::InDirectory => "in_directory",
            MatchKind::PathSuffix => "path_suffix",
            MatchKind::Basename => "basename",
            MatchKind::TruncatedPrefix => "truncated_prefix",
        }
    }
}

/// Which evidence item matched: its section, position, field and value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EvidenceRef {
    /// The snapshot section, as named in the JSON (`packages`, `domains`, ...).
    pub section: &'static str,
    /// Position in that section (0 for single-valued sections such as `proxy`).
    pub index: usize,
    /// The field within the item, e.g. `id` or `certificates[0].sha256`.
    pub field: String,
    /// The field's value as the evidence gave it.
    pub value: String,
}

/// One match of an indicator against the evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IndicatorFinding {
    /// The collection the indicator came from.
    pub collection: String,
    /// The indicator's STIX id.
    pub indicator_id: String,
    /// The indicator's pattern as written.
    pub pattern: String,
    /// The malware the collection says the indicator indicates; usually one name.
    /// Shared with the indicator (never copied per finding).
    pub malware: MalwareNames,
    /// The evidence that matched.
    pub evidence: EvidenceRef,
    /// How it matched.
    pub matched: MatchKind,
    /// Set when the matched name is also a genuine system process on the snapshot's
    /// platform and the collection does not say which platform it targets: the finding
    /// keeps its severity, and the analyst checks the process's path and origin.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The outcome of one scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScanReport {
    /// Matches, in evidence order (section by section, item by item).
    pub findings: Vec<IndicatorFinding>,
    /// How many usable indicators were checked.
    pub indicators: usize,
    /// How many indicators could not be used (see [`IndicatorSet::unparsed`]).
    pub unparsed_patterns: usize,
    /// How many evidence items the snapshot held.
    pub evidence_items: usize,
    /// Matches left out because the collection says the indicator targets another
    /// platform than the snapshot's (process and file names only).
    pub other_platform_skipped: usize,
}

impl ScanReport {
    /// True when no indicator matched.
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }
}

/// What one loaded collection contributed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CollectionSummary {
    /// The collection's label.
    pub name: String,
    /// The bundle's STIX id, if any.
    pub bundle_id: Option<String>,
    /// Usable indicators.
    pub indicators: usize,
    /// Indicators that could not be used.
    pub unparsed: usize,
    /// Indicators loaded after an adjustment.
    pub notes: usize,
    /// `malware` objects in the bundle.
    pub malware: usize,
}

type Ids = Vec<u32>;

/// One of the per-algorithm digest tables of the index.
type Table = fn(&Index) -> &[HashMap<String, Ids>; 3];

const APP_CERTS: Table = |x| &x.app_certs;
const CERTIFICATES: Table = |x| &x.certificates;
const FILE_HASHES: Table = |x| &x.file_hashes;

#[derive(Debug, Clone, Default)]
struct Index {
    /// Keyed in lower case: compared ignoring case.
    app_ids: HashMap<String, Ids>,
    app_certs: [HashMap<String, Ids>; 3],
    certificates: [HashMap<String, Ids>; 3],
    file_hashes: [HashMap<String, Ids>; 3],
    domains: HashMap<String, Ids>,
    urls: HashMap<String, Ids>,
    file_names: HashMap<String, Ids>,
    /// Absolute paths, without a trailing `/`.
    absolute_paths: HashMap<String, Ids>,
    /// Relative paths, without a trailing `/`.
    relative_paths: HashMap<String, Ids>,
    process_names: HashMap<String, Ids>,
    /// Process names longer than the shortest truncation length, ordered for prefix
    /// lookups.
    long_process_names: std::collections::BTreeMap<String, Ids>,
    /// Keyed in lower case: compared ignoring case.
    properties: HashMap<String, Ids>,
    profiles: HashMap<String, Ids>,
    ips: HashMap<IpAddr, Ids>,
    emails: HashMap<String, Ids>,
}

impl Index {
    fn add(&mut self, id: u32, observable: &Observable) {
        let push = |map: &mut HashMap<String, Ids>, key: &str| {
            map.entry(key.to_owned()).or_default().push(id);
        };
        match observable {
            Observable::AppId(v) => push(&mut self.app_ids, &v.to_lowercase()),
            Observable::AppCert(a, v) => push(&mut self.app_certs[a.slot()], v),
            Observable::Certificate(a, v) => push(&mut self.certificates[a.slot()], v),
            Observable::FileHash(a, v) => push(&mut self.file_hashes[a.slot()], v),
            Observable::Domain(v) => push(&mut self.domains, v),
            Observable::Url(v) => push(&mut self.urls, v),
            Observable::FileName(v) => push(&mut self.file_names, v),
            Observable::FilePath(v) => {
                let trimmed = v.trim_end_matches('/');
                if trimmed.starts_with('/') {
                    push(&mut self.absolute_paths, trimmed);
                } else {
                    push(&mut self.relative_paths, trimmed);
                }
            }
            Observable::ProcessName(v) => {
                push(&mut self.process_names, v);
                if v.len() > TRUNCATED_PROCESS_NAME_LENGTHS[0] {
                    self.long_process_names
                        .entry(v.clone())
                        .or_default()
                        .push(id);
                }
            }
            Observable::AndroidProperty(v) => push(&mut self.properties, &v.to_lowercase()),
            Observable::ConfigurationProfile(v) => push(&mut self.profiles, v),
            Observable::Ipv4(ip) => self.ips.entry(IpAddr::V4(*ip)).or_default().push(id),
            Observable::Ipv6(ip) => self.ips.entry(IpAddr::V6(*ip)).or_default().push(id),
            Observable::Email(v) => push(&mut self.emails, v),
        }
    }
}

/// Indicators from any number of collections, indexed for scanning.
///
/// Load bundles with [`IndicatorSet::load_stix2`], then [`IndicatorSet::scan`] any
/// number of snapshots. Unusable indicators are kept as [`UnparsedIndicator`]s so the
/// report can say how much of each collection was not checked.
#[derive(Debug, Clone)]
pub struct IndicatorSet {
    indicators: Vec<Indicator>,
    unparsed: Vec<UnparsedIndicator>,
    notes: Vec<IndicatorNote>,
    collections: Vec<CollectionSummary>,
    index: Index,
    /// See [`IndicatorSet::revision`].
    revision: u64,
}

/// The last revision given to an indicator set in this process.
static REVISIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn next_revision() -> u64 {
    REVISIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1
}

impl Default for IndicatorSet {
    fn default() -> Self {
        IndicatorSet {
            indicators: Vec::new(),
            unparsed: Vec::new(),
            notes: Vec::new(),
            collections: Vec::new(),
            index: Index::default(),
            revision: next_revision(),
        }
    }
}

impl IndicatorSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Names what the set matches: a new set and every change to one take a number no
    /// other set of this process has had (never 0), and a clone keeps it. A caller that
    /// remembers that a value matched nothing may trust it while the revision is the
    /// same, and must match the value again once it differs.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Parses a STIX 2.1 bundle (JSON text) and adds its indicators under the label
    /// `collection` (findings name it; the file's name is a good label).
    pub fn load_stix2(&mut self, collection: &str, json: &str) -> Result<CollectionSummary> {
        let parsed = parse_bundle(collection, json)?;
        Ok(self.add_collection(parsed))
    }

    /// Adds an already parsed collection.
    pub fn add_collection(&mut self, collection: Collection) -> CollectionSummary {
        let summary = CollectionSummary {
            name: collection.name,
            bundle_id: collection.bundle_id,
            indicators: collection.indicators.len(),
            unparsed: collection.unparsed.len(),
            notes: collection.notes.len(),
            malware: collection.malware,
        };
        for indicator in collection.indicators {
            let id = u32::try_from(self.indicators.len()).expect("fewer than 4 billion indicators");
            self.index.add(id, &indicator.observable);
            self.indicators.push(indicator);
        }
        self.unparsed.extend(collection.unparsed);
        self.notes.extend(collection.notes);
        self.collections.push(summary.clone());
        self.revision = next_revision();
        summary
    }

    /// How many usable indicators the set holds.
    pub fn len(&self) -> usize {
        self.indicators.len()
    }

    /// True when no usable indicator is loaded: a scan would prove nothing.
    pub fn is_empty(&self) -> bool {
        self.indicators.is_empty()
    }

    /// The usable indicators, in load order.
    pub fn indicators(&self) -> &[Indicator] {
        &self.indicators
    }

    /// Indicators that could not be used, with reasons.
    pub fn unparsed(&self) -> &[UnparsedIndicator] {
        &self.unparsed
    }

    /// Indicators that were loaded after an adjustment.
    pub fn notes(&self) -> &[IndicatorNote] {
        &self.notes
    }

    /// One summary per loaded collection, in load order.
    pub fn collections(&self) -> &[CollectionSummary] {
        &self.collections
    }

    /// Matches every evidence item against every indicator.
    ///
    /// Deterministic: findings come in evidence order, and for one evidence value in
    /// indicator load order. An indicator matching the same field of the same item
    /// twice (e.g. as a domain and as its subdomain) is reported once.
    pub fn scan(&self, evidence: &EvidenceSnapshot) -> ScanReport {
        let mut scan = Scanner {
            set: self,
            findings: Vec::new(),
            seen: HashSet::new(),
            platform: evidence.platform,
            skipped: 0,
        };
        scan.run(evidence);
        ScanReport {
            findings: scan.findings,
            indicators: self.indicators.len(),
            unparsed_patterns: self.unparsed.len(),
            evidence_items: evidence.item_count(),
            other_platform_skipped: scan.skipped,
        }
    }

    /// Matches network values one at a time, as they arrive, with no snapshot built:
    /// see [`NetworkMatcher`].
    pub fn network_matcher(&self) -> NetworkMatcher<'_> {
        NetworkMatcher {
            scanner: Scanner {
                set: self,
                findings: Vec::new(),
                seen: HashSet::new(),
                platform: None,
                skipped: 0,
            },
            domains: 0,
            addresses: 0,
        }
    }
}

/// Matches host names and addresses as a scan matches the `domains` and `ip_addresses`
/// items of a snapshot (the same index and rules), numbering them as the items of the
/// snapshot that lists the values in the order given: each value gets exactly the
/// findings that scan would give it. Device telemetry matches each event this way as it
/// arrives, without building the snapshot's strings, and an address's text is built
/// only for a finding.
pub struct NetworkMatcher<'a> {
    scanner: Scanner<'a>,
    domains: usize,
    addresses: usize,
}

impl NetworkMatcher<'_> {
    /// The next `domains` item: a host name (or an address literal, matched as one).
    pub fn domain(&mut self, host: &str) {
        let index = self.domains;
        self.domains += 1;
        self.scanner
            .host(host, at("domains", index, "value", host), false);
    }

    /// The next `ip_addresses` item, already parsed; `text` gives its text as the
    /// snapshot would hold it, for the finding.
    pub fn address(&mut self, address: &IpAddr, text: impl FnOnce() -> String) {
        let index = self.addresses;
        self.addresses += 1;
        if let Some(ids) = self.scanner.set.index.ips.get(address) {
            let text = text();
            self.scanner.hit(
                Some(ids),
                &at("ip_addresses", index, "value", &text),
                MatchKind::Exact,
            );
        }
    }

    /// Numbers the next `domains` item without matching it: for a host name the caller
    /// saw match nothing under this set's [`IndicatorSet::revision`].
    pub fn pass_domain(&mut self) {
        self.domains += 1;
    }

    /// Numbers the next `ip_addresses` item without matching it: for an address the
    /// caller saw match nothing under this set's [`IndicatorSet::revision`].
    pub fn pass_address(&mut self) {
        self.addresses += 1;
    }

    /// The revision of the set this matches against.
    pub fn revision(&self) -> u64 {
        self.scanner.set.revision
    }

    /// How many findings the values so far gave.
    pub fn found(&self) -> usize {
        self.scanner.findings.len()
    }

    /// The findings, in the order of the values.
    pub fn into_findings(self) -> Vec<IndicatorFinding> {
        self.scanner.findings
    }
}

struct Scanner<'a> {
    set: &'a IndicatorSet,
    findings: Vec<IndicatorFinding>,
    seen: HashSet<(u32, &'static str, usize, String)>,
    platform: Option<Platform>,
    skipped: usize,
}

/// Where in the snapshot a value sits; the field name is built only on a match.
struct At<'v, F: Fn() -> String> {
    section: &'static str,
    index: usize,
    field: F,
    value: &'v str,
}

fn at<'v>(
    section: &'static str,
    index: usize,
    field: &'static str,
    value: &'v str,
) -> At<'v, impl Fn() -> String> {
    At {
        section,
        index,
        field: move || field.to_owned(),
        value,
    }
}

fn lower(text: &str) -> Cow<'_, str> {
    if text.bytes().any(|b| b.is_ascii_uppercase()) || !text.is_ascii() {
        Cow::Owned(text.to_lowercase())
    } else {
        Cow::Borrowed(text)
    }
}

fn basename(path: &str) -> &str {
    let trimmed = path.trim_end_matches('/');
    trimmed.rsplit('/').next().unwrap_or(trimmed)
}

impl<'a> Scanner<'a> {
    fn hit<F: Fn() -> String>(&mut self, ids: Option<&Ids>, at: &At<'_, F>, matched: MatchKind) {
        let Some(ids) = ids else { return };
        for &id in ids {
            let field = (at.field)();
            if !self.seen.insert((id, at.section, at.index, field.clone())) {
                continue;
            }
            let indicator = &self.set.indicators[id as usize];
            let mut note = None;
            if matches!(at.section, "processes" | "files") {
                if let Some(platform) = self.platform {
                    if matches!(
                        indicator.observable,
                        Observable::ProcessName(_)
                            | Observable::FileName(_)
                            | Observable::FilePath(_)
                    ) && indicator.platforms.excludes(platform)
                    {
                        self.skipped += 1;
                        continue;
                    }
                    if let Observable::ProcessName(name) = &indicator.observable {
                        if indicator.platforms.is_silent() && known_system_name(platform, name) {
                            note = Some(format!(
                                "`{}` is also the name of a genuine {} system process, and the collection does not say which platform it targets: check the process's path and origin",
                                crate::redact::sanitize(name),
                                match platform {
                                    Platform::Android => "Android",
                                    Platform::Ios => "iOS",
                                }
                            ));
                        }
                    }
                }
            }
            self.findings.push(IndicatorFinding {
                collection: indicator.collection.clone(),
                indicator_id: indicator.id.clone(),
                pattern: indicator.pattern.clone(),
                malware: indicator.malware.clone(),
                evidence: EvidenceRef {
                    section: at.section,
                    index: at.index,
                    field,
                    value: at.value.to_owned(),
                },
                matched,
                note,
            });
        }
    }

    fn index(&self) -> &'a Index {
        &self.set.index
    }

    fn app_id<F: Fn() -> String>(&mut self, at: At<'_, F>) {
        let ids = self.index().app_ids.get(lower(at.value.trim()).as_ref());
        self.hit(ids, &at, MatchKind::Exact);
    }

    /// A host name or address: IP literals against address indicators, names against
    /// domain indicators and every parent domain.
    fn host<F: Fn() -> String>(&mut self, host: &str, at: At<'_, F>, in_url: bool) {
        let host = host.trim();
        let (exact, parent) = if in_url {
            (MatchKind::UrlHost, MatchKind::UrlSubdomain)
        } else {
            (MatchKind::Exact, MatchKind::Subdomain)
        };
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if let Ok(ip) = bare.parse::<IpAddr>() {
            let ids = self.index().ips.get(&ip);
            self.hit(ids, &at, exact);
            return;
        }
        let Some(domain) = normalize_domain(host) else {
            return;
        };
        let set = self.set;
        let mut rest: &str = &domain;
        let mut kind = exact;
        loop {
            self.hit(set.index.domains.get(rest), &at, kind);
            match rest.split_once('.') {
                Some((_, parent_domain)) if !parent_domain.is_empty() => rest = parent_domain,
                _ => break,
            }
            kind = parent;
        }
    }

    fn url<F: Fn() -> String>(&mut self, at: At<'_, F>) {
        if let Some(key) = url_key(at.value) {
            let ids = self.index().urls.get(&key);
            self.hit(ids, &at, MatchKind::Exact);
        }
        if let Some(parts) = url_parts(at.value) {
            self.host(parts.host, at, true);
        }
    }

    /// Normalises a digest once and looks it up in each of `tables`.
    fn digest<F: Fn() -> String>(
        &mut self,
        tables: &[Table],
        algorithm: HashAlgorithm,
        at: At<'_, F>,
    ) {
        let Some(digest) = normalize_digest(algorithm, at.value) else {
            return;
        };
        for table in tables {
            let ids = table(self.index())[algorithm.slot()].get(digest.as_ref());
            self.hit(ids, &at, MatchKind::Exact);
        }
    }

    fn path<F: Fn() -> String>(&mut self, path: &str, at: At<'_, F>) {
        let set = self.set;
        let path = path.trim();
        let path = if path.len() > 1 {
            path.trim_end_matches('/')
        } else {
            path
        };
        if path.starts_with('/') {
            self.hit(set.index.absolute_paths.get(path), &at, MatchKind::Exact);
        } else {
            self.hit(set.index.relative_paths.get(path), &at, MatchKind::Exact);
        }
        for (i, _) in path.match_indices('/') {
            if i > 0 {
                let ids = set.index.absolute_paths.get(&path[..i]);
                self.hit(ids, &at, MatchKind::InDirectory);
            }
            let ids = set.index.relative_paths.get(&path[i + 1..]);
            self.hit(ids, &at, MatchKind::PathSuffix);
        }
    }

    fn run(&mut self, ev: &EvidenceSnapshot) {
        let set = self.set;
        let idx = &set.index;
        for (i, package) in ev.packages.iter().enumerate() {
            self.app_id(at("packages", i, "id", &package.id));
            if let Some(installer) = &package.installer {
                self.app_id(at("packages", i, "installer", installer));
            }
            for (j, cert) in package.certificates.iter().enumerate() {
                for algorithm in HashAlgorithm::ALL {
                    let Some(digest) = cert.digest(algorithm) else {
                        continue;
                    };
                    let place = At {
                        section: "packages",
                        index: i,
                        field: move || format!("certificates[{j}].{}", algorithm.as_str()),
                        value: digest,
                    };
                    self.digest(&[APP_CERTS, CERTIFICATES], algorithm, place);
                }
            }
        }
        for (section, components) in [
            ("accessibility_services", &ev.accessibility_services),
            ("device_admins", &ev.device_admins),
            ("notification_listeners", &ev.notification_listeners),
        ] {
            for (i, component) in components.iter().enumerate() {
                self.app_id(at(section, i, "package", &component.package));
            }
        }
        for (i, vpn) in ev.vpn.iter().enumerate() {
            if let Some(package) = &vpn.package {
                self.app_id(at("vpn", i, "package", package));
            }
            if let Some(server) = &vpn.server {
                self.host(server, at("vpn", i, "server", server), false);
            }
        }
        if let Some(proxy) = &ev.proxy {
            if let Some(host) = &proxy.host {
                self.host(host, at("proxy", 0, "host", host), false);
            }
            if let Some(pac) = &proxy.pac_url {
                self.url(at("proxy", 0, "pac_url", pac));
            }
        }
        if let Some(dns) = &ev.private_dns {
            self.host(dns, at("private_dns", 0, "value", dns), false);
        }
        for (i, cert) in ev.user_ca_certificates.iter().enumerate() {
            for algorithm in HashAlgorithm::ALL {
                if let Some(digest) = cert.digest(algorithm) {
                    let place = at("user_ca_certificates", i, algorithm.as_str(), digest);
                    self.digest(&[CERTIFICATES], algorithm, place);
                }
            }
        }
        for (i, property) in ev.system_properties.iter().enumerate() {
            let ids = idx.properties.get(lower(property.name.trim()).as_ref());
            self.hit(
                ids,
                &at("system_properties", i, "name", &property.name),
                MatchKind::Exact,
            );
        }
        for (i, file) in ev.files.iter().enumerate() {
            match (&file.name, &file.path) {
                (Some(name), _) => {
                    let ids = idx.file_names.get(name.trim());
                    self.hit(ids, &at("files", i, "name", name), MatchKind::Exact);
                }
                (None, Some(path)) => {
                    let ids = idx.file_names.get(basename(path.trim()));
                    self.hit(ids, &at("files", i, "path", path), MatchKind::Basename);
                }
                (None, None) => {}
            }
            if let Some(path) = &file.path {
                self.path(path, at("files", i, "path", path));
            }
            for algorithm in HashAlgorithm::ALL {
                if let Some(digest) = file.digest(algorithm) {
                    let place = at("files", i, algorithm.as_str(), digest);
                    self.digest(&[FILE_HASHES], algorithm, place);
                }
            }
        }
        for (i, process) in ev.processes.iter().enumerate() {
            let name = process.name.trim();
            let ids = idx.process_names.get(name);
            self.hit(
                ids,
                &at("processes", i, "name", &process.name),
                MatchKind::Exact,
            );
            if TRUNCATED_PROCESS_NAME_LENGTHS.contains(&name.len()) {
                let longer = idx
                    .long_process_names
                    .range::<str, _>((std::ops::Bound::Excluded(name), std::ops::Bound::Unbounded))
                    .take_while(|(full, _)| full.starts_with(name));
                for (_, ids) in longer {
                    self.hit(
                        Some(ids),
                        &at("processes", i, "name", &process.name),
                        MatchKind::TruncatedPrefix,
                    );
                }
            }
            if let Some(path) = &process.path {
                let base = basename(path.trim());
                if base != name {
                    let ids = idx.process_names.get(base);
                    self.hit(ids, &at("processes", i, "path", path), MatchKind::Basename);
                }
            }
        }
        for (i, contact) in ev.domains.iter().enumerate() {
            let value = &contact.value;
            self.host(value, at("domains", i, "value", value), false);
        }
        for (i, contact) in ev.urls.iter().enumerate() {
            self.url(at("urls", i, "value", &contact.value));
        }
        for (i, contact) in ev.ip_addresses.iter().enumerate() {
            let value = contact.value.trim();
            let bare = value
                .strip_prefix('[')
                .and_then(|v| v.strip_suffix(']'))
                .unwrap_or(value);
            if let Ok(ip) = bare.parse::<IpAddr>() {
                let ids = idx.ips.get(&ip);
                self.hit(
                    ids,
                    &at("ip_addresses", i, "value", &contact.value),
                    MatchKind::Exact,
                );
            }
        }
        for (i, profile) in ev.configuration_profiles.iter().enumerate() {
            for (field, value) in [("uuid", &profile.uuid), ("identifier", &profile.identifier)] {
                if let Some(value) = value {
                    let ids = idx.profiles.get(lower(value.trim()).as_ref());
                    self.hit(
                        ids,
                        &at("configuration_profiles", i, field, value),
                        MatchKind::Exact,
                    );
                }
            }
        }
        for (i, contact) in ev.email_addresses.iter().enumerate() {
            let ids = idx.emails.get(lower(contact.value.trim()).as_ref());
            self.hit(
                ids,
                &at("email_addresses", i, "value", &contact.value),
                MatchKind::Exact,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspection::evidence::{Contact, File, Package};

    fn set(patterns: &[&str]) -> IndicatorSet {
        let objects: Vec<serde_json::Value> = patterns
            .iter()
            .enumerate()
            .map(|(i, p)| {
                serde_json::json!({"type": "indicator", "id": format!("indicator--{i}"),
                    "pattern": p, "pattern_type": "stix"})
            })
            .collect();
        let bundle = serde_json::json!({"type": "bundle", "objects": objects}).to_string();
        let mut set = IndicatorSet::new();
        let summary = set.load_stix2("unit", &bundle).unwrap();
        assert_eq!(summary.unparsed, 0, "{:?}", set.unparsed());
        set
    }

    fn contacts(values: &[&str]) -> Vec<Contact> {
        values
            .iter()
            .map(|v| Contact {
                value: (*v).into(),
                ..Contact::default()
            })
            .collect()
    }

    fn matches(report: &ScanReport) -> Vec<(String, &'static str, usize, MatchKind)> {
        report
            .findings
            .iter()
            .map(|f| {
                (
                    f.indicator_id.clone(),
                    f.evidence.section,
                    f.evidence.index,
                    f.matched,
                )
            })
            .collect()
    }

    #[test]
    fn a_revision_names_the_content_of_one_set() {
        let mut a = IndicatorSet::new();
        let b = set(&["[domain-name:value='evil.com']"]);
        assert_ne!(a.revision(), b.revision());
        assert_ne!(a.revision(), 0);
        let clone = b.clone();
        assert_eq!(clone.revision(), b.revision(), "a clone matches the same");
        let before = a.revision();
        a.add_collection(
            crate::inspection::parse_bundle("c", r#"{"type": "bundle", "objects": []}"#).unwrap(),
        );
        assert_ne!(a.revision(), before, "any change takes a new revision");
        assert_ne!(a.revision(), b.revision());
    }

    #[test]
    fn the_set_can_be_shared_across_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<IndicatorSet>();
        shareable::<ScanReport>();
    }

    #[test]
    fn domains_match_themselves_their_subdomains_and_url_hosts_only() {
        let set = set(&["[domain-name:value='evil.com']"]);
        let ev = EvidenceSnapshot {
            version: 1,
            domains: contacts(&["EVIL.com.", "x.y.evil.com", "notevil.com", "evil.com.au"]),
            urls: contacts(&[
                "https://a.evil.com:8443/p",
                "http://evil.com",
                "https://good.org/evil.com",
            ]),
            ..EvidenceSnapshot::default()
        };
        let id = || "indicator--0".to_owned();
        assert_eq!(
            matches(&set.scan(&ev)),
            [
                (id(), "domains", 0, MatchKind::Exact),
                (id(), "domains", 1, MatchKind::Subdomain),
                (id(), "urls", 0, MatchKind::UrlSubdomain),
                (id(), "urls", 1, MatchKind::UrlHost),
            ]
        );
    }

    #[test]
    fn paths_match_exactly_inside_folders_and_by_relative_suffix() {
        let set = set(&[
            "[file:path='/private/var/tmp/l/']",
            "[file:path='Library/Preferences/x.plist']",
            "[file:name='x.plist']",
        ]);
        let file = |p: &str| File {
            path: Some(p.into()),
            ..File::default()
        };
        let ev = EvidenceSnapshot {
            version: 1,
            files: vec![
                file("/private/var/tmp/l"),
                file("/private/var/tmp/l/payload"),
                file("/private/var/tmp/lx"),
                file("/private/var/mobile/Library/Preferences/x.plist"),
                file("/Library/Preferences/x.plist.bak"),
            ],
            ..EvidenceSnapshot::default()
        };
        let id = |n: u32| format!("indicator--{n}");
        assert_eq!(
            matches(&set.scan(&ev)),
            [
                (id(0), "files", 0, MatchKind::Exact),
                (id(0), "files", 1, MatchKind::InDirectory),
                (id(2), "files", 3, MatchKind::Basename),
                (id(1), "files", 3, MatchKind::PathSuffix),
            ]
        );
    }

    #[test]
    fn hashes_and_addresses_compare_by_value_not_spelling() {
        let set = set(&[
            "[app:cert.sha1='DA39A3EE5E6B4B0D3255BFEF95601890AFD80709']",
            "[ipv6-addr:value='2001:db8::1']",
            "[email-addr:value='Spy@Example.org']",
        ]);
        let ev = EvidenceSnapshot {
            version: 1,
            packages: vec![Package {
                id: "com.x".into(),
                certificates: vec![crate::inspection::evidence::Certificate {
                    sha1: Some(
                        "da:39:a3:ee:5e:6b:4b:0d:32:55:bf:ef:95:60:18:90:af:d8:07:09".into(),
                    ),
                    ..Default::default()
                }],
                ..Package::default()
            }],
            ip_addresses: contacts(&["2001:0db8:0:0::1"]),
            urls: contacts(&["https://[2001:db8::1]/x"]),
            email_addresses: contacts(&["spy@EXAMPLE.org"]),
            ..EvidenceSnapshot::default()
        };
        let report = set.scan(&ev);
        let sections: Vec<_> = report.findings.iter().map(|f| f.evidence.section).collect();
        assert_eq!(
            sections,
            ["packages", "urls", "ip_addresses", "email_addresses"]
        );
        assert_eq!(report.findings[0].evidence.field, "certificates[0].sha1");
        assert_eq!(report.findings[1].matched, MatchKind::UrlHost);
    }
}
