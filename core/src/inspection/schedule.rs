//! The inspection scheduler: when forensic-inspection windows open.
//!
//! A pure state machine in the sans-IO style. Inputs carry the current time
//! ([`InspectionScheduler::on_time`], [`on_alert`](InspectionScheduler::on_alert),
//! [`on_conditions`](InspectionScheduler::on_conditions),
//! [`inspection_completed`](InspectionScheduler::inspection_completed)); outputs are
//! [`ScheduleEvent`]s and [`InspectionScheduler::next_deadline`], the time the native
//! scheduler (WorkManager, BGTaskScheduler) should wake the agent. The state is a
//! serde struct the agent stores; the secret the windows are drawn from
//! ([`ScheduleKey`]) is derived from the device key and passed to each call, never stored.
//!
//! The rules, in short (docs/inspection.md, "Schedule", has them in full):
//! - Time is cut into **cycles** of `cadenceDays` local days. Each day has one
//!   **span** of allowed local hours (`allowedLocalHours`, which may wrap past
//!   midnight), converted to UTC with the offset in force at each instant (a DST
//!   change inside a span shortens or lengthens it).
//! - Each cycle gets one **routine window** of `windowMinutes`, its start drawn
//!   uniformly (to the minute) over every start in the cycle's spans that keeps the
//!   whole window inside one span, by HMAC-SHA-256 of the cycle number under the key.
//! - **Preferences**: with the phone charging on Wi-Fi, a window may open up to
//!   [`PREFERENCE_FLEX_MINUTES`] before its drawn start; when the phone reports it is
//!   not, the window waits up to as long after its start for them. Never outside its span.
//! - **Triggered windows**: an alert at or above `triggerOnSeverity` schedules a
//!   window at a drawn time within `triggeredInspectionDelayMinutes`; any window
//!   opening after the alert satisfies it. Triggered windows ignore allowed hours.
//! - One window at a time. A window not opened in its span, or opened and not
//!   completed before it closes, is **missed**: a **make-up** window follows at the
//!   cycle's next allowed time with room (later that night, or the next night), and if
//!   no inspection completes within `gracePeriodHours` of the miss, the scheduler
//!   **escalates** ([`ScheduleEvent::InspectionOverdue`]).

mod clock;
mod event;
mod key;
#[cfg(test)]
mod tests;

use std::ops::Range;

use serde::{Deserialize, Serialize};

pub use clock::{LocalClock, OffsetChange, UtcOffset, DAY_MS, MAX_OFFSET_MINUTES};
pub use event::{MissReason, ScheduleEvent, UpcomingWindow, WindowId, WindowKind};
pub use key::ScheduleKey;

use clock::{ceil_minute, floor_minute, Span};
use key::Draw;

use super::rules::{InspectionRules, LocalHours, TriggerSeverity};
use crate::alert::Severity;
use crate::error::{Error, Result};
use crate::time::{Timestamp, HOUR_MS, MINUTE_MS};

/// How far, in minutes, a window may open before or after its drawn start to meet
/// the preferred conditions (charging, on Wi-Fi); it never leaves its span.
pub const PREFERENCE_FLEX_MINUTES: u32 = 60;

const FLEX_MS: i64 = PREFERENCE_FLEX_MINUTES as i64 * MINUTE_MS;
/// Missed windows remembered for late completion (older ones are settled by any later inspection anyway).
const REMEMBERED_MISSES: usize = 16;
/// Bound on the steps one call takes to catch up with time (each settles one window or deadline).
const MAX_CATCH_UP_STEPS: usize = 64;
/// Cycles searched for room before giving up (with valid rules the first or second has room).
const CYCLE_SEARCH: u64 = 8;

/// The policy's inspection rules as the scheduler uses them (policy `inspection` section).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleRules {
    /// Local days per cycle; one routine window per cycle.
    pub cadence_days: u32,
    /// Length of a window, in minutes.
    pub window_minutes: u32,
    /// The local hours windows may fall in (`from` inclusive, `until` exclusive, may wrap).
    pub allowed_local_hours: LocalHours,
    /// Upper bound of the drawn delay between a triggering alert and its window, in minutes.
    pub triggered_delay_minutes: u32,
    /// Lowest alert severity that triggers a window.
    pub trigger_on_severity: TriggerSeverity,
    /// Hours a missed inspection may stay owed before the scheduler escalates.
    pub grace_period_hours: u32,
}

