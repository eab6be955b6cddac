//! Where a training run stands ([`Run`]), and the whole of it in one
//! safetensors file ([`TrainingState`]), so that a run killed at any moment
//! resumes exactly as it would have gone on.
//!
//! The file's tensors are the model's parameters, buffers and dropout
//! generators under `model.`, the early-stopping best weights under `best.`,
//! the optimizer's state under `optimizer.`, the recurrent state carried
//! to the next batch under `carried.` ([`Trainer::carry_state`](crate::train::Trainer::carry_state)), and the trainer's shuffling
//! generator as `trainer.rng`; the rest (epoch and step, sample order, the
//! epoch's running sums, schedule and plateau positions, early-stopping
//! counters, the history as CSV) is JSON in the `training_state` metadata
//! entry, floats written in Rust's shortest exact form.

use std::path::Path;

use rand::seq::SliceRandom;
use safetensors::Dtype;
use serde_json::{json, Map, Value};

use super::plateau::PlateauState;
use super::History;
use crate::io::{bytes_into_snapshot, read_file, read_header, snapshot_to_bytes, LoadError, SaveError};
use crate::layer::NamePath;
use crate::optim::StateError;
use crate::rnn::Carry;
use crate::snapshot::{Contents, Data, Entry, RNG_BYTES};
use crate::{
    init::{seeded_rng, SeededRng},
    kernels::Float,
    layer::{ParamMut, ParamRef, Visit, VisitMut},
    model::Model,
    snapshot::Snapshot,
};

/// Where a run stands: everything besides the model, the optimizer and the
/// schedule that the next step or epoch depends on.
#[derive(Clone, Debug)]
pub(super) struct Run<T: Float> {
    pub(super) rng: SeededRng,
    /// The sample order of the current epoch.
    pub(super) order: Vec<usize>,
    pub(super) history: History,
    /// The epoch being trained (from 1) and the steps of it already taken.
    pub(super) epoch: usize,
    pub(super) step: usize,
    /// Whether training was stopped (early stopping or a callback), and
    /// whether early stopping's patience ran out.
    pub(super) stopped: bool,
    pub(super) patience_ran_out: bool,
    /// The current epoch's learning rate, loss sum and gradient norms so far.
    pub(super) lr: f64,
    pub(super) loss_sum: f64,
    pub(super) norms: Vec<f64>,
    /// Seconds the current epoch ran before the run was resumed (in a
    /// [`TrainingState`], before the state was written).
    pub(super) seconds_before_resume: f64,
    /// The watched metric's best value, the epochs since, and the weights
    /// then (kept with early stopping; empty until an epoch was best).
    pub(super) best_value: f64,
    pub(super) since_best: usize,
    pub(super) best: Snapshot<T>,
}

impl<T: Float> Run<T> {
    pub(super) fn start(seed: u64, samples: usize, worst: f64) -> Self {
        Self {
            rng: seeded_rng(seed),
            order: (0..samples).collect(),
            history: History::default(),
            epoch: 1,
            step: 0,
            stopped: false,
            patience_ran_out: false,
            lr: 0.0,
            loss_sum: 0.0,
            norms: Vec::new(),
            seconds_before_resume: 0.0,
            best_value: worst,
            since_best: 0,
            best: Snapshot::new(Contents::State),
        }
    }

    /// Starts an epoch trained at `lr`, shuffling the samples unless they
    /// must stay in order (consecutive chunks of a series).
    pub(super) fn begin_epoch(&mut self, lr: f64, shuffle: bool) {
        self.lr = lr;
        if shuffle {
            self.order.shuffle(&mut self.rng);
        }
    }

    pub(super) fn finish_epoch(&mut self) {
        self.epoch += 1;
        self.step = 0;
        self.loss_sum = 0.0;
        self.seconds_before_resume = 0.0;
    }
}

