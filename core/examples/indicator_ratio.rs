//! Loading an indicator collection, side by side with reading the same text into a
//! `serde_json::Value`, for every bundle shape of `benches/support/stix_shapes.rs`.
//!
//!     cargo run --profile bench -p portcullis-core --example indicator_ratio [KIB] [ROUNDS] [SHAPE]
//!
//! For each shape at KIB kibibytes (default 8192, the signed size limit), prints the median
//! time of `IndicatorSet::load_stix2` and of `serde_json::from_str::<Value>`, alternated
//! round by round so drift on a shared machine hits both alike, their ratio (issue 14
//! asks for at most 3), and the peak memory of each as a multiple of the bundle's size
//! (issue 14 asks for at most 20 for the load).

use std::time::Instant;

use portcullis_core::inspection::IndicatorSet;

#[path = "../benches/support/stix_shapes.rs"]
mod shapes;

#[path = "../benches/support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::{peak_of, Counting};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let kib: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("KIB is a number"))
        .unwrap_or(8192);
    let rounds: usize = std::env::args()
        .nth(2)
        .map(|a| a.parse().expect("ROUNDS is a number"))
        .unwrap_or(7);
    println!(
        "{:<28} {:>9} {:>11} {:>11} {:>6} {:>9} {:>9}",
        "shape", "MiB", "load ms", "Value ms", "ratio", "load mem", "Value mem"
    );
    let only = std::env::args().nth(3).unwrap_or_default();
    for shape in shapes::Shape::ALL {
        if !shape.name().contains(only.as_str()) {
            continue;
        }
        let json = shapes::bundle(shape, kib * 1024);
        let (mut load, mut value) = (Vec::new(), Vec::new());
        let (mut load_peak, mut value_peak) = (0, 0);
        for _ in 0..rounds {
            let t = Instant::now();
            let (peak, set) = peak_of(|| {
                let mut set = IndicatorSet::new();
                set.load_stix2("shapes", &json).expect("the bundle loads");
                set
            });
            load.push(t.elapsed().as_secs_f64() * 1e3);
            drop(set);
            load_peak = load_peak.max(peak);
            let t = Instant::now();
            let (peak, v) =
                peak_of(|| serde_json::from_str::<serde_json::Value>(&json).expect("valid JSON"));
            value.push(t.elapsed().as_secs_f64() * 1e3);
            drop(v);
            value_peak = value_peak.max(peak);
        }
        let (load, value) = (median(load), median(value));
        let size = json.len() as f64;
        println!(
            "{:<28} {:>9.2} {:>11.1} {:>11.1} {:>6.2} {:>8.1}x {:>8.1}x",
            shape.name(),
            size / 1048576.0,
            load,
            value,
            load / value,
            load_peak as f64 / size,
            value_peak as f64 / size
        );
    }
}
