//! One component state as the agent holds it: the value in memory and the form last
//! committed to `component_state`, so a step writes only what changed and a failed commit
//! puts memory back to what is on disk.
//!
//! A rollback that cannot read its own committed form reports [`Error::Corrupt`] and
//! leaves the value and the database as they are: starting again from defaults would
//! silently drop state such as the SIM baselines.

use std::ops::{Deref, DerefMut};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, Result};

/// A component state the agent persists as JSON.
pub(super) trait State: Serialize + DeserializeOwned {
    /// What the state is, in words for error messages (never a value).
    const WHAT: &'static str;

    /// Reads the committed form strictly (a key named twice is refused).
    fn decode(json: &str) -> Result<Self> {
        crate::json::from_str(json).map_err(|e| {
            Error::Corrupt(format!(
                "the stored {} is unreadable (line {}, column {})",
                Self::WHAT,
                e.line(),
                e.column()
            ))
        })
    }
}

/// A value and its last committed form (`None`: never committed, the value is fresh).
pub(super) struct Persisted<T> {
    value: T,
    committed: Option<String>,
}

impl<T: State> Persisted<T> {
    /// The state as stored, or `fresh()` when nothing was stored yet.
    pub(super) fn restore(stored: Option<String>, fresh: impl FnOnce() -> T) -> Result<Self> {
        let value = match &stored {
            Some(json) => T::decode(json)?,
            None => fresh(),
        };
        Ok(Persisted {
            value,
            committed: stored,
        })
    }

    /// The value's form to write, when it differs from the committed one.
    pub(super) fn changed(&self) -> Result<Option<String>> {
        let json = serde_json::to_string(&self.value)
            .map_err(|e| Error::Corrupt(format!("cannot encode the {}: {e}", T::WHAT)))?;
        Ok((self.committed.as_deref() != Some(json.as_str())).then_some(json))
    }

    /// Records `json` (from [`Persisted::changed`]) as committed.
    pub(super) fn committed(&mut self, json: String) {
        self.committed = Some(json);
    }

    /// Puts the value back to the committed form (or `fresh()` if nothing was committed).
    /// If the committed form does not read, the value stays as it is and the error is
    /// [`Error::Corrupt`].
    pub(super) fn rollback(&mut self, fresh: impl FnOnce() -> T) -> Result<()> {
        self.value = match &self.committed {
            Some(json) => T::decode(json)?,
            None => fresh(),
        };
        Ok(())
    }

    #[cfg(test)]
    pub(super) fn set_committed_for_test(&mut self, json: &str) {
        self.committed = Some(json.to_owned());
    }
}

impl<T> Deref for Persisted<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> DerefMut for Persisted<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, PartialEq, Serialize, serde::Deserialize)]
    struct Counter {
        n: u32,
    }

    impl State for Counter {
        const WHAT: &'static str = "counter";
    }

    #[test]
    fn writes_only_changes_and_rolls_back_to_the_committed_form() {
        let mut p = Persisted::<Counter>::restore(None, Counter::default).unwrap();
        let first = p.changed().unwrap().expect("never committed");
        p.committed(first);
        assert_eq!(p.changed().unwrap(), None);
        p.n = 7;
        assert!(p.changed().unwrap().is_some());
        p.rollback(Counter::default).unwrap();
        assert_eq!(p.n, 0);
        let restored = Persisted::<Counter>::restore(Some(r#"{"n":3}"#.into()), || {
            panic!("stored state must be read, not replaced")
        })
        .unwrap();
        assert_eq!(restored.n, 3);
        assert_eq!(restored.changed().unwrap(), None);
    }

    #[test]
    fn an_unreadable_committed_form_is_corrupt_and_keeps_the_value() {
        let mut p = Persisted::<Counter>::restore(None, Counter::default).unwrap();
        p.n = 5;
        p.set_committed_for_test("{\"n\":");
        let err = p.rollback(Counter::default).unwrap_err();
        assert!(matches!(err, Error::Corrupt(_)), "{err}");
        assert!(err.to_string().contains("counter"), "{err}");
        assert_eq!(p.n, 5, "no fresh default replaced the value");
        let err = Persisted::<Counter>::restore(Some("{\"n\":1,\"n\":2}".into()), Counter::default)
            .err()
            .expect("a key named twice is refused");
        assert!(matches!(err, Error::Corrupt(_)), "{err}");
    }
}

#[cfg(test)]
mod agent_tests {
    use std::sync::Arc;

    use rusqlite::Connection;

    use crate::error::Error;
    use crate::identity::SoftwareDeviceKey;
    use crate::sim::{SimEvent, SimObservation, SimState};
    use crate::time::Timestamp;
    use crate::Agent;

    fn open(db: &std::path::Path, at: Timestamp) -> crate::error::Result<Agent> {
        let key = Arc::new(SoftwareDeviceKey::new(b"persisted-state-test-secret").unwrap());
        Agent::open(db, key, at, [4; 32])
    }

    fn sim(iccid: &str) -> SimEvent {
        SimEvent::Sim(SimObservation {
            slot: 0,
            state: Some(SimState::Ready),
            iccid: Some(iccid.into()),
            ..SimObservation::default()
        })
    }

