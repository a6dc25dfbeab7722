//! One stable sort for the core's short lists.
//!
//! The standard library's stable sort is generic over the element and the comparison:
//! every call site with its own element type or closure compiles its own copy (about
//! 4 KB each in the shipped library). The lists the core sorts are short (alerts of a
//! step, apps of a snapshot, checkpoints), so they share one sort of positions here, and
//! only the small permutation step is compiled per element type
//! (docs/decisions/0009-ffi-size-features.md).

use std::cmp::Ordering;

/// The positions of `len` elements in sorted order, ties kept in their original order.
/// Not generic: compiled once.
fn order(len: usize, cmp: &dyn Fn(usize, usize) -> Ordering) -> Vec<usize> {
    let mut positions: Vec<usize> = (0..len).collect();
    positions.sort_by(|&a, &b| cmp(a, b));
    positions
}

/// Sorts `items` by `cmp`, stably (equal elements keep their order), like `sort_by`.
pub(crate) fn sort_by<T>(items: &mut [T], cmp: impl Fn(&T, &T) -> Ordering) {
    if items.len() < 2 {
        return;
    }
    let positions = {
        let view: &[T] = items;
        order(view.len(), &|a, b| cmp(&view[a], &view[b]))
    };
    // Slot `k` takes the element at `positions[k]`: walk each cycle of the permutation
    // once, swapping the next element into place.
    let mut placed = vec![false; positions.len()];
    for start in 0..positions.len() {
        let mut slot = start;
        while !placed[slot] {
            placed[slot] = true;
            let from = positions[slot];
            if from == start {
                break;
            }
            items.swap(slot, from);
            slot = from;
        }
    }
}

/// Sorts `items` by `key`, stably, like `sort_by_key`.
pub(crate) fn sort_by_key<T, K: Ord>(items: &mut [T], key: impl Fn(&T) -> K) {
    sort_by(items, |a, b| key(a).cmp(&key(b)));
}

/// Sorts `items` in their natural order, like `sort`.
pub(crate) fn sort<T: Ord>(items: &mut [T]) {
    sort_by(items, T::cmp);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn sorts_like_the_standard_stable_sort(items in proptest::collection::vec((0u8..8, any::<u16>()), 0..200)) {
            let mut ours = items.clone();
            let mut std = items;
            sort_by_key(&mut ours, |&(k, _)| k);
            std.sort_by_key(|&(k, _)| k);
            prop_assert_eq!(ours, std);
        }
    }

    #[test]
    fn sorts_strings_in_natural_order() {
        let mut v = vec!["c".to_owned(), "a".into(), "b".into(), "a".into()];
        sort(&mut v);
        assert_eq!(v, ["a", "a", "b", "c"]);
    }
}
