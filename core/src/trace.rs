//! Scenario traces: JSON Lines of timed observations, replayed through the agent.
//!
//! Each line is `{"at": RFC 3339 time, <event key>: {...}}` with exactly one event
//! key: the observations `sim`, `service`, `connectivity`, `reboot` and `tick`; a
//! signed console instruction, `instruction`, whose value is the envelope's text; or
//! the shorthands `authorize_sim_change` and `carrier_check`, which only a simulator
//! can replay: it signs them into instructions under its own root (see [`replay`]).
//! Blank lines are allowed; anything else that does not parse is an error naming its
//! line, never skipped. Error messages never repeat digits from the input, so a trace
//! full of real identifiers cannot leak them through an error.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::agent::{Agent, InstructionOutcome};
use crate::alert::Alert;
use crate::error::{Error, Result};
use crate::identity::IdentityKind;
use crate::instruction::{
    check_free_text, redact_identifiers, AuthorizeSimChange, CarrierCheck, CarrierOperation,
    CarrierRequest, InstructionBody, InstructionPayload,
};
use crate::policy::{BundleScope, PinKey, SigningKey};
use crate::sim::{CarrierApi, SimEvent};
use crate::time::{Timestamp, HOUR_MS};

/// One line of a trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceEvent {
    /// 1-based line number in the source.
    pub line: usize,
    /// When the observation was made.
    pub at: Timestamp,
    /// What happened.
    pub input: TraceInput,
}

/// What one trace line feeds the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraceInput {
    /// A platform observation.
    Observation(SimEvent),
    /// A signed console instruction (the envelope's text).
    Instruction(String),
    /// Shorthand for a signed SIM-change authorisation.
    AuthorizeSimChange(AuthorizeShorthand),
    /// Shorthand for a signed SIM Swap carrier check.
    CarrierCheck(CarrierShorthand),
}

/// `authorize_sim_change` in a trace: the simulator signs it into an instruction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizeShorthand {
    /// End of the window.
    pub until: Timestamp,
    /// Why, for the audit trail.
    pub reason: String,
    /// The slot; absent for any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<u8>,
}

/// `carrier_check` in a trace: a SIM Swap answer for a number, which the simulator
/// signs into a `carrier_check` instruction naming the number by its pin.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CarrierShorthand {
    /// The number checked, E.164 (pinned by the simulator, never stored).
    pub phone_number: String,
    /// The carrier's verdict.
    pub swapped: bool,
    /// The carrier's latest SIM change, when `retrieve-date` was used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_sim_change: Option<Timestamp>,
}

impl std::fmt::Debug for CarrierShorthand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CarrierShorthand")
            .field("phone_number", &"<redacted>")
            .field("swapped", &self.swapped)
            .field("latest_sim_change", &self.latest_sim_change)
            .finish()
    }
}

/// The largest trace line accepted; longer lines are refused before parsing. Large
/// enough for an instruction envelope of the largest size a phone accepts.
pub const MAX_LINE_BYTES: usize = 128 * 1024;

/// Parses a whole trace held in memory (see [`TraceReader`] for one read line by line).
pub fn parse(text: &str) -> Result<Vec<TraceEvent>> {
    TraceReader::new(text.as_bytes()).collect()
}

/// Reads a trace line by line from any reader, holding one line (at most
/// [`MAX_LINE_BYTES`]) at a time: memory does not grow with the trace. Blank lines are
/// skipped; the first line that does not parse ends the iteration with its error.
pub struct TraceReader<R> {
    reader: R,
    line: usize,
    buf: Vec<u8>,
    failed: bool,
}

impl<R: std::io::BufRead> TraceReader<R> {
    /// Reads from `reader` (a `BufReader` over a file, or `&[u8]`).
    pub fn new(reader: R) -> Self {
        TraceReader {
            reader,
            line: 0,
            buf: Vec::new(),
            failed: false,
        }
    }

    /// The number of the last line read.
    pub fn line(&self) -> usize {
        self.line
    }