impl ScheduleRules {
    /// The scheduler's rules from a policy's `inspection` section, checked as policy validation does.
    pub fn from_policy(rules: &InspectionRules) -> Result<Self> {
        let out = ScheduleRules {
            cadence_days: rules.cadence_days,
            window_minutes: rules.window_minutes,
            allowed_local_hours: rules.allowed_local_hours,
            triggered_delay_minutes: rules.triggered_inspection_delay_minutes,
            trigger_on_severity: rules.trigger_on_severity,
            grace_period_hours: rules.grace_period_hours,
        };
        out.validate()?;
        Ok(out)
    }

    /// Checks the bounds the scheduler relies on (the policy document's own bounds).
    pub fn validate(&self) -> Result<()> {
        if !(1..=365).contains(&self.cadence_days) {
            return Err(Error::invalid(
                "inspection.cadenceDays",
                "must be between 1 and 365",
            ));
        }
        if !(5..=1440).contains(&self.window_minutes) {
            return Err(Error::invalid(
                "inspection.windowMinutes",
                "must be between 5 and 1440",
            ));
        }
        let h = self.allowed_local_hours;
        if h.from > 23 || !(1..=24).contains(&h.until) || (h.from == h.until % 24 && h.until != 24)
        {
            return Err(Error::invalid(
                "inspection.allowedLocalHours",
                "from must be 0-23 and until 1-24, and they must differ",
            ));
        }
        if self.window_minutes > h.hours() * 60 {
            return Err(Error::invalid(
                "inspection.windowMinutes",
                "the window is longer than allowedLocalHours",
            ));
        }
        if self.triggered_delay_minutes > 10_080 {
            return Err(Error::invalid(
                "inspection.triggeredInspectionDelayMinutes",
                "must be at most 10080 (one week)",
            ));
        }
        if self.grace_period_hours > 720 {
            return Err(Error::invalid(
                "inspection.gracePeriodHours",
                "must be at most 720 (30 days)",
            ));
        }
        Ok(())
    }

    fn window_ms(&self) -> i64 {
        i64::from(self.window_minutes) * MINUTE_MS
    }

    fn grace_ms(&self) -> i64 {
        i64::from(self.grace_period_hours) * HOUR_MS
    }

    /// The fields that decide where routine windows fall.
    fn shape(&self) -> (u32, u32, LocalHours) {
        (
            self.cadence_days,
            self.window_minutes,
            self.allowed_local_hours,
        )
    }
}

/// What the native layer reports about the phone: power, network and local clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conditions {
    /// On external power.
    pub charging: bool,
    /// On Wi-Fi (an unmetered network), so uploading results costs the staff member nothing.
    pub on_wifi: bool,
    /// The offset in force and the next known change.
    pub clock: LocalClock,
}

impl Conditions {
    /// Whether a window may open early / need not wait: charging and on Wi-Fi.
    pub fn preferred(&self) -> bool {
        self.charging && self.on_wifi
    }
}

/// The window currently open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenWindow {
    /// Its id, to hand back on completion.
    pub id: WindowId,
    /// Routine, make-up or triggered.
    pub kind: WindowKind,
    /// When it opened.
    pub opened_at: Timestamp,
    /// When it closes.
    pub closes_at: Timestamp,
}

/// An owed inspection: the first window missed since the last completed inspection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overdue {
    /// The first missed window.
    pub window: WindowId,
    /// When it was missed (see [`ScheduleEvent::WindowMissed`]).
    pub missed_at: Timestamp,
    /// When the grace period runs out.
    pub deadline: Timestamp,
    /// Whether the scheduler has escalated (emitted `InspectionOverdue`).
    pub escalated: bool,
}

/// The next routine or make-up window, as drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Plan {
    cycle: u64,
    attempt: u32,
    /// The earliest time the draw allowed (the window may not open before it).
    floor: Timestamp,
    /// The drawn start.
    start: Timestamp,
    /// The allowed span the window lies in.
    span_start: Timestamp,
    span_end: Timestamp,
}

