//! Path validation of an attestation chain, leaf first, up to a trusted root.
//!
//! The rules, and where they differ from the reference verifier (android/keyattestation):
//!
//! - 3 to [`MAX_CHAIN_LEN`] certificates; the last is self-issued and carries the
//!   subject and public key of a trust anchor. If it is not byte-for-byte the anchor
//!   (Google re-issued its RSA root in 2019 and 2022 with the same key), its
//!   self-signature must verify under the anchor's key, so that no byte of the chain
//!   goes unchecked. The validity dates of roots are not used: a root is trusted by its
//!   key, and withdrawn by removing it from the anchors (as the reference does).
//! - Every other certificate: issuer name equal to the next certificate's subject,
//!   signature verified with the next certificate's key, validity period containing the
//!   time passed in, serial number not on the revocation list. The leaf's validity is not
//!   checked: the phone sets it from its own clock (as the reference does). Unlike the
//!   reference, expired factory-provisioned intermediates are refused too.
//! - Every certificate that issues another must be a CA (basic constraints `cA`, key
//!   usage `keyCertSign` when present) within its path length; a critical extension
//!   other than those two is refused (the reference checks neither).
//! - The attestation extension is in the leaf, non-critical, and in no other
//!   certificate (which stops a chain extended below a genuine leaf).

use const_oid::ObjectIdentifier;
use der::asn1::AnyRef;
use der::{Decode, Encode, Reader, SliceReader};
use jiff::Timestamp;
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage};
use x509_cert::name::Name;
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::Certificate;

use crate::key_description::ATTESTATION_EXTENSION_OID;
use crate::revocation::RevocationList;
use crate::roots::{Anchor, TrustAnchors};
use crate::sig::{self, KeyPolicy, PublicKey};
use crate::{Reason, Refusal};

/// The fewest certificates an attestation chain has: leaf, attestation key, root.
pub const MIN_CHAIN_LEN: usize = 3;
/// The most certificates accepted (remotely provisioned chains have 5).
pub const MAX_CHAIN_LEN: usize = 6;

const BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");

/// One decoded certificate with the pieces the checks need.
#[derive(Clone)]
pub(crate) struct Cert {
    pub(crate) der: Vec<u8>,
    /// The exact bytes of `tbsCertificate`, as signed.
    pub(crate) tbs: Vec<u8>,
    pub(crate) signature_algorithm: AlgorithmIdentifierOwned,
    pub(crate) signature: Vec<u8>,
    pub(crate) subject: Name,
    pub(crate) issuer: Name,
    pub(crate) spki: SubjectPublicKeyInfoOwned,
    pub(crate) spki_der: Vec<u8>,
    /// Serial number: the INTEGER's content octets, leading zero octets removed.
    pub(crate) serial: Vec<u8>,
    pub(crate) not_before: Timestamp,
    pub(crate) not_after: Timestamp,
    /// `Some((cA, pathLen))` when the certificate has basic constraints.
    pub(crate) basic_constraints: Option<(bool, Option<u8>)>,
    /// `Some(keyCertSign)` when the certificate has a key usage extension.
    pub(crate) key_cert_sign: Option<bool>,
    /// Critical extensions other than basic constraints and key usage.
    pub(crate) unknown_critical: Vec<ObjectIdentifier>,
    /// The attestation extension: (critical, the OCTET STRING's content).
    pub(crate) attestation: Option<(bool, Vec<u8>)>,
}

impl std::fmt::Debug for Cert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cert({}, serial {})", self.subject, self.serial_hex())
    }
}

fn malformed(index: usize, what: impl std::fmt::Display) -> Refusal {
    Refusal::new(
        Reason::MalformedCertificate,
        format!("certificate {index}: {what}"),
    )
}

fn time(t: x509_cert::time::Time) -> Timestamp {
    let secs = i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX);
    Timestamp::from_second(secs).unwrap_or(Timestamp::MAX)
}

