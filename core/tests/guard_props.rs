//! Property tests of the SIM guard over random observation sequences.

use portcullis_core::alert::Finding;
use portcullis_core::identity::{IdentityHasher, IdentityKind, PinnedIdentity, SoftwareDeviceKey};
use portcullis_core::policy::PinKey;
use portcullis_core::sim::{
    CarrierApi, CarrierResult, CarrierVerdict, Connectivity, ConsoleInput, ExpectedSim, Rat,
    ServiceObservation, ServiceState, SimChangeWindow, SimEvent, SimGuard, SimObservation, SimPins,
    SimPolicy, SimState,
};
use portcullis_core::Timestamp;
use proptest::prelude::*;

const ICCIDS: [&str; 3] = [
    "8944110012345678901",
    "8944200098765432109",
    "8933150000000000017",
];
const IMSIS: [&str; 3] = ["234150123456789", "234209876543210", "208150000000001"];
const NUMBERS: [&str; 3] = ["+447700900123", "+447700900999", "+33612345678"];

fn sim_state() -> impl Strategy<Value = SimState> {
    prop_oneof![
        Just(SimState::Absent),
        Just(SimState::NotReady),
        Just(SimState::Locked),
        Just(SimState::Ready),
        Just(SimState::Error),
    ]
}

fn service_state() -> impl Strategy<Value = ServiceState> {
    prop_oneof![
        Just(ServiceState::InService),
        Just(ServiceState::OutOfService),
        Just(ServiceState::EmergencyOnly),
        Just(ServiceState::PowerOff),
    ]
}

fn rat() -> impl Strategy<Value = Option<Rat>> {
    prop::option::of(prop_oneof![
        Just(Rat::Lte),
        Just(Rat::Nr),
        Just(Rat::Gsm),
        Just(Rat::Edge)
    ])
}

/// An observation, or a console decision a verified instruction carries.
#[derive(Debug, Clone)]
enum Input {
    Observe(SimEvent),
    Console(ConsoleInput),
}

fn pin_key() -> PinKey {
    let device = SoftwareDeviceKey::new(b"property-test-secret").unwrap();
    PinKey::new(&PinKey::derive(&device).unwrap())
}

fn event() -> impl Strategy<Value = Input> {
    let observation = observation().prop_map(Input::Observe);
    let console = prop_oneof![
        (
            0usize..4,
            any::<bool>(),
            prop::option::of(0i64..1_000),
            any::<bool>()
        )
            .prop_map(|(n, swapped, mins, device_swap)| ConsoleInput::Carrier(
                CarrierResult {
                    instruction_id: "i".into(),
                    api: if device_swap {
                        CarrierApi::DeviceSwap
                    } else {
                        CarrierApi::SimSwap
                    },
                    line: NUMBERS
                        .get(n)
                        .map(|number| pin_key().pin(IdentityKind::PhoneNumber, number).unwrap()),
                    checked_at: Timestamp::from_unix_millis(1_772_000_000_000 + 1_000 * 60_000),
                    period_start: None,
                    verdict: if swapped {
                        CarrierVerdict::Changed {
                            at: mins.map(|m| {
                                Timestamp::from_unix_millis(1_772_000_000_000 + m * 60_000)
                            }),
                        }
                    } else {
                        CarrierVerdict::NoChange
                    },
                }
            )),
        (0i64..300, prop::option::of(0u8..2), any::<bool>()).prop_map(|(m, slot, expect_first)| {
            ConsoleInput::Authorize(SimChangeWindow {
                instruction_id: "w".into(),
                slot,
                until: Timestamp::from_unix_millis(1_772_000_000_000 + m * 60_000),
                reason: "planned".into(),
                expected: expect_first.then(|| SimPins {
                    identity: PinnedIdentity {
                        iccid: Some(pin_key().pin(IdentityKind::Iccid, ICCIDS[1]).unwrap()),
                        ..PinnedIdentity::default()
                    },
                    home_network: None,
                }),
            })
        }),
        Just(ConsoleInput::RevokeAuthorizations),
    ]
    .prop_map(Input::Console);
    prop_oneof![12 => observation, 3 => console]
}

fn observation() -> impl Strategy<Value = SimEvent> {
    prop_oneof![
        4 => (0u8..2, sim_state(), prop::option::of(0usize..3), prop::option::of(0usize..3), prop::option::of(0usize..3))
            .prop_map(|(slot, state, i, s, n)| SimEvent::Sim(SimObservation {
                slot,
                state: Some(state),
                iccid: i.map(|i| ICCIDS[i].to_owned()),
                imsi: s.map(|s| IMSIS[s].to_owned()),
                msisdn: n.map(|n| NUMBERS[n].to_owned()),
                mcc_mnc: Some("23415".into()),
                ..SimObservation::default()
            })),
        4 => (0u8..2, service_state(), rat(), any::<Option<bool>>())
            .prop_map(|(slot, state, rat, roaming)| SimEvent::Service(ServiceObservation { slot, state, roaming, rat })),
        2 => (any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(wifi, cellular_data, airplane_mode)| {
            SimEvent::Connectivity(Connectivity { wifi, cellular_data, airplane_mode })
        }),
        1 => Just(SimEvent::Reboot),
        2 => Just(SimEvent::Tick),
    ]
}

