//! The verdict: the chain, the record, and what they prove, or why not.

use std::fmt::Write as _;

use jiff::Timestamp;
use schemars::JsonSchema;
use serde::Serialize;

use crate::chain::{self, Cert, PathOptions, Provisioning};
use crate::key_description::{
    hex, parse_key_description, AuthorizationList, KeyDescription, Origin, PatchLevel,
    SecurityLevel, VerifiedBootState,
};
use crate::revocation::RevocationList;
use crate::roots::TrustAnchors;
use crate::sig;
use crate::{Reason, Refusal};

/// The version of the verdict's JSON shape (docs/attestation-verdict.schema.json).
pub const VERDICT_VERSION: u32 = 1;

/// What the console trusts and knows when it verifies.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// The roots a chain must end in.
    pub anchors: TrustAnchors,
    /// The revocation status list; without it revocation is not checked (and the verdict says so).
    pub revocations: Option<RevocationList>,
    /// Accept chains ending in an Android software root that is among `anchors`
    /// (tests and development phones only); such a verdict is never hardware-backed.
    pub allow_software_root: bool,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            anchors: TrustAnchors::builtin(),
            revocations: None,
            allow_software_root: false,
        }
    }
}

/// What the console expects the record to say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expectations {
    /// The challenge the console issued for this attestation.
    pub challenge: Vec<u8>,
    /// A package name the attesting app must have.
    pub package: Option<String>,
    /// A SHA-256 digest of the attesting app's signing certificate.
    pub signer: Option<[u8; 32]>,
}

/// One certificate of the chain, for the record.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CertificateSummary {
    /// Position in the chain, 0 = leaf.
    pub index: usize,
    /// Subject, RFC 4514.
    pub subject: String,
    /// Issuer, RFC 4514.
    pub issuer: String,
    /// Serial number, lower-case hex without leading zeros (the status list's spelling).
    pub serial: String,
    /// Start of validity, RFC 3339.
    pub not_before: String,
    /// End of validity, RFC 3339.
    pub not_after: String,
    /// Signature algorithm OID (with its name when known).
    pub signature_algorithm: String,
    /// The subject key, e.g. `RSA-4096`, `EC P-256`, or what is unsupported about it.
    pub public_key: String,
}

/// The chain as decoded.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChainSummary {
    /// The certificates, leaf first.
    pub certificates: Vec<CertificateSummary>,
    /// The trusted root the chain ended in (when it did).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root: Option<RootSummary>,
    /// How the attestation key was provisioned (when the chain verified).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provisioning: Option<Provisioning>,
    /// Whether the revocation status list was consulted.
    pub revocation_checked: bool,
}

/// A trust anchor, named.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RootSummary {
    /// Built-in name, or `sha256:` and a fingerprint prefix for added roots.
    pub name: String,
    /// Subject, RFC 4514.
    pub subject: String,
    /// SHA-256 of the root certificate, lower-case hex.
    pub fingerprint: String,
}

/// What a verified record says about the phone.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeviceFacts {
    /// The key was generated in, and is kept by, a TEE or StrongBox that a Google
    /// hardware root vouches for: both security levels are TEE or StrongBox and the
    /// hardware-enforced origin is GENERATED.
    pub hardware_backed: bool,
    /// The key lives in StrongBox, and the certificates say so too.
    pub strong_box: bool,
    /// The lower of the attestation and KeyMint security levels.
    pub security_level: SecurityLevel,
    /// Where the key came from, as the hardware enforces it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_origin: Option<Origin>,
    /// The bootloader reported VERIFIED (manufacturer-signed images, locked).
    pub boot_verified: bool,
    /// The bootloader is locked.
    pub bootloader_locked: bool,
    /// The verified boot state (absent when the record has no hardware root of trust).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified_boot_state: Option<VerifiedBootState>,
    /// The verified boot key (or its digest), hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified_boot_key: Option<String>,
    /// Android version, e.g. `14.0.0` (from `osVersion` 140000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
    /// OS security patch level, `YYYY-MM`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os_patch_level: Option<String>,
    /// Vendor partition patch level, `YYYY-MM` or `YYYY-MM-DD`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor_patch_level: Option<String>,
    /// Boot partition patch level, `YYYY-MM` or `YYYY-MM-DD`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub boot_patch_level: Option<String>,
    /// When the key was created (the record's `creationDateTime`), RFC 3339: the state
    /// above is the state at that moment, not now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attested_at: Option<String>,
    /// Attestation schema version.
    pub attestation_version: String,
    /// Brand, device, product, manufacturer and model, when the phone attested them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

