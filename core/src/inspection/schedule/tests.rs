//! Scenario tests of the scheduler on a fake clock.

use super::*;
use crate::time::HOUR_MS;

fn key(byte: u8) -> ScheduleKey {
    ScheduleKey::from_bytes(&[byte; 32])
}

fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

fn offset(text: &str) -> UtcOffset {
    UtcOffset::parse(text).unwrap()
}

fn rules(cadence_days: u32, window_minutes: u32, from: u8, until: u8) -> ScheduleRules {
    ScheduleRules {
        cadence_days,
        window_minutes,
        allowed_local_hours: LocalHours { from, until },
        triggered_delay_minutes: 120,
        trigger_on_severity: TriggerSeverity::High,
        grace_period_hours: 24,
    }
}

fn local_hour(clock: &LocalClock, t: i64) -> u8 {
    let o = clock.offset_at(Timestamp::from_unix_millis(t)).millis();
    ((t + o).rem_euclid(DAY_MS) / HOUR_MS) as u8
}

/// Every instant of `[start, end)` has an allowed local hour under `clock`: checked at
/// each point where the answer can change (local hour boundaries, the offset change).
fn assert_inside(clock: &LocalClock, hours: LocalHours, start: Timestamp, end: Timestamp) {
    let (s, e) = (start.as_unix_millis(), end.as_unix_millis());
    let mut points = vec![s, e - 1];
    let mut offsets = vec![clock.offset];
    if let Some(c) = clock.next_change {
        offsets.push(c.offset);
        points.extend([c.at.as_unix_millis(), c.at.as_unix_millis() - 1]);
    }
    for o in offsets {
        let mut b = s - (s + o.millis()).rem_euclid(HOUR_MS) + HOUR_MS;
        while b < e {
            points.extend([b, b - 1]);
            b += HOUR_MS;
        }
    }
    for t in points.into_iter().filter(|t| (s..e).contains(t)) {
        assert!(
            hours.contains(local_hour(clock, t)),
            "{} is outside {hours:?} in window {}..{}",
            clock.local_text(Timestamp::from_unix_millis(t)),
            clock.local_text(start),
            clock.local_text(end)
        );
    }
}

/// Wakes the scheduler at its deadlines until a window opens; returns the window.
fn wake_until_open(s: &mut InspectionScheduler, k: &ScheduleKey) -> OpenWindow {
    for _ in 0..50 {
        let t = s.next_deadline().expect("a deadline");
        s.on_time(t, k);
        if let Some(w) = s.open_window() {
            return *w;
        }
    }
    panic!("no window opened");
}

fn opened(events: &[ScheduleEvent]) -> Vec<(WindowId, WindowKind, Timestamp)> {
    events
        .iter()
        .filter_map(|e| match e {
            ScheduleEvent::WindowOpened {
                window,
                kind,
                opened_at,
                ..
            } => Some((*window, *kind, *opened_at)),
            _ => None,
        })
        .collect()
}

#[test]
fn windows_wrap_past_midnight() {
    let k = key(1);
    let clock = LocalClock::fixed(offset("+02:00"));
    let hours = LocalHours { from: 23, until: 2 };
    let s = InspectionScheduler::new(rules(1, 120, 23, 2), clock, at("2026-05-01T12:00:00Z"), &k)
        .unwrap();
    let windows = s.upcoming(20, &k);
    assert_eq!(windows.len(), 20);
    let mut crossing = 0;
    for (i, w) in windows.iter().enumerate() {
        assert_eq!(w.kind, WindowKind::Routine { cycle: i as u64 });
        assert_eq!(w.ends_at.millis_since(w.starts_at), 120 * MINUTE_MS);
        assert_inside(&clock, hours, w.starts_at, w.ends_at);
        if clock.local_day(w.starts_at) != clock.local_day(w.ends_at.plus_millis(-1)) {
            crossing += 1;
        }
    }
    assert!(
        crossing > 0,
        "some windows start before and end after midnight"
    );

    // A window exactly as long as the span always starts at `from`, ending the next day.
    let s = InspectionScheduler::new(
        rules(1, 7 * 60, 22, 5),
        clock,
        at("2026-05-01T12:00:00Z"),
        &k,
    )
    .unwrap();
    for w in s.upcoming(3, &k) {
        assert!(clock.local_text(w.starts_at).ends_with("T22:00+02:00"));
        assert!(clock.local_text(w.ends_at).ends_with("T05:00+02:00"));
    }
}

