//! Test support: the CAMARA contracts as JSON Schema validators, a scripted
//! loopback carrier whose every answer is checked against the contract, and roster
//! helpers.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// The shared CAMARA folder, beside the repository.
pub(crate) fn camara_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/camara")
}

/// One CAMARA YAML contract, with OpenAPI 3.0's `nullable` turned into JSON Schema.
pub(crate) struct Spec {
    doc: Value,
}

fn nullable_to_json_schema(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if map.get("nullable") == Some(&Value::Bool(true)) {
                if let Some(Value::String(t)) = map.get("type").cloned() {
                    map.insert("type".into(), serde_json::json!([t, "null"]));
                }
                if let Some(Value::Array(e)) = map.get_mut("enum") {
                    e.push(Value::Null);
                }
            }
            map.values_mut().for_each(nullable_to_json_schema);
        }
        Value::Array(items) => items.iter_mut().for_each(nullable_to_json_schema),
        _ => {}
    }
}

impl Spec {
    /// Loads `../shared/camara/<name>`.
    pub(crate) fn load(name: &str) -> Spec {
        let path = camara_dir().join(name);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let mut doc: Value = serde_norway::from_str(&text).expect("the contract is YAML");
        nullable_to_json_schema(&mut doc);
        Spec { doc }
    }

    /// Follows local `$ref`s (`#/components/...`) until a concrete object.
    pub(crate) fn resolve<'a>(&'a self, mut v: &'a Value) -> &'a Value {
        while let Some(Value::String(r)) = v.get("$ref") {
            let pointer = r.strip_prefix('#').expect("only local references");
            v = self
                .doc
                .pointer(pointer)
                .unwrap_or_else(|| panic!("dangling reference {r}"));
        }
        v
    }

    fn operation(&self, path: &str, method: &str) -> &Value {
        let paths = &self.doc["paths"];
        let item = paths
            .get(path)
            .unwrap_or_else(|| panic!("{path} is not in the contract"));
        item.get(method)
            .unwrap_or_else(|| panic!("{method} {path} is not in the contract"))
    }

    fn validator(&self, schema: &Value) -> jsonschema::Validator {
        let mut root = schema.clone();
        root.as_object_mut()
            .expect("a schema object")
            .insert("components".into(), self.doc["components"].clone());
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft4)
            .should_validate_formats(true)
            .build(&root)
            .expect("the contract's schema compiles")
    }

    /// The schema of the JSON body of `method path`'s response with `status`, if the
    /// contract documents that status with a JSON body.
    pub(crate) fn response_schema(&self, path: &str, method: &str, status: u16) -> Option<Value> {
        let op = self.operation(path, method);
        let response = op["responses"].get(status.to_string())?;
        let response = self.resolve(response);
        let content = response.get("content")?;
        let media = content
            .get("application/json")
            .or_else(|| content.get("application/cloudevents+json"))?;
        Some(media["schema"].clone())
    }

    /// Checks a response body against the contract: the errors, or empty.
    pub(crate) fn check_response(
        &self,
        path: &str,
        method: &str,
        status: u16,
        body: &Value,
    ) -> Vec<String> {
        match self.response_schema(path, method, status) {
            None => vec![format!(
                "{method} {path}: status {status} is not documented with a JSON body"
            )],
            Some(schema) => self
                .validator(&schema)
                .iter_errors(body)
                .map(|e| format!("{method} {path} {status}: {}: {e}", e.instance_path()))
                .collect(),
        }
    }

    /// Checks a request body against the contract.
    pub(crate) fn check_request(&self, path: &str, method: &str, body: &Value) -> Vec<String> {
        let op = self.operation(path, method);
        let rb = self.resolve(&op["requestBody"]);
        let content = &rb["content"];
        let media = content
            .get("application/json")
            .or_else(|| content.get("application/cloudevents+json"));
        let schema = media.expect("a JSON request body")["schema"].clone();
        self.validator(&schema)
            .iter_errors(body)
            .map(|e| format!("request {method} {path}: {}: {e}", e.instance_path()))
            .collect()
    }

    /// Checks a schema from `components/schemas` by name.
    pub(crate) fn check_schema(&self, name: &str, body: &Value) -> Vec<String> {
        let schema = serde_json::json!({ "$ref": format!("#/components/schemas/{name}") });
        self.validator(&schema)
            .iter_errors(body)
            .map(|e| format!("{name}: {}: {e}", e.instance_path()))
            .collect()
    }

    /// The documented example of a response (by `components/examples` name).
    pub(crate) fn example(&self, name: &str) -> Value {
        self.doc["components"]["examples"][name]["value"].clone()
    }
}

