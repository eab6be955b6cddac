//! A second thread for the other half of a large product.
//!
//! A recurrent step's product takes about 40 us; waking a sleeping thread
//! takes 10-50 us, and matrixmultiply's thread pool allocates on every call.
//! So `nn` keeps one helper thread that, after each job, spins for a short
//! while (a product usually follows within microseconds) before it parks.
//! The caller computes half 0 while the helper computes half 1, then waits
//! for it. Nothing is allocated after the helper has started.

use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use std::sync::OnceLock;
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// How long the helper spins after a job before it parks.
const SPIN: Duration = Duration::from_micros(300);

type Job<'a> = &'a (dyn Fn(usize) + Sync);

struct Helper {
    /// A `*const Job` while a job waits; null otherwise.
    job: AtomicPtr<()>,
    done: AtomicBool,
    /// Held by the one caller whose job the helper runs; others run both halves themselves.
    busy: AtomicBool,
    thread: Thread,
}

fn helper() -> Option<&'static Helper> {
    static HELPER: OnceLock<Option<&'static Helper>> = OnceLock::new();
    *HELPER.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<&'static Helper>();
        let spawned = thread::Builder::new().name("nn-gemm".into()).spawn(move || {
            let h: &'static Helper = Box::leak(Box::new(Helper {
                job: AtomicPtr::new(ptr::null_mut()),
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
            // SAFETY: `both` stored a pointer to a `Job` that outlives the
            // job: it waits for `done` before returning.
            let job = unsafe { *(p as *const Job<'_>) };
            // A panic here would leave the caller waiting forever; the
            // kernels have no panicking paths, so it would be a bug in `nn`.
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(1))).is_err() {
                std::process::abort();
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

/// The threads products may use: `MATMUL_NUM_THREADS` (read once; it also
/// sets matrixmultiply's), else the number of cores. One without the
/// `threads` feature, so the helper thread is never started.
pub(super) fn threads() -> usize {
    if !cfg!(feature = "threads") {
        return 1;
    }
    static THREADS: OnceLock<usize> = OnceLock::new();
    *THREADS.get_or_init(|| {
        std::env::var("MATMUL_NUM_THREADS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
    })
}

/// Runs `job(0)` on the calling thread and `job(1)` on the helper thread, and
/// returns when both are done. Without a helper (it could not be started, or
/// another thread is using it) the caller runs both.
pub(crate) fn both(job: Job<'_>) {
    let Some(h) = helper() else {
        job(0);
        job(1);
        return;
    };
    if h.busy.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
        job(0);
        job(1);
        return;
    }
    h.done.store(false, Ordering::Relaxed);
    h.job.store(&job as *const Job<'_> as *mut (), Ordering::Release);
    h.thread.unpark();
    job(0);
    while !h.done.load(Ordering::Acquire) {
        std::hint::spin_loop();
    }
    h.busy.store(false, Ordering::Release);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn each_half_runs_once_and_on_another_thread() {
        // Other tests in this binary may hold the helper for a while (their
        // callers then run both halves), so keep going until it has taken one.
        let on_helper = AtomicUsize::new(0);
        let start = Instant::now();
        let mut calls = 0;
        while calls < 1000 || (on_helper.load(Ordering::Relaxed) == 0 && start.elapsed() < Duration::from_secs(20)) {
            let ran = [AtomicUsize::new(0), AtomicUsize::new(0)];
            let caller = thread::current().id();
            both(&|half| {
                ran[half].fetch_add(1, Ordering::Relaxed);
                if half == 1 && thread::current().id() != caller {
                    on_helper.fetch_add(1, Ordering::Relaxed);
                }
            });
            assert_eq!([ran[0].load(Ordering::Relaxed), ran[1].load(Ordering::Relaxed)], [1, 1]);
            calls += 1;
        }
        assert!(on_helper.load(Ordering::Relaxed) > 0, "half 1 never ran on the helper in {calls} calls");
    }

    #[test]
    fn callers_on_several_threads_all_complete() {
        let total = AtomicUsize::new(0);
        thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..500 {
                        both(&|_| {
                            total.fetch_add(1, Ordering::Relaxed);
                        });
                    }
                });
            }
        });
        assert_eq!(total.load(Ordering::Relaxed), 4 * 500 * 2);
    }
}
