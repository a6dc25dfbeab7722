//! Signing for phones: the terms a signed payload carries, what a device trusts, and
//! the one sequence (sign, size check, expiry note, check as a phone, write) that
//! `policy sign` and `indicators sign` share.

use std::path::{Path, PathBuf};

use clap::Args;
use portcullis_core::policy::{Envelope, KeyId, PayloadHash, SigningKey, TrustRoot, TrustedState};
use portcullis_core::Timestamp;

use crate::common::{duration_ms, now, read, time_arg, write, DAY_MS};
use crate::keygen;

/// The terms `policy sign` and `indicators sign` put in what they sign: version, root
/// version, signing time and expiry. Each command words the first three helps for its
/// own files (`mut_arg`).
#[derive(Args)]
pub(crate) struct SigningTerms {
    /// Version; must exceed the one devices hold. Default: the current Unix time in seconds.
    #[arg(long)]
    version: Option<u64>,
    /// The signed trust root to sign for: sets the root version and checks the keys are policy keys.
    #[arg(long)]
    root: Option<PathBuf>,
    /// Root version to sign under, when --root is not given. Default: 1.
    #[arg(long, conflicts_with = "root")]
    root_version: Option<u64>,
    /// Lifetime, e.g. 30d, 12h, 90m. Default: 30d.
    #[arg(long, conflicts_with = "expires")]
    expires_in: Option<String>,
    /// Expiry as an RFC 3339 time.
    #[arg(long)]
    expires: Option<String>,
    /// Signing time as an RFC 3339 time. Default: now.
    #[arg(long)]
    issued_at: Option<String>,
}

/// Signing terms resolved to the values a payload carries.
pub(crate) struct Terms {
    pub(crate) version: u64,
    pub(crate) root_version: u64,
    pub(crate) issued_at: Timestamp,
    pub(crate) expires: Timestamp,
}

impl SigningTerms {
    /// Whether a term for a new payload was given (`--root` aside), which adding
    /// signatures to an already signed input refuses.
    pub(crate) fn any_given(&self) -> bool {
        self.version.is_some()
            || self.root_version.is_some()
            || self.expires.is_some()
            || self.expires_in.is_some()
            || self.issued_at.is_some()
    }

    /// Loads `--root`, if given, and checks every key (read from the matching path) is
    /// one of its policy keys.
    pub(crate) fn load_root(
        &self,
        keys: &[SigningKey],
        key_paths: &[PathBuf],
    ) -> Result<Option<TrustedState>, String> {
        let root = self.root.as_deref().map(load_trust).transpose()?;
        if let Some(state) = &root {
            let policy_role = &state.root().roles.policy.keyids;
            for (key, path) in keys.iter().zip(key_paths) {
                if !policy_role.contains(&key.key_id()) {
                    return Err(format!(
                        "{}: key {}… is not a policy key of root version {}",
                        path.display(),
                        key.key_id().short(),
                        state.root().version
                    ));
                }
            }
        }
        Ok(root)
    }

    /// The payload's terms: signing time `now` and a 30-day lifetime unless given, the
    /// version the signing time in Unix seconds unless given, the root version that of
    /// `root` (or `--root-version`, or 1).
    pub(crate) fn resolve(
        &self,
        root: Option<&TrustedState>,
        now: Timestamp,
    ) -> Result<Terms, String> {
        let issued_at = match &self.issued_at {
            Some(t) => time_arg("--issued-at", t)?,
            None => now,
        };
        let expires = match (&self.expires, &self.expires_in) {
            (Some(t), _) => time_arg("--expires", t)?,
            (None, Some(d)) => issued_at.plus_millis(duration_ms(d)?),
            (None, None) => issued_at.plus_millis(30 * DAY_MS),
        };
        let version = match self.version {
            Some(v) => v,
            None => u64::try_from(issued_at.as_unix_millis() / 1000)
                .map_err(|_| "--issued-at is before 1970: give --version".to_string())?,
        };
        let root_version = match root {
            Some(state) => state.root().version,
            None => self.root_version.unwrap_or(1),
        };
        Ok(Terms {
            version,
            root_version,
            issued_at,
            expires,
        })
    }
}

/// Reads the private keys (PEM) to sign with.
pub(crate) fn read_keys(paths: &[PathBuf]) -> Result<Vec<SigningKey>, String> {
    paths.iter().map(|p| keygen::read_private(p)).collect()
}

/// Whether `bytes` are already a signed envelope (to add signatures to) rather than a document.
pub(crate) fn is_envelope(bytes: &[u8]) -> bool {
    bytes.starts_with(b"{\"payloadType\":")
}