#[test]
fn an_announced_dst_change_shortens_the_night() {
    // Central Europe springs forward on 2026-03-29: 02:00 +01:00 becomes 03:00 +02:00,
    // so the span 01:00-05:00 lasts 3 hours that night and a 3-hour window fits once.
    let k = key(2);
    let change = OffsetChange {
        at: at("2026-03-29T01:00:00Z"),
        offset: offset("+02:00"),
    };
    let clock = LocalClock::with_change(offset("+01:00"), change);
    let hours = LocalHours { from: 1, until: 5 };
    let s = InspectionScheduler::new(rules(1, 180, 1, 5), clock, at("2026-03-27T12:00:00Z"), &k)
        .unwrap();
    let windows = s.upcoming(4, &k);
    let texts: Vec<String> = windows
        .iter()
        .map(|w| clock.local_text(w.starts_at))
        .collect();
    assert_eq!(texts[1], "2026-03-29T01:00+01:00", "{texts:?}");
    assert_eq!(
        clock.local_text(windows[1].ends_at),
        "2026-03-29T05:00+02:00"
    );
    for w in &windows {
        assert_inside(&clock, hours, w.starts_at, w.ends_at);
    }
    // After the change, local 01:00-02:00 (+02:00) starts at 23:00Z the evening before.
    assert!(windows[2].starts_at >= at("2026-03-29T23:00:00Z"));
    assert!(windows[2].starts_at <= at("2026-03-30T00:00:00Z"));
}

#[test]
fn an_offset_change_mid_cycle_replans_the_next_window() {
    // Weekly cycles; the phone reports summer time (unannounced) in the middle of a cycle.
    let k = key(3);
    let hours = LocalHours { from: 1, until: 5 };
    let winter = LocalClock::fixed(offset("+01:00"));
    let summer = LocalClock::fixed(offset("+02:00"));
    let start = at("2026-03-01T12:00:00Z");
    let mut checked = 0;
    for byte in 0..40u8 {
        let k = key(byte);
        let mut s = InspectionScheduler::new(rules(7, 210, 1, 5), winter, start, &k).unwrap();
        // Complete the first cycle's window, so the second is planned under winter time.
        let first = wake_until_open(&mut s, &k);
        s.inspection_completed(first.id, first.opened_at, &k)
            .unwrap();
        let planned = s.next_window().unwrap();
        // The switch, reported when it happens: before the planned window.
        let switch = planned.starts_at.plus_millis(-2 * HOUR_MS);
        let events = s.on_conditions(
            Conditions {
                charging: false,
                on_wifi: false,
                clock: summer,
            },
            switch.max(first.opened_at),
            &k,
        );
        assert!(opened(&events).is_empty());
        let w = wake_until_open(&mut s, &k);
        assert_inside(&summer, hours, w.opened_at, w.closes_at);
        if w.opened_at != planned.starts_at {
            checked += 1;
        }
    }
    // A 210-minute window in a 240-minute span: most winter plans are invalid in summer.
    assert!(checked > 10, "re-planned {checked} of 40");
    let _ = k;
}

