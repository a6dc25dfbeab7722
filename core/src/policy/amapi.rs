//! The Android Management API (AMAPI) Policy resource, read into a Portcullis policy and
//! written from one.
//!
//! AMAPI's Policy is flat (`applications`, `passwordPolicies`, `deviceRadioState`, ...);
//! the Portcullis policy nests the same settings under `apps` and `configuration` and adds
//! sections AMAPI has no word for (SIM rules, inspections, telemetry, instruction limits).
//! The mapping is field by field and never silent:
//!
//! - [`import`] reads every AMAPI field. What maps is applied with AMAPI's own meaning of an
//!   unspecified value (an absent `cellularTwoGState` is the user's choice, an absent
//!   `encryptionPolicy` requires nothing); everything else is listed in
//!   [`AmapiImport::not_applied`] with its path and why. The Portcullis-only sections come
//!   from a base policy (the CLI's default is the shipped baseline), so an import never
//!   invents SIM or inspection rules.
//! - [`export`] writes the Android half AMAPI can express and lists in
//!   [`AmapiExport::not_exported`] each Portcullis field that has no AMAPI equivalent.
//!
//! For a policy `p`, `import(export(p), base = p)` gives `p` back (a property test holds
//! this). docs/amapi.md has the tables.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::model::{
    AdvancedSecurityOverrides, AlwaysOnVpnPackage, AppMode, AppRule, BlockAction,
    CellularTwoGState, DeveloperSettings, DeviceConnectivityManagement, DeviceRadioState,
    EncryptionPolicy, GooglePlayProtectVerifyApps, InstallType, PackageNameList, PasswordQuality,
    PasswordRequirements, Policy, PolicyEnforcementRule, SettingName, Sha256Fingerprint,
    SigningKeyCert, UntrustedAppsPolicy, UsbDataAccess, UserInitiatedAddEsimSettings, WipeAction,
};
use super::PolicyError;

/// One AMAPI field an import did not apply, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotApplied {
    /// Path of the AMAPI field, e.g. `applications[0].managedConfiguration`.
    pub path: String,
    /// Why Portcullis does not apply it.
    pub why: String,
}

/// The result of [`import`]: a validated policy and the AMAPI fields it leaves out.
#[derive(Debug, Clone)]
pub struct AmapiImport {
    /// The Portcullis policy.
    pub policy: Policy,
    /// Every AMAPI field present in the document and not applied, in document order.
    pub not_applied: Vec<NotApplied>,
}

/// One Portcullis field an export could not express in AMAPI, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotExported {
    /// Path of the Portcullis field, e.g. `sim` or `apps.applications[3]`.
    pub path: String,
    /// Why AMAPI cannot carry it.
    pub why: String,
}

/// The result of [`export`]: an AMAPI Policy document and what it leaves out.
#[derive(Debug, Clone)]
pub struct AmapiExport {
    /// The AMAPI Policy resource as JSON.
    pub document: Value,
    /// Every Portcullis field with a value and no AMAPI equivalent.
    pub not_exported: Vec<NotExported>,
}

/// AMAPI top-level fields that the Portcullis `configuration` section maps; a
/// `policyEnforcementRules[].settingName` naming one of them is the configuration ladder.
const CONFIGURATION_FIELDS: &[&str] = &[
    "minimumApiLevel",
    "passwordPolicies",
    "passwordRequirements",
    "maximumTimeToLock",
    "encryptionPolicy",
    "advancedSecurityOverrides",
    "debuggingFeaturesAllowed",
    "deviceRadioState",
    "mobileNetworksConfigDisabled",
    "deviceConnectivityManagement",
    "alwaysOnVpnPackage",
    "permittedAccessibilityServices",
];

const NO_MEANING: &str = "no Portcullis meaning: the agent neither enforces nor checks it";

fn bad(path: impl Into<String>, problem: impl Into<String>) -> PolicyError {
    PolicyError::InvalidAmapi {
        path: path.into(),
        problem: problem.into(),
    }
}

struct Reader {
    not_applied: Vec<NotApplied>,
}

impl Reader {
    fn skip(&mut self, path: impl Into<String>, why: impl Into<String>) {
        self.not_applied.push(NotApplied {
            path: path.into(),
            why: why.into(),
        });
    }

    /// Lists the keys of `object` not in `known` as not applied.
    fn rest(&mut self, prefix: &str, object: &Map<String, Value>, known: &[&str]) {
        for key in object.keys() {
            if !known.contains(&key.as_str()) {
                self.skip(join(prefix, key), NO_MEANING);
            }
        }
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

fn object<'a>(path: &str, v: &'a Value) -> Result<&'a Map<String, Value>, PolicyError> {
    v.as_object().ok_or_else(|| bad(path, "expected an object"))
}

fn array<'a>(path: &str, v: &'a Value) -> Result<&'a Vec<Value>, PolicyError> {
    v.as_array().ok_or_else(|| bad(path, "expected an array"))
}

fn string<'a>(path: &str, v: &'a Value) -> Result<&'a str, PolicyError> {
    v.as_str().ok_or_else(|| bad(path, "expected a string"))
}

fn boolean(path: &str, v: &Value) -> Result<bool, PolicyError> {
    v.as_bool()
        .ok_or_else(|| bad(path, "expected true or false"))
}

