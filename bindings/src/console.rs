//! Console publication the platforms only carry out: whether a message is news
//! (`console::supersedes`), and the compliance and deployment messages. Which alerts go
//! at once, and how often, is the core's delivery run (`Agent::next_delivery`).

use std::time::SystemTime;

use portcullis_core::compliance::actions;
use portcullis_core::console;

use crate::types::to_timestamp;
use crate::{
    ActionOutcome, AndroidDeployment, ConsoleMessage, Measure, Remediation, RemediationAction,
};

/// Whether `next` should be published although `previous` (the last message sent under
/// its key) is known: the core ignores the time a message was built.
#[uniffi::export]
pub fn console_supersedes(previous: Option<ConsoleMessage>, next: ConsoleMessage) -> bool {
    console::supersedes(previous.map(core_message).as_ref(), &core_message(next))
}

fn core_message(m: ConsoleMessage) -> console::ConsoleMessage {
    console::ConsoleMessage {
        key: m.key,
        severity: match m.severity {
            crate::ConsoleSeverity::Info => console::ConsoleSeverity::Info,
            crate::ConsoleSeverity::Error => console::ConsoleSeverity::Error,
        },
        message: m.message,
        data: m.data,
    }
}

/// One remediation of a compliance pass and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ActionHandled {
    /// The action the core handed out.
    pub requested: RemediationAction,
    /// What the phone did with it (`HANDED_TO_MDM` for MDM-routed actions).
    pub outcome: ActionOutcome,
}

fn measure_label(m: &Measure) -> String {
    match m {
        Measure::UserRestriction { restriction } => format!(
            "USER_RESTRICTION {}",
            actions::UserRestriction::from(*restriction).as_str()
        ),
        Measure::UsbDataSignalingDisabled => "USB_DATA_SIGNALING_DISABLED".into(),
        Measure::MaximumTimeToLock { .. } => "MAXIMUM_TIME_TO_LOCK".into(),
        Measure::MaximumFailedPasswordsForWipe { .. } => "MAXIMUM_FAILED_PASSWORDS_FOR_WIPE".into(),
        Measure::RequiredPasswordComplexity { .. } => "REQUIRED_PASSWORD_COMPLEXITY".into(),
        Measure::AlwaysOnVpn { .. } => "ALWAYS_ON_VPN".into(),
        Measure::PermittedAccessibilityServices { .. } => "PERMITTED_ACCESSIBILITY_SERVICES".into(),
        Measure::UninstallBlocked { .. } => "UNINSTALL_BLOCKED".into(),
        Measure::PackageSuspended { .. } => "PACKAGE_SUSPENDED".into(),
        Measure::PackageHidden { .. } => "PACKAGE_HIDDEN".into(),
        Measure::AccessBlocked => "ACCESS_BLOCKED".into(),
    }
}

/// The action's short name for the console: its kind, and the measure's (values left out).
fn action_label(a: &Remediation) -> String {
    match a {
        Remediation::Apply { measure } => format!("APPLY {}", measure_label(measure)),
        Remediation::Lift { measure } => format!("LIFT {}", measure_label(measure)),
        Remediation::NotifyUser { .. } => "NOTIFY_USER".into(),
        Remediation::RemoveCaCert { .. } => "REMOVE_CA_CERT".into(),
        Remediation::LockDevice => "LOCK_DEVICE".into(),
        Remediation::WipeDevice { .. } => "WIPE_DEVICE".into(),
    }
}

fn note(h: &ActionHandled, why: Option<String>) -> console::ActionNote {
    console::ActionNote {
        rule: h.requested.rule.clone().map(crate::rule_text),
        action: action_label(&h.requested.action),
        why,
    }
}

/// A compliance pass as the console message `portcullis.compliance`: the actions handed
/// to the MDM, and those not carried out with the reason; carried-out ones are counted
/// by the report, not listed.
#[uniffi::export]
pub fn console_compliance_pass(
    compliant: bool,
    open_rules: u32,
    handled: Vec<ActionHandled>,
    now: SystemTime,
) -> ConsoleMessage {
    let mut summary = console::ComplianceSummary {
        compliant,
        open_rules,
        for_mdm: Vec::new(),
        not_done: Vec::new(),
    };
    for h in &handled {
        match &h.outcome {
            ActionOutcome::CarriedOut => {}
            ActionOutcome::HandedToMdm => summary.for_mdm.push(note(h, None)),
            ActionOutcome::NotPossible { reason } => summary
                .not_done
                .push(note(h, Some(format!("not possible: {reason}")))),
            ActionOutcome::Failed { reason } => summary
                .not_done
                .push(note(h, Some(format!("failed: {reason}")))),
        }
    }
    console::compliance(&summary, to_timestamp(now)).into()
}

/// The deployment the core read (owner or companion, delegated scopes) as the console
/// message `portcullis.deployment`.
#[uniffi::export]
pub fn console_deployment(
    deployment: AndroidDeployment,
    api_level: u32,
    now: SystemTime,
) -> ConsoleMessage {
    console::deployment(
        &deployment.mode_name,
        &deployment.delegated_scopes,
        api_level,
        to_timestamp(now),
    )
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ActionRoute, Restriction, RuleRef};
    use std::time::{Duration, UNIX_EPOCH};

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_780_000_000 + seconds)
    }

    #[test]
    fn the_compliance_pass_lists_what_the_mdm_and_the_console_must_know() {
        let requested = |action| RemediationAction {
            route: ActionRoute::Agent,
            rule: Some(RuleRef::App {
                id: "com.example".into(),
            }),
            action,
            not_possible: None,
        };
        let two_g = Remediation::Apply {
            measure: Measure::UserRestriction {
                restriction: Restriction::DisallowCellular2g,
            },
        };
        let handled = vec![
            ActionHandled {
                requested: requested(Remediation::LockDevice),
                outcome: ActionOutcome::CarriedOut,
            },
            ActionHandled {
                requested: requested(Remediation::Apply {
                    measure: Measure::PackageSuspended {
                        package: "com.example".into(),
                    },
                }),
                outcome: ActionOutcome::HandedToMdm,
            },
            ActionHandled {
                requested: requested(two_g),
                outcome: ActionOutcome::NotPossible {
                    reason: "API 33".into(),
                },
            },
        ];
        let m = console_compliance_pass(false, 2, handled, at(0));
        assert_eq!(m.key, "portcullis.compliance");
        assert_eq!(
            m.message,
            "not compliant: 2 open rule(s), 1 action(s) for the MDM, 1 not carried out"
        );
        let data: serde_json::Value = serde_json::from_str(&m.data).unwrap();
        assert_eq!(data["for_mdm"][0]["action"], "APPLY PACKAGE_SUSPENDED");
        assert_eq!(data["for_mdm"][0]["rule"], "app:com.example");
        assert_eq!(
            data["not_done"][0]["action"],
            "APPLY USER_RESTRICTION DISALLOW_CELLULAR_2G"
        );
        assert_eq!(data["not_done"][0]["why"], "not possible: API 33");
        // The same pass a day later is no news.
        let later = console_compliance_pass(false, 2, Vec::new(), at(86_400));
        let again = console_compliance_pass(false, 2, Vec::new(), at(90_000));
        assert!(!console_supersedes(Some(later.clone()), again));
        assert!(console_supersedes(Some(later), m));
    }
}