/// Why a training state could not be read, or does not belong to this run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResumeError {
    /// The file could not be read, is not safetensors, or its tensors do not
    /// fit the network (the [`LoadError`] names the first that does not).
    #[error("{0}")]
    Load(#[from] LoadError),
    /// The file has no `training_state` metadata: a weights file, perhaps
    /// (those load with `load_safetensors`).
    #[error("the file holds no training state (no `training_state` metadata); a weights file?")]
    NotAState,
    /// A field of the `training_state` metadata is missing or malformed.
    #[error("the training state's field `{field}` is missing or malformed")]
    Field {
        /// The field's name.
        field: &'static str,
    },
    /// The state was written by a run with another network, loss, batch
    /// size, seed or training set, or with a schedule, ReduceLROnPlateau or
    /// early stopping where this run has none (or the other way round).
    /// `what` names the setting, `saved` and `now` say it in words.
    #[error("the training state was written by a run with {saved}, but this run has {now}")]
    Mismatch {
        /// The setting that differs, e.g. "batch size".
        what: &'static str,
        /// It in words, as the saved run had it.
        saved: String,
        /// It in words, as this run has it.
        now: String,
    },
    /// The optimizer's state does not fit the optimizer or the model.
    #[error("{0}")]
    Optimizer(#[from] StateError),
}

/// What a state must agree on with the run that resumes it.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Setup {
    pub(super) network: String,
    pub(super) loss: String,
    pub(super) batch_size: usize,
    pub(super) seed: u64,
    pub(super) samples: usize,
}

/// A training run's whole state, as [`Trainer::save_state`](crate::train::Trainer::save_state)
/// writes it and [`Trainer::resume_from`](crate::train::Trainer::resume_from) reads
/// it back: the model's parameters, buffers and dropout generators, the
/// optimizer's state and learning rate, the schedule's and ReduceLROnPlateau's
/// positions, the epoch and the step within it with the sample order and
/// the shuffling generator, early stopping's best value, count and weights,
/// and the history.
///
/// Read one to look at it, or to check that a file is a complete state for a network:
///
/// ```
/// # use nn_runtime as nn;
/// use nn::data::{Dataset, Labels};
/// use nn::optim::Adam;
/// use nn::testing::LayerModel;
/// use nn::train::TrainingState;
/// use nn::{seeded_rng, Dense, Init, Trainer};
///
/// let path = std::env::temp_dir().join(format!("nn-doc-read-state-{}.safetensors", std::process::id()));
/// let mut net = LayerModel::new(Dense::<f32, 4, 3>::new(&mut seeded_rng(0), Init::XavierNormal, true));
/// let inputs = nn::nalgebra::DMatrix::from_fn(4, 6, |i, j| (i * j) as f32 / 10.0);
/// let data = Dataset::new(inputs, Labels::Classes { indices: vec![0, 1, 2, 0, 1, 2], count: 3 })?;
/// Trainer::new(Adam::new(0.01)).epochs(2).quiet().save_state(&path).fit(&mut net, &data, None)?;
///
/// let state = TrainingState::read(&path, &net)?;
/// println!("epoch {}, step {}: {} epochs in the history", state.epoch(), state.step(), state.history().epochs.len());
/// assert_eq!(state.history().epochs.len(), 2);
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct TrainingState<T: Float> {
    pub(super) model: Snapshot<T>,
    pub(super) optimizer: Snapshot<T>,
    pub(super) setup: Setup,
    /// Where the run stood, its best weights written only once an epoch was best.
    pub(super) run: Run<T>,
    pub(super) lr: f64,
    pub(super) schedule: Option<(Option<f64>, usize)>,
    pub(super) plateau: Option<PlateauState>,
    /// What the recurrent layers carry to the next batch ([`carried`]).
    pub(super) carried: Snapshot<T>,
}

/// The metadata key of the JSON part.
const KEY: &str = "training_state";
/// The layout of the JSON part; a reader refuses others.
const VERSION: u64 = 1;

impl<T: Float> TrainingState<T> {
    /// Reads the state in `path` and checks it against `model`: every
    /// parameter, buffer and dropout generator of the network is there with
    /// its shape and dtype, and nothing else of a model. The model is not
    /// changed.
    pub fn read<M: Model<T>>(path: impl AsRef<Path>, model: &M) -> Result<Self, ResumeError> {
        let path = path.as_ref();
        let bytes = read_file(path)?;
        Self::from_bytes(&bytes, model).map_err(|e| match e {
            ResumeError::Load(e) => ResumeError::Load(e.at(path)),
            other => other,
        })
    }

