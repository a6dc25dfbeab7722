//! Console instructions on the agent: the attack matrix of docs/instructions.md (each
//! row a test), what each kind does, and the sequence rule as a property.

mod policy_support;

use std::sync::Arc;

use policy_support::{device, key, root_with_operations, standard_root, DAY, T0};
use portcullis_core::agent::{ActionOutcome, InstructionAction, InstructionOutcome};
use portcullis_core::compliance::Route;
use portcullis_core::identity::IdentityKind;
use portcullis_core::instruction::{
    AuthorizeSimChange, CarrierCheck, CarrierOperation, CarrierRequest, InstructionBody,
    InstructionPayload, INSTRUCTION_PAYLOAD_TYPE, MAX_INSTRUCTION_BYTES,
};
use portcullis_core::policy::model::{IdentityPin, PinnedIdentity};
use portcullis_core::policy::{BundleScope, Envelope, PinKey, SigningKey};
use portcullis_core::sim::{CarrierApi, SimEvent, SimObservation, SimState};
use portcullis_core::{Agent, Alert, AlertKind, DeviceKey, Severity, SoftwareDeviceKey, Timestamp};
use proptest::prelude::*;

const HOUR: i64 = 3_600_000;
const ISSUED: &str = "8944110012345678901";
const REPLACEMENT: &str = "8944110012345679999";
const STRANGER: &str = "8944200098765432109";
const NUMBER: &str = "+447700900123";

fn device_key() -> Arc<dyn DeviceKey> {
    Arc::new(SoftwareDeviceKey::new(b"instruction-test-secret").unwrap())
}

fn pin_key() -> PinKey {
    PinKey::new(&PinKey::derive(device_key().as_ref()).unwrap())
}

fn pin(kind: IdentityKind, raw: &str) -> IdentityPin {
    pin_key().pin(kind, raw).unwrap()
}

/// An agent enrolled at T0 with a root whose operations role is keys 20-22 at `threshold`.
fn agent_with(threshold: u32) -> Agent {
    let mut agent = Agent::open_in_memory(device_key(), T0, [5; 32]).unwrap();
    let root = root_with_operations(1, threshold)
        .sign(&[&key(1), &key(2)])
        .unwrap();
    agent.install_trust_root(&root, device(), T0).unwrap();
    agent
}

fn agent() -> Agent {
    agent_with(1)
}

fn sim(iccid: &str) -> SimEvent {
    SimEvent::Sim(SimObservation {
        slot: 0,
        state: Some(SimState::Ready),
        iccid: Some(iccid.into()),
        msisdn: Some(NUMBER.into()),
        mcc_mnc: Some("23415".into()),
        ..SimObservation::default()
    })
}

fn absent() -> SimEvent {
    SimEvent::Sim(SimObservation {
        slot: 0,
        state: Some(SimState::Absent),
        ..SimObservation::default()
    })
}

/// An agent whose slot 0 has the issued SIM as baseline, one hour after T0.
fn agent_with_baseline() -> Agent {
    let mut a = agent();
    a.handle(&sim(ISSUED), T0.plus_millis(HOUR)).unwrap();
    a
}

fn payload(sequence: u64, body: InstructionBody) -> InstructionPayload {
    InstructionPayload {
        instruction_id: format!("i-{sequence}"),
        sequence,
        issued_at: T0.plus_millis(2 * HOUR),
        expires: T0.plus_millis(26 * HOUR),
        scope: BundleScope {
            devices: vec!["dev-0001".into()],
            groups: Vec::new(),
        },
        body,
    }
}

fn authorize(hours: i64) -> InstructionBody {
    InstructionBody::AuthorizeSimChange(AuthorizeSimChange {
        slot: Some(0),
        until: T0.plus_millis((2 + hours) * HOUR),
        reason: "ticket SEC-4411: planned replacement".into(),
        expected: None,
    })
}

fn signed(p: &InstructionPayload) -> Vec<u8> {
    p.sign(&[&key(20)]).unwrap()
}

/// Signs a payload without the signer's own checks: what a console that skipped them,
/// or a stolen key in a hand-made tool, would send.
fn hand_signed(p: &InstructionPayload) -> Vec<u8> {
    let mut envelope = Envelope::new(INSTRUCTION_PAYLOAD_TYPE, p.to_json());
    envelope.sign(&key(20));
    envelope.to_bytes()
}

fn at(hours: i64) -> Timestamp {
    T0.plus_millis(hours * HOUR)
}

fn kinds(alerts: &[Alert]) -> Vec<AlertKind> {
    alerts.iter().map(|a| a.finding.kind).collect()
}

/// Applies and expects a refusal with `code`; returns its alerts.
fn refused(agent: &mut Agent, envelope: &[u8], now: Timestamp, code: &str) -> Vec<Alert> {
    match agent.apply_instruction(envelope, now).unwrap() {
        InstructionOutcome::Refused(r) => {
            assert_eq!(r.code, code, "refused for {}", r.reason);
            r.alerts
        }
        other => panic!("expected a refusal ({code}), got {other:?}"),
    }
}

