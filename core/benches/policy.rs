//! Cost of accepting a policy bundle on a phone: one Ed25519 verification, and the
//! whole of `verify_bundle` (size check, envelope parse, signature, payload parse and
//! validation, metadata checks) for a bundle of about 1 MB.
//!
//!     cargo bench -p portcullis-core --bench policy

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use portcullis_core::policy::bundle::pae;
use portcullis_core::policy::model::{AppRule, InstallType, Sha256Fingerprint, SigningKeyCert};
use portcullis_core::policy::trust::{KeyType, Role, Roles, RootKey, RootSchema};
use portcullis_core::policy::{
    verify_bundle, BundlePayload, BundleScope, DeviceScope, Envelope, Policy, SigningKey,
    TrustRoot, TrustedState, MAX_BUNDLE_BYTES, POLICY_PAYLOAD_TYPE,
};
use portcullis_core::Timestamp;

const TARGET_BYTES: usize = 1024 * 1024;
const T0: Timestamp = Timestamp::from_unix_millis(1_772_323_200_000);

fn state(key: &SigningKey) -> TrustedState {
    let role = Role {
        keyids: vec![key.key_id()],
        threshold: 1,
    };
    TrustedState::from_root(TrustRoot {
        schema: RootSchema::V1,
        version: 1,
        description: String::new(),
        keys: BTreeMap::from([(
            key.key_id(),
            RootKey {
                keytype: KeyType::Ed25519,
                public: key.public_key(),
                label: String::new(),
            },
        )]),
        roles: Roles {
            root: role.clone(),
            policy: role,
            operations: None,
        },
    })
    .unwrap()
}

/// The election-sensitive policy grown with pinned app rules until the signed
/// bundle is about 1 MB (a fleet allowlist far larger than any real one).
fn big_bundle(key: &SigningKey) -> Vec<u8> {
    let text = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../policies/election-sensitive.json"
    ))
    .unwrap();
    let mut policy = Policy::from_json(&text).unwrap();
    let mut payload = BundlePayload {
        version: 1,
        root_version: 1,
        issued_at: T0,
        expires: T0.plus_millis(30 * 86_400_000),
        scope: BundleScope {
            devices: vec![],
            groups: vec!["all-staff".into()],
        },
        policy: policy.clone(),
    };
    let mut n = 0u32;
    loop {
        for _ in 0..200 {
            n += 1;
            let mut fp = [0u8; 32];
            fp[..4].copy_from_slice(&n.to_be_bytes());
            policy.apps.applications.push(AppRule {
                package_name: Some(format!("org.example.vetted.app{n}")),
                bundle_id: None,
                install_type: InstallType::Available,
                signing_key_certs: vec![SigningKeyCert {
                    signing_key_cert_fingerprint_sha256: Sha256Fingerprint(fp),
                }],
                minimum_version_code: Some(u64::from(n)),
                allowed_installers: None,
                on_violation: None,
                notes: vec![],
            });
        }
        payload.policy = policy.clone();
        let bundle = payload.sign(&[key]).unwrap();
        if bundle.len() >= TARGET_BYTES {
            assert!(bundle.len() <= MAX_BUNDLE_BYTES);
            return bundle;
        }
    }
}

fn bench(c: &mut Criterion) {
    let key = SigningKey::from_seed(&[10; 32]).unwrap();
    let public = key.public_key();

    let mut group = c.benchmark_group("ed25519");
    let message = pae(POLICY_PAYLOAD_TYPE, &[0x42; 64]);
    let mut env = Envelope::new(POLICY_PAYLOAD_TYPE, vec![0x42; 64]);
    env.sign(&key);
    let sig = env.signatures[0].sig;
    assert!(public.verifies(&message, &sig));
    group.bench_function("verify_64_byte_payload", |b| {
        b.iter(|| assert!(public.verifies(black_box(&message), black_box(&sig))));
    });
    group.finish();

    let state = state(&key);
    let device = DeviceScope {
        device_id: "dev-0001".into(),
        groups: vec!["all-staff".into()],
    };
    let bundle = big_bundle(&key);
    let now = T0.plus_millis(86_400_000);
    let parsed = Envelope::parse(&bundle, MAX_BUNDLE_BYTES).unwrap();
    let signed = parsed.signing_input();
    let big_sig = parsed.signatures[0].sig;
    let mut group = c.benchmark_group("policy_bundle_1mb");
    group.sample_size(20);
    group.throughput(Throughput::Bytes(bundle.len() as u64));
    group.bench_function("envelope_parse", |b| {
        b.iter(|| Envelope::parse(black_box(&bundle), MAX_BUNDLE_BYTES).unwrap());
    });
    group.bench_function("ed25519_verify_payload", |b| {
        b.iter(|| assert!(public.verifies(black_box(&signed), black_box(&big_sig))));
    });
    group.bench_function("parse_and_verify", |b| {
        b.iter(|| verify_bundle(black_box(&state), black_box(&bundle), now, &device).unwrap());
    });
    group.finish();
    println!(
        "bundle: {} bytes (payload {} bytes)",
        bundle.len(),
        parsed.payload.len()
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