impl Plan {
    fn kind(&self) -> WindowKind {
        if self.attempt == 0 {
            WindowKind::Routine { cycle: self.cycle }
        } else {
            WindowKind::MakeUp {
                cycle: self.cycle,
                attempt: self.attempt,
            }
        }
    }

    /// The last start that keeps the whole window inside the span.
    fn last_chance(&self, window_ms: i64) -> Timestamp {
        let last = floor_minute(self.span_end.as_unix_millis() - window_ms);
        Timestamp::from_unix_millis(last).max(self.start)
    }

    /// The earliest opening, with preferred conditions.
    fn earliest(&self) -> Timestamp {
        self.span_start
            .max(self.start.plus_millis(-FLEX_MS))
            .max(self.floor)
    }

    /// When the window opens whatever the conditions.
    fn forced(&self, window_ms: i64) -> Timestamp {
        self.last_chance(window_ms)
            .min(self.start.plus_millis(FLEX_MS))
    }

    fn can_open(&self, now: Timestamp, preferred: Option<bool>, window_ms: i64) -> bool {
        if now > self.last_chance(window_ms) || now < self.earliest() {
            false
        } else if now >= self.forced(window_ms) {
            true
        } else if now >= self.start {
            preferred != Some(false)
        } else {
            preferred == Some(true)
        }
    }

    fn wake_at(&self, preferred: Option<bool>, window_ms: i64) -> Timestamp {
        match preferred {
            Some(true) => self.earliest(),
            None => self.start,
            Some(false) => self.forced(window_ms),
        }
    }
}

/// A triggered window waiting to open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct PendingTrigger {
    alert_at: Timestamp,
    due_at: Timestamp,
}

/// Starts a draw may pick in one span: `count` whole minutes from `first`.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    span: Span,
    first: i64,
    count: u64,
}

/// The scheduler's state: everything needed to continue after a restart. Serialise
/// it with serde after each call; restore it and keep calling with the same key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InspectionScheduler {
    rules: ScheduleRules,
    clock: LocalClock,
    /// Charging and on Wi-Fi, as last reported; `None` until the first report.
    preferred: Option<bool>,
    /// The latest time handed in (earlier times are clamped to it).
    last_seen: Timestamp,
    /// Cycle `anchor_cycle` starts on local day `anchor_night`.
    anchor_night: i64,
    anchor_cycle: u64,
    /// The routine cycle planned, open or being retried.
    cycle: u64,
    plan: Option<Plan>,
    open: Option<OpenWindow>,
    /// When the last window stopped occupying the phone (completed or closed).
    busy_until: Timestamp,
    /// Missed windows of the current cycle (a late completion of one satisfies the cycle).
    cycle_missed: Vec<WindowId>,
    /// Recently missed windows, any kind (a late completion of one settles the debt).
    recent_missed: Vec<WindowId>,
    overdue: Option<Overdue>,
    trigger: Option<PendingTrigger>,
    /// The id the next window gets.
    next_window: WindowId,
    /// Triggered-window delays drawn so far (the draw counter).
    triggers_drawn: u64,
}

impl InspectionScheduler {
    /// A scheduler starting at `now` (enrollment, or the first policy with inspection
    /// rules). The first cycle begins with the first allowed span that starts after `now`.
    pub fn new(
        rules: ScheduleRules,
        clock: LocalClock,
        now: Timestamp,
        key: &ScheduleKey,
    ) -> Result<Self> {
        rules.validate()?;
        let mut scheduler = InspectionScheduler {
            rules,
            clock,
            preferred: None,
            last_seen: now,
            anchor_night: 0,
            anchor_cycle: 0,
            cycle: 0,
            plan: None,
            open: None,
            busy_until: now,
            cycle_missed: Vec::new(),
            recent_missed: Vec::new(),
            overdue: None,
            trigger: None,
            next_window: 1,
            triggers_drawn: 0,
        };
        scheduler.anchor_night = scheduler.first_night_from(now);
        scheduler.plan_cycle(0, now, key, &mut Vec::new());
        Ok(scheduler)
    }

    /// The rules in force.
    pub fn rules(&self) -> &ScheduleRules {
        &self.rules
    }

    /// The local clock as last reported.
    pub fn clock(&self) -> &LocalClock {
        &self.clock
    }

