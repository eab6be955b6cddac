//! After the first training step at a batch size, a step (zero_grad, forward,
//! loss, backward, clipping, SGD update) allocates nothing (issue 9, DESIGN.md):
//! W1-W5, and the image networks W8 and `Images` (issue 18), in `f32` and `f64`, on every instruction set this CPU runs (AVX-512,
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
use nn::nalgebra::DMatrix;
use nn::optim::{Optimizer, Sgd};
use nn::{Batch, Clip, Float, Loss, Model, Targets};
use rand::Rng;

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

nn::network! {
    /// W7's network (examples/words.rs).
    pub struct Words(tokens 28 -> seq 28) { embedding(32), lstm(128), dense(28) }
    /// Every item of the second version of sequences that keeps a buffer.
    pub struct Mixed(seq 8 -> 4) {
        dense(16), batch_norm, bidirectional { gru(16) }, dropout(0.1), residual { lstm(32), layer_norm }, last, dense(4),
    }
}

/// One batch of sequences of different lengths, padded to its longest, with
/// a class per step (per sequence for a network with one output each).
struct SeqBatch<T: Float> {
    x: DMatrix<T>,
    lengths: Vec<usize>,
    classes: Vec<usize>,
}

impl<T: Float> SeqBatch<T> {
    /// `n` sequences of `per_step` values (token ids below 28 with `per_step` 1) and lengths `lengths(j)`.
    fn new(seed: u64, n: usize, per_step: usize, lengths: impl Fn(usize) -> usize) -> Self {
        let mut rng = nn::seeded_rng(seed);
        let lengths: Vec<usize> = (0..n).map(lengths).collect();
        let steps = lengths.iter().copied().max().unwrap();
        let value = |rng: &mut nn::SeededRng| {
            if per_step == 1 {
                rng.random_range(0..28) as f64
            } else {
                rng.random_range(-1.0..1.0)
            }
        };
        let x = DMatrix::from_fn(steps * per_step, n, |_, _| T::of(value(&mut rng)));
        let classes = (0..steps * n).map(|_| rng.random_range(0..4)).collect();
        SeqBatch { x, lengths, classes }
    }

    /// zero_grad, forward, softmax cross-entropy over the real steps (or per
    /// sequence), backward, clipping, SGD: the Trainer's step on a `Model`.
    fn step<M: Model<T>>(&self, net: &mut M, grad: &mut DMatrix<T>, sgd: &mut Sgd<T>) {
        net.zero_grad();
        let y = net.forward_seq_view(self.x.as_view(), &self.lengths).unwrap();
        let shape = y.shape();
        let targets = if M::PER_STEP {
            Targets::StepClasses { classes: &self.classes, lengths: &self.lengths }
        } else {
            Targets::Classes(&self.classes[..self.lengths.len()])
        };
        Loss::SoftmaxCrossEntropy.value_and_grad(y, targets, grad.view_mut((0, 0), shape)).unwrap();
        net.backward_params_view(grad.view((0, 0), shape)).unwrap();
        Clip::GlobalNorm(1e-3).apply(net);
        sgd.step(net);
    }
}

/// The first step on the longest sequences and largest batch, then steps on
/// batches of other sizes and mixes of lengths: what each part allocated.
/// With more than one thread, a smaller batch splits a product into fewer,
/// larger parts than the first step did: the kernels' buffers must already
/// hold them.
fn mixed_lengths<T: Float, M: Model<T>>(mut net: M, per_step: usize) -> (Counts, Counts) {
    let largest = SeqBatch::new(1, 32, per_step, |_| 12);
    let others = [
        SeqBatch::new(2, 32, per_step, |j| 1 + (j * 7) % 12),
        SeqBatch::new(3, 20, per_step, |j| 2 + (j * 5) % 8),
        SeqBatch::new(4, 32, per_step, |j| 12 - j % 3),
    ];
    let mut grad = DMatrix::zeros(12 * M::OUTPUT, 32);
    let mut sgd = Sgd::new(0.01);
    let first = during(|| largest.step(&mut net, &mut grad, &mut sgd));
    let later = during(|| {
        for batch in &others {
            batch.step(&mut net, &mut grad, &mut sgd);
        }
    });
    (first, later)
}

/// W1-W5 (issue 9) as `network!` networks in `T`, and steps on sequences of
/// different lengths once the buffers have grown to the longest sequence and
/// the largest batch (W7's network, and every item of the second version of
/// sequences): what their two parts allocated.
fn workloads<T: Float>() -> [(&'static str, (Counts, Counts)); 9] {
    [
        ("W7 mixed lengths", mixed_lengths(Words::<T>::seeded(7), 1)),
        ("mixed items, mixed lengths", mixed_lengths(Mixed::<T>::seeded(8), 8)),
        ("W1", two_steps(nets::W1::<T>::seeded(1), nets::Step::<T, Batch<T, 64>, 10>::new(11, 32))),
        ("W3", two_steps(nets::W3::<T>::seeded(3), nets::Step::<T, Batch<T, 64>, 10>::new(12, 64))),
        ("W4", two_steps(nets::W4::<T>::seeded(13), nets::Step::<T, Vec<Batch<T, 32>>, 10>::sequence(13, 50, 32))),
        ("W2", two_steps(nets::W2::<T>::seeded(2), nets::Step::<T, Batch<T, 784>, 10>::new(14, 16))),
        ("W5", two_steps(nets::W5::<T>::seeded(15), nets::Step::<T, Vec<Batch<T, 32>>, 10>::sequence(15, 20, 8))),
        ("W8", two_steps(nets::W8::<T>::seeded(16), nets::Step::<T, Batch<T, 784>, 10>::new(16, 8))),
        ("images", two_steps(nets::Images::<T>::seeded(17), nets::Step::<T, Batch<T, 64>, 10>::new(17, 8))),
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
    assert!(checked >= 3 * 2 * 9, "every workload on at least one instruction set");
}
