//! Wake-ups: every deadline the platform scheduler arms comes from the core, and the
//! duties of a wake-up with it. The re-read cadence set by the policy, the daily
//! compliance pass riding on it, the delivery backoff, the overdue inspection, the reboot
//! inferred from reported boot instants, and the wake-up budget of an idle phone.

mod policy_support;

use std::path::Path;
use std::sync::Arc;

use policy_support::{enroll_with_policy, pending_ids, repo, software_key, DAY, HOUR, MINUTE, T0};
use portcullis_core::agent::{
    BootVerdict, DeliveryResult, BOOT_TOLERANCE_MS, COMPLIANCE_INTERVAL_MS,
};
use portcullis_core::policy::{Policy, PolicyError};
use portcullis_core::sim::{SimEvent, SimObservation, SimState};
use portcullis_core::trace::{self, TraceReader, WakeupTally};
use portcullis_core::{Agent, AlertKind, DeviceKey, Error, Timestamp};

fn device_key() -> Arc<dyn DeviceKey> {
    software_key(b"wakeup-test-device-secret")
}

fn baseline() -> Policy {
    Policy::from_json(&std::fs::read(repo("policies/baseline.json")).unwrap()).unwrap()
}

/// An agent enrolled at T0 with `policy` in force from T0.
fn agent_with(db: &Path, policy: Option<Policy>) -> Agent {
    let mut agent = Agent::open(db, device_key(), T0, [3; 32]).unwrap();
    if let Some(policy) = policy {
        enroll_with_policy(&mut agent, policy);
    }
    agent
}

fn reopen(db: &Path) -> Agent {
    Agent::open(db, device_key(), T0, [3; 32]).unwrap()
}

fn sim(state: SimState, iccid: Option<&str>) -> SimEvent {
    SimEvent::Sim(SimObservation {
        slot: 0,
        state: Some(state),
        iccid: iccid.map(Into::into),
        ..SimObservation::default()
    })
}

#[test]
fn the_reread_cadence_is_the_policys_and_each_reread_is_handed_out_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agent.db");
    let mut agent = agent_with(&db, Some(baseline()));
    let t = T0.plus_millis(HOUR);
    assert!(
        agent.next_wakeup().unwrap() <= t,
        "never re-read: due at once"
    );
    let first = agent.wake(t, None).unwrap();
    assert!(first.duties.reread_radio);
    assert_eq!(first.next_wakeup, Some(t.plus_millis(60 * MINUTE)));
    assert_eq!(agent.next_wakeup(), first.next_wakeup);
    // Woken early (another timer, a platform start): no re-read yet, and again not.
    assert!(
        !agent
            .wake(t.plus_millis(30 * MINUTE), None)
            .unwrap()
            .duties
            .reread_radio
    );
    drop(agent);
    let mut agent = reopen(&db);
    assert_eq!(
        agent.next_wakeup(),
        Some(t.plus_millis(60 * MINUTE)),
        "persisted"
    );
    assert!(
        agent
            .wake(t.plus_millis(60 * MINUTE), None)
            .unwrap()
            .duties
            .reread_radio
    );
    let again = agent.wake(t.plus_millis(60 * MINUTE), None).unwrap();
    assert!(!again.duties.reread_radio, "handed out once");

    // A policy asking for a re-read every two hours.
    let dir = tempfile::tempdir().unwrap();
    let mut policy = baseline();
    policy.sim.reread_interval_minutes = 120;
    let mut agent = agent_with(&dir.path().join("agent.db"), Some(policy));
    agent.wake(t, None).unwrap();
    assert_eq!(agent.next_wakeup(), Some(t.plus_millis(120 * MINUTE)));

    // Without any policy, the default hour.
    let dir = tempfile::tempdir().unwrap();
    let mut agent = agent_with(&dir.path().join("agent.db"), None);
    let woken = agent.wake(t, None).unwrap();
    assert!(woken.duties.reread_radio && !woken.duties.evaluate_compliance);
    assert_eq!(agent.next_wakeup(), Some(t.plus_millis(60 * MINUTE)));
}

#[test]
fn a_reread_interval_out_of_bounds_is_refused_naming_the_field() {
    let text = std::fs::read_to_string(repo("policies/baseline.json")).unwrap();
    let with = |minutes: u32| {
        text.replace(
            "\"portOutWindowMinutes\": 10,",
            &format!("\"portOutWindowMinutes\": 10, \"rereadIntervalMinutes\": {minutes},"),
        )
    };
    for bad in [0, 14, 1441] {
        let err = Policy::from_json(with(bad).as_bytes()).unwrap_err();
        assert!(
            matches!(
                &err,
                Error::Policy(PolicyError::InvalidPolicy { path, .. })
                    if path == "sim.rereadIntervalMinutes"
            ),
            "{bad}: {err}"
        );
    }
    for good in [15, 240, 1440] {
        let p = Policy::from_json(with(good).as_bytes()).unwrap();
        assert_eq!(p.sim.reread_interval_minutes, good);
    }
    assert_eq!(baseline().sim.reread_interval_minutes, 60, "the default");
}

