//! The SIM guard with a policy that pins the expected identities: pinned slots are
//! judged against the pins from the first observation on, required slots must hold a
//! SIM, and unpinned policies behave exactly as before.
//!
//! Every guard here is driven twice in lockstep: once continuously, and once
//! serialised and restored before every input (as the agent does when its process is
//! killed between callbacks). Both must raise the same alerts.

mod policy_support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use portcullis_core::agent::PolicyOutcome;
use portcullis_core::alert::Finding;
use portcullis_core::identity::{
    normalize, IdentityHasher, IdentityKind, PinnedIdentity, SoftwareDeviceKey,
};
use portcullis_core::policy::model::IdentityPin;
use portcullis_core::policy::{PinKey, Policy};
use portcullis_core::sim::{
    ConsoleInput, ExpectedSim, ServiceObservation, ServiceState, SimChangeWindow, SimEvent,
    SimGuard, SimObservation, SimPins, SimPolicy, SimState,
};
use portcullis_core::{trace, Agent, AlertKind, DeviceKey, Timestamp};

const SECRET: &[u8] = b"sim-pins-test-device-secret";
const MINUTE: i64 = 60_000;

/// A SIM's raw identifiers.
#[derive(Clone, Copy)]
struct Sim {
    iccid: &'static str,
    imsi: &'static str,
    msisdn: &'static str,
    home: &'static str,
}

/// The SIM the office issued and pinned.
const ISSUED: Sim = Sim {
    iccid: "8944110012345678901",
    imsi: "234150123456789",
    msisdn: "+447700900123",
    home: "23415",
};
/// An attacker's SIM on another network.
const FOREIGN: Sim = Sim {
    iccid: "8944200098765432109",
    imsi: "234209876543210",
    msisdn: "+447700900999",
    home: "23420",
};
/// The replacement the office plans.
const REPLACEMENT: Sim = Sim {
    iccid: "8944110012345679999",
    imsi: "234150123456789",
    msisdn: "+447700900123",
    home: "23415",
};

fn device_key() -> SoftwareDeviceKey {
    SoftwareDeviceKey::new(SECRET).unwrap()
}

/// The console's view: the pin key the device handed over at enrollment.
fn pin_key() -> PinKey {
    PinKey::new(&PinKey::derive(&device_key()).unwrap())
}

fn pin(kind: IdentityKind, raw: &str) -> IdentityPin {
    pin_key().pin(kind, raw).unwrap()
}

/// Pins ICCID, IMSI and number of `sim`.
fn pins_of(sim: Sim) -> SimPins {
    SimPins {
        identity: PinnedIdentity {
            iccid: Some(pin(IdentityKind::Iccid, sim.iccid)),
            imsi: Some(pin(IdentityKind::Imsi, sim.imsi)),
            msisdn: Some(pin(IdentityKind::PhoneNumber, sim.msisdn)),
        },
        home_network: None,
    }
}

fn policy(expected: impl IntoIterator<Item = (u8, bool, SimPins)>) -> SimPolicy {
    SimPolicy {
        expected: expected
            .into_iter()
            .map(|(slot, required, pins)| (slot, ExpectedSim { required, pins }))
            .collect(),
        ..SimPolicy::default()
    }
}

fn ready(slot: u8, sim: Sim) -> SimEvent {
    SimEvent::Sim(SimObservation {
        slot,
        state: Some(SimState::Ready),
        iccid: Some(sim.iccid.into()),
        imsi: Some(sim.imsi.into()),
        msisdn: Some(sim.msisdn.into()),
        mcc_mnc: Some(sim.home.into()),
        ..SimObservation::default()
    })
}

fn absent(slot: u8) -> SimEvent {
    SimEvent::Sim(SimObservation {
        slot,
        state: Some(SimState::Absent),
        ..SimObservation::default()
    })
}

/// What the harness feeds: an observation, or a console decision (which reaches the
/// guard only from a verified instruction).
enum Input {
    Observe(SimEvent),
    Console(ConsoleInput),
}

impl From<SimEvent> for Input {
    fn from(ev: SimEvent) -> Self {
        Input::Observe(ev)
    }
}

fn authorize(until: Timestamp) -> Input {
    Input::Console(ConsoleInput::Authorize(SimChangeWindow {
        instruction_id: "sec-1".into(),
        slot: None,
        until,
        reason: "ticket SEC-1: planned replacement".into(),
        expected: None,
    }))
}

