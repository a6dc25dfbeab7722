//! Log forwarding: the core logs through the `log` facade; this routes it to the app.
//!
//! By default records go to logcat on Android (`android_logger`) and to the unified
//! log on iOS (`oslog`). An app that wants them elsewhere installs a [`Logger`] with
//! [`set_logger`]. The core never logs phone identifiers, keys or policy secrets.

use std::sync::{Arc, Once, RwLock};

/// Severity of a log record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum LogLevel {
    /// Failures the app should surface: a store, key or verification error.
    Error,
    /// Alerts and suspicious conditions.
    Warn,
    /// Lifecycle events.
    Info,
    /// Diagnostics for a developer reproducing a problem; off in release builds.
    Debug,
    /// Very verbose diagnostics.
    Trace,
}

impl From<log::Level> for LogLevel {
    fn from(level: log::Level) -> Self {
        match level {
            log::Level::Error => LogLevel::Error,
            log::Level::Warn => LogLevel::Warn,
            log::Level::Info => LogLevel::Info,
            log::Level::Debug => LogLevel::Debug,
            log::Level::Trace => LogLevel::Trace,
        }
    }
}

/// Receives the library's log records, e.g. to forward them to the app's own logging.
#[uniffi::export(with_foreign)]
pub trait Logger: Send + Sync {
    /// One record; called on whichever thread logged it.
    fn log(&self, level: LogLevel, target: String, message: String);
}

static FOREIGN: RwLock<Option<Arc<dyn Logger>>> = RwLock::new(None);
static INSTALL: Once = Once::new();

struct Router {
    platform: Option<Box<dyn log::Log>>,
}

impl log::Log for Router {
    fn enabled(&self, _metadata: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        let foreign = FOREIGN.read().ok().and_then(|g| g.clone());
        match foreign {
            Some(logger) => logger.log(
                record.level().into(),
                record.target().to_owned(),
                record.args().to_string(),
            ),
            None => {
                if let Some(platform) = &self.platform {
                    platform.log(record);
                }
            }
        }
    }

    fn flush(&self) {
        if let Some(platform) = &self.platform {
            platform.flush();
        }
    }
}

#[cfg(target_os = "android")]
fn platform_logger() -> Option<Box<dyn log::Log>> {
    Some(Box::new(android_logger::AndroidLogger::new(
        android_logger::Config::default()
            .with_tag("portcullis")
            .with_max_level(log::LevelFilter::Info),
    )))
}

#[cfg(target_os = "ios")]
fn platform_logger() -> Option<Box<dyn log::Log>> {
    Some(Box::new(
        oslog::OsLogger::new("org.portcullis").level_filter(log::LevelFilter::Info),
    ))
}

#[cfg(not(any(target_os = "android", target_os = "ios")))]
fn platform_logger() -> Option<Box<dyn log::Log>> {
    None
}

/// Installs the router as the process's `log` logger, once; another logger already
/// installed by the app wins and is left alone.
pub(crate) fn install() {
    INSTALL.call_once(|| {
        let router = Router {
            platform: platform_logger(),
        };
        if log::set_boxed_logger(Box::new(router)).is_ok() {
            log::set_max_level(log::LevelFilter::Info);
        }
    });
}

/// Sends the library's log records to `logger`, or back to the platform log with `None`.
#[uniffi::export]
pub fn set_logger(logger: Option<Arc<dyn Logger>>) {
    install();
    if let Ok(mut slot) = FOREIGN.write() {
        *slot = logger;
    }
}