    /// The epoch the run is in (from 1; past the last when it has ended).
    pub fn epoch(&self) -> usize {
        self.run.epoch
    }
    /// The steps of [`TrainingState::epoch`] already taken.
    pub fn step(&self) -> usize {
        self.run.step
    }
    /// Whether the run was stopped (early stopping or a callback): resuming
    /// it trains no more.
    pub fn stopped(&self) -> bool {
        self.run.stopped
    }
    /// The history of the epochs finished so far, with best epoch and stop flags.
    pub fn history(&self) -> &History {
        &self.run.history
    }
    /// The model's parameters, buffers and dropout generators.
    pub fn model(&self) -> &Snapshot<T> {
        &self.model
    }
    /// The optimizer's state ([`Optimizer::state`](crate::optim::Optimizer::state)).
    pub fn optimizer(&self) -> &Snapshot<T> {
        &self.optimizer
    }
    /// The recurrent state carried to the next batch
    /// ([`Trainer::carry_state`](crate::train::Trainer::carry_state)), per layer
    /// (`0.state`, `[parts, samples, hidden]`); empty without carrying.
    pub fn carried(&self) -> &Snapshot<T> {
        &self.carried
    }
    /// The optimizer's learning rate for the next step.
    pub fn lr(&self) -> f64 {
        self.lr
    }

    /// The safetensors bytes of the state.
    pub(super) fn to_bytes(&self) -> Result<Vec<u8>, SaveError> {
        let mut tensors = Snapshot::empty();
        tensors.append("model", &self.model);
        if self.has_best() {
            tensors.append("best", &self.run.best);
        }
        tensors.append("optimizer", &self.optimizer);
        tensors.append("carried", &self.carried);
        tensors.push("trainer.rng".into(), vec![RNG_BYTES], Data::Rng(Box::new(self.run.rng.clone())));
        let json = self.json().to_string();
        let version = env!("CARGO_PKG_VERSION");
        let metadata = [("network", self.setup.network.as_str()), ("nn_version", version), (KEY, json.as_str())];
        snapshot_to_bytes(&tensors, &metadata.into_iter().collect())
    }

    /// Whether the state holds early stopping's best weights.
    pub(super) fn has_best(&self) -> bool {
        !self.run.best.entries().is_empty()
    }

    fn json(&self) -> Value {
        let floats = |v: &[f64]| Value::Array(v.iter().map(|x| Value::String(x.to_string())).collect());
        let float = |x: f64| Value::String(x.to_string());
        let run = &self.run;
        let h = &run.history;
        json!({
            "version": VERSION,
            "network": self.setup.network,
            "loss": self.setup.loss,
            "batch_size": self.setup.batch_size,
            "seed": self.setup.seed,
            "samples": self.setup.samples,
            "epoch": run.epoch,
            "step": run.step,
            "stopped": run.stopped,
            "patience_ran_out": run.patience_ran_out,
            "order": run.order,
            "epoch_lr": float(run.lr),
            "loss_sum": float(run.loss_sum),
            "norms": floats(&run.norms),
            "seconds": float(run.seconds_before_resume),
            "lr": float(self.lr),
            "schedule": self.schedule.map(|(base, t)| json!({ "base": base.map(float), "t": t })),
            "plateau": self.plateau.map(|p| json!({
                "best": float(p.best),
                "num_bad_epochs": p.num_bad_epochs,
                "cooldown_counter": p.cooldown_counter,
                "last_epoch": p.last_epoch,
            })),
            "best_value": float(run.best_value),
            "since_best": run.since_best,
            "best_epoch": h.best_epoch,
            "stopped_by_callback": h.stopped_by_callback,
            "history": h.to_csv(),
        })
    }

