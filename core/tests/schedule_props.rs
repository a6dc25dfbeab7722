//! Property tests of the inspection scheduler over random policies, clocks and
//! input sequences: windows never overlap, routine windows stay inside allowed local
//! hours (with the offset in force), keep to the cadence within the jitter bound,
//! differ between devices, and a restored state has the same future.

use portcullis_core::inspection::schedule::{
    Conditions, InspectionScheduler, LocalClock, MissReason, OffsetChange, ScheduleEvent,
    ScheduleKey, ScheduleRules, UtcOffset, WindowKind, DAY_MS,
};
use portcullis_core::policy::model::{LocalHours, TriggerSeverity};
use portcullis_core::time::{HOUR_MS, MINUTE_MS};
use portcullis_core::{Severity, Timestamp};
use proptest::prelude::*;

/// 2026-01-01T00:00:00Z.
const BASE: i64 = 1_767_225_600_000;

fn rules() -> impl Strategy<Value = ScheduleRules> {
    (
        1u32..=21,
        0u8..24,
        1u32..=24,
        any::<u32>(),
        0u32..=240,
        0u32..=72,
        any::<bool>(),
    )
        .prop_map(|(cadence, from, len, w, delay, grace, critical)| {
            let from = if len == 24 { 0 } else { from };
            let end = u32::from(from) + len;
            let until = if end > 24 { end - 24 } else { end } as u8;
            let span = len * 60;
            ScheduleRules {
                cadence_days: cadence,
                window_minutes: 5 + w % (span.min(1440) - 4),
                allowed_local_hours: LocalHours { from, until },
                triggered_delay_minutes: delay,
                trigger_on_severity: if critical {
                    TriggerSeverity::Critical
                } else {
                    TriggerSeverity::High
                },
                grace_period_hours: grace,
            }
        })
}

/// Offsets from -12:00 to +14:00 in quarter hours.
fn offset() -> impl Strategy<Value = UtcOffset> {
    (-48i32..=56).prop_map(|q| UtcOffset::from_minutes(q * 15).unwrap())
}

fn key() -> impl Strategy<Value = ScheduleKey> {
    any::<[u8; 32]>().prop_map(|b| ScheduleKey::from_bytes(&b))
}

#[derive(Debug, Clone)]
enum Step {
    /// Time passes without the agent running.
    Sleep(i64),
    /// The platform wakes the agent at its deadline (or now, if that is later).
    Wake,
    /// The agent runs for some other reason.
    Tick,
    Alert(Severity),
    /// Power, network and clock: an offset, optionally with a change announced some hours ahead.
    Report(bool, bool, UtcOffset, Option<(i64, UtcOffset)>),
    /// The native layer finishes the open window's inspection after some minutes.
    Complete(i64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        2 => (1i64..3_000).prop_map(Step::Sleep),
        8 => Just(Step::Wake),
        1 => Just(Step::Tick),
        1 => prop_oneof![Just(Severity::Medium), Just(Severity::High), Just(Severity::Critical)]
            .prop_map(Step::Alert),
        2 => (any::<bool>(), any::<bool>(), offset(), prop::option::of((0i64..72, offset())))
            .prop_map(|(c, w, o, ch)| Step::Report(c, w, o, ch)),
        4 => (0i64..120).prop_map(Step::Complete),
    ]
}

/// Applies one step; returns the events and the time it ran at.
fn apply(
    s: &mut InspectionScheduler,
    step: &Step,
    t: &mut i64,
    k: &ScheduleKey,
) -> Vec<ScheduleEvent> {
    let now = |t: i64| Timestamp::from_unix_millis(t);
    match step {
        Step::Sleep(minutes) => {
            *t += minutes * MINUTE_MS;
            Vec::new()
        }
        Step::Wake => {
            if let Some(d) = s.next_deadline() {
                *t = (*t).max(d.as_unix_millis());
            }
            s.on_time(now(*t), k)
        }
        Step::Tick => s.on_time(now(*t), k),
        Step::Alert(severity) => s.on_alert(*severity, now(*t), k),
        Step::Report(charging, on_wifi, offset, change) => {
            let clock = match change {
                Some((hours, next)) => LocalClock::with_change(
                    *offset,
                    OffsetChange {
                        at: now(*t + hours * HOUR_MS),
                        offset: *next,
                    },
                ),
                None => LocalClock::fixed(*offset),
            };
            let conditions = Conditions {
                charging: *charging,
                on_wifi: *on_wifi,
                clock,
            };
            s.on_conditions(conditions, now(*t), k)
        }
        Step::Complete(minutes) => match s.open_window().copied() {
            Some(w) => {
                *t += minutes * MINUTE_MS;
                s.inspection_completed(w.id, now(*t), k).unwrap()
            }
            None => Vec::new(),
        },
    }
}

