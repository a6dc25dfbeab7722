//! Streaming matches equal a scan of the same events as an evidence snapshot: however
//! the events are split into batches, the indicator matches `ingest_telemetry` reports
//! are those an inspection finds in one snapshot of all the events, and those it finds in
//! the rolling window the agent kept.

use std::sync::Arc;

use portcullis_core::inspection::evidence::Contact;
use portcullis_core::inspection::{EvidenceSnapshot, IndicatorSet};
use portcullis_core::telemetry::{ConnectEvent, DnsEvent, TelemetryBatch, TelemetryEvent};
use portcullis_core::{Agent, DeviceKey, SoftwareDeviceKey, Timestamp};
use proptest::prelude::*;

const BUNDLE: &str = r#"{"type": "bundle", "id": "bundle--p", "objects": [
  {"type": "malware", "id": "malware--1", "name": "Spy", "is_family": true},
  {"type": "indicator", "id": "indicator--d1", "pattern_type": "stix", "pattern": "[domain-name:value='evil.example']"},
  {"type": "indicator", "id": "indicator--d2", "pattern_type": "stix", "pattern": "[domain-name:value='c2.bad.example']"},
  {"type": "indicator", "id": "indicator--i1", "pattern_type": "stix", "pattern": "[ipv4-addr:value='203.0.113.66']"},
  {"type": "indicator", "id": "indicator--i2", "pattern_type": "stix", "pattern": "[ipv6-addr:value='2001:db8::66']"},
  {"type": "relationship", "id": "relationship--1", "relationship_type": "indicates", "source_ref": "indicator--d1", "target_ref": "malware--1"}
]}"#;

const HOSTS: &[&str] = &[
    "evil.example",
    "WWW.Evil.Example.",
    "a.b.evil.example",
    "notevil.example",
    "c2.bad.example",
    "bad.example",
    "mail.example.org",
    "cdn.example.net",
];
const ADDRESSES: &[&str] = &[
    "203.0.113.66",
    "203.0.113.67",
    "2001:db8::66",
    "2001:db8:0:0::66",
    "192.0.2.1",
];
const T0: Timestamp = Timestamp::from_unix_millis(1_777_593_600_000);

fn device_key() -> Arc<dyn DeviceKey> {
    Arc::new(SoftwareDeviceKey::new(b"telemetry-props-secret").unwrap())
}

fn event() -> impl Strategy<Value = (bool, usize, Vec<usize>, usize, u8)> {
    (
        any::<bool>(),
        0..HOSTS.len(),
        prop::collection::vec(0..ADDRESSES.len(), 0..3),
        0..ADDRESSES.len(),
        0u8..4,
    )
}

fn build(specs: &[(bool, usize, Vec<usize>, usize, u8)]) -> Vec<TelemetryEvent> {
    specs
        .iter()
        .enumerate()
        .map(|(i, (dns, host, addrs, addr, pkg))| {
            let at = T0.plus_millis(i as i64 * 1_000);
            let package = format!("com.example.p{pkg}");
            if *dns {
                TelemetryEvent::Dns(DnsEvent {
                    at,
                    package,
                    host: HOSTS[*host].into(),
                    addresses: addrs
                        .iter()
                        .map(|a| ADDRESSES[*a].parse().unwrap())
                        .collect(),
                })
            } else {
                TelemetryEvent::Connect(ConnectEvent {
                    at,
                    package,
                    address: ADDRESSES[*addr].parse().unwrap(),
                    port: 443,
                })
            }
        })
        .collect()
}

/// The snapshot an inspection would get from a log of these events, built by hand.
fn snapshot(events: &[TelemetryEvent]) -> EvidenceSnapshot {
    let mut snapshot = EvidenceSnapshot {
        version: 1,
        ..EvidenceSnapshot::default()
    };
    let contact = |value: String| Contact {
        value,
        ..Contact::default()
    };
    for e in events {
        match e {
            TelemetryEvent::Dns(d) => {
                snapshot.domains.push(contact(d.host.clone()));
                for a in &d.addresses {
                    snapshot.ip_addresses.push(contact(a.to_string()));
                }
            }
            TelemetryEvent::Connect(c) => {
                snapshot.ip_addresses.push(contact(c.address.to_string()));
            }
            TelemetryEvent::Security(_) => {}
        }
    }
    snapshot
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn streaming_matches_equal_a_snapshot_scan(
        specs in prop::collection::vec(event(), 1..60),
        cuts in prop::collection::vec(1usize..20, 1..8),
    ) {
        let events = build(&specs);
        let mut agent = Agent::open_in_memory(device_key(), T0, [3; 32]).unwrap();
        agent.load_indicators("props", BUNDLE).unwrap();
        let mut streamed = Vec::new();
        let mut rest: &[TelemetryEvent] = &events;
        let mut cut = cuts.iter().cycle();
        while !rest.is_empty() {
            let n = (*cut.next().unwrap()).min(rest.len());
            let (batch, tail) = rest.split_at(n);
            rest = tail;
            let now = batch.last().unwrap().at();
            let outcome = agent
                .ingest_telemetry(&TelemetryBatch { events: batch.to_vec() }, now)
                .unwrap();
            for m in outcome.matches {
                streamed.push((
                    m.finding.indicator_id,
                    m.finding.evidence.section,
                    m.finding.evidence.value,
                    m.finding.matched.as_str(),
                ));
            }
        }
        let mut set = IndicatorSet::new();
        set.load_stix2("props", BUNDLE).unwrap();
        let mut scanned: Vec<_> = set
            .scan(&snapshot(&events))
            .findings
            .into_iter()
            .map(|f| (f.indicator_id, f.evidence.section, f.evidence.value, f.matched.as_str()))
            .collect();
        streamed.sort();
        scanned.sort();
        prop_assert_eq!(&streamed, &scanned);

        // The rolling window holds each value once: it finds the same indicators.
        let end = events.last().unwrap().at();
        let window = agent.network_window_evidence(end).unwrap();
        let mut from_window: Vec<_> = set
            .scan(&window)
            .findings
            .into_iter()
            .map(|f| f.indicator_id)
            .collect();
        from_window.sort();
        from_window.dedup();
        let mut distinct: Vec<_> = streamed.into_iter().map(|m| m.0).collect();
        distinct.dedup();
        prop_assert_eq!(from_window, distinct);
    }
}