const T0: Timestamp = Timestamp::from_unix_millis(1_772_000_000_000);

/// A guard driven continuously and, in lockstep, restored from JSON before every input.
struct Harness {
    hasher: IdentityHasher,
    live: SimGuard,
    saved: String,
    policy: SimPolicy,
    now: Timestamp,
    findings: Vec<Finding>,
}

impl Harness {
    fn new(policy: SimPolicy) -> Self {
        let live = SimGuard::new(T0, policy.clone());
        Harness {
            hasher: IdentityHasher::derive(&device_key()).unwrap(),
            saved: serde_json::to_string(&live).unwrap(),
            live,
            policy,
            now: T0,
            findings: Vec::new(),
        }
    }

    fn set_policy(&mut self, policy: SimPolicy) {
        self.live.set_policy(policy.clone());
        self.policy = policy;
    }

    fn restored(&self) -> SimGuard {
        let mut g: SimGuard = serde_json::from_str(&self.saved).unwrap();
        g.set_policy(self.policy.clone());
        g
    }

    fn step(g: &mut SimGuard, h: &IdentityHasher, ev: &Input, at: Timestamp) -> Vec<Finding> {
        let mut out = Vec::new();
        if let Some(wake) = g.next_deadline().filter(|w| *w <= at) {
            g.handle_timeout(wake, &mut out);
        }
        match ev {
            Input::Observe(ev) => g.handle(ev, at, h, &mut out).unwrap(),
            Input::Console(c) => g.handle_console(c, at, h, &mut out),
        }
        out
    }

    /// Feeds `ev` `minutes` after the previous input; returns the kinds raised (with slots).
    fn feed(&mut self, minutes: i64, ev: impl Into<Input>) -> Vec<(AlertKind, Option<u8>)> {
        let ev = ev.into();
        self.now = self.now.plus_millis(minutes * MINUTE);
        let got = Self::step(&mut self.live, &self.hasher, &ev, self.now);
        let mut restored = self.restored();
        let again = Self::step(&mut restored, &self.hasher, &ev, self.now);
        assert_eq!(got, again, "a restored guard raised different alerts");
        assert_eq!(restored, self.live, "a restored guard diverged");
        self.saved = serde_json::to_string(&restored).unwrap();
        self.findings.extend(got.iter().cloned());
        got.iter().map(|f| (f.kind, f.slot)).collect()
    }

    fn slot(&self, slot: u8) -> &portcullis_core::sim::SlotFacts {
        &self.live.facts().slots[&slot]
    }
}

fn evidence<'a>(f: &'a Finding, key: &str) -> Option<&'a str> {
    f.evidence
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

#[test]
fn a_first_sim_differing_from_the_pinned_iccid_raises_sim_replaced() {
    let mut g = Harness::new(policy([(0, true, pins_of(ISSUED))]));
    // Swapped before the agent ever saw the phone: same number, another card.
    let swapped = Sim {
        iccid: FOREIGN.iccid,
        ..ISSUED
    };
    assert_eq!(
        g.feed(0, ready(0, swapped)),
        [(AlertKind::SimReplaced, Some(0))]
    );
    let f = &g.findings[0];
    assert_eq!(f.detector, "sim_identity");
    assert_eq!(f.detector_version, 2);
    assert!(
        f.summary.contains("the identity the policy pins"),
        "{}",
        f.summary
    );
    assert_eq!(evidence(f, "fields_changed"), Some("iccid"));
    assert_eq!(evidence(f, "fields_differing_from_pins"), Some("iccid"));
    assert_eq!(evidence(f, "observed_iccid_hash").map(str::len), Some(8));
    assert_eq!(evidence(f, "baseline_iccid_hash"), None);
    // The mismatching SIM never becomes the baseline.
    assert!(g.slot(0).baseline.is_none());
    assert!(g.slot(0).mismatch);
    // One alert per condition.
    assert!(g.feed(5, ready(0, swapped)).is_empty());
    assert!(g.feed(5, ready(0, swapped)).is_empty());
    // The issued SIM comes back: it becomes the baseline, silently.
    assert!(g.feed(60, ready(0, ISSUED)).is_empty());
    assert!(g.slot(0).baseline.is_some());
    assert!(!g.slot(0).mismatch);
    // The foreign card again differs from both the baseline and the pins.
    assert_eq!(
        g.feed(60, ready(0, swapped)),
        [(AlertKind::SimReplaced, Some(0))]
    );
    let f = g.findings.last().unwrap();
    assert!(
        f.summary
            .contains("the baseline and the identity the policy pins"),
        "{}",
        f.summary
    );
    assert!(evidence(f, "baseline_iccid_hash").is_some());
}