fn applied(
    agent: &mut Agent,
    envelope: &[u8],
    now: Timestamp,
) -> portcullis_core::agent::AppliedInstruction {
    match agent.apply_instruction(envelope, now).unwrap() {
        InstructionOutcome::Applied(a) => a,
        other => panic!("expected the instruction to apply, got {other:?}"),
    }
}

/// The attack matrix's promise for every refused authorisation: it changes nothing,
/// raises `instruction_refused` once, and a SIM replaced afterwards still raises
/// `sim_replaced` at CRITICAL.
fn assert_refused_authorisation(mut agent: Agent, envelope: &[u8], code: &str) {
    let sequence = agent.instruction_sequence();
    let alerts = refused(&mut agent, envelope, at(3), code);
    assert_eq!(kinds(&alerts), [AlertKind::InstructionRefused]);
    assert_eq!(alerts[0].severity, Severity::High);
    let evidence = format!("{:?}", alerts[0].finding.evidence);
    assert!(evidence.contains(code), "{evidence}");
    // Delivered again: journaled, no second alert.
    assert!(refused(&mut agent, envelope, at(3), code).is_empty());
    assert_eq!(agent.instruction_sequence(), sequence);
    agent.handle(&absent(), at(4)).unwrap();
    let replaced = agent.handle(&sim(REPLACEMENT), at(4)).unwrap();
    let replaced: Vec<_> = replaced
        .iter()
        .filter(|a| a.finding.kind == AlertKind::SimReplaced)
        .collect();
    assert_eq!(
        replaced.len(),
        1,
        "a refused authorisation silenced the guard"
    );
    assert_eq!(replaced[0].severity, Severity::Critical);
}

// ---------------------------------------------------------------------------------
// The attack matrix

#[test]
fn an_unsigned_authorisation_is_refused() {
    let envelope =
        Envelope::new(INSTRUCTION_PAYLOAD_TYPE, payload(1, authorize(2)).to_json()).to_bytes();
    assert_refused_authorisation(agent_with_baseline(), &envelope, "unsigned");
}

#[test]
fn an_altered_payload_fails_its_signature() {
    let good = Envelope::parse(&signed(&payload(1, authorize(2))), MAX_INSTRUCTION_BYTES).unwrap();
    let mut tampered = good.clone();
    // Stretch the window by editing the signed bytes.
    let text = String::from_utf8(tampered.payload.clone()).unwrap();
    tampered.payload = text.replace("T04:00:00Z", "T23:00:00Z").into_bytes();
    assert_ne!(tampered.payload, good.payload);
    assert_refused_authorisation(agent_with_baseline(), &tampered.to_bytes(), "bad_signature");
}

#[test]
fn a_forged_signature_is_refused() {
    let mut envelope =
        Envelope::parse(&signed(&payload(1, authorize(2))), MAX_INSTRUCTION_BYTES).unwrap();
    envelope.signatures[0].sig[7] ^= 0x40;
    assert_refused_authorisation(agent_with_baseline(), &envelope.to_bytes(), "bad_signature");
}

#[test]
fn a_key_outside_the_root_is_refused() {
    let stranger = SigningKey::from_seed(&[99; 32]).unwrap();
    let envelope = payload(1, authorize(2)).sign(&[&stranger]).unwrap();
    assert_refused_authorisation(agent_with_baseline(), &envelope, "unknown_key");
}

#[test]
fn a_policy_key_cannot_sign_an_instruction() {
    let envelope = payload(1, authorize(2)).sign(&[&key(10)]).unwrap();
    assert_refused_authorisation(agent_with_baseline(), &envelope, "unknown_key");
}

#[test]
fn signatures_below_the_threshold_are_refused() {
    let mut agent = agent_with(2);
    agent.handle(&sim(ISSUED), at(1)).unwrap();
    // One key signing twice counts once.
    let envelope = payload(1, authorize(2))
        .sign(&[&key(20), &key(20)])
        .unwrap();
    assert_refused_authorisation(agent, &envelope, "threshold");
    let mut agent = agent_with(2);
    let both = payload(1, authorize(2))
        .sign(&[&key(20), &key(21)])
        .unwrap();
    applied(&mut agent, &both, at(3));
}

#[test]
fn a_key_rotated_out_of_the_operations_role_is_refused() {
    let mut agent = agent_with_baseline();
    let mut next = root_with_operations(2, 1);
    let rotated_out = key(22).key_id();
    next.roles
        .operations
        .as_mut()
        .unwrap()
        .keyids
        .retain(|k| *k != rotated_out);
    next.keys.remove(&rotated_out);
    let signed_root = next.sign(&[&key(1), &key(2)]).unwrap();
    agent.apply_root_update(&signed_root, at(1)).unwrap();
    let envelope = payload(1, authorize(2)).sign(&[&key(22)]).unwrap();
    assert_refused_authorisation(agent, &envelope, "unknown_key");
}