/// AMAPI integers: JSON numbers, or decimal strings for int64 fields (proto3 JSON).
fn integer(path: &str, v: &Value) -> Result<u64, PolicyError> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
    .ok_or_else(|| bad(path, "expected a non-negative integer"))
}

fn small(path: &str, v: &Value) -> Result<u32, PolicyError> {
    u32::try_from(integer(path, v)?).map_err(|_| bad(path, "is too large"))
}

/// Reads an AMAPI enum: `None` for absent or `*_UNSPECIFIED`, an error for a value AMAPI
/// does not define.
fn enumerated<'a>(
    path: &str,
    v: Option<&'a Value>,
    values: &[&str],
) -> Result<Option<&'a str>, PolicyError> {
    let Some(v) = v else { return Ok(None) };
    let s = string(path, v)?;
    if s.ends_with("_UNSPECIFIED") {
        return Ok(None);
    }
    if values.contains(&s) {
        Ok(Some(s))
    } else {
        Err(bad(
            path,
            format!("not an AMAPI value (expected one of {})", values.join(", ")),
        ))
    }
}

/// Reads an AMAPI Policy resource (JSON) into a Portcullis policy, taking the sections
/// AMAPI cannot express from `base`. Where the document is silent, AMAPI's defaults apply,
/// not Portcullis's stricter ones. Errors name the AMAPI field, or the Portcullis rule
/// the result breaks.
pub fn import(bytes: &[u8], base: &Policy) -> crate::Result<AmapiImport> {
    let doc: Value =
        crate::json::from_slice(bytes).map_err(|e| PolicyError::document("AMAPI policy", &e))?;
    let doc = object("(document)", &doc)?;
    let mut r = Reader {
        not_applied: Vec::new(),
    };
    let mut p = base.clone();

    if let Some(name) = doc.get("name") {
        let name = string("name", name)?;
        let id = name.rsplit('/').next().unwrap_or(name);
        if !id.trim().is_empty() && id.chars().count() <= 64 {
            p.name = id.to_owned();
        } else {
            r.skip(
                "name",
                "the policy id is not 1 to 64 characters; the base name is kept",
            );
        }
    }
    if doc.contains_key("version") {
        r.skip(
            "version",
            "set by AMAPI on each change; a Portcullis bundle carries its own version",
        );
    }

    import_apps(doc, base, &mut p, &mut r)?;
    import_configuration(doc, &mut p, &mut r)?;
    import_enforcement(doc, base, &mut p, &mut r)?;

    let mut known: Vec<&str> = vec!["name", "version", "applications", "playStoreMode"];
    known.extend(CONFIGURATION_FIELDS);
    known.push("policyEnforcementRules");
    r.rest("", doc, &known);

    p.validate()?;
    Ok(AmapiImport {
        policy: p,
        not_applied: r.not_applied,
    })
}

const INSTALL_TYPES: &[&str] = &[
    "PREINSTALLED",
    "FORCE_INSTALLED",
    "BLOCKED",
    "AVAILABLE",
    "REQUIRED_FOR_SETUP",
    "KIOSK",
    "CUSTOM",
];

fn install_type_from(s: Option<&str>) -> InstallType {
    match s {
        Some("PREINSTALLED") => InstallType::Preinstalled,
        Some("FORCE_INSTALLED") => InstallType::ForceInstalled,
        Some("BLOCKED") => InstallType::Blocked,
        Some("REQUIRED_FOR_SETUP") => InstallType::RequiredForSetup,
        Some("KIOSK") => InstallType::Kiosk,
        Some("CUSTOM") => InstallType::Custom,
        _ => InstallType::Available,
    }
}

fn install_type_name(t: InstallType) -> &'static str {
    match t {
        InstallType::Available => "AVAILABLE",
        InstallType::Preinstalled => "PREINSTALLED",
        InstallType::ForceInstalled => "FORCE_INSTALLED",
        InstallType::RequiredForSetup => "REQUIRED_FOR_SETUP",
        InstallType::Kiosk => "KIOSK",
        InstallType::Custom => "CUSTOM",
        InstallType::Blocked => "BLOCKED",
    }
}

