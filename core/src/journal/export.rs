//! The journal's export forms: one JSON line per record, and OCSF 1.1 events for a SIEM.

use super::record::{decode_record, RecordBody, StoredRecord};
use crate::error::Result;
use crate::identity::hex;
use crate::time::Timestamp;

/// A record as one JSON line of `journal export --format jsonl`.
pub fn record_json(r: &StoredRecord) -> serde_json::Value {
    let body: serde_json::Value = crate::json::from_str(&r.body)
        .unwrap_or_else(|_| serde_json::Value::String(r.body.clone()));
    serde_json::json!({
        "seq": r.seq,
        "at": Timestamp::from_unix_millis(r.at),
        "epoch": r.epoch,
        "kind": r.kind,
        "body": body,
        "hash": hex(&r.hash),
    })
}

/// The OCSF schema version every export declares.
pub const OCSF_VERSION: &str = "1.1.0";

/// The device an OCSF event is about: `uid` is the enrolled device id (the MDM's name of
/// the phone, as bundles and instructions address it), so a SIEM joins a phone's
/// findings from the journal export and from the console's carrier watch on one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcsfDevice {
    /// The enrolled device id.
    pub uid: String,
    /// A display name; the enrolled id when nothing better is known.
    pub name: String,
}

impl OcsfDevice {
    /// A device known only by its enrolled id.
    pub fn enrolled(uid: &str) -> Self {
        OcsfDevice {
            uid: uid.to_owned(),
            name: uid.to_owned(),
        }
    }

    fn json(&self) -> serde_json::Value {
        // type_id 5 is OCSF's "Mobile" (device.type_id enum, OCSF 1.1).
        serde_json::json!({ "uid": self.uid, "name": self.name, "type_id": 5, "type": "Mobile" })
    }
}

/// The enrolled device id a journal names: the `device_id` of its last
/// `trust_root_installed` record, `None` for a journal that never installed a root.
pub fn enrolled_device_id(records: &[StoredRecord]) -> Option<String> {
    records
        .iter()
        .rev()
        .filter(|r| r.kind == "trust_root_installed")
        .find_map(|r| {
            let body: serde_json::Value = crate::json::from_str(&r.body).ok()?;
            body.get("device_id")?.as_str().map(str::to_owned)
        })
}

/// OCSF's caption for a severity (`severity_id` 1..5: Informational, Low, Medium, High,
/// Critical); OCSF validators check the pair.
pub fn ocsf_severity(severity: crate::alert::Severity) -> (u8, &'static str) {
    match severity {
        crate::alert::Severity::Info => (1, "Informational"),
        crate::alert::Severity::Low => (2, "Low"),
        crate::alert::Severity::Medium => (3, "Medium"),
        crate::alert::Severity::High => (4, "High"),
        crate::alert::Severity::Critical => (5, "Critical"),
    }
}

fn ocsf_metadata(uid: String) -> serde_json::Value {
    serde_json::json!({
        "version": OCSF_VERSION,
        "uid": uid,
        "product": {
            "name": "Portcullis",
            "vendor_name": "Portcullis",
            "version": env!("CARGO_PKG_VERSION"),
        },
    })
}

/// Maps an alert record to an OCSF 1.1 Detection Finding (class 2004) so a SIEM can
/// ingest it; other records have no OCSF form and give `None`.
pub fn record_ocsf(r: &StoredRecord, device: &OcsfDevice) -> Result<Option<serde_json::Value>> {
    let RecordBody::Alert(f) = decode_record(&r.kind, &r.body)? else {
        return Ok(None);
    };
    Ok(Some(finding_ocsf(&f, device, r.seq)))
}

