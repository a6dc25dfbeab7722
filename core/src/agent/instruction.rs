//! Console instructions on the agent: verified against the trust root's operations
//! role and this device's ledger, carried out in one transaction with their journal
//! records and alerts, and handed to the native layer as typed actions exactly once.
//! Verification itself lives in `crate::instruction`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::persisted::{Persisted, State};
use super::{Agent, ChannelOutcome};
use crate::alert::{Alert, AlertKind, Finding, Severity};
use crate::compliance::Route;
use crate::error::{Error, Result};
use crate::identity::hex;
use crate::instruction::{
    self, check_free_text, InstructionBody, InstructionKind, Ledger, Verification,
    VerifiedInstruction,
};
use crate::policy::model::InstructionRules;
use crate::sim::{ConsoleInput, SimChangeWindow};
use crate::store::JournalEntry;
use crate::time::Timestamp;

mod read;

pub(super) const INSTRUCTION_STATE: &str = "instructions";
const DETECTOR: &str = "console_instructions";
const DETECTOR_VERSION: u32 = 1;
/// Longest reason a platform may give with an action's outcome, in bytes.
pub const MAX_OUTCOME_REASON_BYTES: usize = 256;

/// Something a verified instruction asks the native layer to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "SCREAMING_SNAKE_CASE")]
#[serde(try_from = "read::action::Fields")]
pub enum InstructionAction {
    /// Lock the screen now.
    LockNow,
    /// Wipe the managed (work) data.
    WipeWorkData {
        /// Keep factory-reset protection data.
        preserve_frp: bool,
    },
    /// Factory-reset the phone.
    WipeDevice {
        /// Keep factory-reset protection data.
        preserve_frp: bool,
    },
    /// Collect evidence and submit an inspection now: the core has opened a window.
    StartInspection {
        /// The console's reason.
        reason: String,
    },
    /// Rotate the platform keys the platform can rotate; the core has already started
    /// a new journal epoch with a signed checkpoint.
    RotateKeys,
    /// Show the person carrying the phone a short notice.
    ShowNotice {
        /// A short title.
        title: String,
        /// The text.
        body: String,
    },
    /// Generate a signing key (ECDSA P-256) in the platform keystore with this
    /// attestation challenge (StrongBox where present), sign `certify` with it
    /// (SHA256withECDSA), and hand the key's certificate chain and that signature to
    /// [`Agent::submit_attestation`].
    Attest {
        /// The console's challenge, exactly these bytes.
        challenge: Vec<u8>,
        /// The statement certifying the checkpoint-signing key, to be signed by the new key.
        certify: Vec<u8>,
    },
}

/// An action handed to the native layer, once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandedAction {
    /// The instruction's id: report the outcome under it.
    pub action_id: String,
    /// The instruction's sequence.
    pub sequence: u64,
    /// What to do.
    pub action: InstructionAction,
    /// Who carries it out: the agent, or the MDM (iOS, or an Android agent without
    /// device-owner powers) to which the native layer reports it.
    pub route: Route,
}

/// What became of a handed action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[serde(try_from = "read::outcome::Fields")]
pub enum ActionOutcome {
    /// Done.
    CarriedOut,
    /// Routed to the MDM and received by it; the MDM's own command carries it out, and
    /// only the MDM can say when. Never reported as done: a forwarded wipe is not a wipe.
    HandedToMdm,
    /// This platform or this deployment cannot do it.
    NotPossible {
        /// Why, in a short phrase (no identifiers).
        reason: String,
    },
    /// Tried, and it failed.
    Failed {
        /// Why, in a short phrase (no identifiers).
        reason: String,
    },
}

impl ActionOutcome {
    /// The outcome of an MDM-routed action whose console message the platform published
    /// where the MDM reads app state, from what the channel answered: `HandedToMdm` once
    /// sent, `NotPossible` when nothing on the device reads it. `None` for a send too large
    /// or failed: the action stays awaiting and is published again at the next pass.
    pub fn of_mdm_publication(channel: &ChannelOutcome) -> Option<Self> {
        match channel {
            ChannelOutcome::Sent => Some(ActionOutcome::HandedToMdm),
            ChannelOutcome::NoReceiver => Some(ActionOutcome::NotPossible {
                reason: "no MDM on this device reads app states".into(),
            }),
            ChannelOutcome::TooLarge | ChannelOutcome::Failed { .. } => None,
        }
    }

