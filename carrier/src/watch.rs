//! One pass over the roster: every line's SIM Swap and Device Swap operations,
//! concurrently with a per-endpoint limit, every documented error handled, then the
//! alerts, the signed instructions and the state.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use portcullis_core::policy::SigningKey;
use portcullis_core::Timestamp;

use crate::camara::{error_code, parse_success, Api, Observation, Operation};
use crate::error::{describe, CarrierError, Error};
use crate::http::{self, correlator, jittered, read_body, retry_after, HttpConfig};
use crate::instruction::{self, CarrierCheck};
use crate::output::{AlertSink, SwapAlert, Trigger};
use crate::roster::{AuthMode, Carrier, Line, Roster};
use crate::state::{write_atomically, Relayed, Seen, State};
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
    /// An answer the same as the last one relayed is relayed again only after this
    /// long, so the MDM is not asked to push thousands of identical instructions
    /// every pass while the phone still hears from the carrier regularly.
    pub relay_refresh: Duration,
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
            relay_refresh: Duration::from_secs(24 * 3600),
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
    /// What failed, so the operator can tell a refused token from an unreachable API.
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
    /// Requests in flight per endpoint (API root).
    limits: HashMap<String, usize>,
    /// Per carrier, the scope its tokens are requested with.
    scopes: HashMap<String, String>,
    clock: Clock,
    out_dir: PathBuf,
    relay_refresh_ms: i64,
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
                limits.entry(url.clone()).or_insert(c.concurrency);
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
                out_dir: config.out_dir.clone(),
                relay_refresh_ms: config.relay_refresh.as_millis() as i64,
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
    ///
    /// Each endpoint gets a queue and as many workers as its concurrency limit; a
    /// worker also signs and writes the instruction of each answer, so that work
    /// spreads over the cores while other requests are in flight. The pass decides the
    /// alerts and updates the state in one place.
    pub async fn pass(
        &mut self,
        devices: Option<&BTreeSet<String>>,
        trigger: Trigger,
    ) -> Result<PassReport, Error> {
        let started = Instant::now();
        let mut report = PassReport::default();
        let now = (self.ctx.clock)();
        // One queue per endpoint, drained by as many workers as its limit allows.
        let mut queues: BTreeMap<String, VecDeque<Job>> = BTreeMap::new();
        for (index, line) in self.roster.lines.iter().enumerate() {
            if devices.is_some_and(|d| !d.contains(&line.device)) {
                continue;
            }
            // Numbered from here; only the numbers used are recorded.
            let mut sequence = self.state.peek_sequence(&line.device, now);
            for api in Api::ALL {
                let Some(base) = api_url(&line.carrier, api) else {
                    continue;
                };
                let op = match line.check_max_age {
                    Some(max_age) => Operation::Check { max_age },
                    None => Operation::RetrieveDate,
                };
                let job = Job {
                    index,
                    api,
                    base: base.to_owned(),
                    op,
                    sequence,
                    previous: self
                        .state
                        .seen(&line.device, api.as_str())
                        .cloned()
                        .unwrap_or_default(),
                    force_relay: trigger != Trigger::Poll,
                };
                sequence += 1;
                report.planned += 1;
                queues.entry(base.to_owned()).or_default().push_back(job);
            }
        }
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        // One writer for the instruction files: writes into one folder from many
        // threads only contend on the folder's lock.
        let (files, mut to_write) = tokio::sync::mpsc::channel::<FileJob>(1024);
        let writer = tokio::task::spawn_blocking(move || -> Result<(), Error> {
            while let Some((path, bytes, done)) = to_write.blocking_recv() {
                write_atomically(&path, &bytes)?;
                let _ = done.send(());
            }
            Ok(())
        });
        let mut workers = JoinSet::new();
        for (base, jobs) in queues {
            let limit = self
                .ctx
                .limits
                .get(&base)
                .copied()
                .unwrap_or(1)
                .min(jobs.len());
            let jobs = Arc::new(std::sync::Mutex::new(jobs));
            for _ in 0..limit {
                let (ctx, roster, key) = (self.ctx.clone(), self.roster.clone(), self.key.clone());
                let (jobs, tx, files) = (jobs.clone(), tx.clone(), files.clone());
                workers.spawn(async move {
                    // Answers that changed nothing are handed over in batches (one
                    // wake-up of the collector per batch); anything else at once.
                    let mut batch = Vec::new();
                    loop {
                        let Some(job) = jobs.lock().expect("job queue lock").pop_front() else {
                            let _ = tx.send(batch);
                            return Ok::<(), Error>(());
                        };
                        let line = &roster.lines[job.index];
                        let asked_at = (ctx.clock)();
                        let result = match call(&ctx, line, &job.base, job.api, job.op).await {
                            Ok(answer) => {
                                relay(&ctx, &key, &files, line, &job, answer, asked_at).await?
                            }
                            Err(e) => Err(e),
                        };
                        let urgent = !matches!(&result, Ok(done) if done.relayed.is_none());
                        batch.push((job, result, asked_at));
                        if (urgent || batch.len() >= RESULT_BATCH)
                            && tx.send(std::mem::take(&mut batch)).is_err()
                        {
                            return Ok(());
                        }
                    }
                });
            }
        }
        drop((tx, files));
        let mut dirty = false;
        while let Some(results) = rx.recv().await {
            for (job, result, checked_at) in results {
                let roster = self.roster.clone();
                let line = &roster.lines[job.index];
                match result {
                    Ok(done) => {
                        report.answered += 1;
                        report.instructions += usize::from(done.relayed.is_some());
                        let (alerted, changed) =
                            self.record(line, &job, done, checked_at, trigger)?;
                        report.alerts += usize::from(alerted);
                        dirty |= changed;
                    }
                    Err(error) => report.failures.push(LineFailure {
                        line: line.label(),
                        api: job.api,
                        error,
                    }),
                }
            }
        }
        let mut failed = None;
        while let Some(joined) = workers.join_next().await {
            if let Err(e) = joined.map_err(|_| Error::Config("a request worker failed".into()))? {
                failed.get_or_insert(e);
            }
        }
        // The writer's own error says why a worker could not hand it a file.
        writer
            .await
            .map_err(|_| Error::Config("the instruction writer failed".into()))??;
        if let Some(e) = failed {
            return Err(e);
        }
        // Only once every instruction is on disk, and only if something changed: a
        // pass with nothing new rewrites nothing.
        if dirty || !self.config.state_path.exists() {
            self.state.save(&self.config.state_path)?;
        }
        report
            .failures
            .sort_by(|a, b| (&a.line, a.api).cmp(&(&b.line, b.api)));
        report.elapsed = started.elapsed();
        Ok(report)
    }

    /// Decides whether an answer is news and, if so, writes its alert; records what was
    /// seen and relayed. Returns whether it alerted and whether the state changed.
    fn record(
        &mut self,
        line: &Line,
        job: &Job,
        done: Done,
        checked_at: Timestamp,
        trigger: Trigger,
    ) -> Result<(bool, bool), Error> {
        let previous = &job.previous;
        let mut seen = previous.clone();
        let relayed = done.relayed.is_some();
        if let Some(r) = done.relayed {
            seen.relayed = Some(r);
        }
        let (alert, latest) = match done.observation {
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
        if alert {
            let alert = SwapAlert {
                line,
                api: job.api,
                operation: done.operation,
                at: checked_at,
                latest_change: latest,
                previous_change: previous.latest_change,
                sequence: job.sequence,
                trigger,
            };
            self.alerts.emit(&alert.to_ocsf())?;
        }
        if relayed || alert {
            self.state.used_sequence(&line.device, job.sequence);
        }
        let changed = relayed || alert || seen != *previous;
        if changed {
            self.state.record(&line.device, job.api.as_str(), seen);
        }
        Ok((alert, changed))
    }

    /// Where the instruction relaying `device`'s latest `api` answer is written; each
    /// answer replaces the previous one (the newest sequence is the one that counts).
    pub fn instruction_path(&self, device: &str, api: Api) -> PathBuf {
        instruction_path(&self.config.out_dir, device, api)
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

/// An instruction file for the pass's writer, and who to tell once it is on disk.
type FileJob = (PathBuf, Vec<u8>, tokio::sync::oneshot::Sender<()>);

/// How many unchanged answers a worker hands over at once.
const RESULT_BATCH: usize = 64;

/// One planned request.
struct Job {
    index: usize,
    api: Api,
    base: String,
    op: Operation,
    sequence: u64,
    previous: Seen,
    force_relay: bool,
}

/// A successful answer, relayed or not.
struct Done {
    operation: Operation,
    observation: Observation,
    relayed: Option<Relayed>,
}

/// Where `device`'s instruction for `api` is written in `out_dir`.
fn instruction_path(out_dir: &std::path::Path, device: &str, api: Api) -> PathBuf {
    out_dir.join(format!("{device}.carrier_check.{}.json", api.as_str()))
}

/// Signs the instruction for an answer and hands it to the pass's file writer,
/// unless the same answer was relayed recently (and nothing forces a relay). An answer
/// too large for a phone is the line's failure.
async fn relay(
    ctx: &Ctx,
    key: &SigningKey,
    files: &tokio::sync::mpsc::Sender<FileJob>,
    line: &Line,
    job: &Job,
    answer: Answer,
    asked_at: Timestamp,
) -> Result<Result<Done, CarrierError>, Error> {
    let digest =
        crate::hex(&ring::digest::digest(&ring::digest::SHA256, &answer.body).as_ref()[..16]);
    let fresh =
        job.previous.relayed.as_ref().is_some_and(|r| {
            r.digest == digest && asked_at.millis_since(r.at) < ctx.relay_refresh_ms
        });
    if fresh && !job.force_relay {
        return Ok(Ok(Done {
            operation: answer.operation,
            observation: answer.observation,
            relayed: None,
        }));
    }
    let check = CarrierCheck {
        device: &line.device,
        line_pin: &line.line_pin,
        api: job.api,
        operation: answer.operation,
        checked_at: asked_at,
        response: &answer.body,
    };
    // Signing takes tens of microseconds: done here; the file goes to the writer.
    let envelope = match instruction::sign(&check, job.sequence, (ctx.clock)(), key) {
        Ok(envelope) => envelope,
        Err(instruction::RelayError::TooLarge) => return Ok(Err(CarrierError::TooLarge)),
        Err(instruction::RelayError::Refused(why)) => {
            return Ok(Err(CarrierError::Malformed(format!(
                "a phone would refuse it: {why}"
            ))))
        }
    };
    let path = instruction_path(&ctx.out_dir, &line.device, job.api);
    // Waits until the file is on disk: an alert never names an instruction that the
    // MDM cannot find yet.
    let stopped = || Error::Io("the instruction writer stopped".into());
    let (written, on_disk) = tokio::sync::oneshot::channel();
    files
        .send((path, envelope, written))
        .await
        .map_err(|_| stopped())?;
    on_disk.await.map_err(|_| stopped())?;
    Ok(Ok(Done {
        operation: answer.operation,
        observation: answer.observation,
        relayed: Some(Relayed {
            digest,
            at: asked_at,
            sequence: job.sequence,
        }),
    }))
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
    let mut renewed = false;
    let mut retries = 0;
    loop {
        let token = ctx.tokens.get(carrier, scope, Some(line)).await?;
        let (status, wait, body) = {
            let resp = ctx
                .client
                .post(format!("{base}{}", op.path()))
                .bearer_auth(&*token)
                .header("x-correlator", correlator())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(op.body(phone))
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