#[test]
fn a_first_sim_matching_the_pins_becomes_the_baseline_as_without_pins() {
    let mut pinned = Harness::new(policy([(0, true, pins_of(ISSUED))]));
    let mut unpinned = Harness::new(SimPolicy::default());
    for g in [&mut pinned, &mut unpinned] {
        // Formatting differences are normalised before pinning too.
        let formatted = SimEvent::Sim(SimObservation {
            slot: 0,
            state: Some(SimState::Ready),
            iccid: Some("8944 1100 1234 5678 901F".into()),
            imsi: Some(ISSUED.imsi.into()),
            msisdn: Some("+44 7700-900123".into()),
            mcc_mnc: Some(ISSUED.home.into()),
            ..SimObservation::default()
        });
        assert!(g.feed(0, formatted).is_empty());
        assert!(g.feed(30, ready(0, ISSUED)).is_empty());
    }
    let baseline = pinned.slot(0).baseline.clone().unwrap();
    let h = IdentityHasher::derive(&device_key()).unwrap();
    let iccid = normalize(IdentityKind::Iccid, ISSUED.iccid).unwrap();
    assert_eq!(baseline.iccid, Some(h.hash(IdentityKind::Iccid, &iccid)));
    assert_eq!(pinned.live.facts(), unpinned.live.facts());
}

#[test]
fn pinned_imsi_and_number_mismatches_raise_subscriber_and_number_changed() {
    let mut g = Harness::new(policy([(0, true, pins_of(ISSUED))]));
    let recycled = Sim {
        iccid: ISSUED.iccid,
        imsi: FOREIGN.imsi,
        msisdn: FOREIGN.msisdn,
        home: ISSUED.home,
    };
    assert_eq!(
        g.feed(0, ready(0, recycled)),
        [
            (AlertKind::SubscriberChanged, Some(0)),
            (AlertKind::NumberChanged, Some(0))
        ]
    );
    assert!(g.slot(0).baseline.is_none());
    assert!(g.findings[0]
        .summary
        .contains("the identity the policy pins"));
    assert_eq!(
        evidence(&g.findings[0], "fields_differing_from_pins"),
        Some("imsi,msisdn")
    );
    // Only the number wrong now: the subscriber condition clears, the number one stays.
    let number_only = Sim {
        msisdn: FOREIGN.msisdn,
        ..ISSUED
    };
    assert!(g.feed(5, ready(0, number_only)).is_empty());
    assert!(g.feed(5, ready(0, ISSUED)).is_empty());
    assert!(g.slot(0).baseline.is_some());
}

#[test]
fn a_home_network_other_than_expected_raises_carrier_changed() {
    let home_only = SimPins {
        home_network: Some(ISSUED.home.into()),
        ..SimPins::default()
    };
    let mut g = Harness::new(policy([(0, true, home_only)]));
    let other_network = Sim {
        home: FOREIGN.home,
        ..ISSUED
    };
    assert_eq!(
        g.feed(0, ready(0, other_network)),
        [(AlertKind::CarrierChanged, Some(0))]
    );
    assert_eq!(
        evidence(&g.findings[0], "fields_differing_from_pins"),
        Some("mcc_mnc")
    );
    assert!(g.feed(5, ready(0, other_network)).is_empty());
    assert!(g.slot(0).baseline.is_none());
    // Roaming is a property of the serving network, not of the SIM: nothing to raise.
    assert!(g.feed(5, ready(0, ISSUED)).is_empty());
    let roaming = SimEvent::Service(ServiceObservation {
        slot: 0,
        state: ServiceState::InService,
        roaming: Some(true),
        rat: None,
    });
    assert!(g.feed(5, roaming).is_empty());

    // With the identity pinned too, a foreign IMSI explains the network: subscriber_changed only.
    let mut pins = pins_of(ISSUED);
    pins.home_network = Some(ISSUED.home.into());
    let mut g = Harness::new(policy([(0, true, pins)]));
    let foreign_subscriber = Sim {
        iccid: ISSUED.iccid,
        msisdn: ISSUED.msisdn,
        ..FOREIGN
    };
    assert_eq!(
        g.feed(0, ready(0, foreign_subscriber)),
        [(AlertKind::SubscriberChanged, Some(0))]
    );
}