#[test]
fn the_daily_compliance_pass_rides_on_the_first_reread_after_it_falls_due() {
    let dir = tempfile::tempdir().unwrap();
    let mut agent = agent_with(&dir.path().join("agent.db"), Some(baseline()));
    let snapshot = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/compliance/pixel-compliant.json"),
    )
    .unwrap();
    // Judged at 00:20 (the platform's own pass, e.g. after a package change).
    let judged = T0.plus_millis(20 * MINUTE);
    agent.wake(T0, None).unwrap();
    agent.evaluate_compliance(&snapshot, judged).unwrap();
    let mut asked = Vec::new();
    let mut wakes = Vec::new();
    while let Some(w) = agent.next_wakeup().filter(|w| *w < T0.plus_millis(3 * DAY)) {
        let woken = agent.wake(w, None).unwrap();
        wakes.push(w);
        if woken.duties.evaluate_compliance {
            assert!(woken.duties.reread_radio, "no wake-up of its own");
            asked.push(w);
        }
    }
    // Re-reads at 01:00, 02:00, ...: the pass due at 00:20 the next day comes at 01:00.
    assert_eq!(
        asked,
        [T0.plus_millis(DAY + HOUR), T0.plus_millis(2 * DAY + HOUR)]
    );
    assert!(asked[0].millis_since(judged) >= COMPLIANCE_INTERVAL_MS);
    assert!(
        wakes.iter().all(|w| w.as_unix_millis() % HOUR == 0),
        "every wake-up is a re-read: {wakes:?}"
    );
}

#[test]
fn delivery_retries_back_off_in_the_core_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agent.db");
    let mut agent = agent_with(&db, None);
    let t = T0.plus_millis(HOUR);
    agent.wake(t, None).unwrap();
    agent
        .handle(&sim(SimState::Ready, Some("8944110012345678901")), t)
        .unwrap();
    let raised = agent
        .handle(&sim(SimState::Ready, Some("8944110012345670000")), t)
        .unwrap();
    assert_eq!(raised[0].finding.kind, AlertKind::SimReplaced);

    let mut now = t;
    let mut delays = Vec::new();
    for _ in 0..4 {
        let verdict = agent
            .report_delivery(&[], DeliveryResult::Failed, now)
            .unwrap();
        let retry = verdict.retry_at.unwrap();
        delays.push(retry.millis_since(now) / 1000);
        assert_eq!(
            verdict.next_wakeup,
            Some(retry),
            "the retry is the next wake-up"
        );
        let woken = agent.wake(retry, None).unwrap();
        assert!(woken.duties.deliver_alerts);
        assert!(
            !agent.wake(retry, None).unwrap().duties.deliver_alerts,
            "handed out once"
        );
        now = retry;
    }
    assert_eq!(delays, [30, 60, 120, 240]);
    drop(agent);
    let mut agent = reopen(&db);
    let verdict = agent
        .report_delivery(&[], DeliveryResult::Failed, now)
        .unwrap();
    assert_eq!(verdict.failures, 5, "the count survived the restart");
    assert_eq!(verdict.retry_at, Some(now.plus_millis(480_000)));
    for _ in 0..4 {
        agent
            .report_delivery(&[], DeliveryResult::Failed, now)
            .unwrap();
    }
    let capped = agent
        .report_delivery(&[], DeliveryResult::Failed, now)
        .unwrap();
    assert_eq!(capped.retry_at, Some(now.plus_millis(30 * MINUTE)));

    // A rate limit: retry exactly when the channel allows.
    let until = now.plus_millis(45_000);
    let throttled = agent
        .report_delivery(&[], DeliveryResult::Throttled { until }, now)
        .unwrap();
    assert_eq!(throttled.retry_at, Some(until));
    assert_eq!(throttled.failures, 10, "a rate limit is no failure");

    // Delivered: acknowledged, backoff reset, nothing more to retry.
    let ids = pending_ids(&mut agent, 10);
    let done = agent
        .report_delivery(&ids, DeliveryResult::Delivered, now)
        .unwrap();
    assert_eq!(done.acknowledged, ids.len());
    assert_eq!((done.failures, done.retry_at), (0, None));
    assert!(agent.pending_alerts(10).unwrap().is_empty());
    let more = agent
        .report_delivery(&[], DeliveryResult::MoreQueued, now)
        .unwrap();
    assert_eq!(more.retry_at, Some(now), "more queued: at once");
}