    /// The outcome of a remediation action the platform must not carry out itself, decided
    /// by its route: `MDM` is handed to the MDM (the platform reports it where the MDM reads
    /// app state), `NOT_POSSIBLE` is reported with the reason and never tried. `None` for an
    /// `AGENT` action, which only the platform can carry out.
    pub fn without_agent(route: Route) -> Option<Self> {
        match route {
            Route::Agent => None,
            Route::Mdm => Some(ActionOutcome::HandedToMdm),
            Route::NotPossible(reason) => Some(ActionOutcome::NotPossible {
                reason: format!("not possible on this device: {}", reason.as_str()),
            }),
        }
    }

    /// The outcome with its reason on one line and within [`MAX_OUTCOME_REASON_BYTES`]
    /// (cut at a character boundary, ending in `…`): platforms pass their exception texts
    /// as they are, and the core bounds them.
    pub fn bounded(self) -> Self {
        match self {
            ActionOutcome::NotPossible { reason } => ActionOutcome::NotPossible {
                reason: bound_reason(&reason),
            },
            ActionOutcome::Failed { reason } => ActionOutcome::Failed {
                reason: bound_reason(&reason),
            },
            other => other,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            ActionOutcome::CarriedOut => "carried_out",
            ActionOutcome::HandedToMdm => "handed_to_mdm",
            ActionOutcome::NotPossible { .. } => "not_possible",
            ActionOutcome::Failed { .. } => "failed",
        }
    }

    fn severity(&self) -> Severity {
        match self {
            ActionOutcome::CarriedOut | ActionOutcome::HandedToMdm => Severity::Info,
            ActionOutcome::NotPossible { .. } => Severity::Medium,
            ActionOutcome::Failed { .. } => Severity::High,
        }
    }
}

/// Most certificates an attestation chain may have (leaf, attestation key, intermediates, root).
pub const MAX_ATTESTATION_CERTS: usize = 8;
/// Largest certificate accepted in an attestation chain, in bytes.
pub const MAX_ATTESTATION_CERT_BYTES: usize = 16 * 1024;
/// Largest certification signature (a DER ECDSA signature is at most 72 bytes for P-256).
pub const MAX_CERTIFICATION_BYTES: usize = 512;

/// The platform's answer to an `attest` action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestationAnswer {
    /// The new key's certificate chain, DER, leaf first (`KeyStore.getCertificateChain`).
    pub chain: Vec<Vec<u8>>,
    /// The new key's SHA256withECDSA signature over the action's `certify` statement (DER).
    pub certification: Vec<u8>,
    /// Whether the key was made in StrongBox.
    pub strong_box: bool,
    /// Whether StrongBox was asked for and unavailable, so the TEE made the key instead.
    pub strong_box_fallback: bool,
}

impl AttestationAnswer {
    /// Shape only: the console verifies the chain; the phone refuses what it could not send.
    fn validate(&self) -> Result<()> {
        if self.chain.len() < 2 || self.chain.len() > MAX_ATTESTATION_CERTS {
            return Err(Error::invalid(
                "chain",
                format!("must hold 2 to {MAX_ATTESTATION_CERTS} certificates"),
            ));
        }
        for (i, cert) in self.chain.iter().enumerate() {
            // Every DER certificate is a SEQUENCE.
            if cert.len() > MAX_ATTESTATION_CERT_BYTES || cert.first() != Some(&0x30) {
                return Err(Error::invalid(
                    format!("chain[{i}]"),
                    format!(
                        "is not a DER certificate of at most {MAX_ATTESTATION_CERT_BYTES} bytes"
                    ),
                ));
            }
        }
        if self.certification.is_empty() || self.certification.len() > MAX_CERTIFICATION_BYTES {
            return Err(Error::invalid(
                "certification",
                format!("must be 1 to {MAX_CERTIFICATION_BYTES} bytes"),
            ));
        }
        if self.strong_box && self.strong_box_fallback {
            return Err(Error::invalid(
                "strong_box_fallback",
                "a StrongBox key cannot also be a fallback from StrongBox",
            ));
        }
        Ok(())
    }
}