#[test]
fn a_root_without_an_operations_role_accepts_none_until_a_rotation_adds_it() {
    let mut agent = Agent::open_in_memory(device_key(), T0, [5; 32]).unwrap();
    let v1 = standard_root(1).sign(&[&key(1), &key(2)]).unwrap();
    agent.install_trust_root(&v1, device(), T0).unwrap();
    agent.handle(&sim(ISSUED), at(1)).unwrap();
    let envelope = signed(&payload(1, authorize(2)));
    refused(&mut agent, &envelope, at(3), "no_operations_role");
    let v2 = root_with_operations(2, 1)
        .sign(&[&key(1), &key(2)])
        .unwrap();
    agent.apply_root_update(&v2, at(3)).unwrap();
    applied(&mut agent, &envelope, at(3));
}

#[test]
fn an_instruction_for_another_device_is_refused() {
    let mut p = payload(1, authorize(2));
    p.scope = BundleScope {
        devices: vec!["dev-9999".into()],
        groups: vec!["campaign-travel".into()],
    };
    assert_refused_authorisation(agent_with_baseline(), &signed(&p), "out_of_scope");
}

#[test]
fn an_instruction_for_the_devices_group_applies() {
    let mut p = payload(1, authorize(2));
    p.scope = BundleScope {
        devices: Vec::new(),
        groups: vec!["all-staff".into()],
    };
    applied(&mut agent_with_baseline(), &signed(&p), at(3));
}

#[test]
fn an_expired_instruction_is_refused_even_after_the_clock_moves_back() {
    let mut agent = agent_with_baseline();
    agent.handle(&SimEvent::Tick, at(30)).unwrap();
    // The phone's clock is moved back to a time the instruction was valid.
    let envelope = signed(&payload(1, authorize(2)));
    let alerts = refused(&mut agent, &envelope, at(3), "expired");
    assert_eq!(kinds(&alerts), [AlertKind::InstructionRefused]);
}

#[test]
fn a_replayed_or_rolled_back_sequence_is_refused() {
    let mut agent = agent_with_baseline();
    applied(
        &mut agent,
        &signed(&payload(5, InstructionBody::LockNow)),
        at(3),
    );
    // The same sequence with other content, and an older one, are refused.
    let replay = signed(&payload(5, authorize(2)));
    let rollback = signed(&payload(4, authorize(2)));
    assert_eq!(
        kinds(&refused(&mut agent, &replay, at(3), "replayed")),
        [AlertKind::InstructionRefused]
    );
    assert_refused_authorisation(agent, &rollback, "replayed");
}

#[test]
fn the_same_instruction_delivered_again_is_no_news() {
    let mut agent = agent_with_baseline();
    let first = signed(&payload(1, InstructionBody::LockNow));
    let lock = applied(&mut agent, &first, at(3));
    assert_eq!(lock.actions.len(), 1);
    let pending = agent.pending_alerts(100).unwrap().len();
    // Even with other valid signatures around the same payload.
    let mut resigned = Envelope::parse(&first, MAX_INSTRUCTION_BYTES).unwrap();
    resigned.sign(&key(21));
    for envelope in [first.clone(), resigned.to_bytes()] {
        assert_eq!(
            agent.apply_instruction(&envelope, at(4)).unwrap(),
            InstructionOutcome::Unchanged {
                instruction_id: "i-1".into(),
                sequence: 1
            }
        );
    }
    assert_eq!(agent.pending_alerts(100).unwrap().len(), pending);
}

#[test]
fn an_oversize_instruction_is_refused_before_parsing() {
    let envelope = vec![b' '; MAX_INSTRUCTION_BYTES + 1];
    assert_refused_authorisation(agent_with_baseline(), &envelope, "too_large");
}

#[test]
fn a_garbled_instruction_is_refused() {
    let good = signed(&payload(1, authorize(2)));
    for garbled in [
        b"not json".to_vec(),
        good[..good.len() / 2].to_vec(),
        String::from_utf8(good.clone())
            .unwrap()
            .replace("\":\"", "\": \"")
            .into_bytes(),
    ] {
        let mut agent = agent_with_baseline();
        refused(&mut agent, &garbled, at(3), "garbled");
    }
    assert_refused_authorisation(agent_with_baseline(), b"{}", "garbled");
}

#[test]
fn an_unknown_kind_is_refused_after_its_signature_checks() {
    let p = payload(1, InstructionBody::LockNow);
    let json = String::from_utf8(p.to_json())
        .unwrap()
        .replace("\"lock_now\"", "\"format_disk\"");
    let mut envelope = Envelope::new(INSTRUCTION_PAYLOAD_TYPE, json.into_bytes());
    envelope.sign(&key(20));
    assert_refused_authorisation(agent_with_baseline(), &envelope.to_bytes(), "unknown_kind");
}

#[test]
fn a_policy_bundle_offered_as_an_instruction_is_refused() {
    let bundle = policy_support::bundle(1);
    assert_refused_authorisation(agent_with_baseline(), &bundle, "wrong_type");
}

