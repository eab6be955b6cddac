//! Issue 15, item 6: a long series in consecutive chunks, the recurrent state
//! carried from batch to batch (truncated BPTT across batches,
//! `Trainer::carry_state`). Forward over the chunks with the state carried is
//! forward over the whole series; a run resumed mid-epoch from a training
//! state (which holds the carried state) ends bit for bit as the
//! uninterrupted run.

use std::path::PathBuf;

use nn::nalgebra::DMatrix;
use nn::optim::StateError;
use nn::prelude::*;
use nn::rnn::{set_carry, Carry};
use nn::snapshot::Data;
use nn::train::{TrainError, TrainingState};
use nn::{ShapeError, Snapshot, VisitMut};

nn::network! {
    /// Every cell, and an output per step so that every step can be compared.
    pub struct Series(seq 2 -> seq 1) { lstm(6), gru(5), residual { rnn(5), tanh }, dense(1) }
    /// A forecaster as people train them on a long series.
    pub struct Forecast(seq 1 -> seq 1) { lstm(8), dense(1) }
    pub struct BothWays(seq 1 -> seq 1) { bidirectional { gru(3) }, dense(1) }
    pub struct NoRecurrence(seq 1 -> seq 1) { dense(4), tanh, dense(1) }
}

/// `streams` series of `steps` steps of `per_step` values, one column each.
fn series(per_step: usize, steps: usize, streams: usize) -> DMatrix<f64> {
    DMatrix::from_fn(per_step * steps, streams, |r, j| {
        let (t, f) = ((r / per_step) as f64, (r % per_step) as f64);
        (0.3 * t + 1.7 * j as f64 + f).sin() + 0.1 * (0.05 * t * t).cos()
    })
}

#[test]
fn forward_over_chunks_with_the_state_carried_is_forward_over_the_whole_series() {
    let (steps, chunk, streams) = (12, 4, 3);
    let x = series(2, steps, streams);
    let mut whole = Series::<f64>::seeded(3);
    let all = whole.forward_view(x.as_view()).unwrap().into_owned();
    assert_eq!(all.shape(), (steps, streams));

    let mut chunked = Series::<f64>::seeded(3);
    assert_eq!(set_carry(&mut chunked, true).unwrap(), 3, "lstm, gru and the rnn inside residual");
    for c in 0..steps / chunk {
        let rows = x.rows(2 * chunk * c, 2 * chunk);
        let y = chunked.forward_view(rows).unwrap().into_owned();
        let expected = all.rows(chunk * c, chunk);
        assert!((&y - expected).amax() < 1e-14, "chunk {c}: {y} against {expected}");
    }

    // Without carrying, every chunk after the first starts from zeros and differs.
    let mut fresh = Series::<f64>::seeded(3);
    let second = fresh.forward_view(x.rows(2 * chunk, 2 * chunk)).unwrap().into_owned();
    assert!((&second - all.rows(chunk, chunk)).amax() > 1e-3);

    // A smaller batch carries its own samples; a larger one starts its new samples from zeros.
    set_carry(&mut chunked, true).unwrap();
    chunked.forward_view(x.view((0, 0), (2 * chunk, 2))).unwrap();
    let y = chunked.forward_view(x.view((2 * chunk, 0), (2 * chunk, 3))).unwrap().into_owned();
    assert!((y.columns(0, 2) - all.view((chunk, 0), (chunk, 2))).amax() < 1e-14);
    let alone = fresh.forward_view(x.view((2 * chunk, 2), (2 * chunk, 1))).unwrap().into_owned();
    assert!((y.column(2) - alone.column(0)).amax() < 1e-14);
}

#[test]
fn a_carried_state_is_set_back_only_with_its_size_and_bidirectional_layers_cannot_carry() {
    let mut net = BothWays::<f64>::seeded(0);
    assert_eq!(set_carry(&mut net, true).unwrap_err(), ShapeError::NoCarry { item: "0".into() });

    struct First(Option<Result<(), ShapeError>>);
    impl VisitMut<f64> for First {
        fn param(&mut self, _p: nn::ParamMut<'_, f64>) {}
        fn carry(&mut self, _name: &str, carry: Option<&mut Carry<f64>>) {
            if let (None, Some(c)) = (&self.0, carry) {
                assert_eq!(c.shape(), [2, 0, 8], "h and c of 8 features, nothing carried yet");
                self.0 = Some(c.set(3, &[0.0; 47]));
            }
        }
    }
    let mut first = First(None);
    Forecast::<f64>::seeded(0).visit_mut(&mut first);
    assert_eq!(first.0, Some(Err(ShapeError::CarryLen { expected: 48, found: 47 })));
}

/// A long series as consecutive chunks: 4 streams of 60 months in chunks of
/// 10, sample `i` chunk `i / 4` of stream `i % 4`; the target is the next value.
fn chunks() -> Dataset<f64> {
    let (streams, steps, chunk) = (4, 61, 10);
    let s = series(1, steps, streams);
    let n = (steps - 1) / chunk * streams;
    let x = DMatrix::from_fn(chunk, n, |t, i| s[(chunk * (i / streams) + t, i % streams)]);
    let y = DMatrix::from_fn(chunk, n, |t, i| s[(chunk * (i / streams) + t + 1, i % streams)]);
    Dataset::new(x, Labels::StepReal { values: y, per_step: 1 }).unwrap()
}

fn trainer<O: Optimizer<f64> + 'static>(optimizer: O) -> Trainer<f64> {
    Trainer::new(optimizer).loss(Loss::Mse).epochs(3).batch_size(4).carry_state().quiet()
}

