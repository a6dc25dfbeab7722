//! Console alerts: one OCSF Detection Finding per new change, one JSON object per
//! line, mapped by the same code as `journal export --format ocsf`.

use std::io::Write;
use std::path::Path;

use portcullis_core::journal::{finding_ocsf, OcsfDevice};
use portcullis_core::{AlertKind, Finding, Timestamp};

use crate::camara::{Api, Operation};
use crate::error::Error;
use crate::roster::Line;

/// The detector name carrier alerts carry (`finding_info.analytic.name`).
pub const DETECTOR: &str = "carrier_watch";
/// Bumped whenever the alerting rule changes.
pub const DETECTOR_VERSION: u32 = 1;

/// Why a line was checked: the finding says so, for the analyst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The regular pass.
    Poll,
    /// A phone alert asked for a carrier check (`--alerts`).
    PhoneAlert,
    /// The carrier notified a swap (SIM Swap Subscriptions).
    Notification,
}

impl Trigger {
    fn as_str(self) -> &'static str {
        match self {
            Trigger::Poll => "poll",
            Trigger::PhoneAlert => "phone_alert",
            Trigger::Notification => "carrier_notification",
        }
    }
}

/// A change the carrier reported that the console has not alerted on before.
pub struct SwapAlert<'a> {
    /// The line.
    pub line: &'a Line,
    /// Which API reported it.
    pub api: Api,
    /// Which operation answered.
    pub operation: Operation,
    /// When the console learned it.
    pub at: Timestamp,
    /// The new change date (retrieve-date).
    pub latest_change: Option<Timestamp>,
    /// The change date seen before, if any.
    pub previous_change: Option<Timestamp>,
    /// The sequence of the instruction relaying the same answer (numbers the finding).
    pub sequence: u64,
    /// Why the line was checked.
    pub trigger: Trigger,
}

impl SwapAlert<'_> {
    /// The OCSF Detection Finding.
    pub fn to_ocsf(&self) -> serde_json::Value {
        let what = match self.api {
            Api::SimSwap => "SIM swap",
            Api::DeviceSwap => "device swap",
        };
        let summary = match (self.operation, self.latest_change) {
            (_, Some(at)) => format!(
                "The carrier reports a {what} on {} at {at}",
                self.line.label()
            ),
            (Operation::Check { max_age }, None) => format!(
                "The carrier reports a {what} on {} within the last {max_age} hours",
                self.line.label()
            ),
            (Operation::RetrieveDate, None) => {
                format!("The carrier reports a {what} on {}", self.line.label())
            }
        };
        let mut evidence = vec![
            ("api".to_owned(), self.api.as_str().to_owned()),
            ("operation".to_owned(), self.operation.as_str().to_owned()),
            ("trigger".to_owned(), self.trigger.as_str().to_owned()),
            (
                "line_pin_prefix".to_owned(),
                self.line.line_pin[..12].to_owned(),
            ),
            (
                "instruction_id".to_owned(),
                crate::instruction::instruction_id(&self.line.device, self.api, self.sequence),
            ),
        ];
        if let Operation::Check { max_age } = self.operation {
            evidence.push(("max_age_hours".into(), max_age.to_string()));
        }
        if let Some(at) = self.latest_change {
            evidence.push(("latest_change".into(), at.to_string()));
        }
        if let Some(at) = self.previous_change {
            evidence.push(("previous_change".into(), at.to_string()));
        }
        let finding = Finding {
            at: self.at,
            kind: match self.api {
                Api::SimSwap => AlertKind::CarrierReportedSwap,
                Api::DeviceSwap => AlertKind::CarrierReportedDeviceSwap,
            },
            slot: None,
            detector: DETECTOR.into(),
            detector_version: DETECTOR_VERSION,
            summary,
            evidence,
            severity: None,
        };
        finding_ocsf(
            &finding,
            &OcsfDevice::enrolled(&self.line.device),
            self.sequence as i64,
        )
    }
}

/// Where alerts go: standard output or a file appended to.
pub struct AlertSink {
    out: Box<dyn Write + Send>,
    written: u64,
}

impl AlertSink {
    /// Alerts to standard output.
    pub fn stdout() -> Self {
        AlertSink {
            out: Box::new(std::io::stdout()),
            written: 0,
        }
    }

    /// Alerts appended to `path` (created if missing).
    pub fn file(path: &Path) -> Result<Self, Error> {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| Error::Io(format!("cannot open {}: {e}", path.display())))?;
        Ok(AlertSink {
            out: Box::new(f),
            written: 0,
        })
    }

    /// Any writer (tests).
    pub fn writer(out: Box<dyn Write + Send>) -> Self {
        AlertSink { out, written: 0 }
    }

    /// Writes one finding as one line and flushes it.
    pub fn emit(&mut self, finding: &serde_json::Value) -> Result<(), Error> {
        let mut line = serde_json::to_vec(finding).expect("a finding serialises");
        line.push(b'\n');
        self.out
            .write_all(&line)
            .and_then(|()| self.out.flush())
            .map_err(|e| Error::Io(format!("cannot write an alert: {e}")))?;
        self.written += 1;
        Ok(())
    }

    /// How many alerts were written.
    pub fn written(&self) -> u64 {
        self.written
    }
}
