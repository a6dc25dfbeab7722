//! Device telemetry on the agent: each batch of network and security-log events is
//! matched against the indicator collections in force as it arrives (with the index and
//! rules inspections use), fed to the living-off-the-land detectors, and its hosts and
//! addresses kept in a rolling window that scheduled inspections scan as `network_log`
//! evidence. One transaction per batch; the journal gets the decisions and the counts,
//! never the events.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use super::persisted::{Persisted, State};
use super::{inspection, Agent};
use crate::alert::{Alert, AlertKind, Finding};
use crate::error::Result;
use crate::inspection::evidence::Contact;
use crate::inspection::{EvidenceSnapshot, IndicatorFinding, MatchKind, NetworkMatcher};
use crate::policy::model::UsbDataAccess;
use crate::policy::{Policy, TelemetryRules};
use crate::store::{
    Commit, JournalEntry, NetworkLogRecord, NetworkValue, NetworkWindowWrite, NETWORK_PARTS,
    NETWORK_SEEN_RESOLUTION_MS,
};
use crate::telemetry::detectors::{Context, Detectors, Input, REPEAT_AFTER_MS};
use crate::telemetry::{
    address_text, package_of, push_address_text, BatchCounts, BatchEvidence, TelemetryBatch,
    TelemetryEvent, NETWORK_LOG_SOURCE,
};
use crate::time::{Timestamp, HOUR_MS};

pub(super) const TELEMETRY_STATE: &str = "telemetry";
const MATCH_DETECTOR: &str = "telemetry_match";
/// The most matches a batch's journal record lists (the count is always exact).
const MAX_JOURNALED_MATCHES: usize = 100;
/// Events per transaction when a platform delivery is ingested whole
/// ([`Agent::ingest_telemetry_delivery`]): well under the batch bound, so one commit
/// stays short on a phone.
pub const INGEST_CHUNK_EVENTS: usize = 1_200;

/// The persisted part: detector state and which indicator hits were raised recently.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct TelemetryComponent {
    detectors: Detectors,
    /// `indicator id` + ` ` + `package` → when it was last raised.
    raised: BTreeMap<String, Timestamp>,
}

impl State for TelemetryComponent {
    const WHAT: &'static str = "telemetry state";
}

/// What the agent holds for telemetry between batches, loaded from the store on the
/// first batch and dropped (to be loaded again) when a batch's commit fails, so memory
/// never runs ahead of the database.
#[derive(Default)]
pub(super) struct TelemetrySlot {
    loaded: Option<Loaded>,
}

struct Loaded {
    /// Detector state and recent raises, written only when a batch changed them.
    state: Persisted<TelemetryComponent>,
    /// The network window's rows as stored: which values need no write when seen again.
    window: WindowMirror,
}

/// Every part of the stored window is rewritten at least this often (in ingest time): a
/// value that left the window (and every read at once) leaves the database file within
/// this, plus the time to the next ingest. Under steady traffic the one part each ingest
/// rewrites anyway comes round sooner.
const PART_REWRITE_MS: i64 = 12 * HOUR_MS;

/// The network window's values with their stored `last_seen` (Unix milliseconds): one
/// entry per value of the window, so a batch writes only values that are new or whose
/// stored time is more than [`NETWORK_SEEN_RESOLUTION_MS`] old (the store's rule), and
/// finds expired values without scanning the table. Addresses are keyed by value, so a
/// sighting covered by its stored time formats no text. Each entry also remembers the
/// indicator set's revision under which the value last matched nothing, so a value seen
/// again costs one lookup here and none in the indicator index until the set changes.
#[derive(Default)]
struct WindowMirror {
    hosts: FxHashMap<Box<str>, Seen>,
    addresses: FxHashMap<IpAddr, Seen>,
    /// Stored address rows whose text is not an address's canonical form (this code never
    /// writes one): no sighting matches them, and they expire like the rest.
    odd_addresses: FxHashMap<Box<str>, Seen>,
    /// No value in the window was last seen before this (a lower bound).
    oldest: i64,
    /// When each stored part was last written (Unix milliseconds; `None`: never).
    written: Vec<Option<i64>>,
    /// The batch being ingested and its writes.
    pending: Pending,
}

#[derive(Default)]
struct Pending {
    /// The batch's number (entries written by it carry it; 0 is none).
    batch: u32,
    /// Each value once, with its newest sighting, as the network log's record.
    writes: NetworkLogRecord,
}

#[derive(Clone, Copy)]
struct Seen {
    /// The stored time (or, once the value is written by this batch, its newest sighting).
    at: i64,
    /// The revision of the indicator set under which the value matched nothing (0: not
    /// known). Memory only.
    clean: u64,
    /// The batch that last wrote the value (0: loaded from the store).
    batch: u32,
    /// Its position in that batch's writes (a byte offset in the record).
    slot: u32,
    /// The stored part that holds it.
    part: u8,
}

impl Seen {
    fn stored(at: i64, part: u8) -> Self {
        Seen {
            at,
            clean: 0,
            batch: 0,
            slot: 0,
            part,
        }
    }
}

/// The stored part a value belongs to (FNV-1a of its bytes: a host's or an odd address's
/// text, an address's octets), fixed so that each value is in one part only.
fn part_of(bytes: &[u8]) -> u8 {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    (hash % u64::from(NETWORK_PARTS)) as u8
}