/// The exact `tbsCertificate` bytes: the first element of the outer SEQUENCE.
fn raw_tbs(der: &[u8]) -> der::Result<&[u8]> {
    let outer = AnyRef::from_der(der)?;
    let value = outer.value();
    let mut reader = SliceReader::new(value)?;
    let _tbs = AnyRef::decode(&mut reader)?;
    let len =
        usize::try_from(u32::from(reader.position())).map_err(|_| der::ErrorKind::Overflow)?;
    value
        .get(..len)
        .ok_or_else(|| der::ErrorKind::Overflow.into())
}

impl Cert {
    /// Decodes certificate `index` of a chain (strict DER, X.509 v3).
    pub(crate) fn parse(index: usize, der: &[u8]) -> Result<Cert, Refusal> {
        let cert = Certificate::from_der(der).map_err(|e| malformed(index, e))?;
        let tbs = raw_tbs(der).map_err(|e| malformed(index, e))?.to_vec();
        let t = cert.tbs_certificate();
        if t.version() != x509_cert::certificate::Version::V3 {
            return Err(malformed(index, "not an X.509 v3 certificate"));
        }
        if t.signature() != cert.signature_algorithm() {
            return Err(malformed(
                index,
                "the signed and the outer signature algorithms differ",
            ));
        }
        let signature = cert
            .signature()
            .as_bytes()
            .ok_or_else(|| malformed(index, "signature bit string has unused bits"))?
            .to_vec();
        let spki = t.subject_public_key_info().clone();
        let spki_der = spki.to_der().map_err(|e| malformed(index, e))?;
        let serial_bytes = t.serial_number().as_bytes();
        let first = serial_bytes
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(serial_bytes.len());
        let validity = t.validity();
        let mut parsed = Cert {
            der: der.to_vec(),
            tbs,
            signature_algorithm: cert.signature_algorithm().clone(),
            signature,
            subject: t.subject().clone(),
            issuer: t.issuer().clone(),
            spki,
            spki_der,
            serial: serial_bytes[first..].to_vec(),
            not_before: time(validity.not_before),
            not_after: time(validity.not_after),
            basic_constraints: None,
            key_cert_sign: None,
            unknown_critical: Vec::new(),
            attestation: None,
        };
        let mut seen: Vec<ObjectIdentifier> = Vec::new();
        for ext in t
            .extensions()
            .map(std::vec::Vec::as_slice)
            .unwrap_or_default()
        {
            if seen.contains(&ext.extn_id) {
                return Err(malformed(
                    index,
                    format!("extension {} appears twice", ext.extn_id),
                ));
            }
            seen.push(ext.extn_id);
            let value = ext.extn_value.as_bytes();
            match ext.extn_id {
                BASIC_CONSTRAINTS => {
                    let bc = BasicConstraints::from_der(value)
                        .map_err(|e| malformed(index, format!("basic constraints: {e}")))?;
                    parsed.basic_constraints = Some((bc.ca, bc.path_len_constraint));
                }
                KEY_USAGE => {
                    let ku = KeyUsage::from_der(value)
                        .map_err(|e| malformed(index, format!("key usage: {e}")))?;
                    parsed.key_cert_sign = Some(ku.key_cert_sign());
                }
                ATTESTATION_EXTENSION_OID => {
                    parsed.attestation = Some((ext.critical, value.to_vec()));
                }
                other if ext.critical => parsed.unknown_critical.push(other),
                _ => {}
            }
        }
        Ok(parsed)
    }

    /// Whether issuer and subject are the same name.
    pub(crate) fn is_self_issued(&self) -> bool {
        self.subject == self.issuer
    }

    /// The serial number in lower-case hex without leading zeros (`0` for zero).
    pub(crate) fn serial_hex(&self) -> String {
        let hex: String = self.serial.iter().map(|b| format!("{b:02x}")).collect();
        let trimmed = hex.trim_start_matches('0');
        if trimmed.is_empty() {
            "0".into()
        } else {
            trimmed.into()
        }
    }

