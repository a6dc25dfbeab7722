//! `carrier listen`: the receiving end of SIM Swap Subscriptions. Carriers POST
//! CloudEvents to the sink; a `swapped` event for a known subscription makes the
//! watch check that line at once, which gives the same alert and signed instruction
//! as a poll would (and an alert from the event itself when the carrier's records
//! lag its notification).

use std::collections::{BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::sync::mpsc;

use portcullis_core::Timestamp;

use crate::camara::parse_date;
use crate::error::Error;
use crate::output::Trigger;
use crate::roster::Roster;
use crate::run::print_report;
use crate::subscribe::{Subscriptions, SUBSCRIPTION_ENDED, SWAPPED};
use crate::watch::Watch;

/// The largest notification accepted.
pub const MAX_EVENT_BYTES: usize = 64 * 1024;
/// How many event ids are remembered to drop redeliveries.
const REMEMBERED_IDS: usize = 4096;
/// Notifications waiting for the watch; beyond this the carrier is asked to retry.
const QUEUE: usize = 1024;

/// A swap notification for a roster line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The device whose line was swapped.
    pub device: String,
    /// When the carrier says it happened.
    pub time: Timestamp,
}

/// What the HTTP handler needs.
pub struct Listener {
    roster: Arc<Roster>,
    out_dir: PathBuf,
    sink_token: String,
    queue: mpsc::Sender<Notice>,
    seen_ids: Mutex<VecDeque<String>>,
}

impl Listener {
    /// A listener for `roster`'s lines, handing notices to `queue`.
    pub fn new(
        roster: Arc<Roster>,
        out_dir: PathBuf,
        queue: mpsc::Sender<Notice>,
    ) -> Result<Listener, Error> {
        let listen = roster.listen.as_ref().ok_or_else(|| {
            Error::Config("the roster has no [listen] table (sink and sink_token)".into())
        })?;
        let sink_token = listen.sink_token.read()?;
        Ok(Listener {
            roster,
            out_dir,
            sink_token,
            queue,
            seen_ids: Mutex::new(VecDeque::new()),
        })
    }

    /// The HTTP service: POST on any path (the sink's path is the operator's choice).
    pub fn router(self) -> axum::Router {
        let me = Arc::new(self);
        axum::Router::new()
            .fallback(
                move |method: axum::http::Method, headers: HeaderMap, body: Bytes| {
                    let me = me.clone();
                    async move {
                        if method != axum::http::Method::POST {
                            return error(
                                StatusCode::METHOD_NOT_ALLOWED,
                                "INVALID_ARGUMENT",
                                "Only POST is accepted.",
                            );
                        }
                        me.handle(&headers, &body).await
                    }
                },
            )
            .layer(axum::extract::DefaultBodyLimit::max(MAX_EVENT_BYTES))
    }

