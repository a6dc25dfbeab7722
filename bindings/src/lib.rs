//! uniffi bindings for Portcullis: a thin layer over `portcullis-core`.
//!
//! Objects wrap the core (`inner`), records mirror core types, and every
//! decision stays in the core. Methods that touch the database are `async`:
//! the work runs on a thread of its own, so Kotlin calls them as suspend
//! functions and Swift with `await`, and no UI thread waits for an fsync.

#![warn(missing_docs)]

mod android;
mod android_snapshot;
mod blocking;
mod compliance;
mod console;
mod deployment;
mod error;
mod evidence;
mod key;
mod logging;
mod types;
mod upload;
mod wakeup;

use std::any::Any;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

pub use android::{
    android_encryption, android_enforcement_caller, android_keyed_app_states_outcome,
    android_password_complexity, android_restriction_facts, android_restriction_key,
    android_security_log_event, android_service_observation, android_service_state,
    android_serving_rat, android_sim_observation, android_sim_state, ios_rat,
    AndroidRestrictionFacts, ConnectivityTracker, EnforcementCaller, SecurityLogPayload,
    SecurityLogValue,
};
pub use android_snapshot::{
    android_compliance_snapshot, android_evidence_snapshot, AndroidPackage, AndroidSettings,
};
pub use compliance::*;
pub use console::{console_compliance_pass, console_deployment, console_supersedes, ActionHandled};
pub use deployment::{
    access_block_targets, android_deployment, AndroidDeployment, DeploymentMode, PackageRoles,
};
pub use error::PortcullisError;
pub use evidence::*;
pub use key::{DeviceKey, SoftwareDeviceKey};
pub use logging::{set_logger, LogLevel, Logger};
pub use types::*;
#[cfg(feature = "test-hooks")]
pub use upload::test_hook_collector_receipt;
pub use upload::{HttpHeader, UploadOutcome, UploadRequest, UploadStatus};
pub use wakeup::{
    BootReport, BootVerdict, ChannelOutcome, DeliveryBatch, DeliveryResult, DeliveryStep,
    DeliveryVerdict, Wakeup, WakeupDuties,
};

use portcullis_core::sim::SimEvent;
use ring::rand::{SecureRandom, SystemRandom};

uniffi::setup_scaffolding!();

/// The Portcullis agent: feed it observations, deliver its alerts, wake it when asked.
#[derive(uniffi::Object)]
pub struct Agent {
    inner: Arc<Mutex<portcullis_core::Agent>>,
    /// `next_wakeup` in Unix milliseconds (`NO_WAKEUP` for none), refreshed after every
    /// call, so the scheduler can ask from any thread without waiting for a database write.
    wakeup: Arc<AtomicI64>,
}

const NO_WAKEUP: i64 = i64::MIN;

fn encode_wakeup(agent: &portcullis_core::Agent) -> i64 {
    agent
        .next_wakeup()
        .map_or(NO_WAKEUP, portcullis_core::Timestamp::as_unix_millis)
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent").finish_non_exhaustive()
    }
}

async fn blocking<T, F>(f: F) -> Result<T, PortcullisError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, PortcullisError> + Send + 'static,
{
    let value = blocking::run(Box::new(move || {
        f().map(|value| Box::new(value) as Box<dyn Any + Send>)
    }))
    .await?;
    value
        .downcast::<T>()
        .map(|value| *value)
        .map_err(|_| PortcullisError::Internal {
            reason: "a blocking operation returned an unexpected type".into(),
        })
}

impl Agent {
    async fn with_agent<T, F>(&self, f: F) -> Result<T, PortcullisError>
    where
        T: Send + 'static,
        F: FnOnce(&mut portcullis_core::Agent) -> portcullis_core::Result<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        let wakeup = Arc::clone(&self.wakeup);
        blocking(move || {
            let mut agent = inner.lock().map_err(|_| PortcullisError::Internal {
                reason: "an earlier call panicked while holding the agent; reopen it".into(),
            })?;
            let result = f(&mut agent).map_err(Into::into);
            wakeup.store(encode_wakeup(&agent), Ordering::Release);
            result
        })
        .await
    }

    async fn handle_event(
        &self,
        event: SimEvent,
        now: SystemTime,
    ) -> Result<Vec<Alert>, PortcullisError> {
        let now = types::to_timestamp(now);
        self.with_agent(move |a| a.handle_reading(&event, now))
            .await
            .map(|alerts| alerts.into_iter().map(Into::into).collect())
    }
}