fn import_apps(
    doc: &Map<String, Value>,
    base: &Policy,
    p: &mut Policy,
    r: &mut Reader,
) -> Result<(), PolicyError> {
    // AMAPI's default playStoreMode is WHITELIST. AUDIT is Portcullis's own: a base in
    // AUDIT stays so when AMAPI says WHITELIST.
    let mode = enumerated(
        "playStoreMode",
        doc.get("playStoreMode"),
        &["WHITELIST", "BLACKLIST"],
    )?;
    p.apps.mode = match mode {
        Some("BLACKLIST") => AppMode::Blocklist,
        _ if base.apps.mode == AppMode::Audit => AppMode::Audit,
        _ => AppMode::Allowlist,
    };

    let mut imported: Vec<AppRule> = Vec::new();
    if let Some(apps) = doc.get("applications") {
        for (i, app) in array("applications", apps)?.iter().enumerate() {
            let at = format!("applications[{i}]");
            let app = object(&at, app)?;
            let package = app
                .get("packageName")
                .ok_or_else(|| bad(&at, "packageName is missing"))
                .and_then(|v| string(&join(&at, "packageName"), v))?;
            let install = enumerated(
                &join(&at, "installType"),
                app.get("installType"),
                INSTALL_TYPES,
            )?;
            let mut certs = Vec::new();
            if let Some(list) = app.get("signingKeyCerts") {
                for (j, cert) in array(&join(&at, "signingKeyCerts"), list)?
                    .iter()
                    .enumerate()
                {
                    let cat = format!("{at}.signingKeyCerts[{j}]");
                    let cert = object(&cat, cert)?;
                    let fp_at = join(&cat, "signingKeyCertFingerprintSha256");
                    let text = cert
                        .get("signingKeyCertFingerprintSha256")
                        .ok_or_else(|| bad(&cat, "signingKeyCertFingerprintSha256 is missing"))
                        .and_then(|v| string(&fp_at, v))?;
                    let fp = Sha256Fingerprint::parse(text)
                        .ok_or_else(|| bad(&fp_at, "not a SHA-256 fingerprint (base64 or hex)"))?;
                    r.rest(&cat, cert, &["signingKeyCertFingerprintSha256"]);
                    certs.push(SigningKeyCert {
                        signing_key_cert_fingerprint_sha256: fp,
                    });
                }
            }
            let minimum_version_code = app
                .get("minimumVersionCode")
                .map(|v| integer(&join(&at, "minimumVersionCode"), v))
                .transpose()?
                .filter(|&v| v > 0);
            r.rest(
                &at,
                app,
                &[
                    "packageName",
                    "installType",
                    "signingKeyCerts",
                    "minimumVersionCode",
                ],
            );
            // Portcullis-only parts of the rule come from the base's rule for the package.
            let from_base = base
                .apps
                .applications
                .iter()
                .find(|b| b.package_name.as_deref() == Some(package));
            imported.push(AppRule {
                package_name: Some(package.to_owned()),
                bundle_id: None,
                install_type: install_type_from(install),
                signing_key_certs: certs,
                minimum_version_code,
                allowed_installers: from_base.and_then(|b| b.allowed_installers.clone()),
                on_violation: from_base.and_then(|b| b.on_violation),
                notes: from_base.map(|b| b.notes.clone()).unwrap_or_default(),
            });
        }
    }

    // The base's order is kept: its iOS rules stay, its Android rules are replaced by
    // AMAPI's (or dropped when AMAPI does not list the package); new packages follow.
    let mut rules = Vec::new();
    let mut used = vec![false; imported.len()];
    for b in &base.apps.applications {
        match &b.package_name {
            None => rules.push(b.clone()),
            Some(pkg) => {
                if let Some(k) = imported
                    .iter()
                    .position(|a| a.package_name.as_ref() == Some(pkg))
                {
                    if !used[k] {
                        used[k] = true;
                        rules.push(imported[k].clone());
                    }
                }
            }
        }
    }
    for (k, a) in imported.into_iter().enumerate() {
        if !used[k] {
            rules.push(a);
        }
    }
    p.apps.applications = rules;
    Ok(())
}

const QUALITIES: &[&str] = &[
    "BIOMETRIC_WEAK",
    "SOMETHING",
    "NUMERIC",
    "NUMERIC_COMPLEX",
    "ALPHABETIC",
    "ALPHANUMERIC",
    "COMPLEX",
    "COMPLEXITY_LOW",
    "COMPLEXITY_MEDIUM",
    "COMPLEXITY_HIGH",
];

const PASSWORD_FIELDS: &[&str] = &[
    "passwordMinimumLength",
    "passwordMinimumLetters",
    "passwordMinimumLowerCase",
    "passwordMinimumNonLetter",
    "passwordMinimumNumeric",
    "passwordMinimumSymbols",
    "passwordMinimumUpperCase",
    "passwordQuality",
    "passwordHistoryLength",
    "maximumFailedPasswordsForWipe",
    "passwordExpirationTimeout",
    "passwordScope",
    "requirePasswordUnlock",
    "unifiedLockSettings",
];

/// One AMAPI `PasswordRequirements` object: the complexity bucket and the wipe count.
fn password(
    at: &str,
    req: &Map<String, Value>,
    r: &mut Reader,
) -> Result<Option<PasswordRequirements>, PolicyError> {
    let quality = enumerated(
        &join(at, "passwordQuality"),
        req.get("passwordQuality"),
        QUALITIES,
    )?;
    let wipe = req
        .get("maximumFailedPasswordsForWipe")
        .map(|v| small(&join(at, "maximumFailedPasswordsForWipe"), v))
        .transpose()?
        .filter(|&n| n > 0);
    for key in req.keys() {
        if !PASSWORD_FIELDS.contains(&key.as_str()) {
            r.skip(join(at, key), NO_MEANING);
        } else if !matches!(
            key.as_str(),
            "passwordQuality" | "maximumFailedPasswordsForWipe" | "passwordScope"
        ) {
            r.skip(
                join(at, key),
                "Portcullis checks the complexity bucket the platform reports, not the lock's composition or history",
            );
        }
    }
    let bucket = match quality {
        Some("COMPLEXITY_LOW") => Some(PasswordQuality::ComplexityLow),
        Some("COMPLEXITY_MEDIUM") => Some(PasswordQuality::ComplexityMedium),
        Some("COMPLEXITY_HIGH") => Some(PasswordQuality::ComplexityHigh),
        Some(_) => {
            r.skip(
                join(at, "passwordQuality"),
                "a pre-Android 12 quality; Portcullis checks only the COMPLEXITY_* buckets",
            );
            None
        }
        None => None,
    };
    match bucket {
        Some(q) => Ok(Some(PasswordRequirements {
            password_quality: q,
            maximum_failed_passwords_for_wipe: wipe,
        })),
        None => {
            if wipe.is_some() {
                r.skip(
                    join(at, "maximumFailedPasswordsForWipe"),
                    "Portcullis checks the wipe count together with a COMPLEXITY_* quality",
                );
            }
            Ok(None)
        }
    }
}