fn local_hour(clock: &LocalClock, t: i64) -> u8 {
    let o = i64::from(clock.offset_at(Timestamp::from_unix_millis(t)).minutes()) * MINUTE_MS;
    ((t + o).rem_euclid(DAY_MS) / HOUR_MS) as u8
}

/// Whether every instant of `[s, e)` has an allowed local hour under `clock`. Walks the
/// stretches over which the local hour stays the same: each ends at the next local hour
/// boundary under the offset in force, or at the offset change if that comes first.
fn inside_allowed(clock: &LocalClock, hours: LocalHours, s: i64, e: i64) -> bool {
    let change = clock.next_change.map(|c| c.at.as_unix_millis());
    let mut t = s;
    while t < e {
        if !hours.contains(local_hour(clock, t)) {
            return false;
        }
        let o = i64::from(clock.offset_at(Timestamp::from_unix_millis(t)).minutes()) * MINUTE_MS;
        let boundary = t - (t + o).rem_euclid(HOUR_MS) + HOUR_MS;
        t = match change {
            Some(c) if c > t => boundary.min(c),
            _ => boundary,
        };
    }
    true
}

/// A window as the agent saw it: opened, then finished (completed or closed).
#[derive(Debug)]
struct Seen {
    id: u64,
    kind: WindowKind,
    opened: i64,
    closes: i64,
    finished: Option<i64>,
    clock: LocalClock,
}

fn record(seen: &mut Vec<Seen>, events: &[ScheduleEvent], clock: LocalClock) {
    for e in events {
        match e {
            ScheduleEvent::WindowOpened {
                window,
                kind,
                opened_at,
                closes_at,
            } => seen.push(Seen {
                id: *window,
                kind: *kind,
                opened: opened_at.as_unix_millis(),
                closes: closes_at.as_unix_millis(),
                finished: None,
                clock,
            }),
            ScheduleEvent::InspectionCompleted {
                window,
                at,
                on_time: true,
            } => {
                let w = seen.iter_mut().find(|w| w.id == *window).unwrap();
                w.finished = Some(at.as_unix_millis());
            }
            ScheduleEvent::WindowMissed {
                window,
                reason: MissReason::NotCompleted,
                missed_at,
                ..
            } => {
                let w = seen.iter_mut().find(|w| w.id == *window).unwrap();
                w.finished = Some(missed_at.as_unix_millis());
            }
            _ => {}
        }
    }
}

