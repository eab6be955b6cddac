//! The training loop: seeded shuffling, mini-batches, loss (with auxiliary
//! heads), gradient norm and clipping, optimizer and schedule, validation and
//! its metrics, early stopping, ReduceLROnPlateau, callbacks, and a stop with
//! the last good weights on non-finite values.

use std::path::PathBuf;

use nalgebra::DMatrix;
use web_time::Instant;

use super::callback::{Callback, EpochEnd};
use super::evaluate::evaluate;
use super::monitor::{Metric, Needs};
use super::progress::Reporter;
use super::state::{carried, check_carried, restore_carried, ResumeError, Run, Setup, TrainingState};
use super::{EarlyStopping, EpochStats, History, Progress, ReduceLrOnPlateau};
use crate::data::{DataError, Dataset, Labels, MiniBatch};
use crate::diagnostics::{DiagnosticsError, GradientFlow};
use crate::io::{self, save_safetensors, SaveError};
use crate::optim::{Optimizer, Schedule, Scheduler};
use crate::rnn::{clear_carry, set_carry};
use crate::snapshot::Contents;
use crate::{
    clip::{first_non_finite_grad, grad_norm, Clip},
    error::ShapeError,
    kernels::Float,
    layer::{ParamRef, Visit},
    loss::{Loss, LossError},
    model::Model,
    snapshot::Snapshot,
};

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
    Width {
        /// Which dataset: "training data", "validation data" or "evaluation data".
        what: &'static str,
        /// Features of the network's input (per step, for a sequence network).
        expected: usize,
        /// Features per sample of the dataset.
        found: usize,
    },
    /// A dataset's labels do not suit the loss or the network's outputs.
    #[error("{what}: {error}")]
    Targets {
        /// Which dataset: "training data" or "validation data".
        what: &'static str,
        /// What does not fit.
        #[source]
        error: LossError,
    },
    /// No training samples, or a batch size of zero.
    #[error("{what} is empty")]
    Empty {
        /// What is empty or zero, e.g. "training data" or "the batch size".
        what: &'static str,
    },
    /// Parts of the trainer's configuration that cannot work together, found
    /// before the first step.
    #[error("{problem}")]
    Setup {
        /// What does not work together, and the fix.
        problem: &'static str,
    },
    /// A dataset whose samples or labels do not have the network's layout:
    /// sequences for a vector network, labels per step for one output per
    /// sequence, or the other way round.
    #[error("{what}: {problem}")]
    Layout {
        /// Which dataset.
        what: &'static str,
        /// How its layout differs from the network's.
        problem: &'static str,
    },
    /// Early stopping or ReduceLROnPlateau watches a metric that this run
    /// does not measure (found before the first step).
    #[error("{watcher} watches {metric}, which needs {needs}")]
    Unmeasured {
        /// What watches the metric: early stopping or ReduceLROnPlateau.
        watcher: &'static str,
        /// The metric watched.
        metric: Metric,
        /// What measuring it needs, e.g. validation data.
        needs: &'static str,
    },
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
    NonFinite {
        /// The epoch, from 1.
        epoch: usize,
        /// The step within the epoch, from 1.
        step: usize,
        /// The step's loss (it may be finite when a gradient is not).
        loss: f64,
        /// The first parameter, in visiting order, whose gradient is not finite; `None` when all are.
        tensor: Option<String>,
    },
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
    Checkpoint {
        /// The epoch, from 1, after which the checkpoint was written.
        epoch: usize,
        /// Why writing failed.
        source: SaveError,
    },
    /// The training state ([`Trainer::save_state`]) could not be written after
    /// this step of this epoch (step 0: after the epoch before). Training
    /// stops there; the state file is left as it was.
    #[error("writing the training state at epoch {epoch}, step {step} failed ({source}); training stopped there")]
    SaveState {
        /// The epoch, from 1.
        epoch: usize,
        /// The step within the epoch (0: after the epoch before).
        step: usize,
        /// Why writing failed.
        source: SaveError,
    },
    /// The checkpoint or the training state cannot be written where asked
    /// (the path is a folder, or its folder is read-only or missing); found
    /// before the first step.
    #[error("the {what} cannot be written: {source}")]
    Unwritable {
        /// What cannot be written: "checkpoint" or "training state".
        what: &'static str,
        /// Why not.
        source: SaveError,
    },
    /// The state to resume from ([`Trainer::resume_from`]) could not be read,
    /// or belongs to another network or run. Nothing was changed.
    #[error("cannot resume from {}: {source}", path.display())]
    Resume {
        /// The state file.
        path: PathBuf,
        /// Why it cannot be resumed from.
        source: Box<ResumeError>,
    },
}

