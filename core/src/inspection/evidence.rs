//! The evidence snapshot: what the native layer collects from the phone during an
//! inspection, as JSON (format version 1, documented in `docs/inspection.md`).
//!
//! The format is strict: unknown fields are refused, so a misspelt section fails
//! loudly instead of leaving evidence unscanned and the phone looking clean. Every
//! section is optional; a platform leaves out what it cannot see.

#[cfg(feature = "schema")]
use schemars::{json_schema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

use super::stix::{normalize_digest, HashAlgorithm};
use crate::error::{Error, Result};
use crate::time::Timestamp;

/// Declares a piece of evidence known by the three digests an indicator may name
/// (SHA-256, SHA-1, MD5 of `$of`: hex, any case, `:` separators allowed), after its own
/// fields, with `digest(algorithm)` for the scanner.
macro_rules! with_digests {
    (
        $(#[$attr:meta])*
        pub struct $name:ident of $of:literal {
            $( $(#[$field_attr:meta])* pub $field:ident: $ty:ty, )*
        }
    ) => {
        $(#[$attr])*
        pub struct $name {
            $( $(#[$field_attr])* pub $field: $ty, )*
            #[doc = concat!("SHA-256 of ", $of, ".")]
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[cfg_attr(
                feature = "schema",
                schemars(regex(pattern = r"^[0-9A-Fa-f]{2}(:?[0-9A-Fa-f]{2}){31}$"))
            )]
            pub sha256: Option<String>,
            #[doc = concat!("SHA-1 of ", $of, ".")]
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[cfg_attr(
                feature = "schema",
                schemars(regex(pattern = r"^[0-9A-Fa-f]{2}(:?[0-9A-Fa-f]{2}){19}$"))
            )]
            pub sha1: Option<String>,
            #[doc = concat!("MD5 of ", $of, ".")]
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[cfg_attr(
                feature = "schema",
                schemars(regex(pattern = r"^[0-9A-Fa-f]{2}(:?[0-9A-Fa-f]{2}){15}$"))
            )]
            pub md5: Option<String>,
        }

        impl $name {
            /// The digest for `algorithm`, if present.
            pub fn digest(&self, algorithm: HashAlgorithm) -> Option<&str> {
                match algorithm {
                    HashAlgorithm::Sha256 => self.sha256.as_deref(),
                    HashAlgorithm::Sha1 => self.sha1.as_deref(),
                    HashAlgorithm::Md5 => self.md5.as_deref(),
                }
            }
        }
    };
}

/// The evidence format version this core reads.
pub const EVIDENCE_VERSION: u32 = 1;

/// Everything an inspection collected from one phone, ready to scan against indicators.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", schemars(title = "Portcullis evidence snapshot"))]
pub struct EvidenceSnapshot {
    /// Format version; must be 1.
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 1)))]
    pub version: u32,
    /// When the native layer collected the snapshot (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(schema_with = "optional_time"))]
    pub collected_at: Option<Timestamp>,
    /// Which platform produced it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// Installed apps (Android packages, iOS apps) with signing certificates and installers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<Package>,
    /// Enabled accessibility services: a favourite of spyware for reading the screen.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accessibility_services: Vec<Component>,
    /// Active device administrators.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub device_admins: Vec<Component>,
    /// Enabled notification listeners (they read every notification, including SMS codes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notification_listeners: Vec<Component>,
    /// VPN configurations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vpn: Vec<Vpn>,
    /// The global HTTP proxy, if one is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<Proxy>,
    /// The private DNS (DNS-over-TLS) host name, if one is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_dns: Option<String>,
    /// Certificates the user (or an attacker) added to the trust store.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub user_ca_certificates: Vec<Certificate>,
    /// System properties (Android `getprop`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub system_properties: Vec<Property>,
    /// System settings (Android `global`, `secure`, `system`); kept for configuration
    /// rules and the report, not matched by indicators.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub settings: Vec<Setting>,
    /// Files the platform could list or hash, including apps' installed packages (APKs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<File>,
    /// Running (or recently seen) processes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub processes: Vec<Process>,
    /// Domain names the phone looked up or contacted (DNS, proxy or VPN logs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<Contact>,
    /// URLs the phone fetched, where a log records them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<Contact>,
    /// IP addresses the phone contacted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip_addresses: Vec<Contact>,
    /// iOS configuration profiles installed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub configuration_profiles: Vec<ConfigurationProfile>,
    /// E-mail addresses seen (device accounts, message senders), where available.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub email_addresses: Vec<Contact>,
}

/// The platform a snapshot comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    /// Android.
    Android,
    /// iOS or iPadOS.
    Ios,
}

/// An installed app.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Package {
    /// Android package name or iOS bundle id, e.g. `com.example.app`.
    pub id: String,
    /// The human-readable version, e.g. `4.2.1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_name: Option<String>,
    /// Android `versionCode`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_code: Option<u64>,
    /// The package that installed it (`com.android.vending` for Google Play), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installer: Option<String>,
    /// Part of the system image.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub system: bool,
    /// Digests of the signing certificates (all signers; rotated keys included).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<Certificate>,
}

with_digests! {
    /// A certificate, by digest (hex, any case, `:` separators allowed).
    #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
    #[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
    #[serde(deny_unknown_fields)]
    pub struct Certificate of "the DER certificate" {
        /// The subject distinguished name, for the report.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub subject: Option<String>,
    }
}

/// An app component holding a privilege (accessibility service, device admin,
/// notification listener).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Component {
    /// The package it belongs to.
    pub package: String,
    /// The component's class name, e.g. `.SpyService`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
}

