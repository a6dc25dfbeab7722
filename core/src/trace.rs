//! Scenario traces: JSON Lines of timed observations, replayed through the agent.
//!
//! Each line is `{"at": RFC 3339 time, <event key>: {...}}` with exactly one event
//! key: `sim`, `service`, `connectivity`, `carrier_check`, `authorize_sim_change`,
//! `reboot` or `tick`. Blank lines are allowed; anything else that does not parse is
//! an error naming its line, never skipped. Error messages never repeat digits from
//! the input, so a trace full of real identifiers cannot leak them through an error.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::agent::Agent;
use crate::alert::Alert;
use crate::error::{Error, Result};
use crate::sim::SimEvent;
use crate::time::Timestamp;

/// One line of a trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceEvent {
    /// 1-based line number in the source.
    pub line: usize,
    /// When the observation was made.
    pub at: Timestamp,
    /// The observation.
    pub event: SimEvent,
}

/// The largest trace line accepted; longer lines are refused before parsing.
pub const MAX_LINE_BYTES: usize = 16 * 1024;

/// Parses a whole trace.
pub fn parse(text: &str) -> Result<Vec<TraceEvent>> {
    let mut events = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if let Some(ev) = parse_line(line, index + 1)? {
            events.push(ev);
        }
    }
    Ok(events)
}

/// Parses one line; `Ok(None)` for a blank line.
pub fn parse_line(line: &str, number: usize) -> Result<Option<TraceEvent>> {
    let err = |problem: String| Error::Trace {
        line: number,
        problem: redact_digits(&problem),
    };
    if line.trim().is_empty() {
        return Ok(None);
    }
    if line.len() > MAX_LINE_BYTES {
        return Err(err(format!("line longer than {MAX_LINE_BYTES} bytes")));
    }
    let value: Value =
        serde_json::from_str(line).map_err(|e| err(format!("not valid JSON ({e})")))?;
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
    let event = match key.as_str() {
        "sim" => SimEvent::Sim(body_of(&key, body).map_err(err)?),
        "service" => SimEvent::Service(body_of(&key, body).map_err(err)?),
        "connectivity" => SimEvent::Connectivity(body_of(&key, body).map_err(err)?),
        "carrier_check" => SimEvent::CarrierCheck(body_of(&key, body).map_err(err)?),
        "authorize_sim_change" => SimEvent::AuthorizeSimChange(body_of(&key, body).map_err(err)?),
        "reboot" => empty_body(&key, body).map(|()| SimEvent::Reboot).map_err(err)?,
        "tick" => empty_body(&key, body).map(|()| SimEvent::Tick).map_err(err)?,
        other => {
            return Err(err(format!(
                "unknown event key `{other}` (expected sim, service, connectivity, carrier_check, authorize_sim_change, reboot or tick)"
            )))
        }
    };
    if let SimEvent::Sim(obs) = &event {
        if obs.state.is_none() {
            return Err(err("`sim` needs a `state`".into()));
        }
    }
    event.validate().map_err(|e| err(e.to_string()))?;
    Ok(Some(TraceEvent {
        line: number,
        at,
        event,
    }))
}

fn body_of<T: DeserializeOwned>(key: &str, body: Value) -> std::result::Result<T, String> {
    serde_json::from_value(body).map_err(|e| format!("`{key}`: {e}"))
}

fn empty_body(key: &str, body: Value) -> std::result::Result<(), String> {
    match body {
        Value::Object(m) if m.is_empty() => Ok(()),
        Value::Null => Ok(()),
        _ => Err(format!("`{key}` takes an empty object {{}}")),
    }
}

/// Replaces every run of five or more digits: traces carry ICCIDs, IMSIs and phone numbers.
fn redact_digits(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            run.push(c);
            continue;
        }
        flush_run(&mut out, &mut run);
        out.push(c);
    }
    flush_run(&mut out, &mut run);
    out
}

fn flush_run(out: &mut String, run: &mut String) {
    if run.len() >= 5 {
        out.push('#');
    } else {
        out.push_str(run);
    }
    run.clear();
}

/// Replays a trace through an agent as a phone would live it: before each event, the
/// agent is woken at every `next_wakeup` that falls before the event, just as the
/// platform scheduler would wake it. Returns every alert queued, in order.
pub fn replay(agent: &mut Agent, events: &[TraceEvent]) -> Result<Vec<Alert>> {
    let mut alerts = Vec::new();
    for ev in events {
        while let Some(wake) = agent.next_wakeup().filter(|w| *w <= ev.at) {
            alerts.extend(agent.handle_timeout(wake)?);
            if agent.next_wakeup() == Some(wake) {
                break;
            }
        }
        alerts.extend(agent.handle(&ev.event, ev.at).map_err(|e| match e {
            Error::InvalidInput { field, problem } => Error::Trace {
                line: ev.line,
                problem: redact_digits(&format!("invalid {field}: {problem}")),
            },
            other => other,
        })?);
    }
    Ok(alerts)
}

/// Serialises an event back to its trace line (used by generators and tests).
pub fn to_line(at: Timestamp, event: &SimEvent) -> String {
    let mut object = Map::new();
    object.insert("at".into(), Value::String(at.to_string()));
    let (key, body) = match event {
        SimEvent::Sim(o) => ("sim", serde_json::to_value(o)),
        SimEvent::Service(o) => ("service", serde_json::to_value(o)),
        SimEvent::Connectivity(o) => ("connectivity", serde_json::to_value(o)),
        SimEvent::CarrierCheck(o) => ("carrier_check", serde_json::to_value(o)),
        SimEvent::AuthorizeSimChange(o) => ("authorize_sim_change", serde_json::to_value(o)),
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
"#;
        let events = parse(text).unwrap();
        assert_eq!(events.len(), 7);
        assert_eq!(events[0].line, 2);
        assert!(matches!(&events[0].event, SimEvent::Sim(o) if o.state == Some(SimState::Ready)));
        assert!(
            matches!(&events[1].event, SimEvent::Service(o) if o.state == ServiceState::EmergencyOnly)
        );
        for ev in &events {
            let again = parse_line(&to_line(ev.at, &ev.event), 1).unwrap().unwrap();
            assert_eq!(again.event, ev.event);
            assert_eq!(again.at, ev.at);
        }
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
