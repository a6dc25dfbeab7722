//! What the platform reports about SIMs, the radio and connectivity.
//!
//! Every field a platform may be unable to observe is optional: iOS hides most
//! SIM identities since 16.4, and Android needs device-owner rights for ICCID
//! and IMSI. The guard works with whatever arrives.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Highest SIM slot index accepted (slots are 0-based).
pub const MAX_SLOT: u8 = 7;

/// The SIM card state, as Android's `TelephonyManager.SIM_STATE_*` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SimState {
    /// No SIM in the slot (or the eSIM profile is disabled).
    Absent,
    /// Present but still initialising.
    NotReady,
    /// Waiting for a PIN or PUK.
    Locked,
    /// Present and usable.
    Ready,
    /// The card failed.
    Error,
}

/// One reading of a SIM slot. Raw identifiers live only in this value on the way
/// in: the guard hashes them at once and never stores them.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimObservation {
    /// 0-based slot index.
    pub slot: u8,
    /// Card state; `None` is refused by [`SimEvent::validate`].
    pub state: Option<SimState>,
    /// The card serial (ICCID), when the platform reveals it.
    pub iccid: Option<String>,
    /// The subscriber identity (IMSI), when the platform reveals it.
    pub imsi: Option<String>,
    /// The phone number, when known.
    pub msisdn: Option<String>,
    /// The SIM's home network, MCC followed by MNC (5 or 6 digits).
    pub mcc_mnc: Option<String>,
    /// The carrier's display name; informational only.
    pub carrier_name: Option<String>,
    /// Whether the subscription is an eSIM profile.
    pub embedded: Option<bool>,
}

/// Longest carrier name the guard takes, in bytes of UTF-8.
pub(super) const MAX_CARRIER_NAME_BYTES: usize = 256;

impl SimObservation {
    /// The reading as a platform reports it, made fit for [`SimEvent::validate`]: an
    /// identifier the platform withholds often arrives as an empty or blank string (Android's
    /// `getIccId()` without the permission), which means "not revealed"; the carrier name,
    /// informational only, is cut at a character boundary to 256 bytes
    /// (`MAX_CARRIER_NAME_BYTES`) instead of refusing the reading.
    pub fn normalized(mut self) -> Self {
        fn present(value: Option<String>) -> Option<String> {
            value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
        }
        self.iccid = present(self.iccid);
        self.imsi = present(self.imsi);
        self.msisdn = present(self.msisdn);
        self.mcc_mnc = present(self.mcc_mnc);
        self.carrier_name = present(self.carrier_name).map(|mut name| {
            let mut end = name.len().min(MAX_CARRIER_NAME_BYTES);
            while !name.is_char_boundary(end) {
                end -= 1;
            }
            name.truncate(end);
            name
        });
        self
    }
}

impl std::fmt::Debug for SimObservation {
    /// Redacts identifiers so an observation can be logged safely.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimObservation")
            .field("slot", &self.slot)
            .field("state", &self.state)
            .field("iccid", &self.iccid.as_ref().map(|_| "<redacted>"))
            .field("imsi", &self.imsi.as_ref().map(|_| "<redacted>"))
            .field("msisdn", &self.msisdn.as_ref().map(|_| "<redacted>"))
            .field("mcc_mnc", &self.mcc_mnc)
            .field("embedded", &self.embedded)
            .finish()
    }
}

/// The cellular service state, as Android's `ServiceState` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceState {
    /// Registered on a network.
    InService,
    /// Not registered anywhere.
    OutOfService,
    /// Only emergency calls possible: the network refuses this subscriber.
    EmergencyOnly,
    /// The radio is off (airplane mode or shutdown).
    PowerOff,
}

/// Radio access technology of the serving cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rat {
    /// 5G New Radio.
    Nr,
    /// 4G LTE.
    Lte,
    /// 3G UMTS.
    Umts,
    /// 3G HSPA family.
    Hspa,
    /// 2G GSM.
    Gsm,
    /// 2G GPRS.
    Gprs,
    /// 2G EDGE.
    Edge,
    /// 2G CDMA.
    Cdma,
    /// 2G CDMA2000 1x.
    #[serde(rename = "1xrtt")]
    OneXRtt,
    /// Not reported.
    Unknown,
}

