//! The per-device secret the windows are drawn from.
//!
//! Every random choice of the scheduler is an HMAC-SHA-256 of the draw's purpose and
//! counters under a key derived from the platform's device key. The schedule is
//! therefore reproducible on the device (restarts, replays) and unpredictable to
//! anyone without the key, and two phones under one policy do not share windows.

use std::fmt;

use ring::hmac;

use crate::error::Result;
use crate::identity::DeviceKey;

/// Label MACed under the device key to derive the schedule key; distinct from every other label.
const SCHEDULE_KEY_LABEL: &[u8] = b"portcullis/inspection-schedule/v1";

/// What a draw is for; part of the MACed message so no two draws share an input.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Draw {
    /// The start of a cycle's routine window, or of a make-up attempt.
    Window,
    /// The delay of a triggered window.
    Trigger,
}

impl Draw {
    fn label(self) -> &'static [u8] {
        match self {
            Draw::Window => b"window",
            Draw::Trigger => b"trigger",
        }
    }
}

/// The scheduler's secret. Never serialised: the agent derives it from the device
/// key at start-up and passes it to each call, so the stored state holds no secret.
pub struct ScheduleKey {
    key: hmac::Key,
}

impl ScheduleKey {
    /// Derives the key from the platform's device key (one key-store call per session).
    pub fn derive(device_key: &dyn DeviceKey) -> Result<Self> {
        let derived = device_key.hmac_sha256(SCHEDULE_KEY_LABEL)?;
        Ok(Self::from_bytes(&derived))
    }

    /// A key from 32 secret bytes (tests, the console's preview).
    pub fn from_bytes(secret: &[u8; 32]) -> Self {
        ScheduleKey {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
        }
    }

    /// A uniform-looking 64-bit value for `(purpose, a, b)`.
    pub(crate) fn draw(&self, purpose: Draw, a: u64, b: u64) -> u64 {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(purpose.label());
        ctx.update(&[0]);
        ctx.update(&a.to_be_bytes());
        ctx.update(&b.to_be_bytes());
        let tag = ctx.sign();
        let mut first = [0u8; 8];
        first.copy_from_slice(&tag.as_ref()[..8]);
        u64::from_be_bytes(first)
    }

    /// A value in `0..n` for `(purpose, a, b)`; `n` must be positive. The modulo bias
    /// is below `n / 2^64`, far under anything observable.
    pub(crate) fn below(&self, n: u64, purpose: Draw, a: u64, b: u64) -> u64 {
        self.draw(purpose, a, b) % n.max(1)
    }
}

impl fmt::Debug for ScheduleKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ScheduleKey(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::SoftwareDeviceKey;

    #[test]
    fn draws_depend_on_key_purpose_and_counters() {
        let a = ScheduleKey::from_bytes(&[1; 32]);
        let b = ScheduleKey::from_bytes(&[2; 32]);
        assert_eq!(a.draw(Draw::Window, 3, 0), a.draw(Draw::Window, 3, 0));
        assert_ne!(a.draw(Draw::Window, 3, 0), b.draw(Draw::Window, 3, 0));
        assert_ne!(a.draw(Draw::Window, 3, 0), a.draw(Draw::Trigger, 3, 0));
        assert_ne!(a.draw(Draw::Window, 3, 0), a.draw(Draw::Window, 0, 3));
        assert!(a.below(7, Draw::Window, 1, 1) < 7);
        let device = SoftwareDeviceKey::new(b"sixteen byte secret").unwrap();
        let derived = ScheduleKey::derive(&device).unwrap();
        assert_eq!(format!("{derived:?}"), "ScheduleKey(..)");
    }
}
