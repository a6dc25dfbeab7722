//! Console instructions: everything the console tells a phone besides policies and
//! indicator collections, signed like them.
//!
//! An instruction can silence the SIM guard (a SIM-change authorisation), clear or
//! raise a carrier alert (a relayed carrier check) or wipe the phone (the hygiene
//! playbook), so it is trusted exactly as much as a policy: a DSSE envelope of type
//! [`INSTRUCTION_PAYLOAD_TYPE`] whose signatures meet the threshold of the trust
//! root's `operations` role. The payload carries a per-device `sequence` that must
//! strictly increase, an expiry at most a week (or the policy's limit) after it was
//! issued, and the devices or groups it is for. Verification is pure: [`verify`]
//! reads the trusted state and the [`Ledger`] of what this device accepted and
//! returns what to do; the agent commits it. docs/instructions.md documents the
//! format and the attack each check answers.

mod carrier;
mod text;

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

pub(crate) use crate::redact::redact_identifiers;
pub use carrier::{CarrierOperation, CarrierRequest};
pub(crate) use text::check_free_text;

use crate::policy::bundle::Envelope;
use crate::policy::model::{
    InstructionRules, PinnedIdentity, MAX_INSTRUCTION_LIFETIME_HOURS, MAX_SIM_CHANGE_WINDOW_HOURS,
};
use crate::policy::trust::{check_not_expired, valid_scope_name};
use crate::policy::{
    BundleScope, DeviceScope, KeyId, PayloadHash, PolicyError, SigningKey, TrustedState,
};
use crate::sim::{CarrierApi, CarrierResult, SimPins, MAX_SLOT};
use crate::time::{Timestamp, HOUR_MS};

/// `payloadType` of a signed console instruction.
pub const INSTRUCTION_PAYLOAD_TYPE: &str = "application/vnd.portcullis.instruction+json";
/// Largest signed instruction accepted, checked before any parsing.
pub const MAX_INSTRUCTION_BYTES: usize = 64 * 1024;
/// Longest reason an authorisation or inspection request may carry, in bytes.
pub const MAX_REASON_BYTES: usize = 512;
/// Longest notice title, in characters.
pub const MAX_NOTICE_TITLE_CHARS: usize = 80;
/// Longest notice body, in characters.
pub const MAX_NOTICE_BODY_CHARS: usize = 1000;
/// How far ahead of the phone's clock an instruction may be issued: a console clock a
/// little fast is tolerated, a pre-signed instruction that would stretch a SIM-change
/// window past its limit is not.
pub const ISSUED_AT_TOLERANCE_MS: i64 = HOUR_MS;
/// How many accepted instructions are remembered, so a managed configuration that
/// redelivers its list is no news.
const REMEMBERED_ACCEPTED: usize = 64;
/// How many refused inputs are remembered, so a redelivered bad one alerts once.
const REMEMBERED_REFUSED: usize = 64;

/// The kinds an agent accepts, for messages.
const KINDS: &str = "authorize_sim_change, carrier_check, lock_now, wipe_work_data, wipe_device, start_inspection, rotate_keys, show_notice, revoke_authorizations, attest";
/// Shortest attestation challenge, in bytes: enough that the console never repeats one.
pub const MIN_ATTEST_CHALLENGE_BYTES: usize = 16;
/// Longest attestation challenge, in bytes (Keystore accepts at most 128; 32 is plenty).
pub const MAX_ATTEST_CHALLENGE_BYTES: usize = 32;

/// The signed content of an instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstructionPayload {
    /// The console's id for the instruction (1 to 128 of `A-Z a-z 0-9 . _ : -`);
    /// actions and outcomes refer to it.
    pub instruction_id: String,
    /// Strictly increasing per device: the agent refuses any sequence not above the
    /// highest it accepted, so an old instruction cannot be replayed. At most `issuedAt`
    /// in Unix milliseconds, so a stolen key cannot exhaust the sequence space.
    pub sequence: u64,
    /// When the console signed it.
    pub issued_at: Timestamp,
    /// After this the instruction is refused.
    pub expires: Timestamp,
    /// The devices or groups it is for.
    pub scope: BundleScope,
    /// What to do.
    pub body: InstructionBody,
}

