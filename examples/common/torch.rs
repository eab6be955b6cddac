//! What the examples that train the same model as a PyTorch script
//! (`examples/words.rs`, `examples/sunspots.rs`) need to train it as the
//! script does: PyTorch's default initialization where `network!`'s differs,
//! and the scripts' optimizer and schedule ([`trainer`]).
//!
//! `network!` gives the rest PyTorch's defaults through its options:
//! `embedding` draws from N(0, 1) as `nn.Embedding`; `lstm(h)` draws
//! `weight_ih` and both biases from U(-1/sqrt(h), 1/sqrt(h)) as `nn.LSTM`,
//! and `recurrent_init = uniform(1/sqrt(h))` does the same for `weight_hh`;
//! `dense(o, init = uniform(1/sqrt(fan_in)))` is `nn.Linear`'s weight
//! (kaiming-uniform with a = sqrt(5)). Only `nn.Linear`'s bias is left: nn
//! starts every bias at zero, PyTorch draws it from U(-1/sqrt(fan_in),
//! 1/sqrt(fan_in)).

use nn::optim::{Adam, Schedule};
use nn::{Init, Model, NamePath, ParamMut, Trainer, VisitMut};

/// Draws the parameter called `name` (`"2.bias"`) of `model` from `init`
/// with a generator seeded by `seed`; returns whether `model` has it.
pub fn redraw<M: Model<f32>>(model: &mut M, name: &str, init: Init, seed: u64) -> bool {
    struct Redraw<'a> {
        path: NamePath,
        name: &'a str,
        init: Init,
        rng: nn::SeededRng,
        found: bool,
    }
    impl VisitMut<f32> for Redraw<'_> {
        fn enter(&mut self, segment: &str) {
            self.path.enter(segment);
        }
        fn leave(&mut self) {
            self.path.leave();
        }
        fn param(&mut self, p: ParamMut<'_, f32>) {
            if self.path.full(p.name) == self.name {
                let (rows, cols) = (p.shape[0], p.shape[1..].iter().product());
                self.init.fill(&mut self.rng, cols, rows, rows, cols, p.value);
                self.found = true;
            }
        }
    }
    let mut visitor = Redraw { path: NamePath::default(), name, init, rng: nn::seeded_rng(seed), found: false };
    model.visit_mut(&mut visitor);
    visitor.found
}

/// `nn.Linear(fan_in, _)`'s bias: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
pub fn linear_bias(fan_in: usize) -> Init {
    Init::Uniform(1.0 / (fan_in as f64).sqrt())
}

/// The scripts' training: Adam at `lr` in shuffled batches of `batch` for
/// `epochs` epochs, in an order seeded by `seed`, its learning rate annealed
/// to 0 along a cosine over every step of the run on `samples` samples (torch's
/// `CosineAnnealingLR` stepped after each batch, `T_max` the run's steps).
pub fn trainer(samples: usize, epochs: usize, batch: usize, lr: f64, seed: u64) -> Trainer<f32> {
    let steps = epochs * samples.div_ceil(batch);
    Trainer::new(Adam::new(lr))
        .epochs(epochs)
        .batch_size(batch)
        .seed(seed)
        .schedule_per_step(Schedule::Cosine { t_max: steps, eta_min: 0.0 })
}