    async fn handle(&self, headers: &HeaderMap, body: &[u8]) -> Response {
        if !self.authorised(headers) {
            return error(
                StatusCode::UNAUTHORIZED,
                "UNAUTHENTICATED",
                "Request not authenticated.",
            );
        }
        let Ok(event) = serde_json::from_slice::<CloudEvent>(body) else {
            return error(
                StatusCode::BAD_REQUEST,
                "INVALID_ARGUMENT",
                "Not a CloudEvent.",
            );
        };
        let Some(time) = event.valid_time() else {
            return error(
                StatusCode::BAD_REQUEST,
                "INVALID_ARGUMENT",
                "Not a CloudEvent.",
            );
        };
        if !self.first_delivery(&event.id) {
            return StatusCode::NO_CONTENT.into_response();
        }
        let subs = match Subscriptions::load(&self.out_dir) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("carrier listen: {e}");
                return error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "UNAVAILABLE",
                    "Try again later.",
                );
            }
        };
        let data = event.data.unwrap_or_default();
        let device = data
            .subscription_id
            .as_deref()
            .and_then(|id| subs.device_of(id))
            .map(str::to_owned)
            .or_else(|| {
                let phone = data.phone_number.as_deref()?;
                self.roster
                    .lines
                    .iter()
                    .find(|l| l.phone() == phone)
                    .map(|l| l.device.clone())
            });
        match event.kind.as_str() {
            SWAPPED => {
                let Some(device) = device else {
                    eprintln!("carrier listen: a swap notification for an unknown subscription; answered 410");
                    return error(
                        StatusCode::GONE,
                        "GONE",
                        "Access to the target resource is no longer available.",
                    );
                };
                match self.queue.try_send(Notice { device, time }) {
                    Ok(()) => StatusCode::NO_CONTENT.into_response(),
                    Err(_) => error(
                        StatusCode::TOO_MANY_REQUESTS,
                        "TOO_MANY_REQUESTS",
                        "Rejected due to request rate limit overpassed.",
                    ),
                }
            }
            SUBSCRIPTION_ENDED => {
                if let Some(device) = device {
                    let mut subs = subs;
                    subs.devices.remove(&device);
                    if let Err(e) = subs.save(&self.out_dir) {
                        eprintln!("carrier listen: {e}");
                    }
                    eprintln!("carrier listen: the subscription of {device} ended; `carrier subscribe` renews it");
                }
                StatusCode::NO_CONTENT.into_response()
            }
            k if k.starts_with("org.camaraproject.") => StatusCode::NO_CONTENT.into_response(),
            _ => error(
                StatusCode::BAD_REQUEST,
                "INVALID_ARGUMENT",
                "Unknown event type.",
            ),
        }
    }

    /// Compares the bearer token in constant time.
    fn authorised(&self, headers: &HeaderMap) -> bool {
        let Some(given) = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
        else {
            return false;
        };
        let (a, b) = (given.as_bytes(), self.sink_token.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }

    fn first_delivery(&self, id: &str) -> bool {
        let mut seen = self.seen_ids.lock().expect("seen ids lock");
        if seen.iter().any(|s| s == id) {
            return false;
        }
        if seen.len() == REMEMBERED_IDS {
            seen.pop_front();
        }
        seen.push_back(id.to_owned());
        true
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "status": status.as_u16(), "code": code, "message": message });
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// The CloudEvent fields the listener reads; others are ignored.
#[derive(Deserialize)]
struct CloudEvent {
    id: String,
    source: String,
    specversion: String,
    #[serde(rename = "type")]
    kind: String,
    time: String,
    #[serde(default)]
    data: Option<EventData>,
}

impl CloudEvent {
    fn valid_time(&self) -> Option<Timestamp> {
        let ok = !self.id.is_empty()
            && self.id.len() <= 256
            && !self.source.is_empty()
            && self.specversion == "1.0";
        ok.then(|| parse_date(&self.time)).flatten()
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct EventData {
    subscription_id: Option<String>,
    phone_number: Option<String>,
}

/// Takes notices off the queue and checks their lines, one at a time.
pub async fn work(mut watch: Watch, mut queue: mpsc::Receiver<Notice>) -> Result<(), Error> {
    while let Some(notice) = queue.recv().await {
        let devices = BTreeSet::from([notice.device.clone()]);
        let r = watch.pass(Some(&devices), Trigger::Notification).await?;
        print_report("listen", &r);
        if r.alerts == 0 {
            watch.notified_swap(&notice.device, notice.time)?;
        }
    }
    Ok(())
}

/// Runs `carrier listen` until asked to stop.
pub async fn run_listen(watch: Watch, out_dir: PathBuf, bind: SocketAddr) -> Result<(), Error> {
    let (tx, rx) = mpsc::channel(QUEUE);
    let roster = Arc::new(watch.roster().clone());
    let listener = Listener::new(roster, out_dir, tx)?;
    let socket = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|e| Error::Io(format!("cannot listen on {bind}: {e}")))?;
    eprintln!("carrier listen: listening on {bind}");
    let worker = tokio::spawn(work(watch, rx));
    axum::serve(socket, listener.router())
        .with_graceful_shutdown(crate::run::shutdown())
        .await
        .map_err(|e| Error::Io(format!("the listener failed: {e}")))?;
    worker.abort();
    Ok(())
}
