//! The rolling network window as inspections read it, after any run of ingests, restarts
//! and gaps: each value seen inside the window appears once, at most the store's
//! resolution older than its last sighting, and none that left the window appears.
//! Gaps longer than a part's rewrite interval and restarts (the window rebuilt from the
//! store) exercise the stored parts and the log together.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use portcullis_core::store::NETWORK_SEEN_RESOLUTION_MS;
use portcullis_core::telemetry::{ConnectEvent, DnsEvent, TelemetryBatch, TelemetryEvent};
use portcullis_core::{Agent, DeviceKey, SoftwareDeviceKey, Timestamp};
use proptest::prelude::*;

const HOUR: i64 = 60 * 60 * 1000;
const WINDOW: i64 = 7 * 24 * HOUR;
const T0: Timestamp = Timestamp::from_unix_millis(1_777_593_600_000);
const HOSTS: &[&str] = &[
    "a.example",
    "b.example",
    "mail.example.org",
    "cdn.example.net",
    "x.y.example.com",
];
const ADDRESSES: &[&str] = &["192.0.2.1", "192.0.2.2", "2001:db8::7", "198.51.100.9"];

fn device_key() -> Arc<dyn DeviceKey> {
    Arc::new(SoftwareDeviceKey::new(b"telemetry-window-props").unwrap())
}

/// A step: how far the clock moves, whether the agent restarts first, and the batch's
/// events as (DNS or connect, host, address, how long before the step's time).
type Step = (i64, bool, Vec<(bool, usize, usize, i64)>);

fn step() -> impl Strategy<Value = Step> {
    (
        prop_oneof![Just(0), 1..HOUR, HOUR..13 * HOUR, 13 * HOUR..3 * 24 * HOUR,],
        prop::bool::weighted(0.15),
        prop::collection::vec(
            (
                any::<bool>(),
                0..HOSTS.len(),
                0..ADDRESSES.len(),
                prop_oneof![0..HOUR, 0..9 * 24 * HOUR],
            ),
            0..12,
        ),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn the_window_holds_each_value_seen_in_it_once_near_its_last_sighting(
        steps in prop::collection::vec(step(), 1..40),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.db");
        let mut agent = Agent::open(&path, device_key(), T0, [8; 32]).unwrap();
        // Value (kind, text) -> its last sighting inside the window when sighted.
        let mut last: BTreeMap<(bool, String), i64> = BTreeMap::new();
        let mut now = T0;
        for (advance, restart, specs) in steps {
            now = now.plus_millis(advance);
            if restart {
                drop(agent);
                agent = Agent::open(&path, device_key(), now, [8; 32]).unwrap();
            }
            let cutoff = now.as_unix_millis() - WINDOW;
            let mut events = Vec::new();
            for (dns, host, address, ago) in specs {
                let at = now.plus_millis(-ago);
                let address: IpAddr = ADDRESSES[address].parse().unwrap();
                let mut sighted = |host: bool, value: String| {
                    if at.as_unix_millis() >= cutoff {
                        let slot = last.entry((host, value)).or_insert(i64::MIN);
                        *slot = (*slot).max(at.as_unix_millis());
                    }
                };
                sighted(false, address.to_string());
                events.push(if dns {
                    sighted(true, HOSTS[host].to_owned());
                    TelemetryEvent::Dns(DnsEvent {
                        at,
                        package: "com.example.app".into(),
                        host: HOSTS[host].into(),
                        addresses: vec![address],
                    })
                } else {
                    TelemetryEvent::Connect(ConnectEvent {
                        at,
                        package: "com.example.app".into(),
                        address,
                        port: 443,
                    })
                });
            }
            agent.ingest_telemetry(&TelemetryBatch { events }, now).unwrap();

            let window = agent.network_window_evidence(now).unwrap();
            let mut read = BTreeMap::new();
            for (host, contacts) in [(true, &window.domains), (false, &window.ip_addresses)] {
                for c in contacts {
                    let at = c.seen_at.expect("a window value has its time").as_unix_millis();
                    let previous = read.insert((host, c.value.clone()), at);
                    prop_assert!(previous.is_none(), "{} read twice", c.value);
                }
            }
            for (value, at) in &read {
                let seen = last.get(value).copied();
                prop_assert!(seen.is_some(), "{:?} was never seen in the window", value);
                let seen = seen.unwrap();
                prop_assert!(*at >= cutoff, "{:?} left the window", value);
                prop_assert!(*at <= seen, "{:?} is later than its last sighting", value);
                prop_assert!(
                    *at >= seen - NETWORK_SEEN_RESOLUTION_MS,
                    "{:?} is stored more than the resolution before its last sighting",
                    value
                );
            }
            for (value, seen) in &last {
                if *seen >= cutoff + NETWORK_SEEN_RESOLUTION_MS {
                    prop_assert!(read.contains_key(value), "{:?} is missing", value);
                }
            }
        }
    }
}
