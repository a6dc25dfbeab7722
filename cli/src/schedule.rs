//! `portcullis schedule`: preview the inspection windows a policy produces, so an
//! administrator can check cadence, hours and window length before signing it.
//!
//! The windows are drawn exactly as on the phone (the core's scheduler), from a
//! device secret: with `--device-secret-file` the preview is that device's schedule;
//! without it, a fixed demonstration secret shows a typical one.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use portcullis_core::inspection::schedule::{
    InspectionScheduler, LocalClock, OffsetChange, ScheduleKey, ScheduleRules, UpcomingWindow,
    UtcOffset,
};
use portcullis_core::policy::model::TriggerSeverity;
use portcullis_core::policy::Policy;
use portcullis_core::{SoftwareDeviceKey, Timestamp};

/// The secret used without `--device-secret-file`. Previews only; never a real device's.
const DEMONSTRATION_SECRET: &[u8] = b"portcullis schedule preview (demonstration secret)";

/// Arguments of `portcullis schedule`.
#[derive(Args)]
pub(crate) struct ScheduleArgs {
    /// The policy document (JSON) whose `inspection` rules to preview.
    #[arg(long, value_name = "FILE.json")]
    policy: PathBuf,
    /// Start of the preview, RFC 3339 (e.g. 2026-03-01T09:30:00+02:00): the enrollment or policy time.
    #[arg(long, value_name = "TIME")]
    from: String,
    /// How many windows to print.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
    count: u32,
    /// The phone's UTC offset, e.g. +02:00 or -05:30. Default: the offset written in --from.
    #[arg(long, value_name = "±HH:MM", allow_hyphen_values = true)]
    utc_offset: Option<String>,
    /// A known offset change (DST) as TIME=OFFSET, e.g. 2026-10-25T01:00:00Z=+01:00.
    #[arg(long, value_name = "TIME=OFFSET")]
    offset_change: Option<String>,
    /// A file holding the device's software key secret (at least 16 bytes), to preview that device.
    #[arg(long)]
    device_secret_file: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ScheduleFormat::Text)]
    format: ScheduleFormat,
}

/// Output format of `schedule`.
#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum ScheduleFormat {
    /// A summary of the rules and a table of windows.
    Text,
    /// One JSON object with the windows in UTC and local time.
    Json,
}

/// Prints the next windows; a failure is one line naming the argument or file.
pub(crate) fn run(args: &ScheduleArgs) -> Result<(), String> {
    let text = std::fs::read(&args.policy)
        .map_err(|e| format!("cannot read {}: {e}", args.policy.display()))?;
    let policy = Policy::from_json(&text).map_err(|e| format!("{}: {e}", args.policy.display()))?;
    let rules = ScheduleRules::from_policy(&policy.inspection)
        .map_err(|e| format!("{}: {e}", args.policy.display()))?;
    let from = Timestamp::parse_rfc3339(&args.from)
        .ok_or("--from: expected an RFC 3339 time such as 2026-03-01T09:30:00Z")?;
    let offset = match &args.utc_offset {
        Some(text) => UtcOffset::parse(text).map_err(|e| format!("--utc-offset: {e}"))?,
        None => written_offset(&args.from),
    };
    let clock = match &args.offset_change {
        Some(text) => LocalClock::with_change(offset, parse_change(text)?),
        None => LocalClock::fixed(offset),
    };
    let demonstration = args.device_secret_file.is_none();
    let secret = match &args.device_secret_file {
        Some(path) => std::fs::read(path)
            .map_err(|e| format!("cannot read the --device-secret-file ({})", e.kind()))?,
        None => DEMONSTRATION_SECRET.to_vec(),
    };
    let device_key = SoftwareDeviceKey::new(&secret).map_err(|e| e.to_string())?;
    let key = ScheduleKey::derive(&device_key).map_err(|e| e.to_string())?;
    let scheduler =
        InspectionScheduler::new(rules, clock, from, &key).map_err(|e| e.to_string())?;
    let windows = scheduler.upcoming(args.count as usize, &key);
    match args.format {
        ScheduleFormat::Text => print_text(&policy, &rules, &clock, from, demonstration, &windows),
        ScheduleFormat::Json => {
            let json = serde_json::json!({
                "policy": policy.name,
                "from": from,
                "utc_offset": offset,
                "offset_change": clock.next_change,
                "demonstration_secret": demonstration,
                "windows": windows.iter().enumerate().map(|(i, w)| window_json(i, w, &clock)).collect::<Vec<_>>(),
            });
            crate::out::json(&json);
        }
    }
    Ok(())
}

