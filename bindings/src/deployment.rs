//! How the agent is deployed, and the packages no enforcement may touch: the core's
//! answers for the start of the native layer, before any snapshot is judged.
//! Conversions only: the decisions are `portcullis_core::compliance`'s.

use portcullis_core::compliance;

/// The packages that fill the critical roles on this phone, as the platform resolved
/// them (see `compliance::PackageRoles`); `None`: not resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct PackageRoles {
    /// The launcher (resolved home activity).
    pub home: Option<String>,
    /// The package installer (resolved `ACTION_INSTALL_PACKAGE` handler).
    pub installer: Option<String>,
    /// The permission controller.
    pub permission_controller: Option<String>,
    /// The device owner: the EMM's DPC, or the agent in owner mode.
    pub device_owner: Option<String>,
    /// The default phone app.
    pub dialer: Option<String>,
}

impl From<PackageRoles> for compliance::PackageRoles {
    fn from(r: PackageRoles) -> Self {
        compliance::PackageRoles {
            home: r.home,
            installer: r.installer,
            permission_controller: r.permission_controller,
            device_owner: r.device_owner,
            dialer: r.dialer,
        }
    }
}

/// How the agent is deployed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum DeploymentMode {
    /// The agent is the device owner (the DPC).
    Owner,
    /// The agent is a managed app beside the EMM's DPC, using the scopes delegated to it.
    Companion,
}

impl From<compliance::DeploymentMode> for DeploymentMode {
    fn from(m: compliance::DeploymentMode) -> Self {
        match m {
            compliance::DeploymentMode::Owner => DeploymentMode::Owner,
            compliance::DeploymentMode::Companion => DeploymentMode::Companion,
        }
    }
}

/// What the Android platform reported at start, read by the core.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AndroidDeployment {
    /// Owner or companion.
    pub mode: DeploymentMode,
    /// The delegated scopes the core uses, by their AMAPI names (sorted; the snapshot's
    /// `delegatedScopes`). `DELEGATION_*` values the core does not know are left out.
    pub delegated_scopes: Vec<String>,
    /// `owner` or `companion`, for the console.
    pub mode_name: String,
}

/// Reads what `DevicePolicyManager.isDeviceOwnerApp` and `getDelegatedScopes` returned.
#[uniffi::export]
pub fn android_deployment(
    device_owner: bool,
    delegation_constants: Vec<String>,
) -> AndroidDeployment {
    let scopes: compliance::DelegatedScopes = delegation_constants
        .iter()
        .filter_map(|c| compliance::DelegatedScope::from_android_constant(c))
        .collect();
    let caps = compliance::Capabilities::android_companion(scopes.iter(), None);
    let caps = compliance::Capabilities {
        device_owner,
        ..caps
    };
    let mode = caps.deployment_mode();
    AndroidDeployment {
        mode: mode.into(),
        delegated_scopes: scopes.iter().map(|s| s.as_str().to_owned()).collect(),
        mode_name: mode.as_str().to_owned(),
    }
}

/// The packages the escalation ladder's access block suspends: every one of
/// `installed` but the critical ones (the core's list, the `roles` and the agent).
#[uniffi::export]
pub fn access_block_targets(
    installed: Vec<String>,
    roles: PackageRoles,
    agent_package: String,
) -> Vec<String> {
    let roles = compliance::PackageRoles::from(roles);
    compliance::access_block_targets(
        installed.iter().map(String::as_str),
        Some(&roles),
        Some(&agent_package),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delegation_constants_become_amapi_names_and_unknown_ones_are_dropped() {
        let d = android_deployment(
            false,
            vec![
                "delegation-block-uninstall".into(),
                "delegation-package-access".into(),
                "delegation-something-new".into(),
            ],
        );
        assert_eq!(d.mode, DeploymentMode::Companion);
        assert_eq!(d.mode_name, "companion");
        assert_eq!(d.delegated_scopes, ["PACKAGE_ACCESS", "BLOCK_UNINSTALL"]);
        assert_eq!(android_deployment(true, vec![]).mode, DeploymentMode::Owner);
    }

    #[test]
    fn the_access_block_keeps_the_roles_and_the_agent() {
        let targets = access_block_targets(
            vec![
                "android".into(),
                "com.example.launcher".into(),
                "org.portcullis.agent".into(),
                "com.whatsapp".into(),
            ],
            PackageRoles {
                home: Some("com.example.launcher".into()),
                ..PackageRoles::default()
            },
            "org.portcullis.agent".into(),
        );
        assert_eq!(targets, ["com.whatsapp"]);
    }
}
