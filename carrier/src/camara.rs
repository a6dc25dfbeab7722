//! The CAMARA operations the watch calls, their request bodies and strict response
//! parsing (SIM Swap 2.1.0, Device Swap 1.0.0).

use serde::Deserialize;

use portcullis_core::Timestamp;

use crate::error::CarrierError;

/// Which carrier API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Api {
    /// SIM Swap 2.1.0: the number moved to another SIM.
    SimSwap,
    /// Device Swap 1.0.0: the number's SIM moved to another device.
    DeviceSwap,
}

impl Api {
    /// Both, in the order a pass calls them.
    pub const ALL: [Api; 2] = [Api::SimSwap, Api::DeviceSwap];

    /// The name used in instructions, state and file names.
    pub fn as_str(self) -> &'static str {
        match self {
            Api::SimSwap => "sim_swap",
            Api::DeviceSwap => "device_swap",
        }
    }

    /// The scope prefix CAMARA defines for the API.
    pub fn scope_prefix(self) -> &'static str {
        match self {
            Api::SimSwap => "sim-swap",
            Api::DeviceSwap => "device-swap",
        }
    }

    /// The field `retrieve-date` answers with.
    pub fn date_field(self) -> &'static str {
        match self {
            Api::SimSwap => "latestSimChange",
            Api::DeviceSwap => "latestDeviceChange",
        }
    }
}

/// Which operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// `POST /retrieve-date`.
    RetrieveDate,
    /// `POST /check` with `maxAge` in hours.
    Check {
        /// Hours to look back (1 to 2400).
        max_age: u32,
    },
}

impl Operation {
    /// The name used in instructions.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::RetrieveDate => "retrieve_date",
            Operation::Check { .. } => "check",
        }
    }

    /// The path below the API root.
    pub fn path(self) -> &'static str {
        match self {
            Operation::RetrieveDate => "/retrieve-date",
            Operation::Check { .. } => "/check",
        }
    }

    /// The CAMARA scope of `api`'s operation, e.g. `sim-swap:check`.
    pub fn scope(self, api: Api) -> String {
        let op = match self {
            Operation::RetrieveDate => "retrieve-date",
            Operation::Check { .. } => "check",
        };
        format!("{}:{op}", api.scope_prefix())
    }

    /// The request body (JSON bytes). `phone` is given for two-legged tokens only:
    /// with a three-legged token the number MUST NOT be sent.
    pub fn body(self, phone: Option<&str>) -> Vec<u8> {
        #[derive(serde::Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Body<'a> {
            #[serde(skip_serializing_if = "Option::is_none")]
            phone_number: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            max_age: Option<u32>,
        }
        let max_age = match self {
            Operation::Check { max_age } => Some(max_age),
            Operation::RetrieveDate => None,
        };
        serde_json::to_vec(&Body {
            phone_number: phone,
            max_age,
        })
        .expect("a request body serialises")
    }
}

/// What a successful response said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observation {
    /// `retrieve-date`: the latest change (`None` when the carrier may not tell) and,
    /// optionally, the monitored period in days.
    Date {
        /// The latest change.
        latest: Option<Timestamp>,
        /// Days the carrier monitors, when it says.
        monitored_days: Option<i64>,
    },
    /// `check`: whether a swap happened within `maxAge`.
    Swapped(bool),
}

