//! More than two threads (issue 17): training steps with `MATMUL_NUM_THREADS`
//! of 4 and 8 (set here with `with_threads`) give the same weights, bit for
//! bit, as with one thread, on every instruction set this CPU runs. A product
//! is split into parts of whole tiles of its result, and every element is
//! summed in the same order whichever thread computes it (the products' own
//! tests, in `nn-runtime/src/kernels/gemm.rs`, check the same for 2, 3, 4 and
//! 8 threads product by product).

use std::borrow::Borrow;

use nn::kernels::{with_isa, with_threads, Isa};
use nn::{Batch, Model};

#[path = "../benches/support/nets.rs"]
mod nets;

/// Every parameter's value after three training steps of `net` with `threads`
/// threads on `isa`.
fn after_three_steps<X: Borrow<Y>, Y: ?Sized, N: nets::Net<f32, Y, 10> + Model<f32>>(
    isa: Isa,
    threads: usize,
    mut net: N,
    mut step: nets::Step<f32, X, 10>,
) -> Vec<(String, Vec<f32>)> {
    with_isa(isa, || {
        with_threads(threads, || {
            for _ in 0..3 {
                step.run(&mut net);
            }
        })
    });
    net.parameters().into_iter().map(|p| (p.name, p.value)).collect()
}

#[test]
fn training_steps_with_4_and_8_threads_give_the_weights_of_one_thread() {
    let mut checked = 0;
    for &isa in Isa::ALL.iter().filter(|isa| isa.available()) {
        // W2 at batch 64: its 784x512 products are split into up to 8 parts by rows.
        let mlp = |threads| {
            after_three_steps(isa, threads, nets::W2::seeded(2), nets::Step::<f32, Batch<f32, 784>, 10>::new(14, 64))
        };
        // W4 over 20 steps of 32: the input projection and weight gradients
        // are split, and the 512x128 recurrent products by rows.
        let lstm = |threads| {
            let step = nets::Step::<f32, Vec<Batch<f32, 32>>, 10>::sequence(15, 20, 32);
            after_three_steps(isa, threads, nets::W4::seeded(13), step)
        };
        let (mlp_one, lstm_one) = (mlp(1), lstm(1));
        // The steps trained: every tensor moved from its initial value.
        let initial = nets::W2::<f32>::seeded(2).parameters();
        assert!(initial.iter().zip(&mlp_one).all(|(p, (_, v))| p.value != *v), "W2's steps changed every tensor");
        for threads in [4, 8] {
            for (name, one, many) in [("W2", &mlp_one, mlp(threads)), ("W4", &lstm_one, lstm(threads))] {
                assert_eq!(one.len(), many.len());
                for ((tensor, a), (_, b)) in one.iter().zip(&many) {
                    let same = a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits());
                    assert!(
                        same,
                        "{name} on {isa:?}: {tensor} after 3 steps with {threads} threads differs from 1 thread"
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 4);
}