/// Events with gaps of up to 20 minutes, and occasional clock regressions of up to a minute.
fn trace() -> impl Strategy<Value = Vec<(i64, Input)>> {
    prop::collection::vec((-60_000i64..1_200_000, event()), 1..80)
}

fn hasher() -> IdentityHasher {
    IdentityHasher::derive(&SoftwareDeviceKey::new(b"property-test-secret").unwrap()).unwrap()
}

/// Slot 0 pinned to the first SIM and required; slot 1 expecting a home network the
/// generated observations never have.
fn pinned_policy() -> SimPolicy {
    let device = SoftwareDeviceKey::new(b"property-test-secret").unwrap();
    let key = PinKey::new(&PinKey::derive(&device).unwrap());
    let slot0 = ExpectedSim {
        required: true,
        pins: SimPins {
            identity: PinnedIdentity {
                iccid: Some(key.pin(IdentityKind::Iccid, ICCIDS[0]).unwrap()),
                imsi: Some(key.pin(IdentityKind::Imsi, IMSIS[0]).unwrap()),
                msisdn: Some(key.pin(IdentityKind::PhoneNumber, NUMBERS[0]).unwrap()),
            },
            home_network: Some("23415".into()),
        },
    };
    let slot1 = ExpectedSim {
        required: false,
        pins: SimPins {
            home_network: Some("20815".into()),
            ..SimPins::default()
        },
    };
    SimPolicy {
        expected: [(0, slot0), (1, slot1)].into_iter().collect(),
        ..SimPolicy::default()
    }
}

/// Runs `events` whole, and cut at `cut` with the state saved and restored; both must agree.
fn restore_equivalence(
    policy: SimPolicy,
    events: &[(Timestamp, Input)],
    cut: usize,
) -> Result<(), TestCaseError> {
    let h = hasher();
    let start = events[0].0;
    let mut whole = SimGuard::new(start, policy.clone());
    let expected = run(&mut whole, events, &h);

    let mut first = SimGuard::new(start, policy.clone());
    let mut got = run(&mut first, &events[..cut], &h);
    let saved = serde_json::to_string(&first).unwrap();
    let mut restored: SimGuard = serde_json::from_str(&saved).unwrap();
    restored.set_policy(policy);
    got.extend(run(&mut restored, &events[cut..], &h));
    prop_assert_eq!(got, expected);
    Ok(())
}

fn run(guard: &mut SimGuard, events: &[(Timestamp, Input)], h: &IdentityHasher) -> Vec<Finding> {
    let mut out = Vec::new();
    for (at, ev) in events {
        if let Some(wake) = guard.next_deadline().filter(|w| w <= at) {
            guard.handle_timeout(wake, &mut out);
        }
        match ev {
            Input::Observe(ev) => guard.handle(ev, *at, h, &mut out).unwrap(),
            Input::Console(input) => guard.handle_console(input, *at, h, &mut out),
        }
    }
    out
}