    /// Whether any attribute of the subject says StrongBox (as StrongBox attestation
    /// certificates do, in `O` or `title`).
    pub(crate) fn subject_says_strongbox(&self) -> bool {
        self.subject.iter().any(|atv| {
            std::str::from_utf8(atv.value.value())
                .map(|s| s.to_ascii_lowercase().contains("strongbox"))
                .unwrap_or(false)
        })
    }

    /// Whether the subject has a `serialNumber` attribute (factory-provisioned intermediates).
    pub(crate) fn subject_has_serial_number(&self) -> bool {
        const SERIAL_NUMBER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.5");
        self.subject.iter().any(|atv| atv.oid == SERIAL_NUMBER)
    }
}

/// How the phone's attestation key was provisioned, read from the intermediate below the root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Provisioning {
    /// A batch key installed in the factory (intermediate named by `serialNumber`).
    Factory,
    /// A short-lived key from Google's Remote Key Provisioning (`Droid CA2`).
    Remote,
    /// The Android software attestation root: no hardware involved.
    Software,
    /// None of the above shapes.
    Unknown,
}

/// What [`validate`] establishes about a chain it accepts.
#[derive(Debug, Clone)]
pub struct ValidatedChain {
    pub(crate) certs: Vec<Cert>,
    /// Index into the trust anchors used.
    pub(crate) anchor: Anchor,
    /// The leaf's attestation extension content (KeyDescription DER).
    pub(crate) key_description_der: Vec<u8>,
    pub(crate) provisioning: Provisioning,
    /// Whether the attestation certificate (or factory intermediate) names StrongBox.
    pub(crate) chain_says_strongbox: bool,
}

impl ValidatedChain {
    /// The KeyDescription DER from the leaf, to pass to [`crate::parse_key_description`].
    pub fn key_description_der(&self) -> &[u8] {
        &self.key_description_der
    }

    /// How the attestation key was provisioned.
    pub fn provisioning(&self) -> Provisioning {
        self.provisioning
    }

    /// The number of certificates in the chain.
    pub fn len(&self) -> usize {
        self.certs.len()
    }

    /// Always false: a validated chain has at least [`MIN_CHAIN_LEN`] certificates.
    pub fn is_empty(&self) -> bool {
        self.certs.is_empty()
    }
}

/// Options of [`validate`].
#[derive(Debug, Clone, Copy, Default)]
pub struct PathOptions {
    /// Accept a chain ending in an Android *software* attestation root when that root is
    /// among the anchors (tests, development phones). Its verdict is never hardware-backed.
    pub allow_software_root: bool,
    /// Do not require the attestation extension in the leaf (to test plain chains).
    pub allow_missing_extension: bool,
}

/// Validates a DER chain (leaf first) against `anchors` at time `now`.
pub fn validate(
    chain: &[Vec<u8>],
    anchors: &TrustAnchors,
    revocations: Option<&RevocationList>,
    now: Timestamp,
    options: PathOptions,
) -> Result<ValidatedChain, Refusal> {
    check_length(chain.len())?;
    let certs = chain
        .iter()
        .enumerate()
        .map(|(i, der)| Cert::parse(i, der))
        .collect::<Result<Vec<_>, _>>()?;
    validate_certs(certs, anchors, revocations, now, options).map_err(|(refusal, _)| refusal)
}

pub(crate) fn check_length(len: usize) -> Result<(), Refusal> {
    if len < MIN_CHAIN_LEN {
        return Err(Refusal::new(
            Reason::ChainTooShort,
            format!(
                "{len} certificate(s); an attestation chain has at least {MIN_CHAIN_LEN} (leaf, attestation key, root)"
            ),
        ));
    }
    if len > MAX_CHAIN_LEN {
        return Err(Refusal::new(
            Reason::ChainTooLong,
            format!("{len} certificates; at most {MAX_CHAIN_LEN}"),
        ));
    }
    Ok(())
}