    /// The window currently open, if any.
    pub fn open_window(&self) -> Option<&OpenWindow> {
        self.open.as_ref()
    }

    /// The owed inspection, if a window was missed since the last completed one.
    pub fn overdue(&self) -> Option<&Overdue> {
        self.overdue.as_ref()
    }

    /// The next routine or make-up window as drawn (before preferences move it).
    /// For tests and diagnostics: never show it to the staff member or send it off
    /// the phone, or the windows stop being unpredictable.
    pub fn next_window(&self) -> Option<UpcomingWindow> {
        self.plan.map(|p| UpcomingWindow {
            kind: p.kind(),
            starts_at: p.start,
            ends_at: p.start.plus_millis(self.rules.window_ms()),
        })
    }

    /// When the platform scheduler should wake the agent next (`None` only if no
    /// window fits the next cycles, which valid rules rule out).
    pub fn next_deadline(&self) -> Option<Timestamp> {
        let window_ms = self.rules.window_ms();
        let mut next: Option<Timestamp> = None;
        let mut consider = |t: Timestamp| next = Some(next.map_or(t, |n| n.min(t)));
        match &self.open {
            Some(w) => consider(w.closes_at),
            None => {
                if let Some(t) = &self.trigger {
                    consider(t.due_at);
                }
                if let Some(p) = &self.plan {
                    consider(p.wake_at(self.preferred, window_ms));
                }
            }
        }
        if let Some(o) = self.overdue.filter(|o| !o.escalated) {
            consider(o.deadline);
        }
        next
    }

    /// The frame of every input at `now` (clamped to the latest time seen): settles what
    /// came due before it, runs `act`, then opens the window due, if any.
    fn advance(
        &mut self,
        now: Timestamp,
        key: &ScheduleKey,
        act: impl FnOnce(&mut Self, Timestamp, &mut Vec<ScheduleEvent>),
    ) -> Vec<ScheduleEvent> {
        let now = self.clamp(now);
        let mut out = Vec::new();
        self.catch_up(now, key, &mut out);
        act(self, now, &mut out);
        self.open_due(now, key, &mut out);
        out
    }

    /// Lets time pass: opens windows that are due, closes expired ones, escalates.
    /// Call at [`next_deadline`](Self::next_deadline), or any time.
    pub fn on_time(&mut self, now: Timestamp, key: &ScheduleKey) -> Vec<ScheduleEvent> {
        self.advance(now, key, |_, _, _| {})
    }

    /// An alert was raised at `now`. At or above the policy's trigger severity, a
    /// triggered window is scheduled within the policy's delay (unless one is pending).
    pub fn on_alert(
        &mut self,
        severity: Severity,
        now: Timestamp,
        key: &ScheduleKey,
    ) -> Vec<ScheduleEvent> {
        self.advance(now, key, |s, now, out| {
            if s.rules.trigger_on_severity.triggers(severity) && s.trigger.is_none() {
                let draw = s.triggers_drawn;
                s.triggers_drawn += 1;
                let choices = u64::from(s.rules.triggered_delay_minutes) + 1;
                let minutes = key.below(choices, Draw::Trigger, draw, 0) as i64;
                let due_at = now.plus_millis(minutes * MINUTE_MS);
                s.trigger = Some(PendingTrigger {
                    alert_at: now,
                    due_at,
                });
                out.push(ScheduleEvent::InspectionTriggered {
                    severity,
                    alert_at: now,
                    due_at,
                });
            }
        })
    }

    /// The console asked for an inspection now (a signed `start_inspection`): a
    /// triggered window is due at once, replacing a pending trigger's later draw. If a
    /// window is already open, it serves.
    pub fn trigger_now(&mut self, now: Timestamp, key: &ScheduleKey) -> Vec<ScheduleEvent> {
        self.advance(now, key, |s, now, out| {
            s.trigger = Some(PendingTrigger {
                alert_at: now,
                due_at: now,
            });
            out.push(ScheduleEvent::InspectionTriggered {
                severity: Severity::High,
                alert_at: now,
                due_at: now,
            });
        })
    }