    /// The next line, without its line break; `None` at the end.
    fn next_line(&mut self) -> Option<Result<&str>> {
        use std::io::{BufRead, Read};
        self.buf.clear();
        self.line += 1;
        let limit = MAX_LINE_BYTES as u64 + 2;
        let read = (&mut self.reader)
            .take(limit)
            .read_until(b'\n', &mut self.buf);
        let err = |line, problem: String| Error::Trace { line, problem };
        match read {
            Ok(0) => return None,
            Ok(_) => {}
            Err(e) => {
                return Some(Err(err(
                    self.line,
                    format!("cannot be read ({})", e.kind()),
                )))
            }
        }
        if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
            if self.buf.last() == Some(&b'\r') {
                self.buf.pop();
            }
        }
        if self.buf.len() > MAX_LINE_BYTES {
            return Some(Err(err(
                self.line,
                format!("line longer than {MAX_LINE_BYTES} bytes"),
            )));
        }
        Some(
            std::str::from_utf8(&self.buf).map_err(|_| err(self.line, "not UTF-8 text".to_owned())),
        )
    }
}

impl<R: std::io::BufRead> Iterator for TraceReader<R> {
    type Item = Result<TraceEvent>;

    fn next(&mut self) -> Option<Result<TraceEvent>> {
        if self.failed {
            return None;
        }
        loop {
            let number = self.line + 1;
            let parsed = match self.next_line()? {
                Ok(text) => parse_line(text, number),
                Err(e) => Err(e),
            };
            match parsed {
                Ok(Some(event)) => return Some(Ok(event)),
                Ok(None) => continue,
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

/// Parses one line; `Ok(None)` for a blank line.
pub fn parse_line(line: &str, number: usize) -> Result<Option<TraceEvent>> {
    let err = |problem: String| Error::Trace {
        line: number,
        problem: redact_identifiers(&problem).into_owned(),
    };
    if line.trim().is_empty() {
        return Ok(None);
    }
    if line.len() > MAX_LINE_BYTES {
        return Err(err(format!("line longer than {MAX_LINE_BYTES} bytes")));
    }
    // Strict: a key given twice (two `at`, two `sim`, two `state`) is refused, never
    // read as the last one.
    let value: Value = crate::json::from_str(line).map_err(|e| {
        err(match e.classify() {
            serde_json::error::Category::Data => crate::json::describe(&e),
            _ => format!("not valid JSON ({})", crate::json::describe(&e)),
        })
    })?;
    let Value::Object(mut object) = value else {
        return Err(err("expected a JSON object".into()));
    };
    let at = match object.remove("at") {
        Some(Value::String(s)) => Timestamp::parse_rfc3339(&s)
            .ok_or_else(|| err("`at` is not an RFC 3339 time".into()))?,
        Some(_) => return Err(err("`at` must be a string".into())),
        None => return Err(err("missing `at`".into())),
    };
    if object.len() != 1 {
        let keys: Vec<&str> = object.keys().map(String::as_str).collect();
        return Err(err(format!(
            "expected exactly one event key besides `at`, found {}: [{}]",
            keys.len(),
            keys.join(", ")
        )));
    }
    let (key, body) = object.into_iter().next().expect("one key checked above");
    let observation = |event: SimEvent| TraceInput::Observation(event);
    let input = match key.as_str() {
        "sim" => observation(SimEvent::Sim(body_of(&key, body).map_err(err)?)),
        "service" => observation(SimEvent::Service(body_of(&key, body).map_err(err)?)),
        "connectivity" => observation(SimEvent::Connectivity(body_of(&key, body).map_err(err)?)),
        "reboot" => empty_body(&key, body)
            .map(|()| observation(SimEvent::Reboot))
            .map_err(err)?,
        "tick" => empty_body(&key, body)
            .map(|()| observation(SimEvent::Tick))
            .map_err(err)?,
        "instruction" => match body {
            Value::String(text) => TraceInput::Instruction(text),
            // The envelope pasted as an object: written back in the envelope's canonical
            // field order, so a genuine envelope keeps its exact bytes.
            Value::Object(_) => TraceInput::Instruction(envelope_text(body)),
            _ => {
                return Err(err(
                    "`instruction` takes the signed envelope's text as a JSON string".into(),
                ))
            }
        },
        "carrier_check" => TraceInput::CarrierCheck(body_of(&key, body).map_err(err)?),
        "authorize_sim_change" => {
            let a: AuthorizeShorthand = body_of(&key, body).map_err(err)?;
            // Free text is journaled and shown: refused here, naming the field, when it
            // could carry an identifier or drive a terminal.
            check_free_text(
                "authorize_sim_change.reason",
                &a.reason,
                crate::instruction::MAX_REASON_BYTES,
                false,
            )
            .map_err(|e| err(e.to_string()))?;
            TraceInput::AuthorizeSimChange(a)
        }
        other => {
            return Err(err(format!(
                "unknown event key `{other}` (expected sim, service, connectivity, reboot, tick, instruction, carrier_check or authorize_sim_change)"
            )))
        }
    };
    if let TraceInput::Observation(event) = &input {
        if let SimEvent::Sim(obs) = event {
            if obs.state.is_none() {
                return Err(err("`sim` needs a `state`".into()));
            }
        }
        event.validate().map_err(|e| err(e.to_string()))?;
    }
    Ok(Some(TraceEvent {
        line: number,
        at,
        input,
    }))
}

/// An envelope given as a JSON object, as compact text in the canonical field order;
/// anything else as its plain text (which verification then refuses as garbled).
fn envelope_text(body: Value) -> String {
    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Signature {
        keyid: String,
        sig: String,
    }
    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Envelope {
        #[serde(rename = "payloadType")]
        payload_type: String,
        payload: String,
        signatures: Vec<Signature>,
    }
    match serde_json::from_value::<Envelope>(body.clone()) {
        Ok(e) => serde_json::to_string(&e).unwrap_or_else(|_| body.to_string()),
        Err(_) => body.to_string(),
    }
}

fn body_of<T: DeserializeOwned>(key: &str, body: Value) -> std::result::Result<T, String> {
    serde_json::from_value(body)
        .map_err(|e| format!("`{key}`: {}", crate::json::describe_data(&e.to_string())))
}

fn empty_body(key: &str, body: Value) -> std::result::Result<(), String> {
    match body {
        Value::Object(m) if m.is_empty() => Ok(()),
        Value::Null => Ok(()),
        _ => Err(format!("`{key}` takes an empty object {{}}")),
    }
}

/// A trace shorthand a simulator signs into an instruction.
#[derive(Debug, Clone, Copy)]
pub enum Shorthand<'a> {
    /// `authorize_sim_change`.
    AuthorizeSimChange(&'a AuthorizeShorthand),
    /// `carrier_check`.
    CarrierCheck(&'a CarrierShorthand),
}

/// Signs a shorthand line into an instruction envelope; called with the line's time.
pub type ShorthandSigner<'s> = dyn FnMut(Shorthand<'_>, Timestamp) -> Result<Vec<u8>> + 's;

/// Replays a trace through an agent as a phone would live it: before each event, the
/// agent is woken at every `next_wakeup` that falls before the event, just as the
/// platform scheduler would wake it. Instructions go through the same verification
/// as on a phone; shorthand lines are first signed by `sign` (a simulator's own
/// root). Returns every alert queued, in order, refusals' alerts included.
pub fn replay(
    agent: &mut Agent,
    events: &[TraceEvent],
    sign: &mut ShorthandSigner<'_>,
) -> Result<Vec<Alert>> {
    let mut alerts = Vec::new();
    for ev in events {
        replay_event(agent, ev, sign, &mut alerts)?;
    }
    Ok(alerts)
}

/// One step of [`replay`]: wakes the agent at every `next_wakeup` before `ev`, then feeds
/// it `ev`, appending the alerts queued to `alerts`. A caller streaming a trace (a
/// [`TraceReader`]) calls it once per event and needs no more memory than one line.
pub fn replay_event(
    agent: &mut Agent,
    ev: &TraceEvent,
    sign: &mut ShorthandSigner<'_>,
    alerts: &mut Vec<Alert>,
) -> Result<()> {
    replay_event_counted(agent, ev, sign, alerts, &mut WakeupTally::default(), None)
}

/// The most wake-ups replayed between two trace lines: about 83 days at the default
/// hourly re-read. A longer gap is replayed as a phone that was switched off, woken once at
/// the next line, and counted in [`WakeupTally::skipped_gaps`].
pub const MAX_WAKEUPS_PER_GAP: u32 = 2_000;

/// The wake-ups a replay asked for: those the re-read cadence explains, and the others
/// (timers, windows, retries). Every wake-up costs battery on a phone carried all day, so
/// `docs/performance.md` records both for the baseline policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WakeupTally {
    /// Wake-ups that handed out a radio re-read.
    pub reread: u64,
    /// Wake-ups for anything else.
    pub extra: u64,
    /// Gaps between lines longer than [`MAX_WAKEUPS_PER_GAP`] wake-ups, replayed as a
    /// phone that was off.
    pub skipped_gaps: u64,
}

/// [`replay_event`], counting the wake-ups into `tally`. With `evidence` (an evidence
/// snapshot, docs/evidence.schema.json), each wake-up that hands out `inspect` submits it,
/// as a phone carrying out its inspections does; without it, windows are missed.
pub fn replay_event_counted(
    agent: &mut Agent,
    ev: &TraceEvent,
    sign: &mut ShorthandSigner<'_>,
    alerts: &mut Vec<Alert>,
    tally: &mut WakeupTally,
    evidence: Option<&str>,
) -> Result<()> {
    let mut woken_in_gap = 0;
    while let Some(wake) = agent.next_wakeup().filter(|w| *w <= ev.at) {
        // A gap longer than the cap is a phone that was off: it wakes once, at the event.
        // Without the cap, a line dated centuries later would replay millions of wake-ups.
        if woken_in_gap == MAX_WAKEUPS_PER_GAP {
            tally.skipped_gaps += 1;
            alerts.extend(agent.wake(ev.at, None)?.alerts);
            break;
        }
        woken_in_gap += 1;
        let woken = agent.wake(wake, None)?;
        if woken.duties.reread_radio {
            tally.reread += 1;
        } else {
            tally.extra += 1;
        }
        alerts.extend(woken.alerts);
        if let (true, Some(evidence)) = (woken.duties.inspect, evidence) {
            alerts.extend(agent.submit_inspection(None, evidence, wake)?.alerts);
        }
        if agent.next_wakeup() == Some(wake) {
            break;
        }
    }
    let in_line = |e: Error| match e {
        Error::InvalidInput { field, problem } => Error::Trace {
            line: ev.line,
            problem: redact_identifiers(&format!("invalid {field}: {problem}")).into_owned(),
        },
        other => other,
    };
    let envelope = match &ev.input {
        TraceInput::Observation(event) => {
            alerts.extend(agent.handle(event, ev.at).map_err(in_line)?);
            return Ok(());
        }
        TraceInput::Instruction(text) => text.as_bytes().to_vec(),
        TraceInput::AuthorizeSimChange(a) => {
            sign(Shorthand::AuthorizeSimChange(a), ev.at).map_err(in_line)?
        }
        TraceInput::CarrierCheck(c) => sign(Shorthand::CarrierCheck(c), ev.at).map_err(in_line)?,
    };
    match agent.apply_instruction(&envelope, ev.at).map_err(in_line)? {
        InstructionOutcome::Applied(applied) => alerts.extend(applied.alerts),
        InstructionOutcome::Refused(refused) => alerts.extend(refused.alerts),
        InstructionOutcome::Unchanged { .. } => {}
    }
    Ok(())
}

/// A [`ShorthandSigner`] for replays that sign nothing: a shorthand line is an error
/// naming the line (only a simulator, which holds a console key, can sign one).
pub fn refuse_shorthands(_: Shorthand<'_>, _: Timestamp) -> Result<Vec<u8>> {
    Err(Error::invalid(
        "trace",
        "authorize_sim_change and carrier_check lines are shorthands that only a simulator signs; use a signed `instruction` line",
    ))
}

/// Signs trace shorthands into the instructions a console would send, under a
/// simulator's own key: a device enrolled with another root refuses them, as it
/// refuses any forgery. A shorthand's sequence is its line's time in Unix
/// milliseconds, and a checked number is named by its pin under the device's pin key.
pub struct SimulatorSigner {
    key: SigningKey,
    pin_key: PinKey,
    device: String,
}

impl SimulatorSigner {
    /// A signer for `device` with the simulator's operations `key` and the device's `pin_key`.
    pub fn new(key: SigningKey, pin_key: PinKey, device: &str) -> Self {
        SimulatorSigner {
            key,
            pin_key,
            device: device.to_owned(),
        }
    }

    /// Signs one shorthand line taken at `at`.
    pub fn sign(&self, shorthand: Shorthand<'_>, at: Timestamp) -> Result<Vec<u8>> {
        let sequence = u64::try_from(at.as_unix_millis()).unwrap_or(0).max(1);
        let (body, expires) = match shorthand {
            Shorthand::AuthorizeSimChange(a) => (
                InstructionBody::AuthorizeSimChange(AuthorizeSimChange {
                    slot: a.slot,
                    until: a.until,
                    reason: a.reason.clone(),
                    expected: None,
                }),
                a.until.max(at.plus_millis(HOUR_MS)),
            ),
            Shorthand::CarrierCheck(c) => {
                let line = self
                    .pin_key
                    .pin(IdentityKind::PhoneNumber, &c.phone_number)?;
                let (operation, response) = match (c.swapped, c.latest_sim_change) {
                    (true, Some(t)) => (
                        CarrierOperation::RetrieveDate,
                        serde_json::json!({ "latestSimChange": t.to_string() }).to_string(),
                    ),
                    (swapped, _) => (
                        CarrierOperation::Check,
                        serde_json::json!({ "swapped": swapped }).to_string(),
                    ),
                };
                (
                    InstructionBody::CarrierCheck(CarrierCheck {
                        api: CarrierApi::SimSwap,
                        operation,
                        line: Some(line),
                        checked_at: at,
                        request: CarrierRequest::default(),
                        response,
                    }),
                    at.plus_millis(HOUR_MS),
                )
            }
        };
        InstructionPayload {
            instruction_id: format!("simulated-{sequence}"),
            sequence,
            issued_at: at,
            expires,
            scope: BundleScope {
                devices: vec![self.device.clone()],
                groups: Vec::new(),
            },
            body,
        }
        .sign(&[&self.key])
    }
}

/// Serialises an observation back to its trace line (used by generators and tests).
pub fn to_line(at: Timestamp, event: &SimEvent) -> String {
    let mut object = Map::new();
    object.insert("at".into(), Value::String(at.to_string()));
    let (key, body) = match event {
        SimEvent::Sim(o) => ("sim", serde_json::to_value(o)),
        SimEvent::Service(o) => ("service", serde_json::to_value(o)),
        SimEvent::Connectivity(o) => ("connectivity", serde_json::to_value(o)),
        SimEvent::Reboot => ("reboot", Ok(Value::Object(Map::new()))),
        SimEvent::Tick => ("tick", Ok(Value::Object(Map::new()))),
    };
    let mut body = body.expect("observation types always serialise");
    if let Value::Object(m) = &mut body {
        m.retain(|_, v| !v.is_null());
    }
    object.insert(key.into(), body);
    Value::Object(object).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{ServiceState, SimState};

    #[test]
    fn parses_every_event_kind() {
        let text = r#"
{"at":"2026-03-01T09:00:00Z","sim":{"slot":0,"state":"ready","iccid":"8944110012345678901","mcc_mnc":"23415"}}
{"at":"2026-03-01T09:00:01Z","service":{"slot":0,"state":"emergency_only","rat":"1xrtt"}}
{"at":"2026-03-01T09:00:02Z","connectivity":{"wifi":true,"cellular_data":false,"airplane_mode":false}}
{"at":"2026-03-01T09:00:03Z","carrier_check":{"phone_number":"+447700900123","swapped":true,"latest_sim_change":"2026-03-01T08:00:00Z"}}
{"at":"2026-03-01T09:00:04Z","authorize_sim_change":{"until":"2026-03-02T09:00:00Z","reason":"ticket 42"}}
{"at":"2026-03-01T09:00:05Z","reboot":{}}
{"at":"2026-03-01T09:00:06Z","tick":{}}
{"at":"2026-03-01T09:00:07Z","instruction":"{\"payloadType\":\"x\"}"}
"#;
        let events = parse(text).unwrap();
        assert_eq!(events.len(), 8);
        assert_eq!(events[0].line, 2);
        let observation = |i: usize| match &events[i].input {
            TraceInput::Observation(e) => e.clone(),
            other => panic!("not an observation: {other:?}"),
        };
        assert!(matches!(observation(0), SimEvent::Sim(o) if o.state == Some(SimState::Ready)));
        assert!(
            matches!(observation(1), SimEvent::Service(o) if o.state == ServiceState::EmergencyOnly)
        );
        assert!(matches!(&events[3].input, TraceInput::CarrierCheck(c) if c.swapped));
        assert!(
            matches!(&events[4].input, TraceInput::AuthorizeSimChange(a) if a.reason == "ticket 42")
        );
        assert!(
            matches!(&events[7].input, TraceInput::Instruction(t) if t == "{\"payloadType\":\"x\"}")
        );
        for ev in &events {
            if let TraceInput::Observation(event) = &ev.input {
                let again = parse_line(&to_line(ev.at, event), 1).unwrap().unwrap();
                assert_eq!(again.input, ev.input);
                assert_eq!(again.at, ev.at);
            }
        }
    }

    /// The digits of `text` after the identifier normaliser: separators dropped, any
    /// script's digits (full-width included) read as ASCII.
    fn digits(text: &str) -> String {
        text.chars()
            .filter_map(|c| match c {
                '0'..='9' => Some(c),
                '\u{ff10}'..='\u{ff19}' => char::from_u32(c as u32 - 0xff10 + u32::from(b'0')),
                _ => None,
            })
            .collect()
    }

    /// Issue 14, item 8: identifiers written with separators, or in full-width digits,
    /// in any place of a line, never come back in the error.
    #[test]
    fn separated_and_full_width_identifiers_are_redacted_from_errors() {
        let iccid = "8944110012345678901";
        let wide: String = iccid
            .chars()
            .map(|c| char::from_u32(0xff10 + c.to_digit(10).unwrap()).unwrap())
            .collect();
        let lines = [
            r#"{"at":"2026-03-01T09:00:00Z","sim":{"slot":0,"state":"8944-1100-1234-5678-901"}}"#.to_owned(),
            r#"{"at":"2026-03-01T09:00:00Z","sim":{"slot":"8944 1100 1234 5678 901","state":"ready"}}"#.to_owned(),
            r#"{"at":"2026-03-01T09:00:00Z","+44 7700 900123":{}}"#.to_owned(),
            format!(r#"{{"at":"2026-03-01T09:00:00Z","sim":{{"slot":0,"state":"{wide}"}}}}"#),
            format!(r#"{{"at":"2026-03-01T09:00:00Z","{wide}":{{}}}}"#),
            r#"{"at":"2026-03-01T09:00:00Z","sim":{"slot":0,"state":"ready","8944.1100.1234.5678.901":1}}"#.to_owned(),
            r#"{"at":"8944 1100 1234 5678 901","tick":{}}"#.to_owned(),
            r#"{"at":"2026-03-01T09:00:00Z","tick":{"n":"(8944) 1100-1234 5678 901"}}"#.to_owned(),
        ];
        for line in &lines {
            let err = parse_line(line, 7).unwrap_err().to_string();
            assert!(err.starts_with("trace line 7:"), "{err}");
            assert!(!digits(&err).contains("89441100"), "{line}: {err}");
            assert!(!digits(&err).contains("7700900123"), "{line}: {err}");
        }
    }

    /// Issue 14, item 9: free text that could hold an identifier is refused at input,
    /// naming the field.
    #[test]
    fn an_identifier_in_a_reason_is_refused_naming_the_field() {
        for reason in [
            "swap to 8944110012345678901",
            "new SIM 8944 1100 1234 5678 901",
            "call +44 7700 900123",
        ] {
            let line = format!(
                r#"{{"at":"2026-03-01T09:00:00Z","authorize_sim_change":{{"until":"2026-03-01T12:00:00Z","reason":"{reason}"}}}}"#
            );
            let err = parse_line(&line, 3).unwrap_err().to_string();
            assert!(err.contains("authorize_sim_change.reason"), "{err}");
            assert!(!digits(&err).contains("89441100"), "{err}");
            assert!(!digits(&err).contains("7700900123"), "{err}");
        }
        let line = r#"{"at":"2026-03-01T09:00:00Z","authorize_sim_change":{"until":"2026-03-01T12:00:00Z","reason":"\u001b[2JClean"}}"#;
        assert!(parse_line(line, 1)
            .unwrap_err()
            .to_string()
            .contains("control"));
    }

    /// Issue 14, item 11: a key given twice is refused, never read as its last value.
    #[test]
    fn duplicate_keys_in_a_line_are_refused() {
        for (line, key) in [
            (
                r#"{"at":"2026-03-01T09:00:00Z","at":"2026-03-02T09:00:00Z","tick":{}}"#,
                "`at`",
            ),
            (
                r#"{"at":"2026-03-01T09:00:00Z","sim":{"slot":0,"state":"ready"},"sim":{"slot":1,"state":"absent"}}"#,
                "`sim`",
            ),
            (
                r#"{"at":"2026-03-01T09:00:00Z","sim":{"slot":0,"state":"ready","state":"absent"}}"#,
                "`state`",
            ),
        ] {
            let err = parse_line(line, 2).unwrap_err().to_string();
            assert!(err.contains("duplicate key") && err.contains(key), "{err}");
        }
    }

    #[test]
    fn a_reader_streams_lines_and_stops_at_the_first_error() {
        let text = "\n{\"at\":\"2026-03-01T08:00:00Z\",\"tick\":{}}\r\n\n{\"at\":\"x\",\"tick\":{}}\n{\"at\":\"2026-03-01T08:00:00Z\",\"tick\":{}}\n";
        let mut reader = TraceReader::new(text.as_bytes());
        assert_eq!(reader.next().unwrap().unwrap().line, 2);
        let err = reader.next().unwrap().unwrap_err().to_string();
        assert!(err.starts_with("trace line 4:"), "{err}");
        assert!(reader.next().is_none());
        let long = format!("{}\n", "x".repeat(MAX_LINE_BYTES + 10));
        let err = TraceReader::new(long.as_bytes())
            .next()
            .unwrap()
            .unwrap_err();
        assert!(err.to_string().contains("longer than"), "{err}");
        let bad = b"{\"at\":\"\xff\"}\n";
        let err = TraceReader::new(&bad[..]).next().unwrap().unwrap_err();
        assert!(err.to_string().contains("UTF-8"), "{err}");
    }

    #[test]
    fn errors_name_the_line_and_never_the_identifier() {
        let cases = [
            (
                r#"{"at":"2026-03-01T09:00:00Z","sim":{"slot":0,"state":"ready","iccid":89441100123456789}}"#,
                "`sim`",
            ),
            (
                r#"{"at":"2026-03-01T09:00:00Z","sim":{"slot":0,"state":"ready","imsi":"23415","colour":"red"}}"#,
                "colour",
            ),
            (
                r#"{"at":"2026-03-01T09:00:00Z","radio":{}}"#,
                "unknown event key",
            ),
            (r#"{"at":"not a time","tick":{}}"#, "RFC 3339"),
            (
                r#"{"at":"2026-03-01T09:00:00Z","tick":{},"reboot":{}}"#,
                "exactly one",
            ),
            (
                r#"{"at":"2026-03-01T09:00:00Z","sim":{"slot":9,"state":"ready"}}"#,
                "sim.slot",
            ),
            (r#"{"at":"2026-03-01T09:00:00Z","sim":{"slot":0}}"#, "state"),
            ("{\"at\":", "not valid JSON"),
            (
                r#"{"at":"2026-03-01T09:00:00Z","instruction":[1]}"#,
                "envelope's text",
            ),
        ];
        for (line, expected) in cases {
            let text = format!("{{\"at\":\"2026-03-01T08:00:00Z\",\"tick\":{{}}}}\n{line}\n");
            let err = parse(&text).unwrap_err().to_string();
            assert!(err.starts_with("trace line 2:"), "{err}");
            assert!(err.contains(expected), "{err} should mention {expected}");
            assert!(!err.contains("89441100"), "{err} leaks an identifier");
        }
    }
}