#[test]
fn travel_replans_and_keeps_still_valid_plans() {
    let k = key(4);
    let paris = LocalClock::fixed(offset("+01:00"));
    let s0 = InspectionScheduler::new(rules(3, 60, 0, 24), paris, at("2026-06-01T10:00:00Z"), &k)
        .unwrap();
    // With every hour allowed, a plan still inside one local day under the new offset
    // is kept as it was: a DST report does not reshuffle windows needlessly.
    let mut s = s0.clone();
    let before = s.next_window().unwrap();
    let shifted = LocalClock::fixed(offset("+01:30"));
    s.on_conditions(
        Conditions {
            charging: true,
            on_wifi: false,
            clock: shifted,
        },
        at("2026-06-01T11:00:00Z"),
        &k,
    );
    let after = s.next_window().unwrap();
    let same_day =
        shifted.local_day(before.starts_at) == shifted.local_day(before.ends_at.plus_millis(-1));
    assert_eq!(after == before, same_day, "{before:?} {after:?}");

    // Night hours and a flight to Tokyo: the next window lands in Tokyo's night.
    let night = LocalHours { from: 2, until: 4 };
    let mut s = InspectionScheduler::new(rules(2, 60, 2, 4), paris, at("2026-06-01T10:00:00Z"), &k)
        .unwrap();
    let tokyo = LocalClock::fixed(offset("+09:00"));
    s.on_conditions(
        Conditions {
            charging: false,
            on_wifi: true,
            clock: tokyo,
        },
        at("2026-06-01T12:00:00Z"),
        &k,
    );
    let planned = s.next_window().unwrap();
    assert_inside(&tokyo, night, planned.starts_at, planned.ends_at);
    let w = wake_until_open(&mut s, &k);
    assert_inside(&tokyo, night, w.opened_at, w.closes_at);
}

#[test]
fn triggered_windows_open_within_the_delay_at_any_hour() {
    let k = key(5);
    let clock = LocalClock::fixed(UtcOffset::UTC);
    let mut r = rules(30, 60, 1, 5);
    r.triggered_delay_minutes = 120;
    let mut s = InspectionScheduler::new(r, clock, at("2026-04-01T00:00:00Z"), &k).unwrap();
    let routine = s.next_window().unwrap();
    let noon = at("2026-04-01T12:00:00Z");
    assert!(routine.starts_at > noon.plus_millis(3 * HOUR_MS));

    // A medium alert does not trigger.
    assert!(s.on_alert(Severity::Medium, noon, &k).is_empty());
    // A critical one (a SIM swap) does, within two hours.
    let events = s.on_alert(Severity::Critical, noon, &k);
    let due = match events.as_slice() {
        [ScheduleEvent::InspectionTriggered {
            severity: Severity::Critical,
            alert_at,
            due_at,
        }] if *alert_at == noon => *due_at,
        other => panic!("{other:?}"),
    };
    assert!(due >= noon && due <= noon.plus_millis(120 * MINUTE_MS));
    assert_eq!(s.next_deadline(), Some(due));
    // A second alert while one is pending adds nothing.
    assert!(s
        .on_alert(Severity::High, noon.plus_millis(MINUTE_MS), &k)
        .is_empty());
    let events = s.on_time(due, &k);
    assert_eq!(
        opened(&events),
        vec![(1, WindowKind::Triggered { alert_at: noon }, due)]
    );
    s.inspection_completed(1, due.plus_millis(5 * MINUTE_MS), &k)
        .unwrap();
    // The routine window is unchanged: an alert does not tell an attacker when it comes.
    assert_eq!(s.next_window(), Some(routine));

    // With zero delay the window opens at once.
    let mut r0 = r;
    r0.triggered_delay_minutes = 0;
    r0.trigger_on_severity = TriggerSeverity::Critical;
    let mut s = InspectionScheduler::new(r0, clock, at("2026-04-01T00:00:00Z"), &k).unwrap();
    assert!(s.on_alert(Severity::High, noon, &k).is_empty());
    let events = s.on_alert(Severity::Critical, noon, &k);
    assert_eq!(opened(&events).len(), 1);
}

