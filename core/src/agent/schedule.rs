//! Wake-ups: every deadline the platform scheduler arms, and what the platform does when
//! it wakes.
//!
//! The native schedulers (an exact alarm on Android, `BGTaskScheduler` on iOS) only arm a
//! timer at [`Agent::next_wakeup`] and, when it fires, call [`Agent::wake`]: the core
//! answers with [`WakeupDuties`] (re-read the radio, judge compliance, deliver alerts,
//! inspect, resume actions), each handed out once. The deadlines, all decided here:
//!
//! - **the re-read cadence**: the policy's `sim.rereadIntervalMinutes` (default
//!   [`DEFAULT_REREAD_INTERVAL_MINUTES`]); it catches SIM and service changes made while the
//!   process was not running, and unacknowledged alerts are offered again with it;
//! - **the compliance cadence**: a pass at least every [`COMPLIANCE_INTERVAL_MS`] while a
//!   policy is in force; it rides on the first re-read wake-up at or after it falls due, so
//!   it costs no wake-up of its own;
//! - **delivery retries**: after a failed delivery, [`retry_delay_ms`] doubles from
//!   [`RETRY_INITIAL_MS`] to [`RETRY_MAX_MS`] (the platform reports each attempt with
//!   [`Agent::report_delivery`]);
//! - the SIM guard's timers, the compliance ladder's steps and the inspection schedule's
//!   windows and overdue escalation, as before.
//!
//! Reboots are inferred here too: the platform reports the instant the device booted
//! ([`Agent::report_boot`], or with each wake-up), and [`infer_boot`] compares it with the
//! last one, within [`BOOT_TOLERANCE_MS`].

use super::persisted::{Persisted, State};
use serde::{Deserialize, Serialize};

use super::Agent;
use crate::alert::{Alert, AlertId};
use crate::error::{Error, Result};
use crate::policy::model::DEFAULT_REREAD_INTERVAL_MINUTES;
use crate::sim::SimEvent;
use crate::time::{Timestamp, HOUR_MS, MINUTE_MS};

pub(super) const WAKEUP_STATE: &str = "wakeup";

/// A compliance pass at least this often while a policy is in force (a rolling patch-age
/// rule moves with time alone).
pub const COMPLIANCE_INTERVAL_MS: i64 = 24 * HOUR_MS;
/// The first delivery retry after a failure.
pub const RETRY_INITIAL_MS: i64 = 30_000;
/// The longest delay between delivery retries.
pub const RETRY_MAX_MS: i64 = 30 * MINUTE_MS;
/// How far two reports of the same boot may differ: a boot instant derived from the wall
/// clock and the uptime moves by seconds with clock adjustments, a reboot moves it by more.
pub const BOOT_TOLERANCE_MS: i64 = 120_000;

/// The delay before retry number `failures` (1 = after the first failed attempt): 30 s,
/// doubling per consecutive failure, at most 30 min.
pub fn retry_delay_ms(failures: u32) -> i64 {
    let doublings = failures.saturating_sub(1).min(16);
    RETRY_INITIAL_MS
        .saturating_mul(1_i64 << doublings)
        .min(RETRY_MAX_MS)
}

/// What the core made of a reported boot instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BootVerdict {
    /// The first boot instant this agent was told: remembered, no reboot inferred.
    FirstReport,
    /// The boot already known (within the tolerance).
    SameBoot,
    /// The boot instant moved because the wall clock was set, not because the device
    /// restarted: it moved back, or forward to before a time seen during the known boot.
    ClockMoved,
    /// The device restarted since the last report.
    Rebooted,
}

/// Judges a reported boot instant against the last one remembered.
///
/// `confirmed_at` is the latest time at which the remembered boot was confirmed: a real
/// reboot happens after it, so a new boot instant well before it can only come from a wall
/// clock that was set forward. Each report replaces the remembered instant, so slow drift
/// never adds up to a reboot.
pub fn infer_boot(known: Option<(Timestamp, Timestamp)>, reported: Timestamp) -> BootVerdict {
    let Some((boot, confirmed_at)) = known else {
        return BootVerdict::FirstReport;
    };
    let moved = reported.millis_since(boot);
    if moved.abs() <= BOOT_TOLERANCE_MS {
        BootVerdict::SameBoot
    } else if moved < 0 || reported.plus_millis(BOOT_TOLERANCE_MS) < confirmed_at {
        BootVerdict::ClockMoved
    } else {
        BootVerdict::Rebooted
    }
}

