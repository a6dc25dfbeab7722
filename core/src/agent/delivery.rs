//! Alert delivery as the core runs it: which alerts go in which send, whether a send asks
//! for an immediate upload, how far a batch shrinks when the channel finds it too large,
//! when a run stops and how it is reported. The platform only sends what
//! [`Agent::next_delivery`] hands it and answers with [`Agent::delivery_response`], as
//! the journal upload works with `next_upload` and `upload_response`.
//!
//! At least once: alerts are acknowledged only after the channel took them, so a crash
//! in between sends them again, and the console drops duplicates by id.

use crate::alert::Alert;
use crate::error::Result;
use crate::time::Timestamp;
use crate::urgent::ImmediateGate;
use crate::Error;

use super::instruction::bound_reason;
use super::{Agent, DeliveryResult};

/// Alerts per send at the start (an Android keyed-app-states send is one binder
/// transaction; twenty alert messages fit one comfortably).
pub const DELIVERY_BATCH: u32 = 20;

/// Batches read from the outbox in one run before it yields; the run reports
/// `MoreQueued`, so the core asks for the next run at once.
pub const DELIVERY_BATCHES_PER_RUN: u32 = 10;

/// What the platform's channel answered for one send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelOutcome {
    /// Handed to every receiver.
    Sent,
    /// Nothing on the device receives the messages (no MDM agent that reads them): the
    /// channel may call this success, but nobody got them.
    NoReceiver,
    /// The send was too large for the channel: the core retries with fewer alerts.
    TooLarge,
    /// Anything else (no answer in time, a buffer exceeded, an exception), in a short
    /// phrase without identifiers.
    Failed {
        /// The channel's phrase, kept in the journal so a support engineer can tell a
        /// timeout from an exception.
        reason: String,
    },
}

/// One send the platform makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryBatch {
    /// The alerts to send, in outbox order.
    pub alerts: Vec<Alert>,
    /// Send with an immediate-upload request (a grant of the once-a-minute gate was taken).
    pub immediate: bool,
}

/// What the core made of one send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryStep {
    /// Alerts newly acknowledged by this send.
    pub acknowledged: usize,
    /// Whether the run is over (delivered, failed, throttled, or yielding): stop asking
    /// for batches until the next run.
    pub done: bool,
    /// Why the run failed, when it did (library texts and the channel's reason).
    pub error: Option<String>,
    /// When delivery is tried again, if it must be.
    pub retry_at: Option<Timestamp>,
    /// When to arm the timer next.
    pub next_wakeup: Option<Timestamp>,
}

/// The run in progress (not persisted: a run lives within one process, and what it
/// acknowledged is in the store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DeliveryRun {
    /// Alerts per send; halved when the channel finds a send too large, and kept so.
    batch_size: u32,
    /// Outbox batches read in this run.
    batches: u32,
    /// The batch being sent.
    plan: Option<Plan>,
}

