//! Readings that repeat the last one: platform callbacks fire for every capability change
//! of every network (signal strength included) and repeat unchanged service states, and
//! each step the agent commits costs a write and an fsync. A service or connectivity
//! reading equal to the last one taken for the same slot in this session is not stepped
//! again. SIM readings, which carry identifiers, are never held here, and always step.

use std::collections::BTreeMap;

use crate::error::Result;
use crate::sim::{Connectivity, ServiceObservation, SimEvent};
use crate::{Alert, Timestamp};

use super::Agent;

/// The identifier-free readings last taken this session (not persisted: after a restart,
/// and after a reboot the core infers, the first reading of each kind steps again).
#[derive(Debug, Default)]
pub(super) struct Repeats {
    service: BTreeMap<u8, ServiceObservation>,
    connectivity: Option<Connectivity>,
}

impl Repeats {
    fn repeats(&self, event: &SimEvent) -> bool {
        match event {
            SimEvent::Service(s) => self.service.get(&s.slot) == Some(s),
            SimEvent::Connectivity(c) => self.connectivity.as_ref() == Some(c),
            _ => false,
        }
    }

    fn taken(&mut self, event: &SimEvent) {
        match event {
            SimEvent::Service(s) => {
                self.service.insert(s.slot, *s);
            }
            SimEvent::Connectivity(c) => self.connectivity = Some(*c),
            _ => {}
        }
    }
}

impl Agent {
    /// [`Agent::handle`] for a platform's live readings: a service or connectivity
    /// reading that repeats the last one taken (for its slot) this session is dropped
    /// without a step, and answers no alerts. A reading that failed to step is not
    /// remembered, so its repeat is tried again.
    pub fn handle_reading(&mut self, event: &SimEvent, now: Timestamp) -> Result<Vec<Alert>> {
        if self.repeats.repeats(event) {
            return Ok(Vec::new());
        }
        let alerts = self.handle(event, now)?;
        self.repeats.taken(event);
        Ok(alerts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{Rat, ServiceState, SimObservation, SimState};

    fn service(slot: u8, state: ServiceState) -> SimEvent {
        SimEvent::Service(ServiceObservation {
            slot,
            state,
            roaming: Some(false),
            rat: Some(Rat::Lte),
        })
    }

    #[test]
    fn a_repeat_of_the_last_reading_per_slot_is_dropped_and_sim_readings_never_are() {
        let mut r = Repeats::default();
        let in_service = service(0, ServiceState::InService);
        assert!(!r.repeats(&in_service), "nothing taken yet");
        r.taken(&in_service);
        assert!(r.repeats(&in_service));
        assert!(
            !r.repeats(&service(1, ServiceState::InService)),
            "another slot"
        );
        assert!(
            !r.repeats(&service(0, ServiceState::OutOfService)),
            "a change"
        );
        r.taken(&service(0, ServiceState::OutOfService));
        assert!(!r.repeats(&in_service), "back again is a change");

        let wifi = SimEvent::Connectivity(Connectivity {
            wifi: true,
            cellular_data: false,
            airplane_mode: false,
        });
        r.taken(&wifi);
        assert!(r.repeats(&wifi));

        let sim = SimEvent::Sim(SimObservation {
            slot: 0,
            state: Some(SimState::Absent),
            iccid: None,
            imsi: None,
            msisdn: None,
            mcc_mnc: None,
            carrier_name: None,
            embedded: None,
        });
        r.taken(&sim);
        assert!(
            !r.repeats(&sim),
            "SIM readings carry identifiers: never held"
        );
    }
}