fn address_part(address: &IpAddr) -> u8 {
    match address {
        IpAddr::V4(a) => part_of(&a.octets()),
        IpAddr::V6(a) => part_of(&a.octets()),
    }
}

/// Notes a sighting of `key` at `at` in `map`, then lets `visit` see the value's entry: a
/// value new to the window, or one whose stored time is more than the resolution older,
/// joins the batch's writes (`store` appends its entry); a value already written by this
/// batch keeps its newest sighting; any other leaves the stored row as it is. Returns
/// true when the value was new to the window (`owned` then gives its key and part).
fn sight<K, Q>(
    map: &mut FxHashMap<K, Seen>,
    pending: &mut Pending,
    key: &Q,
    owned: impl FnOnce(&Q) -> (K, u8),
    store: impl FnOnce(&Q, &mut NetworkLogRecord, Timestamp) -> usize,
    at: i64,
    visit: impl FnOnce(&mut Seen),
) -> bool
where
    K: std::borrow::Borrow<Q> + std::hash::Hash + Eq,
    Q: std::hash::Hash + Eq + ?Sized,
{
    let batch = pending.batch;
    let writes = &mut pending.writes;
    let append = |key: &Q| {
        let slot = store(key, writes, Timestamp::from_unix_millis(at));
        u32::try_from(slot).expect("a batch's record is under 4 GiB")
    };
    match map.get_mut(key) {
        Some(seen) => {
            if seen.batch == batch {
                seen.at = seen.at.max(at);
                writes.raise(seen.slot as usize, Timestamp::from_unix_millis(seen.at));
            } else if at > seen.at.saturating_add(NETWORK_SEEN_RESOLUTION_MS) {
                seen.at = at;
                seen.batch = batch;
                seen.slot = append(key);
            }
            visit(seen);
            false
        }
        None => {
            let (owned, part) = owned(key);
            let mut seen = Seen {
                at,
                clean: 0,
                batch,
                slot: append(key),
                part,
            };
            visit(&mut seen);
            map.insert(owned, seen);
            true
        }
    }
}

impl WindowMirror {
    fn load(rows: Vec<(NetworkValue, String, Timestamp)>, written: &[Option<Timestamp>]) -> Self {
        let mut mirror = WindowMirror {
            oldest: i64::MAX,
            written: written
                .iter()
                .map(|w| w.map(Timestamp::as_unix_millis))
                .collect(),
            ..WindowMirror::default()
        };
        for (kind, value, at) in rows {
            let at = at.as_unix_millis();
            mirror.oldest = mirror.oldest.min(at);
            match kind {
                NetworkValue::Host => {
                    let part = part_of(value.as_bytes());
                    mirror
                        .hosts
                        .insert(value.into_boxed_str(), Seen::stored(at, part));
                }
                NetworkValue::Address => match value.parse::<IpAddr>() {
                    Ok(address) if address_text(&address) == value => {
                        let part = address_part(&address);
                        mirror.addresses.insert(address, Seen::stored(at, part));
                    }
                    _ => {
                        let part = part_of(value.as_bytes());
                        mirror
                            .odd_addresses
                            .insert(value.into_boxed_str(), Seen::stored(at, part));
                    }
                },
            }
        }
        mirror
    }

    /// Starts the next batch's writes.
    fn next_batch(&mut self) {
        if self.pending.batch == u32::MAX {
            // Numbers are reused: no entry may claim to be written by the new batch.
            for seen in self
                .hosts
                .values_mut()
                .chain(self.addresses.values_mut())
                .chain(self.odd_addresses.values_mut())
            {
                seen.batch = 0;
            }
            self.pending.batch = 0;
        }
        self.pending.batch += 1;
        self.pending.writes = NetworkLogRecord::default();
    }

    /// The writes of the batch, leaving none.
    fn take_writes(&mut self) -> NetworkLogRecord {
        std::mem::take(&mut self.pending.writes)
    }

    /// A host name looked up at `at`, stored trimmed, without its final dot and in
    /// lower case; `visit` also learns whether the name is spelt as stored.
    fn sight_host(&mut self, host: &str, at: i64, visit: impl FnOnce(&mut Seen, bool)) {
        let key = host.trim().trim_end_matches('.');
        let lower;
        let key = if key.bytes().any(|b| b.is_ascii_uppercase()) {
            lower = key.to_ascii_lowercase();
            lower.as_str()
        } else {
            key
        };
        let as_stored = key == host;
        if sight(
            &mut self.hosts,
            &mut self.pending,
            key,
            |h: &str| (Box::from(h), part_of(h.as_bytes())),
            |h: &str, record: &mut NetworkLogRecord, at| record.push(NetworkValue::Host, h, at),
            at,
            |seen| visit(seen, as_stored),
        ) {
            self.oldest = self.oldest.min(at);
        }
    }

    /// An address resolved or connected to at `at`, stored as `Display` writes it.
    fn sight_address(&mut self, address: &IpAddr, at: i64, visit: impl FnOnce(&mut Seen)) {
        if sight(
            &mut self.addresses,
            &mut self.pending,
            address,
            |a: &IpAddr| (*a, address_part(a)),
            |a: &IpAddr, record: &mut NetworkLogRecord, at| {
                record.push_with(NetworkValue::Address, at, |out| push_address_text(out, a))
            },
            at,
            visit,
        ) {
            self.oldest = self.oldest.min(at);
        }
    }