/// The attesting application and whether it is the expected one.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppFacts {
    /// Package names (with version codes) under the caller's user id.
    pub packages: Vec<String>,
    /// SHA-256 digests of the signing certificates, lower-case hex.
    pub signer_digests: Vec<String>,
    /// Whether `--expect-package` is among the packages (absent when not asked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package_matches: Option<bool>,
    /// Whether `--expect-signer` is among the digests (absent when not asked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer_matches: Option<bool>,
}

/// The outcome of verifying one attestation chain.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(title = "Portcullis attestation verdict")]
pub struct Verdict {
    /// The verdict format's version: 1.
    pub verdict_version: u32,
    /// True only when the chain verified, the record parsed, and the challenge (and app,
    /// when asked) matched. Only then do `device` and `app` appear.
    pub verified: bool,
    /// The time the chain was checked against, RFC 3339.
    pub verified_at: String,
    /// Why the chain was refused: empty exactly when `verified`.
    pub reasons: Vec<Refusal>,
    /// Things worth knowing that do not refuse the chain.
    pub warnings: Vec<String>,
    /// Whether the record's challenge is the expected one (absent when the record did not parse).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub challenge_matches: Option<bool>,
    /// The chain as decoded (absent when a certificate does not decode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain: Option<ChainSummary>,
    /// What the record proves about the phone (only when verified).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceFacts>,
    /// The attesting application (only when verified).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<AppFacts>,
    /// The leaf's KeyDescription as parsed, in the reference verifier's JSON form. It is
    /// shown for diagnosis even when the chain is refused: trust it only when `verified`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<KeyDescription>,
    /// Whether the attested (leaf) key signed the statement certifying the phone's
    /// checkpoint-signing key (absent when not checked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint_key_certified: Option<bool>,
}

impl Verdict {
    /// The verdict's JSON Schema (docs/attestation-verdict.schema.json).
    pub fn json_schema() -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(Verdict)).expect("a schema serialises")
    }

    /// The JSON Schema as committed: pretty-printed, with a final newline.
    pub fn json_schema_text() -> String {
        committed_schema_text(&Self::json_schema())
    }

    /// The verdict as pretty JSON.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).expect("a verdict serialises")
    }

    /// The first reason code, if refused.
    pub fn first_reason(&self) -> Option<Reason> {
        self.reasons.first().map(|r| r.code)
    }

    /// A report for a person.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let yes = |b: bool| if b { "yes" } else { "NO" };
        if self.verified {
            let _ = writeln!(out, "VERIFIED at {}", self.verified_at);
        } else {
            let _ = writeln!(out, "REFUSED at {}", self.verified_at);
            for r in &self.reasons {
                let _ = writeln!(out, "  {}: {}", r.code, r.message);
            }
        }
        if let Some(certified) = self.checkpoint_key_certified {
            let _ = writeln!(
                out,
                "checkpoint key:   certified by the attested key: {}",
                yes(certified)
            );
        }
        if let Some(chain) = &self.chain {
            let root = chain
                .root
                .as_ref()
                .map(|r| format!("{} ({})", r.name, r.subject))
                .unwrap_or_else(|| "not validated".into());
            let _ = writeln!(
                out,
                "chain:            {} certificate(s), root {root}",
                chain.certificates.len()
            );
            if let Some(p) = chain.provisioning {
                let _ = writeln!(out, "provisioning:     {}", serde_plain(&p));
            }
            let _ = writeln!(
                out,
                "revocation:       {}",
                if chain.revocation_checked {
                    "checked against the status list"
                } else {
                    "NOT checked (no status list given)"
                }
            );
        }
        if let Some(m) = self.challenge_matches {
            let _ = writeln!(
                out,
                "challenge:        {}",
                if m { "matches" } else { "DOES NOT MATCH" }
            );
        }
        if let Some(d) = &self.device {
            let _ = writeln!(
                out,
                "hardware-backed:  {} (security level {})",
                yes(d.hardware_backed),
                serde_plain(&d.security_level)
            );
            let _ = writeln!(out, "StrongBox:        {}", yes(d.strong_box));
            let _ = writeln!(
                out,
                "boot verified:    {} ({})",
                yes(d.boot_verified),
                d.verified_boot_state
                    .map(|s| serde_plain(&s))
                    .unwrap_or_else(|| "no root of trust".into())
            );
            let _ = writeln!(out, "bootloader locked: {}", yes(d.bootloader_locked));
            let dash = || "-".to_string();
            let _ = writeln!(
                out,
                "OS:               {} (patch {}, vendor {}, boot {})",
                d.os_version.clone().unwrap_or_else(dash),
                d.os_patch_level.clone().unwrap_or_else(dash),
                d.vendor_patch_level.clone().unwrap_or_else(dash),
                d.boot_patch_level.clone().unwrap_or_else(dash)
            );
            if let Some(m) = &d.model {
                let _ = writeln!(out, "model:            {m}");
            }
            if let Some(at) = &d.attested_at {
                let _ = writeln!(
                    out,
                    "attested at:      {at} (the state above is as of then)"
                );
            }
        }
        if let Some(app) = &self.app {
            let _ = writeln!(out, "app:              {}", app.packages.join(", "));
            for s in &app.signer_digests {
                let _ = writeln!(out, "  signer SHA-256:  {s}");
            }
            if let Some(m) = app.package_matches {
                let _ = writeln!(
                    out,
                    "  expected package: {}",
                    if m { "matches" } else { "DOES NOT MATCH" }
                );
            }
            if let Some(m) = app.signer_matches {
                let _ = writeln!(
                    out,
                    "  expected signer:  {}",
                    if m { "matches" } else { "DOES NOT MATCH" }
                );
            }
        }
        for w in &self.warnings {
            let _ = writeln!(out, "warning: {w}");
        }
        out
    }
}

