//! The KeyDescription extension is written by the phone's TEE, or by whoever forged
//! it: the parser must never panic, must refuse whatever is not one well-formed record,
//! and whatever it accepts must serialise to the reference JSON form.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_attest::key_description::PatchLevel;
use portcullis_attest::parse_key_description;

fuzz_target!(|data: &[u8]| {
    match parse_key_description(data) {
        Ok(kd) => {
            let json = serde_json::to_value(&kd).unwrap();
            assert!(json["attestationChallenge"].is_string());
            for list in [&kd.software_enforced, &kd.hardware_enforced] {
                for level in [list.os_patch_level, list.vendor_patch_level, list.boot_patch_level]
                    .into_iter()
                    .flatten()
                {
                    if let Some(p) = PatchLevel::from_int(level) {
                        assert!(p.date().is_some());
                    }
                }
            }
        }
        Err(e) => assert!(!e.message.contains('\n'), "one-line refusals: {e}"),
    }
});