#[test]
fn fields_the_platform_hides_are_not_compared_with_pins() {
    let mut g = Harness::new(policy([(0, true, pins_of(ISSUED))]));
    // iOS since 16.4: no ICCID, no IMSI.
    let hidden = SimEvent::Sim(SimObservation {
        slot: 0,
        state: Some(SimState::Ready),
        msisdn: Some(ISSUED.msisdn.into()),
        mcc_mnc: Some(ISSUED.home.into()),
        ..SimObservation::default()
    });
    assert!(g.feed(0, hidden).is_empty());
    assert!(g.slot(0).baseline.is_some());
    // A card revealed later is still checked against its pin.
    let revealed = Sim {
        iccid: FOREIGN.iccid,
        ..ISSUED
    };
    assert_eq!(
        g.feed(5, ready(0, revealed)),
        [(AlertKind::SimReplaced, Some(0))]
    );
}

#[test]
fn a_required_slot_reported_absent_raises_sim_removed_without_a_baseline() {
    let mut g = Harness::new(policy([
        (0, true, SimPins::default()),
        (1, false, SimPins::default()),
    ]));
    assert_eq!(g.feed(0, absent(0)), [(AlertKind::SimRemoved, Some(0))]);
    let f = &g.findings[0];
    assert_eq!(
        (f.detector.as_str(), f.detector_version),
        ("sim_presence", 2)
    );
    assert!(g.feed(5, absent(0)).is_empty(), "one alert per condition");
    // A slot the policy does not require behaves as before: never had a SIM, nothing to say.
    assert!(g.feed(0, absent(1)).is_empty());
    assert!(g.feed(0, absent(2)).is_empty());
    // A SIM arrives and clears the condition; losing it raises again.
    assert!(g.feed(5, ready(0, ISSUED)).is_empty());
    assert_eq!(g.feed(5, absent(0)), [(AlertKind::SimRemoved, Some(0))]);

    // Right after a reboot a missing SIM is given the usual grace period.
    let mut g = Harness::new(policy([(0, true, SimPins::default())]));
    assert!(g.feed(0, SimEvent::Reboot).is_empty());
    assert!(g.feed(0, absent(0)).is_empty());
    assert_eq!(
        g.live.next_deadline(),
        Some(T0.plus_millis(3 * MINUTE)),
        "the grace deadline"
    );
    assert_eq!(
        g.feed(10, SimEvent::Tick),
        [(AlertKind::SimRemoved, Some(0))]
    );
    assert_eq!(g.findings[0].at, T0.plus_millis(3 * MINUTE));

    // Not required: exactly today's behaviour.
    let mut g = Harness::new(policy([(0, false, pins_of(ISSUED))]));
    assert!(g.feed(0, absent(0)).is_empty());
}

#[test]
fn an_authorised_replacement_with_stale_pins_alerts_once() {
    let mut g = Harness::new(policy([(0, true, pins_of(ISSUED))]));
    assert!(g.feed(0, ready(0, ISSUED)).is_empty());
    assert!(g
        .feed(24 * 60, authorize(T0.plus_millis(26 * 60 * MINUTE)))
        .is_empty());
    assert_eq!(g.feed(20, absent(0)), [(AlertKind::SimRemoved, Some(0))]);
    assert_eq!(
        g.feed(2, ready(0, REPLACEMENT)),
        [(AlertKind::SimChangeAuthorized, Some(0))]
    );
    assert!(evidence(g.findings.last().unwrap(), "fields_differing_from_pins").is_some());
    // The policy still pins the old SIM: no repeats, inside the window or after it,
    // across reboots and service changes.
    assert!(g.feed(10, ready(0, REPLACEMENT)).is_empty());
    assert!(g.feed(6 * 60, ready(0, REPLACEMENT)).is_empty());
    assert!(g.feed(1, SimEvent::Reboot).is_empty());
    assert!(g.feed(1, absent(0)).is_empty());
    assert!(g.feed(1, ready(0, REPLACEMENT)).is_empty());
    assert!(g.feed(24 * 60, ready(0, REPLACEMENT)).is_empty());
    assert_eq!(g.findings.len(), 2);
    assert!(!g.slot(0).mismatch);
    // The old SIM back (outside the window) differs from the authorised baseline.
    assert_eq!(
        g.feed(60, ready(0, ISSUED)),
        [(AlertKind::SimReplaced, Some(0))]
    );
    assert!(g.feed(5, ready(0, REPLACEMENT)).is_empty());

    // The console ships pins for the replacement: nothing changes, nothing is raised.
    g.set_policy(policy([(0, true, pins_of(REPLACEMENT))]));
    assert!(g.feed(60, ready(0, REPLACEMENT)).is_empty());
    assert!(g.slot(0).waived_pins.is_none());
    // Pins for yet another SIM are enforced again: the waiver covered only the old pins.
    g.set_policy(policy([(0, true, pins_of(FOREIGN))]));
    assert_eq!(
        g.feed(60, ready(0, REPLACEMENT)),
        [(AlertKind::SimReplaced, Some(0))]
    );
    assert!(g.feed(5, ready(0, REPLACEMENT)).is_empty());
}