    /// The native layer reports power, network and local clock. A new offset (travel,
    /// DST) re-plans the next window if it no longer falls inside allowed hours.
    pub fn on_conditions(
        &mut self,
        conditions: Conditions,
        now: Timestamp,
        key: &ScheduleKey,
    ) -> Vec<ScheduleEvent> {
        self.advance(now, key, |s, now, out| {
            s.preferred = Some(conditions.preferred());
            if conditions.clock != s.clock {
                s.clock = conditions.clock;
                s.revalidate_plan(now, key, out);
            }
        })
    }

    /// The inspection for `window` completed at `now`. On time while the window is
    /// open; for a recently missed window it counts late and settles what is owed.
    /// A repeated report changes nothing. Fails only for an id never handed out.
    pub fn inspection_completed(
        &mut self,
        window: WindowId,
        now: Timestamp,
        key: &ScheduleKey,
    ) -> Result<Vec<ScheduleEvent>> {
        if window == 0 || window >= self.next_window {
            return Err(Error::invalid(
                "window_id",
                "no window with this id has opened or been missed",
            ));
        }
        // Settle what came due before this report first (a window still open has `closes_at > now`).
        Ok(self.advance(now, key, |s, now, out| match s.open {
            Some(w) if w.id == window => {
                s.open = None;
                s.busy_until = now;
                out.push(ScheduleEvent::InspectionCompleted {
                    window,
                    at: now,
                    on_time: true,
                });
                s.settle(window, now, out);
                if let Some(cycle) = w.kind.cycle() {
                    s.plan_cycle(cycle + 1, now, key, out);
                }
            }
            _ => {
                if s.recent_missed.contains(&window) {
                    out.push(ScheduleEvent::InspectionCompleted {
                        window,
                        at: now,
                        on_time: false,
                    });
                    let satisfies_cycle = s.cycle_missed.contains(&window);
                    s.settle(window, now, out);
                    if satisfies_cycle && s.plan.is_some_and(|p| p.cycle == s.cycle) {
                        s.plan_cycle(s.cycle + 1, now, key, out);
                    }
                }
            }
        }))
    }

    /// Applies new rules from a policy. Unchanged rules change nothing; new cadence,
    /// window length or hours restart the cycles from the first span after `now`.
    pub fn set_rules(
        &mut self,
        rules: ScheduleRules,
        now: Timestamp,
        key: &ScheduleKey,
    ) -> Result<Vec<ScheduleEvent>> {
        rules.validate()?;
        Ok(self.advance(now, key, |s, now, out| {
            let reshape = rules.shape() != s.rules.shape();
            s.rules = rules;
            if reshape {
                let floor = now
                    .max(s.busy_until)
                    .max(s.open.map_or(now, |w| w.closes_at));
                s.anchor_night = s.first_night_from(floor);
                match (s.plan.take(), s.open.and_then(|w| w.kind.cycle())) {
                    (Some(p), _) if p.attempt == 0 => {
                        s.anchor_cycle = p.cycle;
                        s.plan_cycle(p.cycle, floor, key, out);
                    }
                    (Some(p), _) => {
                        s.anchor_cycle = p.cycle + 1;
                        s.plan_cycle(p.cycle + 1, floor, key, out);
                    }
                    (None, Some(open_cycle)) => s.anchor_cycle = open_cycle + 1,
                    (None, None) => {
                        s.anchor_cycle = s.cycle;
                        s.plan_cycle(s.cycle, floor, key, out);
                    }
                }
            }
        }))
    }

    /// The next `count` windows, assuming the agent wakes on time, no alert, no
    /// preference, and every inspection completing: what `portcullis schedule` prints.
    pub fn upcoming(&self, count: usize, key: &ScheduleKey) -> Vec<UpcomingWindow> {
        let mut sim = self.clone();
        sim.preferred = None;
        sim.trigger = None;
        if let Some(w) = sim.open.filter(|w| sim.last_seen < w.closes_at) {
            let _ = sim.inspection_completed(w.id, sim.last_seen, key);
        }
        let mut out = Vec::with_capacity(count);
        for _ in 0..count.saturating_mul(4).saturating_add(8) {
            if out.len() >= count {
                break;
            }
            let Some(plan) = sim.plan else { break };
            let at = plan.start.max(sim.last_seen);
            for event in sim.on_time(at, key) {
                if let ScheduleEvent::WindowOpened {
                    window,
                    kind,
                    opened_at,
                    closes_at,
                } = event
                {
                    out.push(UpcomingWindow {
                        kind,
                        starts_at: opened_at,
                        ends_at: closes_at,
                    });
                    let _ = sim.inspection_completed(window, opened_at, key);
                }
            }
        }
        out
    }