fn import_configuration(
    doc: &Map<String, Value>,
    p: &mut Policy,
    r: &mut Reader,
) -> Result<(), PolicyError> {
    let c = &mut p.configuration;
    c.minimum_api_level = doc
        .get("minimumApiLevel")
        .map(|v| small("minimumApiLevel", v))
        .transpose()?
        .filter(|&n| n > 0);

    // passwordPolicies is AMAPI's current field; the top-level passwordRequirements is
    // deprecated and read only when passwordPolicies is absent.
    c.password_requirements = None;
    if let Some(list) = doc.get("passwordPolicies") {
        let mut taken = false;
        for (i, req) in array("passwordPolicies", list)?.iter().enumerate() {
            let at = format!("passwordPolicies[{i}]");
            let req = object(&at, req)?;
            let scope = enumerated(
                &join(&at, "passwordScope"),
                req.get("passwordScope"),
                &["SCOPE_DEVICE", "SCOPE_PROFILE"],
            )?;
            if scope == Some("SCOPE_PROFILE") {
                r.skip(
                    &at,
                    "a work-profile lock; the agent checks the device's screen lock",
                );
            } else if taken {
                r.skip(
                    &at,
                    "a second device-wide password policy; the first applies",
                );
            } else {
                taken = true;
                c.password_requirements = password(&at, req, r)?;
            }
        }
        if doc.contains_key("passwordRequirements") {
            r.skip(
                "passwordRequirements",
                "deprecated in AMAPI; passwordPolicies takes precedence",
            );
        }
    } else if let Some(req) = doc.get("passwordRequirements") {
        c.password_requirements = password(
            "passwordRequirements",
            object("passwordRequirements", req)?,
            r,
        )?;
    }

    // AMAPI: 0 or absent means no limit.
    c.maximum_time_to_lock = doc
        .get("maximumTimeToLock")
        .map(|v| integer("maximumTimeToLock", v))
        .transpose()?
        .filter(|&ms| ms > 0);

    c.encryption_policy = match enumerated(
        "encryptionPolicy",
        doc.get("encryptionPolicy"),
        &["ENABLED_WITHOUT_PASSWORD", "ENABLED_WITH_PASSWORD"],
    )? {
        Some("ENABLED_WITHOUT_PASSWORD") => Some(EncryptionPolicy::EnabledWithoutPassword),
        Some(_) => Some(EncryptionPolicy::EnabledWithPassword),
        None => None,
    };

    c.advanced_security_overrides = AdvancedSecurityOverrides::default();
    if let Some(aso) = doc.get("advancedSecurityOverrides") {
        let at = "advancedSecurityOverrides";
        let aso = object(at, aso)?;
        let o = &mut c.advanced_security_overrides;
        o.untrusted_apps_policy = match enumerated(
            &join(at, "untrustedAppsPolicy"),
            aso.get("untrustedAppsPolicy"),
            &[
                "DISALLOW_INSTALL",
                "ALLOW_INSTALL_IN_PERSONAL_PROFILE_ONLY",
                "ALLOW_INSTALL_DEVICE_WIDE",
            ],
        )? {
            Some("ALLOW_INSTALL_IN_PERSONAL_PROFILE_ONLY") => {
                UntrustedAppsPolicy::AllowInstallInPersonalProfileOnly
            }
            Some("ALLOW_INSTALL_DEVICE_WIDE") => UntrustedAppsPolicy::AllowInstallDeviceWide,
            _ => UntrustedAppsPolicy::DisallowInstall,
        };
        o.developer_settings = match enumerated(
            &join(at, "developerSettings"),
            aso.get("developerSettings"),
            &["DEVELOPER_SETTINGS_DISABLED", "DEVELOPER_SETTINGS_ALLOWED"],
        )? {
            Some("DEVELOPER_SETTINGS_ALLOWED") => DeveloperSettings::DeveloperSettingsAllowed,
            _ => DeveloperSettings::DeveloperSettingsDisabled,
        };
        o.google_play_protect_verify_apps = match enumerated(
            &join(at, "googlePlayProtectVerifyApps"),
            aso.get("googlePlayProtectVerifyApps"),
            &["VERIFY_APPS_ENFORCED", "VERIFY_APPS_USER_CHOICE"],
        )? {
            Some("VERIFY_APPS_USER_CHOICE") => GooglePlayProtectVerifyApps::VerifyAppsUserChoice,
            _ => GooglePlayProtectVerifyApps::VerifyAppsEnforced,
        };
        r.rest(
            at,
            aso,
            &[
                "untrustedAppsPolicy",
                "developerSettings",
                "googlePlayProtectVerifyApps",
            ],
        );
    }

    c.debugging_features_allowed = doc
        .get("debuggingFeaturesAllowed")
        .map(|v| boolean("debuggingFeaturesAllowed", v))
        .transpose()?
        .unwrap_or(false);

    // AMAPI: an unspecified cellularTwoGState is the user's choice, and an unspecified
    // userInitiatedAddEsimSettings lets the user add an eSIM (not checked here).
    c.device_radio_state = DeviceRadioState {
        cellular_two_g_state: CellularTwoGState::CellularTwoGUserChoice,
        user_initiated_add_esim_settings: None,
    };
    if let Some(radio) = doc.get("deviceRadioState") {
        let at = "deviceRadioState";
        let radio = object(at, radio)?;
        if enumerated(
            &join(at, "cellularTwoGState"),
            radio.get("cellularTwoGState"),
            &["CELLULAR_TWO_G_DISABLED", "CELLULAR_TWO_G_USER_CHOICE"],
        )? == Some("CELLULAR_TWO_G_DISABLED")
        {
            c.device_radio_state.cellular_two_g_state = CellularTwoGState::CellularTwoGDisabled;
        }
        c.device_radio_state.user_initiated_add_esim_settings = match enumerated(
            &join(at, "userInitiatedAddEsimSettings"),
            radio.get("userInitiatedAddEsimSettings"),
            &[
                "USER_INITIATED_ADD_ESIM_ALLOWED",
                "USER_INITIATED_ADD_ESIM_DISALLOWED",
            ],
        )? {
            Some("USER_INITIATED_ADD_ESIM_ALLOWED") => {
                Some(UserInitiatedAddEsimSettings::UserInitiatedAddEsimAllowed)
            }
            Some(_) => Some(UserInitiatedAddEsimSettings::UserInitiatedAddEsimDisallowed),
            None => None,
        };
        r.rest(
            at,
            radio,
            &["cellularTwoGState", "userInitiatedAddEsimSettings"],
        );
    }

    c.mobile_networks_config_disabled = doc
        .get("mobileNetworksConfigDisabled")
        .map(|v| boolean("mobileNetworksConfigDisabled", v))
        .transpose()?
        .unwrap_or(false);

    c.device_connectivity_management = None;
    if let Some(dcm) = doc.get("deviceConnectivityManagement") {
        let at = "deviceConnectivityManagement";
        let dcm = object(at, dcm)?;
        c.device_connectivity_management = enumerated(
            &join(at, "usbDataAccess"),
            dcm.get("usbDataAccess"),
            &[
                "ALLOW_USB_DATA_TRANSFER",
                "DISALLOW_USB_FILE_TRANSFER",
                "DISALLOW_USB_DATA_TRANSFER",
            ],
        )?
        .map(|s| DeviceConnectivityManagement {
            usb_data_access: match s {
                "ALLOW_USB_DATA_TRANSFER" => UsbDataAccess::AllowUsbDataTransfer,
                "DISALLOW_USB_FILE_TRANSFER" => UsbDataAccess::DisallowUsbFileTransfer,
                _ => UsbDataAccess::DisallowUsbDataTransfer,
            },
        });
        r.rest(at, dcm, &["usbDataAccess"]);
    }

    c.always_on_vpn_package = None;
    if let Some(vpn) = doc.get("alwaysOnVpnPackage") {
        let at = "alwaysOnVpnPackage";
        let vpn = object(at, vpn)?;
        if let Some(pkg) = vpn.get("packageName") {
            c.always_on_vpn_package = Some(AlwaysOnVpnPackage {
                package_name: string(&join(at, "packageName"), pkg)?.to_owned(),
                lockdown_enabled: vpn
                    .get("lockdownEnabled")
                    .map(|v| boolean(&join(at, "lockdownEnabled"), v))
                    .transpose()?
                    .unwrap_or(false),
            });
        }
        r.rest(at, vpn, &["packageName", "lockdownEnabled"]);
    }

    c.permitted_accessibility_services = None;
    if let Some(list) = doc.get("permittedAccessibilityServices") {
        let at = "permittedAccessibilityServices";
        let list = object(at, list)?;
        let mut names = Vec::new();
        if let Some(v) = list.get("packageNames") {
            for (i, n) in array(&join(at, "packageNames"), v)?.iter().enumerate() {
                names.push(string(&format!("{at}.packageNames[{i}]"), n)?.to_owned());
            }
        }
        c.permitted_accessibility_services = Some(PackageNameList {
            package_names: names,
        });
        r.rest(at, list, &["packageNames"]);
    }
    Ok(())
}