fn serde_plain<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

fn rfc3339(t: Timestamp) -> String {
    t.to_string()
}

pub(crate) fn summarise(certs: &[Cert]) -> Vec<CertificateSummary> {
    certs
        .iter()
        .enumerate()
        .map(|(index, c)| CertificateSummary {
            index,
            subject: c.subject.to_string(),
            issuer: c.issuer.to_string(),
            serial: c.serial_hex(),
            not_before: rfc3339(c.not_before),
            not_after: rfc3339(c.not_after),
            signature_algorithm: match sig::signature_algorithm(&c.signature_algorithm) {
                Ok(a) => a.name().to_string(),
                Err(e) => e.message,
            },
            public_key: match sig::public_key(&c.spki) {
                Ok(k) => k.describe(),
                Err(e) => e.message,
            },
        })
        .collect()
}

fn os_version(v: i128) -> String {
    // MMmmpp: 140000 is 14.0.0; 90000 is 9.0.0.
    format!("{}.{}.{}", v / 10000, (v / 100) % 100, v % 100)
}

fn patch(
    name: &str,
    value: Option<crate::key_description::Int>,
    warnings: &mut Vec<String>,
) -> Option<String> {
    let value = value?;
    match PatchLevel::from_int(value) {
        Some(p) => Some(p.to_iso()),
        None => {
            warnings.push(format!(
                "{name} {} is not a date; treated as unknown",
                value.0
            ));
            None
        }
    }
}

/// The hardware-enforced value if present, else the software-enforced one.
fn either<'a, T>(
    kd: &'a KeyDescription,
    f: impl Fn(&'a AuthorizationList) -> Option<&'a T>,
) -> Option<&'a T> {
    f(&kd.hardware_enforced).or_else(|| f(&kd.software_enforced))
}