fn bits(net: &Forecast<f64>) -> Vec<u64> {
    net.parameters().iter().flat_map(|p| p.value.iter().map(|v| v.to_bits())).collect()
}

/// Adam that copies the training state file as it stands before its
/// `at`-th step (the state after step `at - 1`, mid-epoch), as if the run
/// had been killed there.
struct CopyStateAt {
    adam: Adam<f64>,
    steps: usize,
    at: usize,
    from: PathBuf,
    to: PathBuf,
}

impl Optimizer<f64> for CopyStateAt {
    fn step_with(&mut self, visit: &mut dyn FnMut(&mut dyn VisitMut<f64>)) {
        self.steps += 1;
        if self.steps == self.at {
            std::fs::copy(&self.from, &self.to).unwrap();
        }
        self.adam.step_with(visit)
    }
    fn lr(&self) -> f64 {
        self.adam.lr()
    }
    fn set_lr(&mut self, lr: f64) {
        self.adam.set_lr(lr)
    }
    fn state(&self) -> Option<Snapshot<f64>> {
        self.adam.state()
    }
    fn set_state(&mut self, state: &Snapshot<f64>, lens: &[usize]) -> Result<(), StateError> {
        self.adam.set_state(state, lens)
    }
}

#[test]
fn a_run_resumed_mid_epoch_with_its_carried_state_ends_bit_for_bit_as_the_whole_run() {
    let data = chunks();
    assert_eq!(data.len(), 24, "6 batches an epoch");
    let mut whole = Forecast::<f64>::seeded(7);
    let all = trainer(Adam::new(0.01)).fit(&mut whole, &data, None).unwrap();

    // Carrying changes training: the same run without it ends elsewhere.
    let mut plain = Forecast::<f64>::seeded(7);
    Trainer::new(Adam::new(0.01)).loss(Loss::Mse).epochs(3).batch_size(4).quiet().fit(&mut plain, &data, None).unwrap();
    assert_ne!(bits(&plain), bits(&whole));

    let dir = std::env::temp_dir().join(format!("nn-tbptt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (state, killed) = (dir.join("state.safetensors"), dir.join("killed.safetensors"));
    // Step 10 of 18 is step 4 of epoch 2: the state before it is mid-epoch.
    let copying = CopyStateAt { adam: Adam::new(0.01), steps: 0, at: 10, from: state.clone(), to: killed.clone() };
    let mut first = Forecast::<f64>::seeded(7);
    trainer(copying).save_state(&state).save_state_every(1).fit(&mut first, &data, None).unwrap();

    let saved = TrainingState::read(&killed, &first).unwrap();
    assert_eq!((saved.epoch(), saved.step()), (2, 3));
    let carried = saved.carried().get("0.state").expect("the lstm's carried state");
    assert_eq!(carried.shape, [2, 4, 8], "h and c of the 4 streams");
    assert!(matches!(&carried.data, Data::Buffer(v) if v.iter().any(|x| *x != 0.0)));

    let mut resumed = Forecast::<f64>::seeded(99);
    let rest = trainer(Adam::new(0.01)).resume_from(&killed).fit(&mut resumed, &data, None).unwrap();
    assert_eq!(bits(&resumed), bits(&whole));
    let losses = |h: &History| h.epochs.iter().map(|e| e.train_loss.to_bits()).collect::<Vec<_>>();
    assert_eq!(losses(&rest), losses(&all));

    // A state with carried state is refused by a run that does not carry.
    let e = Trainer::new(Adam::new(0.01))
        .loss(Loss::Mse)
        .epochs(3)
        .batch_size(4)
        .quiet()
        .resume_from(&killed)
        .fit(&mut Forecast::<f64>::seeded(1), &data, None)
        .unwrap_err();
    assert!(e.to_string().contains("carry_state"), "{e}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn carrying_is_refused_without_recurrent_layers_with_bidirectional_ones_and_with_gradient_flow() {
    let data = chunks();
    let e = trainer(Adam::new(0.01)).fit(&mut NoRecurrence::<f64>::seeded(0), &data, None).unwrap_err();
    assert!(matches!(e, TrainError::Setup { problem } if problem.contains("recurrent layers")), "{e}");
    let e = trainer(Adam::new(0.01)).gradient_flow(1, chunks()).fit(&mut Forecast::<f64>::seeded(0), &data, None);
    assert!(matches!(e, Err(TrainError::Setup { problem }) if problem.contains("carry_state")));
    let e = trainer(Adam::new(0.01)).fit(&mut BothWays::<f64>::seeded(0), &data, None).unwrap_err();
    assert_eq!(e.to_string(), TrainError::from(ShapeError::NoCarry { item: "0".into() }).to_string());
}
