//! Threads for the parts of a large matrix product, and how many there are.
//!
//! A recurrent step's product takes about 40 us; waking a sleeping thread
//! takes 10-50 us. So `nn` keeps helper threads that, after each job, spin
//! for a short while (a product usually follows within microseconds) before
//! they park. Part `i + 1` of a job goes to the `i`-th helper the caller
//! engaged and part 0 to the caller, so a thread runs the same parts step
//! after step and its buffers, sized in the first step, do not grow later.
//! The caller returns only when every helper it engaged is done with the
//! job, also when a part panics: no helper is left holding a pointer into
//! the caller's stack. A panic in a part on a helper is resumed on the
//! calling thread; the helper carries on. Nothing is allocated after the
//! helpers have started.
//!
//! Without the `threads` feature (a browser has no threads) [`threads`] is
//! 1: no helper is started and every part runs on the calling thread.

use std::any::Any;
use std::cell::Cell;
use std::marker::PhantomData;
use std::ops::Range;
use std::panic::{self, AssertUnwindSafe};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// How long a helper spins after a job before it parks.
const SPIN: Duration = Duration::from_micros(300);

/// The most threads a product uses (a larger `MATMUL_NUM_THREADS` counts as this).
pub const MAX_THREADS: usize = 64;

thread_local! {
    /// Set by [`with_threads`] for the duration of its closure. Not
    /// `const`-initialized: with that form, rustc 1.95 emitted one
    /// reference to the value as a plain global in a test build for
    /// aarch64 once the image kernels called `threads` too, and the link
    /// failed ("TLS definition ... mismatches non-TLS reference").
    #[allow(clippy::missing_const_for_thread_local)] // see above
    static SCOPED: Cell<Option<usize>> = Cell::new(None);
}

/// The threads a matrix product on this thread may use, the calling thread
/// included: `MATMUL_NUM_THREADS` (read once per process), else the number of
/// cores; at most [`MAX_THREADS`]. [`with_threads`] sets it for one closure.
/// Always 1 without the `threads` feature.
///
/// Products of at least 2^20 multiply-adds are split into parts of at least
/// 2^19 over that many threads; matrix-vector products and element-wise
/// kernels run on the calling thread.
pub fn threads() -> usize {
    if cfg!(not(feature = "threads")) {
        return 1;
    }
    SCOPED.get().unwrap_or_else(|| {
        static THREADS: OnceLock<usize> = OnceLock::new();
        *THREADS.get_or_init(|| {
            std::env::var("MATMUL_NUM_THREADS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| thread::available_parallelism().map_or(1, |n| n.get()))
                .clamp(1, MAX_THREADS)
        })
    })
}

/// Runs `f` with products on this thread using `threads` threads (at least
/// 1, at most [`MAX_THREADS`]), then restores the previous count (also when
/// `f` panics): for tests that compare thread counts in one process. More
/// threads than cores is allowed; it is correct, not fast. Without the
/// `threads` feature it only runs `f`.
pub fn with_threads<R>(threads: usize, f: impl FnOnce() -> R) -> R {
    super::scoped(&SCOPED, Some(threads.clamp(1, MAX_THREADS)), f)
}

type Job<'a> = &'a (dyn Fn(usize) + Sync);

/// One call's job, shared with the helpers that run its parts. It lives on
/// the calling thread's stack, which [`run`] leaves only after every helper
/// it engaged is done with it.
struct Shared<'a> {
    job: Job<'a>,
    /// The first panic of a part on a helper, for the caller to resume.
    panic: Mutex<Option<Box<dyn Any + Send>>>,
}

struct Helper {
    /// A `*const Shared` while a job waits for this helper; null otherwise.
    job: AtomicPtr<()>,
    /// The part of the job this helper runs (written before `job`).
    part: AtomicUsize,
    /// Set when the helper is done with its job and will not touch it again.
    done: AtomicBool,
    /// Held by the one caller whose job the helper runs.
    busy: AtomicBool,
    thread: Thread,
}

/// Helper `i` (of `MAX_THREADS - 1`), started at its first use; `None` if it
/// could not be started.
fn helper(i: usize) -> Option<&'static Helper> {
    static HELPERS: [OnceLock<Option<&'static Helper>>; MAX_THREADS - 1] = [const { OnceLock::new() }; MAX_THREADS - 1];
    *HELPERS[i].get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<&'static Helper>();
        let spawned = thread::Builder::new().name(format!("nn-gemm-{i}")).spawn(move || {
            let h: &'static Helper = Box::leak(Box::new(Helper {
                job: AtomicPtr::new(ptr::null_mut()),
                part: AtomicUsize::new(0),
                done: AtomicBool::new(false),
                busy: AtomicBool::new(false),
                thread: thread::current(),
            }));
            if tx.send(h).is_ok() {
                serve(h);
            }
        });
        spawned.ok().and_then(|_| rx.recv().ok())
    })
}

