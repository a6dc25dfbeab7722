//! Wake-ups across the boundary: the duties of a wake-up, delivery reports and the
//! reboot inference. The native schedulers arm a timer at `nextWakeup()` and, when it
//! fires, call `wake`; everything about timing is decided in the core.

use std::time::SystemTime;

use portcullis_core::agent;

use crate::types::{to_system_time, to_timestamp};
use crate::{Agent, Alert, ConsoleMessage, PortcullisError};

/// What the platform does at this wake-up; each duty is handed out once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct WakeupDuties {
    /// Re-read SIM, service and connectivity state and feed it to the agent.
    pub reread_radio: bool,
    /// Collect a device snapshot and call `evaluateCompliance`.
    pub evaluate_compliance: bool,
    /// Deliver the outbox and report the attempt with `reportDelivery`.
    pub deliver_alerts: bool,
    /// An inspection window is open: collect evidence and call `submitInspection`.
    pub inspect: bool,
    /// Handed actions still await an outcome: carry them out again or report them.
    pub resume_actions: bool,
    /// Ship the journal: send `nextUpload`'s requests, reporting each with `uploadResponse`.
    pub upload: bool,
}

impl From<agent::WakeupDuties> for WakeupDuties {
    fn from(d: agent::WakeupDuties) -> Self {
        WakeupDuties {
            reread_radio: d.reread_radio,
            evaluate_compliance: d.evaluate_compliance,
            deliver_alerts: d.deliver_alerts,
            inspect: d.inspect,
            resume_actions: d.resume_actions,
            upload: d.upload,
        }
    }
}

/// What the core made of a reported boot instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum BootVerdict {
    /// The first boot instant this agent was told.
    FirstReport,
    /// The boot already known, within the tolerance.
    SameBoot,
    /// The wall clock was set; the device did not restart.
    ClockMoved,
    /// The device restarted since the last report.
    Rebooted,
}

impl From<agent::BootVerdict> for BootVerdict {
    fn from(v: agent::BootVerdict) -> Self {
        match v {
            agent::BootVerdict::FirstReport => BootVerdict::FirstReport,
            agent::BootVerdict::SameBoot => BootVerdict::SameBoot,
            agent::BootVerdict::ClockMoved => BootVerdict::ClockMoved,
            agent::BootVerdict::Rebooted => BootVerdict::Rebooted,
        }
    }
}

/// The answer to `wake`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Wakeup {
    /// What to do now.
    pub duties: WakeupDuties,
    /// The reboot inference, when a boot instant came with the wake-up.
    pub boot: Option<BootVerdict>,
    /// Alerts the elapsed time (or a reboot) raised.
    pub alerts: Vec<Alert>,
    /// When to arm the timer next.
    pub next_wakeup: Option<SystemTime>,
}

/// How a delivery attempt ended, as the platform's channel saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum DeliveryResult {
    /// Everything taken from the outbox was handed over (or nothing was pending).
    Delivered,
    /// Handed over what it could, and more is waiting: run again at once.
    MoreQueued,
    /// The channel refused or failed: the core retries with backoff.
    Failed,
    /// The channel accepts the next send only at `until` (a rate limit).
    Throttled {
        /// When the channel accepts again.
        until: SystemTime,
    },
}

impl From<DeliveryResult> for agent::DeliveryResult {
    fn from(r: DeliveryResult) -> Self {
        match r {
            DeliveryResult::Delivered => agent::DeliveryResult::Delivered,
            DeliveryResult::MoreQueued => agent::DeliveryResult::MoreQueued,
            DeliveryResult::Failed => agent::DeliveryResult::Failed,
            DeliveryResult::Throttled { until } => agent::DeliveryResult::Throttled {
                until: to_timestamp(until),
            },
        }
    }
}

/// What the core decided about a delivery attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct DeliveryVerdict {
    /// Alerts newly acknowledged by the report.
    pub acknowledged: u32,
    /// Consecutive failed attempts so far.
    pub failures: u32,
    /// When delivery is tried again, if it must be.
    pub retry_at: Option<SystemTime>,
    /// When to arm the timer next.
    pub next_wakeup: Option<SystemTime>,
}

/// The answer to `reportBoot`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct BootReport {
    /// What the core made of the boot instant.
    pub verdict: BootVerdict,
    /// Alerts the reboot raised.
    pub alerts: Vec<Alert>,
}

#[uniffi::export]
impl Agent {
    /// The platform scheduler fired (or the app started): lets time pass, infers a reboot
    /// from `boot_time` when given, and returns the duties to carry out now and the time to
    /// arm the timer for next.
    pub async fn wake(
        &self,
        now: SystemTime,
        boot_time: Option<SystemTime>,
    ) -> Result<Wakeup, PortcullisError> {
        let now = to_timestamp(now);
        let boot_time = boot_time.map(to_timestamp);
        self.with_agent(move |a| a.wake(now, boot_time))
            .await
            .map(|w| Wakeup {
                duties: w.duties.into(),
                boot: w.boot.map(Into::into),
                alerts: w.alerts.into_iter().map(Into::into).collect(),
                next_wakeup: w.next_wakeup.map(to_system_time),
            })
    }