/// An attestation the platform answered with, to send to the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestationSubmission {
    /// The `attest` instruction's id.
    pub instruction_id: String,
    /// The challenge it carried.
    pub challenge: Vec<u8>,
    /// The certificate chain, DER, leaf first.
    pub chain: Vec<Vec<u8>>,
    /// The leaf key's signature over the checkpoint-key certification statement (DER).
    pub certification: Vec<u8>,
    /// Made in StrongBox.
    pub strong_box: bool,
    /// StrongBox was unavailable and the TEE made the key.
    pub strong_box_fallback: bool,
}

impl AttestationSubmission {
    /// SHA-256 over the certificates' DER, in order, then the certification signature.
    pub fn chain_sha256(&self) -> [u8; 32] {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        for cert in &self.chain {
            ctx.update(cert);
        }
        ctx.update(&self.certification);
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.finish().as_ref());
        out
    }
}

/// What submitting an attestation produced: [`AttestationReceipt::messages`] gives the
/// console messages that carry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestationReceipt {
    /// The attestation, for the console messages.
    pub submission: AttestationSubmission,
    /// When it was submitted; the messages carry this time.
    pub at: Timestamp,
    /// The `instruction_outcome` alert (carried out).
    pub alerts: Vec<Alert>,
}

/// What applying an instruction did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstructionOutcome {
    /// Verified and carried out.
    Applied(AppliedInstruction),
    /// An instruction already accepted, delivered again: nothing changed.
    Unchanged {
        /// Its id.
        instruction_id: String,
        /// Its sequence.
        sequence: u64,
    },
    /// Refused: nothing changed; the refusal is journaled and, for an input not
    /// refused before, raised as `instruction_refused`.
    Refused(RefusedInstruction),
}

/// An instruction carried out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedInstruction {
    /// Its id.
    pub instruction_id: String,
    /// Its sequence.
    pub sequence: u64,
    /// Its kind.
    pub kind: InstructionKind,
    /// What the native layer must now do, handed out this once.
    pub actions: Vec<HandedAction>,
    /// The alerts it raised.
    pub alerts: Vec<Alert>,
}

/// An instruction refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedInstruction {
    /// A stable short code (`bad_signature`, `replayed`, `expired`, `out_of_scope`, ...).
    pub code: &'static str,
    /// Why, naming the check or field and never a value.
    pub reason: String,
    /// The `instruction_refused` alert, when this input was not refused before.
    pub alerts: Vec<Alert>,
}

/// What the agent persists about instructions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct InstructionComponent {
    ledger: Ledger,
    /// Actions handed out whose outcome the native layer has not reported yet.
    awaiting: Vec<HandedAction>,
}

impl State for InstructionComponent {
    const WHAT: &'static str = "instruction ledger";
}

/// The instruction side of the agent in memory, with its last committed form.
pub(super) struct InstructionSlot {
    pub(super) state: Persisted<InstructionComponent>,
}

impl InstructionSlot {
    pub(super) fn restore(json: Option<String>) -> Result<Self> {
        Ok(InstructionSlot {
            state: Persisted::restore(json, InstructionComponent::default)?,
        })
    }

    /// Puts back the last committed state after a failed commit; an unreadable committed
    /// form is `Corrupt` and leaves the state as it is.
    pub(super) fn rollback(&mut self) -> Result<()> {
        self.state.rollback(InstructionComponent::default)
    }
}

