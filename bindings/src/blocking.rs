//! Runs a database-touching job off the caller's thread and hands its result to the
//! awaiting future.
//!
//! Each job gets its own thread, which ends with the job. The library needs no async
//! runtime for this: uniffi polls the future from the foreign side (a Kotlin coroutine,
//! a Swift task, Python's event loop) and the job's thread wakes it when done. An async
//! runtime cost the shipped library about 55 KB and one wrapped future type per method
//! (docs/decisions/0009-ffi-size-features.md).

use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use crate::PortcullisError;

/// Work with its result boxed: every method hands over this one type, so the thread
/// and completion code are compiled once instead of once per method.
pub(crate) type Job = Box<dyn FnOnce() -> Result<Box<dyn Any + Send>, PortcullisError> + Send>;

type Outcome = Result<Box<dyn Any + Send>, PortcullisError>;

#[derive(Default)]
struct Slot {
    outcome: Option<Outcome>,
    waker: Option<Waker>,
}

/// Completes when the job's thread has stored the outcome.
struct JobFuture {
    slot: Arc<Mutex<Slot>>,
}

impl Future for JobFuture {
    type Output = Outcome;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome> {
        let mut slot = match self.slot.lock() {
            Ok(slot) => slot,
            Err(poisoned) => poisoned.into_inner(),
        };
        match slot.outcome.take() {
            Some(outcome) => Poll::Ready(outcome),
            None => {
                slot.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

fn internal(reason: &str) -> PortcullisError {
    PortcullisError::Internal {
        reason: reason.into(),
    }
}

/// Starts `job` on a thread of its own. A panic in the job becomes an `Internal` error;
/// a thread the system cannot start is an `Internal` error too.
pub(crate) fn run(job: Job) -> impl Future<Output = Outcome> + Send {
    let slot = Arc::new(Mutex::new(Slot::default()));
    let done = Arc::clone(&slot);
    let started = std::thread::Builder::new()
        .name("portcullis-io".into())
        .spawn(move || {
            let outcome = catch_unwind(AssertUnwindSafe(job))
                .unwrap_or_else(|_| Err(internal("the operation panicked; reopen the agent")));
            let waker = {
                let mut slot = match done.lock() {
                    Ok(slot) => slot,
                    Err(poisoned) => poisoned.into_inner(),
                };
                slot.outcome = Some(outcome);
                slot.waker.take()
            };
            if let Some(waker) = waker {
                waker.wake();
            }
        });
    if started.is_err() {
        if let Ok(mut slot) = slot.lock() {
            slot.outcome = Some(Err(internal(
                "no thread could be started for the operation",
            )));
        }
    }
    JobFuture { slot }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake};
    use std::thread::Thread;

    struct Unpark(Thread);

    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }

    /// Polls `future` on this thread until it completes (what the foreign side does).
    pub(crate) fn block_on<T>(future: impl Future<Output = T>) -> T {
        let waker = Arc::new(Unpark(std::thread::current())).into();
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        loop {
            if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
                return value;
            }
            std::thread::park();
        }
    }

    #[test]
    fn a_slow_job_wakes_the_waiting_future() {
        let value = block_on(super::run(Box::new(|| {
            std::thread::sleep(std::time::Duration::from_millis(50));
            Ok(Box::new(7u8) as Box<dyn std::any::Any + Send>)
        })));
        assert_eq!(*value.unwrap().downcast::<u8>().unwrap(), 7);
    }
}
