//! The training loop: seeded shuffling, mini-batches, loss (with auxiliary
//! heads), gradient norm and clipping, optimizer and schedule, validation,
//! early stopping, and a stop with the last good weights on non-finite values.

use std::path::PathBuf;
use std::time::Instant;

use nalgebra::DMatrix;
use rand::seq::SliceRandom;

use super::evaluate::evaluate;
use super::progress::Reporter;
use super::{EpochStats, History, Progress};
use crate::data::{DataError, Dataset, Labels, MiniBatch};
use crate::diagnostics::{DiagnosticsError, GradientFlow};
use crate::io::{save_safetensors, SaveError};
use crate::optim::{Optimizer, Schedule, Scheduler};
use crate::snapshot::Contents;
use crate::{first_non_finite_grad, grad_norm, seeded_rng, Clip, Float, Loss, LossError, Model, ShapeError, Snapshot};

/// Why training did not start or did not finish.
///
/// Each message is complete (it includes its cause's), and a cause that is an
/// error of its own ([`ShapeError`], [`DataError`], [`LossError`],
/// [`DiagnosticsError`], [`SaveError`]) is kept as the
/// [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// A dataset's samples have a different number of features than the
    /// network's input (for a sequence network: not a positive multiple of it).
    #[error("{what} has {found} features per sample but the network takes {expected}")]
    Width { what: &'static str, expected: usize, found: usize },
    /// A dataset's labels do not suit the loss or the network's outputs.
    #[error("{what}: {error}")]
    Targets {
        what: &'static str,
        #[source]
        error: LossError,
    },
    /// No training samples, or a batch size of zero.
    #[error("{what} is empty")]
    Empty { what: &'static str },
    /// The loss or a gradient became NaN or infinite at this step (epoch and
    /// step count from 1). `tensor` names the first parameter, in visiting
    /// order, whose gradient is not finite. The model keeps the weights and
    /// buffers from before the step.
    #[error(
        "non-finite values at epoch {epoch}, step {step} (loss {loss}); {}; \
         the weights from before this step are kept",
        match tensor {
            Some(t) => format!("first non-finite gradient in {t}"),
            None => "every gradient is finite".to_string(),
        }
    )]
    NonFinite { epoch: usize, step: usize, loss: f64, tensor: Option<String> },
    /// The model rejected a batch.
    #[error("{0}")]
    Shape(#[from] ShapeError),
    /// A dataset could not give a batch.
    #[error("{0}")]
    Data(#[from] DataError),
    /// A gradient-flow measurement ([`Trainer::gradient_flow`]) failed.
    #[error("{0}")]
    GradientFlow(#[from] DiagnosticsError),
    /// The checkpoint ([`Trainer::checkpoint`]) after this epoch could not be
    /// written. Training stops there: the model holds the weights that were
    /// being written (this epoch's, the best so far) and the checkpoint file
    /// is left as it was.
    #[error(
        "checkpoint after epoch {epoch} failed ({source}); the model holds that epoch's weights, \
         save them elsewhere"
    )]
    Checkpoint { epoch: usize, source: SaveError },
}