/// Parses a 200 body strictly: the required field with the right type; unknown
/// fields are allowed (the contract does not forbid them) and kept in the raw body.
pub fn parse_success(api: Api, op: Operation, body: &[u8]) -> Result<Observation, CarrierError> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        CarrierError::Malformed(format!(
            "not JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    let object = value
        .as_object()
        .ok_or_else(|| CarrierError::Malformed("not a JSON object".into()))?;
    match op {
        Operation::Check { .. } => match object.get("swapped") {
            Some(serde_json::Value::Bool(b)) => Ok(Observation::Swapped(*b)),
            Some(_) => Err(CarrierError::Malformed("`swapped` is not a boolean".into())),
            None => Err(CarrierError::Malformed("`swapped` is missing".into())),
        },
        Operation::RetrieveDate => {
            let field = api.date_field();
            let latest = match object.get(field) {
                None => return Err(CarrierError::Malformed(format!("`{field}` is missing"))),
                Some(serde_json::Value::Null) => None,
                Some(serde_json::Value::String(s)) => Some(parse_date(s).ok_or_else(|| {
                    CarrierError::Malformed(format!(
                        "`{field}` is not an RFC 3339 time with a zone"
                    ))
                })?),
                Some(_) => {
                    return Err(CarrierError::Malformed(format!(
                        "`{field}` is not a string or null"
                    )))
                }
            };
            let monitored_days = match object.get("monitoredPeriod") {
                None => None,
                Some(v) => Some(v.as_i64().ok_or_else(|| {
                    CarrierError::Malformed("`monitoredPeriod` is not an integer".into())
                })?),
            };
            Ok(Observation::Date {
                latest,
                monitored_days,
            })
        }
    }
}

/// RFC 3339 with a zone (`Z` or an offset), as the contract requires; up to
/// nanosecond fractions are accepted and rounded down to milliseconds.
pub fn parse_date(s: &str) -> Option<Timestamp> {
    if s.len() > 64 {
        return None;
    }
    let ts: jiff::Timestamp = s.parse().ok()?;
    Some(Timestamp::from_unix_millis(ts.as_millisecond()))
}

/// A CAMARA error body: `{status, code, message}`. Only the code is kept, and only
/// when it looks like a code; the message is free text from the carrier.
#[derive(Deserialize)]
struct ErrorInfo {
    code: String,
}

/// The CAMARA error code of an error body, if it has a well-formed one.
pub fn error_code(body: &[u8]) -> Option<String> {
    let info: ErrorInfo = serde_json::from_slice(body).ok()?;
    crate::error::safe_code(&info.code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_follow_the_token_kind() {
        let two = Operation::Check { max_age: 240 }.body(Some("+346661113334"));
        assert_eq!(two, br#"{"phoneNumber":"+346661113334","maxAge":240}"#);
        let three = Operation::RetrieveDate.body(None);
        assert_eq!(three, b"{}");
        assert_eq!(
            Operation::RetrieveDate.scope(Api::DeviceSwap),
            "device-swap:retrieve-date"
        );
    }

    #[test]
    fn documented_success_bodies_parse() {
        let d = parse_success(
            Api::SimSwap,
            Operation::RetrieveDate,
            br#"{"latestSimChange":"2024-09-18T07:37:53.471829447Z"}"#,
        )
        .unwrap();
        assert_eq!(
            d,
            Observation::Date {
                latest: Timestamp::parse_rfc3339("2024-09-18T07:37:53.471Z"),
                monitored_days: None
            }
        );
        let d = parse_success(
            Api::DeviceSwap,
            Operation::RetrieveDate,
            br#"{"latestDeviceChange":null,"monitoredPeriod":120}"#,
        )
        .unwrap();
        assert_eq!(
            d,
            Observation::Date {
                latest: None,
                monitored_days: Some(120)
            }
        );
        let c = parse_success(
            Api::SimSwap,
            Operation::Check { max_age: 1 },
            br#"{"swapped":true,"extra":1}"#,
        )
        .unwrap();
        assert_eq!(c, Observation::Swapped(true));
    }

    #[test]
    fn malformed_bodies_are_refused() {
        let op = Operation::RetrieveDate;
        for body in [
            &b"not json"[..],
            b"[]",
            br#"{"latestDeviceChange":"2024-09-18T07:37:53Z"}"#,
            br#"{"latestSimChange":"2024-09-18T07:37:53"}"#,
            br#"{"latestSimChange":12}"#,
            br#"{"latestSimChange":null,"monitoredPeriod":"120"}"#,
        ] {
            assert!(
                parse_success(Api::SimSwap, op, body).is_err(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        assert!(parse_success(
            Api::SimSwap,
            Operation::Check { max_age: 1 },
            br#"{"swapped":"true"}"#
        )
        .is_err());
    }

    #[test]
    fn error_codes_are_kept_only_when_plain() {
        assert_eq!(
            error_code(br#"{"status":404,"code":"IDENTIFIER_NOT_FOUND","message":"x"}"#).as_deref(),
            Some("IDENTIFIER_NOT_FOUND")
        );
        assert_eq!(
            error_code(br#"{"status":404,"code":"+447700900123","message":"x"}"#),
            None
        );
        assert_eq!(error_code(b"<html>"), None);
    }
}
