//! The core's internal error type.
//!
//! Every variant carries enough context to act on, and none carries a phone
//! identifier, a key or a policy secret: messages name the *field* that was wrong,
//! never its value. The bindings convert this type into their one public error.

use std::borrow::Cow;

use thiserror::Error;

use crate::time::Timestamp;

/// Result alias for the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong inside the core.
///
/// Deliberately not `#[non_exhaustive]`: the bindings match every variant, so a new one
/// fails to compile there until it is given a public meaning.
#[derive(Debug, Error)]
pub enum Error {
    /// The caller passed a value the core refuses; `field` names it, the value is never echoed.
    #[error("invalid {field}: {problem}")]
    InvalidInput {
        /// Which input field was rejected (e.g. `sim.slot`, `apps[3].signingCertsSha256`).
        field: Cow<'static, str>,
        /// Why, in words that never include the value.
        problem: String,
    },

    /// The device has no trust root yet: enrollment with the console must come first.
    #[error("not enrolled: no trust root is installed; enroll the device with the console's signed root first")]
    NotEnrolled,

    /// The call needs a policy in force and no signed bundle has been applied yet.
    #[error("no policy is in force; apply a signed bundle first")]
    NoPolicy,

    /// The SQLite store failed; `context` says which operation.
    #[error("storage failed while {context}: {source}")]
    Storage {
        /// The operation under way, e.g. "committing alerts".
        context: &'static str,
        /// The underlying SQLite error.
        #[source]
        source: rusqlite::Error,
    },

    /// The store holds something this version cannot read (a newer schema, a broken record).
    #[error("stored state is unusable: {0}")]
    Corrupt(String),

    /// The platform's device key (Android Keystore, iOS Keychain) failed.
    #[error("device key unavailable: {0}")]
    DeviceKey(String),