#[test]
fn a_routine_window_opening_after_an_alert_answers_it() {
    let k = key(6);
    let clock = LocalClock::fixed(UtcOffset::UTC);
    let mut r = rules(1, 60, 1, 5);
    r.triggered_delay_minutes = 10_080;
    let mut s = InspectionScheduler::new(r, clock, at("2026-04-01T00:30:00Z"), &k).unwrap();
    let routine = s.next_window().unwrap();
    let alert = routine.starts_at.plus_millis(-MINUTE_MS);
    let events = s.on_alert(Severity::High, alert, &k);
    let due = match events.as_slice() {
        [ScheduleEvent::InspectionTriggered { due_at, .. }] => *due_at,
        other => panic!("{other:?}"),
    };
    if due < routine.starts_at {
        return; // The draw put the triggered window first; nothing to check here.
    }
    let events = s.on_time(routine.starts_at, &k);
    assert_eq!(opened(&events)[0].1, routine.kind);
    s.inspection_completed(opened(&events)[0].0, routine.starts_at, &k)
        .unwrap();
    // The trigger is answered: no triggered window follows.
    assert_ne!(s.next_deadline(), Some(due));
    let events = s.on_time(due, &k);
    assert!(opened(&events)
        .iter()
        .all(|(_, kind, _)| !matches!(kind, WindowKind::Triggered { .. })));
}

#[test]
fn a_missed_window_escalates_after_the_grace_period_and_clears_on_completion() {
    let clock = LocalClock::fixed(offset("-05:00"));
    let hours = LocalHours { from: 1, until: 5 };
    let mut r = rules(30, 60, 1, 5);
    r.grace_period_hours = 48;
    let start = at("2026-02-01T00:00:00Z");
    // A device whose first window leaves nights in the cycle for make-ups.
    let (k, mut s) = (20..)
        .map(|b| {
            let k = key(b);
            let s = InspectionScheduler::new(r, clock, start, &k).unwrap();
            (k, s)
        })
        .find(|(_, s)| s.next_window().unwrap().starts_at < start.plus_millis(20 * DAY_MS))
        .unwrap();
    let w = wake_until_open(&mut s, &k);
    // Nobody reports a completion: at the close, the window is missed.
    assert_eq!(s.next_deadline(), Some(w.closes_at));
    let events = s.on_time(w.closes_at, &k);
    let deadline = w.closes_at.plus_millis(48 * HOUR_MS);
    assert_eq!(
        events,
        vec![ScheduleEvent::WindowMissed {
            window: w.id,
            kind: w.kind,
            reason: MissReason::NotCompleted,
            missed_at: w.closes_at,
            grace_deadline: deadline,
        }]
    );
    // A make-up window follows in the next span with room (the same night or the next).
    let make_up = s.next_window().unwrap();
    assert_eq!(
        make_up.kind,
        WindowKind::MakeUp {
            cycle: 0,
            attempt: 1
        }
    );
    assert!(make_up.starts_at >= w.closes_at);
    assert!(make_up.starts_at < w.closes_at.plus_millis(DAY_MS));
    assert_inside(&clock, hours, make_up.starts_at, make_up.ends_at);
    assert_eq!(s.overdue().unwrap().deadline, deadline);

    // The phone is off through the make-up: missed too, the debt's deadline unchanged.
    let events = s.on_time(make_up.ends_at.plus_millis(HOUR_MS), &k);
    assert!(
        matches!(
            events.as_slice(),
            [ScheduleEvent::WindowMissed {
                reason: MissReason::NotOpened,
                grace_deadline,
                ..
            }] if *grace_deadline == deadline
        ),
        "{events:?}"
    );
    // The grace period runs out: escalation, once.
    assert!(s.next_deadline().unwrap() <= deadline);
    let events = s.on_time(deadline, &k);
    assert!(events.contains(&ScheduleEvent::InspectionOverdue {
        window: w.id,
        missed_at: w.closes_at,
        at: deadline,
    }));
    assert_eq!(events.iter().filter(|e| e.is_escalation()).count(), 1);
    assert!(s
        .on_time(deadline.plus_millis(HOUR_MS), &k)
        .iter()
        .all(|e| !e.is_escalation()));

    // The next make-up completes: the violation ends, the cycle is satisfied.
    let next = wake_until_open(&mut s, &k);
    assert!(
        matches!(next.kind, WindowKind::MakeUp { cycle: 0, .. }),
        "{next:?} {w:?}"
    );
    let done = next.opened_at.plus_millis(MINUTE_MS);
    let events = s.inspection_completed(next.id, done, &k).unwrap();
    assert_eq!(
        events,
        vec![
            ScheduleEvent::InspectionCompleted {
                window: next.id,
                at: done,
                on_time: true,
            },
            ScheduleEvent::OverdueCleared {
                window: next.id,
                at: done,
            },
        ]
    );
    assert!(s.overdue().is_none());
    assert_eq!(
        s.next_window().unwrap().kind,
        WindowKind::Routine { cycle: 1 }
    );
}