/// The offset written at the end of an RFC 3339 time (`Z` or `±HH:MM`); UTC otherwise.
fn written_offset(time: &str) -> UtcOffset {
    if time.ends_with(['Z', 'z']) || time.len() < 6 {
        return UtcOffset::UTC;
    }
    UtcOffset::parse(&time[time.len() - 6..]).unwrap_or(UtcOffset::UTC)
}

fn parse_change(text: &str) -> Result<OffsetChange, String> {
    let bad =
        || "--offset-change: expected TIME=OFFSET, e.g. 2026-10-25T01:00:00Z=+01:00".to_owned();
    let (time, offset) = text.rsplit_once('=').ok_or_else(bad)?;
    Ok(OffsetChange {
        at: Timestamp::parse_rfc3339(time).ok_or_else(bad)?,
        offset: UtcOffset::parse(offset).map_err(|_| bad())?,
    })
}

fn window_json(index: usize, w: &UpcomingWindow, clock: &LocalClock) -> serde_json::Value {
    serde_json::json!({
        "index": index + 1,
        "kind": w.kind.as_str(),
        "cycle": w.kind.cycle(),
        "starts_at": w.starts_at,
        "ends_at": w.ends_at,
        "local_start": clock.local_text(w.starts_at),
        "local_end": clock.local_text(w.ends_at),
    })
}

fn print_text(
    policy: &Policy,
    rules: &ScheduleRules,
    clock: &LocalClock,
    from: Timestamp,
    demonstration: bool,
    windows: &[UpcomingWindow],
) {
    let hours = rules.allowed_local_hours;
    let days = match rules.cadence_days {
        1 => "day".to_owned(),
        n => format!("{n} days"),
    };
    outln!(
        "Policy {:?}: one routine window every {days}, {} minutes long, between {:02}:00 and {:02}:00 local time.",
        policy.name, rules.window_minutes, hours.from, hours.until
    );
    let severity = match rules.trigger_on_severity {
        TriggerSeverity::High => "high or critical",
        TriggerSeverity::Critical => "critical",
    };
    outln!(
        "A {severity} alert brings a window within {} minutes; a missed inspection escalates after {} hours.",
        rules.triggered_delay_minutes, rules.grace_period_hours
    );
    match clock.next_change {
        Some(change) => outln!(
            "Clock: UTC offset {}, changing to {} at {}.",
            clock.offset,
            change.offset,
            change.at
        ),
        None => outln!("Clock: UTC offset {} (no change announced).", clock.offset),
    }
    if demonstration {
        outln!("Secret: a demonstration secret. Each phone draws its own windows from its device key; pass --device-secret-file to preview one device.");
    } else {
        outln!("Secret: the given device secret; these are that device's windows.");
    }
    outln!("Next {} window(s) from {from}:", windows.len());
    outln!(
        "  {:>4}  {:>5}  {:<8}  {:<22}  {:<22}  UTC start",
        "#",
        "cycle",
        "kind",
        "local start",
        "local end"
    );
    for (i, w) in windows.iter().enumerate() {
        let cycle = w.kind.cycle().map_or("-".to_owned(), |c| c.to_string());
        outln!(
            "  {:>4}  {:>5}  {:<8}  {:<22}  {:<22}  {}",
            i + 1,
            cycle,
            w.kind.as_str(),
            clock.local_text(w.starts_at),
            clock.local_text(w.ends_at),
            w.starts_at
        );
    }
}