/// What the platform does at this wake-up; each duty is handed out once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WakeupDuties {
    /// Re-read SIM, service and connectivity state and feed it (`handle`).
    pub reread_radio: bool,
    /// Collect a device snapshot and call [`Agent::evaluate_compliance`].
    pub evaluate_compliance: bool,
    /// Deliver the outbox and report the attempt with [`Agent::report_delivery`].
    pub deliver_alerts: bool,
    /// An inspection window is open: collect evidence and call `submit_inspection`.
    pub inspect: bool,
    /// Handed actions still await an outcome: carry them out again or report them.
    pub resume_actions: bool,
    /// Ship the journal: send [`Agent::next_upload`]'s requests and report each with
    /// [`Agent::upload_response`] (every `upload.intervalMinutes`, at once after a high
    /// or critical alert, and at each retry).
    pub upload: bool,
}

impl WakeupDuties {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        *self == WakeupDuties::default()
    }
}

/// The answer to [`Agent::wake`].
#[derive(Debug, Clone)]
pub struct Wakeup {
    /// What to do now.
    pub duties: WakeupDuties,
    /// The reboot inference, when a boot instant came with the wake-up.
    pub boot: Option<BootVerdict>,
    /// Alerts the elapsed time (and a reboot) raised.
    pub alerts: Vec<Alert>,
    /// When to arm the timer next.
    pub next_wakeup: Option<Timestamp>,
}

/// How a delivery attempt ended, as the platform's channel saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryResult {
    /// Everything the platform took from the outbox was handed over (or nothing was pending).
    Delivered,
    /// Handed over what it could, and more is waiting: run again at once.
    MoreQueued,
    /// The channel refused or failed: retry with backoff.
    Failed,
    /// The channel allows the next send only at `until` (a rate limit): retry then.
    Throttled {
        /// When the channel accepts again.
        until: Timestamp,
    },
}

/// What the core decided about a delivery attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryVerdict {
    /// Alerts newly acknowledged by this report.
    pub acknowledged: usize,
    /// Consecutive failed attempts so far.
    pub failures: u32,
    /// When delivery is tried again, if it must be.
    pub retry_at: Option<Timestamp>,
    /// When to arm the timer next.
    pub next_wakeup: Option<Timestamp>,
}

/// The answer to [`Agent::report_boot`].
#[derive(Debug, Clone)]
pub struct BootReport {
    /// What the core made of the boot instant.
    pub verdict: BootVerdict,
    /// Alerts the reboot raised.
    pub alerts: Vec<Alert>,
}

/// The wake-up side of the agent, persisted as component `wakeup`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct WakeupState {
    /// When a radio re-read was last handed out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reread_at: Option<Timestamp>,
    /// When compliance was last judged or last asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    compliance_at: Option<Timestamp>,
    /// Consecutive failed delivery attempts.
    #[serde(default)]
    failures: u32,
    /// When delivery is tried again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retry_at: Option<Timestamp>,
    /// The boot instant last reported, and the latest time it was confirmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    boot: Option<(Timestamp, Timestamp)>,
    /// When the last immediate upload was granted (the once-a-minute gate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) immediate_at: Option<Timestamp>,
}

impl State for WakeupState {
    const WHAT: &'static str = "wake-up state";
}

/// The wake-up state and its last committed form.
pub(super) struct WakeupSlot {
    pub(super) state: Persisted<WakeupState>,
}

impl WakeupSlot {
    pub(super) fn restore(json: Option<String>) -> Result<Self> {
        Ok(WakeupSlot {
            state: Persisted::restore(json, WakeupState::default)?,
        })
    }

    /// The form to write, when it differs from the committed one.
    pub(super) fn changed(&self) -> Result<Option<String>> {
        self.state.changed()
    }

    /// Records `json` (from [`WakeupSlot::changed`]) as committed.
    pub(super) fn committed(&mut self, json: String) {
        self.state.committed(json);
    }

    /// Back to the last committed state; an unreadable committed form is `Corrupt`.
    pub(super) fn rollback(&mut self) -> Result<()> {
        self.state.rollback(WakeupState::default)
    }

