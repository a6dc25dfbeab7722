//! The managed-configuration state machine as the platforms drive it: one call per
//! delivered configuration, one typed answer. The same scenario runs from Kotlin
//! (android JVM tests) and Python (binding tests) against signed fixtures.

mod policy_support;

use std::path::Path;
use std::sync::Arc;

use policy_support::{bundle, key, payload, standard_root, DAY, T0};
use portcullis_core::agent::{
    BundleSync, IndicatorSync, InstructionsSync, ManagedConfig, ManagedConfigSync, RootSync,
    SyncHeadline,
};
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
