//! The managed-configuration state machine as the platforms drive it: one call per
//! delivered configuration, one typed answer. The same scenario runs from Kotlin
//! (android JVM tests) and Python (binding tests) against signed fixtures.

mod policy_support;

use std::path::Path;
use std::sync::Arc;

use policy_support::{bundle, key, payload, standard_root, DAY, T0};
use portcullis_core::agent::{
    managed_config_keys, BundleSync, IndicatorSync, InstructionsSync, ManagedConfig,
    ManagedConfigSync, Refusal, RootSync, SyncHeadline,
};
use portcullis_core::policy::IndicatorsPayload;
use portcullis_core::{Agent, AlertKind, DeviceKey, SoftwareDeviceKey, Timestamp};

fn open(db: &Path) -> Agent {
    let key: Arc<dyn DeviceKey> = Arc::new(SoftwareDeviceKey::new(b"sync-test-secret").unwrap());
    Agent::open(db, key, T0, [7; 32]).unwrap()
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap()
}

fn config(root: &str, bundle: &str) -> ManagedConfig {
    ManagedConfig {
        // Console forms add surrounding whitespace; the core trims it.
        trust_root: Some(format!("  {root}\n")),
        device_id: Some("dev-0001".into()),
        device_groups: Some(" all-staff, ,all-staff".into()),
        policy_bundle: Some(bundle.into()),
        ..ManagedConfig::default()
    }
}

fn refused_alerts(agent: &mut Agent) -> usize {
    let alerts = agent.pending_alerts(100).unwrap();
    let ids: Vec<u64> = alerts.iter().map(|a| a.id).collect();
    agent.ack_alerts(&ids, T0).unwrap();
    alerts
        .iter()
        .filter(|a| a.finding.kind == AlertKind::PolicyRefused)
        .count()
}

fn at(days: i64) -> Timestamp {
    T0.plus_millis(days * DAY)
}

fn policy_version(sync: &ManagedConfigSync) -> Option<u64> {
    sync.in_force.as_ref().map(|p| p.version)
}

#[test]
fn enrollment_rotation_refusals_and_redelivery() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agent.db");
    let mut agent = open(&db);
    let root_v1 = text(standard_root(1).sign(&[&key(1), &key(2)]).unwrap());
    let mut next = standard_root(1);
    next.version = 2;
    let root_v2 = text(next.sign(&[&key(1), &key(2)]).unwrap());
    // Below the root role's threshold of two: refused as a rotation.
    let root_v2_weak = text(next.sign(&[&key(1)]).unwrap());
    let bundle_v1 = text(bundle(1));
    let bundle_v2 = text(bundle(2));
    let mut p = payload(3);
    p.root_version = 2;
    let bundle_r2_v3 = text(p.sign(&[&key(10)]).unwrap());

    // Enrollment: the root is installed with the device's scope, then the bundle applied.
    let sync = agent
        .sync_managed_config(&config(&root_v1, &bundle_v2), at(1))
        .unwrap();
    assert_eq!(sync.trust_root, RootSync::Installed { version: 1 });
    assert!(matches!(&sync.policy, BundleSync::Applied(a) if a.version == 2));
    assert_eq!(sync.headline(), SyncHeadline::Applied);
    assert!(sync.enrolled && sync.problems.is_empty());
    assert_eq!(refused_alerts(&mut agent), 0);

    // Redelivery: no news.
    let sync = agent
        .sync_managed_config(&config(&root_v1, &bundle_v2), at(1))
        .unwrap();
    assert_eq!(sync.trust_root, RootSync::Unchanged { version: 1 });
    assert!(matches!(&sync.policy, BundleSync::Unchanged(a) if a.version == 2));
    assert_eq!(sync.headline(), SyncHeadline::InForce);
    assert_eq!(refused_alerts(&mut agent), 0);

    // A rolled-back bundle: refused, alerted once, version 2 stays; remembered across a restart.
    let sync = agent
        .sync_managed_config(&config(&root_v1, &bundle_v1), at(2))
        .unwrap();
    let BundleSync::Refused(r) = &sync.policy else {
        panic!("{:?}", sync.policy)
    };
    assert_eq!((r.code.as_str(), r.remembered), ("rollback", false));
    assert_eq!(policy_version(&sync), Some(2));
    assert!(sync.is_error());
    assert_eq!(refused_alerts(&mut agent), 1);
    drop(agent);
    let mut agent = open(&db);
    let sync = agent
        .sync_managed_config(&config(&root_v1, &bundle_v1), at(2))
        .unwrap();
    assert!(matches!(&sync.policy, BundleSync::Refused(r) if r.remembered && r.code == "rollback"));
    assert_eq!(refused_alerts(&mut agent), 0);

    // A refused root: reported in place of the bundle's outcome, alerted once, not offered again.
    let sync = agent
        .sync_managed_config(&config(&root_v2_weak, &bundle_v2), at(3))
        .unwrap();
    assert!(
        matches!(&sync.trust_root, RootSync::Refused(r) if !r.remembered && r.code == "threshold")
    );
    assert!(matches!(&sync.policy, BundleSync::Unchanged(_)));
    let SyncHeadline::Rejected { input, .. } = sync.headline() else {
        panic!("{:?}", sync.headline())
    };
    assert_eq!(input, "trust_root");
    assert_eq!(refused_alerts(&mut agent), 1);
    let sync = agent
        .sync_managed_config(&config(&root_v2_weak, &bundle_v2), at(3))
        .unwrap();
    assert!(matches!(&sync.trust_root, RootSync::Refused(r) if r.remembered));
    assert_eq!(refused_alerts(&mut agent), 0);

    // The bundle under the new root is refused until the root rotates.
    let sync = agent
        .sync_managed_config(&config(&root_v1, &bundle_r2_v3), at(4))
        .unwrap();
    assert!(matches!(&sync.policy, BundleSync::Refused(r) if !r.remembered));
    assert_eq!(refused_alerts(&mut agent), 1);

    // The rotation, then the bundle signed under it, in one sync.
    let sync = agent
        .sync_managed_config(&config(&root_v2, &bundle_r2_v3), at(4))
        .unwrap();
    assert_eq!(sync.trust_root, RootSync::Rotated { from: 1, to: 2 });
    assert!(
        matches!(&sync.policy, BundleSync::Applied(a) if a.version == 3 && a.root_version == 2)
    );
    assert_eq!(refused_alerts(&mut agent), 0);

    // And its redelivery: unchanged, nothing journaled or alerted.
    let sync = agent
        .sync_managed_config(&config(&root_v2, &bundle_r2_v3), at(5))
        .unwrap();
    assert_eq!(sync.trust_root, RootSync::Unchanged { version: 2 });
    assert!(matches!(&sync.policy, BundleSync::Unchanged(a) if a.version == 3));
    assert_eq!(sync.headline(), SyncHeadline::InForce);
    assert_eq!(refused_alerts(&mut agent), 0);
}