impl Agent {
    /// Verifies a signed console instruction and carries it out: SIM-change windows
    /// and carrier results reach the SIM guard, playbook steps come back as actions
    /// for the native layer (handed out this once; report each with
    /// [`Agent::report_action_outcome`]). A refused instruction changes nothing and
    /// comes back as [`InstructionOutcome::Refused`]; errors are left for storage
    /// failures and a device with no trust root.
    pub fn apply_instruction(
        &mut self,
        envelope: &[u8],
        now: Timestamp,
    ) -> Result<InstructionOutcome> {
        let component = self.policy_component()?;
        let (trust, scope) = (component.trust.clone(), component.scope.clone());
        // A clock moved back must not make an expired instruction acceptable again.
        let now = now.max(self.guard.facts().last_seen);
        let limits = self
            .active_policy()
            .map_or_else(InstructionRules::default, |p| p.instructions);
        let verified = match instruction::verify(
            &trust,
            &self.instructions.state.ledger,
            envelope,
            now,
            &scope,
            &limits,
        ) {
            Ok(Verification::Accepted(v)) => v,
            Ok(Verification::Redelivered {
                sequence,
                instruction_id,
            }) => {
                return Ok(InstructionOutcome::Unchanged {
                    instruction_id,
                    sequence,
                })
            }
            Err(e) => return self.refuse_instruction(envelope, &e, now),
        };
        self.carry_out(*verified, now)
    }

    /// Applies the instructions a managed configuration lists, in order of their
    /// sequence (the newest last), so a redelivered list is no news and a list whose
    /// order was shuffled is not mistaken for a rollback. Order is read from the
    /// unauthenticated payloads only to sort; each is then verified in full.
    pub fn apply_instruction_list(
        &mut self,
        envelopes: &[Vec<u8>],
        now: Timestamp,
    ) -> Result<Vec<InstructionOutcome>> {
        let mut ordered: Vec<(u64, &Vec<u8>)> = envelopes
            .iter()
            .map(|e| (claimed_sequence(e).unwrap_or(u64::MAX), e))
            .collect();
        crate::sort::sort_by_key(&mut ordered, |(seq, _)| *seq);
        ordered
            .into_iter()
            .map(|(_, e)| self.apply_instruction(e, now))
            .collect()
    }

    /// Reports what became of a handed action; the console hears of it as an
    /// `instruction_outcome` alert (info when carried out, medium when not possible,
    /// high when it failed). Each action's outcome is taken once.
    pub fn report_action_outcome(
        &mut self,
        action_id: &str,
        outcome: ActionOutcome,
        now: Timestamp,
    ) -> Result<Vec<Alert>> {
        let outcome = outcome.bounded();
        if let ActionOutcome::NotPossible { reason } | ActionOutcome::Failed { reason } = &outcome {
            check_free_text("outcome.reason", reason, MAX_OUTCOME_REASON_BYTES, false)
                .map_err(|e| Error::invalid("outcome.reason", short_reason(&e)))?;
        }
        let Some(index) = self
            .instructions
            .state
            .awaiting
            .iter()
            .position(|a| a.action_id == action_id)
        else {
            return Err(Error::invalid(
                "action_id",
                "names no action awaiting an outcome (unknown, or its outcome was already reported)",
            ));
        };
        if matches!(
            (&self.instructions.state.awaiting[index].action, &outcome),
            (InstructionAction::Attest { .. }, ActionOutcome::CarriedOut)
        ) {
            return Err(Error::invalid(
                "outcome",
                "an attest action is carried out by submitting its certificate chain (submit_attestation)",
            ));
        }
        let handed = self.instructions.state.awaiting.remove(index);
        let action_name = action_name(&handed.action);
        let finding = outcome_finding(&handed, &outcome, now);
        let journal = vec![JournalEntry {
            kind: "instruction_action_outcome".into(),
            body: serde_json::json!({
                "instruction_id": handed.action_id,
                "sequence": handed.sequence,
                "action": action_name,
                "outcome": outcome,
            })
            .to_string(),
        }];
        self.commit_instruction_step(now, vec![finding], journal, Vec::new())
    }

