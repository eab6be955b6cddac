//! A global allocator that counts allocations and reallocations, for the
//! tests that check a steady state allocates nothing. A test binary installs
//! it with `#[global_allocator] static GLOBAL: Counting = Counting;` and reads
//! the count of its own thread ([`allocations`], [`allocations_in`]: the
//! harness runs tests on several threads) or of every thread
//! ([`allocations_on_every_thread`]).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

pub struct Counting;

thread_local! {
    static THIS_THREAD: Cell<usize> = const { Cell::new(0) };
}

static EVERY_THREAD: AtomicUsize = AtomicUsize::new(0);

fn count() {
    EVERY_THREAD.fetch_add(1, Ordering::Relaxed);
    let _ = THIS_THREAD.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: forwards to the system allocator; counting touches only an atomic
// and a const-initialized thread-local.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: passed on unchanged: the caller gives a `layout` of nonzero size.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: passed on unchanged: `ptr` came from this allocator, that is from `System`, with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: passed on unchanged: `ptr` came from `System` with `layout`; `new_size` is valid for it.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// The allocations of the current thread so far.
pub fn allocations() -> usize {
    THIS_THREAD.with(Cell::get)
}

/// The allocations of the current thread while `f` runs.
pub fn allocations_in(f: impl FnOnce()) -> usize {
    let before = allocations();
    f();
    allocations() - before
}

/// The allocations of every thread so far.
pub fn allocations_on_every_thread() -> usize {
    EVERY_THREAD.load(Ordering::Relaxed)
}