#[test]
fn unacknowledged_alerts_are_offered_again_with_the_reread() {
    let dir = tempfile::tempdir().unwrap();
    let mut agent = agent_with(&dir.path().join("agent.db"), None);
    let t = T0.plus_millis(HOUR);
    assert!(!agent.wake(t, None).unwrap().duties.deliver_alerts);
    agent
        .handle(&sim(SimState::Ready, Some("8944110012345678901")), t)
        .unwrap();
    agent
        .handle(&sim(SimState::Ready, Some("8944110012345670000")), t)
        .unwrap();
    // Published, never acknowledged (iOS feedback not yet read by the MDM).
    let next = agent.next_wakeup().unwrap();
    assert_eq!(next, t.plus_millis(HOUR));
    assert!(agent.wake(next, None).unwrap().duties.deliver_alerts);
}

#[test]
fn an_overdue_inspection_is_a_deadline_and_a_window_is_an_inspect_duty() {
    let dir = tempfile::tempdir().unwrap();
    let mut agent = agent_with(&dir.path().join("agent.db"), Some(baseline()));
    let mut inspect = 0;
    let mut overdue = None;
    while let Some(w) = agent
        .next_wakeup()
        .filter(|w| *w < T0.plus_millis(45 * DAY))
    {
        let woken = agent.wake(w, None).unwrap();
        inspect += usize::from(woken.duties.inspect);
        if woken
            .alerts
            .iter()
            .any(|a| a.finding.kind == AlertKind::InspectionOverdue)
        {
            assert!(
                woken.duties.deliver_alerts,
                "a new alert is delivered at once"
            );
            overdue = Some(w);
            break;
        }
    }
    assert!(inspect >= 1, "windows opened and were handed out");
    let overdue = overdue.expect("the escalation fired through next_wakeup");
    assert!(
        overdue.as_unix_millis() % HOUR != 0,
        "woken at the escalation's own time, not at a re-read"
    );
}

#[test]
fn a_reboot_is_inferred_from_boot_instants_within_a_tolerance() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agent.db");
    let mut agent = agent_with(&db, None);
    let boot = T0.plus_millis(HOUR);
    let mut now = boot.plus_millis(2 * MINUTE);
    agent
        .handle(&sim(SimState::Ready, Some("8944110012345678901")), now)
        .unwrap();
    let first = agent.report_boot(boot, now).unwrap();
    assert_eq!(first.verdict, BootVerdict::FirstReport);
    assert!(first.alerts.is_empty());
    // Each report derives the instant afresh (wall clock minus uptime): it wobbles.
    // Slow drift (each step inside the tolerance) adds up to far more than the tolerance
    // without ever reading as a reboot.
    let wobble = [-900, 1_500, -40_000, 60_000];
    let drift = (1..=6).map(|n| 60_000 + n * (BOOT_TOLERANCE_MS - 1_000));
    for (i, jitter) in wobble.into_iter().chain(drift).enumerate() {
        now = now.plus_millis(HOUR);
        let woken = agent.wake(now, Some(boot.plus_millis(jitter))).unwrap();
        assert_eq!(woken.boot, Some(BootVerdict::SameBoot), "report {i}");
        assert!(woken.alerts.is_empty());
    }
    drop(agent);
    let mut agent = reopen(&db);
    now = now.plus_millis(HOUR);
    let boot = boot.plus_millis(60_000 + 6 * (BOOT_TOLERANCE_MS - 1_000));
    assert_eq!(
        agent.report_boot(boot, now).unwrap().verdict,
        BootVerdict::SameBoot,
        "the boot instant was persisted"
    );
    // The user sets the clock back a day: every derived instant moves with it.
    let back = boot.plus_millis(-DAY);
    assert_eq!(
        agent
            .report_boot(back, now.plus_millis(-DAY))
            .unwrap()
            .verdict,
        BootVerdict::ClockMoved
    );
    // And forward again, by less than the phone has been up: still the same boot.
    assert_eq!(
        agent.report_boot(boot, now).unwrap().verdict,
        BootVerdict::ClockMoved
    );
    assert!(agent.sim_facts().booted_at.is_none(), "no reboot so far");
    // A SIM pulled now, outside a reboot, alerts.
    let dir2 = tempfile::tempdir().unwrap();
    let mut control = agent_with(&dir2.path().join("agent.db"), None);
    control
        .handle(&sim(SimState::Ready, Some("8944110012345678901")), now)
        .unwrap();
    let pulled = control
        .handle(&sim(SimState::Absent, None), now.plus_millis(MINUTE))
        .unwrap();
    assert!(pulled
        .iter()
        .any(|a| a.finding.kind == AlertKind::SimRemoved));

    // The phone restarts: a new boot instant after everything seen.
    let reboot = now.plus_millis(10 * MINUTE);
    let after = reboot.plus_millis(MINUTE);
    let report = agent.report_boot(reboot, after).unwrap();
    assert_eq!(report.verdict, BootVerdict::Rebooted);
    assert_eq!(agent.sim_facts().booted_at, Some(after));
    // A SIM still coming up after the reboot is given its grace period.
    let absent = agent
        .handle(&sim(SimState::Absent, None), after.plus_millis(10_000))
        .unwrap();
    assert!(
        !absent
            .iter()
            .any(|a| a.finding.kind == AlertKind::SimRemoved),
        "{absent:?}"
    );
    // Reported again after the restart: the same boot.
    assert_eq!(
        agent
            .report_boot(reboot, after.plus_millis(HOUR))
            .unwrap()
            .verdict,
        BootVerdict::SameBoot
    );
    // A boot instant in the future is refused, naming the input, and changes nothing.
    let err = agent
        .report_boot(
            after.plus_millis(HOUR + 10 * MINUTE),
            after.plus_millis(HOUR),
        )
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidInput { field, .. } if field == "boot_time"),
        "{err}"
    );
    assert_eq!(
        agent
            .report_boot(reboot, after.plus_millis(2 * HOUR))
            .unwrap()
            .verdict,
        BootVerdict::SameBoot
    );
}