    /// Takes the platform's answer to an `attest` action: the new key's certificate
    /// chain (DER, leaf first) and its signature over the action's `certify` statement.
    /// The chain is journaled and comes back as console messages (key
    /// `portcullis.attestation.<part>`) for the console to verify with `portcullis
    /// attest verify`; the action is then done. A malformed chain is refused naming the
    /// problem, and the action stays awaiting its answer.
    pub fn submit_attestation(
        &mut self,
        action_id: &str,
        answer: AttestationAnswer,
        now: Timestamp,
    ) -> Result<AttestationReceipt> {
        let Some(index) = self.instructions.state.awaiting.iter().position(|a| {
            a.action_id == action_id && matches!(a.action, InstructionAction::Attest { .. })
        }) else {
            return Err(Error::invalid(
                "action_id",
                "names no attest action awaiting its answer (unknown, another kind, or answered already)",
            ));
        };
        answer.validate()?;
        let handed = self.instructions.state.awaiting.remove(index);
        let InstructionAction::Attest { challenge, .. } = &handed.action else {
            return Err(Error::Corrupt("an attest action changed kind".into()));
        };
        let submission = AttestationSubmission {
            instruction_id: handed.action_id.clone(),
            challenge: challenge.clone(),
            chain: answer.chain.clone(),
            certification: answer.certification.clone(),
            strong_box: answer.strong_box,
            strong_box_fallback: answer.strong_box_fallback,
        };
        let finding = outcome_finding(&handed, &ActionOutcome::CarriedOut, now);
        let journal = vec![JournalEntry {
            kind: "attestation_chain".into(),
            body: serde_json::json!({
                "instruction_id": handed.action_id,
                "sequence": handed.sequence,
                "challenge": hex(challenge),
                "chain_sha256": hex(&submission.chain_sha256()),
                "certificates": answer.chain.iter().map(|c| STANDARD.encode(c)).collect::<Vec<_>>(),
                "certification": STANDARD.encode(&answer.certification),
                "checkpoint_key": hex(&self.signer.public_key()),
                "strong_box": answer.strong_box,
                "strong_box_fallback": answer.strong_box_fallback,
            })
            .to_string(),
        }];
        let alerts = self.commit_instruction_step(now, vec![finding], journal, Vec::new())?;
        Ok(AttestationReceipt {
            submission,
            at: now,
            alerts,
        })
    }

    /// Actions handed out whose outcome has not been reported, oldest first: after a
    /// restart the native layer can see what it still owes an answer for.
    pub fn actions_awaiting_outcome(&self) -> &[HandedAction] {
        &self.instructions.state.awaiting
    }

    /// The highest instruction sequence this device accepted (0 before the first).
    pub fn instruction_sequence(&self) -> u64 {
        self.instructions.state.ledger.highest_sequence
    }

