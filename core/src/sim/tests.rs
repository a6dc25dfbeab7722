//! The guard's own edges, below what the scenario traces reach: input refused before it
//! touches state, redaction of raw identifiers, and the detector registry.

use super::*;
use crate::alert::AlertKind;
use crate::error::Error;
use crate::identity::SoftwareDeviceKey;
use crate::sim::observation::MAX_CARRIER_NAME_BYTES;

/// 2026-03-01T00:00:00Z.
const T0: Timestamp = Timestamp::from_unix_millis(1_772_323_200_000);
const ISSUED: &str = "8944110012345678901";

fn hasher() -> IdentityHasher {
    IdentityHasher::derive(&SoftwareDeviceKey::new(b"sim-unit-test-secret").unwrap()).unwrap()
}

fn ready(slot: u8, iccid: &str) -> SimObservation {
    SimObservation {
        slot,
        state: Some(SimState::Ready),
        iccid: Some(iccid.into()),
        ..SimObservation::default()
    }
}

fn service(slot: u8, state: ServiceState) -> SimEvent {
    SimEvent::Service(ServiceObservation {
        slot,
        state,
        roaming: None,
        rat: None,
    })
}

/// The field an [`Error::InvalidInput`] names; any other error fails the test.
fn refused_field(result: Result<()>) -> String {
    match result {
        Err(Error::InvalidInput { field, .. }) => field.into_owned(),
        Err(other) => panic!("expected an input refusal, got {other}"),
        Ok(()) => panic!("the malformed input was accepted"),
    }
}

/// A guard with a baseline SIM in slot 0, Wi-Fi up and service lost at `T0`: a port-out
/// deadline is armed for `T0` plus the policy's window.
fn guard_with_outage(h: &IdentityHasher) -> SimGuard {
    let mut guard = SimGuard::new(T0, SimPolicy::default());
    let mut out = Vec::new();
    for event in [
        SimEvent::Sim(ready(0, ISSUED)),
        SimEvent::Connectivity(Connectivity {
            wifi: true,
            cellular_data: false,
            airplane_mode: false,
        }),
        service(0, ServiceState::OutOfService),
    ] {
        guard.handle(&event, T0, h, &mut out).unwrap();
    }
    assert!(out.is_empty(), "nothing is raised yet: {out:?}");
    assert_eq!(
        guard.next_deadline(),
        Some(T0.plus_millis(SimPolicy::default().port_out_window_ms))
    );
    guard
}

#[test]
fn malformed_readings_are_refused_by_field_and_change_nothing() {
    let h = hasher();
    let mut guard = guard_with_outage(&h);
    let before = serde_json::to_string(&guard).unwrap();
    let cases: Vec<(SimEvent, &str)> = vec![
        (SimEvent::Sim(ready(MAX_SLOT + 1, ISSUED)), "sim.slot"),
        (
            SimEvent::Sim(SimObservation {
                state: None,
                ..ready(0, ISSUED)
            }),
            "sim.state",
        ),
        (
            SimEvent::Sim(SimObservation {
                mcc_mnc: Some("2341".into()),
                ..ready(0, ISSUED)
            }),
            "sim.mcc_mnc",
        ),
        (
            SimEvent::Sim(SimObservation {
                mcc_mnc: Some("23415a".into()),
                ..ready(0, ISSUED)
            }),
            "sim.mcc_mnc",
        ),
        (
            SimEvent::Sim(SimObservation {
                carrier_name: Some("x".repeat(MAX_CARRIER_NAME_BYTES + 1)),
                ..ready(0, ISSUED)
            }),
            "sim.carrier_name",
        ),
        (SimEvent::Sim(ready(0, "89441100123")), "iccid"),
        (
            SimEvent::Sim(SimObservation {
                imsi: Some("23415x".into()),
                ..ready(0, ISSUED)
            }),
            "imsi",
        ),
        (
            service(MAX_SLOT + 1, ServiceState::InService),
            "service.slot",
        ),
    ];
    // Long after the port-out deadline: a refused step must not fire it either.
    let late = T0.plus_millis(60 * MINUTE_MS);
    for (event, field) in cases {
        let mut out = Vec::new();
        assert_eq!(
            refused_field(guard.handle(&event, late, &h, &mut out)),
            field
        );
        assert!(out.is_empty(), "{field}: a refused input raised {out:?}");
        assert_eq!(
            serde_json::to_string(&guard).unwrap(),
            before,
            "{field}: the guard changed"
        );
    }
    // The deadline is still armed and fires when time is let pass.
    let mut out = Vec::new();
    guard.handle_timeout(late, &mut out);
    assert_eq!(
        out.iter().map(|f| f.kind).collect::<Vec<_>>(),
        [AlertKind::PortOutSuspected]
    );
}