    /// A compliance pass was made at `now`: the cadence starts again.
    pub(super) fn compliance_judged(&mut self, now: Timestamp) {
        self.state.compliance_at = Some(now);
    }
}

impl Agent {
    fn reread_interval_ms(&self) -> i64 {
        let minutes = self
            .policy
            .active
            .as_ref()
            .map_or(DEFAULT_REREAD_INTERVAL_MINUTES, |p| {
                p.policy().sim.reread_interval_minutes
            });
        i64::from(minutes) * MINUTE_MS
    }

    fn next_reread(&self) -> Timestamp {
        match self.wakeup.state.reread_at {
            Some(at) => at.plus_millis(self.reread_interval_ms()),
            // Never re-read: at once (the guard's clock starts at enrollment).
            None => self.guard.facts().enrolled_at,
        }
    }

    fn compliance_due(&self) -> Option<Timestamp> {
        self.compliance.prepared.as_ref()?;
        Some(match self.wakeup.state.compliance_at {
            Some(at) => at.plus_millis(COMPLIANCE_INTERVAL_MS),
            None => self.guard.facts().enrolled_at,
        })
    }

    /// The wake-up component's own deadlines: the next re-read, the compliance cadence
    /// (served by the first re-read at or after it) and a delivery retry.
    pub(super) fn schedule_deadline(&self) -> Option<Timestamp> {
        let reread = self.next_reread();
        let compliance = self.compliance_due().map(|due| due.max(reread));
        [Some(reread), compliance, self.wakeup.state.retry_at]
            .into_iter()
            .flatten()
            .min()
    }

    /// The platform scheduler woke the agent (at or after [`Agent::next_wakeup`], or at
    /// start): lets time pass, infers a reboot from `boot_time` when given, and says what
    /// to do now. Each duty is handed out once, so a platform that cannot carry one out
    /// is not woken for it again before its next deadline.
    pub fn wake(&mut self, now: Timestamp, boot_time: Option<Timestamp>) -> Result<Wakeup> {
        let mut alerts = Vec::new();
        let boot = match boot_time {
            Some(b) => {
                let report = self.report_boot(b, now)?;
                alerts.extend(report.alerts);
                Some(report.verdict)
            }
            None => None,
        };
        let before = WakeupState::clone(&self.wakeup.state);
        let reread_radio = now >= self.next_reread();
        let evaluate_compliance = self.compliance_due().is_some_and(|due| now >= due);
        let retry_due = self.wakeup.state.retry_at.is_some_and(|at| now >= at);
        let offer_again = reread_radio && self.store.pending_count()? > 0;
        if reread_radio {
            self.wakeup.state.reread_at = Some(now);
        }
        if evaluate_compliance {
            self.wakeup.state.compliance_at = Some(now);
        }
        if retry_due {
            self.wakeup.state.retry_at = None;
        }
        let urgent_before = self.upload.urgent_at;
        let stepped = match self.pass_time(now) {
            Ok(a) => a,
            Err(e) => {
                *self.wakeup.state = before;
                return Err(e);
            }
        };
        alerts.extend(stepped);
        // After the step: an alert it raised makes the upload due now.
        let upload = self.take_upload_duty(now);
        if upload {
            // A failed commit puts the upload state back to what is on disk.
            if let Err(e) = self.persist(now, Vec::new()) {
                self.upload.urgent_at = urgent_before;
                return Err(e);
            }
        }
        let duties = WakeupDuties {
            reread_radio,
            evaluate_compliance,
            deliver_alerts: retry_due || offer_again || !alerts.is_empty(),
            inspect: self.open_inspection_window().is_some(),
            resume_actions: reread_radio && !self.actions_awaiting_outcome().is_empty(),
            upload,
        };
        Ok(Wakeup {
            duties,
            boot,
            alerts,
            next_wakeup: self.next_wakeup(),
        })
    }