#[test]
fn a_first_sim_differing_from_the_pins_inside_a_window_becomes_the_baseline() {
    let mut g = Harness::new(policy([(0, true, pins_of(ISSUED))]));
    assert!(g.feed(0, authorize(T0.plus_millis(60 * MINUTE))).is_empty());
    assert_eq!(
        g.feed(5, ready(0, REPLACEMENT)),
        [(AlertKind::SimChangeAuthorized, Some(0))]
    );
    assert!(g.slot(0).baseline.is_some());
    assert!(g.feed(5, ready(0, REPLACEMENT)).is_empty());
    assert!(g.feed(120, ready(0, REPLACEMENT)).is_empty());
    assert_eq!(
        g.feed(5, ready(0, FOREIGN)),
        [(AlertKind::SimReplaced, Some(0))]
    );
}

#[test]
fn pins_that_arrive_after_the_baseline_was_learned_are_enforced() {
    let mut g = Harness::new(SimPolicy::default());
    assert!(g.feed(0, ready(0, FOREIGN)).is_empty());
    g.set_policy(policy([(0, true, pins_of(ISSUED))]));
    assert_eq!(
        g.feed(60, ready(0, FOREIGN)),
        [(AlertKind::SimReplaced, Some(0))]
    );
    assert!(g.slot(0).mismatch);
    assert!(g.feed(5, ready(0, FOREIGN)).is_empty());
    // Taking the pins away again: the learned baseline matches, the condition clears.
    g.set_policy(SimPolicy::default());
    assert!(g.feed(5, ready(0, FOREIGN)).is_empty());
    assert!(!g.slot(0).mismatch);
}

#[test]
fn a_malformed_identifier_on_a_pinned_slot_changes_nothing() {
    let p = policy([(0, true, pins_of(ISSUED))]);
    let h = IdentityHasher::derive(&device_key()).unwrap();
    let mut guard = SimGuard::new(T0, p);
    let before = serde_json::to_string(&guard).unwrap();
    let mut out = Vec::new();
    let bad = SimEvent::Sim(SimObservation {
        slot: 0,
        state: Some(SimState::Ready),
        iccid: Some(ISSUED.iccid.into()),
        imsi: Some("23415012345678999999".into()),
        ..SimObservation::default()
    });
    let err = guard.handle(&bad, T0, &h, &mut out).unwrap_err();
    assert!(!err.to_string().contains("2341501234"), "{err}");
    assert_eq!(serde_json::to_string(&guard).unwrap(), before);
    assert!(out.is_empty());
}

/// Runs a scenario trace through a bare guard, waking it at each deadline as `trace::replay` does.
fn replay(
    policy: SimPolicy,
    events: &[trace::TraceEvent],
) -> Vec<(Timestamp, AlertKind, Option<u8>)> {
    let h = IdentityHasher::derive(&device_key()).unwrap();
    let mut guard = SimGuard::new(events[0].at, policy);
    let mut out = Vec::new();
    for ev in events {
        while let Some(wake) = guard.next_deadline().filter(|w| *w <= ev.at) {
            guard.handle_timeout(wake, &mut out);
        }
        // Console decisions reach a bare guard only through the agent's instructions;
        // these scenarios compare pins, not windows.
        if let trace::TraceInput::Observation(o) = &ev.input {
            guard.handle(o, ev.at, &h, &mut out).unwrap();
        }
    }
    out.iter().map(|f| (f.at, f.kind, f.slot)).collect()
}