    // -----------------------------------------------------------------------------
    // Steps

    fn clamp(&mut self, now: Timestamp) -> Timestamp {
        let now = now.max(self.last_seen);
        self.last_seen = now;
        now
    }

    /// Settles, in time order, what happened while the agent was not called: windows
    /// that closed, plans whose span passed, grace periods that ran out. Nothing opens
    /// here: a window can only open at the time of a call.
    fn catch_up(&mut self, now: Timestamp, key: &ScheduleKey, out: &mut Vec<ScheduleEvent>) {
        let window_ms = self.rules.window_ms();
        for _ in 0..MAX_CATCH_UP_STEPS {
            let close = self.open.map(|w| w.closes_at).filter(|t| *t <= now);
            let lapse = self
                .plan
                .map(|p| p.last_chance(window_ms))
                .filter(|t| *t < now);
            let escalate = self
                .overdue
                .filter(|o| !o.escalated && o.deadline <= now)
                .map(|o| o.deadline);
            let next = [(close, 0u8), (lapse, 1), (escalate, 2)]
                .into_iter()
                .filter_map(|(t, rank)| t.map(|t| (t, rank)))
                .min();
            match next {
                None => return,
                Some((_, 0)) => self.close_unfinished(now, key, out),
                Some((_, 1)) => self.lapse_plan(now, key, out),
                Some(_) => self.escalate(out),
            }
        }
        log::warn!("portcullis: inspection scheduler stopped catching up after too many steps");
    }

    /// Opens the plan's window or a due triggered one, if the phone is free.
    fn open_due(&mut self, now: Timestamp, key: &ScheduleKey, out: &mut Vec<ScheduleEvent>) {
        if self.plan.is_none() && self.open.and_then(|w| w.kind.cycle()).is_none() {
            // Only after a failed search for room: try again.
            self.plan_cycle(self.cycle, now, key, out);
        }
        if self.open.is_some() {
            return;
        }
        if let Some(plan) = self.plan {
            if plan.can_open(now, self.preferred, self.rules.window_ms()) {
                self.plan = None;
                // Any window opening after an alert answers it.
                self.trigger = None;
                self.start_window(plan.kind(), now, out);
                return;
            }
        }
        if let Some(trigger) = self.trigger.filter(|t| t.due_at <= now) {
            self.trigger = None;
            self.start_window(
                WindowKind::Triggered {
                    alert_at: trigger.alert_at,
                },
                now,
                out,
            );
        }
    }

    fn start_window(&mut self, kind: WindowKind, now: Timestamp, out: &mut Vec<ScheduleEvent>) {
        let window = self.take_id();
        let closes_at = now.plus_millis(self.rules.window_ms());
        self.open = Some(OpenWindow {
            id: window,
            kind,
            opened_at: now,
            closes_at,
        });
        out.push(ScheduleEvent::WindowOpened {
            window,
            kind,
            opened_at: now,
            closes_at,
        });
    }

    /// The open window closed without a completed inspection.
    fn close_unfinished(
        &mut self,
        now: Timestamp,
        key: &ScheduleKey,
        out: &mut Vec<ScheduleEvent>,
    ) {
        let Some(w) = self.open.take() else { return };
        self.busy_until = w.closes_at;
        self.record_miss(w.id, w.kind, MissReason::NotCompleted, w.closes_at, out);
        match w.kind {
            WindowKind::Routine { cycle } => {
                self.plan_make_up(cycle, 1, w.closes_at.max(now), key, out);
            }
            WindowKind::MakeUp { cycle, attempt } => {
                self.plan_make_up(cycle, attempt + 1, w.closes_at.max(now), key, out);
            }
            WindowKind::Triggered { .. } => {}
        }
    }