    /// Forgets the values last seen before `cutoff` (a scan of memory only when the
    /// oldest value may have expired); each leaves the store when its part is rewritten.
    /// Returns whether the scan ran, that is whether stored rows may have expired too.
    fn expire(&mut self, cutoff: i64) -> bool {
        if self.oldest >= cutoff {
            return false;
        }
        let mut oldest = i64::MAX;
        let mut keep = |seen: &Seen| {
            let keep = seen.at >= cutoff;
            if keep {
                oldest = oldest.min(seen.at);
            }
            keep
        };
        self.hosts.retain(|_, seen| keep(seen));
        self.addresses.retain(|_, seen| keep(seen));
        self.odd_addresses.retain(|_, seen| keep(seen));
        self.oldest = oldest;
        true
    }

    /// The parts this ingest rewrites (at `now`): every part not written for
    /// [`PART_REWRITE_MS`], or else the one written longest ago, lowest number first.
    fn due_parts(&self, now: i64) -> Vec<u32> {
        let stale = |p: &u32| {
            self.written[*p as usize].is_none_or(|w| w < now.saturating_sub(PART_REWRITE_MS))
        };
        let due: Vec<u32> = (0..NETWORK_PARTS).filter(stale).collect();
        if !due.is_empty() {
            return due;
        }
        let oldest = (0..NETWORK_PARTS)
            .min_by_key(|p| self.written[*p as usize])
            .expect("the window has parts");
        vec![oldest]
    }

    /// The content of part `part` as the store keeps it, noted as written at `now`.
    fn write_part(&mut self, part: u32, now: i64) -> NetworkLogRecord {
        let mut record = NetworkLogRecord::default();
        let ours = |seen: &Seen| u32::from(seen.part) == part;
        for (host, seen) in self.hosts.iter().filter(|(_, s)| ours(s)) {
            record.push(
                NetworkValue::Host,
                host,
                Timestamp::from_unix_millis(seen.at),
            );
        }
        for (address, seen) in self.addresses.iter().filter(|(_, s)| ours(s)) {
            record.push_with(
                NetworkValue::Address,
                Timestamp::from_unix_millis(seen.at),
                |out| push_address_text(out, address),
            );
        }
        for (value, seen) in self.odd_addresses.iter().filter(|(_, s)| ours(s)) {
            record.push(
                NetworkValue::Address,
                value,
                Timestamp::from_unix_millis(seen.at),
            );
        }
        self.written[part as usize] = Some(now);
        record
    }
}

/// One event of a batch that matched an indicator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TelemetryMatch {
    /// The event's position in the batch.
    pub event: usize,
    /// When the event happened.
    pub at: Timestamp,
    /// The package that made it.
    pub package: String,
    /// The indicator, its collection and malware, and the matching value.
    pub finding: IndicatorFinding,
}

/// What a batch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelemetryOutcome {
    /// Alerts raised (also queued in the outbox).
    pub alerts: Vec<Alert>,
    /// Every indicator match, including those not raised again because the same
    /// indicator and package were raised within the last day.
    pub matches: Vec<TelemetryMatch>,
    /// Events per family.
    pub counts: BatchCounts,
}

fn window_days(policy: Option<&Policy>) -> u32 {
    policy.map_or_else(
        || TelemetryRules::default().network_window_days,
        |p| p.telemetry.network_window_days,
    )
}

impl Agent {
    /// Takes one batch of network and security-log events (what one platform callback
    /// delivered): matches each event against the indicators in force, raising
    /// `indicator_match` (network events) or `known_bad_process` (process starts) at
    /// the event's time, runs the living-off-the-land detectors, and keeps the batch's
    /// hosts and addresses in the rolling window, pruned to the policy's length. High
    /// alerts bring the next inspection forward, in the same transaction.
    ///
    /// Invalid input is refused with [`Error::InvalidInput`](crate::error::Error::InvalidInput)
    /// naming the event and field; nothing is stored.
    pub fn ingest_telemetry(
        &mut self,
        batch: &TelemetryBatch,
        now: Timestamp,
    ) -> Result<TelemetryOutcome> {
        batch.validate()?;
        let now = now.max(self.guard.facts().last_seen);
        let mut loaded = match self.telemetry.loaded.take() {
            Some(loaded) => loaded,
            None => Loaded {
                state: Persisted::restore(
                    self.store
                        .load_state(TELEMETRY_STATE)?
                        .filter(|s| !s.is_empty()),
                    TelemetryComponent::default,
                )?,
                window: WindowMirror::load(
                    self.store
                        .network_window(Timestamp::from_unix_millis(i64::MIN))?,
                    &self.store.network_parts_written()?,
                ),
            },
        };
        let result = self.ingest_with(&mut loaded, batch, now);
        if result.is_ok() {
            self.telemetry.loaded = Some(loaded);
        }
        result
    }

