//! After the first training step at a given (steps, batch size), a recurrent
//! layer's forward and backward allocate nothing, on every instruction set
//! this CPU runs. Its own test binary, because it installs a counting global
//! allocator.

mod common;

use common::counting::{allocations_in, Counting};
use nn_runtime::kernels::{with_isa, Isa};
use nn_runtime::rnn::{GruCell, LstmCell, RnnCell, SeqGrad, SeqLayer};
use nn_runtime::{seeded_rng, Batch};

#[global_allocator]
static GLOBAL: Counting = Counting;

const STEPS: usize = 12;

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
    let mut checked = 0;
    for &isa in Isa::ALL.iter().filter(|isa| isa.available()) {
        let mut rng = seeded_rng(7);
        let results = with_isa(isa, || {
            [
                ("rnn", steady_state_allocations(RnnCell::<f32, 6, 16>::new(&mut rng))),
                ("lstm", steady_state_allocations(LstmCell::<f32, 6, 16>::new(&mut rng))),
                ("gru", steady_state_allocations(GruCell::<f32, 6, 16>::new(&mut rng))),
            ]
        });
        for (kind, (first, steady)) in results {
            assert!(first > 0, "{kind} on {isa:?}: the counter sees the first step's buffers");
            assert_eq!(steady, 0, "{kind} on {isa:?}: allocations in two steady-state steps");
            checked += 1;
        }
    }
    assert!(checked >= 3);
}
