//! `carrier subscribe`: SIM Swap Subscriptions 0.3.0. For every line whose carrier
//! offers the API, a subscription to `org.camaraproject.sim-swap-subscriptions.v0.swapped`
//! delivering to the roster's `[listen] sink` with its bearer token as the sink
//! credential; renewed before it ends. Subscriptions are recorded (device id →
//! subscription id) in the out folder, where `carrier listen` reads them.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use portcullis_core::Timestamp;

use crate::camara::parse_date;
use crate::error::{describe, CarrierError, Error};
use crate::http::{self, correlator, read_body, HttpConfig};
use crate::roster::{AuthMode, Line, Roster};
use crate::state::write_atomically;
use crate::token::Tokens;
use crate::watch::Clock;

/// The event type subscribed to.
pub const SWAPPED: &str = "org.camaraproject.sim-swap-subscriptions.v0.swapped";
/// The event type a carrier sends when a subscription ends.
pub const SUBSCRIPTION_ENDED: &str =
    "org.camaraproject.sim-swap-subscriptions.v0.subscription-ended";
/// The file in the out folder that records the subscriptions.
pub const SUBSCRIPTIONS_FILE: &str = "carrier-subscriptions.json";
const CREATE_SCOPE: &str =
    "sim-swap-subscriptions:org.camaraproject.sim-swap-subscriptions.v0.swapped:create";
const DELETE_SCOPE: &str = "sim-swap-subscriptions:delete";
/// A subscription ending within this is renewed.
const RENEW_BEFORE_MS: i64 = 2 * 24 * 3_600_000;

/// One subscription made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionRecord {
    /// The carrier's subscription id.
    pub id: String,
    /// When it ends, if the carrier said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
}

/// The subscriptions file: device id → subscription. No number, no token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscriptions {
    /// Per device.
    pub devices: BTreeMap<String, SubscriptionRecord>,
}