#[test]
fn without_a_device_id_nothing_is_installed_and_the_parts_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let mut agent = open(&dir.path().join("agent.db"));
    let root_v1 = text(standard_root(1).sign(&[&key(1), &key(2)]).unwrap());
    let config = ManagedConfig {
        trust_root: Some(root_v1),
        policy_bundle: Some(text(bundle(1))),
        indicator_collections: vec!["{}\n".into()],
        instructions: vec!["{}".into()],
        console_endpoint: Some("http://console.example.org".into()),
        not_text: vec!["device_groups".into(), "unrelated".into()],
        ..ManagedConfig::default()
    };
    let sync = agent.sync_managed_config(&config, at(1)).unwrap();
    let RootSync::NotInstalled(p) = &sync.trust_root else {
        panic!("{:?}", sync.trust_root)
    };
    assert_eq!(p.key, "device_id");
    assert!(matches!(&sync.policy, BundleSync::NotApplied(p) if p.key == "policy_bundle"));
    assert!(matches!(
        sync.indicators.as_slice(),
        [IndicatorSync::NotLoaded(_)]
    ));
    assert!(matches!(sync.instructions, InstructionsSync::NotApplied(_)));
    // The enrollment's reason is the headline: that is what the console must fix.
    assert!(matches!(sync.headline(), SyncHeadline::Problem(p) if p.key == "device_id"));
    let keys: Vec<&str> = sync.problems.iter().map(|p| p.key).collect();
    assert_eq!(keys, ["device_groups", "console_endpoint"]);
    assert!(!sync.enrolled && sync.in_force.is_none());

    // An empty configuration is no news.
    let sync = agent
        .sync_managed_config(&ManagedConfig::default(), at(1))
        .unwrap();
    assert_eq!(sync.headline(), SyncHeadline::NoBundle);
    assert_eq!(refused_alerts(&mut agent), 0);
}

