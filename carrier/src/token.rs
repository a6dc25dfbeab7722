//! Access tokens, as the CAMARA security profile describes: OpenID Connect client
//! credentials (two-legged) and CIBA (three-legged, `login_hint=tel:+E164`). Tokens
//! are cached until shortly before they expire; one fetch serves every waiting request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::error::{describe, CarrierError};
use crate::http::{read_body, HttpConfig};
use crate::roster::{AuthMode, Carrier, Line};

/// Tokens are renewed this long before the carrier says they expire.
const EXPIRY_MARGIN: Duration = Duration::from_secs(30);
/// Assumed lifetime when the token endpoint gives none.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(300);
/// The largest token accepted (it goes into a header).
const MAX_TOKEN_LEN: usize = 8192;
/// The CIBA grant type (OpenID Connect CIBA Core 1.0).
const CIBA_GRANT: &str = "urn:openid:params:grant-type:ciba";

#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    carrier: String,
    scope: String,
    /// The device, for three-legged tokens (one per line).
    subject: Option<String>,
}

struct Cached {
    value: Arc<str>,
    expires: Instant,
}

/// One cached token: read without waiting; renewed by one caller while the others wait.
#[derive(Default)]
struct SlotInner {
    current: std::sync::RwLock<Option<Cached>>,
    renewal: tokio::sync::Mutex<()>,
}

impl SlotInner {
    fn valid(&self) -> Option<Arc<str>> {
        let current = self.current.read().expect("token lock");
        current
            .as_ref()
            .filter(|c| Instant::now() < c.expires)
            .map(|c| c.value.clone())
    }
}

type Slot = Arc<SlotInner>;

/// The token cache. Cheap to share behind an `Arc`.
pub struct Tokens {
    client: reqwest::Client,
    config: HttpConfig,
    slots: Mutex<HashMap<Key, Slot>>,
    fetches: std::sync::atomic::AtomicU64,
}

impl Tokens {
    /// A cache that fetches with `client`.
    pub fn new(client: reqwest::Client, config: HttpConfig) -> Self {
        Tokens {
            client,
            config,
            slots: Mutex::new(HashMap::new()),
            fetches: Default::default(),
        }
    }