/// What an instruction asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstructionBody {
    /// Open a planned SIM-change window.
    AuthorizeSimChange(AuthorizeSimChange),
    /// A carrier's answer, relayed as the CAMARA API gave it.
    CarrierCheck(CarrierCheck),
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
    /// Open a triggered inspection window now.
    StartInspection {
        /// Why, for the audit trail.
        reason: String,
    },
    /// Start a new journal epoch with a signed checkpoint, and rotate what platform
    /// keys the platform can.
    RotateKeys,
    /// Show the person carrying the phone a short notice.
    ShowNotice {
        /// A short title.
        title: String,
        /// The text.
        body: String,
    },
    /// Close every open SIM-change window now.
    RevokeAuthorizations,
    /// Generate the attested device key with this challenge and return its certificate
    /// chain, so the console can verify the phone's hardware and boot state.
    Attest {
        /// The console's fresh random challenge (16 to 32 bytes).
        challenge: Vec<u8>,
    },
}

/// The kind of an instruction, by its stable wire name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstructionKind {
    /// `authorize_sim_change`.
    AuthorizeSimChange,
    /// `carrier_check`.
    CarrierCheck,
    /// `lock_now`.
    LockNow,
    /// `wipe_work_data`.
    WipeWorkData,
    /// `wipe_device`.
    WipeDevice,
    /// `start_inspection`.
    StartInspection,
    /// `rotate_keys`.
    RotateKeys,
    /// `show_notice`.
    ShowNotice,
    /// `revoke_authorizations`.
    RevokeAuthorizations,
    /// `attest`.
    Attest,
}

impl InstructionKind {
    /// Every kind.
    pub const ALL: [InstructionKind; 10] = [
        InstructionKind::AuthorizeSimChange,
        InstructionKind::CarrierCheck,
        InstructionKind::LockNow,
        InstructionKind::WipeWorkData,
        InstructionKind::WipeDevice,
        InstructionKind::StartInspection,
        InstructionKind::RotateKeys,
        InstructionKind::ShowNotice,
        InstructionKind::RevokeAuthorizations,
        InstructionKind::Attest,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            InstructionKind::AuthorizeSimChange => "authorize_sim_change",
            InstructionKind::CarrierCheck => "carrier_check",
            InstructionKind::LockNow => "lock_now",
            InstructionKind::WipeWorkData => "wipe_work_data",
            InstructionKind::WipeDevice => "wipe_device",
            InstructionKind::StartInspection => "start_inspection",
            InstructionKind::RotateKeys => "rotate_keys",
            InstructionKind::ShowNotice => "show_notice",
            InstructionKind::RevokeAuthorizations => "revoke_authorizations",
            InstructionKind::Attest => "attest",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl std::fmt::Display for InstructionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl InstructionBody {
    /// The body's kind.
    pub fn kind(&self) -> InstructionKind {
        match self {
            InstructionBody::AuthorizeSimChange(_) => InstructionKind::AuthorizeSimChange,
            InstructionBody::CarrierCheck(_) => InstructionKind::CarrierCheck,
            InstructionBody::LockNow => InstructionKind::LockNow,
            InstructionBody::WipeWorkData { .. } => InstructionKind::WipeWorkData,
            InstructionBody::WipeDevice { .. } => InstructionKind::WipeDevice,
            InstructionBody::StartInspection { .. } => InstructionKind::StartInspection,
            InstructionBody::RotateKeys => InstructionKind::RotateKeys,
            InstructionBody::ShowNotice { .. } => InstructionKind::ShowNotice,
            InstructionBody::RevokeAuthorizations => InstructionKind::RevokeAuthorizations,
            InstructionBody::Attest { .. } => InstructionKind::Attest,
        }
    }
}

/// A planned SIM change the security office authorises.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthorizeSimChange {
    /// The slot the new SIM goes into; absent for any slot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<u8>,
    /// End of the window: at most 72 hours (or the policy's limit) after `issuedAt`.
    pub until: Timestamp,
    /// Why (a ticket number, say); never an identifier.
    pub reason: String,
    /// The pins of the SIM about to be fitted (as `portcullis sim pin` prints them):
    /// with them only that SIM becomes the baseline, any other is still `sim_replaced`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<PinnedIdentity>,
}

/// A carrier's answer to a CAMARA SIM Swap or Device Swap request, relayed by the console.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CarrierCheck {
    /// Which API answered.
    pub api: CarrierApi,
    /// `check` or `retrieve_date`.
    pub operation: CarrierOperation,
    /// The keyed pin of the checked number (never the number); absent for the
    /// device's first slot holding a SIM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<crate::identity::IdentityPin>,
    /// When the console asked.
    pub checked_at: Timestamp,
    /// What it asked (`maxAge` for `check`).
    pub request: CarrierRequest,
    /// The response body exactly as the carrier's API returned it.
    #[serde(with = "raw_json")]
    pub response: String,
}