/// Trains any [`Model`] on a [`Dataset`].
///
/// A sequence model ([`Model::SEQUENCE`]) trains on a dataset whose samples
/// are whole sequences: each column holds `steps * INPUT` values, rows
/// `t*INPUT .. (t+1)*INPUT` being step `t` (all samples of one dataset have
/// the same number of steps). Clipping and optimizers see its parameters as
/// any other model's.
///
/// After every epoch, in this order: the validation metrics are measured, an
/// epoch-wise [`Schedule`] steps, the epoch is added to the [`History`] and
/// reported, [`EarlyStopping`] and the [`checkpoint`](Trainer::checkpoint)
/// look at their metric, [`ReduceLrOnPlateau`] at its own, and then the
/// [callbacks](Trainer::on_epoch_end) run, which may change the learning
/// rate or stop.
///
/// ```
/// # #[cfg(feature = "datasets")] fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # use nn_runtime as nn;
/// use nn::data::{iris, stratified_split, Standardizer};
/// use nn::layers::Dense;
/// use nn::optim::Adam;
/// use nn::testing::LayerModel;
/// use nn::{seeded_rng, Init, Trainer};
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
/// # Ok(()) }
/// # #[cfg(not(feature = "datasets"))] fn main() {}
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
    stopping: Option<EarlyStopping>,
    plateau: Option<ReduceLrOnPlateau>,
    callbacks: Vec<Callback>,
    progress: Progress,
    flow_probe: Option<(usize, Dataset<T>)>,
    checkpoint: Option<PathBuf>,
    state: Option<PathBuf>,
    state_every: Option<usize>,
    resume: Option<PathBuf>,
    carry: bool,
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
            stopping: None,
            plateau: None,
            callbacks: Vec::new(),
            progress: Progress::Auto,
            flow_probe: None,
            checkpoint: None,
            state: None,
            state_every: None,
            resume: None,
            carry: false,
        }
    }
    /// The loss to minimize (softmax cross-entropy by default).
    pub fn loss(mut self, loss: Loss) -> Self {
        self.loss = loss;
        self
    }
    /// Passes over the training data (10 by default).
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
    /// Stops when a metric has stopped improving and ends with the best
    /// epoch's weights: `early_stopping(5)` watches the validation loss
    /// (training loss without validation data) for 5 epochs; an
    /// [`EarlyStopping`] chooses the metric, its direction and `min_delta`.
    pub fn early_stopping(mut self, stopping: impl Into<EarlyStopping>) -> Self {
        self.stopping = Some(stopping.into());
        self
    }
    /// Lowers the learning rate when its metric has stopped improving
    /// ([`ReduceLrOnPlateau`]). It sets the rate itself, so it does not go
    /// with a [`Schedule`]: `fit` refuses the two together.
    pub fn reduce_lr_on_plateau(mut self, plateau: ReduceLrOnPlateau) -> Self {
        self.plateau = Some(plateau);
        self
    }
    /// Calls `callback` after every epoch (after early stopping and the
    /// plateau check) with the history so far; it may change the learning
    /// rate or stop training ([`EpochEnd`]). Callbacks run in the order they
    /// were added, each seeing the rate the previous one set.
    pub fn on_epoch_end(mut self, callback: impl FnMut(&mut EpochEnd<'_>) + 'static) -> Self {
        self.callbacks.push(Box::new(callback));
        self
    }
    /// After every epoch that improves the watched metric (the early
    /// stopping's, else the validation loss, else the training loss), writes
    /// the model's weights and buffers to `path` with
    /// [`crate::io::save_safetensors`]: atomically, so `path` always holds a
    /// complete checkpoint of the best epoch so far, even if the process dies
    /// while writing. [`History::best_epoch`] says which epoch it is. A failed
    /// write stops training with [`TrainError::Checkpoint`].
    pub fn checkpoint(mut self, path: impl Into<PathBuf>) -> Self {
        self.checkpoint = Some(path.into());
        self
    }
    /// After every epoch, and with [`Trainer::save_state_every`] every that
    /// many steps within one, writes the whole training state
    /// ([`TrainingState`]: weights, buffers, dropout generators, optimizer
    /// state, schedule and plateau positions, epoch and step, shuffling
    /// generator and sample order, early-stopping state, history) to `path`,
    /// atomically. A run that dies goes on from the last state with
    /// [`Trainer::resume_from`] exactly as it would have: the same weights,
    /// optimizer state and history, bit for bit. Not with
    /// [`Trainer::gradient_flow`], whose measurements are not saved.
    ///
    /// ```
    /// # #[cfg(feature = "datasets")] fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use nn_runtime as nn;
    /// use nn::data::iris;
    /// use nn::optim::Adam;
    /// use nn::testing::LayerModel;
    /// use nn::{seeded_rng, Dense, Init, Trainer};
    ///
    /// let path = std::env::temp_dir().join(format!("nn-doc-state-{}.safetensors", std::process::id()));
    /// let data = iris::<f64>();
    /// let net = || LayerModel::new(Dense::<f64, 4, 3>::new(&mut seeded_rng(0), Init::XavierNormal, true));
    /// let trainer = || Trainer::new(Adam::new(0.01)).batch_size(16).quiet();
    ///
    /// // Six epochs in one go...
    /// let mut whole = net();
    /// let all = trainer().epochs(6).fit(&mut whole, &data, None)?;
    /// // ...and three, then three more from the saved state, in a new trainer and network.
    /// trainer().epochs(3).save_state(&path).fit(&mut net(), &data, None)?;
    /// let mut resumed = net();
    /// let rest = trainer().epochs(6).resume_from(&path).fit(&mut resumed, &data, None)?;
    /// assert_eq!(rest.epochs.len(), 6);
    /// assert_eq!(rest.last().unwrap().train_loss, all.last().unwrap().train_loss);
    /// assert_eq!(resumed.layer.weight(), whole.layer.weight());
    /// # std::fs::remove_file(&path)?;
    /// # Ok(()) }
    /// # #[cfg(not(feature = "datasets"))] fn main() {}
    /// ```
    pub fn save_state(mut self, path: impl Into<PathBuf>) -> Self {
        self.state = Some(path.into());
        self
    }
    /// With [`Trainer::save_state`], also writes the state after every
    /// `steps` steps within an epoch.
    pub fn save_state_every(mut self, steps: usize) -> Self {
        self.state_every = Some(steps);
        self
    }
    /// The next [`Trainer::fit`] starts from the state in `path` (written by
    /// [`Trainer::save_state`]) instead of the beginning: the model, the
    /// optimizer, schedule, plateau and early stopping, the epoch and step,
    /// and the history are put back first, then training goes on to
    /// [`Trainer::epochs`]. Build the trainer as the one that wrote the state
    /// (optimizer, loss, batch size, seed, schedule, early stopping, ...):
    /// the network, the loss, the batch size, the seed and the number of
    /// training samples are checked, and a state that does not fit stops
    /// `fit` with [`TrainError::Resume`] before anything is changed.
    pub fn resume_from(mut self, path: impl Into<PathBuf>) -> Self {
        self.resume = Some(path.into());
        self
    }
    /// How progress is shown: a bar, lines, or nothing ([`Progress`]).
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
    /// Truncated backpropagation through time across batches, for one long
    /// series cut into consecutive chunks: the samples are taken in their
    /// order, unshuffled, and batch `b + 1`'s sample `j` continues batch `b`'s
    /// sample `j` (with batches of `B`, sample `i` of the data set is chunk
    /// `i / B` of stream `i % B`). Each recurrent layer starts a training
    /// forward from the state its sample ended the previous batch with,
    /// detached (the gradient stops at the chunk's start); each epoch starts
    /// from zeros. Evaluation starts from zeros. The training state
    /// ([`Trainer::save_state`]) holds the carried state, so a resumed run
    /// goes on exactly. A network with `bidirectional` is refused, as is one
    /// without recurrent layers. See [`Carry`](crate::rnn::Carry).
    pub fn carry_state(mut self) -> Self {
        self.carry = true;
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
        let per_step = matches!(data.labels(), Labels::StepClasses { .. } | Labels::StepReal { .. });
        let problem = if data.lengths().is_some() && !M::SEQUENCE {
            Some("its samples are sequences of different lengths, but the network takes vectors")
        } else if per_step && !M::PER_STEP {
            Some("its labels are per time step, but the network gives one output per sequence (declare `-> seq M`)")
        } else if !per_step && M::PER_STEP {
            Some("its labels are one per sample, but the network gives an output per time step (label every step)")
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(TrainError::Layout { what, problem });
        }
        let error = match (self.loss, data.labels()) {
            (Loss::SoftmaxCrossEntropy, Labels::Classes { indices, .. }) => indices
                .iter()
                .enumerate()
                .find(|(_, &c)| c >= M::OUTPUT)
                .map(|(sample, &class)| LossError::ClassOutOfRange { sample, class, classes: M::OUTPUT }),
            (Loss::SoftmaxCrossEntropy, Labels::StepClasses { indices, .. }) => {
                let (lengths, steps) = (data.lengths().unwrap_or_default(), data.steps().unwrap_or(0));
                lengths.iter().enumerate().find_map(|(sample, &length)| {
                    let real = &indices[sample * steps..sample * steps + length];
                    real.iter().position(|&c| c >= M::OUTPUT).map(|step| LossError::StepClassOutOfRange {
                        sample,
                        step,
                        class: real[step],
                        classes: M::OUTPUT,
                    })
                })
            }
            (Loss::SoftmaxCrossEntropy, Labels::Real(_) | Labels::StepReal { .. }) => {
                Some(LossError::TargetKind { loss: self.loss, expected: "class indices" })
            }
            (_, Labels::Classes { .. } | Labels::StepClasses { .. }) => {
                Some(LossError::TargetKind { loss: self.loss, expected: "real targets" })
            }
            (_, Labels::Real(t)) => (t.nrows() != M::OUTPUT).then(|| LossError::Shape {
                what: "targets",
                expected: (M::OUTPUT, t.ncols()),
                found: t.shape(),
            }),
            (_, Labels::StepReal { values, per_step }) => (*per_step != M::OUTPUT).then(|| LossError::Shape {
                what: "targets per step",
                expected: (M::OUTPUT, values.ncols()),
                found: (*per_step, values.ncols()),
            }),
        };
        error.map_or(Ok(()), |error| Err(TrainError::Targets { what, error }))
    }

    /// Checks that `watcher`'s `metric` will be measured with this loss and
    /// `validation` data.
    fn check_metric(
        &self,
        watcher: &'static str,
        metric: Metric,
        validation: Option<&Dataset<T>>,
    ) -> Result<(), TrainError> {
        let binary = self.loss == Loss::BinaryCrossEntropyWithLogits;
        let (measured, needs) = match (metric.needs(), validation.map(Dataset::labels)) {
            (None, _) => return Ok(()),
            (Some(Needs::Validation), v) => (v.is_some(), "validation data"),
            (Some(Needs::Classes), v) => (
                matches!(v, Some(Labels::Classes { .. } | Labels::StepClasses { .. })) || (binary && v.is_some()),
                "validation data with class labels (or binary cross-entropy targets)",
            ),
            (Some(Needs::RealTargets), v) => (
                matches!(v, Some(Labels::Real(_) | Labels::StepReal { .. })) && !binary,
                "validation data with real targets",
            ),
        };
        if measured {
            Ok(())
        } else {
            Err(TrainError::Unmeasured { watcher, metric, needs })
        }
    }

    /// Everything that can be checked before the first step.
    fn check_setup<M: Model<T>>(&self, train: &Dataset<T>, validation: Option<&Dataset<T>>) -> Result<(), TrainError> {
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
            if self.carry {
                // Its training forward would start from, and overwrite, the carried state.
                let problem = "gradient_flow cannot measure while carry_state carries the state between batches";
                return Err(TrainError::Setup { problem });
            }
            self.check::<M>("gradient-flow probe", probe)?;
            if probe.lengths().is_some() {
                let problem = "the gradient-flow probe holds sequences of different lengths, which it does not measure";
                return Err(TrainError::Setup { problem });
            }
            if probe.is_empty() {
                return Err(TrainError::Empty { what: "the gradient-flow probe" });
            }
            if *every == 0 {
                return Err(TrainError::Empty { what: "the gradient-flow interval (every 0 epochs)" });
            }
        }
        if let Some(stopping) = &self.stopping {
            self.check_metric("early stopping", stopping.metric(), validation)?;
        }
        if let Some(path) = &self.state {
            let problem = if self.flow_probe.is_some() {
                Some("gradient-flow measurements are not part of a training state; measure in a run without save_state")
            } else if self.optimizer.state().is_none() {
                Some("this optimizer cannot save its state (Optimizer::state), so a training state cannot be written")
            } else {
                None
            };
            if let Some(problem) = problem {
                return Err(TrainError::Setup { problem });
            }
            if self.state_every == Some(0) {
                return Err(TrainError::Empty { what: "the training-state interval (every 0 steps)" });
            }
            io::check_writable(path).map_err(|source| TrainError::Unwritable { what: "training state", source })?;
        } else if self.state_every.is_some() {
            return Err(TrainError::Setup { problem: "save_state_every needs save_state(path)" });
        }
        if let Some(path) = &self.checkpoint {
            io::check_writable(path).map_err(|source| TrainError::Unwritable { what: "checkpoint", source })?;
        }
        if let Some(plateau) = &self.plateau {
            self.check_metric("ReduceLrOnPlateau", plateau.metric(), validation)?;
            plateau.check().map_err(|problem| TrainError::Setup { problem })?;
            if self.scheduler.is_some() {
                let problem = "ReduceLrOnPlateau and a learning-rate schedule both set the rate; choose one";
                return Err(TrainError::Setup { problem });
            }
        }
        Ok(())
    }

    /// Trains `model` on `train`, measuring `validation` after every epoch.
    ///
    /// Optimizer state, the schedule and ReduceLROnPlateau's state carry over
    /// to a later call.
    pub fn fit<M: Model<T>>(
        &mut self,
        model: &mut M,
        train: &Dataset<T>,
        validation: Option<&Dataset<T>>,
    ) -> Result<History, TrainError> {
        self.check_setup::<M>(train, validation)?;
        if self.carry && set_carry(model, true)? == 0 {
            return Err(TrainError::Setup { problem: "carry_state needs a network with recurrent layers" });
        }
        let fitted = self.train(model, train, validation);
        if self.carry {
            set_carry(model, false)?;
        }
        fitted
    }

    /// [`Trainer::fit`] after its checks.
    fn train<M: Model<T>>(
        &mut self,
        model: &mut M,
        train: &Dataset<T>,
        validation: Option<&Dataset<T>>,
    ) -> Result<History, TrainError> {
        if let Some(s) = &mut self.scheduler {
            s.start(&mut *self.optimizer);
        }
        let mut run = Run::start(self.seed, train.len(), self.watch().worst());
        if let Some(path) = self.resume.take() {
            let resumed = TrainingState::read(&path, model).and_then(|state| self.restore(state, model, &mut run));
            resumed.map_err(|source| TrainError::Resume { path, source: Box::new(source) })?;
            // A run killed while it wrote its state or its best weights left
            // that file's temporary beside it.
            for path in [&self.state, &self.checkpoint].into_iter().flatten() {
                io::remove_temporaries(path);
            }
        }
        let mut reporter = Reporter::new(self.progress);
        // Outputs per step come padded to the longest sequence of the batch.
        let rows = M::OUTPUT * if M::PER_STEP { train.steps().unwrap_or(1) } else { 1 };
        let mut buffers = Buffers::new(rows, self.batch_size.min(train.len()));
        let steps = train.len().div_ceil(self.batch_size);

        while !run.stopped && run.epoch <= self.epochs {
            let started = Instant::now();
            if run.step == 0 {
                run.begin_epoch(self.optimizer.lr(), !self.carry);
                if self.carry {
                    clear_carry(model);
                } else if let Some(lengths) = train.lengths() {
                    bucket(&mut run.order, lengths, self.batch_size, &mut run.rng);
                }
            }
            reporter.start_epoch(run.epoch, self.epochs, steps, run.step);
            let measure_flow = self.flow_probe.as_ref().is_some_and(|(every, _)| run.epoch % every == 0);
            let mut before_last_step = None;
            while run.step < steps {
                let start = run.step * self.batch_size;
                let chunk = &run.order[start..(start + self.batch_size).min(run.order.len())];
                let n = chunk.len();
                if measure_flow && run.step + 1 == steps {
                    // Filled inside the step, after clipping.
                    before_last_step = Some(Snapshot::new(Contents::State));
                }
                let taken =
                    self.step(model, train, chunk, &mut buffers, (run.epoch, run.step + 1), &mut before_last_step);
                let (loss, norm) = match taken {
                    Ok(taken) => taken,
                    Err(e) => {
                        reporter.abort();
                        return Err(e);
                    }
                };
                run.step += 1;
                run.loss_sum += loss * n as f64;
                run.norms.push(norm);
                reporter.step(run.epoch, self.epochs, run.step, n, loss);
                if run.step < steps && self.state_every.is_some_and(|every| run.step % every == 0) {
                    let seconds = run.seconds_before_resume + started.elapsed().as_secs_f64();
                    self.save_state_file(model, &run, train.len(), seconds)?;
                }
            }

            let eval = validation.map(|v| evaluate(model, self.loss, v)).transpose()?;
            if let Some(s) = self.scheduler.as_mut().filter(|_| !self.schedule_every_step) {
                s.step(&mut *self.optimizer);
            }
            let norms = std::mem::take(&mut run.norms);
            let confusion = eval.as_ref().and_then(|e| e.confusion.as_ref());
            let stats = EpochStats {
                epoch: run.epoch,
                train_loss: run.loss_sum / train.len() as f64,
                val_loss: eval.as_ref().map(|e| e.loss),
                val_accuracy: eval.as_ref().and_then(|e| e.accuracy),
                val_precision: confusion.map(|c| c.macro_precision()),
                val_recall: confusion.map(|c| c.macro_recall()),
                val_f1: confusion.map(|c| c.macro_f1()),
                val_mae: eval.as_ref().and_then(|e| e.mae),
                val_rmse: eval.as_ref().and_then(|e| e.rmse),
                lr: run.lr,
                grad_norm_mean: norms.iter().sum::<f64>() / steps as f64,
                grad_norm_max: norms.iter().copied().fold(0.0, f64::max),
                grad_norms: norms,
                seconds: started.elapsed().as_secs_f64() + run.seconds_before_resume,
                padding: train.lengths().map(|lengths| padding(&run.order, lengths, self.batch_size)),
            };
            reporter.end_epoch(&stats, self.epochs);
            run.history.epochs.push(stats);
            if let (Some((_, probe)), Some(before)) = (&self.flow_probe, &before_last_step) {
                let flow = GradientFlow::measure(model, probe.inputs(), probe.targets(), self.loss)
                    .and_then(|flow| flow.with_update(before, model))?;
                run.history.gradient_flows.push((run.epoch, flow));
            }
            run.stopped = self.end_epoch(model, &mut run)?;
            run.finish_epoch();
            self.save_state_file(model, &run, train.len(), 0.0)?;
        }
        if self.stopping.is_some() && run.history.best_epoch.is_some() {
            run.best.restore(model);
        }
        // Decided here, not when patience ran out: a resumed run may have
        // more epochs than the one that stopped.
        let last = run.history.last().map_or(0, |e| e.epoch);
        run.history.stopped_early = run.patience_ran_out && last < self.epochs;
        Ok(run.history)
    }

    /// What a training state must agree on with the run resuming it.
    fn setup<M: Model<T>>(&self, samples: usize) -> Setup {
        let loss = format!("{:?}", self.loss);
        Setup { network: M::NAME.to_string(), loss, batch_size: self.batch_size, seed: self.seed, samples }
    }

    /// Writes the training state, if asked for, as it stands after `run.step`
    /// steps of `run.epoch`, `seconds` into the epoch.
    fn save_state_file<M: Model<T>>(
        &self,
        model: &M,
        run: &Run<T>,
        samples: usize,
        seconds: f64,
    ) -> Result<(), TrainError> {
        let Some(path) = &self.state else { return Ok(()) };
        let state = TrainingState {
            model: Snapshot::training(model),
            // `check_setup` refused an optimizer without a state.
            optimizer: self.optimizer.state().unwrap_or_else(Snapshot::empty),
            setup: self.setup::<M>(samples),
            run: Run { seconds_before_resume: seconds, ..run.clone() },
            lr: self.optimizer.lr(),
            schedule: self.scheduler.as_ref().map(Scheduler::position),
            plateau: self.plateau.as_ref().map(ReduceLrOnPlateau::state),
            carried: carried(model),
        };
        let saved = state.to_bytes().map_err(|e| e.at(path)).and_then(|bytes| io::write_atomically(path, &bytes));
        saved.map_err(|source| TrainError::SaveState { epoch: run.epoch, step: run.step, source })
    }

    /// Puts `state` back into `model`, this trainer and `run`, after checking
    /// that it belongs to this run; on error nothing is changed.
    fn restore<M: Model<T>>(
        &mut self,
        state: TrainingState<T>,
        model: &mut M,
        run: &mut Run<T>,
    ) -> Result<(), ResumeError> {
        let now = self.setup::<M>(run.order.len());
        let saved = &state.setup;
        let value = |what: &str, v: &dyn std::fmt::Display| format!("{what} {v}");
        let presence = |what: &str, on: bool| if on { what.to_string() } else { format!("no {what}") };
        let checks = [
            ("network", value("network", &saved.network), value("network", &now.network)),
            ("loss", value("loss", &saved.loss), value("loss", &now.loss)),
            ("batch size", value("batch size", &saved.batch_size), value("batch size", &now.batch_size)),
            ("seed", value("seed", &saved.seed), value("seed", &now.seed)),
            ("training samples", value("training samples:", &saved.samples), value("training samples:", &now.samples)),
            (
                "schedule",
                presence("learning-rate schedule", state.schedule.is_some()),
                presence("learning-rate schedule", self.scheduler.is_some()),
            ),
            (
                "ReduceLrOnPlateau",
                presence("ReduceLrOnPlateau", state.plateau.is_some()),
                presence("ReduceLrOnPlateau", self.plateau.is_some()),
            ),
            // Best weights exist once an epoch was best: a state without
            // them yet fits a run with or without early stopping.
            (
                "early stopping",
                presence("early stopping", state.has_best()),
                presence("early stopping", state.has_best() && self.stopping.is_some()),
            ),
        ];
        if let Some((what, saved, now)) = checks.into_iter().find(|(_, saved, now)| saved != now) {
            return Err(ResumeError::Mismatch { what, saved, now });
        }
        if state.run.order.len() != run.order.len() || state.run.step > run.order.len().div_ceil(self.batch_size) {
            return Err(ResumeError::Field { field: "order" });
        }
        if !self.carry && !state.carried.entries().is_empty() {
            let (saved, now) = ("carry_state".to_string(), "no carry_state".to_string());
            return Err(ResumeError::Mismatch { what: "carry_state", saved, now });
        }
        check_carried(&state.carried, model)?;
        let mut lens = Lens(Vec::new());
        model.visit(&mut lens);
        self.optimizer.set_state(&state.optimizer, &lens.0)?;

        // Everything fits: put it back.
        state.model.restore(model);
        restore_carried(&state.carried, model);
        self.optimizer.set_lr(state.lr);
        if let (Some(s), Some(position)) = (&mut self.scheduler, state.schedule) {
            s.set_position(position);
        }
        if let (Some(p), Some(position)) = (&mut self.plateau, state.plateau) {
            p.set_state(position);
        }
        *run = state.run;
        Ok(())
    }

    /// One optimizer step on the samples `chunk` of `train` at (epoch, step):
    /// the mean loss and the global gradient norm before clipping. A
    /// non-finite one leaves the model as it was before the step. With
    /// `before_update` set, the weights just before the update are copied into it.
    fn step<M: Model<T>>(
        &mut self,
        model: &mut M,
        train: &Dataset<T>,
        chunk: &[usize],
        b: &mut Buffers<T>,
        (epoch, step): (usize, usize),
        before_update: &mut Option<Snapshot<T>>,
    ) -> Result<(f64, f64), TrainError> {
        let n = chunk.len();
        b.batch.fill(train, chunk)?;
        // Forward passes update running statistics: keep them to undo a bad step.
        b.before_step.capture(model);
        model.zero_grad();
        let targets_err = |error| TrainError::Targets { what: "training data", error };
        let outputs = match b.batch.lengths() {
            Some(lengths) => model.forward_seq_view(b.batch.inputs(), lengths)?,
            None => model.forward_view(b.batch.inputs())?,
        };
        let shape = outputs.shape();
        let grad = b.grad.view_mut((0, 0), shape);
        let mut loss = self.loss.value_and_grad(outputs, b.batch.targets(), grad).map_err(targets_err)?;
        for head in 0..model.aux_heads() {
            let Some((weight, out)) = model.aux_output(head) else { continue };
            let mut g = b.aux_grad.view_mut((0, 0), out.shape());
            loss += weight * self.loss.value_and_grad(out, b.batch.targets(), g.as_view_mut()).map_err(targets_err)?;
            g *= T::of(weight);
            model.set_aux_grad(head, b.aux_grad.columns(0, n))?;
        }
        model.backward_params_view(b.grad.view((0, 0), shape))?;
        let norm = grad_norm(model);
        if !loss.is_finite() || !norm.is_finite() {
            b.before_step.restore(model);
            return Err(TrainError::NonFinite { epoch, step, loss, tensor: first_non_finite_grad(model) });
        }
        if let Some(clip) = self.clip {
            clip.apply_with_norm(model, norm);
        }
        if let Some(before) = before_update {
            before.capture(model);
        }
        self.optimizer.step_with(&mut |v| model.visit_mut(v));
        if let Some(s) = self.scheduler.as_mut().filter(|_| self.schedule_every_step) {
            s.step(&mut *self.optimizer);
        }
        Ok((loss, norm))
    }

    /// What decides the best epoch: the early stopping, or without it the
    /// default metric with no patience limit (for the checkpoint).
    fn watch(&self) -> EarlyStopping {
        self.stopping.unwrap_or(EarlyStopping::new(usize::MAX))
    }

    /// After the epoch's stats are in the history: the watched metric (best
    /// weights, checkpoint, early stopping), the plateau check and the
    /// callbacks. Returns whether training stops.
    fn end_epoch<M: Model<T>>(&mut self, model: &M, run: &mut Run<T>) -> Result<bool, TrainError> {
        let epoch = run.epoch;
        let stats = run.history.epochs.last().expect("the epoch was just recorded");
        let mut stop = false;
        if self.stopping.is_some() || self.checkpoint.is_some() {
            let watch = self.watch();
            // `check_setup` made sure the metric is measured.
            let value = watch.metric().of(stats).unwrap_or(f64::NAN);
            if watch.improves(value, run.best_value) {
                run.best_value = value;
                run.since_best = 0;
                run.history.best_epoch = Some(epoch);
                if self.stopping.is_some() {
                    run.best.capture(model);
                }
                if let Some(path) = &self.checkpoint {
                    save_safetensors(model, path).map_err(|source| TrainError::Checkpoint { epoch, source })?;
                }
            } else if let Some(stopping) = self.stopping {
                run.since_best += 1;
                if run.since_best >= stopping.patience() {
                    run.patience_ran_out = true;
                    stop = true;
                }
            }
        }
        let stats = run.history.epochs.last().expect("the epoch was just recorded");
        if let Some(plateau) = &mut self.plateau {
            let value = plateau.metric().of(stats).unwrap_or(f64::NAN);
            plateau.step(value, &mut *self.optimizer);
        }
        if !self.callbacks.is_empty() {
            let mut end = EpochEnd::new(&run.history, self.optimizer.lr());
            for callback in &mut self.callbacks {
                callback(&mut end);
            }
            let (lr, stopped) = end.outcome();
            self.optimizer.set_lr(lr);
            if stopped {
                run.history.stopped_by_callback = true;
                stop = true;
            }
        }
        Ok(stop)
    }
}