fn start(minutes: i64) -> Timestamp {
    Timestamp::from_unix_millis(BASE + minutes * MINUTE_MS)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    /// Whatever the inputs (sleeps, alerts, travel, DST, late or missing completions),
    /// windows never overlap, routine and make-up windows lie inside allowed hours in
    /// the local time of the offset in force when they opened, triggered windows open
    /// after their alert, and escalation comes exactly a grace period after the miss.
    #[test]
    fn windows_never_overlap_and_stay_inside_allowed_hours(
        r in rules(),
        o in offset(),
        k in key(),
        from in 0i64..525_600,
        steps in prop::collection::vec(step(), 1..120),
    ) {
        let mut t = start(from).as_unix_millis();
        let mut s = InspectionScheduler::new(r, LocalClock::fixed(o), start(from), &k).unwrap();
        let mut seen = Vec::new();
        for step in &steps {
            let events = apply(&mut s, step, &mut t, &k);
            record(&mut seen, &events, *s.clock());
            for e in &events {
                match e {
                    ScheduleEvent::InspectionTriggered { alert_at, due_at, .. } => {
                        let delay = due_at.millis_since(*alert_at);
                        prop_assert!(delay >= 0);
                        prop_assert!(delay <= i64::from(r.triggered_delay_minutes) * MINUTE_MS);
                    }
                    ScheduleEvent::InspectionOverdue { missed_at, at, .. } => {
                        prop_assert_eq!(
                            at.millis_since(*missed_at),
                            i64::from(r.grace_period_hours) * HOUR_MS
                        );
                    }
                    _ => {}
                }
            }
            let called = match step {
                Step::Sleep(_) => false,
                Step::Complete(_) => !events.is_empty() || s.open_window().is_some(),
                _ => true,
            };
            if called {
                // After a call, nothing is left due: the next wake is strictly later.
                let d = s.next_deadline().expect("a deadline");
                prop_assert!(d.as_unix_millis() > t, "deadline {} not after {}", d, t);
            }
        }
        let window_ms = i64::from(r.window_minutes) * MINUTE_MS;
        for pair in seen.windows(2) {
            let end = pair[0].finished.unwrap_or(pair[0].closes);
            prop_assert!(pair[1].opened >= end, "{:?} overlaps {:?}", pair[0], pair[1]);
        }
        for w in &seen {
            prop_assert_eq!(w.closes - w.opened, window_ms);
            match w.kind {
                WindowKind::Triggered { alert_at } => {
                    prop_assert!(w.opened >= alert_at.as_unix_millis());
                }
                _ => prop_assert!(
                    inside_allowed(&w.clock, r.allowed_local_hours, w.opened, w.closes),
                    "{:?} outside {:?}: {} .. {}",
                    w, r.allowed_local_hours,
                    w.clock.local_text(Timestamp::from_unix_millis(w.opened)),
                    w.clock.local_text(Timestamp::from_unix_millis(w.closes))
                ),
            }
        }
    }

    /// With one offset and every inspection on time, routine window `k` starts within
    /// the jitter bound of `anchor + k * cadence`: the bound is the cycle's spans,
    /// `(cadence - 1)` days plus the allowed hours, less one window.
    #[test]
    fn routine_windows_keep_the_cadence_within_the_jitter_bound(
        r in rules(),
        o in offset(),
        k in key(),
        from in 0i64..525_600,
    ) {
        let now = start(from);
        let clock = LocalClock::fixed(o);
        let s = InspectionScheduler::new(r, clock, now, &k).unwrap();
        let windows = s.upcoming(12, &k);
        prop_assert_eq!(windows.len(), 12);
        // The anchor: the first local `from` o'clock at or after `now`.
        let off = i64::from(o.minutes()) * MINUTE_MS;
        let from_ms = i64::from(r.allowed_local_hours.from) * HOUR_MS;
        let local = now.as_unix_millis() + off;
        let mut anchor = local - local.rem_euclid(DAY_MS) + from_ms - off;
        if anchor < now.as_unix_millis() {
            anchor += DAY_MS;
        }
        let cadence = i64::from(r.cadence_days) * DAY_MS;
        let jitter = (i64::from(r.cadence_days) - 1) * DAY_MS
            + i64::from(r.allowed_local_hours.hours()) * HOUR_MS
            - i64::from(r.window_minutes) * MINUTE_MS;
        for (i, w) in windows.iter().enumerate() {
            prop_assert_eq!(w.kind, WindowKind::Routine { cycle: i as u64 });
            let late = w.starts_at.as_unix_millis() - (anchor + i as i64 * cadence);
            prop_assert!((0..=jitter).contains(&late), "window {} is {} ms after its cycle start (bound {})", i, late, jitter);
            prop_assert_eq!(w.starts_at.as_unix_millis() % MINUTE_MS, 0);
            prop_assert!(inside_allowed(&clock, r.allowed_local_hours, w.starts_at.as_unix_millis(), w.ends_at.as_unix_millis()));
        }
    }

    /// Two devices under the same policy, from the same moment, do not share a schedule
    /// (when the policy leaves at least an hour of choice per cycle).
    #[test]
    fn devices_with_different_secrets_have_different_schedules(
        r in rules(),
        o in offset(),
        a in any::<[u8; 32]>(),
        b in any::<[u8; 32]>(),
        from in 0i64..525_600,
    ) {
        prop_assume!(a != b);
        prop_assume!(r.allowed_local_hours.hours() * 60 >= r.window_minutes + 60);
        let clock = LocalClock::fixed(o);
        let (ka, kb) = (ScheduleKey::from_bytes(&a), ScheduleKey::from_bytes(&b));
        let sa = InspectionScheduler::new(r, clock, start(from), &ka).unwrap();
        let sb = InspectionScheduler::new(r, clock, start(from), &kb).unwrap();
        let (wa, wb) = (sa.upcoming(8, &ka), sb.upcoming(8, &kb));
        prop_assert_eq!(wa.len(), 8);
        prop_assert_ne!(wa, wb);
    }

    /// Saving and restoring the state at any point changes nothing that follows.
    #[test]
    fn restoring_state_at_any_point_gives_the_same_events(
        r in rules(),
        o in offset(),
        k in key(),
        from in 0i64..525_600,
        steps in prop::collection::vec(step(), 1..80),
        split in any::<prop::sample::Index>(),
    ) {
        let cut = split.index(steps.len() + 1);
        let mut t = start(from).as_unix_millis();
        let mut whole = InspectionScheduler::new(r, LocalClock::fixed(o), start(from), &k).unwrap();
        let expected: Vec<ScheduleEvent> =
            steps.iter().flat_map(|st| apply(&mut whole, st, &mut t, &k)).collect();

        let mut t = start(from).as_unix_millis();
        let mut first = InspectionScheduler::new(r, LocalClock::fixed(o), start(from), &k).unwrap();
        let mut got: Vec<ScheduleEvent> =
            steps[..cut].iter().flat_map(|st| apply(&mut first, st, &mut t, &k)).collect();
        let saved = serde_json::to_string(&first).unwrap();
        let mut restored: InspectionScheduler = serde_json::from_str(&saved).unwrap();
        prop_assert_eq!(&restored, &first);
        got.extend(steps[cut..].iter().flat_map(|st| apply(&mut restored, st, &mut t, &k)));
        prop_assert_eq!(got, expected);
        prop_assert_eq!(restored.next_deadline(), whole.next_deadline());
    }
}
