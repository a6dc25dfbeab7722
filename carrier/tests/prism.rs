//! The watch against Prism mocks served from the CAMARA contracts themselves, with
//! Prism's request validation on: a request the contract refuses gets a 4xx from
//! Prism, so a pass that answers every line proves the requests conform.
//!
//! Prism comes from the npm registry (`@stoplight/prism-cli`); `scripts/carrier-tests.sh`
//! installs it into the cache folder and runs these tests, which are ignored by a
//! plain `cargo test` and fail (never skip) when asked to run without Prism.

mod support;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use portcullis_carrier::camara::Api;
use portcullis_carrier::output::Trigger;
use support::*;

/// Where `scripts/carrier-tests.sh` puts Prism, or `PORTCULLIS_PRISM`.
fn prism_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("PORTCULLIS_PRISM") {
        return PathBuf::from(p);
    }
    let cache = std::env::var_os("PORTCULLIS_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/portcullis")
        });
    cache.join("prism-cli-5.16.0/node_modules/.bin/prism")
}

/// A Prism mock of one contract on a free loopback port; stopped on drop.
struct Prism {
    child: Child,
    port: u16,
}

impl Prism {
    fn start(contract: &str) -> Prism {
        let bin = prism_binary();
        assert!(
            bin.exists(),
            "Prism is not installed at {} (run scripts/carrier-tests.sh, which installs it)",
            bin.display()
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(&bin)
            .args(["mock", "-h", "127.0.0.1", "-p", &port.to_string()])
            .arg(camara_dir().join(contract))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let mut prism = Prism { child, port };
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = prism.child.try_wait() {
                panic!("Prism exited at start: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "Prism did not listen within 60 s"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        // Something listens on the port; if Prism itself exits now, the port was taken by
        // another server before Prism could bind it, and the test would talk to that one.
        std::thread::sleep(Duration::from_millis(500));
        if let Ok(Some(status)) = prism.child.try_wait() {
            panic!("Prism exited after its port answered (taken by another server?): {status}");
        }
        prism
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Prism {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A token endpoint (the contracts do not define one): client credentials and CIBA.
async fn token_endpoint() -> Carrier {
    Carrier::start(|req| match req.path.as_str() {
        "/bc-authorize" => Reply::json(
            200,
            serde_json::json!({"auth_req_id": "r1", "expires_in": 60, "interval": 1}),
        ),
        _ => Reply::token("mock-token", 3600),
    })
    .await
}

fn block(sim: &str, device: &str, token: &str, auth: &str) -> String {
    let mut s = format!(
        "sim_swap_url = \"{sim}\"\ndevice_swap_url = \"{device}\"\ntoken_url = \"{token}/token\"\nclient_id = \"console\"\nclient_secret = {{ file = \"client.secret\" }}\nconcurrency = 4\nauth = \"{auth}\"\n"
    );
    if auth == "ciba" {
        s.push_str(&format!("bc_authorize_url = \"{token}/bc-authorize\"\n"));
    }
    s
}

#[tokio::test]
#[ignore = "needs Prism: run scripts/carrier-tests.sh"]
async fn watch_once_passes_prism_request_validation_for_both_token_kinds() {
    let sim = Prism::start("sim-swap.yaml");
    let device = Prism::start("device-swap.yaml");
    let tokens = token_endpoint().await;
    let dir = RosterDir::new(
        &[
            (
                "two_legs",
                block(
                    &sim.url(),
                    &device.url(),
                    &tokens.url(""),
                    "client_credentials",
                ),
            ),
            (
                "three_legs",
                block(&sim.url(), &device.url(), &tokens.url(""), "ciba"),
            ),
        ],
        &[
            TestLine {
                device: "retrieve",
                phone: "+346661113334",
                carrier: "two_legs",
                check_max_age: None,
            },
            TestLine {
                device: "check",
                phone: "+346661113335",
                carrier: "two_legs",
                check_max_age: Some(240),
            },
            TestLine {
                device: "ciba",
                phone: "+346661113336",
                carrier: "three_legs",
                check_max_age: None,
            },
            TestLine {
                device: "ciba-check",
                phone: "+346661113337",
                carrier: "three_legs",
                check_max_age: Some(2400),
            },
        ],
    );
    let (mut w, alerts) = watch(&dir, quick_http());
    let r = w.pass(None, Trigger::Poll).await.unwrap();
    assert!(
        r.failures.is_empty(),
        "Prism refused requests: {:?}",
        r.failures
    );
    assert_eq!((r.planned, r.answered, r.instructions), (8, 8, 8));
    // Prism answers the contract's first example: a 2024 date (baseline, no alert)
    // for retrieve-date and a generated boolean for check.
    let p = instruction(&w.instruction_path("retrieve", Api::SimSwap));
    assert_eq!(
        p["body"]["response"]["latestSimChange"],
        "2024-09-18T07:37:53.471829447Z"
    );
    let p = instruction(&w.instruction_path("check", Api::DeviceSwap));
    assert!(p["body"]["response"]["swapped"].is_boolean());
    for a in alerts.alerts() {
        assert_eq!(a["class_uid"], 2004);
    }
    let sim_spec = Spec::load("sim-swap.yaml");
    assert!(sim_spec
        .check_response("/retrieve-date", "post", 200, &p_or(&w, "retrieve"))
        .is_empty());
}

fn p_or(w: &portcullis_carrier::Watch, device: &str) -> serde_json::Value {
    instruction(&w.instruction_path(device, Api::SimSwap))["body"]["response"].clone()
}

#[tokio::test]
#[ignore = "needs Prism: run scripts/carrier-tests.sh"]
async fn prism_refuses_what_the_contract_refuses() {
    // The check above means something only if Prism does validate: a number outside
    // the contract's pattern and a maxAge above 2400 are refused.
    let sim = Prism::start("sim-swap.yaml");
    let client = reqwest::Client::new();
    for body in [
        r#"{"phoneNumber":"0034666"}"#,
        r#"{"phoneNumber":"+346661113334","maxAge":2401}"#,
    ] {
        let resp = client
            .post(format!("{}/check", sim.url()))
            .bearer_auth("t")
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_client_error(), "{body}: {}", resp.status());
    }
}

#[tokio::test]
#[ignore = "needs Prism: run scripts/carrier-tests.sh"]
async fn subscribe_passes_prism_request_validation_and_renews() {
    let subs = Prism::start("sim-swap-subscriptions.yaml");
    let tokens = token_endpoint().await;
    let mut two = block(
        "http://127.0.0.1:9",
        "http://127.0.0.1:9",
        &tokens.url(""),
        "client_credentials",
    );
    two.push_str(&format!("subscriptions_url = \"{}\"\n", subs.url()));
    let mut three = block(
        "http://127.0.0.1:9",
        "http://127.0.0.1:9",
        &tokens.url(""),
        "ciba",
    );
    three.push_str(&format!("subscriptions_url = \"{}\"\n", subs.url()));
    let dir = RosterDir::new(
        &[("two_legs", two), ("three_legs", three)],
        &[
            TestLine {
                device: "a",
                phone: "+346661113334",
                carrier: "two_legs",
                check_max_age: None,
            },
            TestLine {
                device: "b",
                phone: "+346661113335",
                carrier: "three_legs",
                check_max_age: None,
            },
        ],
    );
    let mut text = std::fs::read_to_string(dir.path()).unwrap();
    text.push_str("[listen]\nsink = \"https://console.example/carrier/notify\"\nsink_token = { file = \"client.secret\" }\n");
    std::fs::write(dir.path(), text).unwrap();
    let roster = portcullis_carrier::Roster::load(&dir.path()).unwrap();
    let clock = portcullis_carrier::watch::system_clock();
    let r =
        portcullis_carrier::subscribe::subscribe(&roster, &dir.out(), quick_http(), clock.clone())
            .await
            .unwrap();
    assert!(r.failures.is_empty(), "Prism refused: {:?}", r.failures);
    assert_eq!(r.created.len(), 2);
    let recorded = portcullis_carrier::subscribe::Subscriptions::load(&dir.out()).unwrap();
    assert_eq!(recorded.devices.len(), 2);
    // The contract's example ends in the past: the next run renews (create, then
    // delete the old one), again through Prism's validation.
    let r = portcullis_carrier::subscribe::subscribe(&roster, &dir.out(), quick_http(), clock)
        .await
        .unwrap();
    assert!(r.failures.is_empty(), "Prism refused: {:?}", r.failures);
    assert_eq!(r.created.len() + r.kept, 2);
    let saved = std::fs::read_to_string(dir.out().join("carrier-subscriptions.json")).unwrap();
    assert!(!saved.contains("6661113334") && !saved.contains("test-client-secret"));
}