/// Trains any [`Model`] on a [`Dataset`].
///
/// A sequence model ([`Model::SEQUENCE`]) trains on a dataset whose samples
/// are whole sequences: each column holds `steps * INPUT` values, rows
/// `t*INPUT .. (t+1)*INPUT` being step `t` (all samples of one dataset have
/// the same number of steps). Clipping and optimizers see its parameters as
/// any other model's.
///
/// ```
/// use nn_runtime::data::{iris, stratified_split, Standardizer};
/// use nn_runtime::layers::Dense;
/// use nn_runtime::optim::Adam;
/// use nn_runtime::testing::LayerModel;
/// use nn_runtime::{seeded_rng, Init, Trainer};
///
/// let (mut train, mut val) = stratified_split(&iris::<f64>(), 0.2, 0)?;
/// let scaler = Standardizer::fit(&train)?;
/// scaler.apply(&mut train)?;
/// scaler.apply(&mut val)?;
/// // Multinomial logistic regression: one dense layer from 4 features to 3 classes.
/// let mut model = LayerModel::new(Dense::<f64, 4, 3>::new(&mut seeded_rng(0), Init::XavierNormal, true));
/// let mut trainer = Trainer::new(Adam::new(0.05)).epochs(30).batch_size(16).quiet();
/// let history = trainer.fit(&mut model, &train, Some(&val))?;
/// assert!(history.last().unwrap().val_accuracy.unwrap() > 0.85);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Trainer<T: Float> {
    optimizer: Box<dyn Optimizer<T>>,
    loss: Loss,
    epochs: usize,
    batch_size: usize,
    seed: u64,
    clip: Option<Clip>,
    scheduler: Option<Scheduler>,
    schedule_every_step: bool,
    patience: Option<usize>,
    progress: Progress,
    flow_probe: Option<(usize, Dataset<T>)>,
    checkpoint: Option<PathBuf>,
}