#[test]
fn windows_and_lifetimes_beyond_the_limits_are_refused() {
    // A window longer than 72 hours, signed by hand (the signer refuses to).
    let mut long = payload(1, authorize(73));
    long.expires = T0.plus_millis(80 * HOUR);
    assert!(long.sign(&[&key(20)]).is_err());
    assert_refused_authorisation(
        agent_with_baseline(),
        &hand_signed(&long),
        "invalid_instruction",
    );
    // A lifetime longer than 7 days is refused even when signed by hand.
    let mut p = payload(1, InstructionBody::LockNow);
    p.expires = p.issued_at.plus_millis(7 * DAY + 1);
    refused(
        &mut agent_with_baseline(),
        &hand_signed(&p),
        at(3),
        "invalid_instruction",
    );
    // Issued well ahead of the phone's clock: a pre-signed window would outlast its limit.
    let mut early = payload(1, authorize(2));
    early.issued_at = at(10);
    early.expires = at(20);
    if let InstructionBody::AuthorizeSimChange(a) = &mut early.body {
        a.until = at(12);
    }
    assert_refused_authorisation(
        agent_with_baseline(),
        &signed(&early),
        "invalid_instruction",
    );
}

#[test]
fn a_policy_can_lower_the_window_limit() {
    let mut agent = agent_with_baseline();
    let mut bundle = policy_support::payload(1);
    bundle.policy.instructions.max_sim_change_window_hours = 4;
    bundle.policy.instructions.max_lifetime_hours = 48;
    agent
        .apply_policy(&bundle.sign(&[&key(10)]).unwrap(), at(1))
        .unwrap();
    refused(
        &mut agent,
        &signed(&payload(1, authorize(5))),
        at(3),
        "invalid_instruction",
    );
    applied(&mut agent, &signed(&payload(2, authorize(4))), at(3));
}

#[test]
fn identifiers_in_free_text_are_refused_by_the_signer_and_the_phone() {
    let mut p = payload(1, authorize(2));
    if let InstructionBody::AuthorizeSimChange(a) = &mut p.body {
        a.reason = "swap for 8944 1100 1234 5678 901".into();
    }
    let err = p.sign(&[&key(20)]).unwrap_err().to_string();
    assert!(
        err.contains("body.reason") && !err.contains("8944"),
        "{err}"
    );
    let mut agent = agent_with_baseline();
    let alerts = refused(&mut agent, &hand_signed(&p), at(3), "invalid_instruction");
    let text = format!("{:?}", alerts[0].finding);
    assert!(!text.contains("8944"), "{text}");
}

// ---------------------------------------------------------------------------------
// What each kind does

#[test]
fn a_signed_authorisation_opens_a_window_the_team_sees_at_once() {
    let mut agent = agent_with_baseline();
    let a = applied(&mut agent, &signed(&payload(1, authorize(2))), at(3));
    assert_eq!(kinds(&a.alerts), [AlertKind::SimChangeWindowOpened]);
    assert_eq!(a.alerts[0].severity, Severity::Info);
    assert!(a.actions.is_empty());
    agent.handle(&absent(), at(3)).unwrap();
    let alerts = agent.handle(&sim(REPLACEMENT), at(3)).unwrap();
    assert_eq!(kinds(&alerts), [AlertKind::SimChangeAuthorized]);
    // After the window, the authorised SIM is the baseline and a further change alerts.
    let later = agent.handle(&sim(STRANGER), at(10)).unwrap();
    assert!(kinds(&later).contains(&AlertKind::SimReplaced));
}

#[test]
fn a_window_naming_the_expected_sim_accepts_only_that_sim() {
    let mut agent = agent_with_baseline();
    let mut p = payload(1, authorize(2));
    if let InstructionBody::AuthorizeSimChange(a) = &mut p.body {
        a.expected = Some(PinnedIdentity {
            iccid: Some(pin(IdentityKind::Iccid, REPLACEMENT)),
            imsi: None,
            msisdn: None,
        });
    }
    applied(&mut agent, &signed(&p), at(3));
    // A stranger's SIM inside the window is still a replacement.
    let alerts = agent.handle(&sim(STRANGER), at(3)).unwrap();
    assert_eq!(kinds(&alerts), [AlertKind::SimReplaced]);
    assert_eq!(alerts[0].severity, Severity::Critical);
    // The SIM the office named becomes the baseline.
    let alerts = agent.handle(&sim(REPLACEMENT), at(3)).unwrap();
    assert_eq!(kinds(&alerts), [AlertKind::SimChangeAuthorized]);
    assert!(agent.handle(&sim(REPLACEMENT), at(6)).unwrap().is_empty());
}

#[test]
fn revoking_closes_every_open_window() {
    let mut agent = agent_with_baseline();
    applied(&mut agent, &signed(&payload(1, authorize(10))), at(3));
    applied(
        &mut agent,
        &signed(&payload(2, InstructionBody::RevokeAuthorizations)),
        at(3),
    );
    agent.handle(&absent(), at(4)).unwrap();
    let alerts = agent.handle(&sim(REPLACEMENT), at(4)).unwrap();
    assert_eq!(kinds(&alerts), [AlertKind::SimReplaced]);
}

