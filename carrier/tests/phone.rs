//! What the watch writes is what a phone accepts: each instruction passes the core's
//! own verification (operations-role signature, limits, scope, expiry) with increasing
//! sequences, and its carrier answer reads as the change the carrier reported.

mod support;

use portcullis_carrier::camara::Api;
use portcullis_carrier::output::Trigger;
use portcullis_core::instruction::{verify, InstructionBody, Ledger, Verification};
use portcullis_core::policy::model::InstructionRules;
use portcullis_core::policy::{DeviceScope, TrustRoot, TrustedState};
use portcullis_core::sim::CarrierVerdict;
use portcullis_core::Timestamp;
use serde_json::json;
use support::*;

#[tokio::test]
async fn the_phone_accepts_every_instruction_the_watch_writes() {
    let recent = (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(2)).to_string();
    let recent_for_server = recent.clone();
    let carrier = Carrier::start(move |req| match req.path.as_str() {
        "/token" => Reply::token("tok", 3600),
        "/sim-swap/v2/retrieve-date" if req.nth == 0 => Reply::json(
            200,
            json!({"latestSimChange": null, "monitoredPeriod": 120}),
        ),
        "/sim-swap/v2/retrieve-date" => {
            Reply::json(200, json!({ "latestSimChange": recent_for_server }))
        }
        _ => Reply::json(200, json!({"latestDeviceChange": null})),
    })
    .await;
    let dir = RosterDir::new(
        &[(
            "acme",
            carrier_block(&carrier.url(""), "client_credentials", 4),
        )],
        &[TestLine {
            device: "minister-01",
            phone: "+447700900123",
            carrier: "acme",
            check_max_age: None,
        }],
    );
    let trust = TrustedState::from_root(TrustRoot::single_key(
        operations_key().public_key(),
        "carrier watch test",
    ))
    .unwrap();
    let device = DeviceScope {
        device_id: "minister-01".into(),
        groups: vec![],
    };
    let mut ledger = Ledger::default();
    let (mut w, alerts) = watch(&dir, quick_http());
    let mut verdicts = Vec::new();
    for _ in 0..2 {
        let r = w.pass(None, Trigger::Poll).await.unwrap();
        assert_eq!(r.answered, 2, "{:?}", r.failures);
        let bytes = std::fs::read(w.instruction_path("minister-01", Api::SimSwap)).unwrap();
        let now = Timestamp::parse_rfc3339(&jiff::Timestamp::now().to_string()).unwrap();
        let verified = match verify(
            &trust,
            &ledger,
            &bytes,
            now,
            &device,
            &InstructionRules::default(),
        )
        .unwrap()
        {
            Verification::Accepted(v) => v,
            other @ Verification::Redelivered { .. } => panic!("not accepted: {other:?}"),
        };
        ledger.accept(&verified);
        let InstructionBody::CarrierCheck(check) = &verified.payload.body else {
            panic!("not a carrier check");
        };
        verdicts.push(check.verdict().unwrap());
    }
    assert_eq!(verdicts[0], CarrierVerdict::NoChange);
    assert_eq!(
        verdicts[1],
        CarrierVerdict::Changed {
            at: Timestamp::parse_rfc3339(&recent)
        }
    );
    // Another device's phone refuses it (scope).
    let bytes = std::fs::read(w.instruction_path("minister-01", Api::SimSwap)).unwrap();
    let other = DeviceScope {
        device_id: "someone-else".into(),
        groups: vec![],
    };
    let now = Timestamp::parse_rfc3339(&jiff::Timestamp::now().to_string()).unwrap();
    assert!(verify(
        &trust,
        &Ledger::default(),
        &bytes,
        now,
        &other,
        &InstructionRules::default()
    )
    .is_err());
    let found = alerts.alerts();
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0]["finding_info"]["types"],
        json!(["carrier_reported_swap"])
    );
    carrier.assert_conformant();
}
