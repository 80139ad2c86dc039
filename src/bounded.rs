//! A map that forgets its oldest entries past a capacity: what the stages
//! remember across flows (peer histories, sessions to resume) must not
//! grow with the capture.

use std::borrow::Borrow;
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

/// Entries by key; past `capacity` the entry made first is forgotten first
/// (an entry's place is where it was made: changing its value keeps it).
#[derive(Debug)]
pub struct Bounded<K, V> {
    map: HashMap<K, V>,
    /// The keys of `map`, oldest first.
    order: VecDeque<K>,
    capacity: usize,
}

impl<K: Hash + Eq + Clone, V> Bounded<K, V> {
    pub fn new(capacity: usize) -> Self {
        Bounded {
            map: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.get(key)
    }

    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.get_mut(key)
    }

    /// The value of `key`, made first when missing (the key is copied only
    /// then, and the oldest entry forgotten if the map is full).
    pub fn entry<Q>(&mut self, key: &Q, make: impl FnOnce() -> V) -> &mut V
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        if !self.map.contains_key(key) {
            self.add(key.to_owned(), make());
        }
        // Inserted just above when missing.
        self.map.get_mut(key).expect("entry present")
    }

    /// Set the value of `key` (see [`Bounded::entry`]).
    pub fn insert(&mut self, key: K, value: V) {
        match self.map.get_mut(&key) {
            Some(slot) => *slot = value,
            None => self.add(key, value),
        }
    }

    /// A new entry, newest of all; the oldest is forgotten if the map is full.
    fn add(&mut self, key: K, value: V) {
        if self.map.len() >= self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.map.remove(&old);
            }
        }
        self.order.push_back(key.clone());
        self.map.insert(key, value);
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Every entry, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.map.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entry_made_first_is_forgotten_first_whatever_its_key() {
        let mut m = Bounded::new(3);
        for k in [30, 10, 20] {
            m.insert(k, k * 2);
        }
        // Changing a value keeps its place.
        m.insert(30, 0);
        *m.entry(&10, || 99) += 1;
        m.insert(5, 10);
        assert_eq!(m.len(), 3);
        assert_eq!(m.get(&30), None, "made first, forgotten first");
        assert_eq!(
            (m.get(&10), m.get(&20), m.get(&5)),
            (Some(&21), Some(&40), Some(&10))
        );
        m.insert(40, 80);
        assert_eq!(m.get(&10), None);
        assert_eq!(m.order.len(), m.len(), "one place per entry");
    }
}
