//! Scenario traces come from files a console user hands the simulator; the parser must
//! never panic, and whatever it accepts must replay through the agent without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_core::{trace, Agent, SoftwareDeviceKey};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(events) = trace::parse(text) else {
        return;
    };
    let Some(first) = events.first() else {
        return;
    };
    let key = std::sync::Arc::new(SoftwareDeviceKey::new(b"fuzzing-device-secret").unwrap());
    let mut agent = Agent::open_in_memory(key, first.at, [0; 32]).unwrap();
    // Identifier validation happens at replay; errors are fine, panics are not.
    let _ = trace::replay(&mut agent, &events, &mut trace::refuse_shorthands);
});
