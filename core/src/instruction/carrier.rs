//! Relayed carrier checks: the CAMARA SIM Swap 2.1.0 and Device Swap 1.0.0 responses,
//! read as their specifications define them (`../shared/camara/`).
//!
//! The response is kept byte for byte as the carrier returned it, so the signed
//! instruction carries the carrier's own words; this file reads only the fields the
//! specifications require and ignores the rest, as a tolerant client of a versioned
//! API does. The signature on the instruction is what makes the answer trustworthy.

use serde::{Deserialize, Serialize};

use super::{invalid, CarrierCheck};
use crate::policy::PolicyError;
use crate::sim::{CarrierApi, CarrierResult, CarrierVerdict};
use crate::time::{Timestamp, HOUR_MS};

/// The default `maxAge` of a `check` request, in hours, as the specifications set it.
pub(super) const DEFAULT_MAX_AGE_HOURS: u32 = 240;
/// The largest `maxAge` the specifications allow, in hours.
pub(super) const MAX_MAX_AGE_HOURS: u32 = 2400;

/// Which operation of the API was called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CarrierOperation {
    /// `POST /check`: was there a change within `maxAge` hours?
    Check,
    /// `POST /retrieve-date`: when was the latest change?
    RetrieveDate,
}

impl CarrierOperation {
    /// The name used in instructions and evidence.
    pub fn as_str(self) -> &'static str {
        match self {
            CarrierOperation::Check => "check",
            CarrierOperation::RetrieveDate => "retrieve_date",
        }
    }
}

/// What the console asked, besides the phone number (which never reaches the phone).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CarrierRequest {
    /// For `check`: the period checked, in hours (1 to 2400; 240 when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<u32>,
}

/// `CheckSimSwapInfo` / `CheckDeviceSwapInfo`: `swapped` is required.
#[derive(Deserialize)]
struct CheckInfo {
    swapped: bool,
}

/// `SimSwapInfo`: `latestSimChange` is required and nullable; `monitoredPeriod` (days) optional.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SimSwapInfo {
    #[serde(deserialize_with = "required_nullable")]
    latest_sim_change: Option<String>,
    #[serde(default)]
    monitored_period: Option<u32>,
}

/// `DeviceSwapInfo`: `latestDeviceChange` is required and nullable.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeviceSwapInfo {
    #[serde(deserialize_with = "required_nullable")]
    latest_device_change: Option<String>,
    #[serde(default)]
    monitored_period: Option<u32>,
}

/// A field that must be present but may be `null` (serde treats a missing `Option`
/// as `None` unless told otherwise).
fn required_nullable<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Option::<String>::deserialize(d)
}

impl CarrierCheck {
    /// Checks the request against the operation and that the response reads.
    pub(super) fn validate(&self) -> crate::Result<()> {
        match (self.operation, self.request.max_age) {
            (CarrierOperation::RetrieveDate, Some(_)) => {
                return Err(invalid(
                    "body.request.maxAge",
                    "belongs to check requests only",
                ))
            }
            (CarrierOperation::Check, Some(h)) if !(1..=MAX_MAX_AGE_HOURS).contains(&h) => {
                return Err(invalid(
                    "body.request.maxAge",
                    "must be 1 to 2400 hours, as the API allows",
                ))
            }
            _ => {}
        }
        self.verdict().map(|_| ())
    }

    /// Reads the carrier's answer.
    pub fn verdict(&self) -> crate::Result<CarrierVerdict> {
        let bad = |e: serde_json::Error| {
            crate::Error::from(PolicyError::document("carrier response", &e))
        };
        let bytes = self.response.as_bytes();
        let date = |text: Option<String>, field: &str| -> crate::Result<Option<Timestamp>> {
            text.map(|t| {
                Timestamp::parse_rfc3339(&t).ok_or_else(|| {
                    invalid(
                        &format!("body.response.{field}"),
                        "is not an RFC 3339 date-time with a time zone",
                    )
                })
            })
            .transpose()
        };
        let from_date = |at: Option<Timestamp>, monitored: Option<u32>| match (at, monitored) {
            (Some(at), _) => CarrierVerdict::Changed { at: Some(at) },
            // "No change during monitoredPeriod days."
            (None, Some(_)) => CarrierVerdict::NoChange,
            // The carrier may not tell (local regulation): nothing is learned.
            (None, None) => CarrierVerdict::Unknown,
        };
        Ok(match (self.api, self.operation) {
            (_, CarrierOperation::Check) => {
                let info: CheckInfo = crate::json::from_slice(bytes).map_err(bad)?;
                if info.swapped {
                    CarrierVerdict::Changed { at: None }
                } else {
                    CarrierVerdict::NoChange
                }
            }
            (CarrierApi::SimSwap, CarrierOperation::RetrieveDate) => {
                let info: SimSwapInfo = crate::json::from_slice(bytes).map_err(bad)?;
                from_date(
                    date(info.latest_sim_change, "latestSimChange")?,
                    info.monitored_period,
                )
            }
            (CarrierApi::DeviceSwap, CarrierOperation::RetrieveDate) => {
                let info: DeviceSwapInfo = crate::json::from_slice(bytes).map_err(bad)?;
                from_date(
                    date(info.latest_device_change, "latestDeviceChange")?,
                    info.monitored_period,
                )
            }
        })
    }

    /// The result the SIM guard judges.
    pub(super) fn result(&self, instruction_id: &str) -> crate::Result<CarrierResult> {
        let period_start = match self.operation {
            CarrierOperation::Check => {
                let hours = self.request.max_age.unwrap_or(DEFAULT_MAX_AGE_HOURS);
                Some(self.checked_at.plus_millis(-i64::from(hours) * HOUR_MS))
            }
            CarrierOperation::RetrieveDate => None,
        };
        Ok(CarrierResult {
            instruction_id: instruction_id.to_owned(),
            api: self.api,
            line: self.line,
            checked_at: self.checked_at,
            period_start,
            verdict: self.verdict()?,
        })
    }
}
