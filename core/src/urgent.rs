//! Which alerts ask the MDM for an immediate upload, and how often that may be asked.
//!
//! An Android keyed app state can be sent with `setStatesImmediate`, which makes the
//! device policy controller upload at once instead of at its next sync; the platform
//! allows that at most once a minute. Alerts of [`URGENT_AT_OR_ABOVE`] and higher take the
//! immediate send when the gate is open; while it is closed they stay in the outbox
//! (a lazy send could leave them with the DPC for hours) and the delivery retries when it
//! opens. Other alerts go with a plain send, or ride along an immediate one.

use crate::alert::Severity;
use crate::time::{Timestamp, MINUTE_MS};

/// Alerts at or above this severity are urgent.
pub const URGENT_AT_OR_ABOVE: Severity = Severity::High;

/// The platform's limit between two immediate sends.
pub const IMMEDIATE_INTERVAL_MS: i64 = MINUTE_MS;

/// Whether an alert of `severity` asks for an immediate upload.
pub fn is_urgent(severity: Severity) -> bool {
    severity >= URGENT_AT_OR_ABOVE
}

/// One immediate send per [`IMMEDIATE_INTERVAL_MS`]. The last grant is kept by the
/// platform across restarts and handed back to [`ImmediateGate::new`].
///
/// A wall clock moved back before the last grant opens the gate: holding an urgent alert
/// until the clock catches up (possibly days) would be worse than one extra upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImmediateGate {
    last_sent: Option<Timestamp>,
}

/// What to send now, from one batch of pending alerts (positions in the batch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendPlan {
    /// Whether this send asks for an immediate upload (a grant was taken).
    pub immediate: bool,
    /// The alerts to send now, in batch order.
    pub send: Vec<usize>,
    /// Urgent alerts held back until [`SendPlan::retry_at`].
    pub held: Vec<usize>,
    /// When the gate opens again, if something was held.
    pub retry_at: Option<Timestamp>,
    /// The grant before this plan, for [`ImmediateGate::refund`].
    pub previous_grant: Option<Timestamp>,
}

impl ImmediateGate {
    /// A gate whose last grant was at `last_sent`.
    pub fn new(last_sent: Option<Timestamp>) -> Self {
        ImmediateGate { last_sent }
    }

    /// When the last immediate send was granted.
    pub fn last_sent(&self) -> Option<Timestamp> {
        self.last_sent
    }

    /// The earliest time an immediate send is allowed (`now` when allowed now).
    pub fn next_allowed_at(&self, now: Timestamp) -> Timestamp {
        match self.last_sent {
            Some(last) if now >= last => now.max(last.plus_millis(IMMEDIATE_INTERVAL_MS)),
            _ => now,
        }
    }

    /// Whether an immediate send is allowed at `now`; a grant is recorded.
    pub fn try_acquire(&mut self, now: Timestamp) -> bool {
        if self.next_allowed_at(now) > now {
            return false;
        }
        self.last_sent = Some(now);
        true
    }

    /// Gives back the grant taken at `granted_at` when its send did not happen at all.
    pub fn refund(&mut self, granted_at: Timestamp, previous: Option<Timestamp>) {
        if self.last_sent == Some(granted_at) {
            self.last_sent = previous;
        }
    }

    /// Splits a batch of alerts (their severities, in order): everything goes when
    /// nothing is urgent or the gate grants an immediate send; otherwise the urgent ones
    /// wait for the gate.
    pub fn plan(&mut self, severities: &[Severity], now: Timestamp) -> SendPlan {
        let previous_grant = self.last_sent;
        let any_urgent = severities.iter().any(|s| is_urgent(*s));
        let immediate = any_urgent && self.try_acquire(now);
        let (send, held): (Vec<usize>, Vec<usize>) = (0..severities.len())
            .partition(|&i| immediate || !any_urgent || !is_urgent(severities[i]));
        let retry_at = (!held.is_empty()).then(|| self.next_allowed_at(now));
        SendPlan {
            immediate,
            send,
            held,
            retry_at,
            previous_grant,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(seconds: i64) -> Timestamp {
        Timestamp::from_unix_millis(1_780_000_000_000 + seconds * 1000)
    }

    #[test]
    fn high_and_critical_are_urgent() {
        assert!(!is_urgent(Severity::Medium));
        assert!(is_urgent(Severity::High));
        assert!(is_urgent(Severity::Critical));
    }

    #[test]
    fn one_grant_a_minute_and_a_clock_moved_back_opens_the_gate() {
        let mut gate = ImmediateGate::default();
        assert!(gate.try_acquire(t(0)));
        assert!(!gate.try_acquire(t(59)));
        assert_eq!(gate.next_allowed_at(t(59)), t(60));
        assert!(gate.try_acquire(t(60)));
        assert_eq!(gate.last_sent(), Some(t(60)));
        // The clock went back an hour: no waiting until it catches up.
        assert_eq!(gate.next_allowed_at(t(-3600)), t(-3600));
        assert!(gate.try_acquire(t(-3600)));
    }

    #[test]
    fn a_refund_restores_the_previous_grant_only_for_its_own_grant() {
        let mut gate = ImmediateGate::new(Some(t(0)));
        assert!(gate.try_acquire(t(100)));
        gate.refund(t(99), Some(t(0)));
        assert_eq!(gate.last_sent(), Some(t(100)));
        gate.refund(t(100), Some(t(0)));
        assert_eq!(gate.last_sent(), Some(t(0)));
        assert!(gate.try_acquire(t(100)));
    }

    #[test]
    fn urgent_alerts_wait_for_the_gate_and_the_rest_go_plainly() {
        let batch = [Severity::Low, Severity::High, Severity::Medium];
        let mut gate = ImmediateGate::new(Some(t(0)));
        let held = gate.plan(&batch, t(30));
        assert!(!held.immediate);
        assert_eq!(held.send, vec![0, 2]);
        assert_eq!(held.held, vec![1]);
        assert_eq!(held.retry_at, Some(t(60)));
        let open = gate.plan(&batch, t(60));
        assert!(open.immediate);
        assert_eq!(open.send, vec![0, 1, 2]);
        assert_eq!(open.previous_grant, Some(t(0)));
        assert_eq!(open.retry_at, None);
        // Nothing urgent: a plain send of everything, no grant taken.
        let plain = gate.plan(&[Severity::Info], t(61));
        assert!(!plain.immediate && plain.held.is_empty());
        assert_eq!(gate.last_sent(), Some(t(60)));
    }
}