    /// Reads a state from safetensors `bytes`, checking its `model.` and
    /// `best.` tensors strictly against `model`.
    pub(super) fn from_bytes<M: Model<T>>(bytes: &[u8], model: &M) -> Result<Self, ResumeError> {
        let header = read_header(bytes)?;
        let json = header.metadata.get(KEY).ok_or(ResumeError::NotAState)?;
        let fields: Value = serde_json::from_str(json).map_err(|_| ResumeError::Field { field: KEY })?;
        let f = Fields(fields.as_object().ok_or(ResumeError::Field { field: KEY })?);
        if f.u64("version")? != VERSION {
            return Err(ResumeError::Field { field: "version" });
        }

        // What the file must hold: the model's tensors (and the best weights'
        // if it has them) as the network has them, the generator, and the
        // optimizer's tensors as the header declares them (their layout is
        // the optimizer's, checked when it takes them back).
        let mut expected = Snapshot::empty();
        expected.append("model", &Snapshot::training(model));
        if header.tensors.iter().any(|(name, ..)| name.starts_with("best.")) {
            expected.append("best", &Snapshot::of(model));
        }
        for (name, dtype, shape) in &header.tensors {
            if name.starts_with("optimizer.") || name.starts_with("carried.") {
                let data = match dtype {
                    Dtype::I64 => Data::Count(0),
                    _ => Data::Buffer(vec![T::zero(); shape.iter().product()]),
                };
                expected.push(name.clone(), shape.clone(), data);
            }
        }
        expected.push("trainer.rng".into(), vec![RNG_BYTES], Data::Rng(Box::new(seeded_rng(0))));
        bytes_into_snapshot(bytes, &mut expected)?;

        let Some(Entry { data: Data::Rng(rng), .. }) = expected.get("trainer.rng").cloned() else {
            return Err(ResumeError::Field { field: "trainer.rng" });
        };
        let best = match header.tensors.iter().any(|(n, ..)| n.starts_with("best.")) {
            true => expected.part("best", Contents::State),
            false => Snapshot::new(Contents::State),
        };
        let schedule = match f.0.get("schedule") {
            Some(Value::Object(s)) => {
                let s = Fields(s);
                let base = match s.0.get("base") {
                    Some(Value::Null) => None,
                    _ => Some(s.f64("base")?),
                };
                Some((base, s.usize("t")?))
            }
            _ => None,
        };
        let plateau = match f.0.get("plateau") {
            Some(Value::Object(p)) => {
                let p = Fields(p);
                Some(PlateauState {
                    best: p.f64("best")?,
                    num_bad_epochs: p.usize("num_bad_epochs")?,
                    cooldown_counter: p.usize("cooldown_counter")?,
                    last_epoch: p.usize("last_epoch")?,
                })
            }
            _ => None,
        };
        let mut history = History::from_csv(f.str("history")?).map_err(|_| ResumeError::Field { field: "history" })?;
        history.best_epoch = match f.0.get("best_epoch") {
            Some(Value::Null) => None,
            _ => Some(f.usize("best_epoch")?),
        };
        history.stopped_by_callback = f.bool("stopped_by_callback")?;
        let order = f.array("order")?.iter().map(|v| v.as_u64().map(|i| i as usize)).collect::<Option<Vec<_>>>();
        let norms: Option<Vec<f64>> =
            f.array("norms")?.iter().map(|v| v.as_str().and_then(|s| s.parse().ok())).collect();
        Ok(Self {
            model: expected.part("model", Contents::Training),
            optimizer: expected.part("optimizer", Contents::Training),
            setup: Setup {
                network: f.str("network")?.to_string(),
                loss: f.str("loss")?.to_string(),
                batch_size: f.usize("batch_size")?,
                seed: f.u64("seed")?,
                samples: f.usize("samples")?,
            },
            run: Run {
                rng: *rng,
                epoch: f.usize("epoch")?,
                step: f.usize("step")?,
                stopped: f.bool("stopped")?,
                patience_ran_out: f.bool("patience_ran_out")?,
                order: order.ok_or(ResumeError::Field { field: "order" })?,
                lr: f.f64("epoch_lr")?,
                loss_sum: f.f64("loss_sum")?,
                norms: norms.ok_or(ResumeError::Field { field: "norms" })?,
                seconds_before_resume: f.f64("seconds")?,
                best_value: f.f64("best_value")?,
                since_best: f.usize("since_best")?,
                history,
                best,
            },
            lr: f.f64("lr")?,
            schedule,
            plateau,
            carried: expected.part("carried", Contents::Training),
        })
    }
}