    /// How many tokens were fetched so far (tests and reports).
    pub fn fetches(&self) -> u64 {
        self.fetches.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn slot(&self, key: Key) -> Slot {
        let mut slots = self.slots.lock().expect("token cache lock");
        slots.entry(key).or_default().clone()
    }

    fn lookup(&self, carrier: &Carrier, scope: &str, line: Option<&Line>) -> Slot {
        self.slot(Self::key(carrier, scope, line))
    }

    fn key(carrier: &Carrier, scope: &str, line: Option<&Line>) -> Key {
        Key {
            carrier: carrier.name.clone(),
            scope: scope.to_owned(),
            subject: match carrier.auth {
                AuthMode::ClientCredentials => None,
                AuthMode::Ciba => line.map(|l| l.device.clone()),
            },
        }
    }

    /// A valid token for `scope` at `carrier` (for CIBA, for `line`'s number).
    pub async fn get(
        &self,
        carrier: &Carrier,
        scope: &str,
        line: Option<&Line>,
    ) -> Result<Arc<str>, CarrierError> {
        let slot = self.lookup(carrier, scope, line);
        if let Some(token) = slot.valid() {
            return Ok(token);
        }
        let _renewal = slot.renewal.lock().await;
        // Another caller may have renewed it while this one waited.
        if let Some(token) = slot.valid() {
            return Ok(token);
        }
        let (value, lifetime) = match carrier.auth {
            AuthMode::ClientCredentials => self.client_credentials(carrier, scope).await?,
            AuthMode::Ciba => {
                let line = line.ok_or_else(|| CarrierError::Auth("CIBA needs a line".into()))?;
                self.ciba(carrier, scope, line).await?
            }
        };
        self.fetches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let value: Arc<str> = value.into();
        *slot.current.write().expect("token lock") = Some(Cached {
            value: value.clone(),
            expires: Instant::now() + lifetime.saturating_sub(EXPIRY_MARGIN),
        });
        Ok(value)
    }

    /// Drops `token` from the cache after the carrier refused it (401/403), unless a
    /// newer one replaced it already.
    pub async fn invalidate(
        &self,
        carrier: &Carrier,
        scope: &str,
        line: Option<&Line>,
        token: &str,
    ) {
        let slot = self.lookup(carrier, scope, line);
        let mut current = slot.current.write().expect("token lock");
        if current.as_ref().is_some_and(|c| &*c.value == token) {
            *current = None;
        }
    }

    async fn client_credentials(
        &self,
        carrier: &Carrier,
        scope: &str,
    ) -> Result<(String, Duration), CarrierError> {
        let secret = carrier
            .client_secret
            .read()
            .map_err(|e| CarrierError::Auth(e.to_string()))?;
        let form = [("grant_type", "client_credentials"), ("scope", scope)];
        let resp = self
            .client
            .post(&carrier.token_url)
            .basic_auth(&carrier.client_id, Some(secret))
            .form(&form)
            .send()
            .await
            .map_err(|e| CarrierError::Auth(format!("token endpoint: {}", describe(&e))))?;
        let status = resp.status().as_u16();
        let body = read_body(resp, self.config.max_body).await?;
        if status != 200 {
            return Err(CarrierError::Auth(format!(
                "token endpoint answered HTTP {status}{}",
                oauth_error(&body)
                    .map(|e| format!(" {e}"))
                    .unwrap_or_default()
            )));
        }
        parse_token(&body)
    }

    async fn ciba(
        &self,
        carrier: &Carrier,
        scope: &str,
        line: &Line,
    ) -> Result<(String, Duration), CarrierError> {
        let secret = carrier
            .client_secret
            .read()
            .map_err(|e| CarrierError::Auth(e.to_string()))?;
        let url = carrier
            .bc_authorize_url
            .as_deref()
            .ok_or_else(|| CarrierError::Auth("no bc_authorize_url".into()))?;
        let scope = format!("openid {scope}");
        let hint = format!("tel:{}", line.phone());
        let resp = self
            .client
            .post(url)
            .basic_auth(&carrier.client_id, Some(&secret))
            .form(&[("scope", scope.as_str()), ("login_hint", hint.as_str())])
            .send()
            .await
            .map_err(|e| CarrierError::Auth(format!("bc-authorize: {}", describe(&e))))?;
        let status = resp.status().as_u16();
        let body = read_body(resp, self.config.max_body).await?;
        if status != 200 {
            return Err(CarrierError::Auth(format!(
                "bc-authorize answered HTTP {status}{}",
                oauth_error(&body)
                    .map(|e| format!(" {e}"))
                    .unwrap_or_default()
            )));
        }
        #[derive(Deserialize)]
        struct AuthReq {
            auth_req_id: String,
            expires_in: u64,
            interval: Option<u64>,
        }
        let req: AuthReq = serde_json::from_slice(&body)
            .map_err(|_| CarrierError::Auth("bc-authorize answer is malformed".into()))?;
        if req.auth_req_id.is_empty() || req.auth_req_id.len() > 1024 {
            return Err(CarrierError::Auth(
                "bc-authorize answer is malformed".into(),
            ));
        }
        let deadline = Instant::now() + Duration::from_secs(req.expires_in.min(3600));
        let mut interval = Duration::from_secs(req.interval.unwrap_or(5).clamp(1, 60));
        loop {
            tokio::time::sleep(interval).await;
            if Instant::now() >= deadline {
                return Err(CarrierError::Auth(
                    "CIBA request expired before consent".into(),
                ));
            }
            let resp = self
                .client
                .post(&carrier.token_url)
                .basic_auth(&carrier.client_id, Some(&secret))
                .form(&[
                    ("grant_type", CIBA_GRANT),
                    ("auth_req_id", req.auth_req_id.as_str()),
                ])
                .send()
                .await
                .map_err(|e| CarrierError::Auth(format!("token endpoint: {}", describe(&e))))?;
            let status = resp.status().as_u16();
            let body = read_body(resp, self.config.max_body).await?;
            if status == 200 {
                return parse_token(&body);
            }
            match oauth_error(&body).as_deref() {
                Some("authorization_pending") => {}
                Some("slow_down") => interval += Duration::from_secs(5),
                other => {
                    return Err(CarrierError::Auth(format!(
                        "CIBA token polling answered HTTP {status}{}",
                        other.map(|e| format!(" {e}")).unwrap_or_default()
                    )))
                }
            }
        }
    }
}

/// An OAuth error code (`error`), kept only when it looks like one.
fn oauth_error(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct OAuthError {
        error: String,
    }
    let e: OAuthError = serde_json::from_slice(body).ok()?;
    (e.error.len() <= 64 && e.error.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        .then_some(e.error)
}

fn parse_token(body: &[u8]) -> Result<(String, Duration), CarrierError> {
    #[derive(Deserialize)]
    struct TokenResponse {
        access_token: String,
        token_type: String,
        expires_in: Option<u64>,
    }
    let t: TokenResponse = serde_json::from_slice(body)
        .map_err(|_| CarrierError::Auth("token answer is malformed".into()))?;
    if !t.token_type.eq_ignore_ascii_case("bearer") {
        return Err(CarrierError::Auth("token type is not Bearer".into()));
    }
    if t.access_token.is_empty()
        || t.access_token.len() > MAX_TOKEN_LEN
        || !t.access_token.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(CarrierError::Auth(
            "access token is not a usable bearer token".into(),
        ));
    }
    let lifetime = t
        .expires_in
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_LIFETIME);
    Ok((t.access_token, lifetime))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_answers_are_checked() {
        let (t, life) =
            parse_token(br#"{"access_token":"abc.def","token_type":"bearer","expires_in":60}"#)
                .unwrap();
        assert_eq!((t.as_str(), life), ("abc.def", Duration::from_secs(60)));
        for bad in [
            &br#"{"access_token":"abc","token_type":"mac"}"#[..],
            br#"{"access_token":"a b","token_type":"Bearer"}"#,
            br#"{"access_token":"","token_type":"Bearer"}"#,
            br#"{"token_type":"Bearer"}"#,
        ] {
            let err = parse_token(bad).unwrap_err().to_string();
            assert!(!err.contains("abc"), "{err}");
        }
        assert_eq!(
            oauth_error(br#"{"error":"slow_down"}"#).as_deref(),
            Some("slow_down")
        );
        assert_eq!(oauth_error(br#"{"error":"Bearer xyz"}"#), None);
    }
}
