//! One pass over the roster: every line's SIM Swap and Device Swap operations,
//! concurrently with a per-endpoint limit, every documented error handled, then the
//! alerts, the signed instructions and the state.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use portcullis_core::policy::SigningKey;
use portcullis_core::Timestamp;

use crate::camara::{error_code, parse_success, Api, Observation, Operation};
use crate::error::{describe, CarrierError, Error};
use crate::http::{self, correlator, jittered, read_body, retry_after, HttpConfig};
use crate::instruction::{self, CarrierCheck};
use crate::output::{AlertSink, SwapAlert, Trigger};
use crate::roster::{AuthMode, Carrier, Line, Roster};
use crate::state::{write_atomically, State};
use crate::token::Tokens;

/// The clock: the console reads the system time; tests pass their own.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Timestamp::from_unix_millis(ms)
    })
}

/// How a watch runs.
pub struct WatchConfig {
    /// HTTP timeouts, limits and retry policy.
    pub http: HttpConfig,
    /// Where signed instructions are written for the MDM.
    pub out_dir: PathBuf,
    /// The state file.
    pub state_path: PathBuf,
    /// On a line's first answer, a change date this recent still alerts (a swap may
    /// have happened just before the line was added); older ones become the baseline.
    pub first_seen_window: Duration,
}

impl WatchConfig {
    /// Defaults: state in `out_dir/carrier-state.json`, first-seen window 240 hours
    /// (the contract's default `maxAge`).
    pub fn new(out_dir: PathBuf) -> Self {
        WatchConfig {
            http: HttpConfig::default(),
            state_path: out_dir.join("carrier-state.json"),
            out_dir,
            first_seen_window: Duration::from_secs(240 * 3600),
        }
    }
}

/// A line and API that could not be checked this pass.
#[derive(Debug, Clone)]
pub struct LineFailure {
    /// The line as logs name it (device id and last two digits).
    pub line: String,
    /// The API.
    pub api: Api,
    /// Why.
    pub error: CarrierError,
}

/// What one pass did.
#[derive(Debug, Default)]
pub struct PassReport {
    /// Requests planned (lines × APIs).
    pub planned: usize,
    /// Successful answers.
    pub answered: usize,
    /// Alerts written.
    pub alerts: usize,
    /// Instructions written.
    pub instructions: usize,
    /// What failed, per line.
    pub failures: Vec<LineFailure>,
    /// Wall time of the pass.
    pub elapsed: Duration,
}

/// Shared by the request tasks.
struct Ctx {
    client: reqwest::Client,
    tokens: Tokens,
    http: HttpConfig,
    limits: HashMap<String, Arc<Semaphore>>,
    /// Per carrier, the scope its tokens are requested with.
    scopes: HashMap<String, String>,
    clock: Clock,
}

/// A running watch: the roster, the client, the token cache, the state.
pub struct Watch {
    roster: Arc<Roster>,
    ctx: Arc<Ctx>,
    key: Arc<SigningKey>,
    state: State,
    config: WatchConfig,
    alerts: AlertSink,
}

impl Watch {
    /// Sets up a watch; reads the state file and creates the output folder.
    pub fn new(
        roster: Roster,
        key: SigningKey,
        config: WatchConfig,
        alerts: AlertSink,
        clock: Clock,
    ) -> Result<Watch, Error> {
        std::fs::create_dir_all(&config.out_dir)
            .map_err(|e| Error::Io(format!("cannot create {}: {e}", config.out_dir.display())))?;
        let state = State::load(&config.state_path)?;
        let max_limit = roster
            .carriers
            .values()
            .map(|c| c.concurrency)
            .max()
            .unwrap_or(8);
        let client = http::client(&config.http, max_limit)?;
        let mut limits = HashMap::new();
        for c in roster.carriers.values() {
            for url in [&c.sim_swap_url, &c.device_swap_url].into_iter().flatten() {
                limits
                    .entry(url.clone())
                    .or_insert_with(|| Arc::new(Semaphore::new(c.concurrency)));
            }
        }
        let scopes = scopes(&roster);
        Ok(Watch {
            roster: Arc::new(roster),
            ctx: Arc::new(Ctx {
                tokens: Tokens::new(client.clone(), config.http.clone()),
                client,
                http: config.http.clone(),
                limits,
                scopes,
                clock,
            }),
            key: Arc::new(key),
            state,
            config,
            alerts,
        })
    }

    /// The roster being watched.
    pub fn roster(&self) -> &Roster {
        &self.roster
    }

    /// The state as it stands (tests).
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Tokens fetched so far.
    pub fn token_fetches(&self) -> u64 {
        self.ctx.tokens.fetches()
    }