    /// Takes everything one platform callback delivered, however much (a day of security
    /// log can hold tens of thousands of events): ingested in consecutive batches of
    /// [`INGEST_CHUNK_EVENTS`], each in its own transaction, with the outcomes merged and
    /// each match's `event` numbered within the whole delivery. A chunk that fails stops
    /// the delivery with its error; the chunks before it stay stored.
    pub fn ingest_telemetry_delivery(
        &mut self,
        delivery: TelemetryBatch,
        now: Timestamp,
    ) -> Result<TelemetryOutcome> {
        let mut merged = TelemetryOutcome {
            alerts: Vec::new(),
            matches: Vec::new(),
            counts: BatchCounts::default(),
        };
        let mut events = delivery.events;
        let mut offset = 0;
        while !events.is_empty() {
            let rest = events.split_off(events.len().min(INGEST_CHUNK_EVENTS));
            let chunk = TelemetryBatch { events };
            let outcome = self.ingest_telemetry(&chunk, now)?;
            merged.alerts.extend(outcome.alerts);
            merged
                .matches
                .extend(outcome.matches.into_iter().map(|m| TelemetryMatch {
                    event: m.event + offset,
                    ..m
                }));
            merged.counts.dns += outcome.counts.dns;
            merged.counts.connect += outcome.counts.connect;
            merged.counts.security += outcome.counts.security;
            offset += chunk.events.len();
            events = rest;
        }
        Ok(merged)
    }

    fn ingest_with(
        &mut self,
        loaded: &mut Loaded,
        batch: &TelemetryBatch,
        now: Timestamp,
    ) -> Result<TelemetryOutcome> {
        let Loaded { state, window } = loaded;
        let default_rules = TelemetryRules::default();
        let policy = self.active_policy();
        let ctx = Context {
            rules: policy.map_or(&default_rules, |p| &p.telemetry),
            any_ca_allowed: policy.is_some_and(|p| p.configuration.user_installed_ca_certs.allowed),
            allowed_cas: policy.map_or(&[], |p| {
                &p.configuration
                    .user_installed_ca_certs
                    .allowed_fingerprints_sha256
            }),
            usb_storage_forbidden: policy.is_some_and(|p| {
                p.configuration
                    .device_connectivity_management
                    .as_ref()
                    .is_some_and(|d| d.usb_data_access != UsbDataAccess::AllowUsbDataTransfer)
            }),
        };
        let window_ms = i64::from(window_days(policy)) * 24 * HOUR_MS;
        let cutoff = now.plus_millis(-window_ms);

        let mut findings = Vec::new();
        let mut matches = Vec::new();
        // Process starts are scanned as a snapshot of their own (few, and their rules
        // are the scan's). Network events are matched one by one as they come, with the
        // same index and rules, numbered as the batch's snapshot would number them, and
        // their hosts and addresses join the window at the event's time; a value the
        // window saw match nothing under the same indicators is not looked up again.
        let processes = BatchEvidence::of_processes(batch);
        let report = self.inspection.indicators.scan(&processes.snapshot);
        let mut matcher = self.inspection.indicators.network_matcher();
        let mut network_hits = Vec::new();
        window.next_batch();
        let since = cutoff.as_unix_millis();
        for (i, event) in batch.events.iter().enumerate() {
            let before = matcher.found();
            let at = event.at().as_unix_millis();
            let in_window = at >= since;
            let m = &mut matcher;
            match event {
                TelemetryEvent::Dns(e) => {
                    let host = |m: &mut NetworkMatcher<'_>| m.domain(&e.host);
                    if in_window {
                        window.sight_host(&e.host, at, |seen, as_stored| {
                            match_seen(m, seen, as_stored, host, NetworkMatcher::pass_domain);
                        });
                    } else {
                        host(m);
                    }
                    for address in &e.addresses {
                        match_address(window, m, address, in_window.then_some(at));
                    }
                }
                TelemetryEvent::Connect(e) => {
                    match_address(window, m, &e.address, in_window.then_some(at));
                }
                TelemetryEvent::Security(_) => {}
            }
            network_hits.extend((before..matcher.found()).map(|f| (i, f)));
        }
        let writes = window.take_writes();
        let network_findings = matcher.into_findings();
        let mut by_event: BTreeMap<usize, Vec<&IndicatorFinding>> = BTreeMap::new();
        for f in &report.findings {
            if let Some(event) = processes.event_of(f.evidence.section, f.evidence.index) {
                by_event.entry(event).or_default().push(f);
            }
        }
        for (event, f) in network_hits {
            by_event
                .entry(event)
                .or_default()
                .push(&network_findings[f]);
        }
        state
            .raised
            .retain(|_, when| now.millis_since(*when) < REPEAT_AFTER_MS);
        for (i, event) in batch.events.iter().enumerate() {
            let hits = by_event.get(&i).map(Vec::as_slice).unwrap_or(&[]);
            let package = package_of(event).unwrap_or_default();
            match event {
                TelemetryEvent::Dns(_) | TelemetryEvent::Connect(_) => {}
                TelemetryEvent::Security(s) => {
                    state
                        .detectors
                        .observe(&ctx, &Input::Security(s), &mut findings);
                    if !hits.is_empty() {
                        let input = Input::BadProcess {
                            at: s.at,
                            package,
                            matches: hits,
                        };
                        state.detectors.observe(&ctx, &input, &mut findings);
                    }
                }
            }
            let network = !matches!(event, TelemetryEvent::Security(_));
            let mut raised_here = BTreeSet::new();
            for hit in hits {
                matches.push(TelemetryMatch {
                    event: i,
                    at: event.at(),
                    package: package.to_owned(),
                    finding: (*hit).clone(),
                });
                if !network || !raised_here.insert(hit.indicator_id.as_str()) {
                    continue;
                }
                let key = format!("{} {package}", hit.indicator_id);
                let recent = state.raised.get(&key).is_some_and(|when| {
                    event.at() >= *when && event.at().millis_since(*when) < REPEAT_AFTER_MS
                });
                if recent {
                    continue;
                }
                state.raised.insert(key, event.at());
                findings.push(match_finding(event, package, hit));
            }
        }

        let counts = batch.counts();
        let listed: Vec<serde_json::Value> = matches
            .iter()
            .take(MAX_JOURNALED_MATCHES)
            .map(|m| {
                serde_json::json!({
                    "at": m.at,
                    "package": crate::policy::sanitize(&m.package),
                    "indicator": m.finding.indicator_id,
                    "collection": m.finding.collection,
                    "section": m.finding.evidence.section,
                })
            })
            .collect();
        let mut journal = vec![JournalEntry {
            kind: "telemetry_batch".into(),
            body: serde_json::json!({
                "dns": counts.dns,
                "connect": counts.connect,
                "security": counts.security,
                "matches": matches.len(),
                "alerts": findings.len(),
                "window_writes": writes.len(),
                "listed_matches": listed,
            })
            .to_string(),
        }];

        let events = self.inspection.on_alerts(&findings, now);
        inspection::record(&events, &mut journal, &mut findings);
        let mut states = Vec::new();
        let schedule_json = self.inspection.state.changed()?;
        if let Some(json) = &schedule_json {
            states.push((inspection::INSPECTION_STATE, json.clone()));
        }
        let state_json = state.changed()?;
        if let Some(json) = &state_json {
            states.push((TELEMETRY_STATE, json.clone()));
        }
        for f in &findings {
            log::warn!(
                "portcullis: alert {} (severity {}, detector {})",
                f.kind,
                f.severity(),
                f.detector
            );
        }
        // Log records and pre-part rows are pruned by time only when the window lost a
        // value (otherwise none can be wholly expired but superseded ones, which the
        // rotation removes); the parts drop their expired values as they rotate.
        let expired = window.expire(cutoff.as_unix_millis());
        let parts = window
            .due_parts(now.as_unix_millis())
            .into_iter()
            .map(|p| (p, window.write_part(p, now.as_unix_millis())))
            .collect();
        let network = NetworkWindowWrite {
            record: writes,
            parts,
            prune_before: expired.then_some(cutoff),
            ..NetworkWindowWrite::default()
        };
        let commit = Commit {
            at: Some(now),
            states,
            journal,
            findings,
        };
        match self.store.commit_with_network(commit, network) {
            Ok(alerts) => {
                if let Some(json) = schedule_json {
                    self.inspection.state.committed(json);
                }
                if let Some(json) = state_json {
                    state.committed(json);
                }
                Ok(TelemetryOutcome {
                    alerts,
                    matches,
                    counts,
                })
            }
            Err(e) => {
                // Memory goes back to what is on disk; an unreadable committed form is Corrupt.
                self.inspection
                    .state
                    .rollback(inspection::InspectionComponent::default)?;
                Err(e)
            }
        }
    }