/// A VPN configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Vpn {
    /// The app providing it (Android), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// The server's host name or address, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// Connected now.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub active: bool,
    /// Set as always-on.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub always_on: bool,
    /// Traffic outside the VPN is blocked (Android lockdown mode).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub lockdown: bool,
}

/// The global HTTP proxy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Proxy {
    /// Proxy host name or address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Proxy port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Proxy auto-configuration URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pac_url: Option<String>,
    /// Hosts that bypass the proxy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclusions: Vec<String>,
}

/// A system property.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Property {
    /// Its name, e.g. `ro.debuggable`.
    pub name: String,
    /// Its value.
    #[serde(default)]
    pub value: String,
}

/// A system setting.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Setting {
    /// Its table: `global`, `secure` or `system` on Android.
    pub namespace: String,
    /// Its name, e.g. `install_non_market_apps`.
    pub name: String,
    /// Its value, as text.
    #[serde(default)]
    pub value: String,
}

with_digests! {
    /// A file, by path or name, with whatever digests the platform could compute.
    #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
    #[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
    #[serde(deny_unknown_fields)]
    pub struct File of "the contents" {
        /// Full path; folders may be listed too, ending in `/`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub path: Option<String>,
        /// File name, when it differs from the path's last part or no path is known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub name: Option<String>,
    }
}

/// A process.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Process {
    /// Its name as the platform reports it.
    pub name: String,
    /// Its process id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// Its executable's path, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// A network or messaging contact: a domain, URL, IP address or e-mail address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Contact {
    /// The domain, URL, address or e-mail address itself.
    pub value: String,
    /// Where it was seen, e.g. `dns`, `proxy_log`, `browser_history`, `account`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// When it was last seen (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(schema_with = "optional_time"))]
    pub seen_at: Option<Timestamp>,
}

/// An iOS configuration profile.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ConfigurationProfile {
    /// `PayloadUUID`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    /// `PayloadIdentifier`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    /// `PayloadDisplayName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// `PayloadOrganization`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
}

#[cfg(feature = "schema")]
fn optional_time(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": ["string", "null"],
        "format": "date-time"
    })
}

fn evidence_error(problem: impl Into<String>) -> Error {
    Error::invalid("evidence", problem)
}

impl EvidenceSnapshot {
    /// Parses and validates a snapshot from its JSON text.
    ///
    /// Errors name the place (line and column, or section and index) and never repeat
    /// evidence values.
    pub fn from_json(json: &str) -> Result<Self> {
        let snapshot: EvidenceSnapshot =
            crate::json::from_str(json).map_err(|e| evidence_error(crate::json::describe(&e)))?;
        snapshot.validate()?;
        Ok(snapshot)
    }