#[uniffi::export]
impl Agent {
    /// Opens the agent's database at `db_path` (created and enrolled on first use).
    ///
    /// `device_key` must be the same platform key on every start; a different key is
    /// refused with `DeviceKey` rather than misreporting every SIM as replaced.
    #[uniffi::constructor]
    pub async fn open(
        db_path: String,
        device_key: Arc<dyn DeviceKey>,
        now: SystemTime,
    ) -> Result<Arc<Self>, PortcullisError> {
        logging::install();
        let now = types::to_timestamp(now);
        let agent = blocking(move || {
            let key = Arc::new(key::ForeignKey(device_key));
            // Fresh randomness for the journal's first MAC key, used only at enrollment.
            let mut entropy = [0u8; 32];
            SystemRandom::new()
                .fill(&mut entropy)
                .map_err(|_| PortcullisError::Internal {
                    reason: "the system random generator failed".into(),
                })?;
            portcullis_core::Agent::open(std::path::Path::new(&db_path), key, now, entropy)
                .map_err(Into::into)
        })
        .await?;
        Ok(Arc::new(Agent {
            wakeup: Arc::new(AtomicI64::new(encode_wakeup(&agent))),
            inner: Arc::new(Mutex::new(agent)),
        }))
    }

    /// A SIM slot reading (subscription change, SIM state broadcast).
    pub async fn handle_sim(
        &self,
        observation: SimObservation,
        now: SystemTime,
    ) -> Result<Vec<Alert>, PortcullisError> {
        self.handle_event(SimEvent::Sim(observation.into()), now)
            .await
    }

    /// A service-state reading (TelephonyCallback.ServiceStateListener, or the cellular path on iOS).
    pub async fn handle_service(
        &self,
        observation: ServiceObservation,
        now: SystemTime,
    ) -> Result<Vec<Alert>, PortcullisError> {
        self.handle_event(SimEvent::Service(observation.into()), now)
            .await
    }

    /// A connectivity reading (Wi-Fi, mobile data, airplane mode).
    pub async fn handle_connectivity(
        &self,
        connectivity: Connectivity,
        now: SystemTime,
    ) -> Result<Vec<Alert>, PortcullisError> {
        self.handle_event(SimEvent::Connectivity(connectivity.into()), now)
            .await
    }

    /// The device finished booting.
    pub async fn handle_reboot(&self, now: SystemTime) -> Result<Vec<Alert>, PortcullisError> {
        self.handle_event(SimEvent::Reboot, now).await
    }

    /// Verifies a signed console instruction (a push channel, or one entry of the managed
    /// configuration) and carries it out: SIM-change windows and carrier answers reach the
    /// SIM guard inside the library; lock, wipe, notice and inspection steps come back as
    /// actions, each handed out once. Nothing unsigned can silence the SIM guard.
    pub async fn apply_instruction(
        &self,
        envelope: Vec<u8>,
        now: SystemTime,
    ) -> Result<InstructionResult, PortcullisError> {
        let now = types::to_timestamp(now);
        self.with_agent(move |a| a.apply_instruction(&envelope, now))
            .await
            .map(Into::into)
    }

    /// Applies the instructions a managed configuration lists, in order of sequence, so
    /// the same list delivered on every sync is `Unchanged` and raises nothing. One result
    /// per envelope, in the order applied (oldest sequence first).
    pub async fn apply_instruction_list(
        &self,
        envelopes: Vec<Vec<u8>>,
        now: SystemTime,
    ) -> Result<Vec<InstructionResult>, PortcullisError> {
        let now = types::to_timestamp(now);
        self.with_agent(move |a| a.apply_instruction_list(&envelopes, now))
            .await
            .map(|outcomes| outcomes.into_iter().map(Into::into).collect())
    }

    /// Reports what became of a handed action (once per action); the console hears of it
    /// as an `instruction_outcome` alert. An unknown or already reported `action_id` is
    /// `InvalidInput`.
    pub async fn report_action_outcome(
        &self,
        action_id: String,
        outcome: ActionOutcome,
        now: SystemTime,
    ) -> Result<Vec<Alert>, PortcullisError> {
        let now = types::to_timestamp(now);
        self.with_agent(move |a| a.report_action_outcome(&action_id, outcome.into(), now))
            .await
            .map(|alerts| alerts.into_iter().map(Into::into).collect())
    }

