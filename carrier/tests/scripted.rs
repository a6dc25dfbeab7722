//! The watch against a scripted loopback carrier. Every answer the carrier gives is
//! checked against the CAMARA contract in `../shared/camara/` (and every request the
//! watch sends too), so these sequences are ones a real carrier may produce.

mod support;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use portcullis_carrier::camara::Api;
use portcullis_carrier::error::CarrierError;
use portcullis_carrier::output::Trigger;
use serde_json::json;
use support::*;

const A: &str = "+447700900123";
const B: &str = "+447700900145";
const C: &str = "+447700900167";

fn digits(n: &str) -> &str {
    &n[3..]
}

/// An RFC 3339 time `hours` before now.
fn hours_ago(hours: i64) -> String {
    let now = jiff::Timestamp::now();
    (now - jiff::SignedDuration::from_hours(hours)).to_string()
}

fn token_or(req: &Req, f: impl Fn(&Req) -> Reply) -> Reply {
    if req.path == "/token" {
        Reply::token("tok-1", 3600)
    } else {
        f(req)
    }
}

fn phone_of(req: &Req) -> String {
    req.json()["phoneNumber"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn one_line(device: &str, phone: &'static str, check: Option<u32>) -> Vec<TestLine<'static>> {
    vec![TestLine {
        device: Box::leak(device.to_owned().into_boxed_str()),
        phone,
        carrier: "acme",
        check_max_age: check,
    }]
}

fn assert_no_number(text: &str) {
    for n in [A, B, C] {
        assert!(!text.contains(digits(n)), "a phone number leaked: {text}");
    }
}

#[tokio::test]
async fn a_swap_appearing_after_two_passes_alerts_once_even_across_a_restart() {
    let recent = hours_ago(1);
    let recent_for_server = recent.clone();
    let carrier = Carrier::start(move |req| {
        token_or(req, |req| match req.path.as_str() {
            "/sim-swap/v2/retrieve-date" if req.nth < 2 => Reply::json(
                200,
                json!({"latestSimChange": "2024-09-18T07:37:53.471829447Z"}),
            ),
            "/sim-swap/v2/retrieve-date" => {
                Reply::json(200, json!({"latestSimChange": recent_for_server}))
            }
            _ => Reply::json(
                200,
                json!({"latestDeviceChange": null, "monitoredPeriod": 120}),
            ),
        })
    })
    .await;
    let dir = RosterDir::new(
        &[(
            "acme",
            carrier_block(&carrier.url(""), "client_credentials", 4),
        )],
        &one_line("minister-01", A, None),
    );
    let (mut w, alerts) = watch(&dir, quick_http());
    let mut sequences = Vec::new();
    for pass in 1..=3 {
        let r = w.pass(None, Trigger::Poll).await.unwrap();
        assert_eq!(
            (r.planned, r.answered),
            (2, 2),
            "pass {pass}: {:?}",
            r.failures
        );
        assert_eq!(r.alerts, usize::from(pass == 3), "pass {pass}");
        // An unchanged answer is not relayed again within a day.
        assert_eq!(r.instructions, [2, 0, 1][pass - 1], "pass {pass}");
        let p = instruction(&w.instruction_path("minister-01", Api::SimSwap));
        sequences.push(p["sequence"].as_u64().unwrap());
        if pass == 3 {
            assert_eq!(p["body"]["response"], json!({"latestSimChange": recent}));
        }
    }
    assert!(
        sequences[0] == sequences[1] && sequences[1] < sequences[2],
        "{sequences:?}"
    );
    let found = alerts.alerts();
    assert_eq!(found.len(), 1);
    let a = &found[0];
    assert_eq!(a["class_uid"], 2004);
    assert_eq!(a["severity"], "Critical");
    assert_eq!(a["finding_info"]["types"], json!(["carrier_reported_swap"]));
    assert_eq!(a["device"]["name"], "minister-01");
    assert_eq!(
        a["evidences"][0]["data"]["previous_change"],
        "2024-09-18T07:37:53.471Z"
    );
    assert_no_number(&a.to_string());
    assert_eq!(w.token_fetches(), 1, "the token is cached across passes");
    drop(w);

    // A restart reads the state: the same date does not alert again, and once the
    // refresh period is over the same answer is relayed under a higher sequence.
    let (mut w, alerts) = watch_refreshing(&dir, quick_http(), Duration::ZERO);
    let r = w.pass(None, Trigger::Poll).await.unwrap();
    assert_eq!((r.answered, r.alerts, r.instructions), (2, 0, 2));
    assert!(alerts.alerts().is_empty());
    let p = instruction(&w.instruction_path("minister-01", Api::SimSwap));
    assert!(p["sequence"].as_u64().unwrap() > *sequences.last().unwrap());
    let state = std::fs::read_to_string(dir.out().join("carrier-state.json")).unwrap();
    assert_no_number(&state);
    assert!(!state.contains("tok-1"));
    carrier.assert_conformant();
    for r in carrier.requests_to("retrieve-date") {
        assert_eq!(r.bearer.as_deref(), Some("tok-1"));
        assert_eq!(phone_of(&r), A, "two-legged: the number is in the body");
    }
}

#[tokio::test]
async fn too_many_requests_waits_as_retry_after_says() {
    let carrier = Carrier::start(|req| {
        token_or(req, |req| match req.path.as_str() {
            "/sim-swap/v2/retrieve-date" if req.nth == 0 => {
                Reply::error(429, "TOO_MANY_REQUESTS").with_header("retry-after", "1")
            }
            "/sim-swap/v2/retrieve-date" => Reply::json(200, json!({"latestSimChange": null})),
            _ => Reply::json(200, json!({"latestDeviceChange": null})),
        })
    })
    .await;
    let dir = RosterDir::new(
        &[(
            "acme",
            carrier_block(&carrier.url(""), "client_credentials", 4),
        )],
        &one_line("d1", A, None),
    );
    let (mut w, _) = watch(&dir, quick_http());
    let started = Instant::now();
    let r = w.pass(None, Trigger::Poll).await.unwrap();
    assert_eq!(r.answered, 2, "{:?}", r.failures);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was not honoured"
    );
    assert_eq!(carrier.requests_to("/sim-swap/v2/retrieve-date").len(), 2);
    carrier.assert_conformant();
}

#[tokio::test]
async fn a_persistent_429_is_reported_after_bounded_retries() {
    let carrier = Carrier::start(|req| {
        token_or(req, |req| match req.path.as_str() {
            "/sim-swap/v2/retrieve-date" => Reply::error(429, "QUOTA_EXCEEDED"),
            // Far beyond what the watch waits: reported at once, not slept through.
            _ => Reply::json(200, json!({"latestDeviceChange": null})),
        })
    })
    .await;
    let dir = RosterDir::new(
        &[(
            "acme",
            carrier_block(&carrier.url(""), "client_credentials", 4),
        )],
        &one_line("d1", A, None),
    );
    let (mut w, _) = watch(&dir, quick_http());
    let r = w.pass(None, Trigger::Poll).await.unwrap();
    assert_eq!(r.answered, 1);
    assert_eq!(r.failures.len(), 1);
    assert_eq!(r.failures[0].error, CarrierError::GaveUp { status: 429 });
    assert_eq!(
        carrier.requests_to("/sim-swap/v2/retrieve-date").len(),
        4,
        "one try and three retries"
    );
    carrier.assert_conformant();
}

#[tokio::test]
async fn service_unavailable_is_retried_and_a_long_retry_after_is_not_slept_through() {
    // 503 is not in these two contracts (CAMARA's common errors define it); the
    // scripted answer has no body, so there is nothing to check against them.
    let carrier = Carrier::start(|req| {
        token_or(req, |req| {
            match (req.path.as_str(), phone_of(req).as_str()) {
                ("/sim-swap/v2/retrieve-date", A) if req.nth == 0 => Reply {
                    status: 503,
                    body: None,
                    headers: vec![("retry-after", "0".into())],
                    delay: None,
                    conforms: true,
                },
                ("/sim-swap/v2/retrieve-date", A) => {
                    Reply::json(200, json!({"latestSimChange": null}))
                }
                ("/sim-swap/v2/retrieve-date", _) => {
                    Reply::error(429, "TOO_MANY_REQUESTS").with_header("retry-after", "3600")
                }
                _ => Reply::json(200, json!({"latestDeviceChange": null})),
            }
        })
    })
    .await;
    let lines = vec![
        TestLine {
            device: "a",
            phone: A,
            carrier: "acme",
            check_max_age: None,
        },
        TestLine {
            device: "b",
            phone: B,
            carrier: "acme",
            check_max_age: None,
        },
    ];
    let dir = RosterDir::new(
        &[(
            "acme",
            carrier_block(&carrier.url(""), "client_credentials", 4),
        )],
        &lines,
    );
    let (mut w, _) = watch(&dir, quick_http());
    let started = Instant::now();
    let r = w.pass(None, Trigger::Poll).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(r.answered, 3, "{:?}", r.failures);
    assert_eq!(r.failures.len(), 1);
    assert_eq!(r.failures[0].line, "b (…45)");
    assert_eq!(r.failures[0].error, CarrierError::GaveUp { status: 429 });
    assert_eq!(carrier.requests_to("/sim-swap/v2/retrieve-date").len(), 3);
    carrier.assert_conformant();
}

#[tokio::test]
async fn a_token_expiring_mid_pass_is_renewed_once() {
    let served = Arc::new(AtomicUsize::new(0));
    let s = served.clone();
    let carrier = Carrier::start(move |req| match req.path.as_str() {
        "/token" if req.nth == 0 => Reply::token("tok-1", 3600),
        "/token" => Reply::token("tok-2", 3600),
        path => {
            let n = s.fetch_add(1, Ordering::SeqCst);
            if req.bearer.as_deref() == Some("tok-1") && n >= 10 {
                return Reply::error(401, "UNAUTHENTICATED");
            }
            if path.starts_with("/sim-swap") {
                Reply::json(200, json!({"latestSimChange": "2024-09-18T07:37:53Z"}))
            } else {
                Reply::json(200, json!({"latestDeviceChange": "2024-09-18T07:37:53Z"}))
            }
        }
    })
    .await;
    let phones: Vec<String> = (0..20).map(|i| format!("+4477009001{i:02}")).collect();
    let lines: Vec<TestLine<'_>> = phones
        .iter()
        .enumerate()
        .map(|(i, p)| TestLine {
            device: Box::leak(format!("dev-{i}").into_boxed_str()),
            phone: p,
            carrier: "acme",
            check_max_age: None,
        })
        .collect();
    let dir = RosterDir::new(
        &[(
            "acme",
            carrier_block(&carrier.url(""), "client_credentials", 4),
        )],
        &lines,
    );
    let (mut w, _) = watch(&dir, quick_http());
    let r = w.pass(None, Trigger::Poll).await.unwrap();
    assert_eq!((r.planned, r.answered), (40, 40), "{:?}", r.failures);
    assert_eq!(w.token_fetches(), 2, "one renewal serves every line");
    assert_eq!(carrier.requests_to("/token").len(), 2);
    let token = &carrier.requests_to("/token")[0];
    assert_eq!(token.form["grant_type"], "client_credentials");
    assert_eq!(
        token.form["scope"],
        "device-swap:retrieve-date sim-swap:retrieve-date"
    );
    carrier.assert_conformant();
}

#[tokio::test]
async fn permission_denied_twice_is_reported_without_looping() {
    let carrier = Carrier::start(|req| {
        token_or(req, |req| match req.path.as_str() {
            "/sim-swap/v2/retrieve-date" => Reply::error(403, "PERMISSION_DENIED"),
            _ => Reply::json(200, json!({"latestDeviceChange": null})),
        })
    })
    .await;
    let dir = RosterDir::new(
        &[(
            "acme",
            carrier_block(&carrier.url(""), "client_credentials", 4),
        )],
        &one_line("d1", A, None),
    );
    let (mut w, _) = watch(&dir, quick_http());
    let r = w.pass(None, Trigger::Poll).await.unwrap();
    assert_eq!(r.failures.len(), 1);
    assert_eq!(
        r.failures[0].error,
        CarrierError::Status {
            status: 403,
            code: Some("PERMISSION_DENIED".into())
        }
    );
    assert_eq!(carrier.requests_to("/sim-swap/v2/retrieve-date").len(), 2);
    carrier.assert_conformant();
}

#[tokio::test]
async fn ciba_sends_the_number_as_login_hint_and_never_in_the_body() {
    let carrier = Carrier::start(|req| match req.path.as_str() {
        "/bc-authorize" => {
            assert_eq!(req.form["login_hint"], format!("tel:{A}"));
            assert_eq!(req.form["scope"], "openid device-swap:check sim-swap:check");
            Reply::json(
                200,
                json!({"auth_req_id": "req-1", "expires_in": 60, "interval": 1}),
            )
        }
        "/token" => {
            assert_eq!(req.form["grant_type"], "urn:openid:params:grant-type:ciba");
            assert_eq!(req.form["auth_req_id"], "req-1");
            if req.nth == 0 {
                Reply::json(400, json!({"error": "authorization_pending"}))
            } else {
                Reply::token("tok-3legs", 3600)
            }
        }
        _ => {
            assert_eq!(req.bearer.as_deref(), Some("tok-3legs"));
            Reply::json(200, json!({"swapped": false}))
        }
    })
    .await;
    let dir = RosterDir::new(
        &[("acme", carrier_block(&carrier.url(""), "ciba", 4))],
        &one_line("d1", A, Some(24)),
    );
    let (mut w, alerts) = watch(&dir, quick_http());
    for _ in 0..2 {
        let r = w.pass(None, Trigger::Poll).await.unwrap();
        assert_eq!(r.answered, 2, "{:?}", r.failures);
    }
    assert!(alerts.alerts().is_empty());
    assert_eq!(
        carrier.requests_to("/bc-authorize").len(),
        1,
        "the three-legged token is cached"
    );
    for r in carrier.requests_to("/check") {
        assert_eq!(
            r.json(),
            json!({"maxAge": 24}),
            "three-legged: no phone number in the body"
        );
    }
    carrier.assert_conformant();
}

#[tokio::test]
async fn hostile_and_documented_error_answers_are_reported_per_line() {
    let carrier = Carrier::start(|req| {
        token_or(req, |req| {
            let sim = req.path.starts_with("/sim-swap");
            match (phone_of(req).as_str(), sim) {
                (A, true) => Reply::json(200, json!({"latestSimChange": 12})).malformed(),
                (A, false) => Reply::raw(200, b"{\"latestDeviceChange\": nu").malformed(),
                (B, true) => Reply::json(
                    200,
                    json!({"latestSimChange": "2024-09-18T07:37:53Z", "vendorNote": "kept as received"}),
                ),
                (B, false) => Reply::json(
                    200,
                    json!({"latestDeviceChange": null, "padding": "x".repeat(100_000)}),
                ),
                (_, true) => Reply::error(404, "IDENTIFIER_NOT_FOUND"),
                (_, false) => Reply::error(422, "SERVICE_NOT_APPLICABLE"),
            }
        })
    })
    .await;
    let lines = vec![
        TestLine {
            device: "a",
            phone: A,
            carrier: "acme",
            check_max_age: None,
        },
        TestLine {
            device: "b",
            phone: B,
            carrier: "acme",
            check_max_age: None,
        },
        TestLine {
            device: "c",
            phone: C,
            carrier: "acme",
            check_max_age: None,
        },
    ];
    let dir = RosterDir::new(
        &[(
            "acme",
            carrier_block(&carrier.url(""), "client_credentials", 4),
        )],
        &lines,
    );
    let (mut w, _) = watch(&dir, quick_http());
    let r = w.pass(None, Trigger::Poll).await.unwrap();
    assert_eq!((r.planned, r.answered), (6, 1));
    let failures: Vec<(String, Api, String)> = r
        .failures
        .iter()
        .map(|f| (f.line.clone(), f.api, f.error.to_string()))
        .collect();
    assert_eq!(
        failures,
        vec![
            (
                "a (…23)".into(),
                Api::SimSwap,
                "malformed response: `latestSimChange` is not a string or null".into()
            ),
            (
                "a (…23)".into(),
                Api::DeviceSwap,
                "malformed response: not JSON (line 1, column 25)".into()
            ),
            (
                "b (…45)".into(),
                Api::DeviceSwap,
                "response body too large".into()
            ),
            (
                "c (…67)".into(),
                Api::SimSwap,
                "HTTP 404 IDENTIFIER_NOT_FOUND".into()
            ),
            (
                "c (…67)".into(),
                Api::DeviceSwap,
                "HTTP 422 SERVICE_NOT_APPLICABLE".into()
            ),
        ]
    );
    for f in &failures {
        assert_no_number(&format!("{f:?}"));
    }
    // Extra fields are allowed by the contract: relayed byte for byte.
    let bytes = std::fs::read(w.instruction_path("b", Api::SimSwap)).unwrap();
    let env = portcullis_core::policy::Envelope::parse(&bytes, 1 << 20).unwrap();
    let payload = String::from_utf8(env.payload).unwrap();
    assert!(payload.contains(
        r#""response":{"latestSimChange":"2024-09-18T07:37:53Z","vendorNote":"kept as received"}"#
    ));
    carrier.assert_conformant();
}

#[tokio::test]
async fn a_hanging_carrier_times_out_on_the_configured_timeout() {
    let carrier = Carrier::start(|req| {
        token_or(req, |req| match req.path.as_str() {
            "/sim-swap/v2/retrieve-date" => {
                Reply::json(200, json!({"latestSimChange": null})).delayed(Duration::from_secs(30))
            }
            _ => Reply::json(200, json!({"latestDeviceChange": null})),
        })
    })
    .await;
    let dir = RosterDir::new(
        &[(
            "acme",
            carrier_block(&carrier.url(""), "client_credentials", 4),
        )],
        &one_line("d1", A, None),
    );
    let mut http = quick_http();
    http.timeout = Duration::from_millis(500);
    let (mut w, _) = watch(&dir, http);
    let started = Instant::now();
    let r = w.pass(None, Trigger::Poll).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(r.answered, 1);
    assert_eq!(r.failures[0].error, CarrierError::Timeout);
    carrier.assert_conformant();
}

#[tokio::test]
async fn out_of_range_halves_max_age_and_swapped_alerts_once() {
    let carrier = Carrier::start(|req| {
        token_or(req, |req| {
            if req.json()["maxAge"].as_u64().unwrap() > 720 {
                Reply::error(400, "OUT_OF_RANGE")
            } else {
                Reply::json(200, json!({"swapped": true}))
            }
        })
    })
    .await;
    let dir = RosterDir::new(
        &[(
            "acme",
            carrier_block(&carrier.url(""), "client_credentials", 4),
        )],
        &one_line("d1", A, Some(2400)),
    );
    let (mut w, alerts) = watch(&dir, quick_http());
    let r = w.pass(None, Trigger::Poll).await.unwrap();
    assert_eq!((r.answered, r.alerts), (2, 2), "{:?}", r.failures);
    let ages: Vec<u64> = carrier
        .requests_to("/sim-swap/v2/check")
        .iter()
        .map(|r| r.json()["maxAge"].as_u64().unwrap())
        .collect();
    assert_eq!(ages, vec![2400, 1200, 600]);
    let p = instruction(&w.instruction_path("d1", Api::DeviceSwap));
    assert_eq!(p["body"]["request"], json!({"maxAge": 600}));
    assert_eq!(p["body"]["operation"], "check");
    let mut kinds: Vec<String> = alerts
        .alerts()
        .iter()
        .map(|a| a["finding_info"]["title"].as_str().unwrap().to_owned())
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        vec!["carrier_reported_device_swap", "carrier_reported_swap"]
    );
    // Still swapped on the next pass: no new alert.
    let r = w.pass(None, Trigger::Poll).await.unwrap();
    assert_eq!((r.answered, r.alerts), (2, 0));
    carrier.assert_conformant();
}

#[tokio::test]
async fn phone_alerts_check_only_the_lines_they_name() {
    let carrier = Carrier::start(|req| {
        token_or(req, |req| {
            if req.path.starts_with("/sim-swap") {
                Reply::json(200, json!({"latestSimChange": null}))
            } else {
                Reply::json(200, json!({"latestDeviceChange": null}))
            }
        })
    })
    .await;
    let lines = vec![
        TestLine {
            device: "a",
            phone: A,
            carrier: "acme",
            check_max_age: None,
        },
        TestLine {
            device: "b",
            phone: B,
            carrier: "acme",
            check_max_age: None,
        },
    ];
    let dir = RosterDir::new(
        &[(
            "acme",
            carrier_block(&carrier.url(""), "client_credentials", 4),
        )],
        &lines,
    );
    let (mut w, _) = watch(&dir, quick_http());
    let alerts = [
        r#"{"device_id":"b","kind":"sim_replaced","carrier_check_wanted":true}"#,
        r#"{"device":"ghost","kind":"port_out_suspected","carrier_check_wanted":true}"#,
        r#"{"device_id":"a","kind":"downgrade_2g"}"#,
        "not json",
    ]
    .join("\n");
    let wanted = portcullis_carrier::fusion::wanted(&alerts, 1, w.roster());
    assert_eq!(wanted.devices, BTreeSet::from(["b".to_owned()]));
    assert_eq!(
        wanted.skipped,
        vec![
            "alerts line 2: device ghost is not in the roster".to_owned(),
            "alerts line 4: not a JSON object".to_owned()
        ]
    );
    let r = w
        .pass(Some(&wanted.devices), Trigger::PhoneAlert)
        .await
        .unwrap();
    assert_eq!((r.planned, r.answered), (2, 2));
    assert!(carrier
        .requests
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.path != "/token")
        .all(|r| phone_of(r) == B));
    carrier.assert_conformant();
}