#[test]
fn zero_grace_escalates_at_the_miss_and_late_completion_settles_it() {
    let k = key(8);
    let clock = LocalClock::fixed(UtcOffset::UTC);
    let mut r = rules(7, 60, 1, 5);
    r.grace_period_hours = 0;
    let mut s = InspectionScheduler::new(r, clock, at("2026-02-01T00:00:00Z"), &k).unwrap();
    let w = wake_until_open(&mut s, &k);
    let events = s.on_time(w.closes_at, &k);
    assert!(matches!(events[0], ScheduleEvent::WindowMissed { .. }));
    assert!(events[1].is_escalation());
    // The agent finishes the scan an hour late: the debt is settled, the make-up dropped.
    let late = w.closes_at.plus_millis(HOUR_MS);
    let events = s.inspection_completed(w.id, late, &k).unwrap();
    assert_eq!(
        events,
        vec![
            ScheduleEvent::InspectionCompleted {
                window: w.id,
                at: late,
                on_time: false,
            },
            ScheduleEvent::OverdueCleared {
                window: w.id,
                at: late,
            },
        ]
    );
    assert_eq!(
        s.next_window().unwrap().kind,
        WindowKind::Routine { cycle: 1 }
    );
    // A repeated report changes nothing; an unknown id is refused without echoing it.
    assert!(s.inspection_completed(w.id, late, &k).unwrap().is_empty());
    let err = s.inspection_completed(987_654, late, &k).unwrap_err();
    assert!(!err.to_string().contains("987654"), "{err}");
}

#[test]
fn late_completion_before_the_deadline_prevents_escalation() {
    let k = key(9);
    let clock = LocalClock::fixed(UtcOffset::UTC);
    let mut s = InspectionScheduler::new(rules(7, 60, 1, 5), clock, at("2026-02-01T00:00:00Z"), &k)
        .unwrap();
    let w = wake_until_open(&mut s, &k);
    s.on_time(w.closes_at, &k);
    let deadline = s.overdue().unwrap().deadline;
    let events = s.inspection_completed(w.id, w.closes_at, &k).unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(s.overdue().is_none());
    let events = s.on_time(deadline.plus_millis(HOUR_MS), &k);
    assert!(events.iter().all(|e| !e.is_escalation()));
}

#[test]
fn a_window_pushed_out_by_a_triggered_one_is_postponed_not_missed() {
    // One possible start per night: 01:00 UTC. A triggered window holds 00:30-01:30.
    let k = key(10);
    let clock = LocalClock::fixed(UtcOffset::UTC);
    let mut r = rules(30, 60, 1, 2);
    r.triggered_delay_minutes = 0;
    let mut s = InspectionScheduler::new(r, clock, at("2026-02-01T12:00:00Z"), &k).unwrap();
    let routine = s.next_window().unwrap();
    let alert = routine.starts_at.plus_millis(-30 * MINUTE_MS);
    s.on_alert(Severity::Critical, alert, &k);
    let triggered = *s.open_window().unwrap();
    assert!(matches!(triggered.kind, WindowKind::Triggered { .. }));
    // The routine start comes while the phone is busy: nothing opens.
    assert!(opened(&s.on_time(routine.starts_at, &k)).is_empty());
    let done = routine.starts_at.plus_millis(20 * MINUTE_MS);
    let events = s.inspection_completed(triggered.id, done, &k).unwrap();
    assert_eq!(
        events,
        vec![
            ScheduleEvent::WindowPostponed {
                cycle: 0,
                attempt: 0,
                at: routine.starts_at,
            },
            ScheduleEvent::InspectionCompleted {
                window: triggered.id,
                at: done,
                on_time: true,
            },
        ]
    );
    assert!(s.overdue().is_none());
    let next = s.next_window().unwrap();
    assert_eq!(
        next.kind,
        WindowKind::MakeUp {
            cycle: 0,
            attempt: 1
        }
    );
    assert_eq!(next.starts_at, routine.starts_at.plus_millis(DAY_MS));
}

