//! Indicator scanning: 5,000 indicators against a snapshot of 1,000 installed apps.
//!
//!     cargo bench -p portcullis-core --bench inspection
//!
//! The data is synthetic but shaped like the public collections (mostly domains, then
//! file hashes, app ids and signing certificates, paths, addresses) and like a work
//! phone (1,000 packages with signing certificates, installers and APK digests; the
//! `full_snapshot` case adds DNS, URL, process and property evidence). A handful of
//! planted matches keep the finding path exercised.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use portcullis_core::inspection::evidence::{
    Certificate, Component, Contact, File, Package, Process, Property,
};
use portcullis_core::inspection::{EvidenceSnapshot, IndicatorSet};

const INDICATORS: usize = 5_000;
const APPS: usize = 1_000;

/// SplitMix64: a deterministic generator, so every run scans the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn hex(&mut self, digits: usize) -> String {
        let mut out = String::with_capacity(digits);
        while out.len() < digits {
            out.push_str(&format!("{:016x}", self.next()));
        }
        out.truncate(digits);
        out
    }

    fn word(&mut self) -> String {
        const SYLLABLES: [&str; 16] = [
            "ka", "lo", "mer", "tan", "vi", "sol", "dre", "pu", "nex", "cor", "ba", "zin", "qua",
            "fel", "ro", "tis",
        ];
        let n = 2 + (self.next() % 3) as usize;
        (0..n)
            .map(|_| SYLLABLES[(self.next() % 16) as usize])
            .collect()
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

const TLDS: [&str; 6] = ["com", "net", "org", "info", "xyz", "io"];
/// Benign traffic uses other top-level domains, so only planted domains can match.
const BENIGN_TLDS: [&str; 5] = ["de", "fr", "co.uk", "app", "dev"];

fn synthetic_bundle(rng: &mut Rng, planted: &Planted) -> String {
    let mut objects = vec![serde_json::json!({
        "type": "malware", "spec_version": "2.1", "id": "malware--bench",
        "name": "BenchWare", "is_family": false
    })];
    for i in 0..INDICATORS {
        let pattern = match i {
            0 => format!("[app:id='{}']", planted.app_id),
            1 => format!("[app:cert.sha256='{}']", planted.cert.to_uppercase()),
            2 => format!("[domain-name:value='{}']", planted.domain),
            3 => format!("[file:hashes.'SHA-256'='{}']", planted.apk),
            _ => match rng.next() % 100 {
                0..=59 => format!("[domain-name:value='{}.{}']", rng.word(), rng.pick(&TLDS)),
                60..=69 => format!("[file:hashes.sha256='{}']", rng.hex(64)),
                70..=74 => format!("[file:hashes.'SHA-256'='{}']", rng.hex(64)),
                // Three parts; benign apps have two, so only planted ids can match.
                75..=81 => format!(
                    "[app:id='com.{}.{}.{}']",
                    rng.word(),
                    rng.word(),
                    rng.word()
                ),
                82..=85 => format!("[app:cert.sha256='{}']", rng.hex(64)),
                86..=89 => format!("[file:path='/private/var/tmp/{}']", rng.word()),
                90..=92 => format!("[file:name='{}.dylib']", rng.word()),
                93..=95 => format!(
                    "[ipv4-addr:value='{}.{}.{}.{}']",
                    rng.next() % 223 + 1,
                    rng.next() % 256,
                    rng.next() % 256,
                    rng.next() % 254 + 1
                ),
                96..=97 => format!("[email-addr:value='{}@{}.com']", rng.word(), rng.word()),
                98 => format!("[process:name='{}d']", rng.word()),
                _ => format!(
                    "[url:value='https://{}.{}/{}']",
                    rng.word(),
                    rng.pick(&TLDS),
                    rng.word()
                ),
            },
        };
        let id = format!("indicator--bench-{i}");
        objects.push(serde_json::json!({
            "type": "indicator", "spec_version": "2.1", "id": id,
            "indicator_types": ["malicious-activity"],
            "pattern": pattern, "pattern_type": "stix", "pattern_version": "2.1"
        }));
        objects.push(serde_json::json!({
            "type": "relationship", "spec_version": "2.1", "id": format!("relationship--bench-{i}"),
            "relationship_type": "indicates", "source_ref": id, "target_ref": "malware--bench"
        }));
    }
    serde_json::json!({"type": "bundle", "id": "bundle--bench", "objects": objects}).to_string()
}

struct Planted {
    app_id: String,
    cert: String,
    domain: String,
    apk: String,
}

const INSTALLERS: [&str; 4] = [
    "com.android.vending",
    "com.android.vending",
    "com.google.android.packageinstaller",
    "com.sec.android.app.samsungapps",
];

fn apps_snapshot(rng: &mut Rng, planted: &Planted) -> EvidenceSnapshot {
    let mut packages = Vec::with_capacity(APPS);
    let mut files = Vec::with_capacity(APPS);
    for i in 0..APPS {
        let id = if i == APPS / 2 {
            planted.app_id.clone()
        } else {
            format!("com.{}.{}", rng.word(), rng.word())
        };
        let sha256 = if i == APPS / 3 {
            planted.cert.clone()
        } else {
            rng.hex(64)
        };
        let mut certificates = vec![Certificate {
            sha256: Some(sha256),
            sha1: Some(rng.hex(40)),
            md5: Some(rng.hex(32)),
            ..Certificate::default()
        }];
        if i % 10 == 0 {
            // A rotated signing key: two certificates.
            certificates.push(Certificate {
                sha256: Some(rng.hex(64)),
                ..Certificate::default()
            });
        }
        let apk = if i == APPS / 4 {
            planted.apk.clone()
        } else {
            rng.hex(64)
        };
        files.push(File {
            path: Some(format!("/data/app/~~{}==/{id}-1/base.apk", rng.hex(16))),
            sha256: Some(apk),
            ..File::default()
        });
        packages.push(Package {
            version_name: Some(format!("{}.{}.{}", i % 9, i % 17, i % 5)),
            version_code: Some(rng.next() % 1_000_000),
            installer: Some(rng.pick(&INSTALLERS).to_owned()),
            system: i % 3 == 0,
            certificates,
            id,
        });
    }
    let accessibility_services = (0..3)
        .map(|i| Component {
            package: packages[i * 100].id.clone(),
            class: Some(".Service".into()),
        })
        .collect();
    EvidenceSnapshot {
        version: 1,
        packages,
        files,
        accessibility_services,
        ..EvidenceSnapshot::default()
    }
}

fn full_snapshot(rng: &mut Rng, planted: &Planted) -> EvidenceSnapshot {
    let mut ev = apps_snapshot(rng, planted);
    let contact = |value: String| Contact {
        value,
        source: Some("dns".into()),
        seen_at: None,
    };
    ev.domains = (0..2_000)
        .map(|i| {
            if i == 1_234 {
                contact(format!("cdn.{}", planted.domain))
            } else {
                contact(format!(
                    "{}.{}.{}",
                    rng.word(),
                    rng.word(),
                    rng.pick(&BENIGN_TLDS)
                ))
            }
        })
        .collect();
    ev.urls = (0..500)
        .map(|_| {
            contact(format!(
                "https://{}.{}/{}?id={}",
                rng.word(),
                rng.pick(&BENIGN_TLDS),
                rng.word(),
                rng.next() % 1000
            ))
        })
        .collect();
    ev.ip_addresses = (0..500)
        .map(|_| {
            contact(format!(
                "{}.{}.{}.{}",
                rng.next() % 223 + 1,
                rng.next() % 256,
                rng.next() % 256,
                rng.next() % 254 + 1
            ))
        })
        .collect();
    ev.processes = (0..300)
        .map(|i| Process {
            name: format!("{}_svc", rng.word()),
            pid: Some(1000 + i),
            path: None,
        })
        .collect();
    ev.system_properties = (0..500)
        .map(|_| Property {
            name: format!("ro.{}.{}", rng.word(), rng.word()),
            value: rng.word(),
        })
        .collect();
    ev.files.extend((0..1_000).map(|_| File {
        path: Some(format!(
            "/private/var/mobile/Library/{}/{}.plist",
            rng.word(),
            rng.word()
        )),
        sha256: Some(rng.hex(64)),
        ..File::default()
    }));
    ev
}

fn bench(c: &mut Criterion) {
    let mut rng = Rng(0x5EED);
    let planted = Planted {
        app_id: "com.planted.spyware".into(),
        cert: rng.hex(64),
        domain: "planted-c2.net".into(),
        apk: rng.hex(64),
    };
    let bundle = synthetic_bundle(&mut rng, &planted);
    let mut set = IndicatorSet::new();
    let summary = set.load_stix2("bench", &bundle).unwrap();
    assert_eq!(summary.indicators, INDICATORS);
    assert_eq!(summary.unparsed, 0);
    let apps = apps_snapshot(&mut rng, &planted);
    let full = full_snapshot(&mut rng, &planted);
    assert_eq!(
        set.scan(&apps).findings.len(),
        3,
        "the planted app id, certificate and APK"
    );
    assert_eq!(set.scan(&full).findings.len(), 4, "plus the planted domain");

    let mut group = c.benchmark_group("inspection");
    group.throughput(Throughput::Elements(APPS as u64));
    group.bench_function("scan_5k_indicators_1k_apps", |b| b.iter(|| set.scan(&apps)));
    group.throughput(Throughput::Elements(full.item_count() as u64));
    group.bench_function("scan_5k_indicators_full_snapshot", |b| {
        b.iter(|| set.scan(&full));
    });
    group.throughput(Throughput::Elements(INDICATORS as u64));
    group.sample_size(20);
    group.bench_function("load_5k_indicators", |b| {
        b.iter(|| {
            let mut s = IndicatorSet::new();
            s.load_stix2("bench", &bundle).unwrap();
            s
        });
    });
    group.finish();

    // Issue 14: loading a bundle of any shape up to the size limit costs at most 3 times
    // reading the same text into a `serde_json::Value`; each shape measured side by side.
    let mut group = c.benchmark_group("inspection_shapes");
    group.sample_size(10);
    for shape in shapes::Shape::ALL {
        let json = shapes::bundle(shape, portcullis_core::policy::MAX_INDICATORS_BYTES);
        group.throughput(Throughput::Bytes(json.len() as u64));
        let name = shape.name().replace([' ', ','], "_");
        group.bench_function(format!("load_{name}"), |b| {
            b.iter(|| {
                let mut s = IndicatorSet::new();
                s.load_stix2("shapes", &json).unwrap();
                s
            });
        });
        group.bench_function(format!("value_{name}"), |b| {
            b.iter(|| serde_json::from_str::<serde_json::Value>(&json).unwrap());
        });
    }
    group.finish();
}

#[path = "support/stix_shapes.rs"]
mod shapes;

criterion_group!(benches, bench);
criterion_main!(benches);
