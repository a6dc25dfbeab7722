//! HTTP plumbing shared by every call: the client (rustls, timeouts), bounded body
//! reads, `Retry-After`, jittered backoff and `x-correlator` values.

use std::time::Duration;

use futures_util::StreamExt;
use ring::rand::{SecureRandom, SystemRandom};

use crate::error::{describe, CarrierError};

/// Knobs of the HTTP client; the defaults suit a real carrier, tests shorten them.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Time for one request, from sending to the last body byte.
    pub timeout: Duration,
    /// Time to establish a connection.
    pub connect_timeout: Duration,
    /// The largest body accepted from a carrier.
    pub max_body: usize,
    /// Retries after 429 or 503 before the line is reported.
    pub max_retries: u32,
    /// The longest `Retry-After` honoured; a longer one ends the attempt for this pass.
    pub max_retry_after: Duration,
    /// The first backoff step when no `Retry-After` is given (doubles per retry).
    pub backoff: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            timeout: Duration::from_secs(20),
            connect_timeout: Duration::from_secs(10),
            // CAMARA answers are tens of bytes; the relayed instruction (base64 inside
            // an envelope) must stay under the phone's 64 KiB limit.
            max_body: 32 * 1024,
            max_retries: 3,
            max_retry_after: Duration::from_secs(120),
            backoff: Duration::from_secs(1),
        }
    }
}

/// Builds the client: rustls only, no redirects (a carrier has no reason to send
/// the console elsewhere with a bearer token), no proxies from the environment.
pub fn client(config: &HttpConfig, pool_per_host: usize) -> Result<reqwest::Client, crate::Error> {
    reqwest::Client::builder()
        .use_rustls_tls()
        .https_only(false)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(config.timeout)
        .connect_timeout(config.connect_timeout)
        .pool_max_idle_per_host(pool_per_host)
        .user_agent(concat!("portcullis-carrier/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|_| crate::Error::Config("cannot build the HTTP client".into()))
}

/// Reads a body, refusing anything longer than `limit` (checked as it streams).
pub async fn read_body(resp: reqwest::Response, limit: usize) -> Result<Vec<u8>, CarrierError> {
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Err(CarrierError::TooLarge);
    }
    let mut out = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| describe(&e))?;
        if out.len() + chunk.len() > limit {
            return Err(CarrierError::TooLarge);
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// `Retry-After` as seconds or an HTTP date (relative to `now_unix_ms`).
pub fn retry_after(headers: &reqwest::header::HeaderMap, now_unix_ms: i64) -> Option<Duration> {
    let text = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = jiff::fmt::rfc2822::DateTimeParser::new()
        .parse_timestamp(text)
        .ok()?;
    let ms = at.as_millisecond().saturating_sub(now_unix_ms).max(0);
    Some(Duration::from_millis(ms as u64))
}

/// A wait of `base` stretched by a random factor in [1, 1.5), so that many lines
/// told to come back at the same moment do not all return at once.
pub fn jittered(base: Duration) -> Duration {
    let mut b = [0u8; 2];
    let r = SystemRandom::new()
        .fill(&mut b)
        .map(|()| u16::from_le_bytes(b))
        .unwrap_or(0);
    base + base.mul_f64(f64::from(r) / 65_536.0 / 2.0)
}

/// A fresh `x-correlator`: a random UUID (version 4), within the contract's pattern.
pub fn correlator() -> String {
    let mut b = [0u8; 16];
    SystemRandom::new()
        .fill(&mut b)
        .expect("the system random generator works");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = crate::hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_takes_seconds_and_dates() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("retry-after", "7".parse().unwrap());
        assert_eq!(retry_after(&h, 0), Some(Duration::from_secs(7)));
        h.insert(
            "retry-after",
            "Thu, 01 Jan 1970 00:00:30 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h, 10_000), Some(Duration::from_secs(20)));
        h.insert("retry-after", "soon".parse().unwrap());
        assert_eq!(retry_after(&h, 0), None);
    }

    #[test]
    fn jitter_stays_within_half_again() {
        for _ in 0..100 {
            let d = jittered(Duration::from_millis(1000));
            assert!(
                d >= Duration::from_millis(1000) && d < Duration::from_millis(1500),
                "{d:?}"
            );
        }
    }

    #[test]
    fn correlators_match_the_contract_pattern_and_differ() {
        let a = correlator();
        assert_eq!(a.len(), 36);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'));
        assert_ne!(a, correlator());
    }
}