    /// The plan's last chance to open passed: missed if the phone was free, postponed if
    /// another window held it the whole time.
    fn lapse_plan(&mut self, now: Timestamp, key: &ScheduleKey, out: &mut Vec<ScheduleEvent>) {
        let Some(plan) = self.plan.take() else { return };
        let window_ms = self.rules.window_ms();
        let last = plan.last_chance(window_ms);
        if self.open.is_some() || self.busy_until > last {
            out.push(ScheduleEvent::WindowPostponed {
                cycle: plan.cycle,
                attempt: plan.attempt,
                at: last,
            });
            let floor = now
                .max(self.busy_until)
                .max(self.open.map_or(now, |w| w.closes_at));
            self.plan_make_up(plan.cycle, plan.attempt + 1, floor, key, out);
        } else {
            let id = self.take_id();
            self.record_miss(id, plan.kind(), MissReason::NotOpened, last, out);
            self.plan_make_up(plan.cycle, plan.attempt + 1, last.max(now), key, out);
        }
    }

    fn escalate(&mut self, out: &mut Vec<ScheduleEvent>) {
        if let Some(o) = &mut self.overdue {
            o.escalated = true;
            out.push(ScheduleEvent::InspectionOverdue {
                window: o.window,
                missed_at: o.missed_at,
                at: o.deadline,
            });
        }
    }

    fn record_miss(
        &mut self,
        window: WindowId,
        kind: WindowKind,
        reason: MissReason,
        missed_at: Timestamp,
        out: &mut Vec<ScheduleEvent>,
    ) {
        let grace = self.rules.grace_ms();
        let owed = self.overdue.get_or_insert(Overdue {
            window,
            missed_at,
            deadline: missed_at.plus_millis(grace),
            escalated: false,
        });
        out.push(ScheduleEvent::WindowMissed {
            window,
            kind,
            reason,
            missed_at,
            grace_deadline: owed.deadline,
        });
        remember(&mut self.recent_missed, window);
        if kind.cycle().is_some() {
            remember(&mut self.cycle_missed, window);
        }
    }

    /// A completed inspection settles every earlier miss.
    fn settle(&mut self, window: WindowId, now: Timestamp, out: &mut Vec<ScheduleEvent>) {
        self.recent_missed.clear();
        if let Some(o) = self.overdue.take() {
            if o.escalated {
                out.push(ScheduleEvent::OverdueCleared { window, at: now });
            }
        }
    }

    fn take_id(&mut self) -> WindowId {
        let id = self.next_window;
        self.next_window += 1;
        id
    }

    // -----------------------------------------------------------------------------
    // Planning

    /// The local days of `cycle` (negative offsets from the anchor are allowed).
    fn cycle_nights(&self, cycle: u64) -> Range<i64> {
        let n = i64::from(self.rules.cadence_days);
        let index = cycle as i64 - self.anchor_cycle as i64;
        let first = self.anchor_night.saturating_add(index.saturating_mul(n));
        first..first.saturating_add(n)
    }

    /// The first local day whose allowed span starts at or after `t`.
    fn first_night_from(&self, t: Timestamp) -> i64 {
        let day = self.clock.local_day(t);
        let hours = self.rules.allowed_local_hours;
        (day - 2..day + 3)
            .find(|night| {
                self.clock
                    .spans(hours, *night)
                    .first()
                    .is_some_and(|s| s.start >= t.as_unix_millis())
            })
            .unwrap_or(day + 1)
    }

    /// Every whole-minute start in `nights`, at or after `floor`, that keeps the window
    /// inside one allowed span.
    fn candidates(&self, nights: Range<i64>, floor: Timestamp) -> Vec<Candidate> {
        let window_ms = self.rules.window_ms();
        let hours = self.rules.allowed_local_hours;
        let mut out = Vec::new();
        for night in nights {
            for span in self.clock.spans(hours, night) {
                let first = ceil_minute(span.start.max(floor.as_unix_millis()));
                let last = floor_minute(span.end - window_ms);
                if last >= first {
                    let count = ((last - first) / MINUTE_MS) as u64 + 1;
                    out.push(Candidate { span, first, count });
                }
            }
        }
        out
    }