    /// Checks what JSON types cannot: the version, that digests are hex of the right
    /// length, and that every file has a path or a name.
    pub fn validate(&self) -> Result<()> {
        if self.version != EVIDENCE_VERSION {
            return Err(evidence_error(format!(
                "`version` {} is not supported (this core reads version {EVIDENCE_VERSION})",
                self.version
            )));
        }
        let check = |place: &dyn Fn() -> String, algorithm: HashAlgorithm, digest: Option<&str>| {
            match digest {
                Some(d) if normalize_digest(algorithm, d).is_none() => Err(Error::invalid(
                    format!("{}.{}", place(), algorithm.as_str()),
                    format!("not {} hex digits", algorithm.hex_len()),
                )),
                _ => Ok(()),
            }
        };
        for algorithm in HashAlgorithm::ALL {
            for (i, package) in self.packages.iter().enumerate() {
                for (j, cert) in package.certificates.iter().enumerate() {
                    check(
                        &|| format!("packages[{i}].certificates[{j}]"),
                        algorithm,
                        cert.digest(algorithm),
                    )?;
                }
            }
            for (i, cert) in self.user_ca_certificates.iter().enumerate() {
                check(
                    &|| format!("user_ca_certificates[{i}]"),
                    algorithm,
                    cert.digest(algorithm),
                )?;
            }
            for (i, file) in self.files.iter().enumerate() {
                check(&|| format!("files[{i}]"), algorithm, file.digest(algorithm))?;
            }
        }
        for (i, file) in self.files.iter().enumerate() {
            let blank = |s: &Option<String>| s.as_deref().is_none_or(|s| s.trim().is_empty());
            if blank(&file.path) && blank(&file.name) {
                return Err(Error::invalid(
                    format!("files[{i}]"),
                    "has neither `path` nor `name`",
                ));
            }
        }
        Ok(())
    }

    #[cfg(feature = "schema")]
    /// The JSON Schema of the format, generated from these types (`docs/evidence.schema.json`).
    pub fn json_schema() -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(EvidenceSnapshot))
            .expect("a schema is plain JSON")
    }

    /// How many items the snapshot holds, summed over its sections (for reports).
    pub fn item_count(&self) -> usize {
        self.packages.len()
            + self.accessibility_services.len()
            + self.device_admins.len()
            + self.notification_listeners.len()
            + self.vpn.len()
            + usize::from(self.proxy.is_some())
            + usize::from(self.private_dns.is_some())
            + self.user_ca_certificates.len()
            + self.system_properties.len()
            + self.settings.len()
            + self.files.len()
            + self.processes.len()
            + self.domains.len()
            + self.urls.len()
            + self.ip_addresses.len()
            + self.configuration_profiles.len()
            + self.email_addresses.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minimal_snapshot_is_just_a_version() {
        let s = EvidenceSnapshot::from_json(r#"{"version": 1}"#).unwrap();
        assert_eq!(s.item_count(), 0);
        assert_eq!(serde_json::to_string(&s).unwrap(), r#"{"version":1}"#);
    }

    #[test]
    fn errors_name_the_place_never_the_value() {
        let cases = [
            (r#"{"version": 2}"#, "`version` 2"),
            (
                r#"{"version": 1, "pakages": []}"#,
                "unknown field `pakages`",
            ),
            (
                r#"{"version": 1, "email_addresses": [{"value": 7}]}"#,
                "invalid type",
            ),
            (
                r#"{"version": 1, "email_addresses": ["someone@example.org"]}"#,
                "invalid type",
            ),
            (
                r#"{"version": 1, "files": [{"path": "/a", "sha256": "someone@example.org"}]}"#,
                "files[0].sha256: not 64 hex digits",
            ),
            (
                r#"{"version": 1, "files": [{"sha1": "00"}]}"#,
                "files[0].sha1",
            ),
            (
                r#"{"version": 1, "files": [{}]}"#,
                "neither `path` nor `name`",
            ),
            (r#"{"version": 1,"#, "unexpected end of input"),
            (
                r#"{"version": 1, "collected_at": "someone@example.org"}"#,
                "RFC 3339",
            ),
        ];
        for (json, want) in cases {
            let err = EvidenceSnapshot::from_json(json).unwrap_err().to_string();
            assert!(err.contains(want), "{json}: {err}");
            assert!(!err.contains("someone"), "{json}: {err}");
        }
    }

    #[test]
    fn digests_accept_any_case_and_colons() {
        let json = r#"{"version": 1, "packages": [{"id": "a", "certificates": [
            {"sha1": "DA:39:A3:EE:5E:6B:4B:0D:32:55:BF:EF:95:60:18:90:AF:D8:07:09"}]}]}"#;
        EvidenceSnapshot::from_json(json).unwrap();
    }
}