#[test]
fn a_root_refused_at_enrollment_is_remembered_and_a_corrected_one_installs() {
    let dir = tempfile::tempdir().unwrap();
    let mut agent = open(&dir.path().join("agent.db"));
    let weak = text(standard_root(1).sign(&[&key(1)]).unwrap());
    let good = text(standard_root(1).sign(&[&key(1), &key(2)]).unwrap());
    for (remembered, alerts) in [(false, 1), (true, 0)] {
        let sync = agent
            .sync_managed_config(&config(&weak, &text(bundle(1))), at(1))
            .unwrap();
        assert!(matches!(&sync.trust_root, RootSync::Refused(r) if r.remembered == remembered));
        assert!(matches!(
            sync.headline(),
            SyncHeadline::Rejected {
                input: "trust_root",
                ..
            }
        ));
        assert_eq!(refused_alerts(&mut agent), alerts);
    }
    let sync = agent
        .sync_managed_config(&config(&good, &text(bundle(1))), at(1))
        .unwrap();
    assert_eq!(sync.trust_root, RootSync::Installed { version: 1 });
    assert!(matches!(sync.policy, BundleSync::Applied(_)));
}

/// The public spyware fixture as a collection signed under [`standard_root`].
fn signed_collection(version: u64, signer: u8) -> String {
    let stix = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/spyware-fixture.stix2"),
    )
    .unwrap();
    let payload = IndicatorsPayload {
        collection: "fixture".into(),
        version,
        root_version: 1,
        issued_at: T0,
        expires: at(30),
        stix: serde_json::from_str(&stix).unwrap(),
    };
    text(payload.sign(&[&key(signer)]).unwrap())
}

#[test]
fn indicator_collections_load_and_a_refused_one_is_remembered_until_the_root_changes() {
    let dir = tempfile::tempdir().unwrap();
    let mut agent = open(&dir.path().join("agent.db"));
    let root_v1 = text(standard_root(1).sign(&[&key(1), &key(2)]).unwrap());
    let good = signed_collection(3, 10);
    // Key 30 is in no role of the root.
    let stranger = signed_collection(4, 30);
    let with_collections = ManagedConfig {
        indicator_collections: vec![format!("{good}\n{stranger}\n")],
        ..config(&root_v1, &text(bundle(1)))
    };
    let sync = agent.sync_managed_config(&with_collections, at(1)).unwrap();
    let in_use = IndicatorSync::InUse {
        collection: "fixture".into(),
        version: 3,
    };
    assert_eq!(sync.indicators[0], in_use);
    let IndicatorSync::Refused(refusal) = &sync.indicators[1] else {
        panic!("{:?}", sync.indicators)
    };
    assert!(!refusal.remembered);
    assert_eq!(sync.indicators.len(), 2);
    assert_eq!(refused_alerts(&mut agent), 1);

    // Delivered again: the loaded one is still in use, the refusal is remembered and
    // neither verified nor alerted again.
    let sync = agent.sync_managed_config(&with_collections, at(2)).unwrap();
    assert_eq!(sync.indicators[0], in_use);
    assert_eq!(
        sync.indicators[1],
        IndicatorSync::Refused(Refusal {
            remembered: true,
            ..refusal.clone()
        })
    );
    assert_eq!(refused_alerts(&mut agent), 0);

    // A rotation forgets it: the same file is verified (and refused) afresh.
    let mut next = standard_root(1);
    next.version = 2;
    let rotated = ManagedConfig {
        trust_root: Some(text(next.sign(&[&key(1), &key(2)]).unwrap())),
        ..with_collections.clone()
    };
    let sync = agent.sync_managed_config(&rotated, at(3)).unwrap();
    assert_eq!(sync.trust_root, RootSync::Rotated { from: 1, to: 2 });
    assert!(
        matches!(&sync.indicators[1], IndicatorSync::Refused(r) if !r.remembered),
        "{:?}",
        sync.indicators
    );
}

#[test]
fn a_device_id_that_is_no_scope_name_installs_nothing_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let mut agent = open(&dir.path().join("agent.db"));
    let root_v1 = text(standard_root(1).sign(&[&key(1), &key(2)]).unwrap());
    let bad_id = ManagedConfig {
        device_id: Some("dev 0001/extra".into()),
        ..config(&root_v1, &text(bundle(1)))
    };
    let sync = agent.sync_managed_config(&bad_id, at(1)).unwrap();
    let RootSync::NotInstalled(problem) = &sync.trust_root else {
        panic!("{:?}", sync.trust_root)
    };
    assert_eq!(problem.key, managed_config_keys::TRUST_ROOT);
    assert!(!sync.enrolled);
    assert!(matches!(sync.policy, BundleSync::NotApplied(_)));
    assert_eq!(
        refused_alerts(&mut agent),
        0,
        "bad input, not a refused root"
    );
    // Not remembered as a refusal: corrected, the same root installs.
    let sync = agent
        .sync_managed_config(&config(&root_v1, &text(bundle(1))), at(1))
        .unwrap();
    assert_eq!(sync.trust_root, RootSync::Installed { version: 1 });
    assert!(sync.enrolled);
}