/// [`validate`] on decoded certificates; a refusal hands them back for the report.
pub(crate) fn validate_certs(
    certs: Vec<Cert>,
    anchors: &TrustAnchors,
    revocations: Option<&RevocationList>,
    now: Timestamp,
    options: PathOptions,
) -> Result<ValidatedChain, (Refusal, Vec<Cert>)> {
    match check_path(&certs, anchors, revocations, now, options) {
        Ok((anchor, key_description_der, provisioning, chain_says_strongbox)) => {
            Ok(ValidatedChain {
                certs,
                anchor,
                key_description_der,
                provisioning,
                chain_says_strongbox,
            })
        }
        Err(refusal) => Err((refusal, certs)),
    }
}

type PathFacts = (Anchor, Vec<u8>, Provisioning, bool);

fn check_path(
    certs: &[Cert],
    anchors: &TrustAnchors,
    revocations: Option<&RevocationList>,
    now: Timestamp,
    options: PathOptions,
) -> Result<PathFacts, Refusal> {
    check_length(certs.len())?;
    let last = certs.len() - 1;
    let root = &certs[last];

    // The root: self-issued, and the key of a trust anchor.
    if !root.is_self_issued() {
        return Err(Refusal::new(
            Reason::UntrustedRoot,
            format!(
                "certificate {last} (the last) is not a self-issued root: {}",
                root.subject
            ),
        ));
    }
    let anchor = anchors.find(&root.subject, &root.spki_der);
    let software = crate::roots::is_software_root_key(&root.spki_der);
    let anchor = match anchor {
        Some(a) if software && !options.allow_software_root => {
            return Err(Refusal::new(
                Reason::SoftwareRoot,
                format!("the chain ends in the Android software attestation root ({}): no hardware vouches for the key", a.subject),
            ))
        }
        Some(a) => a.clone(),
        None if software => {
            return Err(Refusal::new(
                Reason::SoftwareRoot,
                format!("the chain ends in the Android software attestation root ({}): no hardware vouches for the key", root.subject),
            ))
        }
        None => {
            return Err(Refusal::new(
                Reason::UntrustedRoot,
                format!("the root ({}) is not one of the trusted roots", root.subject),
            ))
        }
    };
    let policy = if software {
        KeyPolicy::SoftwareRootLegacy
    } else {
        KeyPolicy::Strict
    };

    // Decode every key first: an unsupported algorithm anywhere is named as such.
    let keys = certs
        .iter()
        .enumerate()
        .map(|(i, c)| {
            sig::public_key(&c.spki)
                .map_err(|e| Refusal::new(e.code, format!("certificate {i}: {}", e.message)))
        })
        .collect::<Result<Vec<PublicKey>, _>>()?;
    let algs = certs
        .iter()
        .enumerate()
        .map(|(i, c)| {
            sig::signature_algorithm(&c.signature_algorithm)
                .map_err(|e| Refusal::new(e.code, format!("certificate {i}: {}", e.message)))
        })
        .collect::<Result<Vec<_>, _>>()?;

    if root.der != anchor.cert.der {
        sig::verify(
            &format!("certificate {last} (root)"),
            algs[last],
            &anchor.key,
            policy,
            &root.tbs,
            &root.signature,
        )?;
    }

    // Down from the root: each certificate against the one above it.
    for i in (0..last).rev() {
        let cert = &certs[i];
        let issuer = &certs[i + 1];
        if cert.issuer != issuer.subject {
            return Err(Refusal::new(
                Reason::NameChaining,
                format!(
                    "certificate {i}'s issuer ({}) is not certificate {}'s subject ({})",
                    cert.issuer,
                    i + 1,
                    issuer.subject
                ),
            ));
        }
        check_issuer_is_ca(i + 1, issuer, i, i + 1 == last)?;
        sig::verify(
            &format!("certificate {i}"),
            algs[i],
            &keys[i + 1],
            policy,
            &cert.tbs,
            &cert.signature,
        )?;
        if i > 0 {
            check_validity(i, cert, now)?;
        }
    }

    for (i, cert) in certs.iter().enumerate() {
        if let Some(oid) = cert.unknown_critical.first() {
            return Err(Refusal::new(
                Reason::UnsupportedCriticalExtension,
                format!("certificate {i} has a critical extension this verifier does not process: {oid}"),
            ));
        }
        if let Some(list) = revocations {
            list.check(i, cert)?;
        }
        if i > 0 && cert.attestation.is_some() {
            return Err(Refusal::new(
                Reason::ExtensionOutsideLeaf,
                format!("certificate {i} carries an attestation extension; only the leaf may (chain extended below a genuine leaf?)"),
            ));
        }
    }

    let key_description_der = match &certs[0].attestation {
        Some((false, value)) => value.clone(),
        Some((true, _)) => {
            return Err(Refusal::new(
                Reason::MalformedExtension,
                "the leaf's attestation extension is marked critical",
            ))
        }
        None if options.allow_missing_extension => Vec::new(),
        None => {
            return Err(Refusal::new(
                Reason::MissingAttestationExtension,
                "the leaf has no attestation extension (1.3.6.1.4.1.11129.2.1.17)",
            ))
        }
    };

    let below_root = &certs[last - 1];
    let provisioning = if software {
        Provisioning::Software
    } else if below_root.subject.to_string().contains("CN=Droid CA2") {
        Provisioning::Remote
    } else if below_root.subject_has_serial_number() {
        Provisioning::Factory
    } else {
        Provisioning::Unknown
    };
    let chain_says_strongbox =
        certs[1].subject_says_strongbox() || below_root.subject_says_strongbox();
    Ok((
        anchor,
        key_description_der,
        provisioning,
        chain_says_strongbox,
    ))
}