    /// The telemetry rules in force (the defaults without a policy): the native layer
    /// turns the platform's network and security logs on or off from them.
    pub fn telemetry_rules(&self) -> TelemetryRules {
        self.active_policy()
            .map_or_else(TelemetryRules::default, |p| p.telemetry.clone())
    }

    /// The rolling window of network events as evidence (`domains` and `ip_addresses`
    /// with source `network_log`), as scheduled inspections scan it.
    pub fn network_window_evidence(&self, now: Timestamp) -> Result<EvidenceSnapshot> {
        let mut snapshot = EvidenceSnapshot {
            version: crate::inspection::EVIDENCE_VERSION,
            ..EvidenceSnapshot::default()
        };
        self.add_network_window(&mut snapshot, now)?;
        Ok(snapshot)
    }

    /// Appends the network window to an inspection's evidence.
    pub(super) fn add_network_window(
        &self,
        evidence: &mut EvidenceSnapshot,
        now: Timestamp,
    ) -> Result<()> {
        let window_ms = i64::from(window_days(self.active_policy())) * 24 * HOUR_MS;
        for (kind, value, at) in self.store.network_window(now.plus_millis(-window_ms))? {
            let contact = Contact {
                value,
                source: Some(NETWORK_LOG_SOURCE.to_owned()),
                seen_at: Some(at),
            };
            match kind {
                NetworkValue::Host => evidence.domains.push(contact),
                NetworkValue::Address => evidence.ip_addresses.push(contact),
            }
        }
        Ok(())
    }
}

