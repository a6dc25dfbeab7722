//! Reading stored measures and actions field by field.
//!
//! The derived reader of an internally tagged enum (`{"kind": "…", …}`) buffers each
//! object whole before it knows the variant, and its code is compiled again for every
//! enclosing tagged or flattened type: for [`Measure`], [`Action`] and
//! [`RequestedAction`] that was about 35 KB of the phone library. Here each is read as
//! one flat record of its tag and optional fields, then checked: the same documents are
//! accepted (unknown fields ignored, as before), and a field its kind needs but lacks is
//! an error naming both. Writing stays derived.

use serde::Deserialize;

use super::{Action, Measure, Notice, RequestedAction, Route, UserRestriction};
use crate::compliance::codes::RuleId;
use crate::policy::model::{PasswordQuality, Sha256Fingerprint};

/// `value`, or an error naming the field that `kind` needs.
fn need<T>(value: Option<T>, kind: &str, field: &str) -> Result<T, String> {
    value.ok_or_else(|| format!("{kind} needs `{field}`"))
}

#[derive(Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum MeasureKind {
    UserRestriction,
    UsbDataSignalingDisabled,
    MaximumTimeToLock,
    MaximumFailedPasswordsForWipe,
    RequiredPasswordComplexity,
    AlwaysOnVpn,
    PermittedAccessibilityServices,
    UninstallBlocked,
    PackageSuspended,
    PackageHidden,
    AccessBlocked,
}

/// A measure as stored: its `kind` and whichever fields it has.
#[derive(Deserialize)]
pub(super) struct MeasureFields {
    kind: MeasureKind,
    restriction: Option<UserRestriction>,
    millis: Option<u64>,
    attempts: Option<u32>,
    complexity: Option<PasswordQuality>,
    package: Option<String>,
    lockdown: Option<bool>,
    packages: Option<Vec<String>>,
}

impl TryFrom<MeasureFields> for Measure {
    type Error = String;

