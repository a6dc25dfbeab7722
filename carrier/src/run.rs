//! The long-running forms: `watch` passes on an interval with the phone-alert fast
//! path, and the report lines an operator (or the journal of a service) reads.

use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::Duration;

use crate::error::Error;
use crate::fusion::{self, MAX_ALERTS_BYTES};
use crate::output::Trigger;
use crate::watch::{PassReport, Watch};

/// How `carrier watch` runs.
pub struct RunOptions {
    /// One pass (or, with `alerts`, one check of the lines the alerts name), then exit.
    pub once: bool,
    /// Time between full passes.
    pub interval: Duration,
    /// Phone alerts collected by the MDM (JSON Lines), read as they are appended.
    pub alerts: Option<PathBuf>,
}

/// How often the alerts file is looked at between passes.
const ALERTS_POLL: Duration = Duration::from_secs(2);

/// Prints a pass's summary and its per-line failures to standard error. Lines are
/// named by device id and the number's last two digits only.
pub fn print_report(what: &str, r: &PassReport) {
    eprintln!(
        "carrier {what}: {} request(s), {} answered, {} alert(s), {} instruction(s), {} failure(s) in {:.1} s",
        r.planned,
        r.answered,
        r.alerts,
        r.instructions,
        r.failures.len(),
        r.elapsed.as_secs_f64()
    );
    for f in &r.failures {
        eprintln!("carrier {what}: {} {}: {}", f.line, f.api.as_str(), f.error);
    }
}

/// Reads the lines appended to the alerts file since the last look.
struct AlertsTail {
    path: PathBuf,
    offset: u64,
    line: usize,
}

impl AlertsTail {
    fn new(path: PathBuf) -> Self {
        AlertsTail {
            path,
            offset: 0,
            line: 1,
        }
    }

    /// The complete new lines, with the number of the first. A file that shrank was
    /// replaced: it is read from the start.
    fn read_new(&mut self) -> Result<Option<(String, usize)>, Error> {
        let io = |e: std::io::Error| Error::Io(format!("cannot read {}: {e}", self.path.display()));
        let mut f = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(e)),
        };
        let len = f.metadata().map_err(io)?.len();
        if len < self.offset {
            self.offset = 0;
            self.line = 1;
        }
        if len == self.offset {
            return Ok(None);
        }
        f.seek(SeekFrom::Start(self.offset)).map_err(io)?;
        let mut buf = Vec::new();
        f.take(MAX_ALERTS_BYTES as u64)
            .read_to_end(&mut buf)
            .map_err(io)?;
        let Some(end) = buf.iter().rposition(|&b| b == b'\n') else {
            return Ok(None);
        };
        buf.truncate(end + 1);
        self.offset += buf.len() as u64;
        let text = String::from_utf8_lossy(&buf).into_owned();
        let first = self.line;
        self.line += text.matches('\n').count();
        Ok(Some((text, first)))
    }
}

/// Checks at once the lines that new phone alerts ask about.
async fn urgent(watch: &mut Watch, tail: &mut AlertsTail) -> Result<(), Error> {
    let Some((text, first)) = tail.read_new()? else {
        return Ok(());
    };
    let wanted = fusion::wanted(&text, first, watch.roster());
    for s in &wanted.skipped {
        eprintln!("carrier watch: {s}; skipped");
    }
    if !wanted.devices.is_empty() {
        let r = watch
            .pass(Some(&wanted.devices), Trigger::PhoneAlert)
            .await?;
        print_report("watch (phone alerts)", &r);
    }
    Ok(())
}

/// Resolves when the process is asked to stop (Ctrl-C, or SIGTERM from a service manager).
pub async fn shutdown() {
    #[cfg(unix)]
    {
        if let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Runs `carrier watch`: the phone alerts first, then a full pass every `interval`
/// (with `once`, a single pass, or only the alerted lines when `alerts` is given).
pub async fn run_watch(mut watch: Watch, options: RunOptions) -> Result<(), Error> {
    let mut tail = options.alerts.map(AlertsTail::new);
    if let Some(t) = tail.as_mut() {
        urgent(&mut watch, t).await?;
    }
    if options.once {
        if tail.is_none() {
            let r = watch.pass(None, Trigger::Poll).await?;
            print_report("watch", &r);
        }
        return Ok(());
    }
    let stop = shutdown();
    tokio::pin!(stop);
    loop {
        let next = tokio::time::Instant::now() + options.interval;
        tokio::select! {
            r = watch.pass(None, Trigger::Poll) => print_report("watch", &r?),
            () = &mut stop => return Ok(()),
        }
        loop {
            let now = tokio::time::Instant::now();
            if now >= next {
                break;
            }
            tokio::select! {
                () = tokio::time::sleep((next - now).min(ALERTS_POLL)) => {}
                () = &mut stop => return Ok(()),
            }
            if let Some(t) = tail.as_mut() {
                urgent(&mut watch, t).await?;
            }
        }
    }
}

/// Parses `15m`, `30s`, `2h`, `500ms` or plain seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (digits, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a duration such as 15m, 30s, 2h or 500ms"))?;
    let d = match unit {
        "" | "s" => Duration::from_secs(n),
        "ms" => Duration::from_millis(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        _ => {
            return Err(format!(
                "`{text}` is not a duration such as 15m, 30s, 2h or 500ms"
            ))
        }
    };
    if d.is_zero() {
        return Err("a duration must be more than zero".into());
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5d").is_err());
    }

    #[test]
    fn the_alerts_tail_reads_complete_new_lines_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alerts.jsonl");
        let mut tail = AlertsTail::new(path.clone());
        assert_eq!(tail.read_new().unwrap(), None);
        std::fs::write(&path, "{\"a\":1}\n{\"b\":").unwrap();
        assert_eq!(
            tail.read_new().unwrap(),
            Some(("{\"a\":1}\n".to_owned(), 1))
        );
        assert_eq!(tail.read_new().unwrap(), None);
        std::fs::write(&path, "{\"a\":1}\n{\"b\":2}\n").unwrap();
        assert_eq!(
            tail.read_new().unwrap(),
            Some(("{\"b\":2}\n".to_owned(), 2))
        );
        std::fs::write(&path, "{\"c\":3}\n").unwrap();
        assert_eq!(
            tail.read_new().unwrap(),
            Some(("{\"c\":3}\n".to_owned(), 1))
        );
    }
}