fn carrier(sequence: u64, api: CarrierApi, operation: CarrierOperation, response: &str) -> Vec<u8> {
    signed(&payload(
        sequence,
        InstructionBody::CarrierCheck(CarrierCheck {
            api,
            operation,
            line: Some(pin(IdentityKind::PhoneNumber, NUMBER)),
            checked_at: at(3),
            request: CarrierRequest::default(),
            response: response.into(),
        }),
    ))
}

#[test]
fn carrier_checks_are_judged_as_the_camara_specs_define_them() {
    let mut agent = agent_with_baseline();
    let swap = carrier(
        1,
        CarrierApi::SimSwap,
        CarrierOperation::RetrieveDate,
        r#"{"latestSimChange": "2026-03-01T02:30:00.312+00:00", "extra": [1, 2]}"#,
    );
    let a = applied(&mut agent, &swap, at(3));
    assert_eq!(kinds(&a.alerts), [AlertKind::CarrierReportedSwap]);
    assert_eq!(
        a.alerts[0].finding.slot,
        Some(0),
        "the line pin names slot 0"
    );
    // The same date again is the same condition.
    let again = carrier(
        2,
        CarrierApi::SimSwap,
        CarrierOperation::RetrieveDate,
        r#"{"latestSimChange":"2026-03-01T02:30:00.312Z"}"#,
    );
    assert!(applied(&mut agent, &again, at(3)).alerts.is_empty());
    // "No change during 120 days" clears it; a new date raises it again.
    let clear = carrier(
        3,
        CarrierApi::SimSwap,
        CarrierOperation::RetrieveDate,
        r#"{"latestSimChange":null,"monitoredPeriod":120}"#,
    );
    assert!(applied(&mut agent, &clear, at(3)).alerts.is_empty());
    let new = carrier(
        4,
        CarrierApi::SimSwap,
        CarrierOperation::Check,
        r#"{"swapped":true}"#,
    );
    assert_eq!(
        kinds(&applied(&mut agent, &new, at(3)).alerts),
        [AlertKind::CarrierReportedSwap]
    );
    // The activation date before enrollment stays silent.
    let old = carrier(
        5,
        CarrierApi::DeviceSwap,
        CarrierOperation::RetrieveDate,
        r#"{"latestDeviceChange":"2025-12-01T10:00:00Z"}"#,
    );
    assert!(applied(&mut agent, &old, at(3)).alerts.is_empty());
    // A device change after enrollment: the SIM is in another handset.
    let moved = carrier(
        6,
        CarrierApi::DeviceSwap,
        CarrierOperation::RetrieveDate,
        r#"{"latestDeviceChange":"2026-03-01T02:40:00Z"}"#,
    );
    let a = applied(&mut agent, &moved, at(3));
    assert_eq!(kinds(&a.alerts), [AlertKind::CarrierReportedDeviceSwap]);
    assert_eq!(a.alerts[0].severity, Severity::Critical);
    // A null date without a monitored period tells nothing: no alert, nothing cleared.
    let unknown = carrier(
        7,
        CarrierApi::DeviceSwap,
        CarrierOperation::RetrieveDate,
        r#"{"latestDeviceChange":null}"#,
    );
    assert!(applied(&mut agent, &unknown, at(3)).alerts.is_empty());
}

#[test]
fn a_response_the_spec_does_not_allow_is_refused() {
    let mut agent = agent_with_baseline();
    for (i, bad) in [
        r#"{"latestSimChange":"yesterday"}"#,
        r#"{"monitoredPeriod":120}"#,
        r#"{"swapped":"yes"}"#,
        r#"[]"#,
    ]
    .iter()
    .enumerate()
    {
        let op = if i == 2 {
            CarrierOperation::Check
        } else {
            CarrierOperation::RetrieveDate
        };
        let mut p = payload(i as u64 + 1, InstructionBody::LockNow);
        p.body = InstructionBody::CarrierCheck(CarrierCheck {
            api: CarrierApi::SimSwap,
            operation: op,
            line: None,
            checked_at: at(3),
            request: CarrierRequest::default(),
            response: (*bad).into(),
        });
        let code = if i == 0 {
            "invalid_instruction"
        } else {
            "unparsable"
        };
        refused(&mut agent, &hand_signed(&p), at(3), code);
    }
}

#[test]
fn a_carrier_swap_inside_an_authorised_window_is_covered_only_once_its_sim_was_seen() {
    let mut agent = agent_with_baseline();
    let mut p = payload(1, authorize(4));
    if let InstructionBody::AuthorizeSimChange(a) = &mut p.body {
        a.expected = Some(PinnedIdentity {
            iccid: Some(pin(IdentityKind::Iccid, REPLACEMENT)),
            imsi: None,
            msisdn: None,
        });
    }
    applied(&mut agent, &signed(&p), at(2));
    let during = |seq| {
        carrier(
            seq,
            CarrierApi::SimSwap,
            CarrierOperation::RetrieveDate,
            r#"{"latestSimChange":"2026-03-01T02:30:00Z"}"#,
        )
    };
    // The office's SIM has not appeared: the carrier's swap is someone else's.
    assert_eq!(
        kinds(&applied(&mut agent, &during(2), at(3)).alerts),
        [AlertKind::CarrierReportedSwap]
    );
    agent.handle(&sim(REPLACEMENT), at(3)).unwrap();
    let clear = carrier(
        3,
        CarrierApi::SimSwap,
        CarrierOperation::RetrieveDate,
        r#"{"latestSimChange":null,"monitoredPeriod":1}"#,
    );
    applied(&mut agent, &clear, at(3));
    assert!(applied(&mut agent, &during(4), at(3)).alerts.is_empty());
}