fn scenarios() -> Vec<(String, Vec<trace::TraceEvent>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/scenarios");
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.ends_with(".jsonl") && !name.ends_with(".expected.jsonl")
        })
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p.display().to_string(), trace::parse(&text).unwrap())
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(out.len() >= 10, "the scenario library went missing");
    out
}

#[test]
fn expectations_without_pins_or_requirement_change_no_scenario() {
    let loose = policy((0..=7).map(|slot| (slot, false, SimPins::default())));
    for (name, events) in scenarios() {
        assert_eq!(
            replay(loose.clone(), &events),
            replay(SimPolicy::default(), &events),
            "{name}"
        );
    }
}

#[test]
fn pinning_the_sim_a_scenario_starts_with_changes_none_of_its_alerts() {
    for (name, events) in scenarios() {
        let Some(first) = events.iter().find_map(|e| match &e.input {
            trace::TraceInput::Observation(SimEvent::Sim(o))
                if o.slot == 0 && o.state == Some(SimState::Ready) =>
            {
                Some(o.clone())
            }
            _ => None,
        }) else {
            continue;
        };
        let key = pin_key();
        let pin_of = |kind, raw: &Option<String>| raw.as_deref().map(|r| key.pin(kind, r).unwrap());
        let pins = SimPins {
            identity: PinnedIdentity {
                iccid: pin_of(IdentityKind::Iccid, &first.iccid),
                imsi: pin_of(IdentityKind::Imsi, &first.imsi),
                msisdn: pin_of(IdentityKind::PhoneNumber, &first.msisdn),
            },
            home_network: first.mcc_mnc.clone(),
        };
        assert_eq!(
            replay(policy([(0, true, pins)]), &events),
            replay(SimPolicy::default(), &events),
            "{name}"
        );
    }
}