/// An instruction that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedInstruction {
    /// The signed content.
    pub payload: InstructionPayload,
    /// SHA-256 of the payload bytes.
    pub payload_sha256: PayloadHash,
    /// The distinct operations keys whose signatures counted.
    pub signed_by: Vec<KeyId>,
    /// For a carrier check, its answer read.
    pub carrier: Option<CarrierResult>,
}

/// What verification decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// New, authentic and in force: carry it out.
    Accepted(Box<VerifiedInstruction>),
    /// An instruction this device already accepted, delivered again: no news.
    Redelivered {
        /// Its sequence.
        sequence: u64,
        /// Its id.
        instruction_id: String,
    },
}

/// What the device remembers about instructions, persisted by the agent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Ledger {
    /// The highest sequence accepted (0 before the first).
    pub highest_sequence: u64,
    /// Recently accepted instructions (payload hash, sequence, id), oldest first.
    #[serde(default)]
    pub accepted: VecDeque<AcceptedEntry>,
    /// Digests of recently refused inputs, oldest first.
    #[serde(default)]
    pub refused: VecDeque<String>,
}

/// One accepted instruction, as the ledger remembers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AcceptedEntry {
    /// SHA-256 of its payload.
    pub payload_sha256: PayloadHash,
    /// Its sequence.
    pub sequence: u64,
    /// Its id.
    pub instruction_id: String,
}

impl Ledger {
    /// Records an accepted instruction.
    pub fn accept(&mut self, v: &VerifiedInstruction) {
        self.highest_sequence = self.highest_sequence.max(v.payload.sequence);
        self.accepted.push_back(AcceptedEntry {
            payload_sha256: v.payload_sha256,
            sequence: v.payload.sequence,
            instruction_id: v.payload.instruction_id.clone(),
        });
        while self.accepted.len() > REMEMBERED_ACCEPTED {
            self.accepted.pop_front();
        }
    }

    /// Records a refused input; returns false when it was refused before (no new alert).
    pub fn refuse(&mut self, digest: &str) -> bool {
        if self.refused.iter().any(|d| d == digest) {
            return false;
        }
        self.refused.push_back(digest.to_owned());
        while self.refused.len() > REMEMBERED_REFUSED {
            self.refused.pop_front();
        }
        true
    }

    fn accepted_with(&self, hash: &PayloadHash) -> Option<&AcceptedEntry> {
        self.accepted.iter().find(|e| e.payload_sha256 == *hash)
    }
}

/// Verifies an instruction as the phone does: size, envelope form, redelivery,
/// payload type, operations-role signatures and threshold, payload parse and limits,
/// issue time, expiry, scope and sequence. Pure: nothing is changed.
pub fn verify(
    trust: &TrustedState,
    ledger: &Ledger,
    envelope: &[u8],
    now: Timestamp,
    device: &DeviceScope,
    limits: &InstructionRules,
) -> crate::Result<Verification> {
    let parsed = Envelope::parse(envelope, MAX_INSTRUCTION_BYTES)?;
    let hash = PayloadHash(parsed.payload_sha256());
    // The exact payload was accepted before: whatever signatures surround it now,
    // carrying it out again would change nothing.
    if parsed.payload_type == INSTRUCTION_PAYLOAD_TYPE {
        if let Some(entry) = ledger.accepted_with(&hash) {
            return Ok(Verification::Redelivered {
                sequence: entry.sequence,
                instruction_id: entry.instruction_id.clone(),
            });
        }
    }
    let verified = authenticate(trust, &parsed, hash, now, Some(device), limits)?;
    let sequence = verified.payload.sequence;
    if sequence <= ledger.highest_sequence {
        return Err(PolicyError::SequenceNotNewer {
            offered: sequence,
            accepted: ledger.highest_sequence,
        }
        .into());
    }
    Ok(Verification::Accepted(Box::new(verified)))
}