#[tokio::test]
async fn an_answer_too_large_to_relay_is_a_line_failure_not_a_fatal_one() {
    let carrier = Carrier::start(|req| {
        token_or(req, |req| {
            if req.path.starts_with("/sim-swap") {
                Reply::json(
                    200,
                    json!({"latestSimChange": null, "padding": "x".repeat(55_000)}),
                )
            } else {
                Reply::json(200, json!({"latestDeviceChange": null}))
            }
        })
    })
    .await;
    let dir = RosterDir::new(
        &[(
            "acme",
            carrier_block(&carrier.url(""), "client_credentials", 4),
        )],
        &one_line("d1", A, None),
    );
    let mut http = quick_http();
    http.max_body = 60 * 1024;
    let (mut w, _) = watch(&dir, http);
    let r = w.pass(None, Trigger::Poll).await.unwrap();
    assert_eq!((r.answered, r.instructions), (1, 1));
    assert_eq!(r.failures.len(), 1);
    assert_eq!(r.failures[0].error, CarrierError::TooLarge);
    assert!(!w.instruction_path("d1", Api::SimSwap).exists());
    carrier.assert_conformant();
}

#[tokio::test]
async fn each_endpoint_gets_at_most_its_concurrency() {
    let carrier = Carrier::start(|req| {
        token_or(req, |req| {
            let body = if req.path.starts_with("/sim-swap") {
                json!({"latestSimChange": null})
            } else {
                json!({"latestDeviceChange": null})
            };
            Reply::json(200, body).delayed(Duration::from_millis(30))
        })
    })
    .await;
    let phones: Vec<String> = (0..24).map(|i| format!("+4477009002{i:02}")).collect();
    let lines: Vec<TestLine<'_>> = phones
        .iter()
        .enumerate()
        .map(|(i, p)| TestLine {
            device: Box::leak(format!("dev-{i}").into_boxed_str()),
            phone: p,
            carrier: "acme",
            check_max_age: None,
        })
        .collect();
    let dir = RosterDir::new(
        &[(
            "acme",
            carrier_block(&carrier.url(""), "client_credentials", 3),
        )],
        &lines,
    );
    let (mut w, _) = watch(&dir, quick_http());
    let r = w.pass(None, Trigger::Poll).await.unwrap();
    assert_eq!(r.answered, 48, "{:?}", r.failures);
    let counts = carrier.in_flight.lock().unwrap().clone();
    assert_eq!(counts["/sim-swap/v2"].1, 3, "{counts:?}");
    assert_eq!(counts["/device-swap/v1"].1, 3, "{counts:?}");
    carrier.assert_conformant();
}