/// A request the scripted carrier received.
#[derive(Debug, Clone)]
pub(crate) struct Req {
    /// The path, e.g. `/sim-swap/v2/check`.
    pub path: String,
    /// The bearer token, if any.
    pub bearer: Option<String>,
    /// The `x-correlator` header, if any.
    pub correlator: Option<String>,
    /// The raw body.
    pub body: Vec<u8>,
    /// The form fields (token endpoints).
    pub form: HashMap<String, String>,
    /// How many requests to the same path came before this one.
    pub nth: usize,
}

impl Req {
    /// The body as JSON.
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// What the scripted carrier answers.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub status: u16,
    pub body: Option<Vec<u8>>,
    pub headers: Vec<(&'static str, String)>,
    pub delay: Option<Duration>,
    /// Whether the body must conform to the contract (false only for the
    /// deliberately malformed answers, which must then be refused by it).
    pub conforms: bool,
}

impl Reply {
    /// A JSON answer that must conform.
    pub(crate) fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body: Some(serde_json::to_vec(&body).unwrap()),
            headers: vec![],
            delay: None,
            conforms: true,
        }
    }

    /// A raw body that must conform.
    pub(crate) fn raw(status: u16, body: &[u8]) -> Reply {
        Reply {
            status,
            body: Some(body.to_vec()),
            headers: vec![],
            delay: None,
            conforms: true,
        }
    }

    /// A CAMARA error body.
    pub(crate) fn error(status: u16, code: &str) -> Reply {
        Reply::json(
            status,
            serde_json::json!({"status": status, "code": code, "message": "scripted"}),
        )
    }

    /// A standard OAuth token answer.
    pub(crate) fn token(value: &str, expires_in: u64) -> Reply {
        Reply::json(
            200,
            serde_json::json!({"access_token": value, "token_type": "Bearer", "expires_in": expires_in}),
        )
    }

    pub(crate) fn with_header(mut self, name: &'static str, value: &str) -> Reply {
        self.headers.push((name, value.to_owned()));
        self
    }

    pub(crate) fn delayed(mut self, d: Duration) -> Reply {
        self.delay = Some(d);
        self
    }

    pub(crate) fn malformed(mut self) -> Reply {
        self.conforms = false;
        self
    }
}

type Script = Arc<dyn Fn(&Req) -> Reply + Send + Sync>;