fn rule_from(
    at: &str,
    rule: &Map<String, Value>,
    setting: SettingName,
    r: &mut Reader,
) -> Result<PolicyEnforcementRule, PolicyError> {
    let block_action = match rule.get("blockAction") {
        Some(b) => {
            let bat = join(at, "blockAction");
            let b = object(&bat, b)?;
            let days = b
                .get("blockAfterDays")
                .map(|v| small(&join(&bat, "blockAfterDays"), v))
                .transpose()?
                .unwrap_or(0);
            if let Some(scope) = b.get("blockScope") {
                if string(&join(&bat, "blockScope"), scope)? != "BLOCK_SCOPE_UNSPECIFIED" {
                    r.skip(
                        join(&bat, "blockScope"),
                        "Portcullis blocks the device it runs on; the scope is the MDM's",
                    );
                }
            }
            r.rest(&bat, b, &["blockAfterDays", "blockScope"]);
            Some(BlockAction {
                block_after_days: days,
            })
        }
        None => None,
    };
    let wipe_action = match rule.get("wipeAction") {
        Some(w) => {
            let wat = join(at, "wipeAction");
            let w = object(&wat, w)?;
            let days = w
                .get("wipeAfterDays")
                .map(|v| small(&join(&wat, "wipeAfterDays"), v))
                .transpose()?
                .unwrap_or(0);
            let preserve_frp = w
                .get("preserveFrp")
                .map(|v| boolean(&join(&wat, "preserveFrp"), v))
                .transpose()?
                .unwrap_or(false);
            r.rest(&wat, w, &["wipeAfterDays", "preserveFrp"]);
            Some(WipeAction {
                wipe_after_days: days,
                preserve_frp,
            })
        }
        None => None,
    };
    r.rest(at, rule, &["settingName", "blockAction", "wipeAction"]);
    Ok(PolicyEnforcementRule {
        setting_name: setting,
        block_action,
        wipe_action,
        notes: Vec::new(),
    })
}

