//! Link options for the shipped shared library (docs/decisions/0013-linker-size-options.md).
//!
//! Only the optimised cdylib of ELF targets gets them: debug builds keep one symbol per
//! function for readable backtraces, and the iOS static library is linked by Xcode.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let optimised = std::env::var("OPT_LEVEL").is_ok_and(|level| level != "0");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if !optimised || !matches!(os.as_str(), "linux" | "android") {
        return;
    }
    // Identical code folding: generic instantiations that compile to the same bytes
    // (serde visitors, uniffi scaffolding per record) are kept once.
    println!("cargo:rustc-cdylib-link-arg=-Wl,--icf=all");
    // Tail-merge identical string suffixes in read-only data (panic locations, names).
    println!("cargo:rustc-cdylib-link-arg=-Wl,-O2");
    // Packed relative relocations (DT_RELR) shrink the table the loader applies to
    // every pointer in the library's data. glibc reads them from 2.36; Android's loader
    // only from a later API level than the agent's minSdk 29, so not for Android.
    if os == "linux" {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-z,pack-relative-relocs");
    }
    // uniffi's `UNIFFI_META_*` statics describe the interface to `uniffi-bindgen`, which
    // reads them from the unoptimised library; the shipped one never looks at them, so
    // the linker drops them (their checksum functions, which the bindings call, stay).
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let script = out.join("drop-uniffi-metadata.ld");
    std::fs::write(
        &script,
        "SECTIONS {\n  /DISCARD/ : { *(.rodata.UNIFFI_META_*) }\n} INSERT AFTER .rodata;\n",
    )
    .expect("OUT_DIR is writable");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-T,{}", script.display());
}
