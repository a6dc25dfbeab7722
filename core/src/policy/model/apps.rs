//! The app rules: which apps must, may or must not be installed, and their signers.

use super::*;

// ---------------------------------------------------------------------------------
// Apps

/// How the app list is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AppMode {
    /// Only listed apps (not `BLOCKED`) may be installed; anything else is a violation.
    Allowlist,
    /// Any app may be installed except those listed as `BLOCKED`.
    Blocklist,
    /// Evaluate as an allowlist, but only report: no app is suspended, no device marked non-compliant.
    Audit,
}

/// What to do when an app breaks a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AppViolationAction {
    /// Alert the console only; the device stays compliant.
    Report,
    /// Alert, and mark the device non-compliant so the `apps` escalation rule runs.
    MarkNonCompliant,
    /// Suspend the offending app (DevicePolicyManager `setPackagesSuspended`), alert, and mark non-compliant.
    SuspendApp,
}

/// What to do when a device setting breaks a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ViolationAction {
    /// Alert the console only; the device stays compliant.
    Report,
    /// Alert, and mark the device non-compliant so the section's escalation rule runs.
    MarkNonCompliant,
}

/// AMAPI `installType`, every value AMAPI defines. An on-device agent checks only
/// presence: the types AMAPI keeps installed are required, the others allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InstallType {
    /// Allowed, not required.
    Available,
    /// Installed automatically once, and the user may remove it: allowed, not required.
    Preinstalled,
    /// Must be installed (missing: `APP_NOT_INSTALLED`).
    ForceInstalled,
    /// Must be installed, and setup waits for it (missing: `APP_NOT_INSTALLED`).
    RequiredForSetup,
    /// Must be installed, and runs as the kiosk (missing: `APP_NOT_INSTALLED`).
    Kiosk,
    /// Installed by an extension app (AMAPI `CUSTOM`): allowed, not required.
    Custom,
    /// Must not be installed (present: `APP_INSTALLED`).
    Blocked,
}

impl InstallType {
    /// Whether a device without the app breaks the rule (AMAPI keeps these installed).
    pub fn required(self) -> bool {
        matches!(
            self,
            InstallType::ForceInstalled | InstallType::RequiredForSetup | InstallType::Kiosk
        )
    }
}

/// The app rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppRules {
    /// Allowlist, blocklist or audit.
    pub mode: AppMode,
    /// Installer packages trusted for apps whose rule lists none (e.g. `com.android.vending`). Empty: any installer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_installers: Vec<String>,
    /// What to do on a violation when the app's rule does not say.
    #[serde(default = "default_app_violation")]
    pub on_violation: AppViolationAction,
    /// Per-app rules, each naming an Android `packageName` or an iOS `bundleId`.
    #[serde(default)]
    pub applications: Vec<AppRule>,
    /// Why these choices.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

fn default_app_violation() -> AppViolationAction {
    AppViolationAction::MarkNonCompliant
}

/// A rule for one app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppRule {
    /// Android package name (exactly one of `packageName` and `bundleId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_name: Option<String>,
    /// iOS bundle identifier (exactly one of `packageName` and `bundleId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle_id: Option<String>,
    /// Allowed, required or blocked (AMAPI `installType`).
    #[serde(default = "default_install_type")]
    pub install_type: InstallType,
    /// Accepted signing certificates (Android). Empty: not checked. A mismatch is `APP_SIGNING_CERT_MISMATCH`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signing_key_certs: Vec<SigningKeyCert>,
    /// Lowest accepted `versionCode` (Android); lower is `APP_NOT_UPDATED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_version_code: Option<u64>,
    /// Installer packages accepted for this app (Android); absent: the section's `allowedInstallers`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_installers: Option<Vec<String>>,
    /// What to do on a violation; absent: the section's `onViolation`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_violation: Option<AppViolationAction>,
    /// Why this rule.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

fn default_install_type() -> InstallType {
    InstallType::Available
}

/// One accepted signing certificate (AMAPI `signingKeyCerts[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SigningKeyCert {
    /// SHA-256 of the signing certificate, as `apksigner verify --print-certs` or `keytool` print it.
    pub signing_key_cert_fingerprint_sha256: Sha256Fingerprint,
}

/// A SHA-256 fingerprint: 64 hex digits (colons between bytes allowed) or the 32 bytes in
/// base64, the form AMAPI's `signingKeyCertFingerprintSha256` uses; stored as lower-case hex.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sha256Fingerprint(pub [u8; 32]);