fn import_enforcement(
    doc: &Map<String, Value>,
    base: &Policy,
    p: &mut Policy,
    r: &mut Reader,
) -> Result<(), PolicyError> {
    // One Portcullis ladder per section: `applications` is the apps ladder, any
    // configuration field's rule the configuration ladder (the first one; a different
    // later one is reported, not merged).
    let mut found: BTreeMap<SettingName, (PolicyEnforcementRule, usize)> = BTreeMap::new();
    if let Some(rules) = doc.get("policyEnforcementRules") {
        for (i, rule) in array("policyEnforcementRules", rules)?.iter().enumerate() {
            let at = format!("policyEnforcementRules[{i}]");
            let rule = object(&at, rule)?;
            let name = rule
                .get("settingName")
                .ok_or_else(|| bad(&at, "settingName is missing"))
                .and_then(|v| string(&join(&at, "settingName"), v))?;
            let setting = if name == "applications" {
                SettingName::Apps
            } else if CONFIGURATION_FIELDS.contains(&name) {
                SettingName::Configuration
            } else {
                r.skip(
                    &at,
                    format!("`{name}` is not a setting Portcullis checks, so nothing triggers this rule"),
                );
                continue;
            };
            let parsed = rule_from(&at, rule, setting, r)?;
            match found.get(&setting) {
                None => {
                    found.insert(setting, (parsed, i));
                }
                Some((first, j)) => {
                    if first.block_action != parsed.block_action
                        || first.wipe_action != parsed.wipe_action
                    {
                        r.skip(
                            &at,
                            format!("Portcullis has one ladder per section; policyEnforcementRules[{j}] already set the {setting:?} ladder"),
                        );
                    }
                }
            }
        }
    }
    let mut rules = Vec::new();
    for b in &base.policy_enforcement_rules {
        match b.setting_name {
            SettingName::Apps | SettingName::Configuration => {
                if let Some((mut rule, _)) = found.remove(&b.setting_name) {
                    rule.notes = b.notes.clone();
                    rules.push(rule);
                }
            }
            SettingName::Sim | SettingName::Inspection | SettingName::DeviceIntegrity => {
                rules.push(b.clone());
            }
        }
    }
    let mut rest: Vec<_> = found.into_values().collect();
    rest.sort_by_key(|(_, i)| *i);
    rules.extend(rest.into_iter().map(|(rule, _)| rule));
    p.policy_enforcement_rules = rules;
    Ok(())
}

