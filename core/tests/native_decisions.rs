//! Decisions the native layers hand to the core: the alert delivery run (batching, the
//! immediate-upload gate, shrinking a send the channel finds too large, when a run ends
//! and yields) and the bounding of the reasons platforms report with action outcomes.

use std::sync::Arc;

use portcullis_core::agent::{
    bound_reason, ActionOutcome, ChannelOutcome, DELIVERY_BATCHES_PER_RUN, MAX_OUTCOME_REASON_BYTES,
};
use portcullis_core::sim::{SimEvent, SimObservation, SimState};
use portcullis_core::{Agent, DeviceKey, SoftwareDeviceKey, Timestamp};

/// 2026-01-01T00:00:00Z.
const BASE: i64 = 1_767_225_600_000;

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_unix_millis(BASE + seconds * 1000)
}

fn agent() -> Agent {
    let key: Arc<dyn DeviceKey> =
        Arc::new(SoftwareDeviceKey::new(b"native-decisions-test").unwrap());
    Agent::open_in_memory(key, at(0), [3; 32]).unwrap()
}

fn sim(agent: &mut Agent, state: SimState, iccid: Option<&str>, seconds: i64) -> usize {
    let observation = SimObservation {
        slot: 0,
        state: Some(state),
        iccid: iccid.map(Into::into),
        imsi: None,
        msisdn: None,
        mcc_mnc: Some("23415".into()),
        carrier_name: None,
        embedded: None,
    };
    agent
        .handle(&SimEvent::Sim(observation), at(seconds))
        .unwrap()
        .len()
}

const ICCID_A: &str = "8944110012345678901";
const ICCID_B: &str = "8944110098765432109";

/// `count` urgent `sim_removed` alerts, from `from` seconds on.
fn removals(agent: &mut Agent, count: i64, from: i64) {
    sim(agent, SimState::Ready, Some(ICCID_A), from);
    for i in 0..count {
        assert_eq!(
            sim(agent, SimState::Absent, None, from + 2 * i + 1),
            1,
            "a removal alerts"
        );
        sim(agent, SimState::Ready, Some(ICCID_A), from + 2 * i + 2);
    }
}

#[test]
fn an_urgent_alert_goes_at_once_with_an_immediate_request_and_is_acknowledged() {
    let mut a = agent();
    sim(&mut a, SimState::Ready, Some(ICCID_A), 1);
    assert_eq!(
        sim(&mut a, SimState::Ready, Some(ICCID_B), 2),
        1,
        "sim_replaced"
    );
    let batch = a.next_delivery(at(10)).unwrap().expect("a send");
    assert!(batch.immediate, "critical: immediate upload");
    assert_eq!(batch.alerts.len(), 1);
    assert_eq!(
        a.next_delivery(at(10)).unwrap(),
        Some(batch),
        "asked again: the same send"
    );
    let step = a.delivery_response(ChannelOutcome::Sent, at(10)).unwrap();
    assert_eq!((step.acknowledged, step.done, step.error), (1, true, None));
    assert!(a.pending_alerts(10).unwrap().is_empty(), "acknowledged");
    assert_eq!(a.next_delivery(at(11)).unwrap(), None, "nothing left");
    assert!(
        a.delivery_response(ChannelOutcome::Sent, at(11)).is_err(),
        "a response without a send is refused"
    );
}

