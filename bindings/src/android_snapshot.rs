//! The compliance and evidence snapshots from Android's readings as the platform reports
//! them: the Android layer fills [`AndroidSettings`] and [`AndroidPackage`] with raw values
//! and the core makes the typed snapshots of them, reading the platform's integers with
//! `portcullis_core::android` (password complexity, encryption) and keeping the first of
//! repeated entries (`portcullis_core::platform`, applied when the snapshot crosses).

use std::time::SystemTime;

use portcullis_core::android;

use crate::compliance::{
    ComplianceSnapshot, Platform, SnapshotAccessibilityService, SnapshotAgent, SnapshotApp,
    SnapshotInstallSource, SnapshotOs, SnapshotSettings, UsbDataAccess,
};
use crate::deployment::PackageRoles;
use crate::evidence::{EvidenceCertificate, EvidenceComponent, EvidencePackage, EvidenceSnapshot};

/// One installed package as `PackageManager` reports it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AndroidPackage {
    /// The package name.
    pub package_name: String,
    /// `PackageInfo.getLongVersionCode()` (negative with a negative `versionCodeMajor`).
    pub version_code: i64,
    /// `PackageInfo.versionName`, free text the app controls.
    pub version_name: Option<String>,
    /// SHA-256 of each current signing certificate (hex).
    pub signing_certs_sha256: Vec<String>,
    /// The installer package (`InstallSourceInfo.getInstallingPackageName()`); none recorded
    /// for adb installs and the system image.
    pub installer: Option<String>,
    /// `ApplicationInfo.FLAG_SYSTEM`.
    pub system: bool,
    /// `ApplicationInfo.enabled`.
    pub enabled: bool,
    /// Whether the installer could be read at all; `false` leaves it unobserved.
    #[uniffi(default = true)]
    pub installer_observed: bool,
}

/// The device settings the configuration rules look at, as Android reports them. Facts
/// left `null` were not observed (no permission, API too low, not the device owner): the
/// core then judges the rules that need them unknown, never compliant.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AndroidSettings {
    /// `Build.VERSION.SDK_INT`.
    pub sdk_int: i32,
    /// `Build.VERSION.SECURITY_PATCH`, `YYYY-MM-DD`.
    pub security_patch: Option<String>,
    /// `Settings.Global.DEVELOPMENT_SETTINGS_ENABLED`.
    pub developer_settings: bool,
    /// `Settings.Global.ADB_ENABLED`.
    pub adb_enabled: bool,
    /// `Settings.Global.AIRPLANE_MODE_ON`.
    pub airplane_mode: bool,
    /// `Settings.Global.AUTO_TIME`: the clock follows the network.
    pub auto_time: bool,
    /// `KeyguardManager.isDeviceSecure()`: a PIN, pattern or password is set.
    pub device_secure: bool,
    /// `DevicePolicyManager.getStorageEncryptionStatus()` (`ENCRYPTION_STATUS_*`).
    #[uniffi(default = None)]
    pub encryption_status: Option<i32>,
    /// `DevicePolicyManager.getPasswordComplexity()` (`PASSWORD_COMPLEXITY_*`, API 29).
    #[uniffi(default = None)]
    pub password_complexity: Option<i32>,
    /// `Settings.Global` `adb_wifi_enabled` (API 30).
    #[uniffi(default = None)]
    pub adb_wifi_enabled: Option<bool>,
    /// `DevicePolicyManager.getMaximumTimeToLock(null)`, ms; `0`: no limit.
    #[uniffi(default = None)]
    pub maximum_time_to_lock_ms: Option<i64>,
    /// `DevicePolicyManager.getMaximumFailedPasswordsForWipe(null)`; `0`: no limit.
    #[uniffi(default = None)]
    pub maximum_failed_passwords_for_wipe: Option<i32>,
    /// From the user restrictions in force (`androidRestrictionFacts`).
    #[uniffi(default = None)]
    pub unknown_sources_allowed: Option<bool>,
    /// From the user restrictions in force.
    #[uniffi(default = None)]
    pub verify_apps_enabled: Option<bool>,
    /// From the user restrictions in force.
    #[uniffi(default = None)]
    pub cellular_2g_enabled: Option<bool>,
    /// From the user restrictions in force.
    #[uniffi(default = None)]
    pub mobile_networks_config_disabled: Option<bool>,
    /// From the user restrictions in force.
    #[uniffi(default = None)]
    pub add_esim_disallowed: Option<bool>,
    /// From the user restrictions in force and USB data signalling.
    #[uniffi(default = None)]
    pub usb_data_access: Option<UsbDataAccess>,
    /// SHA-256 of each user-installed CA certificate (`getInstalledCaCerts`).
    #[uniffi(default = None)]
    pub user_ca_certs_sha256: Option<Vec<String>>,
    /// Enabled accessibility services.
    #[uniffi(default = None)]
    pub accessibility_services: Option<Vec<SnapshotAccessibilityService>>,
}

