//! Storage of the open flows: a slab of slots addressed by index, and
//! chains (doubly linked lists of slot indices) that keep slots in an order
//! with O(1) moves and removals.
//!
//! Why not a map of flows and queues of keys: the table used to keep flows
//! inline in its hash map and its orders as queues of (key, stamp) with
//! stale entries skipped and compacted away. On a tap, flows interleave
//! packet by packet, so nearly every packet pushed a queue entry, and the
//! compaction (a hash lookup per entry) was a tenth of a worker's
//! instructions; the map's buckets, a flow wide each, were a cache miss per
//! lookup. Here the map holds slot numbers (small, so it stays in cache),
//! and moving a flow to the back of an order rewrites a few links in an
//! array of 8 bytes a slot.

/// The end of a chain.
const END: u32 = u32::MAX;
/// The links of a slot that is in no chain.
const UNCHAINED: Link = Link {
    prev: END - 1,
    next: END - 1,
};

/// Values in numbered slots; freed numbers are reused, most recent first
/// (its memory is the likeliest to be in cache).
pub(super) struct Slab<T> {
    slots: Vec<Option<T>>,
    free: Vec<u32>,
}

impl<T> Slab<T> {
    pub fn new() -> Self {
        Slab {
            slots: Vec::new(),
            free: Vec::new(),
        }
    }

    pub fn insert(&mut self, value: T) -> u32 {
        match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(value);
                slot
            }
            None => {
                self.slots.push(Some(value));
                // The table's bound on open flows keeps this far below u32::MAX.
                (self.slots.len() - 1) as u32
            }
        }
    }

    pub fn remove(&mut self, slot: u32) -> Option<T> {
        let value = self.slots.get_mut(slot as usize)?.take();
        if value.is_some() {
            self.free.push(slot);
        }
        value
    }

    pub fn get(&self, slot: u32) -> Option<&T> {
        self.slots.get(slot as usize)?.as_ref()
    }

    pub fn get_mut(&mut self, slot: u32) -> Option<&mut T> {
        self.slots.get_mut(slot as usize)?.as_mut()
    }

    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.slots.iter().flatten()
    }

    /// Take every value out; the slab is empty afterwards.
    pub fn drain(&mut self) -> Vec<T> {
        self.free.clear();
        self.slots.drain(..).flatten().collect()
    }

    /// Slots ever used at once (memory held).
    #[cfg(test)]
    pub fn capacity_used(&self) -> usize {
        self.slots.len()
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct Link {
    prev: u32,
    next: u32,
}

/// A doubly linked list of slot numbers, its links in an array of its own
/// indexed by slot. A slot is in a chain at most once: callers keep that,
/// debug builds check it.
pub(super) struct Chain {
    head: u32,
    tail: u32,
    links: Vec<Link>,
}

impl Chain {
    pub fn new() -> Self {
        Chain {
            head: END,
            tail: END,
            links: Vec::new(),
        }
    }

    /// The slot at the front (the oldest added or moved).
    pub fn front(&self) -> Option<u32> {
        (self.head != END).then_some(self.head)
    }

    pub fn push_back(&mut self, slot: u32) {
        let i = slot as usize;
        if i >= self.links.len() {
            self.links.resize(i + 1, UNCHAINED);
        }
        debug_assert!(self.links[i] == UNCHAINED, "slot {slot} is already chained");
        self.links[i] = Link {
            prev: self.tail,
            next: END,
        };
        match self.tail {
            END => self.head = slot,
            tail => self.links[tail as usize].next = slot,
        }
        self.tail = slot;
    }

    pub fn remove(&mut self, slot: u32) {
        let Link { prev, next } = std::mem::replace(&mut self.links[slot as usize], UNCHAINED);
        debug_assert!(prev != END - 1, "slot {slot} is not chained");
        match prev {
            END => self.head = next,
            p => self.links[p as usize].next = next,
        }
        match next {
            END => self.tail = prev,
            n => self.links[n as usize].prev = prev,
        }
    }

    pub fn move_to_back(&mut self, slot: u32) {
        if self.tail != slot {
            self.remove(slot);
            self.push_back(slot);
        }
    }

    pub fn clear(&mut self) {
        self.head = END;
        self.tail = END;
        self.links.clear();
    }

    /// Slots front to back.
    #[cfg(test)]
    pub fn order(&self) -> Vec<u32> {
        let mut out = Vec::new();
        let mut at = self.head;
        while at != END {
            out.push(at);
            at = self.links[at as usize].next;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Push,
        Remove(usize),
        MoveToBack(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            Just(Op::Push),
            any::<usize>().prop_map(Op::Remove),
            any::<usize>().prop_map(Op::MoveToBack),
        ]
    }

    proptest! {
        /// A chain over slab slots keeps the order a plain vector would.
        #[test]
        fn chain_and_slab_agree_with_a_vector(ops in proptest::collection::vec(op(), 0..300)) {
            let mut slab = Slab::new();
            let mut chain = Chain::new();
            let mut model: Vec<(u32, usize)> = Vec::new();
            for (n, op) in ops.into_iter().enumerate() {
                match op {
                    Op::Push => {
                        let slot = slab.insert(n);
                        chain.push_back(slot);
                        model.push((slot, n));
                    }
                    Op::Remove(i) if !model.is_empty() => {
                        let (slot, value) = model.remove(i % model.len());
                        chain.remove(slot);
                        prop_assert_eq!(slab.remove(slot), Some(value));
                        prop_assert_eq!(slab.remove(slot), None);
                    }
                    Op::MoveToBack(i) if !model.is_empty() => {
                        let entry = model.remove(i % model.len());
                        chain.move_to_back(entry.0);
                        model.push(entry);
                    }
                    _ => {}
                }
                let slots: Vec<u32> = model.iter().map(|e| e.0).collect();
                prop_assert_eq!(chain.order(), slots);
                prop_assert_eq!(chain.front(), model.first().map(|e| e.0));
                for &(slot, value) in &model {
                    prop_assert_eq!(slab.get(slot), Some(&value));
                }
                // Freed slots are reused: never more slots than ever held at once.
                prop_assert!(slab.capacity_used() <= n + 1);
            }
            let mut left = slab.drain();
            left.sort_unstable();
            let mut want: Vec<usize> = model.iter().map(|e| e.1).collect();
            want.sort_unstable();
            prop_assert_eq!(left, want);
        }
    }
}
