//! The telemetry scenario of tests/scenarios/telemetry-day.json: a day of network and
//! security-log events, generated deterministically from the file, ingested in Android's
//! batch size against the shipped indicator collections. Exactly the expected alerts,
//! at the times of their events; the same when the agent is reopened after every batch.

mod policy_support;
#[path = "../benches/support/shipped_indicators.rs"]
mod shipped_indicators;

use std::path::Path;
use std::sync::Arc;

use policy_support::{device, key, payload, repo, standard_root, DAY, T0};
use portcullis_core::inspection::{IndicatorSet, Observable};
use portcullis_core::telemetry::{
    ConnectEvent, DnsEvent, SecurityEvent, TelemetryBatch, TelemetryEvent,
};
use portcullis_core::{Agent, AlertKind, DeviceKey, SoftwareDeviceKey, Timestamp};
use serde_json::Value;
use shipped_indicators::{collections, indicators_dir};

fn device_key() -> Arc<dyn DeviceKey> {
    Arc::new(SoftwareDeviceKey::new(b"telemetry-scenario-secret").unwrap())
}

fn load_all(agent: &mut Agent) {
    for (name, json) in collections() {
        agent.load_indicators(&name, &json).unwrap();
    }
}

/// The first domain indicator of a shipped collection.
fn first_domain(collection: &str) -> String {
    let json = std::fs::read_to_string(indicators_dir().join(collection)).unwrap();
    let mut set = IndicatorSet::new();
    set.load_stix2(collection, &json).unwrap();
    set.indicators()
        .iter()
        .find_map(|i| match &i.observable {
            Observable::Domain(d) => Some(d.clone()),
            _ => None,
        })
        .expect("the collection has a domain indicator")
}

fn time(v: &Value) -> Timestamp {
    Timestamp::parse_rfc3339(v.as_str().unwrap()).unwrap()
}

fn package(n: u64) -> String {
    format!("com.example.app{n:02}")
}

struct Scenario {
    batches: Vec<TelemetryBatch>,
    expected: Vec<(AlertKind, Timestamp, Option<String>)>,
}

/// Generates the day from the spec: a seeded linear congruential generator picks each
/// event's package, family, host and address from test-only names and ranges.
fn scenario() -> Scenario {
    let spec: Value = serde_json::from_str(
        &std::fs::read_to_string(repo("tests/scenarios/telemetry-day.json")).unwrap(),
    )
    .unwrap();
    let start = time(&spec["start"]);
    let count = spec["network_events"].as_u64().unwrap() as usize;
    let spacing = spec["spacing_ms"].as_i64().unwrap();
    let packages = spec["packages"].as_u64().unwrap();
    let mut state = spec["seed"].as_u64().unwrap();
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        state >> 33
    };
    let mut events: Vec<TelemetryEvent> = (0..count)
        .map(|i| {
            let at = start.plus_millis(i as i64 * spacing);
            let r = next();
            let pkg = package(r % packages);
            if (r >> 7) % 2 == 0 {
                TelemetryEvent::Dns(DnsEvent {
                    at,
                    package: pkg,
                    host: format!("h{}.svc{}.example.com", (r >> 9) % 400, r % packages),
                    addresses: vec![format!("192.0.2.{}", (r >> 17) % 250).parse().unwrap()],
                })
            } else {
                TelemetryEvent::Connect(ConnectEvent {
                    at,
                    package: pkg,
                    address: format!("198.51.100.{}", (r >> 17) % 250).parse().unwrap(),
                    port: 443,
                })
            }
        })
        .collect();
    for lookup in spec["indicator_lookups"].as_array().unwrap() {
        let i = lookup["event"].as_u64().unwrap() as usize;
        let domain = first_domain(lookup["collection"].as_str().unwrap());
        let host = match lookup["subdomain"].as_str() {
            Some(sub) => format!("{sub}.{domain}"),
            None => domain,
        };
        events[i] = TelemetryEvent::Dns(DnsEvent {
            at: events[i].at(),
            package: package(lookup["package"].as_u64().unwrap()),
            host,
            addresses: vec!["203.0.113.7".parse().unwrap()],
        });
    }
    for s in spec["security_events"].as_array().unwrap() {
        let event: SecurityEvent = serde_json::from_value(s.clone()).unwrap();
        let pos = events.partition_point(|e| e.at() <= event.at);
        events.insert(pos, TelemetryEvent::Security(event));
    }
    let size = spec["batch_size"].as_u64().unwrap() as usize;
    let batches = events
        .chunks(size)
        .map(|c| TelemetryBatch { events: c.to_vec() })
        .collect();
    let expected = spec["expected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap().parse().unwrap(),
                time(&e["at"]),
                e["package"].as_u64().map(package),
            )
        })
        .collect();
    Scenario { batches, expected }
}