#[test]
fn urgent_alerts_wait_for_the_gate_and_a_failed_send_gives_its_grant_back() {
    let mut a = agent();
    removals(&mut a, 1, 0);
    a.next_delivery(at(10)).unwrap().unwrap();
    a.delivery_response(ChannelOutcome::Sent, at(10)).unwrap();
    assert_eq!(sim(&mut a, SimState::Absent, None, 20), 1);
    assert_eq!(
        a.next_delivery(at(30)).unwrap(),
        None,
        "held while the gate is closed"
    );
    assert_eq!(
        a.pending_alerts(10).unwrap().len(),
        1,
        "still in the outbox"
    );
    assert!(a.next_wakeup() <= Some(at(70)), "woken when the gate opens");

    // At the gate: the grant is taken, the send fails, the grant is given back.
    let batch = a.next_delivery(at(70)).unwrap().unwrap();
    assert!(batch.immediate);
    let step = a
        .delivery_response(ChannelOutcome::NoReceiver, at(70))
        .unwrap();
    assert!(step.done);
    assert!(step
        .error
        .unwrap()
        .contains("nothing on the device receives"));
    assert_eq!(step.retry_at, Some(at(100)), "the core's backoff: 30 s");
    let again = a.next_delivery(at(100)).unwrap().unwrap();
    assert!(
        again.immediate,
        "the refunded grant lets the retry go immediately"
    );
    a.delivery_response(ChannelOutcome::Sent, at(100)).unwrap();
    assert!(
        !a.acquire_immediate_send(at(120)).unwrap(),
        "one a minute, shared"
    );
    assert!(
        a.acquire_immediate_send(at(160)).unwrap(),
        "open again a minute on"
    );
}

#[test]
fn a_send_too_large_is_halved_and_a_single_alert_too_large_fails_the_run() {
    let mut a = agent();
    removals(&mut a, 8, 0);
    let mut sizes = Vec::new();
    let mut sent = 0;
    while let Some(batch) = a.next_delivery(at(100)).unwrap() {
        sizes.push(batch.alerts.len());
        let outcome = if batch.alerts.len() > 3 {
            ChannelOutcome::TooLarge
        } else {
            ChannelOutcome::Sent
        };
        let step = a.delivery_response(outcome, at(100)).unwrap();
        sent += step.acknowledged;
        if step.done {
            break;
        }
    }
    assert_eq!(
        sizes,
        vec![8, 4, 2, 2, 2, 2],
        "halved from the send that was too large"
    );
    assert_eq!(sent, 8);

    sim(&mut a, SimState::Absent, None, 200);
    let batch = a.next_delivery(at(300)).unwrap().unwrap();
    assert_eq!(batch.alerts.len(), 1);
    let step = a
        .delivery_response(ChannelOutcome::TooLarge, at(300))
        .unwrap();
    assert!(step.done);
    assert!(step.error.unwrap().contains("single alert is too large"));
    assert_eq!(a.pending_alerts(10).unwrap().len(), 1, "not acknowledged");
}

#[test]
fn a_backlog_goes_in_batches_and_the_run_yields_after_the_limit() {
    let mut a = agent();
    // Shrink the send size to one alert.
    removals(&mut a, 2, 0);
    let first = a.next_delivery(at(10)).unwrap().unwrap();
    assert_eq!(first.alerts.len(), 2);
    a.delivery_response(ChannelOutcome::TooLarge, at(10))
        .unwrap();
    a.next_delivery(at(10)).unwrap().unwrap();
    a.delivery_response(ChannelOutcome::Sent, at(10)).unwrap();
    a.next_delivery(at(10)).unwrap().unwrap();
    assert!(
        a.delivery_response(ChannelOutcome::Sent, at(10))
            .unwrap()
            .done
    );

    let backlog = i64::from(DELIVERY_BATCHES_PER_RUN) + 2;
    removals(&mut a, backlog, 100);
    let mut t = 1000;
    let mut sends = 0;
    while let Some(batch) = a.next_delivery(at(t)).unwrap() {
        assert_eq!(batch.alerts.len(), 1);
        sends += 1;
        a.delivery_response(ChannelOutcome::Sent, at(t)).unwrap();
        t += 61; // the gate opens again for every urgent send
    }
    assert_eq!(sends, DELIVERY_BATCHES_PER_RUN, "the run yields");
    assert_eq!(a.pending_alerts(20).unwrap().len(), 2, "the rest waits");
    assert!(a.next_wakeup() <= Some(at(t)), "the next run at once");
    let mut rest = 0;
    while let Some(_batch) = a.next_delivery(at(t)).unwrap() {
        rest += 1;
        a.delivery_response(ChannelOutcome::Sent, at(t)).unwrap();
        t += 61;
    }
    assert_eq!(rest, 2);
    assert!(a.pending_alerts(20).unwrap().is_empty());
}