#[test]
fn preferences_move_a_window_within_the_flex() {
    let k = key(11);
    let clock = LocalClock::fixed(UtcOffset::UTC);
    let base = InspectionScheduler::new(rules(5, 30, 0, 24), clock, at("2026-02-01T12:00:00Z"), &k)
        .unwrap();
    let planned = base.next_window().unwrap().starts_at;
    let flex = i64::from(PREFERENCE_FLEX_MINUTES) * MINUTE_MS;
    let report = |charging, on_wifi| Conditions {
        charging,
        on_wifi,
        clock,
    };
    let before = at("2026-02-01T12:30:00Z");

    // Unknown conditions: the window opens at its drawn start.
    assert_eq!(base.next_deadline(), Some(planned));

    // Charging on Wi-Fi: up to an hour early (never before its span or the floor).
    let mut s = base.clone();
    s.on_conditions(report(true, true), before, &k);
    let early = s.next_deadline().unwrap();
    assert!(early >= planned.plus_millis(-flex) && early <= planned);
    let events = s.on_time(early, &k);
    assert_eq!(opened(&events)[0].2, early);

    // Not charging: the window waits for the conditions, at most an hour.
    let mut s = base.clone();
    s.on_conditions(report(false, true), before, &k);
    assert!(opened(&s.on_time(planned, &k)).is_empty());
    let forced = s.next_deadline().unwrap();
    assert!(forced > planned && forced <= planned.plus_millis(flex));
    let plugged = planned.plus_millis(10 * MINUTE_MS).min(forced);
    let events = s.on_conditions(report(true, true), plugged, &k);
    assert_eq!(opened(&events)[0].2, plugged);

    // Never plugged in: it opens at the end of the flex regardless.
    let mut s = base.clone();
    s.on_conditions(report(false, false), before, &k);
    let events = s.on_time(forced, &k);
    assert_eq!(opened(&events)[0].2, forced);
}

#[test]
fn state_survives_a_round_trip_with_the_same_future() {
    let k = key(12);
    let clock = LocalClock::with_change(
        offset("+01:00"),
        OffsetChange {
            at: at("2026-03-29T01:00:00Z"),
            offset: offset("+02:00"),
        },
    );
    let mut s =
        InspectionScheduler::new(rules(2, 45, 22, 6), clock, at("2026-03-20T08:00:00Z"), &k)
            .unwrap();
    let w = wake_until_open(&mut s, &k);
    s.on_alert(Severity::Critical, w.opened_at.plus_millis(MINUTE_MS), &k);
    s.on_conditions(
        Conditions {
            charging: true,
            on_wifi: false,
            clock,
        },
        w.opened_at.plus_millis(2 * MINUTE_MS),
        &k,
    );
    let json = serde_json::to_string(&s).unwrap();
    assert!(!json.contains("key"), "the state holds no key: {json}");
    let mut restored: InspectionScheduler = serde_json::from_str(&json).unwrap();
    assert_eq!(restored, s);
    assert_eq!(restored.upcoming(10, &k), s.upcoming(10, &k));
    assert_eq!(restored.next_deadline(), s.next_deadline());
    // Drive both with the same inputs: the same events.
    let mut t = w.opened_at;
    for step in 0..40 {
        t = t.plus_millis(7 * HOUR_MS);
        let (a, b) = if step % 5 == 0 {
            (
                s.on_alert(Severity::High, t, &k),
                restored.on_alert(Severity::High, t, &k),
            )
        } else {
            (s.on_time(t, &k), restored.on_time(t, &k))
        };
        assert_eq!(a, b);
    }
    // A different key does not give the same future.
    assert_ne!(restored.upcoming(10, &key(13)), s.upcoming(10, &k));
}