fn batch_now(batch: &TelemetryBatch) -> Timestamp {
    batch.events.last().unwrap().at().plus_millis(60_000)
}

fn summarise(alerts: &[portcullis_core::Alert]) -> Vec<(AlertKind, Timestamp, Option<String>)> {
    alerts
        .iter()
        .map(|a| {
            let package = a
                .finding
                .evidence
                .iter()
                .find(|(k, _)| k == "package")
                .map(|(_, v)| v.clone());
            (a.finding.kind, a.finding.at, package)
        })
        .collect()
}

#[test]
fn a_day_of_telemetry_raises_exactly_the_expected_alerts_at_the_event_times() {
    let scenario = scenario();
    let events: usize = scenario.batches.iter().map(|b| b.events.len()).sum();
    assert_eq!(events, 50_004);
    let start = scenario.batches[0].events[0].at();

    // Continuously, on one agent.
    let dir = tempfile::tempdir().unwrap();
    let mut agent = Agent::open(&dir.path().join("a.db"), device_key(), start, [1; 32]).unwrap();
    load_all(&mut agent);
    let mut alerts = Vec::new();
    let mut matches = 0;
    for batch in &scenario.batches {
        let outcome = agent.ingest_telemetry(batch, batch_now(batch)).unwrap();
        matches += outcome.matches.len();
        alerts.extend(outcome.alerts);
    }
    assert_eq!(summarise(&alerts), scenario.expected);
    assert_eq!(matches, 3);
    for alert in alerts
        .iter()
        .filter(|a| a.finding.kind == AlertKind::IndicatorMatch)
    {
        let field = |k: &str| {
            alert
                .finding
                .evidence
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        assert!(field("indicator").starts_with("indicator--"), "{alert:?}");
        assert!(!field("malware").is_empty(), "{alert:?}");
        assert_eq!(field("source"), "network_log");
    }
    let verdict = agent.verify_journal(Default::default()).unwrap();
    assert!(
        matches!(verdict, portcullis_core::journal::Verdict::Intact { .. }),
        "{verdict:?}"
    );

    // Reopened from its database after every batch: the same alerts.
    let db = dir.path().join("b.db");
    let mut reopened = Vec::new();
    for batch in &scenario.batches {
        let mut agent = Agent::open(&db, device_key(), start, [1; 32]).unwrap();
        load_all(&mut agent);
        reopened.extend(
            agent
                .ingest_telemetry(batch, batch_now(batch))
                .unwrap()
                .alerts,
        );
    }
    assert_eq!(summarise(&reopened), scenario.expected);
}

#[test]
fn the_window_keeps_distinct_values_pruned_to_the_policy_length() {
    let scenario = scenario();
    let start = scenario.batches[0].events[0].at();
    let mut agent = Agent::open_in_memory(device_key(), start, [1; 32]).unwrap();
    for batch in &scenario.batches {
        agent.ingest_telemetry(batch, batch_now(batch)).unwrap();
    }
    let end = batch_now(scenario.batches.last().unwrap());
    let window = agent.network_window_evidence(end).unwrap();
    // 80 packages x 400 host names at most, plus the three indicator lookups; one row per
    // distinct value however often it was seen.
    assert!(window.domains.len() <= 32_003, "{}", window.domains.len());
    assert!(window.ip_addresses.len() <= 501);
    assert!(window
        .domains
        .iter()
        .all(|c| c.source.as_deref() == Some("network_log")));
    // Eight days later, one more (empty) batch prunes everything older than seven days.
    let later = end.plus_millis(8 * DAY);
    agent
        .ingest_telemetry(&TelemetryBatch::default(), later)
        .unwrap();
    let pruned = agent.network_window_evidence(later).unwrap();
    assert!(pruned.domains.is_empty() && pruned.ip_addresses.is_empty());
}

#[test]
fn a_match_brings_the_next_inspection_forward_and_scheduled_inspections_scan_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let mut agent = Agent::open(&dir.path().join("a.db"), device_key(), T0, [8; 32]).unwrap();
    let root = standard_root(1).sign(&[&key(1), &key(2)]).unwrap();
    agent.install_trust_root(&root, device(), T0).unwrap();
    agent
        .apply_policy(&payload(1).sign(&[&key(10)]).unwrap(), T0.plus_millis(DAY))
        .unwrap();
    load_all(&mut agent);
    let now = T0.plus_millis(DAY + 60_000);
    // The phone is up to date: the re-read due since enrollment is done, so the next
    // wake-up is the next re-read or window, whichever comes first.
    agent.wake(now, None).unwrap();
    let before = agent.next_wakeup().unwrap();
    assert!(before > now, "{before}");
    let domain = first_domain("predator.stix2");
    let batch = TelemetryBatch {
        events: vec![TelemetryEvent::Dns(DnsEvent {
            at: now,
            package: "com.example.browser".into(),
            host: domain.clone(),
            addresses: Vec::new(),
        })],
    };
    let outcome = agent.ingest_telemetry(&batch, now).unwrap();
    assert_eq!(outcome.alerts.len(), 1);
    assert_eq!(outcome.alerts[0].finding.kind, AlertKind::IndicatorMatch);
    let after = agent.next_wakeup().unwrap();
    assert!(
        after < before && after <= now.plus_millis(60 * 60_000),
        "{before} -> {after}"
    );

    // The scheduled inspection scans the window as `network_log` evidence.
    let receipt = agent
        .submit_inspection(None, r#"{"version": 1}"#, now.plus_millis(60_000))
        .unwrap();
    assert_eq!(receipt.findings, 1);
    assert!(receipt.report_json.contains("network_log") || receipt.report_json.contains(&domain));
}

#[test]
fn the_policy_turns_the_logs_on_and_its_telemetry_fields_are_checked() {
    let text = std::fs::read_to_string(repo("policies/election-sensitive.json")).unwrap();
    let policy = portcullis_core::policy::Policy::from_json(text.as_bytes()).unwrap();
    assert!(policy.telemetry.network_logging && policy.telemetry.security_logging);
    assert_eq!(policy.telemetry.network_window_days, 7);
    let baseline = std::fs::read_to_string(repo("policies/baseline.json")).unwrap();
    let baseline = portcullis_core::policy::Policy::from_json(baseline.as_bytes()).unwrap();
    assert!(!baseline.telemetry.network_logging);

    let mut doc: Value = serde_json::from_str(&text).unwrap();
    let cases = [
        (
            serde_json::json!({"networkWindowDays": 0}),
            "telemetry.networkWindowDays",
        ),
        (
            serde_json::json!({"keyguardFailures": 1}),
            "telemetry.keyguardFailures",
        ),
        (
            serde_json::json!({"adbMaintenanceWindows": [
                {"from": "2026-05-01T10:00:00Z", "until": "2026-05-01T09:00:00Z"}]}),
            "telemetry.adbMaintenanceWindows[0].until",
        ),
        (
            serde_json::json!({"adbMaintenanceWindows": [{"from": "soon", "until": "later"}]}),
            "telemetry.adbMaintenanceWindows[0].from",
        ),
    ];
    for (telemetry, field) in cases {
        doc["telemetry"] = telemetry;
        let err =
            portcullis_core::policy::Policy::from_json(doc.to_string().as_bytes()).unwrap_err();
        assert!(
            matches!(
                &err,
                portcullis_core::Error::Policy(portcullis_core::policy::PolicyError::InvalidPolicy { path, .. })
                    if path == field
            ),
            "{err}"
        );
    }
}

#[test]
fn adb_use_inside_the_policy_maintenance_window_raises_nothing() {
    let mut rules = portcullis_core::policy::TelemetryRules::default();
    rules
        .adb_maintenance_windows
        .push(portcullis_core::policy::MaintenanceWindow {
            from: "2026-05-01T09:00:00Z".into(),
            until: "2026-05-01T10:00:00Z".into(),
        });
    let inside = Timestamp::parse_rfc3339("2026-05-01T09:30:00Z").unwrap();
    let after = Timestamp::parse_rfc3339("2026-05-01T10:00:00Z").unwrap();
    assert!(rules.adb_authorised_at(inside));
    assert!(!rules.adb_authorised_at(after));
}

#[test]
fn the_ocsf_export_gives_the_matched_dns_and_network_events_linked_from_their_findings() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("phone.db");
    let mut agent = Agent::open(&db, device_key(), T0, [2; 32]).unwrap();
    load_all(&mut agent);
    let domain = first_domain("candiru.stix2");
    let address = "203.0.113.66".parse().unwrap();
    agent
        .load_indicators(
            "unit",
            r#"{"type": "bundle", "objects": [{"type": "indicator", "id": "indicator--ip",
                "pattern_type": "stix", "pattern": "[ipv4-addr:value='203.0.113.66']"}]}"#,
        )
        .unwrap();
    let batch = TelemetryBatch {
        events: vec![
            TelemetryEvent::Dns(DnsEvent {
                at: T0.plus_millis(1_000),
                package: "com.example.game".into(),
                host: domain.clone(),
                addresses: vec!["192.0.2.5".parse().unwrap()],
            }),
            TelemetryEvent::Connect(ConnectEvent {
                at: T0.plus_millis(2_000),
                package: "com.example.game".into(),
                address,
                port: 8443,
            }),
        ],
    };
    assert_eq!(
        agent
            .ingest_telemetry(&batch, T0.plus_millis(3_000))
            .unwrap()
            .alerts
            .len(),
        2
    );
    drop(agent);
    let store = portcullis_core::store::Store::open_read_only(&db).unwrap();
    let mut events = Vec::new();
    for r in store.journal_records().unwrap() {
        events.extend(
            portcullis_core::journal::record_ocsf_events(
                &r,
                &portcullis_core::journal::OcsfDevice::enrolled("phone"),
            )
            .unwrap(),
        );
    }
    let classes: Vec<u64> = events
        .iter()
        .map(|e| e["class_uid"].as_u64().unwrap())
        .collect();
    assert_eq!(classes, [4003, 2004, 4001, 2004]);
    if let Some(dir) = std::env::var_os("PORTCULLIS_OCSF_DUMP") {
        // scripts/ocsf-tests.sh validates these against the OCSF schema.
        let lines: String = events.iter().map(|e| format!("{e}\n")).collect();
        std::fs::write(Path::new(&dir).join("core-telemetry-events.jsonl"), lines).unwrap();
    }
    assert_eq!(events[0]["query"]["hostname"], domain.as_str());
    assert_eq!(events[0]["answers"][0]["rdata"], "192.0.2.5");
    assert_eq!(events[0]["actor"]["process"]["name"], "com.example.game");
    assert_eq!(events[2]["dst_endpoint"]["port"], 8443);
    assert_eq!(events[2]["dst_endpoint"]["ip"], "203.0.113.66");
    for (activity, finding) in [(&events[0], &events[1]), (&events[2], &events[3])] {
        assert_eq!(
            finding["finding_info"]["related_events"][0]["uid"],
            activity["metadata"]["uid"]
        );
        assert_eq!(activity["time"], finding["time"]);
    }
}