/// Maps a finding to an OCSF 1.1 Detection Finding (class 2004). Shared by the journal
/// export and the console's carrier watch, so a SIEM sees one shape whichever side
/// raised the alert; `sequence` numbers the finding for its device (`finding_info.uid`).
/// The finding's evidence goes to `evidences[0].data`; `resources` names the device and,
/// for a SIM alert, the slot.
pub fn finding_ocsf(
    f: &crate::alert::Finding,
    device: &OcsfDevice,
    sequence: i64,
) -> serde_json::Value {
    let (severity_id, severity) = ocsf_severity(f.severity());
    let evidence: serde_json::Map<String, serde_json::Value> = f
        .evidence
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    let uid = format!("{}:{sequence}", device.uid);
    let mut resources = vec![serde_json::json!({
        "uid": device.uid, "name": device.name, "type": "Device",
    })];
    if let Some(slot) = f.slot {
        resources.push(serde_json::json!({
            "uid": format!("{}:sim-slot-{slot}", device.uid),
            "name": format!("SIM slot {slot}"),
            "type": "SIM slot",
        }));
    }
    let mut metadata = ocsf_metadata(uid.clone());
    metadata["sequence"] = sequence.into();
    serde_json::json!({
        "class_uid": 2004,
        "class_name": "Detection Finding",
        "category_uid": 2,
        "category_name": "Findings",
        "activity_id": 1,
        "activity_name": "Create",
        "type_uid": 200401,
        "type_name": "Detection Finding: Create",
        "time": f.at.as_unix_millis(),
        "severity_id": severity_id,
        "severity": severity,
        "status_id": 1,
        "status": "New",
        "message": f.summary,
        "finding_info": {
            "uid": uid,
            "title": f.kind.as_str(),
            "desc": f.summary,
            "types": [f.kind.as_str()],
            "analytic": { "name": f.detector, "version": f.detector_version.to_string(), "type_id": 1, "type": "Rule" },
        },
        "device": device.json(),
        "evidences": [{ "data": evidence }],
        "resources": resources,
        "metadata": metadata,
        "unmapped": { "slot": f.slot },
    })
}

/// Maps an alert record to its OCSF 1.1 events: for an indicator match found in device
/// telemetry, the network event it matched (DNS Activity, class 4003, or Network
/// Activity, class 4001) followed by the Detection Finding, whose
/// `finding_info.related_events` names it; for any other alert, the finding alone.
pub fn record_ocsf_events(r: &StoredRecord, device: &OcsfDevice) -> Result<Vec<serde_json::Value>> {
    let RecordBody::Alert(f) = decode_record(&r.kind, &r.body)? else {
        return Ok(Vec::new());
    };
    let mut finding = finding_ocsf(&f, device, r.seq);
    let Some(activity) = telemetry_activity_ocsf(&f, device, r.seq) else {
        return Ok(vec![finding]);
    };
    finding["finding_info"]["related_events"] = serde_json::json!([{
        "uid": activity["metadata"]["uid"],
        "type_uid": activity["type_uid"],
        "type": activity["type_name"],
    }]);
    Ok(vec![activity, finding])
}

/// The network event behind a telemetry `indicator_match`, from the evidence the match
/// recorded (`event`, `query`/`answers` or `address`/`port`, `package`).
fn telemetry_activity_ocsf(
    f: &crate::alert::Finding,
    device: &OcsfDevice,
    sequence: i64,
) -> Option<serde_json::Value> {
    if f.kind != crate::alert::AlertKind::IndicatorMatch {
        return None;
    }
    let field = |k: &str| {
        f.evidence
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    if field("source") != Some("network_log") {
        return None;
    }
    let mut metadata = ocsf_metadata(format!("{}:{sequence}:event", device.uid));
    metadata["log_name"] = "network_log".into();
    // `actor` and `device` come from OCSF's host profile on network classes.
    metadata["profiles"] = serde_json::json!(["host"]);
    let common = |class_uid: u32, class_name: &str, activity: (u32, &str)| {
        serde_json::json!({
            "class_uid": class_uid,
            "class_name": class_name,
            "category_uid": 4,
            "category_name": "Network Activity",
            "activity_id": activity.0,
            "activity_name": activity.1,
            "type_uid": class_uid * 100 + activity.0,
            "type_name": format!("{class_name}: {}", activity.1),
            "time": f.at.as_unix_millis(),
            "severity_id": 1,
            "severity": "Informational",
            // OCSF 1.1 has no `actor.app_name`: an Android app runs as a process named after its package.
            "actor": { "process": { "name": field("package").unwrap_or_default() } },
            // The phone made the lookup or the connection.
            "src_endpoint": { "uid": device.uid, "name": device.name },
            "device": device.json(),
            "metadata": metadata.clone(),
        })
    };
    match field("event")? {
        "dns" => {
            let mut v = common(4003, "DNS Activity", (1, "Query"));
            v["query"] = serde_json::json!({ "hostname": field("query")? });
            let answers: Vec<serde_json::Value> = field("answers")
                .unwrap_or_default()
                .split(',')
                .filter(|a| !a.is_empty())
                .map(|a| serde_json::json!({ "rdata": a }))
                .collect();
            v["answers"] = serde_json::Value::Array(answers);
            Some(v)
        }
        "connect" => {
            let mut v = common(4001, "Network Activity", (1, "Open"));
            let port: u16 = field("port")?.parse().ok()?;
            v["dst_endpoint"] = serde_json::json!({ "ip": field("address")?, "port": port });
            v["connection_info"] = serde_json::json!({
                "direction_id": 2, "direction": "Outbound", "protocol_name": "tcp",
            });
            Some(v)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests;