/// The console's check of an instruction it is about to send: every check of
/// [`verify`] but the device's sequence and, without `device`, its scope.
pub fn check(
    trust: &TrustedState,
    envelope: &[u8],
    now: Timestamp,
    device: Option<&DeviceScope>,
    limits: &InstructionRules,
) -> crate::Result<VerifiedInstruction> {
    let parsed = Envelope::parse(envelope, MAX_INSTRUCTION_BYTES)?;
    let hash = PayloadHash(parsed.payload_sha256());
    authenticate(trust, &parsed, hash, now, device, limits)
}

fn authenticate(
    trust: &TrustedState,
    envelope: &Envelope,
    hash: PayloadHash,
    now: Timestamp,
    device: Option<&DeviceScope>,
    limits: &InstructionRules,
) -> crate::Result<VerifiedInstruction> {
    let signed_by = trust.authenticate_operations_role(envelope, INSTRUCTION_PAYLOAD_TYPE)?;
    // Only now, with the signers authenticated, is the payload parsed.
    let payload = InstructionPayload::from_json(&envelope.payload)?;
    payload.validate(limits)?;
    if payload.issued_at > now.plus_millis(ISSUED_AT_TOLERANCE_MS) {
        return Err(invalid(
            "issuedAt",
            "is more than an hour ahead of this device's clock",
        ));
    }
    check_not_expired(payload.expires, now)?;
    payload.scope.check_covers(device)?;
    let carrier = match &payload.body {
        InstructionBody::CarrierCheck(c) => Some(c.result(&payload.instruction_id)?),
        _ => None,
    };
    Ok(VerifiedInstruction {
        payload,
        payload_sha256: hash,
        signed_by,
        carrier,
    })
}

fn invalid(path: &str, problem: &str) -> crate::Error {
    PolicyError::InvalidInstruction {
        path: path.to_owned(),
        problem: problem.to_owned(),
    }
    .into()
}