/// Verifies a DER chain (leaf first) at time `now` and judges its record.
pub fn verify(
    chain: &[Vec<u8>],
    options: &VerifyOptions,
    expect: &Expectations,
    now: Timestamp,
) -> Verdict {
    let mut verdict = Verdict {
        verdict_version: VERDICT_VERSION,
        verified: false,
        verified_at: rfc3339(now),
        reasons: Vec::new(),
        warnings: Vec::new(),
        challenge_matches: None,
        chain: None,
        device: None,
        app: None,
        record: None,
        checkpoint_key_certified: None,
    };
    let revocation_checked = options.revocations.is_some();
    if !revocation_checked {
        verdict.warnings.push(
            "revocation not checked: pass the attestation status list (--revocations)".into(),
        );
    }
    let path_options = PathOptions {
        allow_software_root: options.allow_software_root,
        allow_missing_extension: false,
    };
    // Decode once; the report shows the chain as decoded whatever the validation says.
    let parsed: Option<Vec<Cert>> = if chain::check_length(chain.len()).is_ok() {
        chain
            .iter()
            .enumerate()
            .map(|(i, d)| Cert::parse(i, d).ok())
            .collect()
    } else {
        None
    };
    let validated = match parsed {
        Some(certs) => chain::validate_certs(
            certs,
            &options.anchors,
            options.revocations.as_ref(),
            now,
            path_options,
        )
        .map_err(|(refusal, certs)| (refusal, Some(certs))),
        None => chain::validate(
            chain,
            &options.anchors,
            options.revocations.as_ref(),
            now,
            path_options,
        )
        .map_err(|refusal| {
            // Too short or too long: still show what decodes (a lone leaf, say).
            let certs: Option<Vec<Cert>> = chain
                .iter()
                .take(chain::MAX_CHAIN_LEN)
                .enumerate()
                .map(|(i, d)| Cert::parse(i, d).ok())
                .collect();
            (refusal, certs)
        }),
    };
    let validated = match validated {
        Ok(v) => v,
        Err((refusal, certs)) => {
            if let Some(certs) = &certs {
                verdict.chain = Some(ChainSummary {
                    certificates: summarise(certs),
                    root: None,
                    provisioning: None,
                    revocation_checked,
                });
            }
            verdict.reasons.push(refusal);
            // For diagnosis: the leaf's record if it parses, or why it does not.
            let leaf_record = certs
                .as_ref()
                .and_then(|c| c.first())
                .and_then(|leaf| leaf.attestation.as_ref())
                .map(|(_, der)| parse_key_description(der));
            match leaf_record {
                Some(Ok(kd)) => verdict.record = Some(kd),
                Some(Err(e)) if e.code != verdict.reasons[0].code => verdict.reasons.push(e),
                _ => {}
            }
            return verdict;
        }
    };
    verdict.chain = Some(ChainSummary {
        certificates: summarise(&validated.certs),
        root: None,
        provisioning: None,
        revocation_checked,
    });
    if let Some(summary) = &mut verdict.chain {
        summary.root = Some(RootSummary {
            name: validated.anchor.name.clone(),
            subject: validated.anchor.subject.clone(),
            fingerprint: validated.anchor.fingerprint.clone(),
        });
        summary.provisioning = Some(validated.provisioning);
    }
    let kd = match parse_key_description(&validated.key_description_der) {
        Ok(kd) => kd,
        Err(refusal) => {
            verdict.reasons.push(refusal);
            return verdict;
        }
    };

    // The security levels, and StrongBox claimed by the certificates as well.
    let levels = (kd.attestation_security_level, kd.key_mint_security_level);
    if levels.0 != levels.1 {
        verdict.warnings.push(format!(
            "attestation security level {} differs from KeyMint security level {}",
            serde_plain(&levels.0),
            serde_plain(&levels.1)
        ));
    }
    let claims_strongbox =
        levels.0 == SecurityLevel::StrongBox || levels.1 == SecurityLevel::StrongBox;
    if claims_strongbox && !validated.chain_says_strongbox {
        verdict.reasons.push(Refusal::new(
            Reason::SecurityLevelMismatch,
            "the record claims StrongBox but no certificate of the chain names StrongBox",
        ));
    }
    if validated.provisioning == Provisioning::Software {
        verdict.warnings.push(
            "the chain ends in the Android software attestation root: accepted for testing only, never hardware-backed".into(),
        );
    }

    // The challenge.
    let challenge_ok = kd.attestation_challenge.0 == expect.challenge;
    verdict.challenge_matches = Some(challenge_ok);
    if !challenge_ok {
        verdict.reasons.push(Refusal::new(
            Reason::ChallengeMismatch,
            format!(
                "the record's challenge ({} bytes, {}) is not the one issued ({} bytes, {})",
                kd.attestation_challenge.0.len(),
                hex(&kd.attestation_challenge.0),
                expect.challenge.len(),
                hex(&expect.challenge)
            ),
        ));
    }

    // The attesting application.
    let app_id = either(&kd, |l| l.attestation_application_id.as_ref());
    let package_matches = expect
        .package
        .as_ref()
        .map(|want| app_id.is_some_and(|a| a.packages.iter().any(|p| &p.name == want)));
    let signer_matches = expect
        .signer
        .map(|want| app_id.is_some_and(|a| a.signatures.iter().any(|s| s.0 == want)));
    if package_matches == Some(false) {
        verdict.reasons.push(Refusal::new(
            Reason::PackageMismatch,
            format!(
                "the attesting app is {}, not {}",
                app_id
                    .map(|a| a
                        .packages
                        .iter()
                        .map(|p| p.name.clone())
                        .collect::<Vec<_>>()
                        .join(", "))
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "not named in the record".into()),
                expect.package.as_deref().unwrap_or_default()
            ),
        ));
    }
    if signer_matches == Some(false) {
        verdict.reasons.push(Refusal::new(
            Reason::SignerMismatch,
            format!(
                "no signing certificate of the attesting app has SHA-256 {}",
                expect.signer.map(|s| hex(&s)).unwrap_or_default()
            ),
        ));
    }

    let hw = &kd.hardware_enforced;
    let security_level = levels.0.min(levels.1);
    let software_root = validated.provisioning == Provisioning::Software;
    let hardware_backed = !software_root
        && security_level != SecurityLevel::Software
        && hw.origin == Some(Origin::Generated);
    let rot = hw.root_of_trust.as_ref();
    if rot.is_none() {
        verdict
            .warnings
            .push("the hardware-enforced list has no root of trust: boot state unknown".into());
    }
    let attested_at = either(&kd, |l| l.creation_date_time.as_ref())
        .and_then(|ms| i64::try_from(ms.0).ok())
        .and_then(|ms| Timestamp::from_millisecond(ms).ok());
    if let Some(at) = attested_at {
        if at > now {
            verdict.warnings.push(format!(
                "the key's creation time {at} is after the verification time (the phone's clock?)"
            ));
        }
    }
    let model = {
        let parts: Vec<&str> = [
            hw.attestation_id_manufacturer.as_deref(),
            hw.attestation_id_model.as_deref(),
            hw.attestation_id_brand.as_deref(),
            hw.attestation_id_device.as_deref(),
            hw.attestation_id_product.as_deref(),
        ]
        .into_iter()
        .flatten()
        .collect();
        (!parts.is_empty()).then(|| parts.join(" / "))
    };
    let mut warnings = Vec::new();
    let device = DeviceFacts {
        hardware_backed,
        strong_box: !software_root
            && levels == (SecurityLevel::StrongBox, SecurityLevel::StrongBox)
            && validated.chain_says_strongbox,
        security_level,
        key_origin: hw.origin,
        boot_verified: !software_root
            && rot.is_some_and(|r| r.verified_boot_state == VerifiedBootState::Verified),
        bootloader_locked: !software_root && rot.is_some_and(|r| r.device_locked),
        verified_boot_state: rot.map(|r| r.verified_boot_state),
        verified_boot_key: rot.map(|r| hex(&r.verified_boot_key.0)),
        os_version: hw.os_version.map(|v| os_version(v.0)),
        os_patch_level: patch("osPatchLevel", hw.os_patch_level, &mut warnings),
        vendor_patch_level: patch("vendorPatchLevel", hw.vendor_patch_level, &mut warnings),
        boot_patch_level: patch("bootPatchLevel", hw.boot_patch_level, &mut warnings),
        attested_at: attested_at.map(rfc3339),
        attestation_version: kd.attestation_version.0.to_string(),
        model,
    };
    verdict.warnings.extend(warnings);
    let app = AppFacts {
        packages: app_id
            .map(|a| {
                a.packages
                    .iter()
                    .map(|p| format!("{} (version {})", p.name, p.version.0))
                    .collect()
            })
            .unwrap_or_default(),
        signer_digests: app_id
            .map(|a| a.signatures.iter().map(|s| hex(&s.0)).collect())
            .unwrap_or_default(),
        package_matches,
        signer_matches,
    };
    verdict.record = Some(kd);
    verdict.verified = verdict.reasons.is_empty();
    if verdict.verified {
        verdict.device = Some(device);
        verdict.app = Some(app);
    }
    verdict
}