    fn carry_out(
        &mut self,
        verified: VerifiedInstruction,
        now: Timestamp,
    ) -> Result<InstructionOutcome> {
        let payload = &verified.payload;
        let id = payload.instruction_id.clone();
        let kind = payload.body.kind();
        let mut findings = Vec::new();
        let mut events = Vec::new();
        let mut details = serde_json::Map::new();
        let mut actions = Vec::new();
        let hand = |action: InstructionAction, route: Route| HandedAction {
            action_id: id.clone(),
            sequence: payload.sequence,
            action,
            route,
        };
        match &payload.body {
            InstructionBody::AuthorizeSimChange(a) => {
                let expected = a.expected_pins();
                let window = SimChangeWindow {
                    instruction_id: id.clone(),
                    slot: a.slot,
                    until: a.until,
                    reason: a.reason.clone(),
                    expected: expected.clone(),
                };
                self.guard.handle_console(
                    &ConsoleInput::Authorize(window),
                    now,
                    &self.hasher,
                    &mut findings,
                );
                let mut evidence = vec![
                    ("instruction_id".to_owned(), id.clone()),
                    ("until".to_owned(), a.until.to_string()),
                    ("reason".to_owned(), a.reason.clone()),
                    (
                        "slot".to_owned(),
                        a.slot.map_or("any".to_owned(), |s| s.to_string()),
                    ),
                    (
                        "expected_sim".to_owned(),
                        if expected.is_some() { "pinned" } else { "any" }.to_owned(),
                    ),
                ];
                evidence.push((
                    "signed_by".to_owned(),
                    verified
                        .signed_by
                        .iter()
                        .map(super::super::policy::bundle::KeyId::short)
                        .collect::<Vec<_>>()
                        .join(","),
                ));
                findings.push(Finding {
                    at: now,
                    kind: AlertKind::SimChangeWindowOpened,
                    slot: a.slot,
                    detector: DETECTOR.into(),
                    detector_version: DETECTOR_VERSION,
                    summary: format!(
                        "A signed instruction opened a SIM-change window until {}{}",
                        a.until,
                        if expected.is_some() {
                            " for the SIM it names"
                        } else {
                            " for any SIM"
                        }
                    ),
                    evidence,
                    severity: None,
                });
                details.insert("until".into(), a.until.to_string().into());
                details.insert("slot".into(), serde_json::json!(a.slot));
                details.insert("expected".into(), expected.is_some().into());
                details.insert("reason".into(), a.reason.clone().into());
            }
            InstructionBody::CarrierCheck(c) => {
                let result = verified.carrier.clone().ok_or_else(|| {
                    Error::Corrupt("a verified carrier check lost its result".into())
                })?;
                details.insert("api".into(), c.api.as_str().into());
                details.insert("operation".into(), c.operation.as_str().into());
                details.insert("checked_at".into(), c.checked_at.to_string().into());
                details.insert(
                    "verdict".into(),
                    format!("{:?}", result.verdict).to_lowercase().into(),
                );
                self.guard.handle_console(
                    &ConsoleInput::Carrier(result),
                    now,
                    &self.hasher,
                    &mut findings,
                );
            }
            InstructionBody::RevokeAuthorizations => {
                let open = self.guard.facts().open_authorizations(now).count();
                self.guard.handle_console(
                    &ConsoleInput::RevokeAuthorizations,
                    now,
                    &self.hasher,
                    &mut findings,
                );
                details.insert("windows_closed".into(), open.into());
            }
            InstructionBody::StartInspection { reason } => {
                events.extend(self.inspection.trigger_now(now));
                details.insert("reason".into(), reason.clone().into());
                details.insert(
                    "window_open".into(),
                    self.open_inspection_window().is_some().into(),
                );
                actions.push(hand(
                    InstructionAction::StartInspection {
                        reason: reason.clone(),
                    },
                    Route::Agent,
                ));
            }
            InstructionBody::LockNow => {
                let action = InstructionAction::LockNow;
                actions.push(hand(action.clone(), self.instruction_route(&action)));
            }
            InstructionBody::WipeWorkData { preserve_frp } => {
                let action = InstructionAction::WipeWorkData {
                    preserve_frp: *preserve_frp,
                };
                actions.push(hand(action.clone(), self.instruction_route(&action)));
            }
            InstructionBody::WipeDevice { preserve_frp } => {
                let action = InstructionAction::WipeDevice {
                    preserve_frp: *preserve_frp,
                };
                actions.push(hand(action.clone(), self.instruction_route(&action)));
            }
            InstructionBody::RotateKeys => {
                actions.push(hand(InstructionAction::RotateKeys, Route::Agent));
            }
            InstructionBody::ShowNotice { title, body } => {
                actions.push(hand(
                    InstructionAction::ShowNotice {
                        title: title.clone(),
                        body: body.clone(),
                    },
                    Route::Agent,
                ));
            }
            InstructionBody::Attest { challenge } => {
                details.insert("challenge".into(), hex(challenge).into());
                let certify = crate::journal::checkpoint_key_certification(
                    challenge,
                    &self.signer.public_key(),
                );
                actions.push(hand(
                    InstructionAction::Attest {
                        challenge: challenge.clone(),
                        certify,
                    },
                    Route::Agent,
                ));
            }
        }
        // What no one here can do is not handed out: its outcome is known now, and the
        // console hears it with the reason in this same transaction.
        let (actions, impossible): (Vec<HandedAction>, Vec<HandedAction>) = actions
            .into_iter()
            .partition(|a| a.route.not_possible_reason().is_none());
        for a in &impossible {
            let reason = a.route.not_possible_reason().map_or("", |r| r.as_str());
            findings.push(outcome_finding(
                a,
                &ActionOutcome::NotPossible {
                    reason: reason.to_owned(),
                },
                now,
            ));
            details.insert(
                format!("{}_not_possible", action_name(&a.action)),
                reason.into(),
            );
        }
        self.instructions.state.ledger.accept(&verified);
        self.instructions
            .state
            .awaiting
            .extend(actions.iter().cloned());
        let journal = vec![JournalEntry {
            kind: "instruction_applied".into(),
            body: serde_json::json!({
                "instruction_id": id,
                "sequence": payload.sequence,
                "kind": kind.as_str(),
                "issued_at": payload.issued_at,
                "expires": payload.expires,
                "payload_sha256": verified.payload_sha256.to_string(),
                "signed_by": verified.signed_by.iter().map(std::string::ToString::to_string).collect::<Vec<_>>(),
                "details": details,
                "actions": actions.iter().map(|a| action_name(&a.action)).collect::<Vec<_>>(),
            })
            .to_string(),
        }];
        let alerts = self.commit_instruction_step(now, findings, journal, events)?;
        if kind == InstructionKind::RotateKeys {
            // A new epoch: MAC keys of every earlier record are erased from the device.
            self.checkpoint(now)?;
        }
        log::info!(
            "portcullis: instruction {} (sequence {}) applied",
            kind,
            payload.sequence
        );
        Ok(InstructionOutcome::Applied(AppliedInstruction {
            instruction_id: id,
            sequence: payload.sequence,
            kind,
            actions,
            alerts,
        }))
    }