fn serve(h: &Helper) -> ! {
    let mut idle_since = Instant::now();
    loop {
        let p = h.job.swap(ptr::null_mut(), Ordering::Acquire);
        if !p.is_null() {
            let part = h.part.load(Ordering::Relaxed);
            {
                // SAFETY: `run` stored a pointer to its `Shared`, which it keeps
                // alive until this helper sets `done`, below this block.
                let shared = unsafe { &*(p as *const Shared<'_>) };
                if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| (shared.job)(part))) {
                    shared.panic.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert(payload);
                }
            }
            h.done.store(true, Ordering::Release);
            idle_since = Instant::now();
        } else if idle_since.elapsed() < SPIN {
            std::hint::spin_loop();
        } else {
            // `unpark` before `park` makes `park` return at once, so a job
            // stored just now is not missed.
            thread::park();
            idle_since = Instant::now();
        }
    }
}

/// The helpers one call engaged (bit `i`: helper `i`). Dropping it waits
/// until each is done and releases it: on return and on unwinding alike.
struct Engaged(u64);

impl Drop for Engaged {
    fn drop(&mut self) {
        let mut bits = self.0;
        while bits != 0 {
            let i = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let h = helper(i).expect("an engaged helper was started");
            let mut spins = 0u32;
            while !h.done.load(Ordering::Acquire) {
                // More threads than cores: let the helper have this one.
                spins += 1;
                if spins.is_multiple_of(1024) {
                    thread::yield_now();
                } else {
                    std::hint::spin_loop();
                }
            }
            h.busy.store(false, Ordering::Release);
        }
    }
}

/// Runs `job(0)` to `job(parts - 1)`, each once, and returns when all are
/// done: part 0 on the calling thread, the others on helper threads (of the
/// first [`threads`] - 1, those no other caller is using), and on the
/// calling thread those no helper was free for. If a part panics, the first
/// panic is resumed here after every part has finished.
pub(super) fn run(parts: usize, job: Job<'_>) {
    let shared = Shared { job, panic: Mutex::new(None) };
    let mut engaged = Engaged(0);
    let mut handed_out = 1;
    for i in 0..threads() - 1 {
        if handed_out >= parts {
            break;
        }
        let Some(h) = helper(i) else { break };
        if h.busy.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
            continue;
        }
        h.part.store(handed_out, Ordering::Relaxed);
        h.done.store(false, Ordering::Relaxed);
        h.job.store(&shared as *const Shared<'_> as *mut (), Ordering::Release);
        h.thread.unpark();
        engaged.0 |= 1 << i;
        handed_out += 1;
    }
    // A panic here unwinds through `engaged`, which waits for the helpers.
    job(0);
    (handed_out..parts).for_each(job);
    drop(engaged);
    if let Some(payload) = shared.panic.into_inner().unwrap_or_else(PoisonError::into_inner) {
        panic::resume_unwind(payload);
    }
}

/// A batch is split over threads into parts of at least this many
/// operations (a helper takes a part within microseconds while it spins).
const SAMPLES_WORK: usize = 1 << 14;

/// How many parts [`over_samples`] splits `n` samples of `work` operations
/// each into: at most [`threads`], each of at least [`SAMPLES_WORK`].
pub(crate) fn sample_parts(n: usize, work: usize) -> usize {
    threads().min(n).min(n.saturating_mul(work) / SAMPLES_WORK).max(1)
}

/// Runs `job(p, samples)` for each part `p` in `0..parts`, `samples` the
/// `p`-th of `parts` consecutive ranges that split `0..n` as evenly as they
/// can: part 0 on the calling thread, the others on helpers ([`run`]). For
/// the image layers, whose kernels go sample by sample.
pub(crate) fn over_samples(parts: usize, n: usize, job: &(dyn Fn(usize, Range<usize>) + Sync)) {
    let samples = |p: usize| p * n / parts..(p + 1) * n / parts;
    if parts < 2 {
        return job(0, 0..n);
    }
    run(parts, &|p| job(p, samples(p)))
}

/// A slice the parts of one [`over_samples`] job each take their own
/// pieces of (their samples' outputs, their own scratch).
pub(crate) struct Pieces<'a, T> {
    ptr: *mut T,
    len: usize,
    _borrow: PhantomData<&'a mut [T]>,
}

// SAFETY: `Pieces` hands out its elements only through `piece`, whose
// callers keep the pieces that are alive at once disjoint; `T: Send` lets
// another thread write its piece.
unsafe impl<T: Send> Sync for Pieces<'_, T> {}

impl<'a, T> Pieces<'a, T> {
    /// `slice`, borrowed for as long as the pieces.
    pub(crate) fn new(slice: &'a mut [T]) -> Self {
        Self { ptr: slice.as_mut_ptr(), len: slice.len(), _borrow: PhantomData }
    }

    /// Elements `range` (panics outside the slice).
    ///
    /// # Safety
    /// No two pieces alive at the same time may overlap.
    #[allow(clippy::mut_from_ref)] // the point: disjoint pieces of one borrow
    pub(crate) unsafe fn piece(&self, range: Range<usize>) -> &mut [T] {
        assert!(range.start <= range.end && range.end <= self.len, "piece outside the slice");
        // SAFETY: inside the slice (asserted), which `'a` borrows uniquely;
        // the caller keeps the pieces alive at once disjoint.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(range.start), range.len()) }
    }
}