#[test]
fn playbook_actions_are_handed_out_once_and_their_outcomes_reported() {
    let mut agent = agent_with_baseline();
    let lock = applied(
        &mut agent,
        &signed(&payload(1, InstructionBody::LockNow)),
        at(3),
    );
    assert_eq!(lock.actions.len(), 1);
    assert_eq!(lock.actions[0].action, InstructionAction::LockNow);
    assert_eq!(lock.actions[0].route, Route::Agent);
    let wipe = applied(
        &mut agent,
        &signed(&payload(
            2,
            InstructionBody::WipeDevice { preserve_frp: true },
        )),
        at(3),
    );
    assert_eq!(
        wipe.actions[0].action,
        InstructionAction::WipeDevice { preserve_frp: true }
    );
    assert_eq!(agent.actions_awaiting_outcome().len(), 2);
    let alerts = agent
        .report_action_outcome("i-1", ActionOutcome::CarriedOut, at(3))
        .unwrap();
    assert_eq!(kinds(&alerts), [AlertKind::InstructionOutcome]);
    assert_eq!(alerts[0].severity, Severity::Info);
    let failed = agent
        .report_action_outcome(
            "i-2",
            ActionOutcome::Failed {
                reason: "not device owner".into(),
            },
            at(3),
        )
        .unwrap();
    assert_eq!(failed[0].severity, Severity::High);
    // Each outcome once; an unknown id is an error naming the field.
    let err = agent
        .report_action_outcome("i-1", ActionOutcome::CarriedOut, at(3))
        .unwrap_err();
    assert!(
        matches!(&err, portcullis_core::Error::InvalidInput { field, .. } if field == "action_id"),
        "{err}"
    );
    assert!(agent.actions_awaiting_outcome().is_empty());
    // A reason carrying an identifier is refused, and nothing is taken.
    applied(
        &mut agent,
        &signed(&payload(3, InstructionBody::LockNow)),
        at(3),
    );
    let err = agent
        .report_action_outcome(
            "i-3",
            ActionOutcome::NotPossible {
                reason: "SIM 8944110012345678901 locked".into(),
            },
            at(3),
        )
        .unwrap_err();
    assert!(!err.to_string().contains("8944"));
    assert_eq!(agent.actions_awaiting_outcome().len(), 1);
}

#[test]
fn notices_inspections_and_key_rotation_reach_the_native_layer() {
    let mut agent = agent_with_baseline();
    let notice = InstructionBody::ShowNotice {
        title: "Bring your phone to the office".into(),
        body: "The security team needs to inspect it today.\nThank you.".into(),
    };
    let a = applied(&mut agent, &signed(&payload(1, notice)), at(3));
    assert!(
        matches!(&a.actions[0].action, InstructionAction::ShowNotice { title, .. } if title.starts_with("Bring"))
    );
    let terminal = InstructionBody::ShowNotice {
        title: "\u{1b}[2JClean".into(),
        body: "ok".into(),
    };
    refused(
        &mut agent,
        &hand_signed(&payload(2, terminal)),
        at(3),
        "invalid_instruction",
    );

    let before = agent.checkpoint(at(3)).unwrap();
    let r = applied(
        &mut agent,
        &signed(&payload(3, InstructionBody::RotateKeys)),
        at(4),
    );
    assert_eq!(r.actions[0].action, InstructionAction::RotateKeys);
    let after = agent.checkpoint(at(5)).unwrap();
    assert!(
        after.epoch > before.epoch,
        "rotate_keys starts a new journal epoch"
    );

    let inspect = InstructionBody::StartInspection {
        reason: "credible notification from the carrier".into(),
    };
    let s = applied(&mut agent, &signed(&payload(4, inspect)), at(5));
    assert!(matches!(
        s.actions[0].action,
        InstructionAction::StartInspection { .. }
    ));
}

#[test]
fn start_inspection_opens_a_window_when_inspections_are_scheduled() {
    let mut agent = agent_with_baseline();
    agent
        .apply_policy(&policy_support::bundle(1), at(1))
        .unwrap();
    assert!(agent.open_inspection_window().is_none());
    let inspect = InstructionBody::StartInspection {
        reason: "credible notification".into(),
    };
    applied(&mut agent, &signed(&payload(1, inspect)), at(3));
    assert!(agent.open_inspection_window().is_some());
}

