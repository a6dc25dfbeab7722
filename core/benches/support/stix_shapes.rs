//! STIX bundles of hostile and ordinary shapes, each grown to about a given size: the
//! indicator memory property (`tests/indicator_memory.rs`), the load benchmark
//! (`benches/inspection.rs`) and `examples/indicator_ratio.rs` use the same ones.
#![allow(dead_code)]

/// A shape of bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// Issue 14, item 12: many indicators sharing one id, which `indicates` relationships
    /// link to many malware objects (each indicator used to copy the whole list).
    SharedIdManyMalware,
    /// Issue 14, item 13: one indicator linked to a great many malware names (the
    /// duplicate check used to be quadratic).
    OneIndicatorManyMalware,
    /// Ordinary indicators, each with its own id, pattern and malware link.
    Ordinary,
    /// Indicators that cannot be used (no pattern): each is reported.
    Unparsed,
    /// The smallest objects there are, `{"type":"x"}`.
    TinyObjects,
    /// A field no reader needs, holding a long list of numbers.
    NumberList,
    /// Objects nested as deep as JSON readers allow, in a field no reader needs.
    DeepNesting,
    /// Few objects with long strings.
    LongStrings,
    /// Objects with many distinct keys each.
    WideObjects,
}

impl Shape {
    /// Every shape.
    pub(crate) const ALL: [Shape; 9] = [
        Shape::SharedIdManyMalware,
        Shape::OneIndicatorManyMalware,
        Shape::Ordinary,
        Shape::Unparsed,
        Shape::TinyObjects,
        Shape::NumberList,
        Shape::DeepNesting,
        Shape::LongStrings,
        Shape::WideObjects,
    ];

    /// A short name for reports.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Shape::SharedIdManyMalware => "shared id, many malware",
            Shape::OneIndicatorManyMalware => "one indicator, many malware",
            Shape::Ordinary => "ordinary indicators",
            Shape::Unparsed => "unusable indicators",
            Shape::TinyObjects => "tiny objects",
            Shape::NumberList => "list of numbers",
            Shape::DeepNesting => "deep nesting",
            Shape::LongStrings => "long strings",
            Shape::WideObjects => "wide objects",
        }
    }
}

/// A bundle of `shape` of about `bytes` bytes (never more).
pub(crate) fn bundle(shape: Shape, bytes: usize) -> String {
    let mut objects: Vec<String> = Vec::new();
    let mut size = 64;
    let mut push = |objects: &mut Vec<String>, o: String| -> bool {
        if size + o.len() + 1 > bytes {
            return false;
        }
        size += o.len() + 1;
        objects.push(o);
        true
    };
    match shape {
        Shape::SharedIdManyMalware => {
            // A third of the bytes for indicators, the rest for malware and links.
            let indicators = bytes / 3 / 70;
            for _ in 0..indicators.max(1) {
                if !push(
                    &mut objects,
                    r#"{"type":"indicator","id":"indicator--s","pattern":"[app:id='com.x']"}"#
                        .into(),
                ) {
                    break;
                }
            }
            for i in 0.. {
                let m = format!(r#"{{"type":"malware","id":"malware--{i}","name":"m{i}"}}"#);
                let r = format!(
                    r#"{{"type":"relationship","relationship_type":"indicates","source_ref":"indicator--s","target_ref":"malware--{i}"}}"#
                );
                if !push(&mut objects, m) || !push(&mut objects, r) {
                    break;
                }
            }
        }
        Shape::OneIndicatorManyMalware => {
            push(
                &mut objects,
                r#"{"type":"indicator","id":"indicator--1","pattern":"[app:id='com.x']"}"#.into(),
            );
            for i in 0.. {
                let m = format!(r#"{{"type":"malware","id":"malware--{i}","name":"name-{i}"}}"#);
                let r = format!(
                    r#"{{"type":"relationship","relationship_type":"indicates","source_ref":"indicator--1","target_ref":"malware--{i}"}}"#
                );
                if !push(&mut objects, m) || !push(&mut objects, r) {
                    break;
                }
            }
        }
        Shape::Ordinary => {
            for i in 0.. {
                let o = format!(
                    r#"{{"type":"indicator","spec_version":"2.1","id":"indicator--{i:08}","created":"2026-02-10T14:03:11.482Z","pattern":"[domain-name:value='c{i}.example.net']","pattern_type":"stix","valid_from":"2026-02-10T14:03:11Z"}}"#
                );
                let r = format!(
                    r#"{{"type":"relationship","id":"relationship--{i}","relationship_type":"indicates","source_ref":"indicator--{i:08}","target_ref":"malware--{}"}}"#,
                    i % 50
                );
                if !push(&mut objects, o) || !push(&mut objects, r) {
                    break;
                }
                if i < 50 {
                    push(
                        &mut objects,
                        format!(r#"{{"type":"malware","id":"malware--{i}","name":"Family {i}"}}"#),
                    );
                }
            }
        }
        Shape::Unparsed => while push(&mut objects, r#"{"type":"indicator"}"#.into()) {},
        Shape::TinyObjects => while push(&mut objects, r#"{"type":"x"}"#.into()) {},
        Shape::NumberList => {
            let n = bytes.saturating_sub(96) / 2;
            let list = vec!["1"; n.max(1)].join(",");
            objects.push(format!(r#"{{"type":"x-list","values":[{list}]}}"#));
        }
        Shape::DeepNesting => {
            // serde_json refuses more than 128 levels; stay below, and repeat.
            let one = format!(
                r#"{{"type":"x-deep","v":{}1{}}}"#,
                "[".repeat(120),
                "]".repeat(120)
            );
            while push(&mut objects, one.clone()) {}
        }
        Shape::LongStrings => {
            let long = "a".repeat(64 * 1024);
            for i in 0.. {
                if !push(
                    &mut objects,
                    format!(
                        r#"{{"type":"indicator","id":"indicator--{i}","pattern":"[file:name='{long}']","description":"{long}"}}"#
                    ),
                ) {
                    break;
                }
            }
        }
        Shape::WideObjects => {
            let fields: String = (0..200).map(|k| format!(r#","k{k}":{k}"#)).collect();
            while push(&mut objects, format!(r#"{{"type":"x-wide"{fields}}}"#)) {}
        }
    }
    format!(
        r#"{{"type":"bundle","id":"bundle--shapes","objects":[{}]}}"#,
        objects.join(",")
    )
}