/// Checks that the chain's leaf (the attested key) signed `statement` (ECDSA P-256 with
/// SHA-256, ASN.1 DER signature; or RSA PKCS#1 v1.5 with SHA-256): the phone's
/// certification of its checkpoint-signing key. Run on a verified verdict; a signature
/// that does not verify refuses the verdict (`checkpoint_key_not_certified`), and then,
/// as for any refusal, `device` and `app` are withdrawn.
pub fn check_certification(
    verdict: &mut Verdict,
    leaf_der: &[u8],
    statement: &[u8],
    signature: &[u8],
) {
    let outcome = leaf_signature(leaf_der, statement, signature);
    verdict.checkpoint_key_certified = Some(outcome.is_ok());
    if let Err(refusal) = outcome {
        verdict.reasons.push(refusal);
        verdict.verified = false;
        verdict.device = None;
        verdict.app = None;
    }
}

fn leaf_signature(leaf_der: &[u8], statement: &[u8], signature: &[u8]) -> Result<(), Refusal> {
    use der::Decode;
    let not_certified = |why: &str| Refusal::new(Reason::CheckpointKeyNotCertified, why);
    let cert = x509_cert::Certificate::from_der(leaf_der)
        .map_err(|_| not_certified("the leaf certificate does not decode"))?;
    spki_signature(
        cert.tbs_certificate().subject_public_key_info(),
        statement,
        signature,
    )
}

