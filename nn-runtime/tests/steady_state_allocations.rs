//! After the first step at a given batch size, a training step (forward and
//! backward) through every layer and block allocates nothing, on every
//! instruction set this CPU runs.

mod common;

use common::counting::{allocations_on_every_thread, Counting};
use nalgebra::DMatrix;
use nn_runtime::kernels::{with_isa, Isa};
use nn_runtime::{
    seeded_rng, Activation, AuxHead, BatchNorm, Branch, Chain, Concat, Dense, Dropout, Gelu, Highway, Init, Layer,
    LayerNorm, Parallel, Prelu, Repeat, Residual, ResidualProjection, Tanh,
};

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn a_training_step_allocates_nothing_after_the_first() {
    for &isa in Isa::ALL.iter().filter(|isa| isa.available()) {
        with_isa(isa, || steady_state(isa));
    }
}

/// Two steps after the first through a network of every layer and block kind.
fn steady_state(isa: Isa) {
    let mut rng = seeded_rng(0);
    let dense = |rng: &mut _| Dense::<f32, 6, 6>::new(rng, Init::HeNormal, true);
    let body = Chain::new(dense(&mut rng), Chain::new(BatchNorm::<f32, 6>::new(0.1, 1e-5), Activation::new(Gelu)));
    let mut net = Chain::new(
        Chain::new(
            Repeat::<f32, _, 6, 2>::from_fn(|c| {
                Residual::new(Chain::new(dense(&mut seeded_rng(c as u64)), Prelu::new(0.25)))
            }),
            Highway::new(&mut rng, body, Init::XavierNormal),
        ),
        Chain::new(
            Chain::new(
                AuxHead::new(Dense::<f32, 6, 2>::new(&mut rng, Init::XavierNormal, true), 0.3),
                Parallel::<f32, _, 6, 7>::new((
                    Branch::<_, 3>(Dense::<f32, 6, 3>::new(&mut rng, Init::HeNormal, true)),
                    Branch::<_, 4>(Chain::new(
                        Dense::<f32, 6, 4>::new(&mut rng, Init::HeNormal, true),
                        LayerNorm::new(1e-5),
                    )),
                )),
            ),
            Chain::new(
                Concat::<f32, _, 7, 2, 9>::new(Chain::new(
                    Dense::<f32, 7, 2>::new(&mut rng, Init::HeNormal, true),
                    Activation::new(Tanh),
                )),
                ResidualProjection::new(&mut rng, Dropout::<f32, 9>::new(0.2, seeded_rng(5)), Init::XavierNormal),
            ),
        ),
    );
    let x = nn_runtime::Batch::<f32, 6>::from_fn(16, |i, j| (i as f32 - 2.5) * 0.3 + j as f32 * 0.01);
    let g = nn_runtime::Batch::<f32, 9>::from_element(16, 0.1);
    let head_grad = DMatrix::<f32>::from_element(2, 16, 0.5);
    macro_rules! step {
        () => {
            net.forward(&x);
            net.second_mut().first_mut().first_mut().set_grad(&head_grad.as_view()).unwrap();
            net.backward(&g);
        };
    }
    let first = allocations_on_every_thread();
    step!();
    let before = allocations_on_every_thread();
    assert!(before > first, "the counter sees the first step's buffers");
    step!();
    step!();
    assert_eq!(allocations_on_every_thread() - before, 0, "allocations in steady-state training steps on {isa:?}");
}
