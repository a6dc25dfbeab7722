//! The indicator collections the project ships (`../shared/indicators/`), read the same
//! way by the telemetry scenario test and `examples/telemetry_ratio.rs`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The folder of the shipped collections.
pub(crate) fn indicators_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/indicators")
}

/// Every shipped `.stix2` collection as `(file name, JSON)`, in file-name order.
pub(crate) fn collections() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(indicators_dir())
        .expect("the shipped indicators")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "stix2"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}