    /// Answers an `Attest` action with the new key's chain and certification: journaled,
    /// and returned as the console messages to publish. A malformed answer is
    /// `InvalidInput` and the action stays awaiting.
    pub async fn submit_attestation(
        &self,
        action_id: String,
        answer: types::AttestationAnswer,
        now: SystemTime,
    ) -> Result<types::AttestationReceipt, PortcullisError> {
        let now = types::to_timestamp(now);
        self.with_agent(move |a| a.submit_attestation(&action_id, answer.into(), now))
            .await
            .map(|r| types::AttestationReceipt {
                messages: r.messages().into_iter().map(Into::into).collect(),
                alerts: r.alerts.into_iter().map(Into::into).collect(),
            })
    }

    /// Actions handed out whose outcome was not reported yet, oldest first: after a
    /// restart the app sees what it still owes an answer for.
    pub async fn actions_awaiting_outcome(&self) -> Result<Vec<HandedAction>, PortcullisError> {
        self.with_agent(|a| Ok(a.actions_awaiting_outcome().to_vec()))
            .await
            .map(|actions| actions.into_iter().map(Into::into).collect())
    }

    /// The highest instruction sequence this device accepted (0 before the first), for
    /// the console to read from the app's state.
    pub async fn instruction_sequence(&self) -> Result<u64, PortcullisError> {
        self.with_agent(|a| Ok(a.instruction_sequence())).await
    }

    /// The platform scheduler woke the agent (at or after `next_wakeup`).
    pub async fn handle_timeout(&self, now: SystemTime) -> Result<Vec<Alert>, PortcullisError> {
        let now = types::to_timestamp(now);
        self.with_agent(move |a| a.handle_timeout(now))
            .await
            .map(|alerts| alerts.into_iter().map(Into::into).collect())
    }

    /// Up to `limit` undelivered alerts, oldest first; they come back until acknowledged.
    pub async fn pending_alerts(&self, limit: u32) -> Result<Vec<Alert>, PortcullisError> {
        self.with_agent(move |a| a.pending_alerts(limit))
            .await
            .map(|alerts| alerts.into_iter().map(Into::into).collect())
    }

