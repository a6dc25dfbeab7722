//! Reading stored measures and actions field by field (see `crate::tagged`).

use super::{Action, Measure, Notice, RequestedAction, Route, UserRestriction};
use crate::compliance::codes::RuleId;
use crate::policy::model::{PasswordQuality, Sha256Fingerprint};
use crate::tagged::flat_reader;

flat_reader! {
    mod measure for Measure, tag "kind", case "SCREAMING_SNAKE_CASE";
    fields {
        restriction: UserRestriction,
        millis: u64,
        attempts: u32,
        complexity: PasswordQuality,
        package: String,
        lockdown: bool,
        packages: Vec<String>,
    }
    variants {
        UserRestriction { restriction },
        UsbDataSignalingDisabled,
        MaximumTimeToLock { millis },
        MaximumFailedPasswordsForWipe { attempts },
        RequiredPasswordComplexity { complexity },
        AlwaysOnVpn { package, lockdown },
        PermittedAccessibilityServices { packages },
        UninstallBlocked { package },
        PackageSuspended { package },
        PackageHidden { package },
        AccessBlocked,
    }
}

// An action's record also carries a requested action's `route` and `rule`, which
// `RequestedAction` (an action flattened with them) is read from.
flat_reader! {
    mod action for Action, tag "action", case "SCREAMING_SNAKE_CASE";
    fields {
        measure: Measure,
        notices: Vec<Notice>,
        sha256: Sha256Fingerprint,
        preserve_frp: bool,
        route: Route,
        rule: RuleId,
    }
    variants {
        Apply { measure },
        Lift { measure },
        NotifyUser { notices },
        RemoveCaCert { sha256 },
        LockDevice,
        WipeDevice { preserve_frp },
    }
}

impl TryFrom<action::Fields> for RequestedAction {
    type Error = String;

    fn try_from(mut f: action::Fields) -> Result<Self, String> {
        let route = f.route.take().ok_or("a requested action needs `route`")?;
        let rule = f.rule.take();
        Ok(RequestedAction {
            action: Action::try_from(f)?,
            route,
            rule,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_the_tag_needs_is_named_when_missing_and_unknown_fields_are_ignored() {
        for (json, expected) in [
            (
                r#"{"kind":"ALWAYS_ON_VPN","package":"a.b"}"#,
                "AlwaysOnVpn needs `lockdown`",
            ),
            (
                r#"{"kind":"MAXIMUM_TIME_TO_LOCK","attempts":3}"#,
                "MaximumTimeToLock needs `millis`",
            ),
        ] {
            let err = serde_json::from_str::<Measure>(json).unwrap_err();
            assert!(err.to_string().contains(expected), "{err}");
        }
        let err = serde_json::from_str::<Measure>(r#"{"kind":"DISALLOW_EVERYTHING"}"#).unwrap_err();
        assert!(err.to_string().contains("unknown variant"), "{err}");
        let err =
            serde_json::from_str::<RequestedAction>(r#"{"action":"LOCK_DEVICE"}"#).unwrap_err();
        assert!(err.to_string().contains("needs `route`"), "{err}");
        let err = serde_json::from_str::<Action>(r#"{"action":"APPLY"}"#).unwrap_err();
        assert!(err.to_string().contains("Apply needs `measure`"), "{err}");
        let read: Measure =
            serde_json::from_str(r#"{"kind":"PACKAGE_HIDDEN","package":"a.b","note":1}"#).unwrap();
        assert_eq!(
            read,
            Measure::PackageHidden {
                package: "a.b".into()
            }
        );
    }
}