fn spki_signature(
    spki: &x509_cert::spki::SubjectPublicKeyInfoOwned,
    statement: &[u8],
    signature: &[u8],
) -> Result<(), Refusal> {
    let not_certified = |why: &str| Refusal::new(Reason::CheckpointKeyNotCertified, why);
    let key = sig::public_key(spki).map_err(|e| not_certified(&e.message))?;
    let alg = match key {
        sig::PublicKey::P256(_) => sig::SigAlg::EcdsaSha256,
        sig::PublicKey::Rsa { .. } => sig::SigAlg::RsaPkcs1Sha256,
        sig::PublicKey::P384(_) => {
            return Err(not_certified(
                "the attested key is P-384; the certification is made with a P-256 key",
            ))
        }
    };
    sig::verify(
        "checkpoint-key certification",
        alg,
        &key,
        sig::KeyPolicy::Strict,
        statement,
        signature,
    )
    .map_err(|e| not_certified(&e.message))
}

/// A JSON Schema as the repository commits it: pretty-printed, with a final newline.
pub(crate) fn committed_schema_text(schema: &serde_json::Value) -> String {
    let mut text = serde_json::to_string_pretty(schema).expect("a schema serialises");
    text.push('\n');
    text
}

#[cfg(test)]
mod certification_tests {
    use super::*;
    use der::Decode;
    use ring::rand::SystemRandom;
    use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};

    /// SubjectPublicKeyInfo DER of an uncompressed P-256 point: the fixed header
    /// (id-ecPublicKey, prime256v1, BIT STRING of 66 bytes) then the point.
    fn p256_spki(point: &[u8]) -> x509_cert::spki::SubjectPublicKeyInfoOwned {
        let mut der = vec![
            0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
            0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
        ];
        der.extend_from_slice(point);
        x509_cert::spki::SubjectPublicKeyInfoOwned::from_der(&der).unwrap()
    }

    #[test]
    fn a_p256_certification_verifies_and_nothing_else_does() {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let spki = p256_spki(pair.public_key().as_ref());
        let statement = b"portcullis/checkpoint-key-certification/v1\0statement";
        let signature = pair.sign(&rng, statement).unwrap();
        assert!(spki_signature(&spki, statement, signature.as_ref()).is_ok());
        // Another statement, a flipped signature byte, another key: refused.
        let refused = |r: Result<(), Refusal>| r.unwrap_err().code;
        assert_eq!(
            refused(spki_signature(
                &spki,
                b"another statement",
                signature.as_ref()
            )),
            Reason::CheckpointKeyNotCertified
        );
        let mut flipped = signature.as_ref().to_vec();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert_eq!(
            refused(spki_signature(&spki, statement, &flipped)),
            Reason::CheckpointKeyNotCertified
        );
        let other_pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let other =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, other_pkcs8.as_ref(), &rng)
                .unwrap();
        assert!(spki_signature(
            &p256_spki(other.public_key().as_ref()),
            statement,
            signature.as_ref()
        )
        .is_err());
    }
}