fn timed(trace: &[(i64, Input)]) -> Vec<(Timestamp, Input)> {
    let mut t = 1_772_000_000_000i64;
    trace
        .iter()
        .map(|(gap, ev)| {
            t += gap;
            (Timestamp::from_unix_millis(t), ev.clone())
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Saving and restoring the guard at any point changes nothing that follows:
    /// what makes the agent safe to kill between any two callbacks.
    #[test]
    fn restoring_state_at_any_point_gives_the_same_alerts(raw in trace(), split in any::<prop::sample::Index>()) {
        let events = timed(&raw);
        let cut = split.index(events.len() + 1);
        restore_equivalence(SimPolicy::default(), &events, cut)?;
    }

    /// The same under a policy that pins slot 0 and expects a home network in slot 1.
    #[test]
    fn restoring_state_under_a_pinned_policy_gives_the_same_alerts(raw in trace(), split in any::<prop::sample::Index>()) {
        let events = timed(&raw);
        let cut = split.index(events.len() + 1);
        restore_equivalence(pinned_policy(), &events, cut)?;
    }

    /// Expectations that pin nothing and require nothing change no alert.
    #[test]
    fn expectations_without_pins_or_requirement_change_nothing(raw in trace()) {
        let h = hasher();
        let events = timed(&raw);
        let loose = SimPolicy {
            expected: (0..2).map(|slot| (slot, ExpectedSim::default())).collect(),
            ..SimPolicy::default()
        };
        let mut plain = SimGuard::new(events[0].0, SimPolicy::default());
        let mut with_expectations = SimGuard::new(events[0].0, loose);
        prop_assert_eq!(run(&mut with_expectations, &events, &h), run(&mut plain, &events, &h));
    }

    /// Alerts never carry a raw identifier, the persisted state holds none either,
    /// and alerts come out in time order.
    #[test]
    fn alerts_are_ordered_and_never_leak_identifiers(raw in trace(), pinned in any::<bool>()) {
        let h = hasher();
        let events = timed(&raw);
        let policy = if pinned { pinned_policy() } else { SimPolicy::default() };
        let mut guard = SimGuard::new(events[0].0, policy);
        let findings = run(&mut guard, &events, &h);
        let state = serde_json::to_string(&guard).unwrap();
        for w in findings.windows(2) {
            prop_assert!(w[0].at <= w[1].at);
        }
        for f in &findings {
            let text = format!("{} {:?}", f.summary, f.evidence);
            for id in ICCIDS.iter().chain(&IMSIS).chain(&NUMBERS) {
                let digits = id.trim_start_matches('+');
                prop_assert!(!text.contains(digits), "alert leaks an identifier: {}", text);
                prop_assert!(!state.contains(digits), "state leaks an identifier");
            }
        }
    }
}

#[test]
fn invalid_input_changes_nothing() {
    let h = hasher();
    let t0 = Timestamp::from_unix_millis(1_772_000_000_000);
    let mut guard = SimGuard::new(t0, SimPolicy::default());
    let mut out = Vec::new();
    guard
        .handle(
            &SimEvent::Sim(SimObservation {
                slot: 0,
                state: Some(SimState::Ready),
                iccid: Some(ICCIDS[0].into()),
                ..SimObservation::default()
            }),
            t0,
            &h,
            &mut out,
        )
        .unwrap();
    let before = serde_json::to_string(&guard).unwrap();
    let bad = [
        SimObservation {
            slot: 0,
            state: Some(SimState::Ready),
            iccid: Some("12".into()),
            ..SimObservation::default()
        },
        SimObservation {
            slot: 0,
            state: Some(SimState::Ready),
            iccid: Some(ICCIDS[1].into()),
            imsi: Some("x".into()),
            ..SimObservation::default()
        },
        SimObservation {
            slot: 8,
            state: Some(SimState::Ready),
            ..SimObservation::default()
        },
        SimObservation {
            slot: 0,
            state: None,
            ..SimObservation::default()
        },
        SimObservation {
            slot: 0,
            state: Some(SimState::Ready),
            mcc_mnc: Some("2341".into()),
            ..SimObservation::default()
        },
    ];
    for obs in bad {
        let later = t0.plus_millis(3_600_000);
        assert!(guard
            .handle(&SimEvent::Sim(obs), later, &h, &mut out)
            .is_err());
        assert_eq!(serde_json::to_string(&guard).unwrap(), before);
    }
    assert!(out.is_empty());
}

#[test]
fn a_clock_moved_back_does_not_move_deadlines_back() {
    let h = hasher();
    let t0 = Timestamp::from_unix_millis(1_772_000_000_000);
    let mut guard = SimGuard::new(t0, SimPolicy::default());
    let mut out = Vec::new();
    let feed = |g: &mut SimGuard, ev: SimEvent, at: Timestamp, out: &mut Vec<Finding>| {
        g.handle(&ev, at, &h, out).unwrap();
    };
    feed(
        &mut guard,
        SimEvent::Connectivity(Connectivity {
            wifi: true,
            cellular_data: false,
            airplane_mode: false,
        }),
        t0,
        &mut out,
    );
    feed(
        &mut guard,
        SimEvent::Sim(SimObservation {
            slot: 0,
            state: Some(SimState::Ready),
            iccid: Some(ICCIDS[0].into()),
            ..SimObservation::default()
        }),
        t0,
        &mut out,
    );
    feed(
        &mut guard,
        SimEvent::Service(ServiceObservation {
            slot: 0,
            state: ServiceState::EmergencyOnly,
            roaming: None,
            rat: None,
        }),
        t0,
        &mut out,
    );
    assert_eq!(guard.next_deadline(), Some(t0.plus_millis(600_000)));
    // A tick an hour in the past is treated as "now = latest seen".
    feed(
        &mut guard,
        SimEvent::Tick,
        t0.plus_millis(-3_600_000),
        &mut out,
    );
    assert_eq!(guard.next_deadline(), Some(t0.plus_millis(600_000)));
    guard.handle_timeout(t0.plus_millis(600_000), &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(guard.next_deadline(), None);
}