    /// Draws one start uniformly over `candidates` for `(cycle, attempt)`.
    fn draw(
        &self,
        candidates: &[Candidate],
        key: &ScheduleKey,
        cycle: u64,
        attempt: u32,
        floor: Timestamp,
    ) -> Option<Plan> {
        let total: u64 = candidates.iter().map(|c| c.count).sum();
        if total == 0 {
            return None;
        }
        let mut index = key.below(total, Draw::Window, cycle, u64::from(attempt));
        for c in candidates {
            if index < c.count {
                return Some(Plan {
                    cycle,
                    attempt,
                    floor,
                    start: Timestamp::from_unix_millis(c.first + index as i64 * MINUTE_MS),
                    span_start: Timestamp::from_unix_millis(c.span.start),
                    span_end: Timestamp::from_unix_millis(c.span.end),
                });
            }
            index -= c.count;
        }
        None
    }

    /// Plans the routine window of the first cycle from `min_cycle` with room after
    /// `floor`; cycles wholly in the past are skipped and reported once.
    fn plan_cycle(
        &mut self,
        min_cycle: u64,
        floor: Timestamp,
        key: &ScheduleKey,
        out: &mut Vec<ScheduleEvent>,
    ) {
        let min_cycle = min_cycle.max(self.anchor_cycle);
        let n = i64::from(self.rules.cadence_days);
        // Local days more than three before `floor` cannot hold a start after it, even
        // across the widest offset change (36 hours).
        let floor_night = self.clock.local_day(floor) - 3;
        let past = (floor_night - self.anchor_night).max(0) / n;
        let first = min_cycle.max(self.anchor_cycle + past as u64);
        for cycle in first..first + CYCLE_SEARCH {
            let candidates = self.candidates(self.cycle_nights(cycle), floor);
            if let Some(plan) = self.draw(&candidates, key, cycle, 0, floor) {
                if cycle > min_cycle {
                    out.push(ScheduleEvent::CyclesSkipped {
                        first_cycle: min_cycle,
                        count: cycle - min_cycle,
                        at: floor,
                    });
                }
                if cycle != self.cycle {
                    self.cycle_missed.clear();
                }
                self.cycle = cycle;
                self.plan = Some(plan);
                return;
            }
        }
        log::warn!("portcullis: no inspection window fits the next cycles; retrying later");
        self.cycle = min_cycle;
        self.plan = None;
    }

    /// Plans a retry of `cycle`'s window in the next span of the cycle after `floor`,
    /// or moves on to the next cycle when none is left.
    fn plan_make_up(
        &mut self,
        cycle: u64,
        attempt: u32,
        floor: Timestamp,
        key: &ScheduleKey,
        out: &mut Vec<ScheduleEvent>,
    ) {
        if cycle >= self.anchor_cycle {
            let nights = self.cycle_nights(cycle);
            let from = nights.start.max(self.clock.local_day(floor) - 2);
            for night in from..nights.end {
                let candidates = self.candidates(night..night + 1, floor);
                if let Some(plan) = self.draw(&candidates, key, cycle, attempt, floor) {
                    self.plan = Some(plan);
                    return;
                }
            }
        }
        self.plan_cycle(cycle + 1, floor, key, out);
    }

    /// After the clock changed: keep the plan if it is still inside allowed hours with
    /// time left to open, otherwise draw it again from now.
    fn revalidate_plan(&mut self, now: Timestamp, key: &ScheduleKey, out: &mut Vec<ScheduleEvent>) {
        let Some(plan) = self.plan else { return };
        let window_ms = self.rules.window_ms();
        let hours = self.rules.allowed_local_hours;
        let start = plan.start.as_unix_millis();
        let night = self.clock.local_day(plan.start);
        let still = (night - 2..night + 2)
            .flat_map(|d| self.clock.spans(hours, d))
            .find(|s| s.start <= start && start + window_ms <= s.end);
        if let Some(span) = still {
            let kept = Plan {
                span_start: Timestamp::from_unix_millis(span.start),
                span_end: Timestamp::from_unix_millis(span.end),
                ..plan
            };
            if kept.last_chance(window_ms) >= now {
                self.plan = Some(kept);
                return;
            }
        }
        self.plan = None;
        let floor = plan.floor.max(now);
        if plan.attempt == 0 {
            self.plan_cycle(plan.cycle, floor, key, out);
        } else {
            self.plan_make_up(plan.cycle, plan.attempt, floor, key, out);
        }
    }
}

fn remember(list: &mut Vec<WindowId>, window: WindowId) {
    if list.len() >= REMEMBERED_MISSES {
        list.remove(0);
    }
    list.push(window);
}