/// Matches a value whose window entry is `seen`, unless the entry says it matched nothing
/// under the matcher's indicators (`as_stored`: the value is spelt as the entry's key,
/// so what the entry remembers holds for it), and remembers when it matches nothing.
fn match_seen<'m>(
    matcher: &mut NetworkMatcher<'m>,
    seen: &mut Seen,
    as_stored: bool,
    full: impl FnOnce(&mut NetworkMatcher<'m>),
    pass: fn(&mut NetworkMatcher<'m>),
) {
    let revision = matcher.revision();
    if as_stored && seen.clean == revision {
        pass(matcher);
        return;
    }
    let before = matcher.found();
    full(matcher);
    if as_stored && matcher.found() == before {
        seen.clean = revision;
    }
}

/// Matches an address, and notes its sighting in the window when it was seen at a time
/// inside it (`at`).
fn match_address(
    window: &mut WindowMirror,
    matcher: &mut NetworkMatcher<'_>,
    address: &IpAddr,
    at: Option<i64>,
) {
    let full = |m: &mut NetworkMatcher<'_>| m.address(address, || address_text(address));
    match at {
        Some(at) => window.sight_address(address, at, |seen| {
            match_seen(matcher, seen, true, full, NetworkMatcher::pass_address);
        }),
        None => full(matcher),
    }
}

fn match_finding(event: &TelemetryEvent, package: &str, hit: &IndicatorFinding) -> Finding {
    let at = event.at();
    let malware = hit.malware.join(", ");
    // What the SIEM export needs to rebuild the network event (OCSF 4003 / 4001).
    let detail: Vec<(String, String)> = match event {
        TelemetryEvent::Dns(e) => vec![
            ("event".into(), "dns".into()),
            ("query".into(), crate::policy::sanitize(&e.host)),
            (
                "answers".into(),
                e.addresses
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
            ),
        ],
        TelemetryEvent::Connect(e) => vec![
            ("event".into(), "connect".into()),
            ("address".into(), e.address.to_string()),
            ("port".into(), e.port.to_string()),
        ],
        TelemetryEvent::Security(_) => Vec::new(),
    };
    let what = match hit.matched {
        MatchKind::Subdomain => "a subdomain of an indicator domain",
        _ if hit.evidence.section == "ip_addresses" => "an indicator address",
        _ => "an indicator domain",
    };
    Finding {
        at,
        kind: AlertKind::IndicatorMatch,
        slot: None,
        detector: MATCH_DETECTOR.into(),
        detector_version: 1,
        summary: format!(
            "{} contacted {what} ({})",
            crate::policy::sanitize(package),
            if malware.is_empty() {
                "unnamed malware"
            } else {
                &malware
            }
        ),
        evidence: vec![
            ("indicator".into(), hit.indicator_id.clone()),
            ("collection".into(), hit.collection.clone()),
            ("malware".into(), malware.clone()),
            ("package".into(), crate::policy::sanitize(package)),
            ("value".into(), crate::policy::sanitize(&hit.evidence.value)),
            ("matched".into(), hit.matched.as_str().into()),
            ("source".into(), NETWORK_LOG_SOURCE.into()),
        ]
        .into_iter()
        .chain(detail)
        .collect(),
        severity: None,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::identity::SoftwareDeviceKey;
    use crate::telemetry::DnsEvent;

    const T0: Timestamp = Timestamp::from_unix_millis(1_777_593_600_000);

    fn open(db: &std::path::Path) -> Agent {
        let key = Arc::new(SoftwareDeviceKey::new(b"telemetry-window-test").unwrap());
        Agent::open(db, key, T0, [7; 32]).unwrap()
    }

    fn dns(host: &str, at: Timestamp) -> TelemetryBatch {
        TelemetryBatch {
            events: vec![TelemetryEvent::Dns(DnsEvent {
                at,
                package: "com.example.app".into(),
                host: host.into(),
                addresses: vec!["192.0.2.7".parse().unwrap()],
            })],
        }
    }

    /// How many window rows the last batch wrote, from its journal record.
    fn last_writes(agent: &Agent) -> u64 {
        let record = agent
            .store
            .journal_records()
            .unwrap()
            .into_iter()
            .rev()
            .find(|r| r.kind == "telemetry_batch")
            .expect("a batch record");
        let body: serde_json::Value = serde_json::from_str(&record.body).unwrap();
        body["window_writes"].as_u64().unwrap()
    }

    fn rows(agent: &Agent) -> Vec<(NetworkValue, String, Timestamp)> {
        agent
            .store
            .network_window(Timestamp::from_unix_millis(i64::MIN))
            .unwrap()
    }

    #[test]
    fn a_delivery_larger_than_a_batch_is_ingested_in_chunks_with_matches_numbered_in_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut agent = open(&dir.path().join("agent.db"));
        let stix = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/data/spyware-fixture.stix2"),
        )
        .unwrap();
        agent.load_indicators("fixture", &stix).unwrap();
        let total = crate::telemetry::MAX_BATCH_EVENTS + 1;
        let hit = 2 * INGEST_CHUNK_EVENTS + 3;
        let events: Vec<TelemetryEvent> = (0..total)
            .map(|i| {
                let host = if i == hit {
                    "update-cdn-service.com"
                } else {
                    "a.example.org"
                };
                dns(host, T0).events.remove(0)
            })
            .collect();
        let delivery = TelemetryBatch { events };
        assert!(
            agent.ingest_telemetry(&delivery, T0).is_err(),
            "one batch is bounded"
        );
        let outcome = agent.ingest_telemetry_delivery(delivery, T0).unwrap();
        assert_eq!(outcome.counts.dns, total);
        assert_eq!(outcome.matches.len(), 1);
        assert_eq!(
            outcome.matches[0].event, hit,
            "numbered in the whole delivery"
        );
        assert_eq!(outcome.alerts.len(), 1, "one indicator_match");
        let batches = agent
            .store
            .journal_records()
            .unwrap()
            .into_iter()
            .filter(|r| r.kind == "telemetry_batch")
            .count();
        assert_eq!(batches, total.div_ceil(INGEST_CHUNK_EVENTS));
    }

    #[test]
    fn a_reopened_agent_rebuilds_the_window_mirror_from_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("agent.db");
        let mut agent = open(&db);
        agent
            .ingest_telemetry(&dns("A.Example.org.", T0), T0)
            .unwrap();
        assert_eq!(last_writes(&agent), 2, "a host and an address");
        drop(agent);
        let mut agent = open(&db);
        let soon = T0.plus_millis(30 * 60_000);
        agent
            .ingest_telemetry(&dns("a.example.org", soon), soon)
            .unwrap();
        assert_eq!(
            last_writes(&agent),
            0,
            "both values are known from the store"
        );
        let later = T0.plus_millis(NETWORK_SEEN_RESOLUTION_MS + 1);
        agent
            .ingest_telemetry(&dns("a.example.org", later), later)
            .unwrap();
        assert_eq!(last_writes(&agent), 2, "stale rows are rewritten");
        assert!(rows(&agent).iter().all(|(_, _, at)| *at == later));
    }

    #[test]
    fn a_failed_commit_drops_the_mirror_so_nothing_is_taken_as_stored() {
        let dir = tempfile::tempdir().unwrap();
        let mut agent = open(&dir.path().join("agent.db"));
        agent
            .ingest_telemetry(&dns("a.example.org", T0), T0)
            .unwrap();
        agent.store.refuse_writes_for_test();
        let at = T0.plus_millis(60_000);
        assert!(agent
            .ingest_telemetry(&dns("b.example.org", at), at)
            .is_err());
        agent.store.allow_writes_for_test();
        agent
            .ingest_telemetry(&dns("b.example.org", at), at)
            .unwrap();
        assert_eq!(last_writes(&agent), 1, "the new host is written after all");
        let hosts: Vec<String> = rows(&agent)
            .into_iter()
            .filter(|(kind, _, _)| *kind == NetworkValue::Host)
            .map(|(_, value, _)| value)
            .collect();
        assert_eq!(hosts, ["a.example.org", "b.example.org"]);
    }

    #[test]
    fn an_expired_value_leaves_every_read_at_once_and_the_file_when_its_part_is_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("agent.db");
        let mut agent = open(&db);
        agent
            .ingest_telemetry(&dns("old.example.org", T0), T0)
            .unwrap();
        let day = 24 * HOUR_MS;
        let t1 = T0.plus_millis(3 * day);
        agent
            .ingest_telemetry(&dns("new.example.org", t1), t1)
            .unwrap();
        drop(agent);
        // Reopened (the mirror comes from the store), one millisecond before the first
        // value leaves the seven-day window, then exactly when it does.
        let mut agent = open(&db);
        let edge = T0.plus_millis(7 * day);
        agent
            .ingest_telemetry(&TelemetryBatch::default(), edge)
            .unwrap();
        assert_eq!(rows(&agent).len(), 3, "still in the window");
        agent
            .ingest_telemetry(&TelemetryBatch::default(), edge.plus_millis(1))
            .unwrap();
        let evidence = agent.network_window_evidence(edge.plus_millis(1)).unwrap();
        let read: Vec<&str> = evidence.domains.iter().map(|c| c.value.as_str()).collect();
        assert_eq!(read, ["new.example.org"], "out of the window at once");
        // Every part was rewritten at `edge`, so the stored copy goes with the next
        // rewrite of its part: at the latest once every part is due again.
        let due = edge.plus_millis(PART_REWRITE_MS + 2);
        agent
            .ingest_telemetry(&TelemetryBatch::default(), due)
            .unwrap();
        let left: Vec<String> = rows(&agent).into_iter().map(|(_, v, _)| v).collect();
        assert_eq!(
            left,
            ["new.example.org", "192.0.2.7"],
            "deleted from the file"
        );
        agent
            .ingest_telemetry(&dns("old.example.org", edge), due)
            .unwrap();
        assert_eq!(
            last_writes(&agent),
            2,
            "the host is new again, the address stale"
        );
        assert!(rows(&agent).iter().any(|(_, v, _)| v == "old.example.org"));
    }

    fn fixture() -> String {
        std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/data/spyware-fixture.stix2"),
        )
        .unwrap()
    }

    fn connect(address: &str, at: Timestamp) -> TelemetryEvent {
        TelemetryEvent::Connect(crate::telemetry::ConnectEvent {
            at,
            package: "com.example.app".into(),
            address: address.parse().unwrap(),
            port: 443,
        })
    }

    fn matched(outcome: &TelemetryOutcome) -> Vec<(&str, usize, &str)> {
        outcome
            .matches
            .iter()
            .map(|m| {
                (
                    m.finding.evidence.section,
                    m.finding.evidence.index,
                    m.finding.matched.as_str(),
                )
            })
            .collect()
    }

    #[test]
    fn matches_are_the_findings_of_a_scan_of_the_batch_numbered_as_its_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let mut agent = open(&dir.path().join("agent.db"));
        agent.load_indicators("fixture", &fixture()).unwrap();
        let mut events = dns("a.example.org", T0).events;
        events.extend(dns("cdn.update-cdn-service.com", T0).events);
        events.push(connect("198.51.100.1", T0));
        events.push(connect("203.0.113.66", T0));
        events.extend(dns("Legacy-Beacon.net", T0).events);
        let batch = TelemetryBatch { events };
        let scanned = agent
            .inspection
            .indicators
            .scan(&BatchEvidence::of(&batch).snapshot)
            .findings;
        assert_eq!(scanned.len(), 3);
        // Twice: the second time every clean value is known to the window.
        for round in 0..2 {
            let at = T0.plus_millis(round * 60_000);
            let outcome = agent.ingest_telemetry(&batch, at).unwrap();
            // In event order; the scan's are in section order.
            let mut streamed: Vec<_> = outcome.matches.iter().map(|m| &m.finding).collect();
            streamed.sort_by_key(|f| (f.evidence.section, f.evidence.index));
            assert_eq!(
                streamed,
                scanned.iter().collect::<Vec<_>>(),
                "round {round}"
            );
            assert_eq!(
                outcome.matches.iter().map(|m| m.event).collect::<Vec<_>>(),
                [1, 3, 4]
            );
        }
    }

    #[test]
    fn a_value_seen_clean_is_matched_again_once_the_indicators_change() {
        let dir = tempfile::tempdir().unwrap();
        let mut agent = open(&dir.path().join("agent.db"));
        let mut events = dns("cdn.update-cdn-service.com", T0).events;
        events.push(connect("203.0.113.66", T0));
        let batch = TelemetryBatch { events };
        let outcome = agent.ingest_telemetry(&batch, T0).unwrap();
        assert!(outcome.matches.is_empty(), "no indicators yet");
        agent.load_indicators("fixture", &fixture()).unwrap();
        let later = T0.plus_millis(60_000);
        let outcome = agent.ingest_telemetry(&batch, later).unwrap();
        assert_eq!(
            matched(&outcome),
            [("domains", 0, "subdomain"), ("ip_addresses", 1, "exact")]
        );
        assert_eq!(outcome.alerts.len(), 2);
    }

    #[test]
    fn a_host_spelt_otherwise_than_the_window_stores_it_is_matched_as_spelt() {
        let dir = tempfile::tempdir().unwrap();
        let mut agent = open(&dir.path().join("agent.db"));
        agent.load_indicators("fixture", &fixture()).unwrap();
        // Stored as `update-cdn-service.com`; as written, the scan's rules match nothing
        // (one final dot is dropped, the name then ends with a dot).
        let outcome = agent
            .ingest_telemetry(&dns("update-cdn-service.com..", T0), T0)
            .unwrap();
        assert!(outcome.matches.is_empty());
        let at = T0.plus_millis(60_000);
        let outcome = agent
            .ingest_telemetry(&dns("update-cdn-service.com", at), at)
            .unwrap();
        assert_eq!(matched(&outcome), [("domains", 0, "exact")]);
        let at = T0.plus_millis(120_000);
        let outcome = agent
            .ingest_telemetry(&dns("Update-CDN-Service.com", at), at)
            .unwrap();
        assert_eq!(matched(&outcome), [("domains", 0, "exact")]);
    }

    #[test]
    fn a_stored_address_in_another_spelling_still_leaves_the_window() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("agent.db");
        let mut agent = open(&db);
        agent
            .store
            .commit_with_network(
                Commit::default(),
                NetworkWindowWrite {
                    logged: vec![(NetworkValue::Address, "0:0::7".into(), T0)],
                    ..NetworkWindowWrite::default()
                },
            )
            .unwrap();
        drop(agent);
        let mut agent = open(&db);
        let day = 24 * HOUR_MS;
        let at = T0.plus_millis(day);
        agent
            .ingest_telemetry(
                &TelemetryBatch {
                    events: vec![connect("::7", at)],
                },
                at,
            )
            .unwrap();
        assert_eq!(rows(&agent).len(), 2, "two spellings, two rows");
        let end = T0.plus_millis(7 * day + 1);
        agent
            .ingest_telemetry(&TelemetryBatch::default(), end)
            .unwrap();
        let left: Vec<String> = rows(&agent).into_iter().map(|(_, v, _)| v).collect();
        assert_eq!(left, ["::7"], "the odd spelling expired and was deleted");
    }

    #[test]
    fn batch_numbers_start_again_without_taking_old_entries_for_the_new_batch() {
        let mut window = WindowMirror::load(Vec::new(), &[None; NETWORK_PARTS as usize]);
        let address: IpAddr = "192.0.2.7".parse().unwrap();
        window.next_batch();
        window.sight_address(&address, 0, |_| {});
        assert_eq!(window.take_writes().len(), 1);
        window.pending.batch = u32::MAX;
        window.next_batch();
        assert_eq!(
            window.pending.batch, 1,
            "the number the entry was written in"
        );
        let later = NETWORK_SEEN_RESOLUTION_MS + 1;
        window.sight_address(&address, later, |_| {});
        let writes = window.take_writes().entries().unwrap();
        assert_eq!(writes.len(), 1, "a stale value is written again");
        assert_eq!(writes[0].2.as_unix_millis(), later);
    }
}