fn settings(s: AndroidSettings) -> SnapshotSettings {
    SnapshotSettings {
        password_complexity: s
            .password_complexity
            .and_then(android::password_complexity)
            .map(Into::into),
        maximum_failed_passwords_for_wipe: s
            .maximum_failed_passwords_for_wipe
            .and_then(|n| u32::try_from(n).ok()),
        maximum_time_to_lock: s
            .maximum_time_to_lock_ms
            .and_then(|ms| u64::try_from(ms).ok()),
        encryption: s
            .encryption_status
            .and_then(|status| android::encryption(status, s.device_secure))
            .map(Into::into),
        unknown_sources_allowed: s.unknown_sources_allowed,
        developer_options_enabled: Some(s.developer_settings),
        verify_apps_enabled: s.verify_apps_enabled,
        usb_debugging_enabled: Some(s.adb_enabled),
        wireless_debugging_enabled: s.adb_wifi_enabled,
        cellular_2g_enabled: s.cellular_2g_enabled,
        mobile_networks_config_disabled: s.mobile_networks_config_disabled,
        add_esim_disallowed: s.add_esim_disallowed,
        usb_data_access: s.usb_data_access,
        user_ca_certs_sha256: s.user_ca_certs_sha256,
        accessibility_services: s.accessibility_services,
        ..SnapshotSettings::default()
    }
}

/// The compliance snapshot `evaluateCompliance` judges, from what Android reported.
/// `packages` none: the inventory could not be read (every app rule is then unknown);
/// `delegated_scopes`: the AMAPI names `androidDeployment` reports; `package_roles`: the
/// critical roles resolved on the phone.
#[uniffi::export]
#[allow(clippy::too_many_arguments)]
pub fn android_compliance_snapshot(
    collected_at: SystemTime,
    device_owner: bool,
    settings_read: AndroidSettings,
    packages: Option<Vec<AndroidPackage>>,
    agent_package: String,
    uninstall_blocked: Option<bool>,
    delegated_scopes: Vec<String>,
    package_roles: Option<PackageRoles>,
) -> ComplianceSnapshot {
    ComplianceSnapshot {
        platform: Platform::Android,
        device_owner,
        delegated_scopes: (!delegated_scopes.is_empty()).then_some(delegated_scopes),
        supervised: None,
        package_roles,
        collected_at: Some(collected_at),
        os: SnapshotOs {
            api_level: u32::try_from(settings_read.sdk_int).ok(),
            version: None,
            security_patch_level: settings_read.security_patch.clone(),
        },
        settings: settings(settings_read),
        apps: packages.map(|list| {
            list.into_iter()
                .map(|p| SnapshotApp {
                    id: p.package_name,
                    version_code: Some(p.version_code),
                    system: p.system,
                    install_source: p.installer_observed.then_some(SnapshotInstallSource {
                        installing_package_name: p.installer,
                    }),
                    signing_certs_sha256: p.signing_certs_sha256,
                })
                .collect()
        }),
        agent: Some(SnapshotAgent {
            package_name: agent_package,
            uninstall_blocked,
        }),
        integrity_hint: None,
    }
}

