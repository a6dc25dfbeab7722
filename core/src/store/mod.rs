//! The one place the core touches the disk: a single SQLite file.
//!
//! Everything the agent decides is appended to a hash-chained journal, and every
//! alert is written to the outbox in the same transaction as its journal record,
//! so an alert is never lost between "decided" and "queued for delivery". The file
//! runs in WAL mode with `synchronous=FULL`: a commit that returned survives power loss.

mod journal_tables;
mod network;
mod outbox;
mod schema;
mod state;
mod verify;

use rusqlite::{Connection, TransactionBehavior};

use crate::alert::{Alert, Finding};
use crate::error::{Error, Result, StorageContext};
use crate::journal::EpochKey;
use crate::time::Timestamp;
use journal_tables::Appender;

pub use network::{
    NetworkLogRecord, NetworkValue, NetworkWindowWrite, NETWORK_PARTS, NETWORK_SEEN_RESOLUTION_MS,
};
pub use verify::Parallelism;

/// Writes that bypass the agent, for this crate's own benchmarks, examples and
/// integration tests (feature `internals`, which neither the FFI crate nor the CLI
/// enables): a store written other than by the agent can hold what no agent decided, so
/// these are not the library's API.
#[cfg(feature = "internals")]
#[doc(hidden)]
pub mod internals {
    use super::{Alert, Commit, Enrollment, EpochKey, NetworkWindowWrite, Result, Store};

    /// The store's own writes, as the agent makes them.
    pub trait StoreWrites {
        /// Writes one step atomically and returns the alerts it queued.
        fn commit(&mut self, commit: Commit) -> Result<Vec<Alert>>;
        /// Writes one step and its network-window rows atomically.
        fn commit_with_network(
            &mut self,
            commit: Commit,
            network: NetworkWindowWrite,
        ) -> Result<Vec<Alert>>;
        /// Initialises the journal as enrollment does.
        fn enroll(&mut self, setup: Enrollment) -> Result<()>;
        /// Sets the MAC key new records are authenticated with.
        fn set_journal_key(&mut self, key: EpochKey);
    }

    impl StoreWrites for Store {
        fn commit(&mut self, commit: Commit) -> Result<Vec<Alert>> {
            Store::commit(self, commit)
        }

        fn commit_with_network(
            &mut self,
            commit: Commit,
            network: NetworkWindowWrite,
        ) -> Result<Vec<Alert>> {
            Store::commit_with_network(self, commit, network)
        }

        fn enroll(&mut self, setup: Enrollment) -> Result<()> {
            Store::enroll(self, setup)
        }

        fn set_journal_key(&mut self, key: EpochKey) {
            Store::set_journal_key(self, key);
        }
    }
}

/// One journal record to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    /// Record kind, e.g. `alert`, `policy_applied`, `enrolled`.
    pub kind: String,
    /// JSON body; never holds raw identifiers.
    pub body: String,
}

/// Everything one agent step persists, written in a single transaction.
#[derive(Debug, Default)]
pub struct Commit {
    /// When the step happened.
    pub at: Option<Timestamp>,
    /// Component states to replace (`component`, JSON body).
    pub states: Vec<(&'static str, String)>,
    /// Journal records to append (before the alerts' own records).
    pub journal: Vec<JournalEntry>,
    /// Findings to journal and queue for delivery.
    pub findings: Vec<Finding>,
}

impl Commit {
    fn is_empty(&self) -> bool {
        self.states.is_empty() && self.journal.is_empty() && self.findings.is_empty()
    }
}

/// The SQLite store.
pub struct Store {
    conn: Connection,
    /// The current MAC key; set by the agent after unwrapping it with the device key.
    key: Option<EpochKey>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// Makes every later write fail, as a full or locked disk would (failure-path tests).
    #[cfg(test)]
    pub(crate) fn refuse_writes_for_test(&self) {
        self.conn
            .execute_batch("PRAGMA query_only = ON")
            .expect("query_only is a plain pragma");
    }

    /// Lets writes through again after [`Store::refuse_writes_for_test`].
    #[cfg(test)]
    pub(crate) fn allow_writes_for_test(&self) {
        self.conn
            .execute_batch("PRAGMA query_only = OFF")
            .expect("query_only is a plain pragma");
    }

    /// Writes one agent step atomically and returns the alerts it queued.
    pub(crate) fn commit(&mut self, commit: Commit) -> Result<Vec<Alert>> {
        self.commit_with_network(commit, NetworkWindowWrite::default())
    }

    /// Writes one agent step and its network-window rows atomically (telemetry ingest).
    pub(crate) fn commit_with_network(
        &mut self,
        commit: Commit,
        network: NetworkWindowWrite,
    ) -> Result<Vec<Alert>> {
        if commit.is_empty()
            && network.logged.is_empty()
            && network.record.is_empty()
            && network.parts.is_empty()
            && network.prune_before.is_none()
        {
            return Ok(Vec::new());
        }
        if commit.journal.iter().any(|e| e.kind == ALERT_KIND) {
            // Verification binds every alert record to its outbox row.
            return Err(Error::invalid(
                "journal.kind",
                "`alert` records are written only as findings, with their outbox row",
            ));
        }
        let at = commit.at.unwrap_or(Timestamp::EPOCH).as_unix_millis();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .context("starting a commit")?;
        state::save_states(&tx, &commit.states)?;
        network::write(&tx, &network, at)?;
        let mut journal = Appender::start(&tx, self.key.as_ref(), at)?;
        for entry in &commit.journal {
            journal.append(&entry.kind, &entry.body)?;
        }
        let queued = outbox::queue(&tx, &mut journal, commit.findings)?;
        drop(journal);
        tx.commit().context("committing")?;
        Ok(queued)
    }
}

/// What enrollment writes.
pub struct Enrollment {
    /// Enrollment time.
    pub at: Timestamp,
    /// The epoch-0 MAC key.
    pub key: EpochKey,
    /// The same key wrapped with the device key, for storage.
    pub wrapped_key: [u8; 32],
    /// The epoch-0 key wrapped for its one-time export to the console.
    pub wrapped_export: [u8; 32],
    /// The checkpoint-signing public key.
    pub public_key: [u8; 32],
    /// A check value recognising the device key.
    pub key_check: String,
}

/// Metadata keys.
pub(crate) const META_ENROLLED_AT: &str = "enrolled_at";
pub(crate) const META_KEY_CHECK: &str = "device_key_check";
pub(crate) const META_PUBLIC_KEY: &str = "checkpoint_public_key";
pub(crate) const META_KEY_EXPORT: &str = "journal_key0_export";
pub(super) const META_ANCHOR: &str = "journal_anchor";
/// The kind of a journal record that queued an alert; each has exactly one outbox row.
pub(super) const ALERT_KIND: &str = "alert";
pub(super) const ACK_KIND: &str = "alerts_acknowledged";
/// The record a prune appends, naming the anchor it left.
pub(super) const PRUNED_KIND: &str = "journal_pruned";

#[cfg(test)]
mod tests;