    /// A policy bundle, trust root or policy document was refused; the reason names
    /// the check or field (see [`crate::policy::PolicyError::code`]).
    #[error("policy refused: {0}")]
    Policy(#[from] PolicyError),

    /// A scenario trace line could not be read.
    #[error("trace line {line}: {problem}")]
    Trace {
        /// 1-based line number in the trace file.
        line: usize,
        /// What is wrong with it; never includes identifier values.
        problem: String,
    },
}

impl Error {
    /// Shorthand for [`Error::InvalidInput`].
    pub fn invalid(field: impl Into<Cow<'static, str>>, problem: impl Into<String>) -> Self {
        Error::InvalidInput {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

/// Attaches an operation description to SQLite errors.
pub(crate) trait StorageContext<T> {
    fn context(self, context: &'static str) -> Result<T>;
}

impl<T> StorageContext<T> for std::result::Result<T, rusqlite::Error> {
    fn context(self, context: &'static str) -> Result<T> {
        self.map_err(|source| Error::Storage { context, source })
    }
}

/// Why a policy document, bundle or trust root was refused. Each message names
/// the check or the field; none contains key material or identifier values.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The input is larger than allowed; refused before any parsing.
    #[error("refused: {size} bytes is over the {limit}-byte limit")]
    TooLarge {
        /// Input size in bytes.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The envelope is truncated, garbled or not in canonical form.
    #[error("garbled envelope: {0}")]
    Envelope(String),
    /// The envelope carries more signatures than any root could need.
    #[error("refused: {count} signatures is over the limit of {limit}")]
    TooManySignatures {
        /// Signatures present.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// The envelope holds another kind of payload (e.g. a root offered as a policy).
    #[error("wrong payload type: expected {expected}, found {found:?}")]
    WrongPayloadType {
        /// The type this operation accepts.
        expected: &'static str,
        /// The type found (sanitised).
        found: String,
    },
    /// The envelope carries no signature.
    #[error("unsigned: the envelope carries no signature")]
    Unsigned,
    /// A signature names a key the role does not list.
    #[error("signature {index} is by key {keyid}…, which is not a {role} key of the trust root")]
    UnknownKey {
        /// Position of the signature in the envelope.
        index: usize,
        /// First 8 hex digits of the key id.
        keyid: String,
        /// The role checked.
        role: RoleName,
    },
    /// A signature does not verify: the payload or the signature was altered.
    #[error("signature {index} by key {keyid}… does not verify (payload or signature altered)")]
    BadSignature {
        /// Position of the signature in the envelope.
        index: usize,
        /// First 8 hex digits of the key id.
        keyid: String,
    },
    /// Too few distinct keys signed.
    #[error("threshold not met: {valid} distinct {role} key(s) signed, {required} required")]
    Threshold {
        /// The role checked.
        role: RoleName,
        /// Distinct keys with valid signatures.
        valid: usize,
        /// The role's threshold.
        required: u32,
    },
    /// A JSON document (policy, payload, root) does not parse; names the line, column and field.
    #[error("{what} does not parse (line {line}, column {column}): {problem}")]
    Document {
        /// Which document.
        what: &'static str,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// serde's description: the field and what was expected.
        problem: String,
    },
    /// The policy breaks a rule; `path` names the field.
    #[error("invalid policy at {path}: {problem}")]
    InvalidPolicy {
        /// Path of the field, e.g. `apps.applications[2].packageName`.
        path: String,
        /// The rule broken.
        problem: String,
    },
    /// An AMAPI Policy document holds a value of the wrong type or an enum value AMAPI
    /// does not define; `path` names the AMAPI field.
    #[error("invalid AMAPI policy at {path}: {problem}")]
    InvalidAmapi {
        /// Path of the AMAPI field, e.g. `applications[0].installType`.
        path: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The bundle metadata breaks a rule.
    #[error("invalid bundle at {path}: {problem}")]
    InvalidBundle {
        /// Path of the field, e.g. `scope`.
        path: String,
        /// The rule broken.
        problem: String,
    },
    /// The trust root breaks a rule.
    #[error("invalid trust root at {path}: {problem}")]
    InvalidRoot {
        /// Path of the field, e.g. `roles.policy.threshold`.
        path: String,
        /// The rule broken.
        problem: String,
    },
    /// The bundle was signed under another root version than the device trusts.
    #[error(
        "bundle was signed under root version {bundle}, this device trusts root version {trusted}"
    )]
    RootVersionMismatch {
        /// The bundle's `rootVersion`.
        bundle: u64,
        /// The trusted root's version.
        trusted: u64,
    },
    /// The bundle has expired (freeze attack, or a stale bundle).
    #[error("expired: it expired at {expires}, it is now {now}")]
    Expired {
        /// The bundle's expiry.
        expires: Timestamp,
        /// The time handed in.
        now: Timestamp,
    },
    /// The bundle is for other devices or groups.
    #[error("out of scope: it names neither this device nor any of its groups")]
    OutOfScope,
    /// The bundle is older than the applied one.
    #[error("rollback: version {offered} is not newer than the applied version {applied}")]
    Rollback {
        /// The bundle's version.
        offered: u64,
        /// The applied version.
        applied: u64,
    },
    /// The bundle is the one already applied (not an attack: a redelivery).
    #[error("already applied: version {version} is the policy in force")]
    AlreadyApplied {
        /// The version.
        version: u64,
    },
    /// The indicator collection is the one already loaded under its label (not an
    /// attack: a redelivery).
    #[error("already loaded: version {version} is the collection in use")]
    AlreadyLoaded {
        /// The version.
        version: u64,
    },
    /// A root rotation does not follow the current root by exactly one version.
    #[error("root rotation refused: version {offered} offered, {expected} expected (versions are applied one by one)")]
    RootVersion {
        /// The new root's version.
        offered: u64,
        /// The only version acceptable next.
        expected: u64,
    },
    /// The bundle handed to `restore` is not the applied one, or none was applied.
    #[error("not the applied bundle: its hash differs from the trusted state's (or nothing was applied)")]
    NotApplied,
    /// A key file or key bytes are unusable; never includes the key.
    #[error("key: {0}")]
    Key(String),
    /// The trust root names no `operations` role, so no instruction can be trusted.
    #[error("refused: trust root version {root_version} has no operations role; rotate to a root that adds one")]
    NoOperationsRole {
        /// The version of the root in force.
        root_version: u64,
    },
    /// The instruction breaks a rule; `path` names the field.
    #[error("invalid instruction at {path}: {problem}")]
    InvalidInstruction {
        /// Path of the field, e.g. `body.until`.
        path: String,
        /// The rule broken.
        problem: String,
    },
    /// The instruction names a kind this agent does not know.
    #[error("unknown instruction kind (expected one of: {expected})")]
    UnknownKind {
        /// The kinds this agent accepts.
        expected: &'static str,
    },
    /// The instruction's sequence does not exceed the highest accepted one: a replay or
    /// a rollback.
    #[error("replayed or rolled back: sequence {offered} is not above the highest accepted sequence {accepted}")]
    SequenceNotNewer {
        /// The instruction's sequence.
        offered: u64,
        /// The highest sequence this device accepted.
        accepted: u64,
    },
}

impl PolicyError {
    /// A stable short code for journals, alerts and scripts.
    pub fn code(&self) -> &'static str {
        match self {
            PolicyError::TooLarge { .. } => "too_large",
            PolicyError::Envelope(_) => "garbled",
            PolicyError::TooManySignatures { .. } => "too_many_signatures",
            PolicyError::WrongPayloadType { .. } => "wrong_type",
            PolicyError::Unsigned => "unsigned",
            PolicyError::UnknownKey { .. } => "unknown_key",
            PolicyError::BadSignature { .. } => "bad_signature",
            PolicyError::Threshold { .. } => "threshold",
            PolicyError::Document { .. } => "unparsable",
            PolicyError::InvalidPolicy { .. } => "invalid_policy",
            PolicyError::InvalidAmapi { .. } => "invalid_amapi",
            PolicyError::InvalidBundle { .. } => "invalid_bundle",
            PolicyError::InvalidRoot { .. } => "invalid_root",
            PolicyError::RootVersionMismatch { .. } => "root_version_mismatch",
            PolicyError::Expired { .. } => "expired",
            PolicyError::OutOfScope => "out_of_scope",
            PolicyError::Rollback { .. } => "rollback",
            PolicyError::AlreadyApplied { .. } => "already_applied",
            PolicyError::AlreadyLoaded { .. } => "already_loaded",
            PolicyError::RootVersion { .. } => "root_version",
            PolicyError::NotApplied => "not_applied",
            PolicyError::Key(_) => "key",
            PolicyError::NoOperationsRole { .. } => "no_operations_role",
            PolicyError::InvalidInstruction { .. } => "invalid_instruction",
            PolicyError::UnknownKind { .. } => "unknown_kind",
            PolicyError::SequenceNotNewer { .. } => "replayed",
        }
    }

    pub(crate) fn document(what: &'static str, e: &serde_json::Error) -> Self {
        PolicyError::Document {
            what,
            line: e.line(),
            column: e.column(),
            problem: crate::json::describe_data(&e.to_string()),
        }
    }
}

/// Which role a signature is checked against (for messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleName {
    /// The root role of the current root.
    Root,
    /// The root role of the root being rotated to.
    NewRoot,
    /// The policy role.
    Policy,
    /// The operations role (console instructions).
    Operations,
}

impl RoleName {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            RoleName::Root => "root",
            RoleName::NewRoot => "new root",
            RoleName::Policy => "policy",
            RoleName::Operations => "operations",
        }
    }
}

impl std::fmt::Display for RoleName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