/// Replays `trace` (an idle phone: no events) under the baseline policy and counts the
/// wake-ups, per day: those of the re-read cadence, and the others.
fn idle_budget(evidence: Option<&str>) -> (f64, f64) {
    let dir = tempfile::tempdir().unwrap();
    let mut agent = agent_with(&dir.path().join("agent.db"), Some(baseline()));
    let file = std::fs::File::open(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/wakeups/idle-30-days.jsonl"),
    )
    .unwrap();
    let mut tally = WakeupTally::default();
    let mut alerts = Vec::new();
    let mut sign = |_: trace::Shorthand<'_>, _: Timestamp| -> portcullis_core::Result<Vec<u8>> {
        unreachable!("the idle trace has no instructions")
    };
    let (mut first, mut last) = (None, None);
    for ev in TraceReader::new(std::io::BufReader::new(file)) {
        let ev = ev.unwrap();
        first.get_or_insert(ev.at);
        last = Some(ev.at);
        trace::replay_event_counted(
            &mut agent,
            &ev,
            &mut sign,
            &mut alerts,
            &mut tally,
            evidence,
        )
        .unwrap();
    }
    let days = last.unwrap().millis_since(first.unwrap()) as f64 / DAY as f64;
    assert_eq!(days, 30.0);
    (tally.reread as f64 / days, tally.extra as f64 / days)
}

#[test]
fn an_idle_phone_under_the_baseline_policy_stays_within_the_wakeup_budget() {
    let evidence = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/wakeups/clean-evidence.json"),
    )
    .unwrap();
    // A phone carrying out its inspections.
    let (reread, extra) = idle_budget(Some(&evidence));
    assert!((24.0..=24.1).contains(&reread), "{reread} re-reads a day");
    assert!(extra <= 6.0, "{extra} extra wake-ups a day");
    assert!(extra > 0.0, "the monthly window opens at its own time");
    // One that misses every window: make-up windows follow nightly, still within budget.
    let (reread, extra) = idle_budget(None);
    assert!((24.0..=24.1).contains(&reread), "{reread} re-reads a day");
    assert!(extra <= 6.0, "{extra} extra wake-ups a day");
}

/// A line dated far after the previous one is replayed as a phone that was off: at most
/// `MAX_WAKEUPS_PER_GAP` wake-ups, then one at the line, never one per hour of a century.
#[test]
fn a_gap_of_a_century_between_trace_lines_replays_as_a_phone_that_was_off() {
    let dir = tempfile::tempdir().unwrap();
    let mut agent = agent_with(&dir.path().join("agent.db"), Some(baseline()));
    let text = format!(
        "{{\"at\":\"{}\",\"tick\":{{}}}}\n{{\"at\":\"2126-03-01T00:00:00Z\",\"tick\":{{}}}}\n",
        T0.plus_millis(DAY)
    );
    let mut tally = WakeupTally::default();
    let mut alerts = Vec::new();
    for ev in TraceReader::new(text.as_bytes()) {
        trace::replay_event_counted(
            &mut agent,
            &ev.unwrap(),
            &mut trace::refuse_shorthands,
            &mut alerts,
            &mut tally,
            None,
        )
        .unwrap();
    }
    assert_eq!(tally.skipped_gaps, 1);
    assert!(
        tally.reread + tally.extra <= 2 * u64::from(trace::MAX_WAKEUPS_PER_GAP),
        "{tally:?}"
    );
    // The agent is awake at the last line: its next wake-up is after it.
    assert!(agent.next_wakeup().unwrap() > Timestamp::from_unix_millis(4_927_996_800_000));
}
