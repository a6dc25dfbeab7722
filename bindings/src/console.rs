//! Console publication the platforms only carry out: the immediate-send gate and which
//! alerts are urgent (`portcullis_core::urgent`), whether a message is news
//! (`console::supersedes`), and the compliance and deployment messages.

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use portcullis_core::compliance::actions;
use portcullis_core::urgent::ImmediateGate;
use portcullis_core::{console, Timestamp};

use crate::types::{to_system_time, to_timestamp};
use crate::{
    ActionOutcome, Alert, AndroidDeployment, ConsoleMessage, Measure, Remediation,
    RemediationAction,
};

/// Grants at most one immediate upload (`setStatesImmediate`) a minute, and says which
/// alerts of a batch take it. Persist [`ImmediateSendGate::last_sent`] after each use and
/// hand it back at the next start, so the limit holds across process restarts.
#[derive(Debug, uniffi::Object)]
pub struct ImmediateSendGate {
    inner: Mutex<ImmediateGate>,
}

/// What to send now from a batch of pending alerts.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SendPlan {
    /// Send with an immediate-upload request (a grant was taken).
    pub immediate: bool,
    /// The alerts to send now, in outbox order.
    pub send: Vec<Alert>,
    /// Urgent alerts left in the outbox until the gate opens.
    pub held: u32,
    /// When the gate opens, if alerts were held: report the run as throttled until then.
    pub retry_at: Option<SystemTime>,
    /// The grant before this plan: hand it to `refund` when the send did not happen.
    pub previous_grant: Option<SystemTime>,
}

impl ImmediateSendGate {
    fn gate(&self) -> std::sync::MutexGuard<'_, ImmediateGate> {
        match self.inner.lock() {
            Ok(gate) => gate,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

fn time(t: Option<SystemTime>) -> Option<Timestamp> {
    t.map(to_timestamp)
}

#[uniffi::export]
impl ImmediateSendGate {
    /// A gate whose last grant was at `last_sent` (as persisted), or none.
    #[uniffi::constructor]
    pub fn new(last_sent: Option<SystemTime>) -> Arc<Self> {
        Arc::new(ImmediateSendGate {
            inner: Mutex::new(ImmediateGate::new(time(last_sent))),
        })
    }

    /// When the last immediate send was granted.
    pub fn last_sent(&self) -> Option<SystemTime> {
        self.gate().last_sent().map(to_system_time)
    }

    /// Takes a grant for one immediate send at `now`, if the gate is open.
    pub fn try_acquire(&self, now: SystemTime) -> bool {
        self.gate().try_acquire(to_timestamp(now))
    }

    /// Splits `alerts` (one batch from the outbox): urgent ones take the immediate send
    /// when the gate grants it, and wait for it otherwise; the rest go now.
    pub fn plan(&self, alerts: Vec<Alert>, now: SystemTime) -> SendPlan {
        let severities: Vec<_> = alerts.iter().map(|a| a.severity.into()).collect();
        let plan = self.gate().plan(&severities, to_timestamp(now));
        let mut alerts: Vec<Option<Alert>> = alerts.into_iter().map(Some).collect();
        SendPlan {
            immediate: plan.immediate,
            send: plan.send.iter().filter_map(|&i| alerts[i].take()).collect(),
            held: u32::try_from(plan.held.len()).unwrap_or(u32::MAX),
            retry_at: plan.retry_at.map(to_system_time),
            previous_grant: plan.previous_grant.map(to_system_time),
        }
    }

    /// Gives back the grant taken at `granted_at` when its send did not happen at all.
    pub fn refund(&self, granted_at: SystemTime, previous: Option<SystemTime>) {
        self.gate().refund(to_timestamp(granted_at), time(previous));
    }
}

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
    use crate::{ActionRoute, AlertKind, Restriction, RuleRef, Severity};
    use std::time::{Duration, UNIX_EPOCH};

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_780_000_000 + seconds)
    }

    fn alert(id: u64, severity: Severity) -> Alert {
        Alert {
            id,
            at: at(0),
            kind: AlertKind::SimSwapConfirmed,
            kind_name: "sim_swap_confirmed".into(),
            slot: None,
            detector: "d".into(),
            detector_version: 1,
            summary: "s".into(),
            evidence: Vec::new(),
            severity,
            delivery_attempts: 0,
        }
    }

    #[test]
    fn a_held_urgent_alert_goes_when_the_gate_opens_and_a_refund_reopens_it() {
        let gate = ImmediateSendGate::new(Some(at(0)));
        let batch = vec![alert(1, Severity::Low), alert(2, Severity::Critical)];
        let plan = gate.plan(batch.clone(), at(10));
        assert!(!plan.immediate);
        assert_eq!(plan.send.iter().map(|a| a.id).collect::<Vec<_>>(), [1]);
        assert_eq!((plan.held, plan.retry_at), (1, Some(at(60))));
        let plan = gate.plan(batch, at(60));
        assert!(plan.immediate && plan.send.len() == 2);
        gate.refund(at(60), plan.previous_grant);
        assert_eq!(gate.last_sent(), Some(at(0)));
        assert!(gate.try_acquire(at(61)));
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
