//! `portcullis policy export --to apple-profile`: the profiles made from the shipped
//! policies are valid XML property lists, and every key they hold is one Apple's
//! device-management schema defines for iOS, with its type and allowed values
//! (`../shared/apple-device-management/`, read here, never copied).

use std::path::{Path, PathBuf};

mod support;

use plist::Value as Plist;
use serde_norway::Value as Yaml;
use support::ok;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn schema(name: &str) -> Yaml {
    let path = repo()
        .join("../shared/apple-device-management/mdm/profiles")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_norway::from_str(&text).unwrap()
}

/// The key definitions of a schema file, by key.
fn keys(schema: &Yaml) -> Vec<(String, Yaml)> {
    schema["payloadkeys"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|k| (k["key"].as_str().unwrap().to_owned(), k.clone()))
        .collect()
}

fn type_of(v: &Plist) -> &'static str {
    match v {
        Plist::Boolean(_) => "<boolean>",
        Plist::Integer(_) => "<integer>",
        Plist::String(_) => "<string>",
        Plist::Array(_) => "<array>",
        Plist::Dictionary(_) => "<dictionary>",
        Plist::Data(_) => "<data>",
        Plist::Date(_) => "<date>",
        Plist::Real(_) => "<real>",
        _ => "<unknown>",
    }
}

/// Checks one value against its key definition: type, array item type, range, allowed
/// values, and that iOS supports the key at all.
fn check(at: &str, def: &Yaml, v: &Plist, check_values: bool) {
    let ty = def["type"].as_str().unwrap();
    assert!(
        ty == "<any>" || ty == type_of(v),
        "{at}: {} is not {ty}",
        type_of(v)
    );
    if let Some(ios) = def["supportedOS"]["iOS"]["introduced"].as_str() {
        assert_ne!(ios, "n/a", "{at}: not an iOS key");
    }
    if let (Plist::Array(items), Some(sub)) = (v, def["subkeys"].as_sequence()) {
        if let Some(item_ty) = sub.first().and_then(|s| s["type"].as_str()) {
            for item in items {
                assert_eq!(type_of(item), item_ty, "{at}[]");
            }
        }
    }
    if !check_values {
        return;
    }
    if let (Some(range), Plist::Integer(n)) = (def.get("range"), v) {
        let n = n.as_signed().unwrap();
        if let Some(min) = range["min"].as_i64() {
            assert!(n >= min, "{at}: {n} < {min}");
        }
        if let Some(max) = range["max"].as_i64() {
            assert!(n <= max, "{at}: {n} > {max}");
        }
    }
    if let Some(list) = def["rangelist"].as_sequence() {
        let ok = list.iter().any(|allowed| match (allowed, v) {
            (Yaml::String(a), Plist::String(s)) => a == s,
            (Yaml::Number(a), Plist::Integer(n)) => a.as_i64() == n.as_signed(),
            (Yaml::Bool(a), Plist::Boolean(b)) => a == b,
            _ => false,
        });
        assert!(ok, "{at}: {v:?} is not among {list:?}");
    }
}