/// Refuses certificate `i` of a chain when `now` lies outside its validity period.
pub(crate) fn check_validity(i: usize, cert: &Cert, now: Timestamp) -> Result<(), Refusal> {
    if now < cert.not_before {
        return Err(Refusal::new(
            Reason::NotYetValid,
            format!(
                "certificate {i} ({}) is valid from {}, after the verification time {now}",
                cert.subject, cert.not_before
            ),
        ));
    }
    if now > cert.not_after {
        return Err(Refusal::new(
            Reason::Expired,
            format!(
                "certificate {i} ({}) expired at {}, before the verification time {now}",
                cert.subject, cert.not_after
            ),
        ));
    }
    Ok(())
}

/// Certificate `index` issues certificate `child`: it must be a CA within its path length.
pub(crate) fn check_issuer_is_ca(
    index: usize,
    issuer: &Cert,
    child: usize,
    is_root: bool,
) -> Result<(), Refusal> {
    if is_root {
        // The chain's root stands for the anchor, which is trusted by its key.
        return Ok(());
    }
    match issuer.basic_constraints {
        Some((true, path_len)) => {
            // Intermediates between `index` and the leaf, not counting the leaf.
            let below = child;
            if let Some(max) = path_len {
                if below > usize::from(max) {
                    return Err(Refusal::new(
                        Reason::PathLengthExceeded,
                        format!("certificate {index} allows {max} intermediate(s) below it; the chain has {below}"),
                    ));
                }
            }
        }
        _ => {
            return Err(Refusal::new(
                Reason::NotACa,
                format!("certificate {index} ({}) issues certificate {child} but is not a CA (basic constraints)", issuer.subject),
            ))
        }
    }
    if issuer.key_cert_sign == Some(false) {
        return Err(Refusal::new(
            Reason::NotACa,
            format!("certificate {index} ({}) issues certificate {child} but its key usage lacks keyCertSign", issuer.subject),
        ));
    }
    Ok(())
}
