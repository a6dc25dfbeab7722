//! `carrier listen`: CloudEvents from the SIM Swap Subscriptions contract, posted to
//! the sink, make the watch check the line at once.

mod support;

use std::sync::Arc;
use std::time::Duration;

use portcullis_carrier::listen::{work, Listener};
use portcullis_carrier::subscribe::{SubscriptionRecord, Subscriptions};
use serde_json::{json, Value};
use support::*;

const NUMBER: &str = "+447700900123";
const SINK_TOKEN: &str = "sink-bearer-token-for-tests";

struct Setup {
    _carrier: Carrier,
    dir: RosterDir,
    url: String,
    alerts: Captured,
    client: reqwest::Client,
    spec: Spec,
}

async fn setup(latest_sim_change: Value) -> Setup {
    let carrier = Carrier::start(move |req| match req.path.as_str() {
        "/token" => Reply::token("tok", 3600),
        p if p.starts_with("/sim-swap") => {
            Reply::json(200, json!({ "latestSimChange": latest_sim_change }))
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
            phone: NUMBER,
            carrier: "acme",
            check_max_age: None,
        }],
    );
    let roster_path = dir.path();
    let mut text = std::fs::read_to_string(&roster_path).unwrap();
    text.push_str("[listen]\nsink = \"https://console.example/carrier/notify\"\nsink_token = { file = \"sink.token\" }\n");
    std::fs::write(&roster_path, text).unwrap();
    std::fs::write(dir.dir.path().join("sink.token"), SINK_TOKEN).unwrap();
    let mut subs = Subscriptions::default();
    subs.devices.insert(
        "minister-01".into(),
        SubscriptionRecord {
            id: "2ghy-55gg-7iup-yuo9".into(),
            expires_at: None,
        },
    );
    subs.save(&dir.out()).unwrap();

    let (w, alerts) = watch(&dir, quick_http());
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let listener = Listener::new(Arc::new(w.roster().clone()), dir.out(), tx).unwrap();
    tokio::spawn(work(w, rx));
    let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/carrier/notify", socket.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(socket, listener.router()).await.unwrap() });
    Setup {
        _carrier: carrier,
        dir,
        url,
        alerts,
        client: reqwest::Client::new(),
        spec: Spec::load("sim-swap-subscriptions.yaml"),
    }
}

impl Setup {
    /// Posts an event (checked against the contract first) and returns the status.
    async fn post(&self, event: &Value, token: &str) -> u16 {
        assert_eq!(
            self.spec.check_schema("CloudEvent", event),
            Vec::<String>::new()
        );
        let resp = self
            .client
            .post(&self.url)
            .bearer_auth(token)
            .header("content-type", "application/cloudevents+json")
            .body(event.to_string())
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let body = resp.bytes().await.unwrap();
        if status != 204 {
            let v: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(
                self.spec.check_schema("ErrorInfo", &v),
                Vec::<String>::new()
            );
            assert_eq!(v["status"], status);
        }
        status
    }

    async fn wait_for_alerts(&self, n: usize) -> Vec<Value> {
        for _ in 0..100 {
            let a = self.alerts.alerts();
            if a.len() >= n {
                return a;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("expected {n} alert(s), have {:?}", self.alerts.alerts());
    }
}

fn swapped(spec: &Spec, id: &str, time: &str) -> Value {
    let mut e = spec.example("SWAPPED");
    e["id"] = id.into();
    e["time"] = time.into();
    e["data"]["phoneNumber"] = NUMBER.into();
    e
}

#[tokio::test]
async fn a_swapped_event_checks_the_line_at_once_and_alerts_once() {
    let recent = (jiff::Timestamp::now() - jiff::SignedDuration::from_mins(5)).to_string();
    let s = setup(json!(recent)).await;
    let event = swapped(&s.spec, "evt-1", &recent);
    assert_eq!(s.post(&event, SINK_TOKEN).await, 204);
    let alerts = s.wait_for_alerts(1).await;
    assert_eq!(
        alerts[0]["finding_info"]["types"],
        json!(["carrier_reported_swap"])
    );
    assert_eq!(
        alerts[0]["evidences"][0]["data"]["trigger"],
        "carrier_notification"
    );
    let p = instruction(&s.dir.out().join("minister-01.carrier_check.sim_swap.json"));
    assert_eq!(p["body"]["response"], json!({ "latestSimChange": recent }));
    // A redelivery of the same event does nothing more.
    assert_eq!(s.post(&event, SINK_TOKEN).await, 204);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(s.alerts.alerts().len(), 1);
}

#[tokio::test]
async fn a_notification_ahead_of_the_carriers_records_still_alerts() {
    // The carrier's retrieve-date still shows an old date: the event itself alerts.
    let s = setup(json!("2024-09-18T07:37:53Z")).await;
    let now = jiff::Timestamp::now().to_string();
    assert_eq!(
        s.post(&swapped(&s.spec, "evt-2", &now), SINK_TOKEN).await,
        204
    );
    let alerts = s.wait_for_alerts(1).await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        alerts[0]["evidences"][0]["data"]["trigger"],
        "carrier_notification"
    );
    assert_eq!(
        alerts[0]["evidences"][0]["data"]["previous_change"],
        "2024-09-18T07:37:53Z"
    );
}

#[tokio::test]
async fn the_sink_credential_is_required_and_unknown_subscriptions_are_gone() {
    let s = setup(json!(null)).await;
    let now = jiff::Timestamp::now().to_string();
    assert_eq!(
        s.post(&swapped(&s.spec, "evt-3", &now), "wrong-token")
            .await,
        401
    );
    let mut unknown = swapped(&s.spec, "evt-4", &now);
    unknown["data"] = json!({"subscriptionId": "not-ours"});
    assert_eq!(s.post(&unknown, SINK_TOKEN).await, 410);
    let resp = s
        .client
        .post(&s.url)
        .bearer_auth(SINK_TOKEN)
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let big = "x".repeat(100_000);
    let resp = s
        .client
        .post(&s.url)
        .bearer_auth(SINK_TOKEN)
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 413);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(s.alerts.alerts().is_empty());
}

#[tokio::test]
async fn subscription_ended_forgets_the_subscription() {
    let s = setup(json!(null)).await;
    let mut ended = s.spec.example("SUBSCRIPTION_ENDS");
    ended["data"]["phoneNumber"] = NUMBER.into();
    assert_eq!(s.post(&ended, SINK_TOKEN).await, 204);
    assert!(Subscriptions::load(&s.dir.out())
        .unwrap()
        .devices
        .is_empty());
}