/// Reads what a device trusts: a PEM public key (a single-key root) or a signed root.
pub(crate) fn load_trust(path: &Path) -> Result<TrustedState, String> {
    let bytes = read(path)?;
    let text = String::from_utf8_lossy(&bytes);
    if keygen::is_public_pem(&text) {
        let key = keygen::parse_public(&text)
            .ok_or_else(|| format!("{}: not an Ed25519 public key in PEM", path.display()))?;
        TrustedState::from_root(TrustRoot::single_key(key, "single console key"))
            .map_err(|e| format!("{}: {e}", path.display()))
    } else {
        TrustedState::enroll(&bytes).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// Checks what was just signed as a phone would, so a file that would be refused is
/// never shipped; too few signatures is only a note, as another signer may add theirs
/// with `portcullis {cosign}`.
pub(crate) fn check_as_phone<T>(
    result: Result<T, portcullis_core::Error>,
    cosign: &str,
) -> Result<(), String> {
    if let Err(e) = result {
        if !matches!(
            e,
            portcullis_core::Error::Policy(portcullis_core::policy::PolicyError::Threshold { .. })
        ) {
            return Err(e.to_string());
        }
        outln!("note: {e} (add signatures with another `{cosign}`)");
    }
    Ok(())
}

/// What a device trusts (`--trust`) after the signed root rotations (`--root-update`).
pub(crate) fn load_trust_updated(
    trust: &Path,
    updates: &[PathBuf],
) -> Result<TrustedState, String> {
    let mut state = load_trust(trust)?;
    for update in updates {
        let bytes = read(update)?;
        state
            .apply_root(&bytes)
            .map_err(|e| format!("{}: {e}", update.display()))?;
    }
    Ok(state)
}

/// What differs between the payloads the signing sequence serves (policy bundles,
/// indicator collections): the names in its messages, the phones' size limit, and the
/// phones' check of the signed file. [`signable!`] implements it.
pub(crate) trait Signable: Sized {
    /// The signed file as messages name it ("bundle").
    const FILE: &'static str;
    /// The signed document as the expiry note names it ("collection").
    const DOCUMENT: &'static str;
    /// The largest signed file phones accept.
    const MAX_BYTES: usize;
    /// The command that adds signatures, named when more are needed.
    const COSIGN: &'static str;

    /// Reads the payload from the signed envelope, strictly (`portcullis_core::json`).
    fn decode(payload: &[u8]) -> serde_json::Result<Self>;
    /// When the payload says it was signed.
    fn issued_at(&self) -> Timestamp;
    /// When the payload expires.
    fn expires(&self) -> Timestamp;
    /// The phone's check of the signed bytes at time `at`.
    fn check_as_phone(
        state: &TrustedState,
        bytes: &[u8],
        at: Timestamp,
    ) -> Result<(), portcullis_core::Error>;
}

/// Implements [`Signable`] for a core payload type. Every payload decodes strictly and
/// carries `issued_at` and `expires`; what is given is the rest: the names messages use,
/// the size limit, the command that co-signs, and the phone's check of the signed bytes.
macro_rules! signable {
    ($payload:ty {
        file: $file:expr,
        document: $document:expr,
        max_bytes: $max_bytes:expr,
        cosign: $cosign:expr,
        check: $check:expr $(,)?
    }) => {
        impl $crate::sign::Signable for $payload {
            const FILE: &'static str = $file;
            const DOCUMENT: &'static str = $document;
            const MAX_BYTES: usize = $max_bytes;
            const COSIGN: &'static str = $cosign;

            fn decode(payload: &[u8]) -> serde_json::Result<Self> {
                portcullis_core::json::from_slice(payload)
            }
            fn issued_at(&self) -> portcullis_core::Timestamp {
                self.issued_at
            }
            fn expires(&self) -> portcullis_core::Timestamp {
                self.expires
            }
            fn check_as_phone(
                state: &portcullis_core::policy::TrustedState,
                bytes: &[u8],
                at: portcullis_core::Timestamp,
            ) -> Result<(), portcullis_core::Error> {
                ($check)(state, bytes, at)
            }
        }
    };
}
pub(crate) use signable;

/// The keys and the input of a signing command, `--key` (repeatable) and `--in`. Each
/// command words the input's help for its own files (`mut_arg`).
#[derive(Args)]
pub(crate) struct SignInputs {
    /// A private key (PEM) of the root's policy role; repeat to add several signatures.
    #[arg(long = "key", required = true)]
    pub(crate) keys: Vec<PathBuf>,
    /// The document to sign, or a signed file to add signatures to.
    #[arg(long = "in")]
    pub(crate) input: PathBuf,
}

impl SignInputs {
    /// Reads the private keys and the input's bytes.
    pub(crate) fn read(&self) -> Result<(Vec<SigningKey>, Vec<u8>), String> {
        Ok((read_keys(&self.keys)?, read(&self.input)?))
    }
}

/// What a verifying command reads, `--trust`, `--in` and `--root-update`. Each command
/// words the input's help for its own files (`mut_arg`).
#[derive(Args)]
pub(crate) struct VerifyInputs {
    /// What the device trusts: a public key (PEM) or a signed trust root.
    #[arg(long)]
    trust: PathBuf,
    /// The signed file.
    #[arg(long = "in")]
    pub(crate) input: PathBuf,
    /// Signed root rotations to apply first, in order (repeatable).
    #[arg(long = "root-update")]
    root_updates: Vec<PathBuf>,
}

impl VerifyInputs {
    /// What the device trusts after the rotations, and the signed file's bytes.
    pub(crate) fn read(&self) -> Result<(TrustedState, Vec<u8>), String> {
        let state = load_trust_updated(&self.trust, &self.root_updates)?;
        Ok((state, read(&self.input)?))
    }
}

/// Opens a signed input to add signatures to: an envelope within `max_bytes` whose
/// payload type is `payload_type`; `kind` names what it must be ("a policy bundle").
pub(crate) fn open_signed(
    bytes: &[u8],
    path: &Path,
    max_bytes: usize,
    payload_type: &str,
    kind: &str,
) -> Result<Envelope, String> {
    let envelope =
        Envelope::parse(bytes, max_bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    if envelope.payload_type != payload_type {
        return Err(format!("{} is not {kind}", path.display()));
    }
    Ok(envelope)
}

/// Prints the version and validity lines of a verified file's summary.
pub(crate) fn print_terms(
    version: u64,
    root_version: u64,
    issued_at: Timestamp,
    expires: Timestamp,
) {
    outln!("  version:     {version} (root version {root_version})");
    outln!("  issued at:   {issued_at}");
    outln!("  expires:     {expires}");
}

/// Prints the closing lines of a verified file's summary: who signed it, against the
/// threshold of the root's policy role, and the payload's hash.
pub(crate) fn print_signers(
    state: &TrustedState,
    signed_by: &[KeyId],
    payload_sha256: &PayloadHash,
) {
    let signers: Vec<String> = signed_by
        .iter()
        .map(|k| format!("{}…", k.short()))
        .collect();
    outln!(
        "  signed by:   {} ({} of {} required)",
        signers.join(", "),
        signed_by.len(),
        state.root().roles.policy.threshold
    );
    outln!("  payload:     sha256 {payload_sha256}");
}

/// What [`sign_and_write`] wrote.
pub(crate) struct Signed<P> {
    /// The payload as phones will read it.
    pub(crate) payload: P,
    /// The signed file's size in bytes.
    pub(crate) len: usize,
    /// How many signatures it carries.
    pub(crate) signatures: usize,
}

/// The one signing sequence: signs `envelope` with every key, refuses a file over the
/// phones' size limit, notes an expiry already past by this machine's clock, checks the
/// file as a phone holding `root` would at its signing time (too few signatures is only
/// a note), and only then writes it to `out`. `input` names the source in errors.
pub(crate) fn sign_and_write<P: Signable>(
    mut envelope: Envelope,
    keys: &[SigningKey],
    root: Option<&TrustedState>,
    input: &Path,
    out: &Path,
) -> Result<Signed<P>, String> {
    for key in keys {
        envelope.sign(key);
    }
    let bytes = envelope.to_bytes();
    if bytes.len() > P::MAX_BYTES {
        return Err(format!(
            "the {} would be {} bytes, over the {}-byte limit phones accept",
            P::FILE,
            bytes.len(),
            P::MAX_BYTES
        ));
    }
    let payload = P::decode(&envelope.payload)
        .map_err(|e| format!("{}: unreadable payload: {e}", input.display()))?;
    if payload.expires() <= now() {
        outln!(
            "note: the {} expired at {} by this machine's clock",
            P::DOCUMENT,
            payload.expires()
        );
    }
    if let Some(state) = root {
        check_as_phone(
            P::check_as_phone(state, &bytes, payload.issued_at()),
            P::COSIGN,
        )?;
    }
    write(out, &bytes)?;
    Ok(Signed {
        payload,
        len: bytes.len(),
        signatures: envelope.signatures.len(),
    })
}