impl Sha256Fingerprint {
    /// Parses 64 hex digits, optionally colon-separated (`29:F3:...`), or 32 bytes in
    /// base64 (standard or URL-safe alphabet, padding optional). The two forms cannot be
    /// confused: hex is 64 characters long, base64 of 32 bytes 43 or 44.
    pub fn parse(text: &str) -> Option<Self> {
        if matches!(text.len(), 43 | 44) {
            return Self::parse_base64(text);
        }
        let compact: String = if text.contains(':') {
            let parts: Vec<&str> = text.split(':').collect();
            if parts.len() != 32 || parts.iter().any(|p| p.len() != 2) {
                return None;
            }
            parts.concat()
        } else {
            text.to_owned()
        };
        unhex32(&compact).map(Sha256Fingerprint)
    }
}

impl Sha256Fingerprint {
    fn parse_base64(text: &str) -> Option<Self> {
        use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
        use base64::Engine as _;
        let body = text.strip_suffix('=').unwrap_or(text);
        if body.len() != 43 {
            return None;
        }
        let bytes = if body.contains(['-', '_']) {
            URL_SAFE_NO_PAD.decode(body)
        } else {
            STANDARD_NO_PAD.decode(body)
        }
        .ok()?;
        bytes.try_into().ok().map(Sha256Fingerprint)
    }

    /// The fingerprint in standard base64 with padding, as AMAPI writes it.
    pub fn to_base64(&self) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(self.0)
    }
}

impl fmt::Debug for Sha256Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Fingerprint({})", hex(&self.0))
    }
}

impl fmt::Display for Sha256Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex(&self.0))
    }
}

impl Serialize for Sha256Fingerprint {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex(&self.0))
    }
}

impl<'de> Deserialize<'de> for Sha256Fingerprint {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <Cow<'de, str>>::deserialize(d)?;
        Sha256Fingerprint::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(
                "expected a SHA-256 fingerprint: 64 hex digits (optionally colon-separated) or 32 bytes in base64",
            )
        })
    }
}

#[cfg(feature = "schema")]
impl JsonSchema for Sha256Fingerprint {
    fn schema_name() -> Cow<'static, str> {
        "Sha256Fingerprint".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "SHA-256 fingerprint: 64 hex digits, optionally colon-separated (`29:F3:...`), or the 32 bytes in base64 as AMAPI writes them.",
            "type": "string",
            "pattern": "^([0-9A-Fa-f]{64}|([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}|[A-Za-z0-9+/_-]{43}=?)$"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_accept_apksigner_and_keytool_forms() {
        let plain = "29f34e5f27f211b424bc5bf9d67162c0eafba2da35af35c16416fc446276ba26";
        let colons = "29:F3:4E:5F:27:F2:11:B4:24:BC:5B:F9:D6:71:62:C0:EA:FB:A2:DA:35:AF:35:C1:64:16:FC:44:62:76:BA:26";
        let a = Sha256Fingerprint::parse(plain).unwrap();
        assert_eq!(Sha256Fingerprint::parse(colons), Some(a));
        assert_eq!(a.to_string(), plain);
        for bad in ["", "29:F3", &plain[..63], &format!("{plain}0"), "29F3:4E5F"] {
            assert_eq!(Sha256Fingerprint::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn fingerprints_accept_amapi_base64() {
        let plain = "29f34e5f27f211b424bc5bf9d67162c0eafba2da35af35c16416fc446276ba26";
        let a = Sha256Fingerprint::parse(plain).unwrap();
        let b64 = a.to_base64();
        assert_eq!(b64.len(), 44);
        assert_eq!(Sha256Fingerprint::parse(&b64), Some(a));
        assert_eq!(Sha256Fingerprint::parse(b64.trim_end_matches('=')), Some(a));
        let url = b64.replace('+', "-").replace('/', "_");
        assert_eq!(Sha256Fingerprint::parse(&url), Some(a));
        // 31 or 33 bytes, and characters outside both alphabets, are refused.
        use base64::Engine as _;
        let short = base64::engine::general_purpose::STANDARD.encode([7u8; 31]);
        let long = base64::engine::general_purpose::STANDARD.encode([7u8; 33]);
        for bad in [short.as_str(), long.as_str(), &b64.replace(&b64[..1], "*")] {
            assert_eq!(Sha256Fingerprint::parse(bad), None, "{bad}");
        }
    }
}
