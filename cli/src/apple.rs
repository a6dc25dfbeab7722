//! `portcullis policy export --to apple-profile`: the iOS half of a policy as an Apple
//! configuration profile (.mobileconfig, XML plist) for the MDM to sign and push.
//!
//! An agent on iOS cannot remove an app or switch off eSIM changes; the MDM can, through
//! a restrictions payload (`com.apple.applicationaccess`) and a passcode payload
//! (`com.apple.mobiledevice.passwordpolicy`). Every key written is one Apple's published
//! schema defines (`../shared/apple-device-management/`, checked by the CLI tests), and
//! the keys that need a supervised device are said so in docs/amapi.md.
//!
//! Identifiers are derived from the policy's content, so the same policy gives the same
//! profile byte for byte, and a changed policy replaces the installed profile.

use std::path::{Path, PathBuf};

use clap::Args;
use plist::{Dictionary, Value};
use portcullis_core::agent::managed_config_keys as keys;
use portcullis_core::policy::model::{
    AppMode, InstallType, PasswordQuality, UsbDataAccess, UserInitiatedAddEsimSettings,
};
use portcullis_core::policy::Policy;

/// A payload UUID from the policy's SHA-256 and the payload's name (RFC 4122 layout,
/// version 8: custom).
fn uuid(policy_json: &str, payload: &str) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(policy_json.as_bytes());
    ctx.update(b"\0");
    ctx.update(payload.as_bytes());
    let d = ctx.finish();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d.as_ref()[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02X}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn payload(policy: &Policy, json: &str, kind: &str, name: &str) -> Dictionary {
    let mut d = Dictionary::new();
    d.insert("PayloadType".into(), Value::String(kind.into()));
    d.insert("PayloadVersion".into(), Value::Integer(1.into()));
    d.insert(
        "PayloadIdentifier".into(),
        Value::String(format!(
            "org.portcullis.policy.{}.{kind}",
            ident(&policy.name)
        )),
    );
    d.insert("PayloadUUID".into(), Value::String(uuid(json, kind)));
    d.insert("PayloadDisplayName".into(), Value::String(name.into()));
    d
}

