//! After the first training step at a given (steps, batch size), a recurrent
//! layer's forward and backward allocate nothing of their own. Its own test
//! binary, because it installs a counting global allocator.
//!
//! `matrixmultiply` (0.3) allocates its packing buffer inside every product it
//! computes, for every layer; those, measured here, are the only allocations
//! allowed.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use nn_runtime::kernels::{gemm, MatMut, MatRef};
use nn_runtime::rnn::{GruCell, LstmCell, RnnCell, SeqGrad, SeqLayer};
use nn_runtime::{seeded_rng, Batch};

struct Counting;

thread_local! {
    // Per thread, so the test harness's other threads do not count.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|a| a.set(a.get() + 1));
        // SAFETY: passed on unchanged: the caller gives a `layout` of nonzero size.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: passed on unchanged: `ptr` came from this allocator, that is from `System`, with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|a| a.set(a.get() + 1));
        // SAFETY: passed on unchanged: `ptr` came from `System` with `layout`; `new_size` is valid for it.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_in(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

/// Allocations made inside one matrix product (matrixmultiply's packing buffer).
fn allocations_per_product() -> usize {
    let (a, b, mut c) = (vec![1.0f32; 12], vec![1.0f32; 12], vec![0.0f32; 16]);
    allocations_in(|| {
        gemm(1.0, MatRef::row_major(&a, 4, 3), MatRef::row_major(&b, 3, 4), 0.0, MatMut::row_major(&mut c, 4, 4))
    })
}

const STEPS: usize = 12;
/// Products in one forward (all input projections at once, one recurrent
/// product per step) and one backward (one per step, then dW_ih, dx, dW_hh).
const PRODUCTS: usize = (1 + STEPS) + (STEPS + 3);

fn steady_state_allocations<L: SeqLayer<f32, 6, 16>>(mut layer: L) -> (usize, usize) {
    let xs: Vec<Batch<f32, 6>> = (0..STEPS).map(|t| Batch::from_fn(8, |i, j| ((t + i + j) % 5) as f32 * 0.1)).collect();
    let gs: Vec<Batch<f32, 16>> = (0..STEPS).map(|_| Batch::from_element(8, 0.01)).collect();
    let last = Batch::<f32, 16>::from_element(8, 1.0);
    let step = |layer: &mut L| {
        layer.forward_seq(&xs, None).unwrap();
        layer.backward_seq(SeqGrad::Every(&gs), None).unwrap();
        layer.forward_seq(&xs, None).unwrap();
        layer.backward_seq(SeqGrad::Last(&last), None).unwrap();
    };
    let first = allocations_in(|| step(&mut layer));
    let steady = allocations_in(|| step(&mut layer));
    (first, steady)
}

#[test]
fn forward_and_backward_allocate_nothing_after_the_first_step() {
    let mut rng = seeded_rng(7);
    let results = [
        ("rnn", steady_state_allocations(RnnCell::<f32, 6, 16>::new(&mut rng))),
        ("lstm", steady_state_allocations(LstmCell::<f32, 6, 16>::new(&mut rng))),
        ("gru", steady_state_allocations(GruCell::<f32, 6, 16>::new(&mut rng))),
    ];
    let products = 2 * PRODUCTS * allocations_per_product();
    for (kind, (first, steady)) in results {
        assert!(first > products, "{kind}: the counter sees the first step's buffers");
        assert_eq!(steady, products, "{kind}: allocations in two steady-state steps");
    }
}