/// Validates a whole profile; returns the payload keys seen, as `type.key`.
fn validate(xml: &str) -> Vec<String> {
    let profile = Plist::from_reader_xml(xml.as_bytes()).expect("a valid XML plist");
    let top_schema = schema("TopLevel.yaml");
    let top_keys = keys(&top_schema);
    let find = |defs: &[(String, Yaml)], k: &str| {
        defs.iter().find(|(n, _)| n == k).map(|(_, d)| d.clone())
    };
    let top = profile.as_dictionary().expect("a dictionary at the top");
    for (k, v) in top {
        let def = find(&top_keys, k)
            .unwrap_or_else(|| panic!("top-level key {k} is not in TopLevel.yaml"));
        check(k, &def, v, true);
    }
    for (k, def) in &top_keys {
        if def["presence"].as_str() == Some("required") && k != "EncryptedPayloadContent" {
            assert!(top.contains_key(k), "required top-level key {k} missing");
        }
    }
    let mut seen = Vec::new();
    for p in top["PayloadContent"].as_array().unwrap() {
        let p = p.as_dictionary().unwrap();
        let kind = p["PayloadType"].as_string().unwrap();
        let s = schema(&format!("{kind}.yaml"));
        assert_eq!(s["payload"]["payloadtype"].as_str(), Some(kind));
        let defs = keys(&s);
        for (k, v) in p {
            if k.starts_with("Payload") {
                // The keys every payload shares are defined with the profile's own;
                // PayloadType names this payload, not the profile.
                let def = find(&top_keys, k).unwrap_or_else(|| panic!("{kind}: {k} unknown"));
                check(&format!("{kind}.{k}"), &def, v, k != "PayloadType");
            } else {
                let def =
                    find(&defs, k).unwrap_or_else(|| panic!("{kind}: {k} is not in {kind}.yaml"));
                check(&format!("{kind}.{k}"), &def, v, true);
                seen.push(format!("{kind}.{k}"));
            }
        }
        for key in [
            "PayloadType",
            "PayloadVersion",
            "PayloadIdentifier",
            "PayloadUUID",
        ] {
            assert!(p.contains_key(key), "{kind}: {key} missing");
        }
    }
    seen
}

fn export(policy: &Path) -> String {
    ok(&[
        "policy",
        "export",
        "--to",
        "apple-profile",
        policy.to_str().unwrap(),
    ])
}

#[test]
fn profiles_of_the_shipped_policies_match_apples_schemas() {
    for name in ["baseline", "election-sensitive", "travel"] {
        let path = repo().join("policies").join(format!("{name}.json"));
        let xml = export(&path);
        let seen = validate(&xml);
        assert!(
            seen.contains(&"com.apple.mobiledevice.passwordpolicy.forcePIN".to_string()),
            "{name}: {seen:?}"
        );
        // The same policy gives the same profile.
        assert_eq!(export(&path), xml);
    }
}

#[test]
fn app_lists_esim_and_usb_rules_reach_the_restrictions_payload() {
    let dir = tempfile::tempdir().unwrap();
    let mut doc: serde_json::Value = serde_json::from_slice(
        &std::fs::read(repo().join("policies/election-sensitive.json")).unwrap(),
    )
    .unwrap();
    let apps = doc["apps"]["applications"].as_array_mut().unwrap();
    apps.push(serde_json::json!({"bundleId": "org.whispersystems.signal", "installType": "FORCE_INSTALLED"}));
    apps.push(serde_json::json!({"bundleId": "com.example.spyware", "installType": "BLOCKED"}));
    doc["configuration"]["deviceRadioState"]["userInitiatedAddEsimSettings"] =
        "USER_INITIATED_ADD_ESIM_DISALLOWED".into();
    let path = dir.path().join("p.json");
    std::fs::write(&path, doc.to_string()).unwrap();
    let xml = export(&path);
    let seen = validate(&xml);
    for key in [
        "allowListedAppBundleIDs",
        "blockedAppBundleIDs",
        "allowESIMModification",
        "allowCellularPlanModification",
        "allowUSBRestrictedMode",
        "allowUIConfigurationProfileInstallation",
    ] {
        assert!(
            seen.contains(&format!("com.apple.applicationaccess.{key}")),
            "{key}: {seen:?}"
        );
    }
    let profile = Plist::from_reader_xml(xml.as_bytes()).unwrap();
    let r = profile.as_dictionary().unwrap()["PayloadContent"]
        .as_array()
        .unwrap()[0]
        .as_dictionary()
        .unwrap()
        .clone();
    assert_eq!(r["allowESIMModification"], Plist::Boolean(false));
    assert_eq!(
        r["allowListedAppBundleIDs"],
        Plist::Array(vec![Plist::String("org.whispersystems.signal".into())])
    );
    assert_eq!(
        r["blockedAppBundleIDs"],
        Plist::Array(vec![Plist::String("com.example.spyware".into())])
    );
}

