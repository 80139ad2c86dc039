//! A passive counting allocator: forwards every call to the system
//! allocator and keeps, per thread, the bytes currently allocated, their
//! peak since the last [`reset_peak`], and the number of allocations.
//!
//! Per-thread because the test binary runs many tests in parallel: the
//! pipeline under test runs single-threaded on the calling thread, so that
//! thread's counters measure it alone and other tests do not disturb them
//! (nor does this allocator disturb them: it only counts).
//!
//! Counters are `const`-initialised thread locals without destructors, so
//! touching them never allocates (no recursion into the allocator).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

pub struct Counting;

thread_local! {
    static CURRENT: Cell<i64> = const { Cell::new(0) };
    static PEAK: Cell<i64> = const { Cell::new(0) };
    static COUNT: Cell<u64> = const { Cell::new(0) };
}

fn add(delta: i64, count: bool) {
    let _ = CURRENT.try_with(|c| {
        let now = c.get() + delta;
        c.set(now);
        let _ = PEAK.try_with(|p| {
            if now > p.get() {
                p.set(now);
            }
        });
    });
    if count {
        let _ = COUNT.try_with(|n| n.set(n.get() + 1));
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged; the bookkeeping touches only const thread-locals (no allocation).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            add(layout.size() as i64, true);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            add(layout.size() as i64, true);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        add(-(layout.size() as i64), false);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            add(new_size as i64 - layout.size() as i64, true);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Bytes allocated by this thread and not yet freed (may be negative if it
/// frees memory another thread allocated).
pub fn current() -> i64 {
    CURRENT.with(|c| c.get())
}

/// Start a new peak measurement on this thread; returns the baseline.
pub fn reset_peak() -> i64 {
    let now = current();
    PEAK.with(|p| p.set(now));
    now
}

/// Highest `current()` since the last `reset_peak` on this thread.
pub fn peak() -> i64 {
    PEAK.with(|p| p.get())
}

/// Allocations (including reallocations) made by this thread so far.
pub fn allocations() -> u64 {
    COUNT.with(|n| n.get())
}