#[test]
fn identifiers_stay_out_of_state_and_alerts_and_pins_out_of_unwaived_state() {
    let mut g = Harness::new(policy([
        (0, true, pins_of(ISSUED)),
        (1, true, pins_of(FOREIGN)),
    ]));
    let pins_hex: Vec<String> = [ISSUED, FOREIGN, REPLACEMENT]
        .iter()
        .flat_map(|s| {
            let p = pins_of(*s).identity;
            [p.iccid, p.imsi, p.msisdn]
        })
        .map(|p| {
            serde_json::to_value(p.unwrap())
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let raw: Vec<String> = [ISSUED, FOREIGN, REPLACEMENT]
        .iter()
        .flat_map(|s| [s.iccid, s.imsi, s.msisdn.trim_start_matches('+')])
        .map(str::to_owned)
        .collect();
    g.feed(0, ready(0, FOREIGN));
    g.feed(1, ready(1, ISSUED));
    g.feed(1, ready(0, ISSUED));
    g.feed(1, absent(1));
    let state = serde_json::to_string(&g.live).unwrap();
    for p in &pins_hex {
        assert!(
            !state.contains(p.as_str()),
            "the state holds a pin it was never waived"
        );
    }
    g.feed(1, authorize(g.now.plus_millis(60 * MINUTE)));
    g.feed(1, ready(0, REPLACEMENT));
    assert_eq!(
        g.findings.last().map(|f| f.kind),
        Some(AlertKind::SimChangeAuthorized)
    );
    let state = serde_json::to_string(&g.live).unwrap();
    let policy_debug = format!("{:?}", g.live.policy());
    for text in [&state, &policy_debug] {
        for id in &raw {
            assert!(!text.contains(id.as_str()), "an identifier leaked: {text}");
        }
    }
    for p in &pins_hex {
        assert!(
            !policy_debug.contains(p.as_str()),
            "Debug prints whole pins"
        );
    }
    assert!(g.findings.len() >= 3);
    for f in &g.findings {
        let text = format!("{} {:?}", f.summary, f.evidence);
        for id in raw.iter().chain(&pins_hex) {
            assert!(!text.contains(id.as_str()), "an alert leaks: {text}");
        }
    }
}

#[test]
fn a_pinned_policy_on_the_agent_catches_a_sim_swapped_before_first_sight() {
    use policy_support::{device, key, payload, standard_root, DAY, T0 as BUNDLE_T0};

    let mut doc: serde_json::Value = serde_json::from_str(policy_support::MINIMAL_POLICY).unwrap();
    let hex = |p: IdentityPin| serde_json::to_value(p).unwrap();
    doc["sim"] = serde_json::json!({
        "expectedSubscriptions": [{
            "slot": 0,
            "required": true,
            "homeNetwork": ISSUED.home,
            "pinned": {
                "iccid": hex(pin(IdentityKind::Iccid, ISSUED.iccid)),
                "msisdn": hex(pin(IdentityKind::PhoneNumber, ISSUED.msisdn)),
            }
        }]
    });
    let pinned = Policy::from_json(&serde_json::to_vec(&doc).unwrap()).unwrap();
    let sim_policy = pinned.sim_policy();
    assert_eq!(
        sim_policy.expected,
        BTreeMap::from([(
            0,
            ExpectedSim {
                required: true,
                pins: SimPins {
                    identity: PinnedIdentity {
                        iccid: Some(pin(IdentityKind::Iccid, ISSUED.iccid)),
                        imsi: None,
                        msisdn: Some(pin(IdentityKind::PhoneNumber, ISSUED.msisdn)),
                    },
                    home_network: Some(ISSUED.home.into()),
                },
            }
        )])
    );

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agent.db");
    let key_arc = || -> Arc<dyn DeviceKey> { Arc::new(device_key()) };
    let mut agent = Agent::open(&db, key_arc(), BUNDLE_T0, [7; 32]).unwrap();
    let root = standard_root(1).sign(&[&key(1), &key(2)]).unwrap();
    agent
        .install_trust_root(&root, device(), BUNDLE_T0)
        .unwrap();
    let mut p = payload(1);
    p.policy = pinned;
    let bundle = p.sign(&[&key(10)]).unwrap();
    let now = BUNDLE_T0.plus_millis(DAY);
    assert!(matches!(
        agent.apply_policy(&bundle, now).unwrap(),
        PolicyOutcome::Applied(_)
    ));
    let alerts = agent
        .handle(&ready(0, FOREIGN), now.plus_millis(MINUTE))
        .unwrap();
    assert_eq!(
        alerts.iter().map(|a| a.finding.kind).collect::<Vec<_>>(),
        [AlertKind::SimReplaced]
    );
    drop(agent);
    // Reopened from disk: the pins still steer the guard and the condition is remembered.
    let mut agent = Agent::open(&db, key_arc(), now, [7; 32]).unwrap();
    assert!(agent
        .handle(&ready(0, FOREIGN), now.plus_millis(2 * MINUTE))
        .unwrap()
        .is_empty());
    assert!(agent
        .handle(&ready(0, ISSUED), now.plus_millis(3 * MINUTE))
        .unwrap()
        .is_empty());
    let alerts = agent
        .handle(&absent(1), now.plus_millis(4 * MINUTE))
        .unwrap();
    assert!(alerts.is_empty(), "slot 1 is not required");
}

#[test]
fn the_pin_key_is_handed_out_only_until_enrollment_is_confirmed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agent.db");
    let mut agent = Agent::open(&db, Arc::new(device_key()), T0, [7; 32]).unwrap();
    let exported = agent.pin_key_export().unwrap().expect("enrollment is open");
    // Pins the console computes with the exported key are the ones the phone compares.
    let console = PinKey::new(&exported);
    let phone = IdentityHasher::derive(&device_key()).unwrap();
    for (kind, raw) in [
        (IdentityKind::Iccid, ISSUED.iccid),
        (IdentityKind::Imsi, ISSUED.imsi),
        (IdentityKind::PhoneNumber, ISSUED.msisdn),
    ] {
        assert_eq!(
            console.pin(kind, raw).unwrap(),
            phone.pin(kind, raw).unwrap()
        );
    }
    assert!(agent.confirm_journal_key_export().unwrap());
    assert_eq!(agent.pin_key_export().unwrap(), None);
    drop(agent);
    let agent = Agent::open(&db, Arc::new(device_key()), T0, [7; 32]).unwrap();
    assert_eq!(agent.pin_key_export().unwrap(), None, "closed for good");
    drop(agent);
    // Someone who can write the database but lacks the device key cannot reopen it.
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute(
            "INSERT INTO meta(key, value) VALUES ('journal_key0_export', ?1)",
            ["00".repeat(32)],
        )
        .unwrap();
    let agent = Agent::open(&db, Arc::new(device_key()), T0, [7; 32]).unwrap();
    assert!(
        agent.pin_key_export().is_err(),
        "a forged export row is refused"
    );
}