/// The buffers of a step, kept across steps so that a step allocates nothing.
struct Buffers<T: Float> {
    batch: MiniBatch<T>,
    grad: DMatrix<T>,
    aux_grad: DMatrix<T>,
    /// The buffers before the step, to undo a step that went non-finite.
    before_step: Snapshot<T>,
}

impl<T: Float> Buffers<T> {
    /// For outputs of at most `rows` rows and batches of at most `width` samples.
    fn new(rows: usize, width: usize) -> Self {
        Self {
            batch: MiniBatch::default(),
            grad: DMatrix::zeros(rows, width),
            aux_grad: DMatrix::zeros(rows, width),
            before_step: Snapshot::new(Contents::Buffers),
        }
    }
}

/// Bucketing: groups sequences of similar length into the same batches, so
/// that a batch's padding (its longest sequence against the others) costs
/// little, while the epoch stays shuffled. The shuffled `order` is cut into
/// windows of [`BUCKET_BATCHES`] batches, each window sorted longest first
/// and cut into batches; then the full batches trade places at random (the
/// last, smaller one stays last).
fn bucket(order: &mut [usize], lengths: &[usize], batch: usize, rng: &mut impl rand::Rng) {
    use rand::seq::SliceRandom;
    let window = batch * BUCKET_BATCHES;
    for part in order.chunks_mut(window) {
        part.sort_by_key(|&i| std::cmp::Reverse(lengths[i]));
    }
    let full = order.len() / batch;
    let mut batches: Vec<usize> = (0..full).collect();
    batches.shuffle(rng);
    let shuffled: Vec<usize> =
        batches.iter().flat_map(|&b| order[b * batch..(b + 1) * batch].iter().copied()).collect();
    order[..full * batch].copy_from_slice(&shuffled);
}

/// Batches per window that [`bucket`] sorts by length: a larger window pads
/// less but mixes less.
const BUCKET_BATCHES: usize = 16;

/// The share of padding in an epoch's batches: each batch padded to its
/// longest sequence, against its real steps.
fn padding(order: &[usize], lengths: &[usize], batch: usize) -> f64 {
    let (mut padded, mut real) = (0usize, 0usize);
    for part in order.chunks(batch.max(1)) {
        let longest = part.iter().map(|&i| lengths[i]).max().unwrap_or(0);
        padded += longest * part.len();
        real += part.iter().map(|&i| lengths[i]).sum::<usize>();
    }
    if padded == 0 {
        0.0
    } else {
        1.0 - real as f64 / padded as f64
    }
}

/// The number of values of each parameter, in visiting order.
struct Lens(Vec<usize>);

impl<T> Visit<T> for Lens {
    fn param(&mut self, p: ParamRef<'_, T>) {
        self.0.push(p.value.len());
    }
}
