//! Generates Kotlin, Swift and Python bindings from the built `portcullis_ffi` library
//! (library mode), with the same uniffi version the library was built with.

#![forbid(unsafe_code)]

fn main() {
    uniffi::uniffi_bindgen_main();
}