    /// Checks every line (`devices: None`) or the named ones, then writes alerts,
    /// instructions and the state. Per-line failures are in the report; only local
    /// failures (a full disk) end the pass with an error.
    pub async fn pass(
        &mut self,
        devices: Option<&BTreeSet<String>>,
        trigger: Trigger,
    ) -> Result<PassReport, Error> {
        let started = Instant::now();
        let mut report = PassReport::default();
        let mut tasks = JoinSet::new();
        for (index, line) in self.roster.lines.iter().enumerate() {
            if devices.is_some_and(|d| !d.contains(&line.device)) {
                continue;
            }
            for api in Api::ALL {
                let Some(base) = api_url(&line.carrier, api) else {
                    continue;
                };
                let op = match line.check_max_age {
                    Some(max_age) => Operation::Check { max_age },
                    None => Operation::RetrieveDate,
                };
                let ctx = self.ctx.clone();
                let roster = self.roster.clone();
                let base = base.to_owned();
                report.planned += 1;
                tasks.spawn(async move {
                    let line = &roster.lines[index];
                    let asked_at = (ctx.clock)();
                    let result = call(&ctx, line, &base, api, op).await;
                    (index, api, result, asked_at)
                });
            }
        }
        while let Some(joined) = tasks.join_next().await {
            let (index, api, result, checked_at) =
                joined.map_err(|_| Error::Config("a request task failed".into()))?;
            let roster = self.roster.clone();
            let line = &roster.lines[index];
            match result {
                Ok(answer) => match self.record(line, api, answer, checked_at, trigger)? {
                    Some(alerted) => {
                        report.answered += 1;
                        report.instructions += 1;
                        report.alerts += usize::from(alerted);
                    }
                    None => report.failures.push(LineFailure {
                        line: line.label(),
                        api,
                        error: CarrierError::TooLarge,
                    }),
                },
                Err(error) => report.failures.push(LineFailure {
                    line: line.label(),
                    api,
                    error,
                }),
            }
        }
        self.state.save(&self.config.state_path)?;
        report
            .failures
            .sort_by(|a, b| (&a.line, a.api).cmp(&(&b.line, b.api)));
        report.elapsed = started.elapsed();
        Ok(report)
    }

    /// Decides whether an answer is news, writes its instruction and, if news, its
    /// alert. Returns whether it alerted, or `None` when the answer cannot be relayed
    /// (too large for a phone to accept); nothing is recorded then.
    fn record(
        &mut self,
        line: &Line,
        api: Api,
        answer: Answer,
        checked_at: Timestamp,
        trigger: Trigger,
    ) -> Result<Option<bool>, Error> {
        let previous = self
            .state
            .seen(&line.device, api.as_str())
            .cloned()
            .unwrap_or_default();
        let mut seen = previous.clone();
        seen.checked_at = Some(checked_at);
        let (alert, latest) = match answer.observation {
            Observation::Date {
                latest: Some(d), ..
            } => {
                let news = match previous.latest_change {
                    Some(prev) => d > prev,
                    None => {
                        let window = self.config.first_seen_window.as_millis() as i64;
                        d.as_unix_millis() >= checked_at.as_unix_millis().saturating_sub(window)
                    }
                };
                seen.latest_change = Some(previous.latest_change.map_or(d, |p| p.max(d)));
                (news, Some(d))
            }
            Observation::Date { latest: None, .. } => (false, None),
            Observation::Swapped(swapped) => {
                seen.swapped = Some(swapped);
                (swapped && previous.swapped != Some(true), None)
            }
        };
        let last_sequence = self.state.sequences.get(&line.device).copied();
        let sequence = self.state.next_sequence(&line.device, checked_at);
        let check = CarrierCheck {
            device: &line.device,
            line_pin: &line.line_pin,
            api,
            operation: answer.operation,
            checked_at,
            response: &answer.body,
        };
        let issued_at = (self.ctx.clock)();
        let Ok(envelope) = instruction::sign(&check, sequence, issued_at, &self.key) else {
            match last_sequence {
                Some(last) => self.state.sequences.insert(line.device.clone(), last),
                None => self.state.sequences.remove(&line.device),
            };
            return Ok(None);
        };
        write_atomically(&self.instruction_path(&line.device, api), &envelope)?;
        if alert {
            let alert = SwapAlert {
                line,
                api,
                operation: answer.operation,
                at: checked_at,
                latest_change: latest,
                previous_change: previous.latest_change,
                sequence,
                trigger,
            };
            self.alerts.emit(&alert.to_ocsf())?;
        }
        self.state.record(&line.device, api.as_str(), seen);
        Ok(Some(alert))
    }

    /// Where the instruction relaying `device`'s latest `api` answer is written; each
    /// answer replaces the previous one (the newest sequence is the one that counts).
    pub fn instruction_path(&self, device: &str, api: Api) -> PathBuf {
        self.config
            .out_dir
            .join(format!("{device}.carrier_check.{}.json", api.as_str()))
    }

