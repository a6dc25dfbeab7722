//! Metadata and the components' persisted states.

use rusqlite::{params, Connection, OptionalExtension};

use super::Store;
use crate::error::{Result, StorageContext};

impl Store {
    /// Reads a metadata value.
    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .context("reading metadata")
    }

    /// The last persisted state of a component, as JSON.
    pub fn load_state(&self, component: &str) -> Result<Option<String>> {
        self.conn
            .query_row(
                "SELECT body FROM component_state WHERE component = ?1",
                [component],
                |r| r.get(0),
            )
            .optional()
            .context("loading component state")
    }
}

/// Replaces component states (`component`, JSON body) inside a step's transaction.
pub(super) fn save_states(tx: &Connection, states: &[(&'static str, String)]) -> Result<()> {
    for (component, body) in states {
        tx.execute(
            "INSERT INTO component_state(component, body) VALUES (?1, ?2)
             ON CONFLICT(component) DO UPDATE SET body = excluded.body",
            params![component, body],
        )
        .context("saving component state")?;
    }
    Ok(())
}
