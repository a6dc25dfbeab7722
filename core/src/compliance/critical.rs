//! The packages no enforcement may suspend or hide: without them the phone cannot
//! start, install or update apps, grant permissions, call, reach its settings, or
//! report to its EMM. Suspending the EMM's DPC or Play Store would cut the very
//! channel that carries the agent's alerts, and some of these (`android`, the
//! permission controller) refuse suspension, so a block that named them would
//! always be reported failed.
//!
//! Which packages fill the roles (home screen, installer, permission controller,
//! device owner, phone app) varies by maker; the platform resolves them and reports
//! them in the snapshot's `packageRoles`; the well-known names below are kept
//! whatever it reports.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// Packages kept usable on every Android phone: the framework, the system UI, settings,
/// telephony, Play Store and Play services (the keyed-app-states channel to the EMM),
/// Android Device Policy (the AMAPI DPC), and the platform's installer and permission
/// controller under their stock names.
pub const ALWAYS_CRITICAL: &[&str] = &[
    "android",
    "com.android.systemui",
    "com.android.settings",
    "com.android.phone",
    "com.android.vending",
    "com.google.android.gms",
    "com.google.android.gsf",
    "com.google.android.apps.work.clouddpc",
    "com.android.packageinstaller",
    "com.google.android.packageinstaller",
    "com.android.permissioncontroller",
    "com.google.android.permissioncontroller",
];

/// The packages that fill the critical roles on this phone, as the platform resolves
/// them; each absent role was not resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PackageRoles {
    /// The launcher: the package of the resolved home activity (`ACTION_MAIN`, `CATEGORY_HOME`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 255)))]
    pub home: Option<String>,
    /// The package installer: the resolved handler of `ACTION_INSTALL_PACKAGE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 255)))]
    pub installer: Option<String>,
    /// The permission controller (`PackageManager.getPermissionControllerPackageName`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 255)))]
    pub permission_controller: Option<String>,
    /// The device owner's package: the EMM's DPC, or the agent itself in owner mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 255)))]
    pub device_owner: Option<String>,
    /// The default phone app (`TelecomManager.getDefaultDialerPackage`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 255)))]
    pub dialer: Option<String>,
}

impl PackageRoles {
    /// The packages named, in field order.
    pub fn named(&self) -> impl Iterator<Item = &str> {
        [
            &self.home,
            &self.installer,
            &self.permission_controller,
            &self.device_owner,
            &self.dialer,
        ]
        .into_iter()
        .filter_map(|p| p.as_deref())
    }
}

/// Every package the agent must never suspend or hide on this phone: the well-known
/// ones, those filling `roles`, and the agent itself.
pub fn critical_packages(roles: Option<&PackageRoles>, agent: Option<&str>) -> BTreeSet<String> {
    ALWAYS_CRITICAL
        .iter()
        .copied()
        .chain(roles.into_iter().flat_map(PackageRoles::named))
        .chain(agent)
        .map(str::to_owned)
        .collect()
}

/// Whether `package` is critical on this phone (the same set as [`critical_packages`],
/// without building it).
pub fn is_critical(package: &str, roles: Option<&PackageRoles>, agent: Option<&str>) -> bool {
    ALWAYS_CRITICAL.contains(&package)
        || agent == Some(package)
        || roles.is_some_and(|r| r.named().any(|p| p == package))
}

/// The packages the escalation ladder's access block suspends: every installed one but
/// the critical ones, sorted and without repeats.
pub fn access_block_targets<'a>(
    installed: impl IntoIterator<Item = &'a str>,
    roles: Option<&PackageRoles>,
    agent: Option<&str>,
) -> Vec<String> {
    installed
        .into_iter()
        .filter(|p| !is_critical(p, roles, agent))
        .map(str::to_owned)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles() -> PackageRoles {
        PackageRoles {
            home: Some("com.sec.android.app.launcher".into()),
            installer: Some("com.samsung.android.packageinstaller".into()),
            permission_controller: Some("com.samsung.android.permissioncontroller".into()),
            device_owner: Some("com.airwatch.androidagent".into()),
            dialer: Some("com.samsung.android.dialer".into()),
        }
    }

    #[test]
    fn the_access_block_spares_every_role_the_well_known_packages_and_the_agent() {
        let installed = [
            "android",
            "com.sec.android.app.launcher",
            "com.samsung.android.packageinstaller",
            "com.samsung.android.permissioncontroller",
            "com.airwatch.androidagent",
            "com.samsung.android.dialer",
            "com.android.vending",
            "com.google.android.gms",
            "com.google.android.apps.work.clouddpc",
            "com.android.settings",
            "org.portcullis.agent",
            "com.whatsapp",
            "com.anydesk.anydeskandroid",
            "com.whatsapp",
        ];
        let targets = access_block_targets(installed, Some(&roles()), Some("org.portcullis.agent"));
        assert_eq!(targets, ["com.anydesk.anydeskandroid", "com.whatsapp"]);
    }

    #[test]
    fn without_resolved_roles_the_well_known_names_are_still_spared() {
        let installed = [
            "android",
            "com.android.permissioncontroller",
            "com.google.android.permissioncontroller",
            "com.google.android.packageinstaller",
            "com.android.systemui",
            "com.sec.android.app.launcher",
        ];
        // An unresolved launcher is not guessed at: the platform must report it.
        assert_eq!(
            access_block_targets(installed, None, None),
            ["com.sec.android.app.launcher"]
        );
    }

    #[test]
    fn critical_packages_lists_roles_and_agent_once() {
        let set = critical_packages(Some(&roles()), Some("org.portcullis.agent"));
        for p in roles().named() {
            assert!(set.contains(p), "{p}");
            assert!(is_critical(p, Some(&roles()), None), "{p}");
        }
        assert!(set.contains("org.portcullis.agent"));
        assert!(set.contains("com.android.vending"));
        assert_eq!(set.len(), ALWAYS_CRITICAL.len() + 5 + 1);
        assert!(!is_critical(
            "com.whatsapp",
            Some(&roles()),
            Some("org.portcullis.agent")
        ));
    }
}
