//! After the first step at a batch size, the training machinery around the
//! model (mini-batch copy, loss and its gradient, gradient norm, clipping,
//! optimizer, schedule) allocates nothing. Counts allocations of the test's
//! own thread, outside the model's forward and backward (the layers' own
//! concern).

mod common;

use common::counting::{allocations, Counting};
use common::{mlp, MlpModel};
use nalgebra::DMatrix;
use nn_runtime::data::{iris, MiniBatch};
use nn_runtime::layers::Tanh;
use nn_runtime::optim::{Adam, AdamW, Optimizer, RmsProp, Schedule, Scheduler, Sgd};
use nn_runtime::{grad_norm, Clip, Loss, Model};

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn steady_state_steps_allocate_nothing() {
    let data = iris::<f64>();
    let optimizers: Vec<Box<dyn Optimizer<f64>>> = vec![
        Box::new(Sgd::new(0.01).momentum(0.9).nesterov(true).weight_decay(1e-3)),
        Box::new(Adam::new(1e-3).weight_decay(1e-3)),
        Box::new(AdamW::new(1e-3)),
        Box::new(RmsProp::new(1e-3).momentum(0.9)),
    ];
    for mut opt in optimizers {
        let mut net: MlpModel<f64, Tanh, 4, 8, 3> = mlp(0);
        let mut scheduler = Scheduler::new(
            Schedule::LinearWarmup { start_factor: 0.1, steps: 3 }
                .then(3, Schedule::Cosine { t_max: 10, eta_min: 0.0 }),
        );
        let mut batch = MiniBatch::default();
        let mut grad = DMatrix::<f64>::zeros(3, 16);
        let indices: Vec<usize> = (0..150).collect();
        // Allocations outside the model's forward and backward.
        let mut step = |k: usize| -> usize {
            let start = allocations();
            batch.fill(&data, &indices[(k * 16) % 128..(k * 16) % 128 + 16]).unwrap();
            net.zero_grad();
            let before_forward = allocations();
            let y = net.forward_view(batch.inputs()).unwrap();
            let after_forward = allocations();
            Loss::SoftmaxCrossEntropy.value_and_grad(y, batch.targets(), grad.as_view_mut()).unwrap();
            let before_backward = allocations();
            net.backward_view(grad.as_view()).unwrap();
            let after_backward = allocations();
            assert!(grad_norm(&net).is_finite());
            Clip::GlobalNorm(1.0).apply(&mut net);
            opt.step_with(&mut |v| net.visit_mut(v));
            scheduler.step(&mut *opt);
            (before_forward - start) + (before_backward - after_forward) + (allocations() - after_backward)
        };
        // The first step allocates the optimizer state and the batch buffers.
        assert!(step(0) > 0);
        let steady: usize = (1..6).map(&mut step).sum();
        assert_eq!(steady, 0, "allocations in 5 steady-state steps");
    }
}