#[test]
fn the_schema_check_refuses_unknown_keys_wrong_types_and_values_out_of_range() {
    let xml = export(&repo().join("policies/election-sensitive.json"));
    assert!(!validate(&xml).is_empty());
    for (from, to) in [
        (
            "<key>allowUSBRestrictedMode</key>",
            "<key>allowUSBRestrictedModes</key>",
        ),
        (
            "<key>maxInactivity</key>\n\t\t\t<integer>1</integer>",
            "<key>maxInactivity</key>\n\t\t\t<integer>16</integer>",
        ),
        (
            "<key>forcePIN</key>\n\t\t\t<true/>",
            "<key>forcePIN</key>\n\t\t\t<string>yes</string>",
        ),
        (
            "<key>PayloadVersion</key>\n\t<integer>1</integer>",
            "<key>PayloadVersion</key>\n\t<integer>2</integer>",
        ),
    ] {
        assert!(xml.contains(from), "{from}");
        let bad = xml.replacen(from, to, 1);
        let result = std::panic::catch_unwind(|| validate(&bad));
        assert!(result.is_err(), "accepted: {to}");
    }
}

/// The managed app configuration carries the signed root and bundle under the keys the
/// agent's core reads.
#[test]
fn the_app_configuration_carries_the_root_and_the_bundle() {
    use portcullis_core::agent::managed_config_keys as keys;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (root_key, root_pub) = support::keygen(d, "root");
    let (policy_key, policy_pub) = support::keygen(d, "policy");
    let root_json = support::root_create(
        d,
        "root.json",
        &["--root-key", &root_pub, "--policy-key", &policy_pub],
    );
    let root = support::p(d, "root.signed");
    support::root_sign(&[&root_key], &root_json, &root);
    let bundle = support::p(d, "bundle.signed");
    let baseline = repo().join("policies/baseline.json");
    support::sign(
        "policy",
        &policy_key,
        baseline.to_str().unwrap(),
        &bundle,
        &["--root", &root, "--group", "all-staff"],
    );
    let profile = support::p(d, "p.mobileconfig");
    let config = support::p(d, "app-config.plist");
    // Runs `policy export --to apple-profile` of the baseline with an app configuration
    // and EXTRA through RUN (`ok` or `fails`).
    let export = |run: fn(&[&str]) -> String, extra: &[&str]| {
        let mut args = vec!["policy", "export", "--to", "apple-profile"];
        args.extend([baseline.to_str().unwrap(), "--out", &profile]);
        args.extend(["--app-config", &config]);
        args.extend_from_slice(extra);
        run(&args)
    };
    export(
        ok,
        &[
            "--trust-root",
            &root,
            "--bundle",
            &bundle,
            "--device-id",
            "$UDID",
            "--groups",
            "all-staff",
        ],
    );
    validate(&std::fs::read_to_string(&profile).unwrap());
    let dict = Plist::from_file(&config)
        .unwrap()
        .into_dictionary()
        .unwrap();
    let text = |k: &str| dict[k].as_string().unwrap().to_owned();
    assert_eq!(
        text(keys::TRUST_ROOT),
        std::fs::read_to_string(&root).unwrap().trim()
    );
    assert_eq!(
        text(keys::POLICY_BUNDLE),
        std::fs::read_to_string(&bundle).unwrap().trim()
    );
    assert_eq!(text(keys::DEVICE_ID), "$UDID");
    assert_eq!(text(keys::DEVICE_GROUPS), "all-staff");
    assert_eq!(dict.len(), 4);
    // Anything but a signed envelope is refused, naming the file.
    let err = export(support::fails, &["--bundle", baseline.to_str().unwrap()]);
    assert!(err.contains("not a signed envelope"), "{err}");
}
