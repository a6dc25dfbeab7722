//! Readings as the platforms deliver them, made into the core's inputs: repeats a
//! platform list may carry are dropped (the first one stays), and platform sentinels are
//! read as "not observed". The native layers hand their lists over as they read them.

use std::collections::{BTreeMap, HashSet};
use std::hash::Hash;

use crate::sim::Connectivity;

/// `items` with only the first item of each `key`, in order: package managers and
/// accessibility lists can report one package twice (split APKs, several services of
/// one package), certificate lists one certificate twice.
pub fn first_of_each<T, K: Eq + Hash>(items: Vec<T>, key: impl Fn(&T) -> K) -> Vec<T> {
    let mut seen = HashSet::new();
    items
        .into_iter()
        .filter(|item| seen.insert(key(item)))
        .collect()
}

/// A version code as the platform reports it (Android's `getLongVersionCode()`): a
/// negative `versionCodeMajor` makes it negative, which is no version code, so it is not
/// observed.
pub fn version_code(raw: i64) -> Option<u64> {
    u64::try_from(raw).ok()
}

/// The device's connectivity from per-network callbacks (Android's
/// `ConnectivityManager.NetworkCallback`: capabilities changed, network lost, keyed by
/// the network's handle) and the airplane-mode setting. Until the first network callback,
/// "no network known" is ignorance, not "no Wi-Fi and no mobile data": reporting it would
/// look like a lost line to the guard, so nothing is reported before it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectivityTracker {
    /// Per network handle: (Wi-Fi, cellular).
    networks: BTreeMap<i64, (bool, bool)>,
    airplane_mode: bool,
    heard_from_networks: bool,
    last_reported: Option<Connectivity>,
}

impl ConnectivityTracker {
    /// A network's transports changed (or it came up).
    pub fn network_changed(
        &mut self,
        handle: i64,
        wifi: bool,
        cellular: bool,
    ) -> Option<Connectivity> {
        self.heard_from_networks = true;
        self.networks.insert(handle, (wifi, cellular));
        self.report_if_changed()
    }

    /// A network went away.
    pub fn network_lost(&mut self, handle: i64) -> Option<Connectivity> {
        self.heard_from_networks = true;
        self.networks.remove(&handle);
        self.report_if_changed()
    }

    /// Airplane mode as read from the settings (at start and on each change).
    pub fn airplane_mode_changed(&mut self, on: bool) -> Option<Connectivity> {
        self.airplane_mode = on;
        self.report_if_changed()
    }

    /// The state to report now, changed or not; `None` before the first network callback.
    pub fn reading(&self) -> Option<Connectivity> {
        self.heard_from_networks.then(|| self.current())
    }

    /// The state now, whether or not it changed (before any network callback: no network known).
    pub fn current(&self) -> Connectivity {
        Connectivity {
            wifi: self.networks.values().any(|(wifi, _)| *wifi),
            cellular_data: self.networks.values().any(|(_, cellular)| *cellular),
            airplane_mode: self.airplane_mode,
        }
    }

    fn report_if_changed(&mut self) -> Option<Connectivity> {
        let now = self.reading()?;
        if self.last_reported == Some(now) {
            return None;
        }
        self.last_reported = Some(now);
        Some(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connectivity_is_reported_once_known_and_only_when_it_changes() {
        let mut t = ConnectivityTracker::default();
        assert_eq!(
            t.airplane_mode_changed(false),
            None,
            "no network callback yet"
        );
        assert_eq!(t.reading(), None);
        let wifi = Connectivity {
            wifi: true,
            cellular_data: false,
            airplane_mode: false,
        };
        assert_eq!(t.network_changed(7, true, false), Some(wifi));
        assert_eq!(t.network_changed(7, true, false), None, "a repeat");
        let both = Connectivity {
            cellular_data: true,
            ..wifi
        };
        assert_eq!(t.network_changed(9, false, true), Some(both));
        assert_eq!(t.network_lost(7).map(|c| c.wifi), Some(false));
        assert_eq!(
            t.network_lost(42),
            None,
            "an unknown network changes nothing"
        );
        assert_eq!(
            t.airplane_mode_changed(true).map(|c| c.airplane_mode),
            Some(true)
        );
        assert_eq!(t.reading(), Some(t.current()), "the state, changed or not");
        t.network_lost(9);
        assert_eq!(
            t.current(),
            Connectivity {
                wifi: false,
                cellular_data: false,
                airplane_mode: true
            }
        );
    }

    #[test]
    fn the_first_of_each_key_stays_in_order() {
        let items = vec![("b", 1), ("a", 2), ("b", 3), ("c", 4), ("a", 5)];
        assert_eq!(
            first_of_each(items, |(k, _)| *k),
            vec![("b", 1), ("a", 2), ("c", 4)]
        );
        assert_eq!(first_of_each(Vec::<u8>::new(), |x| *x), Vec::<u8>::new());
    }

    #[test]
    fn a_negative_version_code_is_not_observed() {
        assert_eq!(version_code(-1), None);
        assert_eq!(version_code(i64::MIN), None);
        assert_eq!(version_code(0), Some(0));
        assert_eq!(version_code(7_030_000), Some(7_030_000));
    }
}