    /// Who carries out a lock or wipe, from the capabilities the last compliance
    /// snapshot showed: the agent as device owner, the MDM on a companion (Android or
    /// iOS), no one for a work-data wipe on a fully managed phone. Before any snapshot
    /// the agent is asked, and the native layer reports what it could not do.
    fn instruction_route(&self, action: &InstructionAction) -> Route {
        let Some(caps) = self.compliance.engine.capabilities() else {
            return Route::Agent;
        };
        match action {
            InstructionAction::LockNow | InstructionAction::WipeDevice { .. } => {
                caps.route_owner_power()
            }
            InstructionAction::WipeWorkData { .. } => caps.route_work_data_wipe(),
            InstructionAction::StartInspection { .. }
            | InstructionAction::RotateKeys
            | InstructionAction::ShowNotice { .. }
            | InstructionAction::Attest { .. } => Route::Agent,
        }
    }

    fn refuse_instruction(
        &mut self,
        input: &[u8],
        error: &Error,
        now: Timestamp,
    ) -> Result<InstructionOutcome> {
        let digest = hex(ring::digest::digest(&ring::digest::SHA256, input).as_ref());
        let code = match error {
            Error::Policy(p) => p.code(),
            _ => "invalid",
        };
        let reason = error.to_string();
        log::warn!("portcullis: instruction refused ({code})");
        let mut findings = Vec::new();
        if self.instructions.state.ledger.refuse(&digest) {
            findings.push(Finding {
                at: now,
                kind: AlertKind::InstructionRefused,
                slot: None,
                detector: DETECTOR.into(),
                detector_version: DETECTOR_VERSION,
                summary: format!("A console instruction was refused: {code}"),
                evidence: vec![
                    ("code".into(), code.into()),
                    ("reason".into(), reason.clone()),
                    ("input_sha256".into(), digest[..16].into()),
                ],
                severity: None,
            });
        }
        let journal = vec![JournalEntry {
            kind: "instruction_refused".into(),
            body: serde_json::json!({ "code": code, "reason": reason, "input_sha256": digest })
                .to_string(),
        }];
        let alerts = self.commit_instruction_step(now, findings, journal, Vec::new())?;
        Ok(InstructionOutcome::Refused(RefusedInstruction {
            code,
            reason,
            alerts,
        }))
    }