#[test]
fn the_sequence_and_awaited_outcomes_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agent.db");
    {
        let mut agent = Agent::open(&db, device_key(), T0, [5; 32]).unwrap();
        let root = root_with_operations(1, 1)
            .sign(&[&key(1), &key(2)])
            .unwrap();
        agent.install_trust_root(&root, device(), T0).unwrap();
        applied(
            &mut agent,
            &signed(&payload(7, InstructionBody::LockNow)),
            at(3),
        );
    }
    let mut agent = Agent::open(&db, device_key(), at(4), [5; 32]).unwrap();
    assert_eq!(agent.instruction_sequence(), 7);
    assert_eq!(agent.actions_awaiting_outcome().len(), 1);
    refused(
        &mut agent,
        &signed(&payload(6, InstructionBody::LockNow)),
        at(4),
        "replayed",
    );
    assert_eq!(
        agent
            .apply_instruction(&signed(&payload(7, InstructionBody::LockNow)), at(4))
            .unwrap(),
        InstructionOutcome::Unchanged {
            instruction_id: "i-7".into(),
            sequence: 7
        }
    );
}

#[test]
fn a_managed_list_applies_in_sequence_order_and_is_harmless_when_redelivered() {
    let mut agent = agent_with_baseline();
    let list = vec![
        signed(&payload(3, InstructionBody::LockNow)),
        signed(&payload(1, authorize(2))),
        b"garbage".to_vec(),
        signed(&payload(2, InstructionBody::RevokeAuthorizations)),
    ];
    let first = agent.apply_instruction_list(&list, at(3)).unwrap();
    let applied_count = first
        .iter()
        .filter(|o| matches!(o, InstructionOutcome::Applied(_)))
        .count();
    assert_eq!(applied_count, 3, "{first:?}");
    assert_eq!(agent.instruction_sequence(), 3);
    let again = agent.apply_instruction_list(&list, at(4)).unwrap();
    assert!(again
        .iter()
        .all(|o| matches!(o, InstructionOutcome::Unchanged { .. })
            || matches!(o, InstructionOutcome::Refused(r) if r.alerts.is_empty())));
}

#[test]
fn apply_needs_an_enrolled_device() {
    let mut agent = Agent::open_in_memory(device_key(), T0, [5; 32]).unwrap();
    let err = agent
        .apply_instruction(&signed(&payload(1, InstructionBody::LockNow)), at(3))
        .unwrap_err();
    assert!(matches!(err, portcullis_core::Error::NotEnrolled), "{err}");
}