    /// Acknowledges delivered alerts by id; returns how many were newly acknowledged.
    pub async fn ack_alerts(&self, ids: Vec<u64>, now: SystemTime) -> Result<u32, PortcullisError> {
        let now = types::to_timestamp(now);
        self.with_agent(move |a| a.ack_alerts(&ids, now))
            .await
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// Installs the console's signed trust root at enrollment, with the device's enrollment
    /// id and groups (as policy bundles address it). Refused once a root is installed.
    pub async fn install_trust_root(
        &self,
        signed_root: Vec<u8>,
        device_id: String,
        groups: Vec<String>,
        now: SystemTime,
    ) -> Result<(), PortcullisError> {
        let now = types::to_timestamp(now);
        let scope = portcullis_core::policy::DeviceScope { device_id, groups };
        self.with_agent(move |a| a.install_trust_root(&signed_root, scope, now))
            .await
    }

    /// Whether a trust root is installed (the device is enrolled with the console).
    pub async fn trust_root_installed(&self) -> Result<bool, PortcullisError> {
        self.with_agent(|a| Ok(a.trust_root_installed())).await
    }

    /// Applies a trust-root rotation signed by the current root. Offering the root already
    /// in force is harmless (`changed = false`), so the managed configuration's root can be
    /// passed on every sync; a root the core refuses raises `policy_refused` (PolicyRejected).
    pub async fn apply_root_update(
        &self,
        signed_root: Vec<u8>,
        now: SystemTime,
    ) -> Result<TrustRootUpdate, PortcullisError> {
        let now = types::to_timestamp(now);
        self.with_agent(move |a| a.apply_root_update(&signed_root, now))
            .await
            .map(Into::into)
    }

    /// Verifies a signed policy bundle (from managed configuration) and puts it in force.
    /// A refused bundle changes nothing and raises a `policy_refused` alert.
    pub async fn apply_policy(
        &self,
        bundle: Vec<u8>,
        now: SystemTime,
    ) -> Result<PolicyStatus, PortcullisError> {
        let now = types::to_timestamp(now);
        self.with_agent(move |a| a.apply_policy(&bundle, now))
            .await
            .map(Into::into)
    }

    /// The policy in force, if any bundle was applied.
    pub async fn policy_status(&self) -> Result<Option<PolicyStatus>, PortcullisError> {
        self.with_agent(|a| Ok(a.policy_status().cloned()))
            .await
            .map(|s| s.map(|applied| PolicyStatus::from_applied(applied, false)))
    }

    /// Judges a device snapshot the platform filled field by field against the policy in
    /// force. New remediation actions wait in `take_actions`; alerts go to the outbox. An
    /// unchanged snapshot requests and raises nothing new. A value the core refuses (over a
    /// limit, not a date, not a package name) is one `InvalidInput` naming the field, and
    /// without a policy in force the answer is `NoPolicy`.
    pub async fn evaluate_compliance(
        &self,
        snapshot: ComplianceSnapshot,
        now: SystemTime,
    ) -> Result<ComplianceReport, PortcullisError> {
        let now = types::to_timestamp(now);
        let snapshot = portcullis_core::compliance::DeviceSnapshot::try_from(snapshot)?;
        self.with_agent(move |a| a.evaluate_compliance_snapshot(snapshot, now))
            .await
            .map(Into::into)
    }

    /// Remediation actions requested since the last call, each handed out once: carry
    /// out those routed to `AGENT`, report those routed to `MDM` to the console.
    pub async fn take_actions(
        &self,
        now: SystemTime,
    ) -> Result<Vec<RemediationAction>, PortcullisError> {
        let now = types::to_timestamp(now);
        self.with_agent(move |a| a.take_actions(now))
            .await
            .map(|actions| actions.into_iter().map(Into::into).collect())
    }

    /// Loads a STIX 2.1 indicator collection (as the public mobile collections publish
    /// them) for the next inspections; held in memory, so load collections after every start.
    pub async fn load_indicators(
        &self,
        collection: String,
        stix_json: String,
    ) -> Result<IndicatorCollection, PortcullisError> {
        self.with_agent(move |a| a.load_indicators(&collection, &stix_json))
            .await
            .map(|s| IndicatorCollection {
                name: s.name,
                indicators: s.indicators as u64,
                unparsed: s.unparsed as u64,
            })
    }

    /// Accepts a signed indicator collection (`portcullis indicators sign`), verified under
    /// the trust root; it replaces the collection of the same name and is reloaded at every
    /// start. Returns the accepted version. Refused files raise `policy_refused`.
    pub async fn load_signed_indicators(
        &self,
        signed_file: Vec<u8>,
        now: SystemTime,
    ) -> Result<u64, PortcullisError> {
        let now = types::to_timestamp(now);
        self.with_agent(move |a| a.load_signed_indicators(&signed_file, now))
            .await
            .map(|accepted| accepted.version)
    }

    /// The inspection window open now: collect an evidence snapshot and submit it before it closes.
    pub async fn open_inspection_window(
        &self,
    ) -> Result<Option<InspectionWindow>, PortcullisError> {
        self.with_agent(|a| Ok(a.open_inspection_window()))
            .await
            .map(|w| w.map(Into::into))
    }

    /// Reports power, Wi-Fi and the local clock's UTC offset (travel, daylight saving),
    /// which inspection windows follow.
    pub async fn report_conditions(
        &self,
        charging: bool,
        on_wifi: bool,
        utc_offset_minutes: i32,
        now: SystemTime,
    ) -> Result<Vec<Alert>, PortcullisError> {
        let now = types::to_timestamp(now);
        self.with_agent(move |a| a.report_conditions(charging, on_wifi, utc_offset_minutes, now))
            .await
            .map(|alerts| alerts.into_iter().map(Into::into).collect())
    }

    /// Scans an evidence snapshot the platform filled against the loaded indicators and
    /// completes the window (`window_id`, or the one open now). Returns the signed report
    /// for the console; the evidence bundle carries the snapshot as JSON.
    pub async fn submit_inspection(
        &self,
        window_id: Option<u64>,
        evidence: EvidenceSnapshot,
        now: SystemTime,
    ) -> Result<InspectionReport, PortcullisError> {
        let now = types::to_timestamp(now);
        let evidence = portcullis_core::inspection::EvidenceSnapshot::from(evidence);
        self.with_agent(move |a| a.submit_inspection_snapshot(window_id, &evidence, now))
            .await
            .map(Into::into)
    }

    /// Takes the network and security-log events as the platform delivered them
    /// (Android `onNetworkLogsAvailable` / `onSecurityLogsAvailable`), however many: the
    /// core ingests them in bounded batches. Indicator matches and living-off-the-land
    /// detections are raised at once, at the events' times.
    pub async fn ingest_telemetry(
        &self,
        events: Vec<TelemetryLogEvent>,
        now: SystemTime,
    ) -> Result<TelemetryResult, PortcullisError> {
        let now = types::to_timestamp(now);
        self.with_agent(move |a| {
            let delivery = types::telemetry_batch(events)?;
            a.ingest_telemetry_delivery(delivery, now)
        })
        .await
        .map(|o| TelemetryResult::new(o, now))
    }

    /// Which platform logs the policy in force asks for (both off without a policy):
    /// the device-owner app enables or disables them after every policy change.
    pub async fn telemetry_logging(&self) -> Result<TelemetryLogging, PortcullisError> {
        self.with_agent(|a| {
            let rules = a.telemetry_rules();
            Ok(TelemetryLogging {
                network_logging: rules.network_logging,
                security_logging: rules.security_logging,
            })
        })
        .await
    }

    /// Signs a checkpoint over the journal for the console to store (send `json` to it);
    /// the journal's MAC key moves forward and the old one is erased.
    pub async fn checkpoint(&self, now: SystemTime) -> Result<JournalCheckpoint, PortcullisError> {
        let now = types::to_timestamp(now);
        self.with_agent(move |a| a.checkpoint(now))
            .await
            .map(Into::into)
    }

    /// The journal's epoch-0 MAC key for the console (32 bytes), until
    /// `confirm_journal_key_export` erases the device's copy; `null` afterwards.
    pub async fn journal_key_export(&self) -> Result<Option<Vec<u8>>, PortcullisError> {
        self.with_agent(|a| a.journal_key_export())
            .await
            .map(|k| k.map(|k| k.to_vec()))
    }

    /// The key the console computes SIM pins under (32 bytes; `portcullis sim pin`), while
    /// the enrollment hand-off is open; `null` once `confirm_journal_key_export` closed it.
    pub async fn pin_key_export(&self) -> Result<Option<Vec<u8>>, PortcullisError> {
        self.with_agent(|a| a.pin_key_export())
            .await
            .map(|k| k.map(|k| k.to_vec()))
    }

    /// Call once the console has stored the epoch-0 key (and the pin key); returns whether
    /// a copy was erased.
    pub async fn confirm_journal_key_export(&self) -> Result<bool, PortcullisError> {
        self.with_agent(portcullis_core::Agent::confirm_journal_key_export)
            .await
    }

    /// Drops journal records older than the newest checkpoint made before `before`
    /// (retention), never an undelivered alert; returns how many records were removed.
    pub async fn prune_journal(&self, before: SystemTime) -> Result<u64, PortcullisError> {
        let before = types::to_timestamp(before);
        self.with_agent(move |a| a.prune_journal(before)).await
    }

    /// When the platform scheduler (WorkManager, BGTaskScheduler) should wake the agent next.
    /// Never blocks: it reads the value the last call left.
    pub fn next_wakeup(&self) -> Option<SystemTime> {
        match self.wakeup.load(Ordering::Acquire) {
            NO_WAKEUP => None,
            millis => Some(types::to_system_time(
                portcullis_core::Timestamp::from_unix_millis(millis),
            )),
        }
    }
}

/// The library's version, for diagnostics and the console.
#[uniffi::export]
pub fn library_version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

/// Panics on purpose so binding tests can prove a Rust panic arrives as an exception.
#[cfg(feature = "test-hooks")]
#[uniffi::export]
pub fn test_hook_panic(message: String) {
    panic!("test hook: {message}");
}

#[cfg(test)]
mod tests {
    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn exported_objects_are_send_and_sync() {
        assert_send_sync::<super::Agent>();
        assert_send_sync::<super::SoftwareDeviceKey>();
    }