impl Subscriptions {
    /// Reads the file in `out_dir`; missing means none.
    pub fn load(out_dir: &Path) -> Result<Subscriptions, Error> {
        let path = out_dir.join(SUBSCRIPTIONS_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|_| Error::State(format!("{} is malformed", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Subscriptions::default()),
            Err(e) => Err(Error::Io(format!("cannot read {}: {e}", path.display()))),
        }
    }

    /// Writes the file atomically.
    pub fn save(&self, out_dir: &Path) -> Result<(), Error> {
        std::fs::create_dir_all(out_dir)
            .map_err(|e| Error::Io(format!("cannot create {}: {e}", out_dir.display())))?;
        write_atomically(
            &out_dir.join(SUBSCRIPTIONS_FILE),
            &serde_json::to_vec_pretty(self).expect("subscriptions serialise"),
        )
    }

    /// The device a subscription id belongs to.
    pub fn device_of(&self, id: &str) -> Option<&str> {
        self.devices
            .iter()
            .find(|(_, r)| r.id == id)
            .map(|(d, _)| d.as_str())
    }
}

/// What a `subscribe` run did.
#[derive(Debug, Default)]
pub struct SubscribeReport {
    /// Lines subscribed now (named as in logs).
    pub created: Vec<String>,
    /// Lines whose subscription is still good.
    pub kept: usize,
    /// Lines whose carrier offers no subscriptions.
    pub not_offered: usize,
    /// Lines that failed, and why.
    pub failures: Vec<(String, CarrierError)>,
}

/// Prints the report to standard error.
pub fn print_report(r: &SubscribeReport) {
    eprintln!(
        "carrier subscribe: {} created, {} kept, {} without subscriptions, {} failure(s)",
        r.created.len(),
        r.kept,
        r.not_offered,
        r.failures.len()
    );
    for (line, e) in &r.failures {
        eprintln!("carrier subscribe: {line}: {e}");
    }
}

/// Creates the missing subscriptions and renews those about to end.
pub async fn subscribe(
    roster: &Roster,
    out_dir: &Path,
    http_config: HttpConfig,
    clock: Clock,
) -> Result<SubscribeReport, Error> {
    let listen = roster.listen.as_ref().ok_or_else(|| {
        Error::Config("the roster has no [listen] table (sink and sink_token)".into())
    })?;
    let sink_token = listen.sink_token.read()?;
    let client = http::client(&http_config, 4)?;
    let tokens = Tokens::new(client.clone(), http_config.clone());
    let mut subs = Subscriptions::load(out_dir)?;
    let mut report = SubscribeReport::default();
    let now = clock();
    for line in &roster.lines {
        let Some(base) = line.carrier.subscriptions_url.as_deref() else {
            report.not_offered += 1;
            continue;
        };
        let current = subs.devices.get(&line.device).cloned();
        let fresh = current.as_ref().is_some_and(|r| {
            r.expires_at
                .is_none_or(|at| at.millis_since(now) > RENEW_BEFORE_MS)
        });
        if fresh {
            report.kept += 1;
            continue;
        }
        let expire = now.plus_millis(i64::from(listen.subscription_days) * 24 * 3_600_000);
        let body = request_body(line, &listen.sink, &sink_token, expire);
        match create(&client, &tokens, &http_config, line, base, &body).await {
            Ok(record) => {
                if let Some(old) = current {
                    // The replacement is in place: the old one can go. A failure here
                    // leaves a subscription that ends by itself.
                    let _ = delete(&client, &tokens, &http_config, line, base, &old.id).await;
                }
                subs.devices.insert(line.device.clone(), record);
                subs.save(out_dir)?;
                report.created.push(line.label());
            }
            Err(e) => report.failures.push((line.label(), e)),
        }
    }
    Ok(report)
}

/// The subscription request: HTTP protocol, the sink and its bearer credential, the
/// swapped event, and the number only with a two-legged token.
fn request_body(line: &Line, sink: &str, sink_token: &str, expire: Timestamp) -> serde_json::Value {
    let detail = match line.carrier.auth {
        AuthMode::ClientCredentials => serde_json::json!({ "phoneNumber": line.phone() }),
        AuthMode::Ciba => serde_json::json!({}),
    };
    serde_json::json!({
        "protocol": "HTTP",
        "sink": sink,
        "sinkCredential": {
            "credentialType": "ACCESSTOKEN",
            "accessToken": sink_token,
            "accessTokenExpiresUtc": expire.to_string(),
            "accessTokenType": "bearer",
        },
        "types": [SWAPPED],
        "config": {
            "subscriptionDetail": detail,
            "subscriptionExpireTime": expire.to_string(),
        },
    })
}

async fn create(
    client: &reqwest::Client,
    tokens: &Tokens,
    config: &HttpConfig,
    line: &Line,
    base: &str,
    body: &serde_json::Value,
) -> Result<SubscriptionRecord, CarrierError> {
    let mut renewed = false;
    loop {
        let token = tokens.get(&line.carrier, CREATE_SCOPE, Some(line)).await?;
        let resp = client
            .post(format!("{base}/subscriptions"))
            .bearer_auth(&*token)
            .header("x-correlator", correlator())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(serde_json::to_vec(body).expect("a request body serialises"))
            .send()
            .await
            .map_err(|e| describe(&e))?;
        let status = resp.status().as_u16();
        let bytes = read_body(resp, config.max_body).await?;
        match status {
            201 | 202 => return parse_subscription(&bytes, status == 201),
            401 | 403 if !renewed => {
                tokens
                    .invalidate(&line.carrier, CREATE_SCOPE, Some(line), &token)
                    .await;
                renewed = true;
            }
            _ => {
                return Err(CarrierError::Status {
                    status,
                    code: crate::camara::error_code(&bytes),
                })
            }
        }
    }
}

async fn delete(
    client: &reqwest::Client,
    tokens: &Tokens,
    config: &HttpConfig,
    line: &Line,
    base: &str,
    id: &str,
) -> Result<(), CarrierError> {
    let token = tokens.get(&line.carrier, DELETE_SCOPE, Some(line)).await?;
    let resp = client
        .delete(format!("{base}/subscriptions/{id}"))
        .bearer_auth(&*token)
        .header("x-correlator", correlator())
        .send()
        .await
        .map_err(|e| describe(&e))?;
    let status = resp.status().as_u16();
    let _ = read_body(resp, config.max_body).await;
    match status {
        202 | 204 | 404 => Ok(()),
        _ => Err(CarrierError::Status { status, code: None }),
    }
}

/// A subscription id as the console keeps it: short and plain (it goes into a URL path).
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 256
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// Reads the carrier's answer: `Subscription` (201) or `SubscriptionAsync` (202).
fn parse_subscription(body: &[u8], created: bool) -> Result<SubscriptionRecord, CarrierError> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| CarrierError::Malformed("not JSON".into()))?;
    let id = v
        .get("id")
        .and_then(serde_json::Value::as_str)
        .filter(|id| valid_id(id))
        .ok_or_else(|| CarrierError::Malformed("no usable subscription `id`".into()))?;
    let expires_at = match v.get("expiresAt") {
        Some(serde_json::Value::String(s)) if created => Some(parse_date(s).ok_or_else(|| {
            CarrierError::Malformed("`expiresAt` is not an RFC 3339 time".into())
        })?),
        _ => None,
    };
    Ok(SubscriptionRecord {
        id: id.to_owned(),
        expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscription_answers_are_checked() {
        let r = parse_subscription(
            br#"{"id":"qs15-h556-rt89-1298","expiresAt":"2026-01-01T00:00:00Z"}"#,
            true,
        )
        .unwrap();
        assert_eq!(r.id, "qs15-h556-rt89-1298");
        assert_eq!(
            r.expires_at,
            Timestamp::parse_rfc3339("2026-01-01T00:00:00Z")
        );
        assert!(parse_subscription(br#"{"id":"../../etc"}"#, true).is_err());
        assert!(parse_subscription(br#"{}"#, false).is_err());
        // 202 (asynchronous creation): `SubscriptionAsync` carries the id only.
        let r = parse_subscription(br#"{"id":"1119920371","expiresAt":"x"}"#, false).unwrap();
        assert_eq!((r.id.as_str(), r.expires_at), ("1119920371", None));
    }
}