    fn try_from(f: MeasureFields) -> Result<Self, String> {
        use MeasureKind as K;
        Ok(match f.kind {
            K::UserRestriction => Measure::UserRestriction {
                restriction: need(f.restriction, "USER_RESTRICTION", "restriction")?,
            },
            K::UsbDataSignalingDisabled => Measure::UsbDataSignalingDisabled,
            K::MaximumTimeToLock => Measure::MaximumTimeToLock {
                millis: need(f.millis, "MAXIMUM_TIME_TO_LOCK", "millis")?,
            },
            K::MaximumFailedPasswordsForWipe => Measure::MaximumFailedPasswordsForWipe {
                attempts: need(f.attempts, "MAXIMUM_FAILED_PASSWORDS_FOR_WIPE", "attempts")?,
            },
            K::RequiredPasswordComplexity => Measure::RequiredPasswordComplexity {
                complexity: need(f.complexity, "REQUIRED_PASSWORD_COMPLEXITY", "complexity")?,
            },
            K::AlwaysOnVpn => Measure::AlwaysOnVpn {
                package: need(f.package, "ALWAYS_ON_VPN", "package")?,
                lockdown: need(f.lockdown, "ALWAYS_ON_VPN", "lockdown")?,
            },
            K::PermittedAccessibilityServices => Measure::PermittedAccessibilityServices {
                packages: need(f.packages, "PERMITTED_ACCESSIBILITY_SERVICES", "packages")?,
            },
            K::UninstallBlocked => Measure::UninstallBlocked {
                package: need(f.package, "UNINSTALL_BLOCKED", "package")?,
            },
            K::PackageSuspended => Measure::PackageSuspended {
                package: need(f.package, "PACKAGE_SUSPENDED", "package")?,
            },
            K::PackageHidden => Measure::PackageHidden {
                package: need(f.package, "PACKAGE_HIDDEN", "package")?,
            },
            K::AccessBlocked => Measure::AccessBlocked,
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum ActionKind {
    Apply,
    Lift,
    NotifyUser,
    RemoveCaCert,
    LockDevice,
    WipeDevice,
}

/// An action (or a requested action, which adds `route` and `rule`) as stored.
#[derive(Deserialize)]
pub(super) struct ActionFields {
    action: ActionKind,
    measure: Option<Measure>,
    notices: Option<Vec<Notice>>,
    sha256: Option<Sha256Fingerprint>,
    preserve_frp: Option<bool>,
    route: Option<Route>,
    rule: Option<RuleId>,
}

impl ActionFields {
    fn action(self) -> Result<Action, String> {
        use ActionKind as K;
        Ok(match self.action {
            K::Apply => Action::Apply {
                measure: need(self.measure, "APPLY", "measure")?,
            },
            K::Lift => Action::Lift {
                measure: need(self.measure, "LIFT", "measure")?,
            },
            K::NotifyUser => Action::NotifyUser {
                notices: need(self.notices, "NOTIFY_USER", "notices")?,
            },
            K::RemoveCaCert => Action::RemoveCaCert {
                sha256: need(self.sha256, "REMOVE_CA_CERT", "sha256")?,
            },
            K::LockDevice => Action::LockDevice,
            K::WipeDevice => Action::WipeDevice {
                preserve_frp: need(self.preserve_frp, "WIPE_DEVICE", "preserve_frp")?,
            },
        })
    }
}

impl TryFrom<ActionFields> for Action {
    type Error = String;

    fn try_from(f: ActionFields) -> Result<Self, String> {
        f.action()
    }
}

impl TryFrom<ActionFields> for RequestedAction {
    type Error = String;

    fn try_from(mut f: ActionFields) -> Result<Self, String> {
        let route = need(f.route.take(), "a requested action", "route")?;
        let rule = f.rule.take();
        Ok(RequestedAction {
            action: f.action()?,
            route,
            rule,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compliance::actions::NotPossibleReason;
    use crate::compliance::codes::Reasons;

    fn measures() -> Vec<Measure> {
        vec![
            Measure::UserRestriction {
                restriction: UserRestriction::DisallowCellular2g,
            },
            Measure::UsbDataSignalingDisabled,
            Measure::MaximumTimeToLock { millis: 60_000 },
            Measure::MaximumFailedPasswordsForWipe { attempts: 10 },
            Measure::RequiredPasswordComplexity {
                complexity: PasswordQuality::ComplexityHigh,
            },
            Measure::AlwaysOnVpn {
                package: "org.example.vpn".into(),
                lockdown: true,
            },
            Measure::PermittedAccessibilityServices {
                packages: vec!["org.example.reader".into()],
            },
            Measure::UninstallBlocked {
                package: "org.portcullis.agent".into(),
            },
            Measure::PackageSuspended {
                package: "com.example.bad".into(),
            },
            Measure::PackageHidden {
                package: "com.example.system".into(),
            },
            Measure::AccessBlocked,
        ]
    }

    #[test]
    fn every_measure_and_action_reads_back_as_written() {
        let mut actions = vec![
            Action::NotifyUser {
                notices: vec![Notice {
                    rule: RuleId::App("com.example.bad".into()),
                    reasons: Reasons::default(),
                }],
            },
            Action::RemoveCaCert {
                sha256: Sha256Fingerprint([0xab; 32]),
            },
            Action::LockDevice,
            Action::WipeDevice { preserve_frp: true },
        ];
        for measure in measures() {
            let json = serde_json::to_string(&measure).unwrap();
            assert_eq!(
                serde_json::from_str::<Measure>(&json).unwrap(),
                measure,
                "{json}"
            );
            actions.push(Action::Apply {
                measure: measure.clone(),
            });
            actions.push(Action::Lift { measure });
        }
        for (i, action) in actions.into_iter().enumerate() {
            let json = serde_json::to_string(&action).unwrap();
            assert_eq!(
                serde_json::from_str::<Action>(&json).unwrap(),
                action,
                "{json}"
            );
            let requested = RequestedAction {
                action,
                route: if i % 2 == 0 {
                    Route::Agent
                } else {
                    Route::NotPossible(NotPossibleReason::ApiLevel)
                },
                rule: (i % 3 == 0).then_some(RuleId::AppInventory),
            };
            let json = serde_json::to_string(&requested).unwrap();
            assert_eq!(
                serde_json::from_str::<RequestedAction>(&json).unwrap(),
                requested,
                "{json}"
            );
        }
    }

    #[test]
    fn a_field_the_kind_needs_is_named_when_missing_and_unknown_fields_are_ignored() {
        for (json, expected) in [
            (
                r#"{"kind":"ALWAYS_ON_VPN","package":"a.b"}"#,
                "ALWAYS_ON_VPN needs `lockdown`",
            ),
            (
                r#"{"kind":"MAXIMUM_TIME_TO_LOCK","attempts":3}"#,
                "MAXIMUM_TIME_TO_LOCK needs `millis`",
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
        assert!(err.to_string().contains("APPLY needs `measure`"), "{err}");
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