    use super::blocking::tests::block_on as run;

    #[test]
    fn blocking_returns_each_callers_own_type_and_error() {
        let text = run(super::blocking(|| Ok(String::from("seven"))));
        assert_eq!(text.unwrap(), "seven");
        let list = run(super::blocking(|| Ok(vec![7u64, 8])));
        assert_eq!(list.unwrap(), vec![7, 8]);
        let refused = run(super::blocking(|| {
            Err::<u32, _>(super::PortcullisError::Internal {
                reason: "refused".into(),
            })
        }));
        assert!(
            matches!(refused, Err(super::PortcullisError::Internal { ref reason }) if reason == "refused"),
            "{refused:?}"
        );
    }

    #[test]
    fn blocking_reports_a_panic_as_an_internal_error() {
        let result = run(super::blocking(
            || -> Result<u32, super::PortcullisError> { panic!("boom") },
        ));
        assert!(
            matches!(result, Err(super::PortcullisError::Internal { ref reason }) if reason.contains("panicked")),
            "{result:?}"
        );
    }
}

#[uniffi::export]
impl Agent {
    /// Applies the managed configuration as the MDM delivered it: the trust root
    /// (installed at enrollment, a rotation afterwards), the policy bundle, the signed
    /// indicator collections and the signed instructions, in that order. One typed answer
    /// per part, and `console` to publish as it is. Refusals are answers; the same refused
    /// input delivered again is not offered again and raises nothing. Errors are left for
    /// storage and key failures: publish `console_policy_sync_failed` and sync again later.
    pub async fn sync_managed_config(
        &self,
        config: ManagedConfigValues,
        now: SystemTime,
    ) -> Result<ManagedConfigSync, PortcullisError> {
        let now = types::to_timestamp(now);
        self.with_agent(move |a| a.sync_managed_config(&config.into(), now))
            .await
            .map(|s| ManagedConfigSync::from_core(s, now))
    }
}

/// An alert as the console message `portcullis.alert.<id>.<kind>`.
#[uniffi::export]
pub fn console_alert(alert: Alert) -> ConsoleMessage {
    portcullis_core::console::alert(&alert.into()).into()
}

/// The console message for a managed-configuration sync that failed with an error
/// (`error_name`: the error's type name, e.g. `Storage`); the next sync tries again.
#[uniffi::export]
pub fn console_policy_sync_failed(error_name: String, now: SystemTime) -> ConsoleMessage {
    portcullis_core::console::policy_sync_failed(&error_name, types::to_timestamp(now)).into()
}

/// One instruction pass (a push, or the actions still owed an outcome) as the console
/// message `portcullis.instructions`. `actions_pending`: actions not handled on this pass;
/// `error_name`: the type name of the error that stopped the pass.
#[uniffi::export]
pub fn console_instructions(
    results: Vec<InstructionResult>,
    actions_pending: u32,
    error_name: Option<String>,
    now: SystemTime,
) -> ConsoleMessage {
    let tally: Vec<_> = results.iter().map(Into::into).collect();
    portcullis_core::console::instructions(
        &tally,
        actions_pending,
        error_name.as_deref(),
        types::to_timestamp(now),
    )
    .into()
}

/// The outcome of a remediation action the platform must not carry out: handed to the
/// MDM for `MDM`, not possible (with the reason) for `NOT_POSSIBLE`; `None` for an `AGENT`
/// action, which the platform carries out. A `NOT_POSSIBLE` record without a reason counts
/// as not possible on this platform.
#[uniffi::export]
pub fn remediation_outcome_without_agent(action: RemediationAction) -> Option<ActionOutcome> {
    use portcullis_core::compliance::{NotPossibleReason, Route};
    let route = match action.route {
        ActionRoute::Agent => Route::Agent,
        ActionRoute::Mdm => Route::Mdm,
        ActionRoute::NotPossible => Route::NotPossible(
            action
                .not_possible
                .map_or(NotPossibleReason::NotOnPlatform, Into::into),
        ),
    };
    portcullis_core::agent::ActionOutcome::without_agent(route).map(Into::into)
}

/// The outcome of an MDM-routed action from what the channel answered when its console
/// message was published: handed to the MDM once sent, not possible when no MDM reads app
/// states; `None` (leave it awaiting, publish again at the next pass) otherwise.
#[uniffi::export]
pub fn mdm_publication_outcome(channel: ChannelOutcome) -> Option<ActionOutcome> {
    portcullis_core::agent::ActionOutcome::of_mdm_publication(&channel.into()).map(Into::into)
}

/// An action the library routed to the MDM, as the console message
/// `portcullis.instruction.<action id>`.
#[uniffi::export]
pub fn console_action_for_mdm(action: HandedAction, now: SystemTime) -> ConsoleMessage {
    portcullis_core::console::action_for_mdm(&action.into(), types::to_timestamp(now)).into()
}

/// A submitted inspection as the console message `portcullis.inspection`.
#[uniffi::export]
pub fn console_inspection(
    window: InspectionWindow,
    report: InspectionReport,
    now: SystemTime,
) -> ConsoleMessage {
    portcullis_core::console::inspection(
        &portcullis_core::console::InspectionSummary {
            window: window.id,
            kind: window.kind,
            findings: u64::from(report.findings),
            evidence_sha256: report.evidence_sha256,
            report_sha256: report.report_sha256,
        },
        types::to_timestamp(now),
    )
    .into()
}