    /// Every `component_state` row and the journal length: what must not change.
    fn stored(db: &std::path::Path) -> (Vec<(String, String)>, i64) {
        let conn = Connection::open(db).unwrap();
        let mut rows = conn
            .prepare("SELECT component, body FROM component_state ORDER BY component")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<Vec<_>>>()
            .unwrap();
        crate::sort::sort(&mut rows);
        let journal = conn
            .query_row("SELECT count(*) FROM journal", [], |r| r.get(0))
            .unwrap();
        (rows, journal)
    }

    const T0: Timestamp = Timestamp::from_unix_millis(1_772_323_200_000);

    /// An agent on a fresh database (kept while the directory lives) that has seen one SIM.
    fn with_a_sim() -> (tempfile::TempDir, std::path::PathBuf, Agent) {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("agent.db");
        let mut agent = open(&db, T0).unwrap();
        agent.handle(&sim("8944110012345678901"), T0).unwrap();
        (dir, db, agent)
    }

    /// Rewrites stored rows with `sql`, then opens the agent again: the open must fail
    /// as corrupt and leave the database as it was. `label` names the case.
    fn reopen_after(db: &std::path::Path, label: &str, sql: &str, params: [&str; 1]) -> Error {
        Connection::open(db).unwrap().execute(sql, params).unwrap();
        let before = stored(db);
        let err = open(db, T0.plus_millis(60_000)).unwrap_err();
        assert!(matches!(err, Error::Corrupt(_)), "{label}: {err}");
        assert_eq!(
            stored(db),
            before,
            "{label}: the row is kept, nothing rewritten from defaults"
        );
        err
    }

    #[test]
    fn a_failed_commit_rolls_memory_back_to_disk() {
        let (_dir, _db, mut agent) = with_a_sim();
        let facts = serde_json::to_string(agent.sim_facts()).unwrap();
        agent.store.refuse_writes_for_test();
        let err = agent
            .handle(&sim("8944110098765432109"), T0.plus_millis(60_000))
            .unwrap_err();
        assert!(matches!(err, Error::Storage { .. }), "{err}");
        assert_eq!(
            serde_json::to_string(agent.sim_facts()).unwrap(),
            facts,
            "the replacement did not happen in memory either"
        );
    }

    #[test]
    fn an_unreadable_committed_state_is_corrupt_and_the_database_is_kept() {
        let (_dir, db, mut agent) = with_a_sim();
        let before = stored(&db);
        assert!(before.0.iter().any(|(c, _)| c == "sim_guard"));
        // The guard's committed form no longer reads: rolling back must not start over
        // from an empty guard (that would forget the SIM baseline).
        agent.guard.set_committed_for_test("{\"facts\":");
        agent.store.refuse_writes_for_test();
        let err = agent
            .handle(&sim("8944110098765432109"), T0.plus_millis(60_000))
            .unwrap_err();
        assert!(matches!(err, Error::Corrupt(_)), "{err}");
        assert!(err.to_string().contains("SIM guard state"), "{err}");
        assert!(
            agent.sim_facts().slots.values().next().is_some(),
            "the guard was not reset to defaults"
        );
        drop(agent);
        assert_eq!(stored(&db), before, "the database is as it was");
    }

    #[test]
    fn a_corrupt_component_row_fails_the_open_and_is_left_in_place() {
        let (_dir, db, agent) = with_a_sim();
        drop(agent);
        reopen_after(
            &db,
            "sim_guard",
            "UPDATE component_state SET body = '{\"facts\":' WHERE component = ?1",
            ["sim_guard"],
        );
    }

    /// Every component the agent holds as a `Persisted` refuses to open from a row that
    /// does not read, names itself, and leaves the row as it was: none of them starts
    /// again from defaults.
    #[test]
    fn every_persisted_component_refuses_an_unreadable_row() {
        for (component, what) in [
            (super::super::SIM_GUARD_STATE, "SIM guard state"),
            (
                super::super::inspection::INSPECTION_STATE,
                "inspection schedule",
            ),
            (
                super::super::compliance::COMPLIANCE_STATE,
                "compliance state",
            ),
            (
                super::super::compliance::ACTIONS_STATE,
                "pending remediation actions",
            ),
            (
                super::super::instruction::INSTRUCTION_STATE,
                "instruction ledger",
            ),
            (super::super::fusion::FUSION_STATE, "swap-fusion state"),
            (super::super::schedule::WAKEUP_STATE, "wake-up state"),
            (super::super::upload::UPLOAD_STATE, "upload state"),
            (
                super::super::upload::UPLOAD_EVIDENCE_STATE,
                "upload evidence queue",
            ),
        ] {
            let (_dir, db, agent) = with_a_sim();
            drop(agent);
            let err = reopen_after(
                &db,
                component,
                "INSERT INTO component_state (component, body) VALUES (?1, '{\"x\":')
                 ON CONFLICT(component) DO UPDATE SET body = excluded.body",
                [component],
            );
            assert!(err.to_string().contains(what), "{component}: {err}");
        }
    }
}