    /// Reports a delivery attempt: `sent` (alert ids handed over) are acknowledged, and the
    /// core decides when to try again.
    pub async fn report_delivery(
        &self,
        sent: Vec<u64>,
        result: DeliveryResult,
        now: SystemTime,
    ) -> Result<DeliveryVerdict, PortcullisError> {
        let now = to_timestamp(now);
        self.with_agent(move |a| a.report_delivery(&sent, result.into(), now))
            .await
            .map(|v| DeliveryVerdict {
                acknowledged: u32::try_from(v.acknowledged).unwrap_or(u32::MAX),
                failures: v.failures,
                retry_at: v.retry_at.map(to_system_time),
                next_wakeup: v.next_wakeup.map(to_system_time),
            })
    }

    /// Reports the instant the device booted (Android: now minus `elapsedRealtime`; iOS:
    /// `kern.boottime`); the core decides whether the device restarted.
    pub async fn report_boot(
        &self,
        boot_time: SystemTime,
        now: SystemTime,
    ) -> Result<BootReport, PortcullisError> {
        let boot_time = to_timestamp(boot_time);
        let now = to_timestamp(now);
        self.with_agent(move |a| a.report_boot(boot_time, now))
            .await
            .map(|r| BootReport {
                verdict: r.verdict.into(),
                alerts: r.alerts.into_iter().map(Into::into).collect(),
            })
    }
}

/// What the platform's channel answered for one send of [`Agent::next_delivery`].
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum ChannelOutcome {
    /// Handed to every receiver.
    Sent,
    /// Nothing on the device receives the messages (Android: no device or profile owner,
    /// no Play Store with the feedback service), though the channel may call it success.
    NoReceiver,
    /// Too large for the channel (Android: `STATUS_TRANSACTION_TOO_LARGE_ERROR`).
    TooLarge,
    /// Anything else, in a short phrase without identifiers; the core bounds it.
    Failed {
        /// The channel's phrase, kept in the journal so a support engineer can tell a
        /// timeout from an exception.
        reason: String,
    },
}

impl From<ChannelOutcome> for agent::ChannelOutcome {
    fn from(outcome: ChannelOutcome) -> Self {
        match outcome {
            ChannelOutcome::Sent => agent::ChannelOutcome::Sent,
            ChannelOutcome::NoReceiver => agent::ChannelOutcome::NoReceiver,
            ChannelOutcome::TooLarge => agent::ChannelOutcome::TooLarge,
            ChannelOutcome::Failed { reason } => agent::ChannelOutcome::Failed { reason },
        }
    }
}

/// One send of the delivery run: the alerts' console messages, ready for the channel.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DeliveryBatch {
    /// One `portcullis.alert.<id>.<kind>` message per alert, in outbox order.
    pub messages: Vec<ConsoleMessage>,
    /// The alerts' outbox ids, in the same order.
    pub alert_ids: Vec<u64>,
    /// Send with an immediate-upload request (Android: `setStatesImmediate`).
    pub immediate: bool,
}

/// What the core made of one send.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DeliveryStep {
    /// Alerts newly acknowledged by this send.
    pub acknowledged: u32,
    /// The run is over: stop asking `nextDelivery` until the next run.
    pub done: bool,
    /// Why the run failed, when it did.
    pub error: Option<String>,
    /// When delivery is tried again, if it must be.
    pub retry_at: Option<SystemTime>,
    /// When to arm the timer next.
    pub next_wakeup: Option<SystemTime>,
}

#[uniffi::export]
impl Agent {
    /// The next send of the alert delivery run, or none when the run is over (the core
    /// recorded how it ended and put any retry into `nextWakeup`). Send exactly these
    /// messages and answer with `deliveryResponse`; the core batches, shrinks a send the
    /// channel found too large, and decides the immediate upload.
    pub async fn next_delivery(
        &self,
        now: SystemTime,
    ) -> Result<Option<DeliveryBatch>, PortcullisError> {
        let now = to_timestamp(now);
        self.with_agent(move |a| a.next_delivery(now))
            .await
            .map(|batch| {
                batch.map(|b| DeliveryBatch {
                    messages: b
                        .alerts
                        .iter()
                        .map(|a| portcullis_core::console::alert(a).into())
                        .collect(),
                    alert_ids: b.alerts.iter().map(|a| a.id).collect(),
                    immediate: b.immediate,
                })
            })
    }

    /// What the channel answered for the send `nextDelivery` handed out.
    pub async fn delivery_response(
        &self,
        outcome: ChannelOutcome,
        now: SystemTime,
    ) -> Result<DeliveryStep, PortcullisError> {
        let now = to_timestamp(now);
        let outcome = agent::ChannelOutcome::from(outcome);
        self.with_agent(move |a| a.delivery_response(outcome, now))
            .await
            .map(|s| DeliveryStep {
                acknowledged: u32::try_from(s.acknowledged).unwrap_or(u32::MAX),
                done: s.done,
                error: s.error,
                retry_at: s.retry_at.map(to_system_time),
                next_wakeup: s.next_wakeup.map(to_system_time),
            })
    }

    /// Takes a grant of the once-a-minute immediate upload for a message that is not an
    /// alert (an MDM-routed lock or wipe); alert delivery shares the gate, which the core
    /// keeps across restarts.
    pub async fn acquire_immediate_send(&self, now: SystemTime) -> Result<bool, PortcullisError> {
        let now = to_timestamp(now);
        self.with_agent(move |a| a.acquire_immediate_send(now))
            .await
    }
}