#[cfg(all(test, feature = "threads"))]
mod tests {
    use super::*;
    use std::panic::catch_unwind;
    use std::thread::ThreadId;

    /// Runs `parts` parts with `threads` threads until some part ran off the
    /// calling thread (other tests may hold the helpers for a while; then the
    /// caller runs every part), checking each call ran every part once.
    fn until_a_helper_takes_part(threads: usize, parts: usize) -> usize {
        let start = Instant::now();
        let mut calls = 0;
        loop {
            let ran: Vec<AtomicUsize> = (0..parts).map(|_| AtomicUsize::new(0)).collect();
            let off_caller = AtomicUsize::new(0);
            let caller = thread::current().id();
            with_threads(threads, || {
                run(parts, &|p| {
                    ran[p].fetch_add(1, Ordering::Relaxed);
                    if thread::current().id() != caller {
                        off_caller.fetch_add(1, Ordering::Relaxed);
                    }
                })
            });
            assert!(ran.iter().all(|r| r.load(Ordering::Relaxed) == 1), "every part once");
            calls += 1;
            if off_caller.load(Ordering::Relaxed) > 0 {
                return calls;
            }
            assert!(start.elapsed() < Duration::from_secs(20), "no part ran on a helper in {calls} calls");
        }
    }

    #[test]
    fn every_part_runs_once_and_helpers_take_parts() {
        for (threads, parts) in [(2, 2), (4, 4), (8, 8), (8, 3), (3, 16)] {
            until_a_helper_takes_part(threads, parts);
        }
    }

    #[test]
    fn callers_on_several_threads_all_complete() {
        let total = AtomicUsize::new(0);
        thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..500 {
                        with_threads(3, || {
                            run(3, &|_| {
                                total.fetch_add(1, Ordering::Relaxed);
                            })
                        });
                    }
                });
            }
        });
        assert_eq!(total.load(Ordering::Relaxed), 4 * 500 * 3);
    }

    /// Two parts, one on the caller and one on a helper; the one on the
    /// caller (or the helper) panics once the other has started, and the
    /// other sleeps, then writes to the caller's frame. Returns whether the
    /// call panicked with the part's message, and whether the write had
    /// happened by the time the panic reached the caller; `None` if the
    /// parts did not go one to each thread (the helper was busy elsewhere),
    /// so there was no split to test.
    fn panicking_job(panic_on_caller: bool) -> Option<(bool, bool)> {
        let caller = thread::current().id();
        let on_caller = |id: ThreadId| id == caller;
        let written = AtomicBool::new(false);
        let started = AtomicUsize::new(0);
        let (caller_parts, helper_parts) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let result = catch_unwind(AssertUnwindSafe(|| {
            with_threads(2, || {
                run(2, &|_| {
                    started.fetch_add(1, Ordering::SeqCst);
                    let here = on_caller(thread::current().id());
                    if here { &caller_parts } else { &helper_parts }.fetch_add(1, Ordering::SeqCst);
                    if here == panic_on_caller {
                        // Let the other part start before this one panics.
                        let start = Instant::now();
                        while started.load(Ordering::SeqCst) < 2 && start.elapsed() < Duration::from_secs(1) {
                            std::hint::spin_loop();
                        }
                        panic!("part panicked");
                    }
                    thread::sleep(Duration::from_millis(30));
                    written.store(true, Ordering::SeqCst);
                })
            })
        }));
        if (caller_parts.into_inner(), helper_parts.into_inner()) != (1, 1) {
            return None;
        }
        let message = result.err().and_then(|p| p.downcast_ref::<&str>().map(|s| *s == "part panicked"));
        Some((message == Some(true), written.load(Ordering::SeqCst)))
    }

    #[test]
    fn a_panic_in_either_part_reaches_the_caller_after_every_part_is_done() {
        for panic_on_caller in [true, false] {
            let start = Instant::now();
            let (panicked, other_part_finished) = loop {
                if let Some(outcome) = panicking_job(panic_on_caller) {
                    break outcome;
                }
                assert!(start.elapsed() < Duration::from_secs(20), "the helper never took a part");
            };
            assert!(panicked, "the caller gets the part's panic (panic on caller: {panic_on_caller})");
            // The other part wrote to the caller's frame before the panic left
            // it: no thread was still running with a pointer into it.
            assert!(other_part_finished, "the caller waited for the other part (panic on caller: {panic_on_caller})");
            // The pool keeps working, helpers included.
            until_a_helper_takes_part(2, 2);
            until_a_helper_takes_part(4, 4);
        }
    }

    #[test]
    fn thread_counts_are_scoped_and_clamped() {
        let before = threads();
        assert!((1..=MAX_THREADS).contains(&before));
        assert_eq!(with_threads(4, threads), 4);
        assert_eq!(with_threads(0, threads), 1);
        assert_eq!(with_threads(1000, threads), MAX_THREADS);
        assert_eq!(with_threads(3, || with_threads(8, threads) + threads()), 8 + 3);
        assert!(catch_unwind(|| with_threads(5, || panic!("inside"))).is_err());
        assert_eq!(threads(), before);
    }
}