    /// Raises an alert for a swap a carrier notified, when the check made on the
    /// notification did not show it already (the carrier's records may lag its events).
    pub fn notified_swap(
        &mut self,
        line_device: &str,
        event_time: Timestamp,
    ) -> Result<bool, Error> {
        let roster = self.roster.clone();
        let Some(line) = roster.line(line_device) else {
            return Ok(false);
        };
        let previous = self
            .state
            .seen(&line.device, Api::SimSwap.as_str())
            .cloned()
            .unwrap_or_default();
        if previous.latest_change.is_some_and(|d| d >= event_time) {
            return Ok(false);
        }
        let now = (self.ctx.clock)();
        let sequence = self.state.next_sequence(&line.device, now);
        let alert = SwapAlert {
            line,
            api: Api::SimSwap,
            operation: Operation::RetrieveDate,
            at: now,
            latest_change: Some(event_time),
            previous_change: previous.latest_change,
            sequence,
            trigger: Trigger::Notification,
        };
        self.alerts.emit(&alert.to_ocsf())?;
        let mut seen = previous;
        seen.latest_change = Some(seen.latest_change.map_or(event_time, |p| p.max(event_time)));
        self.state.record(&line.device, Api::SimSwap.as_str(), seen);
        self.state.save(&self.config.state_path)?;
        Ok(true)
    }
}

/// The scope each carrier's tokens are asked for: the operations its lines use.
fn scopes(roster: &Roster) -> HashMap<String, String> {
    let mut wanted: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in &roster.lines {
        let op = match line.check_max_age {
            Some(max_age) => Operation::Check { max_age },
            None => Operation::RetrieveDate,
        };
        for api in Api::ALL {
            if api_url(&line.carrier, api).is_some() {
                wanted
                    .entry(line.carrier.name.clone())
                    .or_default()
                    .insert(op.scope(api));
            }
        }
    }
    wanted
        .into_iter()
        .map(|(carrier, set)| (carrier, set.into_iter().collect::<Vec<_>>().join(" ")))
        .collect()
}

fn api_url(carrier: &Carrier, api: Api) -> Option<&str> {
    match api {
        Api::SimSwap => carrier.sim_swap_url.as_deref(),
        Api::DeviceSwap => carrier.device_swap_url.as_deref(),
    }
}

/// A successful answer: the operation as finally sent, the raw body and its meaning.
struct Answer {
    operation: Operation,
    body: Vec<u8>,
    observation: Observation,
}

/// One operation on one line, with every documented error handled: 401/403 renew
/// the token once; 429/503 wait as `Retry-After` says (jittered, bounded); 400
/// `OUT_OF_RANGE` on `check` halves `maxAge`; anything else is the line's failure.
async fn call(
    ctx: &Ctx,
    line: &Line,
    base: &str,
    api: Api,
    mut op: Operation,
) -> Result<Answer, CarrierError> {
    let carrier = &line.carrier;
    let scope = ctx
        .scopes
        .get(&carrier.name)
        .map(String::as_str)
        .unwrap_or("");
    let phone = match carrier.auth {
        AuthMode::ClientCredentials => Some(line.phone()),
        AuthMode::Ciba => None,
    };
    let limit = ctx
        .limits
        .get(base)
        .cloned()
        .unwrap_or_else(|| Arc::new(Semaphore::new(1)));
    let mut renewed = false;
    let mut retries = 0;
    loop {
        let token = ctx.tokens.get(carrier, scope, Some(line)).await?;
        let (status, wait, body) = {
            let _permit = limit
                .acquire()
                .await
                .map_err(|_| CarrierError::Network("shutting down".into()))?;
            let resp = ctx
                .client
                .post(format!("{base}{}", op.path()))
                .bearer_auth(&*token)
                .header("x-correlator", correlator())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(serde_json::to_vec(&op.body(phone)).expect("a request body serialises"))
                .send()
                .await
                .map_err(|e| describe(&e))?;
            let status = resp.status().as_u16();
            let wait = retry_after(resp.headers(), (ctx.clock)().as_unix_millis());
            let body = read_body(resp, ctx.http.max_body).await?;
            (status, wait, body)
        };
        match status {
            200 => {
                let observation = parse_success(api, op, &body)?;
                return Ok(Answer {
                    operation: op,
                    body,
                    observation,
                });
            }
            401 | 403 if !renewed => {
                ctx.tokens
                    .invalidate(carrier, scope, Some(line), &token)
                    .await;
                renewed = true;
            }
            429 | 503 => {
                if retries >= ctx.http.max_retries {
                    return Err(CarrierError::GaveUp { status });
                }
                let wait = wait.unwrap_or_else(|| ctx.http.backoff * 2u32.pow(retries));
                if wait > ctx.http.max_retry_after {
                    return Err(CarrierError::GaveUp { status });
                }
                retries += 1;
                tokio::time::sleep(jittered(wait)).await;
            }
            400 => {
                let code = error_code(&body);
                match (op, code.as_deref()) {
                    (Operation::Check { max_age }, Some("OUT_OF_RANGE")) if max_age > 1 => {
                        op = Operation::Check {
                            max_age: max_age / 2,
                        };
                    }
                    _ => return Err(CarrierError::Status { status, code }),
                }
            }
            _ => {
                return Err(CarrierError::Status {
                    status,
                    code: error_code(&body),
                })
            }
        }
    }
}