/// The evidence snapshot `submitInspection` scans: packages with installer and signing
/// certificates, and the accessibility services and user CA certificates when observed.
#[uniffi::export]
pub fn android_evidence_snapshot(
    collected_at: SystemTime,
    packages: Vec<AndroidPackage>,
    settings_read: Option<AndroidSettings>,
) -> EvidenceSnapshot {
    let certificate = |sha256: String| EvidenceCertificate {
        sha256: Some(sha256),
        ..EvidenceCertificate::default()
    };
    let settings_read = settings_read.as_ref();
    EvidenceSnapshot {
        collected_at: Some(collected_at),
        platform: Some(Platform::Android),
        packages: packages
            .into_iter()
            .map(|p| EvidencePackage {
                id: p.package_name,
                version_name: p.version_name,
                version_code: Some(p.version_code),
                installer: p.installer,
                system: p.system,
                certificates: p
                    .signing_certs_sha256
                    .into_iter()
                    .map(certificate)
                    .collect(),
            })
            .collect(),
        accessibility_services: settings_read
            .and_then(|s| s.accessibility_services.clone())
            .unwrap_or_default()
            .into_iter()
            .map(|a| EvidenceComponent {
                package: a.package_name,
                class: None,
            })
            .collect(),
        user_ca_certificates: settings_read
            .and_then(|s| s.user_ca_certs_sha256.clone())
            .unwrap_or_default()
            .into_iter()
            .map(certificate)
            .collect(),
        ..EvidenceSnapshot::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EncryptionStatus, PasswordComplexity};
    use std::time::UNIX_EPOCH;

    fn settings_read() -> AndroidSettings {
        AndroidSettings {
            sdk_int: 34,
            security_patch: Some("2026-10-05".into()),
            developer_settings: false,
            adb_enabled: true,
            airplane_mode: false,
            auto_time: true,
            device_secure: false,
            encryption_status: Some(3),
            password_complexity: Some(0x30000),
            adb_wifi_enabled: None,
            maximum_time_to_lock_ms: Some(-1),
            maximum_failed_passwords_for_wipe: Some(10),
            unknown_sources_allowed: Some(false),
            verify_apps_enabled: None,
            cellular_2g_enabled: None,
            mobile_networks_config_disabled: Some(true),
            add_esim_disallowed: Some(false),
            usb_data_access: Some(UsbDataAccess::DisallowUsbFileTransfer),
            user_ca_certs_sha256: Some(vec!["ab".repeat(32)]),
            accessibility_services: Some(vec![SnapshotAccessibilityService {
                package_name: "com.example.a11y".into(),
                system: false,
            }]),
        }
    }

    fn package(name: &str, version_code: i64, installer_observed: bool) -> AndroidPackage {
        AndroidPackage {
            package_name: name.into(),
            version_code,
            version_name: Some("1.0".into()),
            signing_certs_sha256: vec!["cd".repeat(32)],
            installer: None,
            system: false,
            enabled: true,
            installer_observed,
        }
    }

    #[test]
    fn the_compliance_snapshot_reads_android_values_and_leaves_the_unobserved_unknown() {
        let s = android_compliance_snapshot(
            UNIX_EPOCH,
            false,
            settings_read(),
            Some(vec![package("com.a", 7, true), package("com.b", -2, false)]),
            "org.portcullis".into(),
            None,
            Vec::new(),
            None,
        );
        assert_eq!(s.platform, Platform::Android);
        assert_eq!(s.delegated_scopes, None, "no scope: not a list");
        assert_eq!(s.os.api_level, Some(34));
        assert_eq!(
            s.settings.password_complexity,
            Some(PasswordComplexity::Medium)
        );
        assert_eq!(
            s.settings.encryption,
            Some(EncryptionStatus::EncryptedWithoutPassword),
            "full-disk encryption without a lock screen"
        );
        assert_eq!(
            s.settings.maximum_time_to_lock, None,
            "a negative time is no limit read"
        );
        assert_eq!(s.settings.usb_debugging_enabled, Some(true));
        assert_eq!(s.settings.verify_apps_enabled, None);
        let apps = s.apps.expect("apps");
        assert_eq!(
            apps[0].install_source,
            Some(SnapshotInstallSource {
                installing_package_name: None
            }),
            "observed: no installer recorded"
        );
        assert_eq!(apps[1].install_source, None, "installer not observed");
        assert_eq!(apps[1].version_code, Some(-2), "as read; the core drops it");
        assert_eq!(
            s.agent.map(|a| a.package_name),
            Some("org.portcullis".into())
        );
        let scoped = android_compliance_snapshot(
            UNIX_EPOCH,
            false,
            settings_read(),
            None,
            "org.portcullis".into(),
            Some(true),
            vec!["PACKAGE_ACCESS".into()],
            None,
        );
        assert_eq!(scoped.delegated_scopes, Some(vec!["PACKAGE_ACCESS".into()]));
        assert_eq!(scoped.apps, None, "inventory not read");
    }

    #[test]
    fn the_evidence_snapshot_carries_packages_services_and_user_certificates() {
        let e = android_evidence_snapshot(
            UNIX_EPOCH,
            vec![package("com.a", 3, true)],
            Some(settings_read()),
        );
        assert_eq!(e.platform, Some(Platform::Android));
        assert_eq!(e.packages[0].version_code, Some(3));
        assert_eq!(e.packages[0].certificates[0].sha256, Some("cd".repeat(32)));
        assert_eq!(e.accessibility_services[0].package, "com.example.a11y");
        assert_eq!(e.user_ca_certificates.len(), 1);
        let bare = android_evidence_snapshot(UNIX_EPOCH, Vec::new(), None);
        assert!(bare.accessibility_services.is_empty() && bare.user_ca_certificates.is_empty());
    }
}