/// Writes the Android half of a policy as an AMAPI Policy resource, with every value
/// explicit (so AMAPI's defaults never decide), and lists what AMAPI cannot carry.
pub fn export(policy: &Policy) -> AmapiExport {
    let mut out = Map::new();
    let mut not: Vec<NotExported> = Vec::new();
    let mut skip = |path: String, why: &str| {
        not.push(NotExported {
            path,
            why: why.to_owned(),
        });
    };
    const OWN: &str = "a Portcullis section or field; AMAPI has no equivalent";

    skip(
        "name".into(),
        "AMAPI names a policy by its resource name, set when it is created",
    );
    if !policy.description.is_empty() {
        skip("description".into(), OWN);
    }
    if !policy.notes.is_empty() {
        skip("notes".into(), OWN);
    }

    let apps = &policy.apps;
    let mut list = Vec::new();
    for (i, rule) in apps.applications.iter().enumerate() {
        let at = format!("apps.applications[{i}]");
        let Some(pkg) = &rule.package_name else {
            skip(
                at,
                "an iOS app; AMAPI manages Android apps (see the Apple profile export)",
            );
            continue;
        };
        let mut app = Map::new();
        app.insert("packageName".into(), json!(pkg));
        app.insert(
            "installType".into(),
            json!(install_type_name(rule.install_type)),
        );
        if !rule.signing_key_certs.is_empty() {
            app.insert(
                "signingKeyCerts".into(),
                Value::Array(
                    rule.signing_key_certs
                        .iter()
                        .map(|c| {
                            json!({"signingKeyCertFingerprintSha256": c.signing_key_cert_fingerprint_sha256.to_base64()})
                        })
                        .collect(),
                ),
            );
        }
        if let Some(v) = rule.minimum_version_code {
            app.insert("minimumVersionCode".into(), json!(v));
        }
        if rule.allowed_installers.is_some() {
            skip(format!("{at}.allowedInstallers"), OWN);
        }
        if rule.on_violation.is_some() {
            skip(format!("{at}.onViolation"), OWN);
        }
        if !rule.notes.is_empty() {
            skip(format!("{at}.notes"), OWN);
        }
        list.push(Value::Object(app));
    }
    out.insert("applications".into(), Value::Array(list));
    out.insert(
        "playStoreMode".into(),
        json!(match apps.mode {
            AppMode::Blocklist => "BLACKLIST",
            AppMode::Allowlist | AppMode::Audit => "WHITELIST",
        }),
    );
    if apps.mode == AppMode::Audit {
        skip(
            "apps.mode".into(),
            "AUDIT (report only) has no AMAPI equivalent; exported as WHITELIST, which AMAPI enforces",
        );
    }
    if !apps.allowed_installers.is_empty() {
        skip("apps.allowedInstallers".into(), OWN);
    }
    skip("apps.onViolation".into(), OWN);
    if !apps.notes.is_empty() {
        skip("apps.notes".into(), OWN);
    }

    let c = &policy.configuration;
    let mut config_fields: Vec<&str> = Vec::new();
    if let Some(level) = c.minimum_api_level {
        out.insert("minimumApiLevel".into(), json!(level));
        config_fields.push("minimumApiLevel");
    }
    if c.minimum_ios_version.is_some() {
        skip(
            "configuration.minimumIosVersion".into(),
            "an iOS rule (see the Apple profile export)",
        );
    }
    if c.minimum_security_patch_level.is_some() {
        skip(
            "configuration.minimumSecurityPatchLevel".into(),
            "AMAPI has no security-patch floor; Portcullis checks it on the device",
        );
    }
    if c.maximum_security_patch_age_days.is_some() {
        skip(
            "configuration.maximumSecurityPatchAgeDays".into(),
            "AMAPI has no security-patch floor; Portcullis checks it on the device",
        );
    }
    if let Some(pw) = &c.password_requirements {
        let mut req = Map::new();
        req.insert(
            "passwordQuality".into(),
            json!(match pw.password_quality {
                PasswordQuality::ComplexityLow => "COMPLEXITY_LOW",
                PasswordQuality::ComplexityMedium => "COMPLEXITY_MEDIUM",
                PasswordQuality::ComplexityHigh => "COMPLEXITY_HIGH",
            }),
        );
        if let Some(n) = pw.maximum_failed_passwords_for_wipe {
            req.insert("maximumFailedPasswordsForWipe".into(), json!(n));
        }
        out.insert(
            "passwordPolicies".into(),
            Value::Array(vec![Value::Object(req)]),
        );
        config_fields.push("passwordPolicies");
    }
    if let Some(ms) = c.maximum_time_to_lock {
        // int64 travels as a decimal string in AMAPI's JSON.
        out.insert("maximumTimeToLock".into(), json!(ms.to_string()));
        config_fields.push("maximumTimeToLock");
    }
    if let Some(e) = c.encryption_policy {
        out.insert(
            "encryptionPolicy".into(),
            json!(match e {
                EncryptionPolicy::EnabledWithoutPassword => "ENABLED_WITHOUT_PASSWORD",
                EncryptionPolicy::EnabledWithPassword => "ENABLED_WITH_PASSWORD",
            }),
        );
        config_fields.push("encryptionPolicy");
    }
    let o = &c.advanced_security_overrides;
    out.insert(
        "advancedSecurityOverrides".into(),
        json!({
            "untrustedAppsPolicy": match o.untrusted_apps_policy {
                UntrustedAppsPolicy::DisallowInstall => "DISALLOW_INSTALL",
                UntrustedAppsPolicy::AllowInstallInPersonalProfileOnly => "ALLOW_INSTALL_IN_PERSONAL_PROFILE_ONLY",
                UntrustedAppsPolicy::AllowInstallDeviceWide => "ALLOW_INSTALL_DEVICE_WIDE",
            },
            "developerSettings": match o.developer_settings {
                DeveloperSettings::DeveloperSettingsDisabled => "DEVELOPER_SETTINGS_DISABLED",
                DeveloperSettings::DeveloperSettingsAllowed => "DEVELOPER_SETTINGS_ALLOWED",
            },
            "googlePlayProtectVerifyApps": match o.google_play_protect_verify_apps {
                GooglePlayProtectVerifyApps::VerifyAppsEnforced => "VERIFY_APPS_ENFORCED",
                GooglePlayProtectVerifyApps::VerifyAppsUserChoice => "VERIFY_APPS_USER_CHOICE",
            },
        }),
    );
    config_fields.push("advancedSecurityOverrides");
    out.insert(
        "debuggingFeaturesAllowed".into(),
        json!(c.debugging_features_allowed),
    );
    config_fields.push("debuggingFeaturesAllowed");
    let mut radio = Map::new();
    radio.insert(
        "cellularTwoGState".into(),
        json!(match c.device_radio_state.cellular_two_g_state {
            CellularTwoGState::CellularTwoGDisabled => "CELLULAR_TWO_G_DISABLED",
            CellularTwoGState::CellularTwoGUserChoice => "CELLULAR_TWO_G_USER_CHOICE",
        }),
    );
    if let Some(esim) = c.device_radio_state.user_initiated_add_esim_settings {
        radio.insert(
            "userInitiatedAddEsimSettings".into(),
            json!(match esim {
                UserInitiatedAddEsimSettings::UserInitiatedAddEsimAllowed =>
                    "USER_INITIATED_ADD_ESIM_ALLOWED",
                UserInitiatedAddEsimSettings::UserInitiatedAddEsimDisallowed =>
                    "USER_INITIATED_ADD_ESIM_DISALLOWED",
            }),
        );
    }
    out.insert("deviceRadioState".into(), Value::Object(radio));
    config_fields.push("deviceRadioState");
    out.insert(
        "mobileNetworksConfigDisabled".into(),
        json!(c.mobile_networks_config_disabled),
    );
    config_fields.push("mobileNetworksConfigDisabled");
    if let Some(d) = &c.device_connectivity_management {
        out.insert(
            "deviceConnectivityManagement".into(),
            json!({"usbDataAccess": match d.usb_data_access {
                UsbDataAccess::AllowUsbDataTransfer => "ALLOW_USB_DATA_TRANSFER",
                UsbDataAccess::DisallowUsbFileTransfer => "DISALLOW_USB_FILE_TRANSFER",
                UsbDataAccess::DisallowUsbDataTransfer => "DISALLOW_USB_DATA_TRANSFER",
            }}),
        );
        config_fields.push("deviceConnectivityManagement");
    }
    if let Some(vpn) = &c.always_on_vpn_package {
        out.insert(
            "alwaysOnVpnPackage".into(),
            json!({"packageName": vpn.package_name, "lockdownEnabled": vpn.lockdown_enabled}),
        );
        config_fields.push("alwaysOnVpnPackage");
    }
    if let Some(list) = &c.permitted_accessibility_services {
        out.insert(
            "permittedAccessibilityServices".into(),
            json!({"packageNames": list.package_names}),
        );
        config_fields.push("permittedAccessibilityServices");
    }
    if c.user_installed_ca_certs != Default::default() {
        skip(
            "configuration.userInstalledCaCerts".into(),
            "AMAPI installs CA certificates but has no rule refusing the user's own",
        );
    }
    skip("configuration.onViolation".into(), OWN);
    if !c.notes.is_empty() {
        skip("configuration.notes".into(), OWN);
    }

    let mut rules = Vec::new();
    for (i, rule) in policy.policy_enforcement_rules.iter().enumerate() {
        let at = format!("policyEnforcementRules[{i}]");
        let names: Vec<&str> = match rule.setting_name {
            SettingName::Apps => vec!["applications"],
            SettingName::Configuration => config_fields.clone(),
            SettingName::Sim | SettingName::Inspection | SettingName::DeviceIntegrity => {
                skip(
                    at,
                    "the SIM, inspection and device-integrity sections have no AMAPI setting",
                );
                continue;
            }
        };
        if rule.block_action.is_some() && rule.wipe_action.is_none() {
            skip(
                format!("{at}.wipeAction"),
                "AMAPI wants a wipeAction with every blockAction; the rule is exported without one",
            );
        }
        if !rule.notes.is_empty() {
            skip(format!("{at}.notes"), OWN);
        }
        for name in names {
            let mut r = Map::new();
            r.insert("settingName".into(), json!(name));
            if let Some(b) = &rule.block_action {
                r.insert(
                    "blockAction".into(),
                    json!({"blockAfterDays": b.block_after_days}),
                );
            }
            if let Some(w) = &rule.wipe_action {
                r.insert(
                    "wipeAction".into(),
                    json!({"wipeAfterDays": w.wipe_after_days, "preserveFrp": w.preserve_frp}),
                );
            }
            rules.push(Value::Object(r));
        }
    }
    if !rules.is_empty() {
        out.insert("policyEnforcementRules".into(), Value::Array(rules));
    }

    skip("sim".into(), "the SIM-port guard has no AMAPI equivalent");
    skip(
        "inspection".into(),
        "forensic inspections have no AMAPI equivalent",
    );
    if policy.instructions != Default::default() {
        skip("instructions".into(), OWN);
    }
    if policy.telemetry != Default::default() {
        skip(
            "telemetry".into(),
            "the agent's log collection and detectors have no AMAPI equivalent",
        );
    }
    if policy.upload.is_some() {
        skip(
            "upload".into(),
            "journal shipping to the office's collector has no AMAPI equivalent",
        );
    }
    if policy.device_integrity.is_active() {
        skip(
            "deviceIntegrity".into(),
            "judged at the console on a verified key attestation; AMAPI's own integrity checks are not configured per rule",
        );
    }
    AmapiExport {
        document: Value::Object(out),
        not_exported: not,
    }
}