/// Calls `f` with the full name (`1.0.state`) and the carried state of each
/// of `model`'s recurrent layers that can carry one.
fn each_carry<T: Float, M: Model<T>>(model: &M, f: impl FnMut(String, &Carry<T>)) {
    struct Each<F>(NamePath, F);
    impl<T: Float, F: FnMut(String, &Carry<T>)> Visit<T> for Each<F> {
        fn enter(&mut self, segment: &str) {
            self.0.enter(segment);
        }
        fn leave(&mut self) {
            self.0.leave();
        }
        fn param(&mut self, _p: ParamRef<'_, T>) {}
        fn carry(&mut self, name: &str, carry: Option<&Carry<T>>) {
            if let Some(c) = carry {
                (self.1)(self.0.full(name), c);
            }
        }
    }
    model.visit(&mut Each(NamePath::default(), f));
}

/// What `model`'s recurrent layers carry to the next batch
/// ([`Trainer::carry_state`](crate::train::Trainer::carry_state)), by their names
/// (`1.0.state`), `[parts, samples, hidden]`; layers that carry nothing are left out.
pub(super) fn carried<T: Float, M: Model<T>>(model: &M) -> Snapshot<T> {
    let mut carried = Snapshot::empty();
    each_carry(model, |name, c| {
        if c.shape()[1] > 0 {
            carried.push(name, c.shape().to_vec(), Data::Buffer(c.values().to_vec()));
        }
    });
    carried
}

/// Checks that every carried state of `saved` belongs to a recurrent layer of
/// `model` with its number of state parts and features.
pub(super) fn check_carried<T: Float, M: Model<T>>(saved: &Snapshot<T>, model: &M) -> Result<(), ResumeError> {
    let mut layers: Vec<(String, [usize; 3])> = Vec::new();
    each_carry(model, |name, c| layers.push((name, c.shape())));
    let fits = |e: &Entry<T>| {
        layers.iter().any(|(name, [parts, _, hidden])| {
            *name == e.name && e.shape.len() == 3 && e.shape[0] == *parts && e.shape[2] == *hidden
        })
    };
    match saved.entries().iter().all(fits) {
        true => Ok(()),
        false => Err(ResumeError::Field { field: "carried" }),
    }
}

/// Puts the carried states of `saved` ([`check_carried`] has matched them)
/// back into `model`'s recurrent layers; the others carry nothing.
pub(super) fn restore_carried<T: Float, M: Model<T>>(saved: &Snapshot<T>, model: &mut M) {
    struct Put<'a, T>(NamePath, &'a Snapshot<T>);
    impl<T: Float> VisitMut<T> for Put<'_, T> {
        fn enter(&mut self, segment: &str) {
            self.0.enter(segment);
        }
        fn leave(&mut self) {
            self.0.leave();
        }
        fn param(&mut self, _p: ParamMut<'_, T>) {}
        fn carry(&mut self, name: &str, carry: Option<&mut Carry<T>>) {
            let Some(c) = carry else { return };
            match self.1.get(&self.0.full(name)).and_then(|e| Some((e.shape[1], e.data.floats()?))) {
                Some((samples, values)) => c.set(samples, values).expect("checked by check_carried"),
                None => c.clear(),
            }
        }
    }
    model.visit_mut(&mut Put(NamePath::default(), saved));
}

/// Typed reads of the JSON part, each error naming its field.
struct Fields<'a>(&'a Map<String, Value>);

impl Fields<'_> {
    fn get(&self, field: &'static str) -> Result<&Value, ResumeError> {
        self.0.get(field).ok_or(ResumeError::Field { field })
    }
    fn u64(&self, field: &'static str) -> Result<u64, ResumeError> {
        self.get(field)?.as_u64().ok_or(ResumeError::Field { field })
    }
    fn usize(&self, field: &'static str) -> Result<usize, ResumeError> {
        self.u64(field).and_then(|v| usize::try_from(v).map_err(|_| ResumeError::Field { field }))
    }
    fn bool(&self, field: &'static str) -> Result<bool, ResumeError> {
        self.get(field)?.as_bool().ok_or(ResumeError::Field { field })
    }
    fn str(&self, field: &'static str) -> Result<&str, ResumeError> {
        self.get(field)?.as_str().ok_or(ResumeError::Field { field })
    }
    /// A float written as a string (exact, and `inf` for a best not yet set).
    fn f64(&self, field: &'static str) -> Result<f64, ResumeError> {
        self.str(field)?.parse().map_err(|_| ResumeError::Field { field })
    }
    fn array(&self, field: &'static str) -> Result<&Vec<Value>, ResumeError> {
        self.get(field)?.as_array().ok_or(ResumeError::Field { field })
    }
}