/// The payload as it travels: the kind names how to read the body.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WirePayload {
    instruction_id: String,
    sequence: u64,
    issued_at: Timestamp,
    expires: Timestamp,
    scope: BundleScope,
    kind: String,
    body: Box<RawValue>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Empty {}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Wipe {
    preserve_frp: bool,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Reason {
    reason: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Challenge {
    /// Hex.
    challenge: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Notice {
    title: String,
    body: String,
}

impl InstructionPayload {
    /// Parses a payload; errors name the line, column and field, never a value.
    pub fn from_json(bytes: &[u8]) -> crate::Result<Self> {
        let wire: WirePayload = crate::json::from_slice(bytes)
            .map_err(|e| PolicyError::document("instruction payload", &e))?;
        let kind = InstructionKind::parse(&wire.kind)
            .ok_or(PolicyError::UnknownKind { expected: KINDS })?;
        let body = wire.body.get().as_bytes();
        let read = |e: serde_json::Error| PolicyError::document("instruction body", &e);
        let body = match kind {
            InstructionKind::AuthorizeSimChange => {
                InstructionBody::AuthorizeSimChange(serde_json::from_slice(body).map_err(read)?)
            }
            InstructionKind::CarrierCheck => {
                InstructionBody::CarrierCheck(serde_json::from_slice(body).map_err(read)?)
            }
            InstructionKind::LockNow => {
                let Empty {} = serde_json::from_slice(body).map_err(read)?;
                InstructionBody::LockNow
            }
            InstructionKind::RotateKeys => {
                let Empty {} = serde_json::from_slice(body).map_err(read)?;
                InstructionBody::RotateKeys
            }
            InstructionKind::RevokeAuthorizations => {
                let Empty {} = serde_json::from_slice(body).map_err(read)?;
                InstructionBody::RevokeAuthorizations
            }
            InstructionKind::WipeWorkData => {
                let w: Wipe = serde_json::from_slice(body).map_err(read)?;
                InstructionBody::WipeWorkData {
                    preserve_frp: w.preserve_frp,
                }
            }
            InstructionKind::WipeDevice => {
                let w: Wipe = serde_json::from_slice(body).map_err(read)?;
                InstructionBody::WipeDevice {
                    preserve_frp: w.preserve_frp,
                }
            }
            InstructionKind::StartInspection => {
                let r: Reason = serde_json::from_slice(body).map_err(read)?;
                InstructionBody::StartInspection { reason: r.reason }
            }
            InstructionKind::Attest => {
                let c: Challenge = serde_json::from_slice(body).map_err(read)?;
                let challenge = Some(&c.challenge)
                    .filter(|t| t.bytes().all(|b| b.is_ascii_hexdigit()))
                    .and_then(|t| crate::journal::unhex(t))
                    .ok_or_else(|| invalid("body.challenge", "is not hex"))?;
                InstructionBody::Attest { challenge }
            }
            InstructionKind::ShowNotice => {
                let n: Notice = serde_json::from_slice(body).map_err(read)?;
                InstructionBody::ShowNotice {
                    title: n.title,
                    body: n.body,
                }
            }
        };
        Ok(InstructionPayload {
            instruction_id: wire.instruction_id,
            sequence: wire.sequence,
            issued_at: wire.issued_at,
            expires: wire.expires,
            scope: wire.scope,
            body,
        })
    }

    /// The payload's JSON, as signed.
    pub fn to_json(&self) -> Vec<u8> {
        let body = match &self.body {
            InstructionBody::AuthorizeSimChange(a) => serde_json::to_string(a),
            InstructionBody::CarrierCheck(c) => serde_json::to_string(c),
            InstructionBody::LockNow
            | InstructionBody::RotateKeys
            | InstructionBody::RevokeAuthorizations => serde_json::to_string(&Empty {}),
            InstructionBody::WipeWorkData { preserve_frp }
            | InstructionBody::WipeDevice { preserve_frp } => serde_json::to_string(&Wipe {
                preserve_frp: *preserve_frp,
            }),
            InstructionBody::StartInspection { reason } => serde_json::to_string(&Reason {
                reason: reason.clone(),
            }),
            InstructionBody::ShowNotice { title, body } => serde_json::to_string(&Notice {
                title: title.clone(),
                body: body.clone(),
            }),
            InstructionBody::Attest { challenge } => serde_json::to_string(&Challenge {
                challenge: crate::identity::hex(challenge),
            }),
        }
        .expect("instruction bodies always serialise");
        let wire = WirePayload {
            instruction_id: self.instruction_id.clone(),
            sequence: self.sequence,
            issued_at: self.issued_at,
            expires: self.expires,
            scope: self.scope.clone(),
            kind: self.body.kind().as_str().to_owned(),
            body: RawValue::from_string(body).expect("serde_json writes valid JSON"),
        };
        serde_json::to_vec_pretty(&wire).expect("an instruction always serialises")
    }

    /// Validates and signs this payload into an instruction envelope.
    pub fn sign(&self, keys: &[&SigningKey]) -> crate::Result<Vec<u8>> {
        self.validate(&InstructionRules::default())?;
        let mut envelope = Envelope::new(INSTRUCTION_PAYLOAD_TYPE, self.to_json());
        for key in keys {
            envelope.sign(key);
        }
        let bytes = envelope.to_bytes();
        if bytes.len() > MAX_INSTRUCTION_BYTES {
            return Err(PolicyError::TooLarge {
                size: bytes.len(),
                limit: MAX_INSTRUCTION_BYTES,
            }
            .into());
        }
        Ok(bytes)
    }

    /// Checks what serde cannot, against the built-in ceilings lowered by `limits`.
    pub fn validate(&self, limits: &InstructionRules) -> crate::Result<()> {
        if !valid_scope_name(&self.instruction_id) {
            return Err(invalid(
                "instructionId",
                "must be 1 to 128 of A-Z a-z 0-9 . _ : -",
            ));
        }
        if self.sequence == 0 {
            return Err(invalid("sequence", "starts at 1"));
        }
        // A sequence may not run ahead of its own issue time in milliseconds: otherwise
        // one instruction signed with a stolen key at sequence 2^64-1 would lock the
        // console out of every phone for good. Issue times are capped near the phone's
        // clock, so such a jump costs the console at most an hour.
        if u64::try_from(self.issued_at.as_unix_millis()).map_or(true, |ms| self.sequence > ms) {
            return Err(invalid(
                "sequence",
                "must not exceed issuedAt in Unix milliseconds (use the signing time in milliseconds)",
            ));
        }
        if self.expires <= self.issued_at {
            return Err(invalid("expires", "must be after issuedAt"));
        }
        let lifetime = limits
            .max_lifetime_hours
            .min(MAX_INSTRUCTION_LIFETIME_HOURS);
        if self.expires.millis_since(self.issued_at) > i64::from(lifetime) * HOUR_MS {
            return Err(invalid(
                "expires",
                &format!("must be at most {lifetime} hours after issuedAt"),
            ));
        }
        self.scope.validate().map_err(|e| match e {
            PolicyError::InvalidBundle { path, problem } => {
                PolicyError::InvalidInstruction { path, problem }
            }
            other => other,
        })?;
        match &self.body {
            InstructionBody::AuthorizeSimChange(a) => {
                let window = limits
                    .max_sim_change_window_hours
                    .min(MAX_SIM_CHANGE_WINDOW_HOURS);
                if a.until <= self.issued_at {
                    return Err(invalid("body.until", "must be after issuedAt"));
                }
                if a.until.millis_since(self.issued_at) > i64::from(window) * HOUR_MS {
                    return Err(invalid(
                        "body.until",
                        &format!("must be at most {window} hours after issuedAt"),
                    ));
                }
                if a.slot.is_some_and(|s| s > MAX_SLOT) {
                    return Err(invalid(
                        "body.slot",
                        &format!("must be between 0 and {MAX_SLOT}"),
                    ));
                }
                check_free_text("body.reason", &a.reason, MAX_REASON_BYTES, false)?;
                if let Some(e) = &a.expected {
                    if e.iccid.is_none() && e.imsi.is_none() && e.msisdn.is_none() {
                        return Err(invalid("body.expected", "names no pin"));
                    }
                }
            }
            InstructionBody::CarrierCheck(c) => c.validate()?,
            InstructionBody::StartInspection { reason } => {
                check_free_text("body.reason", reason, MAX_REASON_BYTES, false)?;
            }
            InstructionBody::ShowNotice { title, body } => {
                check_free_text("body.title", title, MAX_NOTICE_TITLE_CHARS * 4, false)?;
                check_free_text("body.body", body, MAX_NOTICE_BODY_CHARS * 4, true)?;
                if title.chars().count() > MAX_NOTICE_TITLE_CHARS {
                    return Err(invalid(
                        "body.title",
                        &format!("longer than {MAX_NOTICE_TITLE_CHARS} characters"),
                    ));
                }
                if body.chars().count() > MAX_NOTICE_BODY_CHARS {
                    return Err(invalid(
                        "body.body",
                        &format!("longer than {MAX_NOTICE_BODY_CHARS} characters"),
                    ));
                }
            }
            InstructionBody::Attest { challenge } => {
                if !(MIN_ATTEST_CHALLENGE_BYTES..=MAX_ATTEST_CHALLENGE_BYTES)
                    .contains(&challenge.len())
                {
                    return Err(invalid(
                        "body.challenge",
                        &format!(
                            "must be {MIN_ATTEST_CHALLENGE_BYTES} to {MAX_ATTEST_CHALLENGE_BYTES} bytes"
                        ),
                    ));
                }
            }
            InstructionBody::LockNow
            | InstructionBody::WipeWorkData { .. }
            | InstructionBody::WipeDevice { .. }
            | InstructionBody::RotateKeys
            | InstructionBody::RevokeAuthorizations => {}
        }
        Ok(())
    }
}

impl AuthorizeSimChange {
    /// The expected SIM as the guard compares it.
    pub fn expected_pins(&self) -> Option<SimPins> {
        self.expected.map(|identity| SimPins {
            identity,
            home_network: None,
        })
    }
}

/// Serialises a string holding JSON as that JSON, and reads any JSON value back as its
/// exact text: the carrier's response stays byte for byte what it returned.
mod raw_json {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use serde_json::value::RawValue;

    pub(super) fn serialize<S: Serializer>(text: &str, s: S) -> Result<S::Ok, S::Error> {
        let raw: &RawValue = serde_json::from_str(text).map_err(serde::ser::Error::custom)?;
        raw.serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        let raw = Box::<RawValue>::deserialize(d)?;
        Ok(raw.get().to_owned())
    }
}

#[cfg(test)]
mod tests;