impl Default for DeliveryRun {
    fn default() -> Self {
        DeliveryRun {
            batch_size: DELIVERY_BATCH,
            batches: 0,
            plan: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Plan {
    /// Alerts still to send, in order; the first `in_flight` are handed out.
    to_send: Vec<Alert>,
    in_flight: usize,
    immediate: bool,
    /// Whether a send of this batch went through (a grant is then used, not refunded).
    sent_any: bool,
    /// The gate's grant before this batch and the one this batch took, for a refund.
    previous_grant: Option<Timestamp>,
    granted_at: Option<Timestamp>,
    /// When the gate opens again, if urgent alerts were held back.
    gate_opens: Option<Timestamp>,
    /// The batch filled its limit: more may be waiting in the outbox.
    full: bool,
}

impl Agent {
    fn gate(&self) -> ImmediateGate {
        ImmediateGate::new(self.wakeup.state.immediate_at)
    }

    fn set_gate(&mut self, gate: ImmediateGate) {
        self.wakeup.state.immediate_at = gate.last_sent();
    }

    /// Takes a grant of the once-a-minute immediate upload for a message that is not an
    /// alert (an MDM-routed lock or wipe); the same gate as alert delivery, kept across
    /// restarts.
    pub fn acquire_immediate_send(&mut self, now: Timestamp) -> Result<bool> {
        let mut gate = self.gate();
        let granted = gate.try_acquire(now);
        if granted {
            self.set_gate(gate);
            self.persist(now, Vec::new())?;
        }
        Ok(granted)
    }

    /// The next send of the delivery run, or `None` when the run is over (the outbox is
    /// drained, urgent alerts wait for the gate, or the run yields after
    /// [`DELIVERY_BATCHES_PER_RUN`] batches); the core has then recorded how it ended
    /// and put any retry into [`Agent::next_wakeup`]. Urgent alerts take the immediate
    /// upload when the gate grants it and otherwise stay in the outbox until it opens; the
    /// rest go now. Asked again before a response, it hands out the same send.
    pub fn next_delivery(&mut self, now: Timestamp) -> Result<Option<DeliveryBatch>> {
        loop {
            let size = self.delivery.batch_size as usize;
            if let Some(plan) = self.delivery.plan.as_mut() {
                plan.in_flight = plan.to_send.len().min(size);
                return Ok(Some(DeliveryBatch {
                    alerts: plan.to_send[..plan.in_flight].to_vec(),
                    immediate: plan.immediate,
                }));
            }
            if self.delivery.batches >= DELIVERY_BATCHES_PER_RUN {
                self.end_run(DeliveryResult::MoreQueued, now)?;
                return Ok(None);
            }
            self.delivery.batches += 1;
            let limit = self.delivery.batch_size;
            let alerts = match self.pending_alerts(limit) {
                Ok(alerts) => alerts,
                Err(e) => {
                    self.end_run(DeliveryResult::Failed, now)?;
                    return Err(e);
                }
            };
            if alerts.is_empty() {
                self.end_run(DeliveryResult::Delivered, now)?;
                return Ok(None);
            }
            let full = alerts.len() >= limit as usize;
            let mut gate = self.gate();
            let severities: Vec<_> = alerts.iter().map(|a| a.severity).collect();
            let split = gate.plan(&severities, now);
            self.set_gate(gate);
            if split.send.is_empty() {
                // Every alert is urgent and the gate is closed: retried when it opens.
                let until = split.retry_at.unwrap_or(now);
                self.end_run(DeliveryResult::Throttled { until }, now)?;
                return Ok(None);
            }
            let mut alerts: Vec<Option<Alert>> = alerts.into_iter().map(Some).collect();
            self.delivery.plan = Some(Plan {
                to_send: split
                    .send
                    .iter()
                    .filter_map(|&i| alerts[i].take())
                    .collect(),
                in_flight: 0,
                immediate: split.immediate,
                sent_any: false,
                previous_grant: split.previous_grant,
                granted_at: split.immediate.then_some(now),
                gate_opens: split.retry_at,
                full,
            });
        }
    }

    /// What the channel answered for the send [`Agent::next_delivery`] handed out. A sent
    /// batch is acknowledged at once; a send too large is handed out again at half its
    /// size (a single alert too large fails the run); a failure ends the run with the
    /// core's backoff, and gives back an immediate grant no send of the batch used.
    pub fn delivery_response(
        &mut self,
        outcome: ChannelOutcome,
        now: Timestamp,
    ) -> Result<DeliveryStep> {
        let Some(plan) = self.delivery.plan.as_mut().filter(|p| p.in_flight > 0) else {
            return Err(Error::invalid(
                "delivery",
                "no send is awaiting a response (ask next_delivery first)",
            ));
        };
        let refund = (plan.immediate && !plan.sent_any)
            .then_some(plan.granted_at)
            .flatten()
            .map(|at| (at, plan.previous_grant));
        let failure = match outcome {
            ChannelOutcome::Sent => {
                let sent: Vec<_> = plan.to_send.drain(..plan.in_flight).map(|a| a.id).collect();
                plan.in_flight = 0;
                plan.sent_any = true;
                let (more_in_batch, gate_opens, full) =
                    (!plan.to_send.is_empty(), plan.gate_opens, plan.full);
                let (result, done) = match gate_opens {
                    _ if more_in_batch => (DeliveryResult::MoreQueued, false),
                    Some(until) => (DeliveryResult::Throttled { until }, true),
                    None if !full => (DeliveryResult::Delivered, true),
                    None => (DeliveryResult::MoreQueued, false),
                };
                if !more_in_batch {
                    self.delivery.plan = None;
                }
                let verdict = self.report_delivery(&sent, result, now)?;
                if done {
                    self.delivery.batches = 0;
                }
                return Ok(DeliveryStep {
                    acknowledged: verdict.acknowledged,
                    done,
                    error: None,
                    retry_at: verdict.retry_at,
                    next_wakeup: verdict.next_wakeup,
                });
            }
            ChannelOutcome::TooLarge if plan.in_flight > 1 => {
                self.delivery.batch_size = u32::try_from(plan.in_flight / 2).unwrap_or(1).max(1);
                plan.in_flight = 0;
                return Ok(DeliveryStep {
                    acknowledged: 0,
                    done: false,
                    error: None,
                    retry_at: None,
                    next_wakeup: self.next_wakeup(),
                });
            }
            ChannelOutcome::TooLarge => "a single alert is too large for the channel".to_string(),
            ChannelOutcome::NoReceiver => {
                "nothing on the device receives the messages (is an MDM agent installed?)"
                    .to_string()
            }
            ChannelOutcome::Failed { reason } => bound_reason(&reason),
        };
        if let Some((granted_at, previous)) = refund {
            let mut gate = self.gate();
            gate.refund(granted_at, previous);
            self.set_gate(gate);
        }
        let verdict = self.end_run(DeliveryResult::Failed, now)?;
        Ok(DeliveryStep {
            acknowledged: 0,
            done: true,
            error: Some(failure),
            retry_at: verdict.retry_at,
            next_wakeup: verdict.next_wakeup,
        })
    }

    fn end_run(
        &mut self,
        result: DeliveryResult,
        now: Timestamp,
    ) -> Result<super::DeliveryVerdict> {
        self.delivery.plan = None;
        self.delivery.batches = 0;
        self.report_delivery(&[], result, now)
    }
}