impl Rat {
    /// Whether this is a 2G technology (no mutual authentication; rogue base stations).
    pub fn is_2g(self) -> bool {
        matches!(
            self,
            Rat::Gsm | Rat::Gprs | Rat::Edge | Rat::Cdma | Rat::OneXRtt
        )
    }

    /// The name used in traces and evidence.
    pub fn as_str(self) -> &'static str {
        match self {
            Rat::Nr => "nr",
            Rat::Lte => "lte",
            Rat::Umts => "umts",
            Rat::Hspa => "hspa",
            Rat::Gsm => "gsm",
            Rat::Gprs => "gprs",
            Rat::Edge => "edge",
            Rat::Cdma => "cdma",
            Rat::OneXRtt => "1xrtt",
            Rat::Unknown => "unknown",
        }
    }
}

/// One reading of a slot's cellular service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceObservation {
    /// 0-based slot index.
    pub slot: u8,
    /// Registration state.
    pub state: ServiceState,
    /// Whether the device is roaming (a foreign network is not a carrier change).
    pub roaming: Option<bool>,
    /// The serving radio technology.
    pub rat: Option<Rat>,
}

/// The device's connectivity, which tells a lost number apart from a lost signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Connectivity {
    /// Connected to Wi-Fi.
    pub wifi: bool,
    /// Mobile data is up.
    pub cellular_data: bool,
    /// Airplane mode is on.
    pub airplane_mode: bool,
}

/// One observation the platform feeds the agent's SIM guard. Console decisions
/// (authorised SIM changes, carrier-side results) are not observations: they reach
/// the guard only from verified instructions ([`crate::instruction`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimEvent {
    /// A SIM slot reading.
    Sim(SimObservation),
    /// A service-state reading.
    Service(ServiceObservation),
    /// A connectivity reading.
    Connectivity(Connectivity),
    /// The device has just booted.
    Reboot,
    /// Time passed; nothing else happened.
    Tick,
}

fn check_slot(slot: u8, field: &'static str) -> Result<()> {
    if slot > MAX_SLOT {
        return Err(Error::invalid(
            field,
            format!("slot must be between 0 and {MAX_SLOT}"),
        ));
    }
    Ok(())
}

impl SimEvent {
    /// Rejects malformed input before it touches any state. Errors name the field, never its value.
    pub fn validate(&self) -> Result<()> {
        match self {
            SimEvent::Sim(obs) => {
                check_slot(obs.slot, "sim.slot")?;
                if obs.state.is_none() {
                    return Err(Error::invalid("sim.state", "missing"));
                }
                if let Some(m) = &obs.mcc_mnc {
                    if !(5..=6).contains(&m.len()) || !m.bytes().all(|b| b.is_ascii_digit()) {
                        return Err(Error::invalid("sim.mcc_mnc", "expected 5 or 6 digits"));
                    }
                }
                if obs
                    .carrier_name
                    .as_ref()
                    .is_some_and(|n| n.len() > MAX_CARRIER_NAME_BYTES)
                {
                    return Err(Error::invalid("sim.carrier_name", "longer than 256 bytes"));
                }
                Ok(())
            }
            SimEvent::Service(obs) => check_slot(obs.slot, "service.slot"),
            SimEvent::Connectivity(_) | SimEvent::Reboot | SimEvent::Tick => Ok(()),
        }
    }
}

#[cfg(test)]
mod platform_tests {
    use super::*;

    #[test]
    fn withheld_identifiers_are_absent_and_long_carrier_names_are_cut() {
        let reading = SimObservation {
            state: Some(SimState::Ready),
            iccid: Some(String::new()),
            imsi: Some("  ".into()),
            msisdn: Some(" +447700900123 ".into()),
            carrier_name: Some("\u{1F4F6}".repeat(70)),
            ..SimObservation::default()
        }
        .normalized();
        assert_eq!((reading.iccid, reading.imsi), (None, None));
        assert_eq!(reading.msisdn.as_deref(), Some("+447700900123"));
        let name = reading.carrier_name.unwrap();
        assert_eq!(name.len(), 256);
        assert_eq!(name, "\u{1F4F6}".repeat(64));
        let short = SimObservation {
            carrier_name: Some("Carrier".into()),
            ..SimObservation::default()
        };
        assert_eq!(short.normalized().carrier_name.as_deref(), Some("Carrier"));
    }
}
