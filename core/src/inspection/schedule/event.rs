//! What the scheduler tells the agent: windows opening, completing, missed, and the
//! escalation when an inspection stays overdue past the grace period.

use serde::{Deserialize, Serialize};

use crate::alert::Severity;
use crate::time::Timestamp;

/// Identifies a window, in the order windows were opened or found missed (from 1).
/// The agent hands it back in [`super::InspectionScheduler::inspection_completed`].
pub type WindowId = u64;

/// Why a window exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WindowKind {
    /// The cycle's routine window, at a secret-drawn time within the cycle.
    Routine {
        /// The cycle number (0 for the first cycle after enrollment).
        cycle: u64,
    },
    /// A retry of the cycle's routine window at the cycle's next allowed time with
    /// room, after it was missed or pushed out by another window.
    MakeUp {
        /// The cycle number.
        cycle: u64,
        /// 1 for the first retry, then 2, ...
        attempt: u32,
    },
    /// Brought forward by a high or critical alert (policy `triggerOnSeverity`).
    Triggered {
        /// When the triggering alert was handed in.
        alert_at: Timestamp,
    },
}

impl WindowKind {
    /// The routine cycle the window serves, if it is routine or a make-up.
    pub fn cycle(self) -> Option<u64> {
        match self {
            WindowKind::Routine { cycle } | WindowKind::MakeUp { cycle, .. } => Some(cycle),
            WindowKind::Triggered { .. } => None,
        }
    }

    /// The stable lower-case name used in exports and the console.
    pub fn as_str(self) -> &'static str {
        match self {
            WindowKind::Routine { .. } => "routine",
            WindowKind::MakeUp { .. } => "make_up",
            WindowKind::Triggered { .. } => "triggered",
        }
    }
}

/// Why a window counts as missed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissReason {
    /// The agent was not running at any time the window could have opened.
    NotOpened,
    /// The window opened but no completed inspection was reported before it closed.
    NotCompleted,
}

/// An output of the scheduler. The agent journals each one; `WindowOpened` starts an
/// inspection, `InspectionOverdue` becomes a compliance violation and an alert, and
/// `OverdueCleared` ends the violation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ScheduleEvent {
    /// A window is open: collect an evidence snapshot and scan it now, then report
    /// [`super::InspectionScheduler::inspection_completed`] before `closes_at`.
    WindowOpened {
        /// The window.
        window: WindowId,
        /// Routine, make-up or triggered.
        kind: WindowKind,
        /// When it opened (the time of the call that opened it).
        opened_at: Timestamp,
        /// When it closes; a completion reported later counts as late.
        closes_at: Timestamp,
    },
    /// An inspection was reported complete.
    InspectionCompleted {
        /// The window it was run for.
        window: WindowId,
        /// When it was reported.
        at: Timestamp,
        /// Whether it came while the window was open (false: a missed window made up late).
        on_time: bool,
    },
    /// A window passed without a completed inspection. The inspection is owed from
    /// `missed_at`; if none completes by `grace_deadline`, `InspectionOverdue` follows.
    WindowMissed {
        /// The window.
        window: WindowId,
        /// Routine, make-up or triggered.
        kind: WindowKind,
        /// Never opened, or opened and not completed.
        reason: MissReason,
        /// When it was missed: its close if it opened, else the last moment it could have opened.
        missed_at: Timestamp,
        /// When the earliest owed inspection becomes overdue.
        grace_deadline: Timestamp,
    },
    /// A routine or make-up window could not open because another window occupied its
    /// whole span; it is retried in the next span of its cycle. Not the device's fault.
    WindowPostponed {
        /// The cycle.
        cycle: u64,
        /// The attempt that could not open (0: the routine window).
        attempt: u32,
        /// The last moment it could have opened.
        at: Timestamp,
    },
    /// Whole cycles passed with the agent never running (a phone switched off for
    /// weeks); they are skipped rather than reported one by one.
    CyclesSkipped {
        /// The first skipped cycle.
        first_cycle: u64,
        /// How many.
        count: u64,
        /// When the skip was decided.
        at: Timestamp,
    },
    /// An alert brought an inspection forward; a window opens by `due_at` at the latest.
    InspectionTriggered {
        /// The alert's severity.
        severity: Severity,
        /// When the alert was handed in.
        alert_at: Timestamp,
        /// When the triggered window opens, unless a window opens first.
        due_at: Timestamp,
    },
    /// Escalation: an owed inspection is still not done after the grace period. The
    /// agent turns this into an `inspection` compliance violation (non-compliant since
    /// `at`, for the policy's escalation ladder) and an alert to the console.
    InspectionOverdue {
        /// The first missed window of the debt.
        window: WindowId,
        /// When that window was missed.
        missed_at: Timestamp,
        /// When the grace period ran out.
        at: Timestamp,
    },
    /// A completed inspection settled an escalated debt: the violation ends.
    OverdueCleared {
        /// The window whose inspection settled it.
        window: WindowId,
        /// When the inspection arrived: the overdue alert's audit trail ends here.
        at: Timestamp,
    },
}

impl ScheduleEvent {
    /// When the event took effect (the time a journal record or alert should carry).
    pub fn at(&self) -> Timestamp {
        match self {
            ScheduleEvent::WindowOpened { opened_at, .. } => *opened_at,
            ScheduleEvent::WindowMissed { missed_at, .. } => *missed_at,
            ScheduleEvent::InspectionTriggered { alert_at, .. } => *alert_at,
            ScheduleEvent::InspectionCompleted { at, .. }
            | ScheduleEvent::WindowPostponed { at, .. }
            | ScheduleEvent::CyclesSkipped { at, .. }
            | ScheduleEvent::InspectionOverdue { at, .. }
            | ScheduleEvent::OverdueCleared { at, .. } => *at,
        }
    }

    /// Whether the event is the escalation the agent must turn into a violation and an alert.
    pub fn is_escalation(&self) -> bool {
        matches!(self, ScheduleEvent::InspectionOverdue { .. })
    }
}

/// A window the preview expects, assuming the agent wakes on time, no alert triggers a
/// window, no preference moves one, and every inspection completes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpcomingWindow {
    /// Routine or make-up.
    pub kind: WindowKind,
    /// When it opens.
    pub starts_at: Timestamp,
    /// When it closes.
    pub ends_at: Timestamp,
}