/// A scripted carrier on loopback: CAMARA paths under `/sim-swap/v2` and
/// `/device-swap/v1` (checked against the contracts both ways), and anything else
/// (token endpoints) answered by the script unchecked.
pub(crate) struct Carrier {
    pub addr: SocketAddr,
    pub requests: Arc<Mutex<Vec<Req>>>,
    pub violations: Arc<Mutex<Vec<String>>>,
    /// Per API root (`/sim-swap/v2`, `/device-swap/v1`): (requests in flight now, most ever).
    pub in_flight: Arc<Mutex<HashMap<String, (usize, usize)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Carrier {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Shared {
    in_flight: Arc<Mutex<HashMap<String, (usize, usize)>>>,
    script: Script,
    requests: Arc<Mutex<Vec<Req>>>,
    violations: Arc<Mutex<Vec<String>>>,
    sim: Spec,
    device: Spec,
}

impl Carrier {
    /// Starts the scripted carrier.
    pub(crate) async fn start(script: impl Fn(&Req) -> Reply + Send + Sync + 'static) -> Carrier {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let violations = Arc::new(Mutex::new(Vec::new()));
        let in_flight = Arc::new(Mutex::new(HashMap::new()));
        let shared = Arc::new(Shared {
            in_flight: in_flight.clone(),
            script: Arc::new(script),
            requests: requests.clone(),
            violations: violations.clone(),
            sim: Spec::load("sim-swap.yaml"),
            device: Spec::load("device-swap.yaml"),
        });
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let shared = shared.clone();
                async move { handle(&shared, method, uri, headers, body).await }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Carrier {
            addr,
            requests,
            violations,
            in_flight,
            task,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Requests received on paths ending with `suffix`.
    pub(crate) fn requests_to(&self, suffix: &str) -> Vec<Req> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path.ends_with(suffix))
            .cloned()
            .collect()
    }

    /// Panics if any request or answer broke the contract.
    pub(crate) fn assert_conformant(&self) {
        let v = self.violations.lock().unwrap();
        assert!(v.is_empty(), "contract violations: {v:#?}");
    }
}

async fn handle(
    shared: &Shared,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let correlator = headers
        .get("x-correlator")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let form: HashMap<String, String> = if headers.get("content-type").is_some_and(|v| {
        v.as_bytes()
            .starts_with(b"application/x-www-form-urlencoded")
    }) {
        url_decode_form(&body)
    } else {
        HashMap::new()
    };
    let req = {
        let mut all = shared.requests.lock().unwrap();
        let nth = all.iter().filter(|r| r.path == path).count();
        let req = Req {
            path: path.clone(),
            bearer,
            correlator,
            body: body.to_vec(),
            form,
            nth,
        };
        all.push(req.clone());
        req
    };
    let reply = (shared.script)(&req);
    let camara = if let Some(p) = path.strip_prefix("/sim-swap/v2") {
        Some((&shared.sim, p))
    } else {
        path.strip_prefix("/device-swap/v1")
            .map(|p| (&shared.device, p))
    };
    if let Some((spec, op_path)) = camara {
        let mut problems = Vec::new();
        if method != Method::POST {
            problems.push(format!("{method} {path}: only POST is defined"));
        }
        match serde_json::from_slice::<Value>(&body) {
            Ok(v) => problems.extend(spec.check_request(op_path, "post", &v)),
            Err(_) => problems.push(format!("{path}: the request body is not JSON")),
        }
        let xc = req.correlator.as_deref().unwrap_or("");
        if xc.is_empty() || xc.len() > 256 {
            problems.push(format!("{path}: no usable x-correlator header"));
        }
        if req.bearer.is_none() {
            problems.push(format!("{path}: no bearer token"));
        }
        if headers.get("content-type").and_then(|v| v.to_str().ok()) != Some("application/json") {
            problems.push(format!(
                "{path}: the request is not sent as application/json"
            ));
        }
        if let Some(b) = &reply.body {
            match (serde_json::from_slice::<Value>(b), reply.conforms) {
                (Ok(v), true) => {
                    problems.extend(spec.check_response(op_path, "post", reply.status, &v));
                }
                (Ok(v), false) => {
                    if spec
                        .check_response(op_path, "post", reply.status, &v)
                        .is_empty()
                    {
                        problems.push(format!("{path}: a reply meant to be malformed conforms"));
                    }
                }
                (Err(_), true) => problems.push(format!("{path}: a conforming reply is not JSON")),
                (Err(_), false) => {}
            }
        }
        shared.violations.lock().unwrap().extend(problems);
    }
    let root: String = path.split('/').take(3).collect::<Vec<_>>().join("/");
    {
        let mut counts = shared.in_flight.lock().unwrap();
        let entry = counts.entry(root.clone()).or_insert((0, 0));
        entry.0 += 1;
        entry.1 = entry.1.max(entry.0);
    }
    if let Some(d) = reply.delay {
        tokio::time::sleep(d).await;
    }
    shared.in_flight.lock().unwrap().get_mut(&root).unwrap().0 -= 1;
    let mut resp = (
        StatusCode::from_u16(reply.status).unwrap(),
        reply.body.clone().unwrap_or_default(),
    )
        .into_response();
    if reply.body.is_some() {
        resp.headers_mut()
            .insert("content-type", "application/json".parse().unwrap());
    }
    if let Some(xc) = &req.correlator {
        if let Ok(v) = xc.parse() {
            resp.headers_mut().insert("x-correlator", v);
        }
    }
    for (name, value) in &reply.headers {
        resp.headers_mut().insert(*name, value.parse().unwrap());
    }
    resp
}

fn url_decode_form(body: &[u8]) -> HashMap<String, String> {
    let text = String::from_utf8_lossy(body);
    text.split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let h = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(h, 16).unwrap());
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// A roster folder: pin key files and the roster text.
pub(crate) struct RosterDir {
    pub dir: tempfile::TempDir,
}

/// One line of a test roster.
pub(crate) struct TestLine<'a> {
    pub device: &'a str,
    pub phone: &'a str,
    pub carrier: &'a str,
    pub check_max_age: Option<u32>,
}

impl RosterDir {
    /// Writes a roster with one carrier block per `(name, body)` and the lines.
    pub(crate) fn new(carriers: &[(&str, String)], lines: &[TestLine<'_>]) -> RosterDir {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::new();
        for (name, body) in carriers {
            text.push_str(&format!("[carrier.{name}]\n{body}\n\n"));
        }
        for (i, l) in lines.iter().enumerate() {
            let pin = dir.path().join(format!("{}.pin", l.device));
            std::fs::write(&pin, format!("{:02x}", i % 256).repeat(32)).unwrap();
            text.push_str(&format!(
                "[[line]]\ndevice = \"{}\"\nphone = \"{}\"\ncarrier = \"{}\"\npin_key = \"{}.pin\"\n",
                l.device, l.phone, l.carrier, l.device
            ));
            if let Some(h) = l.check_max_age {
                text.push_str(&format!("check_max_age = {h}\n"));
            }
            text.push('\n');
        }
        std::fs::write(dir.path().join("client.secret"), "test-client-secret\n").unwrap();
        std::fs::write(dir.path().join("roster.toml"), text).unwrap();
        RosterDir { dir }
    }

    pub(crate) fn path(&self) -> PathBuf {
        self.dir.path().join("roster.toml")
    }

    pub(crate) fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }
}

/// The body of a `[carrier.NAME]` block pointing at `base` (the scripted carrier).
pub(crate) fn carrier_block(base: &str, auth: &str, concurrency: usize) -> String {
    let mut s = format!(
        "sim_swap_url = \"{base}/sim-swap/v2\"\ndevice_swap_url = \"{base}/device-swap/v1\"\ntoken_url = \"{base}/token\"\nclient_id = \"console\"\nclient_secret = {{ file = \"client.secret\" }}\nconcurrency = {concurrency}\nauth = \"{auth}\"\n"
    );
    if auth == "ciba" {
        s.push_str(&format!("bc_authorize_url = \"{base}/bc-authorize\"\n"));
    }
    s
}

/// A writer whose bytes the test can read back (the alert sink).
#[derive(Clone, Default)]
pub(crate) struct Captured(pub Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Keeps the OCSF alerts a test read where `scripts/ocsf-tests.sh` validates them
/// against the OCSF schema (one file per read, named after the test).
fn keep_for_validation(text: &str) {
    static READS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let Some(dir) = std::env::var_os("PORTCULLIS_OCSF_DUMP") else {
        return;
    };
    if text.is_empty() {
        return;
    }
    let n = READS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let test = std::thread::current()
        .name()
        .unwrap_or("carrier")
        .replace("::", "-");
    let name = format!("carrier-{test}-{n}.jsonl");
    std::fs::write(std::path::Path::new(&dir).join(name), text).unwrap();
}

impl Captured {
    /// The alerts written so far, one JSON object each.
    pub(crate) fn alerts(&self) -> Vec<Value> {
        let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
        keep_for_validation(&text);
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

/// The operations key the tests sign with.
pub(crate) fn operations_key() -> portcullis_core::policy::SigningKey {
    portcullis_core::policy::SigningKey::from_seed(&[9; 32]).unwrap()
}

/// Short timeouts and retry waits, so scripted failures do not slow the suite.
pub(crate) fn quick_http() -> portcullis_carrier::http::HttpConfig {
    portcullis_carrier::http::HttpConfig {
        timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(2),
        max_body: 32 * 1024,
        max_retries: 3,
        max_retry_after: Duration::from_secs(5),
        backoff: Duration::from_millis(50),
    }
}

/// A watch over the roster in `dir`, alerts captured.
pub(crate) fn watch(
    dir: &RosterDir,
    http: portcullis_carrier::http::HttpConfig,
) -> (portcullis_carrier::Watch, Captured) {
    watch_refreshing(dir, http, Duration::from_secs(24 * 3600))
}

/// A watch that relays an unchanged answer again after `relay_refresh`.
pub(crate) fn watch_refreshing(
    dir: &RosterDir,
    http: portcullis_carrier::http::HttpConfig,
    relay_refresh: Duration,
) -> (portcullis_carrier::Watch, Captured) {
    let roster = portcullis_carrier::Roster::load(&dir.path()).unwrap();
    let mut config = portcullis_carrier::WatchConfig::new(dir.out());
    config.http = http;
    config.relay_refresh = relay_refresh;
    let captured = Captured::default();
    let sink = portcullis_carrier::output::AlertSink::writer(Box::new(captured.clone()));
    let w = portcullis_carrier::Watch::new(
        roster,
        operations_key(),
        config,
        sink,
        portcullis_carrier::watch::system_clock(),
    )
    .unwrap();
    (w, captured)
}

/// Reads and verifies a written instruction; returns its payload.
pub(crate) fn instruction(path: &Path) -> Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let env = portcullis_core::policy::Envelope::parse(&bytes, 1 << 20).unwrap();
    assert_eq!(
        env.payload_type,
        portcullis_carrier::instruction::INSTRUCTION_PAYLOAD_TYPE
    );
    let key = operations_key();
    assert_eq!(env.signatures.len(), 1);
    assert!(key
        .public_key()
        .verifies(&env.signing_input(), &env.signatures[0].sig));
    serde_json::from_slice(&env.payload).unwrap()
}