#[test]
fn the_limits_themselves_are_accepted() {
    let h = hasher();
    let mut guard = SimGuard::new(T0, SimPolicy::default());
    let mut out = Vec::new();
    let edge = SimObservation {
        mcc_mnc: Some("310260".into()),
        carrier_name: Some("x".repeat(MAX_CARRIER_NAME_BYTES)),
        ..ready(MAX_SLOT, ISSUED)
    };
    guard
        .handle(&SimEvent::Sim(edge), T0, &h, &mut out)
        .unwrap();
    guard
        .handle(
            &service(MAX_SLOT, ServiceState::InService),
            T0,
            &h,
            &mut out,
        )
        .unwrap();
    let slot = &guard.facts().slots[&MAX_SLOT];
    assert_eq!(slot.sim_state, Some(SimState::Ready));
    assert_eq!(slot.service, Some(ServiceState::InService));
    assert!(slot.baseline.is_some(), "the first SIM became the baseline");
}

#[test]
fn a_carrier_name_is_cut_at_a_character_boundary_below_the_limit() {
    // Three bytes a character: 256 falls inside the 86th, so 85 whole ones remain.
    let cut = SimObservation {
        carrier_name: Some("\u{20AC}".repeat(100)),
        ..ready(0, ISSUED)
    }
    .normalized();
    let name = cut.carrier_name.clone().unwrap();
    assert_eq!(name, "\u{20AC}".repeat(85));
    assert_eq!(name.len(), 255);
    SimEvent::Sim(cut).validate().unwrap();
}

#[test]
fn debug_output_never_shows_an_identifier() {
    let obs = SimObservation {
        imsi: Some("234150123456789".into()),
        msisdn: Some("+447700900123".into()),
        mcc_mnc: Some("23415".into()),
        ..ready(1, ISSUED)
    };
    let shown = format!("{obs:?}");
    for secret in [ISSUED, "234150123456789", "+447700900123", "7700900123"] {
        assert!(!shown.contains(secret), "{shown}");
    }
    assert_eq!(shown.matches("<redacted>").count(), 3, "{shown}");
    assert!(
        shown.contains("23415"),
        "the home network is not an identifier"
    );
    let event = format!("{:?}", SimEvent::Sim(obs));
    assert!(!event.contains(ISSUED), "{event}");
}

#[test]
fn the_guard_lists_its_five_detectors_with_their_alert_kinds() {
    let guard = SimGuard::new(T0, SimPolicy::default());
    let detectors = guard.detectors();
    let mut names: Vec<&str> = detectors.iter().map(|d| d.name).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "carrier_check",
            "port_out",
            "radio_2g",
            "sim_identity",
            "sim_presence"
        ]
    );
    assert!(detectors
        .iter()
        .all(|d| d.version >= 1 && !d.kinds.is_empty()));
    let port_out = detectors.iter().find(|d| d.name == "port_out").unwrap();
    assert_eq!(port_out.kinds, [AlertKind::PortOutSuspected]);
    // No alert kind belongs to two detectors.
    let mut kinds: Vec<AlertKind> = detectors.iter().flat_map(|d| d.kinds.to_vec()).collect();
    let all = kinds.len();
    kinds.sort_by_key(std::string::ToString::to_string);
    kinds.dedup();
    assert_eq!(kinds.len(), all);
}

#[test]
fn radio_names_are_distinct_and_only_2g_technologies_count_as_2g() {
    let all = [
        Rat::Nr,
        Rat::Lte,
        Rat::Umts,
        Rat::Hspa,
        Rat::Gsm,
        Rat::Gprs,
        Rat::Edge,
        Rat::Cdma,
        Rat::OneXRtt,
        Rat::Unknown,
    ];
    let mut names: Vec<&str> = all.iter().map(|r| r.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), all.len());
    let two_g: Vec<&str> = all
        .iter()
        .filter(|r| r.is_2g())
        .map(|r| r.as_str())
        .collect();
    assert_eq!(two_g, ["gsm", "gprs", "edge", "cdma", "1xrtt"]);
}
