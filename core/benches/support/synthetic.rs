//! A deterministic, streaming generator of realistic SIM-guard traffic for benchmarks:
//! mostly service-state and connectivity changes, periodic ticks, SIM re-reads with full
//! identities, occasional swaps, 2G episodes, outages and reboots, across two slots.
//! Events are produced one at a time so a million-event replay needs no trace in memory.

use portcullis_core::sim::{
    Connectivity, Rat, ServiceObservation, ServiceState, SimEvent, SimObservation, SimState,
};
use portcullis_core::Timestamp;

const ICCIDS: [&str; 4] = [
    "8944110012345678901",
    "8944200098765432109",
    "8933150000000000017",
    "8933150000000000025",
];
const IMSIS: [&str; 4] = [
    "234150123456789",
    "234209876543210",
    "208150000000001",
    "208150000000002",
];
const NUMBERS: [&str; 4] = [
    "+447700900123",
    "+447700900999",
    "+33612345678",
    "+33612345679",
];

/// Streams `(time, event)` pairs.
pub(crate) struct Traffic {
    state: u64,
    now: i64,
    remaining: u64,
}

impl Traffic {
    pub(crate) fn new(events: u64, seed: u64) -> Self {
        Traffic {
            state: seed | 1,
            now: 1_772_000_000_000,
            remaining: events,
        }
    }

    fn next_u64(&mut self) -> u64 {
        // xorshift64*: deterministic and fast; no randomness crate needed for load.
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn sim(&mut self, slot: u8, r: u64) -> SimObservation {
        // Mostly the usual SIM; one read in 64 shows another card.
        let who = if r.is_multiple_of(64) {
            (r >> 8) as usize % 4
        } else {
            slot as usize * 2
        };
        SimObservation {
            slot,
            state: Some(if r.is_multiple_of(97) {
                SimState::Absent
            } else {
                SimState::Ready
            }),
            iccid: Some(ICCIDS[who].to_owned()),
            imsi: Some(IMSIS[who].to_owned()),
            msisdn: Some(NUMBERS[who].to_owned()),
            mcc_mnc: Some(if who < 2 { "23415" } else { "20815" }.to_owned()),
            carrier_name: None,
            embedded: Some(slot == 1),
        }
    }
}

impl Iterator for Traffic {
    type Item = (Timestamp, SimEvent);

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let r = self.next_u64();
        self.now += 1_000 + (r % 60_000) as i64;
        let slot = (r >> 20) as u8 & 1;
        let event = match r % 100 {
            0..=44 => {
                let state = match (r >> 24) % 20 {
                    0 => ServiceState::EmergencyOnly,
                    1 => ServiceState::OutOfService,
                    2 => ServiceState::PowerOff,
                    _ => ServiceState::InService,
                };
                let rat = match (r >> 32) % 50 {
                    0 => Rat::Gsm,
                    1 => Rat::Edge,
                    2..=10 => Rat::Umts,
                    11..=30 => Rat::Lte,
                    _ => Rat::Nr,
                };
                SimEvent::Service(ServiceObservation {
                    slot,
                    state,
                    roaming: Some((r >> 40).is_multiple_of(10)),
                    rat: Some(rat),
                })
            }
            45..=64 => SimEvent::Connectivity(Connectivity {
                wifi: !(r >> 24).is_multiple_of(3),
                cellular_data: (r >> 26).is_multiple_of(2),
                airplane_mode: (r >> 28).is_multiple_of(50),
            }),
            65..=84 => SimEvent::Tick,
            85..=97 => SimEvent::Sim(self.sim(slot, r >> 8)),
            // Carrier checks arrive as signed instructions, outside this observation stream.
            98 => SimEvent::Tick,
            _ => SimEvent::Reboot,
        };
        Some((Timestamp::from_unix_millis(self.now), event))
    }
}