#[test]
fn outcome_reasons_are_put_on_one_line_and_cut_at_a_character_boundary() {
    assert_eq!(
        bound_reason("refused\nby the platform"),
        "refused by the platform"
    );
    let long = "\u{1F4E1}".repeat(200);
    let cut = bound_reason(&long);
    assert!(cut.len() <= MAX_OUTCOME_REASON_BYTES, "{}", cut.len());
    assert!(cut.ends_with('\u{2026}'));
    assert!(cut
        .trim_end_matches('\u{2026}')
        .chars()
        .all(|c| c == '\u{1F4E1}'));
    assert_eq!(
        ActionOutcome::Failed {
            reason: long.clone()
        }
        .bounded(),
        ActionOutcome::Failed { reason: cut }
    );
    assert_eq!(
        ActionOutcome::CarriedOut.bounded(),
        ActionOutcome::CarriedOut
    );
}

#[test]
fn live_readings_that_repeat_are_dropped_and_a_refused_one_is_tried_again() {
    use portcullis_core::sim::{Rat, ServiceObservation, ServiceState};
    let mut a = agent();
    sim(&mut a, SimState::Ready, Some(ICCID_A), 1);
    let gsm = SimEvent::Service(ServiceObservation {
        slot: 0,
        state: ServiceState::InService,
        roaming: Some(false),
        rat: Some(Rat::Gsm),
    });
    let first = a.handle_reading(&gsm, at(2)).unwrap();
    assert_eq!(first.len(), 1, "downgrade_2g");
    assert!(
        a.handle_reading(&gsm, at(3)).unwrap().is_empty(),
        "a repeat"
    );
    let bad = SimEvent::Service(ServiceObservation {
        slot: 9,
        state: ServiceState::InService,
        roaming: None,
        rat: None,
    });
    assert!(a.handle_reading(&bad, at(4)).is_err(), "slot 9 refused");
    assert!(
        a.handle_reading(&bad, at(5)).is_err(),
        "refused again, not dropped as a repeat"
    );
}

#[test]
fn the_core_gives_the_outcome_of_actions_the_platform_must_not_carry_out() {
    use portcullis_core::compliance::{NotPossibleReason, Route};
    assert_eq!(
        ActionOutcome::without_agent(Route::Agent),
        None,
        "the platform's to do"
    );
    assert_eq!(
        ActionOutcome::without_agent(Route::Mdm),
        Some(ActionOutcome::HandedToMdm),
        "handed to the MDM, never reported done"
    );
    assert_eq!(
        ActionOutcome::without_agent(Route::NotPossible(NotPossibleReason::ApiLevel)),
        Some(ActionOutcome::NotPossible {
            reason: "not possible on this device: API_LEVEL".into()
        })
    );
}

#[test]
fn what_the_mdm_channel_answered_decides_an_mdm_actions_outcome() {
    assert_eq!(
        ActionOutcome::of_mdm_publication(&ChannelOutcome::Sent),
        Some(ActionOutcome::HandedToMdm),
        "the MDM's command carries it out: never reported done"
    );
    assert_eq!(
        ActionOutcome::of_mdm_publication(&ChannelOutcome::NoReceiver),
        Some(ActionOutcome::NotPossible {
            reason: "no MDM on this device reads app states".into()
        })
    );
    for retried in [
        ChannelOutcome::TooLarge,
        ChannelOutcome::Failed {
            reason: "timeout".into(),
        },
    ] {
        assert_eq!(
            ActionOutcome::of_mdm_publication(&retried),
            None,
            "{retried:?} leaves the action awaiting"
        );
    }
}