#[test]
fn weeks_asleep_skip_cycles_instead_of_reporting_each() {
    let k = key(14);
    let clock = LocalClock::fixed(UtcOffset::UTC);
    let mut s = InspectionScheduler::new(rules(1, 60, 1, 5), clock, at("2026-02-01T12:00:00Z"), &k)
        .unwrap();
    let events = s.on_time(at("2026-03-15T12:00:00Z"), &k);
    let missed = events
        .iter()
        .filter(|e| matches!(e, ScheduleEvent::WindowMissed { .. }))
        .count();
    assert_eq!(missed, 1, "{events:?}");
    assert!(events
        .iter()
        .any(|e| matches!(e, ScheduleEvent::CyclesSkipped { count, .. } if *count > 30)));
    assert_eq!(events.iter().filter(|e| e.is_escalation()).count(), 1);
    let next = s.next_window().unwrap();
    assert!(next.starts_at > at("2026-03-15T12:00:00Z"));
}

#[test]
fn new_rules_restart_the_cycles_and_equal_rules_change_nothing() {
    let k = key(15);
    let clock = LocalClock::fixed(UtcOffset::UTC);
    let now = at("2026-02-01T12:00:00Z");
    let mut s = InspectionScheduler::new(rules(30, 60, 1, 5), clock, now, &k).unwrap();
    let before = s.clone();
    assert!(s
        .set_rules(rules(30, 60, 1, 5), now, &k)
        .unwrap()
        .is_empty());
    assert_eq!(s, before);
    s.set_rules(rules(2, 60, 10, 12), now, &k).unwrap();
    let next = s.next_window().unwrap();
    assert!(next.starts_at < now.plus_millis(2 * DAY_MS));
    assert_inside(
        &clock,
        LocalHours {
            from: 10,
            until: 12,
        },
        next.starts_at,
        next.ends_at,
    );
    let mut bad = rules(2, 60, 10, 12);
    bad.window_minutes = 180;
    assert!(s.set_rules(bad, now, &k).is_err());
    assert!(InspectionScheduler::new(bad, clock, now, &k).is_err());
}

#[test]
fn earlier_times_are_clamped() {
    let k = key(16);
    let clock = LocalClock::fixed(UtcOffset::UTC);
    let mut s = InspectionScheduler::new(rules(1, 60, 1, 5), clock, at("2026-02-01T12:00:00Z"), &k)
        .unwrap();
    let w = wake_until_open(&mut s, &k);
    // A clock moved back does not re-open or extend anything.
    assert!(s.on_time(at("2026-01-01T00:00:00Z"), &k).is_empty());
    let events = s
        .inspection_completed(w.id, at("2026-01-01T00:00:00Z"), &k)
        .unwrap();
    assert!(matches!(
        events[0],
        ScheduleEvent::InspectionCompleted { at: t, on_time: true, .. } if t == w.opened_at
    ));
}

#[test]
fn rules_come_from_the_policy() {
    let policy: crate::policy::Policy =
        crate::policy::Policy::from_json(include_bytes!("../../../../policies/baseline.json"))
            .unwrap();
    let r = ScheduleRules::from_policy(&policy.inspection).unwrap();
    assert_eq!(r.cadence_days, policy.inspection.cadence_days);
    assert_eq!(r.window_minutes, policy.inspection.window_minutes);
    assert_eq!(
        r.triggered_delay_minutes,
        policy.inspection.triggered_inspection_delay_minutes
    );
    assert_eq!(r.grace_period_hours, policy.inspection.grace_period_hours);
}