#[test]
fn the_journal_records_every_instruction_and_verifies() {
    let mut agent = agent_with_baseline();
    applied(&mut agent, &signed(&payload(1, authorize(2))), at(3));
    let stranger = SigningKey::from_seed(&[99; 32]).unwrap();
    refused(
        &mut agent,
        &payload(2, authorize(2)).sign(&[&stranger]).unwrap(),
        at(3),
        "unknown_key",
    );
    assert!(matches!(
        agent.verify_journal(Default::default()).unwrap(),
        portcullis_core::journal::Verdict::Intact { .. }
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// For any order of instructions (redeliveries included), the accepted ones are
    /// exactly those whose sequence exceeds every one accepted before.
    #[test]
    fn accepted_instructions_are_exactly_the_new_highest_sequences(
        sequences in prop::collection::vec((1u64..24, any::<bool>()), 1..24)
    ) {
        let mut agent = agent();
        let mut highest = 0u64;
        let mut seen = std::collections::BTreeSet::new();
        for (seq, lock) in sequences {
            let body = if lock { InstructionBody::LockNow } else { InstructionBody::RevokeAuthorizations };
            let envelope = signed(&payload(seq, body));
            let outcome = agent.apply_instruction(&envelope, at(3)).unwrap();
            let again = seen.contains(&envelope);
            match outcome {
                InstructionOutcome::Applied(a) => {
                    prop_assert!(seq > highest, "accepted {} after {}", seq, highest);
                    prop_assert_eq!(a.sequence, seq);
                    highest = seq;
                    seen.insert(envelope);
                }
                InstructionOutcome::Unchanged { sequence, .. } => {
                    prop_assert!(again);
                    prop_assert_eq!(sequence, seq);
                }
                InstructionOutcome::Refused(r) => {
                    prop_assert!(seq <= highest && !again, "refused {} ({}) above {}", seq, r.code, highest);
                    prop_assert_eq!(r.code, "replayed");
                }
            }
            prop_assert_eq!(agent.instruction_sequence(), highest);
        }
    }
}

#[test]
fn an_action_handed_to_the_mdm_is_never_reported_as_done() {
    let mut agent = agent_with_baseline();
    applied(
        &mut agent,
        &signed(&payload(
            1,
            InstructionBody::WipeDevice { preserve_frp: true },
        )),
        at(3),
    );
    let alerts = agent
        .report_action_outcome("i-1", ActionOutcome::HandedToMdm, at(3))
        .unwrap();
    let f = &alerts[0].finding;
    assert_eq!(f.kind, AlertKind::InstructionOutcome);
    assert!(
        f.summary.contains("handed to the MDM") && !f.summary.contains("carried out"),
        "{}",
        f.summary
    );
    assert!(f
        .evidence
        .contains(&("outcome".to_owned(), "handed_to_mdm".to_owned())));
}

#[test]
fn a_sequence_beyond_its_issue_time_cannot_lock_the_console_out() {
    let mut agent = agent_with_baseline();
    let mut p = payload(u64::MAX, InstructionBody::LockNow);
    assert!(p.sign(&[&key(20)]).is_err());
    refused(&mut agent, &hand_signed(&p), at(3), "invalid_instruction");
    // The most a stolen key can do is run the sequence up to its issue time (at most an
    // hour ahead of the phone); the console's next instruction signed later still applies.
    p.sequence = at(2).as_unix_millis() as u64;
    applied(&mut agent, &signed(&p), at(3));
    let mut next = payload(at(4).as_unix_millis() as u64, InstructionBody::LockNow);
    next.issued_at = at(4);
    next.expires = at(20);
    applied(&mut agent, &signed(&next), at(4));
}

/// An agent with the baseline policy in force that judged a snapshot showing `snapshot`'s
/// capabilities.
fn agent_reporting(snapshot: serde_json::Value) -> Agent {
    let mut agent = agent_with_baseline();
    let mut p = policy_support::payload(1);
    p.policy = portcullis_core::policy::Policy::from_json(
        &std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/baseline.json"),
        )
        .unwrap(),
    )
    .unwrap();
    agent
        .apply_policy(&p.sign(&[&key(10)]).unwrap(), at(1))
        .unwrap();
    agent
        .evaluate_compliance(snapshot.to_string().as_bytes(), at(2))
        .unwrap();
    agent
}

fn routes_of(agent: &mut Agent, first: u64) -> Vec<(InstructionAction, Route)> {
    [
        InstructionBody::LockNow,
        InstructionBody::WipeDevice { preserve_frp: true },
        InstructionBody::WipeWorkData { preserve_frp: true },
        InstructionBody::ShowNotice {
            title: "Travel".into(),
            body: "Keep the phone with you".into(),
        },
    ]
    .into_iter()
    .enumerate()
    .flat_map(|(i, body)| {
        applied(agent, &signed(&payload(first + i as u64, body)), at(3))
            .actions
            .into_iter()
            .map(|a| (a.action, a.route))
    })
    .collect()
}

#[test]
fn instruction_actions_route_by_the_reported_capabilities() {
    use portcullis_core::compliance::NotPossibleReason;
    let lock = InstructionAction::LockNow;
    let wipe = InstructionAction::WipeDevice { preserve_frp: true };
    let work = InstructionAction::WipeWorkData { preserve_frp: true };
    let notice = InstructionAction::ShowNotice {
        title: "Travel".into(),
        body: "Keep the phone with you".into(),
    };
    // Owner: lock and wipe by the agent; a fully managed phone has no separate work
    // data, so that one is not handed out but reported at once, with its reason.
    let mut owner = agent_reporting(serde_json::json!({
        "schema": "portcullis/snapshot/v1", "platform": "android", "deviceOwner": true,
        "os": {"apiLevel": 34}}));
    assert_eq!(
        routes_of(&mut owner, 1),
        [
            (lock.clone(), Route::Agent),
            (wipe.clone(), Route::Agent),
            (notice.clone(), Route::Agent)
        ]
    );
    let outcome = owner
        .pending_alerts(100)
        .unwrap()
        .into_iter()
        .find(|a| {
            a.finding.kind == AlertKind::InstructionOutcome
                && a.finding
                    .evidence
                    .contains(&("action".to_owned(), "wipe_work_data".to_owned()))
        })
        .expect("the work-data wipe is reported not possible");
    assert!(outcome.finding.evidence.contains(&(
        "reason".to_owned(),
        NotPossibleReason::NoWorkData.as_str().to_owned()
    )));
    assert!(owner
        .actions_awaiting_outcome()
        .iter()
        .all(|a| a.action != work));

    // Companion with every scope: lock and wipes stay with the EMM.
    let mut companion = agent_reporting(serde_json::json!({
        "schema": "portcullis/snapshot/v1", "platform": "android",
        "delegatedScopes": ["PACKAGE_ACCESS", "BLOCK_UNINSTALL", "CERT_INSTALL",
            "MANAGED_CONFIGURATIONS", "NETWORK_ACTIVITY_LOGS", "SECURITY_LOGS"],
        "os": {"apiLevel": 33}}));
    assert_eq!(
        routes_of(&mut companion, 1),
        [
            (lock.clone(), Route::Mdm),
            (wipe.clone(), Route::Mdm),
            (work.clone(), Route::Mdm),
            (notice.clone(), Route::Agent)
        ]
    );

    // iOS, supervised or not: the MDM's commands.
    for supervised in [true, false] {
        let mut ios = agent_reporting(serde_json::json!({
            "schema": "portcullis/snapshot/v1", "platform": "ios", "supervised": supervised}));
        assert_eq!(
            routes_of(&mut ios, 1),
            [
                (lock.clone(), Route::Mdm),
                (wipe.clone(), Route::Mdm),
                (work.clone(), Route::Mdm),
                (notice.clone(), Route::Agent)
            ],
            "supervised: {supervised}"
        );
    }
}
