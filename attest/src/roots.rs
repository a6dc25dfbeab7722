//! Trust anchors: the Google hardware attestation roots compiled in from
//! `attest/roots/` (provenance in attest/roots/README.md), and roots added or
//! substituted at run time (`--roots`, the `roots.json` format: a JSON array of PEM
//! strings).
//!
//! A root is trusted by its subject and key. The two Android *software* attestation
//! roots are known too, but only so that a chain ending in one is refused with the
//! right reason (`software_root`); they are trusted only when a caller adds them and
//! asks for it (tests of old software-attested chains).

use std::sync::OnceLock;

use ring::digest;
use x509_cert::name::Name;

use crate::chain::Cert;
use crate::sig::{self, PublicKey};
use crate::{decode_pem_chain, Refusal};

/// The built-in roots: (name, PEM).
const BUILTIN: &[(&str, &str)] = &[
    (
        "google-root-rsa4096-f92009e853b6b045",
        include_str!("../roots/google-root-rsa4096-f92009e853b6b045-2022.pem"),
    ),
    (
        "google-root-ec-p384-key-attestation-ca1",
        include_str!("../roots/google-root-ec-p384-key-attestation-ca1-2025.pem"),
    ),
];

/// The Android software attestation roots: (name, PEM). Never trusted by default.
const SOFTWARE: &[(&str, &str)] = &[
    (
        "android-software-root-ec",
        include_str!("../roots/software/android-keystore-software-attestation-root-ec.pem"),
    ),
    (
        "android-software-root-rsa",
        include_str!("../roots/software/android-software-attestation-root-rsa.pem"),
    ),
];

/// The App Attest root: (name, PEM). Trusted only for iOS App Attest objects.
const APP_ATTEST: &[(&str, &str)] = &[(
    "apple-app-attestation-root-ca",
    include_str!("../roots/apple-app-attestation-root-ca.pem"),
)];

/// One trusted root.
#[derive(Debug, Clone)]
pub struct Anchor {
    /// A short name: the built-in name, or `sha256:` and the first 16 hex digits of the fingerprint.
    pub name: String,
    /// The root's subject, as text.
    pub subject: String,
    /// SHA-256 of the root certificate's DER, in lower-case hex.
    pub fingerprint: String,
    pub(crate) cert: Cert,
    pub(crate) key: PublicKey,
}

impl Anchor {
    fn from_der(name: Option<&str>, index: usize, der: &[u8]) -> Result<Anchor, Refusal> {
        let cert = Cert::parse(index, der)?;
        let key = sig::public_key(&cert.spki)?;
        let fingerprint: String = digest::digest(&digest::SHA256, der)
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(Anchor {
            name: name
                .map(str::to_owned)
                .unwrap_or_else(|| format!("sha256:{}", &fingerprint[..16])),
            subject: cert.subject.to_string(),
            fingerprint,
            cert,
            key,
        })
    }
}

/// A set of trusted roots.
#[derive(Debug, Clone, Default)]
pub struct TrustAnchors {
    anchors: Vec<Anchor>,
}

fn from_table(table: &[(&str, &str)]) -> TrustAnchors {
    let mut set = TrustAnchors::default();
    for (i, (name, pem)) in table.iter().enumerate() {
        // Compiled-in data, checked by the tests: a failure here is a build defect.
        let der = decode_pem_chain(pem.as_bytes()).expect("built-in root PEM");
        let anchor = Anchor::from_der(Some(name), i, &der[0]).expect("built-in root certificate");
        set.anchors.push(anchor);
    }
    set
}

fn software_keys() -> &'static [Vec<u8>] {
    static KEYS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    KEYS.get_or_init(|| {
        TrustAnchors::software_roots()
            .anchors
            .into_iter()
            .map(|a| a.cert.spki_der)
            .collect()
    })
}

/// Whether `spki_der` is the key of an Android software attestation root.
pub(crate) fn is_software_root_key(spki_der: &[u8]) -> bool {
    software_keys().iter().any(|k| k == spki_der)
}

impl TrustAnchors {
    /// The Google hardware attestation roots built into this crate: the RSA-4096 root
    /// (subject `serialNumber=f92009e853b6b045`, the 2022 issue of the key Google has
    /// used since 2016) and the ECDSA P-384 `Key Attestation CA1` root that signs
    /// attestations from 2026.
    pub fn builtin() -> TrustAnchors {
        static BUILTIN_SET: OnceLock<TrustAnchors> = OnceLock::new();
        BUILTIN_SET.get_or_init(|| from_table(BUILTIN)).clone()
    }

    /// The two Android software attestation roots (keys that ship in every Android
    /// build's source): for tests and development phones only.
    pub fn software_roots() -> TrustAnchors {
        from_table(SOFTWARE)
    }

