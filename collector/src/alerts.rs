//! Collector alerts: OCSF 1.1 Detection Findings (class 2004), the shape the journal
//! export and the carrier watch give a SIEM, written one per line to a JSONL file and
//! optionally posted to a webhook.
//!
//! Alerts name the device by its enrollment id and the problem; never a key, a MAC or a
//! record body.

use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use crate::error::Error;

/// What the collector detected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertKind {
    /// A batch started after the last record the collector holds: records are missing.
    Gap,
    /// A batch disagrees with history the collector already holds.
    Fork,
    /// A device's journal or batch sequence went backwards.
    Rollback,
    /// A record's MAC does not verify under the enrolled journal key.
    MacFailure,
    /// A device was silent for longer than its heartbeat.
    Silent,
}

impl AlertKind {
    /// The stable name (OCSF `finding_info.title`).
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Gap => "journal_upload_gap",
            AlertKind::Fork => "journal_upload_fork",
            AlertKind::Rollback => "journal_upload_rollback",
            AlertKind::MacFailure => "journal_upload_mac_failure",
            AlertKind::Silent => "device_silent",
        }
    }

    fn severity(self) -> (u8, &'static str) {
        match self {
            AlertKind::Silent => (3, "Medium"),
            _ => (4, "High"),
        }
    }
}

/// One alert.
#[derive(Debug, Clone)]
pub struct Alert {
    /// What happened.
    pub kind: AlertKind,
    /// The enrolled device it concerns.
    pub device_id: String,
    /// Collector time (ms).
    pub at_ms: i64,
    /// One line for the security team.
    pub summary: String,
    /// Supporting facts (sequence numbers, reasons).
    pub evidence: Vec<(String, String)>,
}

impl Alert {
    /// The OCSF Detection Finding.
    pub fn to_ocsf(&self, sequence: u64) -> serde_json::Value {
        let (severity_id, severity) = self.kind.severity();
        let evidence: serde_json::Map<String, serde_json::Value> = self
            .evidence
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        let uid = format!("collector:{}:{}:{sequence}", self.device_id, self.at_ms);
        serde_json::json!({
            "class_uid": 2004,
            "class_name": "Detection Finding",
            "category_uid": 2,
            "category_name": "Findings",
            "activity_id": 1,
            "activity_name": "Create",
            "type_uid": 200401,
            "type_name": "Detection Finding: Create",
            "time": self.at_ms,
            "severity_id": severity_id,
            "severity": severity,
            "status_id": 1,
            "status": "New",
            "message": self.summary,
            "finding_info": {
                "uid": uid,
                "title": self.kind.as_str(),
                "desc": self.summary,
                "types": [self.kind.as_str()],
                "analytic": { "name": "portcullis_collector", "version": "1", "type_id": 1, "type": "Rule" },
            },
            // type_id 5 is OCSF's "Mobile"; the device is known by its enrolled id.
            "device": { "uid": self.device_id, "name": self.device_id, "type_id": 5, "type": "Mobile" },
            "resources": [{ "uid": self.device_id, "name": self.device_id, "type": "Device" }],
            "evidences": [{ "data": evidence }],
            "metadata": {
                "version": "1.1.0",
                "uid": uid,
                "product": { "name": "Portcullis collector", "vendor_name": "Portcullis", "version": env!("CARGO_PKG_VERSION") },
                "sequence": sequence,
            },
        })
    }
}

/// Where alerts go.
pub struct AlertSink {
    file: Option<Mutex<std::fs::File>>,
    webhook: Option<(reqwest::Client, String)>,
    sequence: std::sync::atomic::AtomicU64,
}

impl AlertSink {
    /// Alerts appended to `file` (created if missing) and posted to `webhook`; either may be absent.
    pub fn new(file: Option<&Path>, webhook: Option<String>) -> Result<AlertSink, Error> {
        let file = match file {
            Some(path) => Some(Mutex::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| {
                        Error::Io(format!(
                            "cannot open the alert file {}: {e}",
                            path.display()
                        ))
                    })?,
            )),
            None => None,
        };
        let webhook = match webhook {
            Some(url) => {
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    return Err(Error::Usage("--webhook must be an http(s) URL".into()));
                }
                let client = reqwest::Client::builder()
                    .timeout(std::time::Duration::from_secs(10))
                    .build()
                    .map_err(|e| Error::Io(format!("webhook client: {e}")))?;
                Some((client, url))
            }
            None => None,
        };
        Ok(AlertSink {
            file,
            webhook,
            sequence: std::sync::atomic::AtomicU64::new(1),
        })
    }

    /// Writes the alert to every destination. A failing destination is logged, never
    /// fatal: the upload it concerns has already been answered.
    pub async fn raise(&self, alert: &Alert) {
        let sequence = self
            .sequence
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let finding = alert.to_ocsf(sequence);
        log::warn!(
            "alert {} for device {}: {}",
            alert.kind.as_str(),
            crate::label(&alert.device_id),
            alert.summary
        );
        if let Some(file) = &self.file {
            let mut line = finding.to_string();
            line.push('\n');
            let mut f = file
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Err(e) = f.write_all(line.as_bytes()).and_then(|()| f.flush()) {
                log::error!("cannot write the alert file: {e}");
            }
        }
        if let Some((client, url)) = &self.webhook {
            match client
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(finding.to_string())
                .send()
                .await
            {
                Ok(r) if r.status().is_success() => {}
                Ok(r) => log::error!("the alert webhook answered {}", r.status()),
                Err(e) => log::error!("the alert webhook failed: {}", e.without_url()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn alerts_are_ocsf_findings_one_per_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alerts.jsonl");
        let sink = AlertSink::new(Some(&path), None).unwrap();
        for kind in [AlertKind::Fork, AlertKind::Silent] {
            sink.raise(&Alert {
                kind,
                device_id: "phone-1".into(),
                at_ms: 5,
                summary: "s".into(),
                evidence: vec![("seq".into(), "7".into())],
            })
            .await;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["class_uid"], 2004);
        assert_eq!(lines[0]["finding_info"]["title"], "journal_upload_fork");
        assert_eq!(lines[0]["severity_id"], 4);
        assert_eq!(lines[1]["finding_info"]["title"], "device_silent");
        assert_eq!(lines[1]["evidences"][0]["data"]["seq"], "7");
        assert_ne!(
            lines[0]["finding_info"]["uid"],
            lines[1]["finding_info"]["uid"]
        );
    }
}
