//! After the first training step at a batch size, a step (zero_grad, forward,
//! loss, backward, clipping, SGD update) allocates nothing (issue 9, DESIGN.md):
//! W1-W5 in `f32` and `f64`, on every instruction set this CPU runs (AVX-512,
//! AVX2, NEON, portable), with 1, 2 and 4 threads.
//!
//! A test binary of its own: a counting global allocator sees every allocation
//! of the process, so this file holds a single test that runs the workloads
//! one after the other (parallel tests would count each other). Every product
//! goes through `nn`'s own kernels, whose buffers are per thread and kept; the
//! helper threads of a split product are started, and their buffers sized,
//! during the first step. Allocations on the harness's main thread are not
//! counted: it reports a test that runs over 60 seconds (this one does under
//! qemu), and that report allocates.

use std::alloc::{GlobalAlloc, Layout, System};
use std::borrow::Borrow;
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering::Relaxed};

use nn::kernels::{with_isa, with_threads, Isa};
use nn::{Batch, Float};

#[path = "../benches/support/nets.rs"]
mod nets;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

thread_local! {
    /// Whether this thread is the harness's main thread, once known.
    static ON_MAIN: Cell<Option<bool>> = const { Cell::new(None) };
    /// Set while `counted` asks the thread's name (which may allocate).
    static ASKING: Cell<bool> = const { Cell::new(false) };
}

/// False on the harness's main thread (see the module docs).
fn counted() -> bool {
    if let Some(main) = ON_MAIN.get() {
        return !main;
    }
    if ASKING.replace(true) {
        return true;
    }
    let main = std::thread::current().name() == Some("main");
    ASKING.set(false);
    ON_MAIN.set(Some(main));
    !main
}

fn count(size: usize) {
    if counted() {
        ALLOCATIONS.fetch_add(1, Relaxed);
        LIVE_BYTES.fetch_add(size as isize, Relaxed);
    }
}

// SAFETY: forwards to the system allocator; the counters have no effect on it.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: passed on unchanged: the caller gives a `layout` of nonzero size.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: passed on unchanged: the caller gives a `layout` of nonzero size.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if counted() {
            ALLOCATIONS.fetch_add(1, Relaxed);
            LIVE_BYTES.fetch_add(new_size as isize - layout.size() as isize, Relaxed);
        }
        // SAFETY: passed on unchanged: `ptr` came from `System` with `layout`; `new_size` is valid for it.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if counted() {
            LIVE_BYTES.fetch_sub(layout.size() as isize, Relaxed);
        }
        // SAFETY: passed on unchanged: `ptr` came from this allocator, that is from `System`, with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counts {
    allocations: usize,
    live_bytes: isize,
}

fn counts() -> Counts {
    Counts { allocations: ALLOCATIONS.load(Relaxed), live_bytes: LIVE_BYTES.load(Relaxed) }
}

fn during(f: impl FnOnce()) -> Counts {
    let before = counts();
    f();
    let after = counts();
    Counts { allocations: after.allocations - before.allocations, live_bytes: after.live_bytes - before.live_bytes }
}

/// Runs a first step (which sizes every buffer), then a second one at the same
/// batch size, and returns what each allocated.
fn two_steps<T: Float, X: Borrow<Y>, Y: ?Sized, N: nets::Net<T, Y, 10>>(
    mut net: N,
    mut step: nets::Step<T, X, 10>,
) -> (Counts, Counts) {
    // A low threshold so that clipping really scales the gradients.
    step.clip = Some(1e-3);
    let first = during(|| {
        step.run(&mut net);
    });
    let second = during(|| {
        step.run(&mut net);
    });
    (first, second)
}

/// W1-W5 (issue 9) as `network!` networks in `T`: what their two steps allocated.
fn workloads<T: Float>() -> [(&'static str, (Counts, Counts)); 5] {
    [
        ("W1", two_steps(nets::W1::<T>::seeded(1), nets::Step::<T, Batch<T, 64>, 10>::new(11, 32))),
        ("W3", two_steps(nets::W3::<T>::seeded(3), nets::Step::<T, Batch<T, 64>, 10>::new(12, 64))),
        ("W4", two_steps(nets::W4::<T>::seeded(13), nets::Step::<T, Vec<Batch<T, 32>>, 10>::sequence(13, 50, 32))),
        ("W2", two_steps(nets::W2::<T>::seeded(2), nets::Step::<T, Batch<T, 784>, 10>::new(14, 16))),
        ("W5", two_steps(nets::W5::<T>::seeded(15), nets::Step::<T, Vec<Batch<T, 32>>, 10>::sequence(15, 20, 8))),
    ]
}

#[test]
fn second_training_step_at_the_same_batch_size_allocates_nothing() {
    let mut checked = 0;
    for &isa in Isa::ALL.iter().filter(|isa| isa.available()) {
        for threads in [1, 2, 4] {
            let runs = with_isa(isa, || with_threads(threads, || (workloads::<f32>(), workloads::<f64>())));
            for (dtype, runs) in [("f32", runs.0), ("f64", runs.1)] {
                for (name, (first, second)) in runs {
                    let what = format!("{name} {dtype} on {isa:?} with {threads} threads");
                    // The counter is live: the first step allocates the layers' buffers.
                    assert!(first.allocations > 0, "{what}: the first step should size its buffers ({first:?})");
                    assert_eq!(second, Counts { allocations: 0, live_bytes: 0 }, "{what}: the second step allocated");
                    checked += 1;
                }
            }
        }
    }
    // Portable, and on x86 also AVX2 and AVX-512 where the CPU has them.
    assert!(checked >= 3 * 2 * 5, "every workload on at least one instruction set");
}