impl<T: Float> Trainer<T> {
    /// Softmax cross-entropy, 10 epochs, batches of 32, seed 0, no clipping,
    /// constant learning rate, no early stopping, progress on stderr.
    pub fn new(optimizer: impl Optimizer<T> + 'static) -> Self {
        Self {
            optimizer: Box::new(optimizer),
            loss: Loss::SoftmaxCrossEntropy,
            epochs: 10,
            batch_size: 32,
            seed: 0,
            clip: None,
            scheduler: None,
            schedule_every_step: false,
            patience: None,
            progress: Progress::Auto,
            flow_probe: None,
            checkpoint: None,
        }
    }
    pub fn loss(mut self, loss: Loss) -> Self {
        self.loss = loss;
        self
    }
    pub fn epochs(mut self, epochs: usize) -> Self {
        self.epochs = epochs;
        self
    }
    /// Samples per step; the last batch of an epoch keeps the remainder.
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }
    /// Seeds the shuffling: the same seed (and model) gives the same history.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Clips gradients before every optimizer step.
    pub fn clip(mut self, clip: Clip) -> Self {
        self.clip = Some(clip);
        self
    }
    /// A learning-rate schedule, advanced once per epoch from the optimizer's rate.
    pub fn schedule(mut self, schedule: Schedule) -> Self {
        self.scheduler = Some(Scheduler::new(schedule));
        self.schedule_every_step = false;
        self
    }
    /// A learning-rate schedule advanced after every optimizer step (warmup
    /// over steps); the history shows each epoch's first rate.
    pub fn schedule_per_step(mut self, schedule: Schedule) -> Self {
        self.scheduler = Some(Scheduler::new(schedule));
        self.schedule_every_step = true;
        self
    }
    /// Stops after `patience` epochs without a lower validation loss (training
    /// loss without validation data) and ends with the best epoch's weights.
    pub fn early_stopping(mut self, patience: usize) -> Self {
        self.patience = Some(patience);
        self
    }
    /// After every epoch that reaches a new lowest validation loss (training
    /// loss without validation data), writes the model's weights and buffers
    /// to `path` with [`crate::io::save_safetensors`]: atomically, so `path`
    /// always holds a complete checkpoint of the best epoch so far, even if
    /// the process dies while writing. [`History::best_epoch`] says which
    /// epoch it is. A failed write stops training with
    /// [`TrainError::Checkpoint`].
    pub fn checkpoint(mut self, path: impl Into<PathBuf>) -> Self {
        self.checkpoint = Some(path.into());
        self
    }
    pub fn progress(mut self, progress: Progress) -> Self {
        self.progress = progress;
        self
    }
    /// Measures [`GradientFlow`] on `probe` after every `every` epochs, with
    /// the update-to-weight ratios of that epoch's last step, into
    /// [`History::gradient_flows`]. Measuring leaves training as it was
    /// (gradients, running statistics and weights are untouched; only
    /// dropout's random stream advances); the measuring epochs copy the
    /// weights once, before their last step.
    pub fn gradient_flow(mut self, every: usize, probe: Dataset<T>) -> Self {
        self.flow_probe = Some((every, probe));
        self
    }
    /// No progress output.
    pub fn quiet(self) -> Self {
        self.progress(Progress::Quiet)
    }
    /// The optimizer, e.g. to read its learning rate.
    pub fn optimizer(&self) -> &dyn Optimizer<T> {
        &*self.optimizer
    }

    /// Checks that `data` fits the network and the loss before any step.
    fn check<M: Model<T>>(&self, what: &'static str, data: &Dataset<T>) -> Result<(), TrainError> {
        if !M::accepts_rows(data.width()) {
            return Err(TrainError::Width { what, expected: M::INPUT, found: data.width() });
        }
        let error = match (self.loss, data.labels()) {
            (Loss::SoftmaxCrossEntropy, Labels::Classes { indices, .. }) => indices
                .iter()
                .enumerate()
                .find(|(_, &c)| c >= M::OUTPUT)
                .map(|(sample, &class)| LossError::ClassOutOfRange { sample, class, classes: M::OUTPUT }),
            (Loss::SoftmaxCrossEntropy, Labels::Real(_)) => {
                Some(LossError::TargetKind { loss: self.loss, expected: "class indices" })
            }
            (_, Labels::Classes { .. }) => Some(LossError::TargetKind { loss: self.loss, expected: "real targets" }),
            (_, Labels::Real(t)) => (t.nrows() != M::OUTPUT).then(|| LossError::Shape {
                what: "targets",
                expected: (M::OUTPUT, t.ncols()),
                found: t.shape(),
            }),
        };
        error.map_or(Ok(()), |error| Err(TrainError::Targets { what, error }))
    }

    /// Trains `model` on `train`, measuring `validation` after every epoch.
    ///
    /// Optimizer state and the schedule carry over to a later call.
    pub fn fit<M: Model<T>>(
        &mut self,
        model: &mut M,
        train: &Dataset<T>,
        validation: Option<&Dataset<T>>,
    ) -> Result<History, TrainError> {
        self.check::<M>("training data", train)?;
        if let Some(v) = validation {
            self.check::<M>("validation data", v)?;
        }
        if train.is_empty() {
            return Err(TrainError::Empty { what: "training data" });
        }
        if self.batch_size == 0 {
            return Err(TrainError::Empty { what: "the batch size" });
        }
        if let Some((every, probe)) = &self.flow_probe {
            self.check::<M>("gradient-flow probe", probe)?;
            if probe.is_empty() {
                return Err(TrainError::Empty { what: "the gradient-flow probe" });
            }
            if *every == 0 {
                return Err(TrainError::Empty { what: "the gradient-flow interval (every 0 epochs)" });
            }
        }
        if let Some(s) = &mut self.scheduler {
            s.start(&mut *self.optimizer);
        }

        let mut rng = seeded_rng(self.seed);
        let mut order: Vec<usize> = (0..train.len()).collect();
        let width = self.batch_size.min(train.len());
        let mut batch = MiniBatch::default();
        let mut grad = DMatrix::<T>::zeros(M::OUTPUT, width);
        let mut aux_grad = DMatrix::<T>::zeros(M::OUTPUT, width);
        let mut before_step = Snapshot::new(Contents::Buffers);
        let mut best = Snapshot::new(Contents::State);
        let (mut best_metric, mut since_best) = (f64::INFINITY, 0);
        let mut history = History::default();
        let mut reporter = Reporter::new(self.progress);
        let steps = train.len().div_ceil(self.batch_size);

        for epoch in 1..=self.epochs {
            let started = Instant::now();
            let lr = self.optimizer.lr();
            order.shuffle(&mut rng);
            reporter.start_epoch(epoch, self.epochs, steps);
            let measure_flow = self.flow_probe.as_ref().is_some_and(|(every, _)| epoch % every == 0);
            let mut before_last_step = None;
            let mut loss_sum = 0.0;
            let mut norms = Vec::with_capacity(steps);
            for (s, chunk) in order.chunks(self.batch_size).enumerate() {
                let step = s + 1;
                let n = chunk.len();
                batch.fill(train, chunk)?;
                // Forward passes update running statistics: keep them to undo a bad step.
                before_step.capture(model);
                model.zero_grad();
                let targets_err = |error| TrainError::Targets { what: "training data", error };
                let outputs = model.forward_view(batch.inputs())?;
                let mut loss =
                    self.loss.value_and_grad(outputs, batch.targets(), grad.columns_mut(0, n)).map_err(targets_err)?;
                for head in 0..model.aux_heads() {
                    let Some((weight, out)) = model.aux_output(head) else { continue };
                    let mut g = aux_grad.columns_mut(0, n);
                    loss += weight
                        * self.loss.value_and_grad(out, batch.targets(), g.as_view_mut()).map_err(targets_err)?;
                    g *= T::of(weight);
                    model.set_aux_grad(head, aux_grad.columns(0, n))?;
                }
                model.backward_params_view(grad.columns(0, n))?;
                let norm = grad_norm(model);
                if !loss.is_finite() || !norm.is_finite() {
                    before_step.restore(model);
                    reporter.abort();
                    return Err(TrainError::NonFinite { epoch, step, loss, tensor: first_non_finite_grad(model) });
                }
                if let Some(clip) = self.clip {
                    clip.apply_with_norm(model, norm);
                }
                if measure_flow && step == steps {
                    before_last_step = Some(Snapshot::of(model));
                }
                self.optimizer.step_with(&mut |v| model.visit_mut(v));
                if let Some(s) = self.scheduler.as_mut().filter(|_| self.schedule_every_step) {
                    s.step(&mut *self.optimizer);
                }
                loss_sum += loss * n as f64;
                norms.push(norm);
                reporter.step(step, n, loss);
            }

            let eval = validation.map(|v| evaluate(model, self.loss, v)).transpose()?;
            if let Some(s) = self.scheduler.as_mut().filter(|_| !self.schedule_every_step) {
                s.step(&mut *self.optimizer);
            }
            let stats = EpochStats {
                epoch,
                train_loss: loss_sum / train.len() as f64,
                val_loss: eval.map(|e| e.loss),
                val_accuracy: eval.and_then(|e| e.accuracy),
                lr,
                grad_norm_mean: norms.iter().sum::<f64>() / steps as f64,
                grad_norm_max: norms.iter().copied().fold(0.0, f64::max),
                grad_norms: norms,
                seconds: started.elapsed().as_secs_f64(),
            };
            reporter.end_epoch(&stats, self.epochs);
            let metric = stats.val_loss.unwrap_or(stats.train_loss);
            history.epochs.push(stats);
            if let (Some((_, probe)), Some(before)) = (&self.flow_probe, &before_last_step) {
                let flow = GradientFlow::measure(model, probe.inputs(), probe.targets(), self.loss)
                    .and_then(|flow| flow.with_update(before, model))?;
                history.gradient_flows.push((epoch, flow));
            }

            if metric < best_metric && (self.patience.is_some() || self.checkpoint.is_some()) {
                best_metric = metric;
                since_best = 0;
                history.best_epoch = Some(epoch);
                if self.patience.is_some() {
                    best.capture(model);
                }
                if let Some(path) = &self.checkpoint {
                    save_safetensors(model, path).map_err(|source| TrainError::Checkpoint { epoch, source })?;
                }
            } else if let Some(patience) = self.patience {
                since_best += 1;
                if since_best >= patience {
                    history.stopped_early = epoch < self.epochs;
                    break;
                }
            }
        }
        if self.patience.is_some() && history.best_epoch.is_some() {
            best.restore(model);
        }
        Ok(history)
    }
}