#[test]
fn the_network_log_reads_with_the_parts_newest_time_first_and_pruning_drops_old_records() {
    use portcullis_core::store::internals::StoreWrites;
    use portcullis_core::store::{
        Commit, NetworkLogRecord, NetworkValue, NetworkWindowWrite, Store,
    };
    let mut store = Store::open_in_memory().unwrap();
    store.set_journal_key(portcullis_core::journal::EpochKey::initial([4; 32]));
    let host = |v: &str, at: Timestamp| (NetworkValue::Host, v.to_owned(), at);
    let t1 = T0.plus_millis(DAY);
    let t2 = T0.plus_millis(2 * DAY);
    let mut part = NetworkLogRecord::default();
    part.push(NetworkValue::Host, "a.example", T0);
    part.push(NetworkValue::Host, "b.example", T0);
    let write = |store: &mut Store, network: NetworkWindowWrite| {
        store
            .commit_with_network(Commit::default(), network)
            .unwrap();
    };
    write(
        &mut store,
        NetworkWindowWrite {
            parts: vec![(3, part)],
            ..NetworkWindowWrite::default()
        },
    );
    for logged in [
        vec![host("a.example", t1), host("c.example", T0)],
        vec![host("a.example", t2)],
    ] {
        write(
            &mut store,
            NetworkWindowWrite {
                logged,
                ..NetworkWindowWrite::default()
            },
        );
    }
    assert_eq!(store.network_log_entries().unwrap(), 3);
    let expected = vec![
        host("b.example", T0),
        host("c.example", T0),
        host("a.example", t2),
    ];
    assert_eq!(store.network_window(Timestamp::EPOCH).unwrap(), expected);
    assert_eq!(
        store.network_window(t1).unwrap(),
        [host("a.example", t2)],
        "the newest time per value decides"
    );
    // Pruning drops the log records wholly before the cutoff; the part's values are the
    // caller's to drop when it rewrites the part, and reads after the cutoff skip them.
    write(
        &mut store,
        NetworkWindowWrite {
            prune_before: Some(T0.plus_millis(1)),
            ..NetworkWindowWrite::default()
        },
    );
    assert_eq!(
        store.network_log_entries().unwrap(),
        3,
        "both records hold a newer entry"
    );
    write(
        &mut store,
        NetworkWindowWrite {
            prune_before: Some(t2),
            ..NetworkWindowWrite::default()
        },
    );
    assert_eq!(store.network_log_entries().unwrap(), 1);
    assert_eq!(
        store.network_window(Timestamp::EPOCH).unwrap(),
        [host("b.example", T0), host("a.example", t2)],
        "c's only record was before the cutoff; the part is as written"
    );
}