    /// The platform reports how a delivery attempt ended: the ids it handed over (they are
    /// acknowledged) and the result. The core keeps the backoff and puts the retry into
    /// [`Agent::next_wakeup`].
    pub fn report_delivery(
        &mut self,
        sent: &[AlertId],
        result: DeliveryResult,
        now: Timestamp,
    ) -> Result<DeliveryVerdict> {
        let acknowledged = if sent.is_empty() {
            0
        } else {
            self.store.ack(sent, now)?
        };
        let state = &mut self.wakeup.state;
        match result {
            DeliveryResult::Delivered => {
                state.failures = 0;
                state.retry_at = None;
            }
            DeliveryResult::MoreQueued => {
                state.failures = 0;
                state.retry_at = Some(now);
            }
            DeliveryResult::Failed => {
                state.failures = state.failures.saturating_add(1);
                state.retry_at = Some(now.plus_millis(retry_delay_ms(state.failures)));
            }
            DeliveryResult::Throttled { until } => {
                state.retry_at = Some(until.max(now));
            }
        }
        self.persist(now, Vec::new())?;
        Ok(DeliveryVerdict {
            acknowledged,
            failures: self.wakeup.state.failures,
            retry_at: self.wakeup.state.retry_at,
            next_wakeup: self.next_wakeup(),
        })
    }

    /// The platform reports the instant the device booted (Android: the wall clock minus
    /// `elapsedRealtime`; iOS: `kern.boottime`), at start and whenever convenient. The
    /// core decides whether the device restarted since the last report; a reboot goes to
    /// the SIM guard (a SIM missing right after boot gets a grace period). A boot instant
    /// after `now` is refused.
    pub fn report_boot(&mut self, boot_time: Timestamp, now: Timestamp) -> Result<BootReport> {
        if boot_time.millis_since(now) > BOOT_TOLERANCE_MS {
            return Err(Error::invalid("boot_time", "is later than now"));
        }
        let verdict = infer_boot(self.wakeup.state.boot, boot_time);
        let confirmed_at = match (verdict, self.wakeup.state.boot) {
            (BootVerdict::SameBoot | BootVerdict::ClockMoved, Some((_, at))) => at.max(now),
            _ => now,
        };
        self.wakeup.state.boot = Some((boot_time, confirmed_at));
        let alerts = if verdict == BootVerdict::Rebooted {
            log::info!("portcullis: the device restarted");
            self.handle(&SimEvent::Reboot, now)?
        } else {
            if verdict == BootVerdict::ClockMoved {
                log::info!("portcullis: the wall clock was set (boot instant moved)");
            }
            self.persist(now, Vec::new())?
        };
        Ok(BootReport { verdict, alerts })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: i64) -> Timestamp {
        Timestamp::from_unix_millis(ms)
    }

    #[test]
    fn backoff_doubles_from_thirty_seconds_to_thirty_minutes() {
        let delays: Vec<i64> = (1..=9).map(retry_delay_ms).collect();
        assert_eq!(
            delays,
            [30, 60, 120, 240, 480, 960, 1_800, 1_800, 1_800].map(|s| s * 1000)
        );
        assert_eq!(retry_delay_ms(u32::MAX), RETRY_MAX_MS);
        assert_eq!(retry_delay_ms(0), RETRY_INITIAL_MS);
    }

    #[test]
    fn boot_inference_tolerates_jitter_and_sees_reboots() {
        let boot = t(1_000_000_000);
        let seen = boot.plus_millis(5 * HOUR_MS);
        assert_eq!(infer_boot(None, boot), BootVerdict::FirstReport);
        for jitter in [-BOOT_TOLERANCE_MS, -1_500, 0, 900, BOOT_TOLERANCE_MS] {
            assert_eq!(
                infer_boot(Some((boot, seen)), boot.plus_millis(jitter)),
                BootVerdict::SameBoot,
                "jitter {jitter}"
            );
        }
        // Restarted after the last confirmation.
        let later = seen.plus_millis(10 * MINUTE_MS);
        assert_eq!(infer_boot(Some((boot, seen)), later), BootVerdict::Rebooted);
        // Just beyond the tolerance, right after a confirmation: a quick restart.
        let quick = boot.plus_millis(BOOT_TOLERANCE_MS + 1);
        assert_eq!(infer_boot(Some((boot, boot)), quick), BootVerdict::Rebooted);
        // The clock set back an hour moves the boot instant back: not a reboot.
        assert_eq!(
            infer_boot(Some((boot, seen)), boot.plus_millis(-HOUR_MS)),
            BootVerdict::ClockMoved
        );
        // Set forward an hour while the phone had been up five: the new instant lies
        // before a time already seen during this boot.
        assert_eq!(
            infer_boot(Some((boot, seen)), boot.plus_millis(HOUR_MS)),
            BootVerdict::ClockMoved
        );
    }
}
