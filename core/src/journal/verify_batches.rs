//! Journal verification spread over threads: the records are walked in order on the
//! calling thread (with the checks that need order), while workers check the hashes and
//! MACs of whole batches meanwhile.

use super::verify::{deferred_verdict, earliest, LinkBatch, Verdict, Verifier};

/// A broken record's sequence number and why.
type Failure = (i64, String);

/// Verifies with `workers` threads checking the batches that `walk` gathers.
///
/// `walk` reads the records in order on this thread, pushes each with
/// [`Verifier::push_deferred`] and hands every full batch to its second argument, which
/// answers `false` once no worker is left to take it. It returns the in-order failure
/// that stopped it, if any, or an error reading the records.
///
/// Returns the verdict and whether every record was read and found intact (only then
/// does what lies beyond the last record count).
pub(crate) fn verify_threaded<E>(
    mut verifier: Verifier,
    workers: usize,
    walk: impl FnOnce(&mut Verifier, &mut dyn FnMut(LinkBatch) -> bool) -> Result<Option<Failure>, E>,
) -> Result<(Verdict, bool), E> {
    let (jobs, queue) = std::sync::mpsc::sync_channel::<LinkBatch>(workers * 2);
    let queue = std::sync::Mutex::new(queue);
    let (outcome, link_failure) = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let queue = &queue;
                scope.spawn(move || {
                    let mut first = None;
                    loop {
                        let job = queue.lock().map(|q| q.recv());
                        let Ok(Ok(batch)) = job else { break };
                        first = earliest(first, batch.check());
                    }
                    first
                })
            })
            .collect();
        let outcome = walk(&mut verifier, &mut |batch| jobs.send(batch).is_ok());
        // Records gathered before the walk ended (or stopped) are checked too: one of
        // them may hold the earliest failure.
        if let Some(batch) = verifier.take_batch() {
            let _ = jobs.send(batch);
        }
        drop(jobs);
        let mut link_failure = None;
        for worker in handles {
            let found = worker
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            link_failure = earliest(link_failure, found);
        }
        (outcome, link_failure)
    });
    let in_order = match outcome {
        Ok(found) => found,
        // Every record the workers checked comes before the unreadable row: a failure
        // among them is the verdict (as the one-thread walk, which stops there, finds).
        Err(e) if link_failure.is_none() => return Err(e),
        Err(_) => None,
    };
    let complete = in_order.is_none() && link_failure.is_none();
    Ok((deferred_verdict(verifier, link_failure, in_order), complete))
}