/// The policy name as a reverse-DNS identifier part.
fn ident(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// The profile as XML plist text, and the policy fields it leaves out (path, why).
pub(crate) fn profile(policy: &Policy) -> Result<(String, Vec<(String, String)>), String> {
    let json = policy.to_json_pretty();
    let mut left: Vec<(String, String)> = Vec::new();
    let mut skip = |path: &str, why: &str| left.push((path.to_owned(), why.to_owned()));

    // Restrictions.
    let mut r = payload(
        policy,
        &json,
        "com.apple.applicationaccess",
        "Portcullis restrictions",
    );
    let ios: Vec<_> = policy
        .apps
        .applications
        .iter()
        .filter_map(|a| a.bundle_id.as_ref().map(|b| (b, a.install_type)))
        .collect();
    let blocked: Vec<Value> = ios
        .iter()
        .filter(|(_, t)| *t == InstallType::Blocked)
        .map(|(b, _)| Value::String((*b).clone()))
        .collect();
    let allowed: Vec<Value> = ios
        .iter()
        .filter(|(_, t)| *t != InstallType::Blocked)
        .map(|(b, _)| Value::String((*b).clone()))
        .collect();
    match policy.apps.mode {
        AppMode::Allowlist if !allowed.is_empty() => {
            // Only the listed apps can launch on a supervised device.
            r.insert("allowListedAppBundleIDs".into(), Value::Array(allowed));
        }
        AppMode::Allowlist => skip(
            "apps.mode",
            "the policy allows no iOS app by bundle id; an empty allow list would hide every app, the agent included, so none is written",
        ),
        AppMode::Blocklist => {}
        AppMode::Audit => skip(
            "apps.mode",
            "AUDIT reports only; the profile enforces nothing for it",
        ),
    }
    if !blocked.is_empty() && policy.apps.mode != AppMode::Audit {
        r.insert("blockedAppBundleIDs".into(), Value::Array(blocked));
    }
    if ios.iter().any(|(_, t)| t.required()) {
        skip(
            "apps.applications[].installType",
            "an iOS app is installed by the MDM's InstallApplication command, not by a profile",
        );
    }
    let c = &policy.configuration;
    if c.device_radio_state.user_initiated_add_esim_settings
        == Some(UserInitiatedAddEsimSettings::UserInitiatedAddEsimDisallowed)
    {
        r.insert("allowESIMModification".into(), Value::Boolean(false));
        r.insert(
            "allowCellularPlanModification".into(),
            Value::Boolean(false),
        );
    }
    if let Some(d) = &c.device_connectivity_management {
        if d.usb_data_access != UsbDataAccess::AllowUsbDataTransfer {
            // USB restricted mode: no accessory data while the phone has been locked an hour.
            r.insert("allowUSBRestrictedMode".into(), Value::Boolean(true));
        }
    }
    if !c.user_installed_ca_certs.allowed {
        // On iOS a user installs a CA certificate through a profile.
        r.insert(
            "allowUIConfigurationProfileInstallation".into(),
            Value::Boolean(false),
        );
    }

    // Passcode.
    let mut pw = payload(
        policy,
        &json,
        "com.apple.mobiledevice.passwordpolicy",
        "Portcullis passcode",
    );
    let mut has_pw = false;
    if let Some(req) = &c.password_requirements {
        has_pw = true;
        pw.insert("forcePIN".into(), Value::Boolean(true));
        let min = match req.password_quality {
            PasswordQuality::ComplexityLow => None,
            PasswordQuality::ComplexityMedium => Some(4),
            PasswordQuality::ComplexityHigh => Some(6),
        };
        if let Some(min) = min {
            pw.insert("allowSimple".into(), Value::Boolean(false));
            pw.insert("minLength".into(), Value::Integer(min.into()));
        }
        if let Some(n) = req.maximum_failed_passwords_for_wipe {
            // iOS accepts 2 to 11; above 11 the profile is stricter than the policy.
            pw.insert(
                "maxFailedAttempts".into(),
                Value::Integer(n.clamp(2, 11).into()),
            );
        }
    }
    if let Some(ms) = c.maximum_time_to_lock {
        has_pw = true;
        // Whole minutes, 1 to 15; never longer than the policy except below a minute.
        let minutes = (ms / 60_000).clamp(1, 15);
        pw.insert("maxInactivity".into(), Value::Integer(minutes.into()));
        if ms % 60_000 != 0 || ms > 15 * 60_000 {
            skip(
                "configuration.maximumTimeToLock",
                "iOS locks after whole minutes (1 to 15); the nearest allowed value is written",
            );
        }
    }

    let mut content = vec![Value::Dictionary(r)];
    if has_pw {
        content.push(Value::Dictionary(pw));
    }
    for (path, set) in [
        (
            "configuration.minimumIosVersion",
            c.minimum_ios_version.is_some(),
        ),
        (
            "configuration.encryptionPolicy",
            c.encryption_policy.is_some(),
        ),
    ] {
        if set {
            skip(
                path,
                "iOS has no profile key for it; the agent checks it and reports",
            );
        }
    }
    skip(
        "sim",
        "the SIM-port guard runs in the agent; it reads its rules from the signed bundle",
    );
    skip(
        "inspection",
        "inspections run in the agent from the signed bundle",
    );

    let mut top = Dictionary::new();
    top.insert("PayloadType".into(), Value::String("Configuration".into()));
    top.insert("PayloadVersion".into(), Value::Integer(1.into()));
    top.insert(
        "PayloadIdentifier".into(),
        Value::String(format!("org.portcullis.policy.{}", ident(&policy.name))),
    );
    top.insert(
        "PayloadUUID".into(),
        Value::String(uuid(&json, "Configuration")),
    );
    top.insert(
        "PayloadDisplayName".into(),
        Value::String(format!("Portcullis policy {}", policy.name)),
    );
    if !policy.description.is_empty() {
        top.insert(
            "PayloadDescription".into(),
            Value::String(policy.description.clone()),
        );
    }
    top.insert("PayloadContent".into(), Value::Array(content));

    let mut bytes = Vec::new();
    Value::Dictionary(top)
        .to_writer_xml(&mut bytes)
        .map_err(|e| format!("cannot write the profile: {e}"))?;
    let mut text = String::from_utf8(bytes).map_err(|e| format!("profile text: {e}"))?;
    text.push('\n');
    Ok((text, left))
}

/// The agent's managed app configuration (the dictionary the MDM delivers with the app,
/// read by the agent from `com.apple.configuration.managed`): the signed trust root and
/// bundle, indicator collections and instructions, under the keys the core reads.
#[derive(Args)]
pub(crate) struct AppConfigArgs {
    /// Also write the agent's managed app configuration (XML plist dictionary) here.
    #[arg(long = "app-config")]
    pub(crate) app_config: Option<PathBuf>,
    /// The signed trust root (`portcullis root sign`).
    #[arg(long, requires = "app_config")]
    trust_root: Option<PathBuf>,
    /// The signed policy bundle (`portcullis policy sign`).
    #[arg(long, requires = "app_config")]
    bundle: Option<PathBuf>,
    /// The device id the bundles address (an MDM variable such as `$UDID` is kept as is).
    #[arg(long, requires = "app_config")]
    device_id: Option<String>,
    /// The device's groups, comma-separated.
    #[arg(long, requires = "app_config")]
    groups: Option<String>,
    /// A signed indicator collection (repeatable).
    #[arg(long = "indicators", requires = "app_config")]
    indicators: Vec<PathBuf>,
    /// A signed instruction (repeatable).
    #[arg(long = "instruction", requires = "app_config")]
    instructions: Vec<PathBuf>,
}

fn envelope(path: &Path) -> Result<String, String> {
    let bytes = crate::common::read(path)?;
    if !crate::sign::is_envelope(&bytes) {
        return Err(format!("{}: not a signed envelope", path.display()));
    }
    let text = String::from_utf8(bytes).map_err(|_| format!("{}: not UTF-8", path.display()))?;
    Ok(text.trim().to_owned())
}

/// Builds the managed app configuration dictionary as XML plist text.
pub(crate) fn app_config(args: &AppConfigArgs) -> Result<String, String> {
    let mut d = Dictionary::new();
    if let Some(path) = &args.trust_root {
        d.insert(keys::TRUST_ROOT.into(), Value::String(envelope(path)?));
    }
    if let Some(id) = &args.device_id {
        d.insert(keys::DEVICE_ID.into(), Value::String(id.clone()));
    }
    if let Some(groups) = &args.groups {
        d.insert(keys::DEVICE_GROUPS.into(), Value::String(groups.clone()));
    }
    if let Some(path) = &args.bundle {
        d.insert(keys::POLICY_BUNDLE.into(), Value::String(envelope(path)?));
    }
    // One envelope per line, as the core splits them.
    for (key, files) in [
        (keys::INDICATOR_COLLECTIONS, &args.indicators),
        (keys::INSTRUCTIONS, &args.instructions),
    ] {
        if !files.is_empty() {
            let lines = files
                .iter()
                .map(|f| envelope(f.as_path()))
                .collect::<Result<Vec<_>, _>>()?;
            d.insert(key.into(), Value::String(lines.join("\n")));
        }
    }
    let mut bytes = Vec::new();
    Value::Dictionary(d)
        .to_writer_xml(&mut bytes)
        .map_err(|e| format!("cannot write the app configuration: {e}"))?;
    let mut text = String::from_utf8(bytes).map_err(|e| format!("app configuration text: {e}"))?;
    text.push('\n');
    Ok(text)
}

/// Writes [`app_config`] to `--app-config`.
pub(crate) fn write_app_config(args: &AppConfigArgs) -> Result<(), String> {
    let Some(out) = &args.app_config else {
        return Ok(());
    };
    crate::common::write(out, app_config(args)?.as_bytes())
}