    /// Apple's App Attest root CA (`CN=Apple App Attestation Root CA`, ECDSA P-384),
    /// the only root an App Attest object's intermediate chains to. It is a set of its
    /// own: an Android chain never ends in it, nor an App Attest object in a Google root.
    pub fn app_attest() -> TrustAnchors {
        static APP_ATTEST_SET: OnceLock<TrustAnchors> = OnceLock::new();
        APP_ATTEST_SET
            .get_or_init(|| from_table(APP_ATTEST))
            .clone()
    }

    /// No roots at all.
    pub fn empty() -> TrustAnchors {
        TrustAnchors::default()
    }

    /// Roots from a `roots.json` file: a JSON array of PEM certificates.
    pub fn from_roots_json(bytes: &[u8]) -> Result<TrustAnchors, String> {
        let pems: Vec<String> = serde_json::from_slice(bytes)
            .map_err(|e| format!("roots file: not a JSON array of PEM strings: {e}"))?;
        if pems.is_empty() {
            return Err("roots file: the array is empty".into());
        }
        let mut set = TrustAnchors::default();
        for (i, pem) in pems.iter().enumerate() {
            let der = decode_pem_chain(pem.as_bytes())
                .map_err(|e| format!("roots file: entry {i}: {}", e.message))?;
            if der.len() != 1 {
                return Err(format!(
                    "roots file: entry {i} holds {} certificates, not one",
                    der.len()
                ));
            }
            let anchor = Anchor::from_der(None, i, &der[0])
                .map_err(|e| format!("roots file: entry {i}: {}", e.message))?;
            set.add(anchor);
        }
        Ok(set)
    }

    /// Roots from a PEM file of one or more certificates.
    pub fn from_pem(bytes: &[u8]) -> Result<TrustAnchors, String> {
        let ders = decode_pem_chain(bytes).map_err(|e| format!("roots: {}", e.message))?;
        let mut set = TrustAnchors::default();
        for (i, der) in ders.iter().enumerate() {
            let anchor =
                Anchor::from_der(None, i, der).map_err(|e| format!("roots: {}", e.message))?;
            set.add(anchor);
        }
        Ok(set)
    }

    fn add(&mut self, anchor: Anchor) {
        if !self.anchors.iter().any(|a| a.cert.der == anchor.cert.der) {
            self.anchors.push(anchor);
        }
    }

    /// Adds every root of `other` not already present.
    pub fn extend(&mut self, other: TrustAnchors) {
        for a in other.anchors {
            self.add(a);
        }
    }

    /// The roots, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Anchor> {
        self.anchors.iter()
    }

    /// The number of roots.
    pub fn len(&self) -> usize {
        self.anchors.len()
    }

    /// Whether there are no roots.
    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }

    /// The roots with this subject (App Attest objects carry no root: the intermediate's
    /// issuer names it).
    pub(crate) fn with_subject<'a>(
        &'a self,
        subject: &'a Name,
    ) -> impl Iterator<Item = &'a Anchor> {
        self.anchors
            .iter()
            .filter(move |a| &a.cert.subject == subject)
    }

    /// The root with this subject and this SubjectPublicKeyInfo, if any.
    pub(crate) fn find(&self, subject: &Name, spki_der: &[u8]) -> Option<&Anchor> {
        self.anchors
            .iter()
            .find(|a| &a.cert.subject == subject && a.cert.spki_der == spki_der)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_roots_parse_and_are_not_software() {
        let set = TrustAnchors::builtin();
        assert_eq!(set.len(), 2);
        for a in set.iter() {
            assert!(!is_software_root_key(&a.cert.spki_der), "{}", a.name);
        }
        let fps: Vec<&str> = set.iter().map(|a| a.fingerprint.as_str()).collect();
        assert_eq!(
            fps,
            [
                "cedb1cb6dc896ae5ec797348bce9286753c2b38ee71ce0fbe34a9a1248800dfc",
                "6d9db4ce6c5c0b293166d08986e05774a8776ceb525d9e4329520de12ba4bcc0"
            ]
        );
        assert_eq!(TrustAnchors::software_roots().len(), 2);
    }

    #[test]
    fn the_app_attest_root_is_apples() {
        let set = TrustAnchors::app_attest();
        assert_eq!(set.len(), 1);
        let root = set.iter().next().unwrap();
        assert_eq!(
            root.fingerprint,
            "1cb9823ba28ba6ad2d33a006941de2ae4f513ef1d4e831b9f7e0fa7b6242c932"
        );
        assert_eq!(root.key.describe(), "EC P-384");
        assert!(root.subject.contains("CN=Apple App Attestation Root CA"));
    }
}