    /// Commits the guard, schedule and instruction state with the step's records and
    /// alerts; on failure every part of memory goes back to what is on disk.
    fn commit_instruction_step(
        &mut self,
        now: Timestamp,
        findings: Vec<Finding>,
        journal: Vec<JournalEntry>,
        events: Vec<crate::inspection::ScheduleEvent>,
    ) -> Result<Vec<Alert>> {
        match self.persist_with_events(now, findings, journal, events) {
            Ok(alerts) => Ok(alerts),
            Err(e) => {
                self.instructions.rollback()?;
                Err(e)
            }
        }
    }
}

/// The sequence an envelope's payload claims, read without checking anything: only
/// to order a list before each entry is verified.
fn claimed_sequence(envelope: &[u8]) -> Option<u64> {
    #[derive(Deserialize)]
    struct Claim {
        sequence: u64,
    }
    let parsed =
        crate::policy::Envelope::parse(envelope, instruction::MAX_INSTRUCTION_BYTES).ok()?;
    crate::json::from_slice::<Claim>(&parsed.payload)
        .ok()
        .map(|c| c.sequence)
}

/// The `instruction_outcome` finding for what became of `handed`.
fn outcome_finding(handed: &HandedAction, outcome: &ActionOutcome, now: Timestamp) -> Finding {
    let action_name = action_name(&handed.action);
    let mut evidence = vec![
        ("instruction_id".to_owned(), handed.action_id.clone()),
        ("action".to_owned(), action_name.to_owned()),
        ("outcome".to_owned(), outcome.name().to_owned()),
    ];
    if let ActionOutcome::NotPossible { reason } | ActionOutcome::Failed { reason } = outcome {
        evidence.push(("reason".to_owned(), reason.clone()));
    }
    Finding {
        at: now,
        kind: AlertKind::InstructionOutcome,
        slot: None,
        detector: DETECTOR.into(),
        detector_version: DETECTOR_VERSION,
        summary: format!(
            "The console's {action_name} ({}) was {}",
            handed.action_id,
            match outcome {
                ActionOutcome::CarriedOut => "carried out",
                ActionOutcome::HandedToMdm => "handed to the MDM, whose own command carries it out",
                ActionOutcome::NotPossible { .. } => "not possible on this device",
                ActionOutcome::Failed { .. } => "attempted and failed",
            }
        ),
        evidence,
        severity: Some(outcome.severity()),
    }
}

/// The action's stable name, as the journal, alerts and console messages spell it.
pub(crate) fn action_name(action: &InstructionAction) -> &'static str {
    match action {
        InstructionAction::LockNow => "lock_now",
        InstructionAction::WipeWorkData { .. } => "wipe_work_data",
        InstructionAction::WipeDevice { .. } => "wipe_device",
        InstructionAction::StartInspection { .. } => "start_inspection",
        InstructionAction::RotateKeys => "rotate_keys",
        InstructionAction::ShowNotice { .. } => "show_notice",
        InstructionAction::Attest { .. } => "attest",
    }
}

/// `reason` with control characters (line breaks) as spaces, cut to at most
/// [`MAX_OUTCOME_REASON_BYTES`] bytes at a character boundary, ending in `…` when cut.
pub fn bound_reason(reason: &str) -> String {
    let line: String = reason
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if line.len() <= MAX_OUTCOME_REASON_BYTES {
        return line;
    }
    const ELLIPSIS: char = '\u{2026}';
    let mut end = MAX_OUTCOME_REASON_BYTES - ELLIPSIS.len_utf8();
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{ELLIPSIS}", &line[..end])
}

fn short_reason(e: &Error) -> String {
    match e {
        Error::Policy(crate::policy::PolicyError::InvalidInstruction { problem, .. }) => {
            problem.clone()
        }
        other => other.to_string(),
    }
}
