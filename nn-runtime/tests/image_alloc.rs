//! The allocation rule for the image layers: once a batch size has been seen,
//! a training forward and backward allocate nothing, on every instruction set
//! this CPU runs.

mod common;

use common::counting::{allocations, allocations_in, Counting};
use nn_runtime::kernels::{with_isa, Isa};
use nn_runtime::{seeded_rng, AvgPool2d, Batch, BatchNorm2d, Conv2d, Flatten, GlobalAvgPool, Init, Layer, MaxPool2d};

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by the second of two training steps at batch size 5.
fn second_step_allocations<L: Layer<f32, I, O>, const I: usize, const O: usize>(mut layer: L) -> usize {
    let x = Batch::<f32, I>::from_fn(5, |i, j| ((i * 13 + j * 7) % 11) as f32 - 5.0);
    let g = Batch::<f32, O>::from_fn(5, |i, j| ((i * 5 + j * 3) % 7) as f32 - 3.0);
    layer.forward(&x);
    layer.backward(&g);
    allocations_in(|| {
        layer.forward(&x);
        layer.backward(&g);
    })
}

#[test]
fn steady_state_training_steps_allocate_nothing() {
    for &isa in Isa::ALL.iter().filter(|isa| isa.available()) {
        with_isa(isa, || {
            let mut rng = seeded_rng(0);
            let conv =
                Conv2d::<f32, { 3 * 8 * 8 }, { 4 * 4 * 4 }>::new::<3, 8, 8, 4, 3, 2, 1>(&mut rng, Init::HeNormal, true);
            // Three products: W col forward; Gz col^T and W^T Gz backward.
            assert_eq!(second_step_allocations(conv), 0, "conv2d on {isa:?}");
            assert_eq!(second_step_allocations(MaxPool2d::<f32, 48, 12>::new::<3, 4, 4, 2, 2, 0>()), 0, "max_pool");
            assert_eq!(second_step_allocations(AvgPool2d::<f32, 48, 48>::new::<3, 4, 4, 3, 1, 1>()), 0, "avg_pool");
            assert_eq!(second_step_allocations(GlobalAvgPool::<f32, 48, 3>::new::<3, 4, 4>()), 0, "global_avg_pool");
            assert_eq!(second_step_allocations(BatchNorm2d::<f32, 48>::new::<3, 4, 4>(0.1, 1e-5)), 0, "batch_norm2d");
            assert_eq!(second_step_allocations(Flatten::<f32, 48>::default()), 0, "flatten");
        });
    }
}

#[test]
fn the_counter_sees_allocations() {
    // A fresh layer's first step must allocate its buffers: the counter works.
    let before = allocations();
    let mut pool = MaxPool2d::<f32, 48, 12>::new::<3, 4, 4, 2, 2, 0>();
    pool.forward(&Batch::<f32, 48>::zeros(2));
    assert!(allocations() > before);
}
