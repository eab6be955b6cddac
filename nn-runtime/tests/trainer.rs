//! The trainer on real data with hand-built networks: determinism, accuracy
//! on the digits, early stopping, auxiliary heads, and bad input.

mod common;

use common::{flat_params, iris_split, mlp, MlpModel};
use nalgebra::{DMatrix, DMatrixView};
use nn_runtime::data::{digits, stratified_split, Dataset, Labels, Standardizer};
use nn_runtime::layers::{Dense, Relu, Tanh};
use nn_runtime::optim::{Adam, Schedule, Sgd};
use nn_runtime::testing::LayerModel;
use nn_runtime::train::{confusion_matrix, evaluate, EpochStats, TrainError};
use nn_runtime::{
    seeded_rng, BufferMut, BufferRef, Clip, Init, Loss, LossError, Model, ShapeError, Trainer, Visit, VisitMut,
};

/// Every field but the wall-clock time, as bits.
fn fingerprint(e: &EpochStats) -> Vec<u64> {
    let opt = |v: Option<f64>| v.map_or(u64::MAX, f64::to_bits);
    let mut bits: Vec<u64> = e.grad_norms.iter().map(|v| v.to_bits()).collect();
    bits.extend([
        e.epoch as u64,
        e.train_loss.to_bits(),
        opt(e.val_loss),
        opt(e.val_accuracy),
        e.lr.to_bits(),
        e.grad_norm_mean.to_bits(),
        e.grad_norm_max.to_bits(),
    ]);
    bits
}

fn run_iris(seed: u64) -> (Vec<Vec<u64>>, Vec<f64>) {
    let (train, val) = iris_split();
    let mut net: MlpModel<f64, Tanh, 4, 8, 3> = mlp(11);
    let mut trainer = Trainer::new(Adam::new(0.02))
        .epochs(12)
        .batch_size(16)
        .seed(seed)
        .clip(Clip::GlobalNorm(1.0))
        .schedule(Schedule::Cosine { t_max: 12, eta_min: 1e-4 })
        .quiet();
    let history = trainer.fit(&mut net, &train, Some(&val)).unwrap();
    assert_eq!(history.epochs.len(), 12);
    (history.epochs.iter().map(fingerprint).collect(), flat_params(&net))
}

#[test]
fn same_seed_gives_the_same_history_bit_for_bit() {
    let (a, weights_a) = run_iris(5);
    let (b, weights_b) = run_iris(5);
    assert_eq!(a, b);
    assert_eq!(
        weights_a.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        weights_b.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
    // The seed matters: another shuffling gives another history.
    let (c, _) = run_iris(6);
    assert_ne!(a, c);
}

#[test]
fn history_records_loss_accuracy_lr_and_gradient_norms() {
    let (train, val) = iris_split();
    let mut net: MlpModel<f64, Tanh, 4, 8, 3> = mlp(1);
    let mut trainer = Trainer::new(Sgd::new(0.1).momentum(0.9))
        .epochs(30)
        .batch_size(20)
        .schedule(Schedule::Step { step_size: 10, gamma: 0.5 })
        .quiet();
    let h = trainer.fit(&mut net, &train, Some(&val)).unwrap();
    let lrs: Vec<f64> = h.epochs.iter().map(|e| e.lr).collect();
    assert_eq!((lrs[0], lrs[9], lrs[10], lrs[29]), (0.1, 0.1, 0.05, 0.025));
    let (first, last) = (&h.epochs[0], h.last().unwrap());
    assert!(last.train_loss < 0.5 * first.train_loss, "{} -> {}", first.train_loss, last.train_loss);
    assert!(last.val_accuracy.unwrap() >= 0.9, "val accuracy {:?}", last.val_accuracy);
    let eval = evaluate(&net, Loss::SoftmaxCrossEntropy, &val).unwrap();
    assert_eq!(Some(eval.loss), last.val_loss);
    for e in &h.epochs {
        assert_eq!(e.grad_norms.len(), 6, "one norm per step: 120 samples in batches of 20");
        let mean = e.grad_norms.iter().sum::<f64>() / 6.0;
        assert_eq!(e.grad_norm_mean, mean);
        assert_eq!(Some(e.grad_norm_max), e.grad_norms.iter().copied().reduce(f64::max));
        assert!(e.grad_norms.iter().all(|&g| g > 0.0));
    }
    assert!(h.to_string().lines().count() == 31);
}

#[test]
fn a_schedule_can_advance_every_step() {
    let (train, _) = iris_split();
    let mut net: MlpModel<f64, Tanh, 4, 8, 3> = mlp(1);
    // 120 samples in batches of 20: 6 steps per epoch, so the rate halves once per epoch.
    let schedule = Schedule::Step { step_size: 6, gamma: 0.5 };
    let mut trainer = Trainer::new(Sgd::new(0.1)).epochs(3).batch_size(20).schedule_per_step(schedule).quiet();
    let h = trainer.fit(&mut net, &train, None).unwrap();
    assert_eq!(h.epochs.iter().map(|e| e.lr).collect::<Vec<_>>(), vec![0.1, 0.05, 0.025]);
    assert_eq!(trainer.optimizer().lr(), 0.0125);
}

#[test]
fn reaches_97_percent_on_the_digits_test_split() {
    let (mut train, mut test) = stratified_split(&digits::<f32>(), 0.2, 0).unwrap();
    let s = Standardizer::fit(&train).unwrap();
    s.apply(&mut train).unwrap();
    s.apply(&mut test).unwrap();
    let mut net: MlpModel<f32, Relu, 64, 64, 10> = mlp(0);
    let mut trainer = Trainer::new(Adam::new(2e-3)).epochs(20).batch_size(32).seed(1).quiet();
    let history = trainer.fit(&mut net, &train, None).unwrap();
    let eval = evaluate(&net, Loss::SoftmaxCrossEntropy, &test).unwrap();
    let accuracy = eval.accuracy.unwrap();
    assert!(accuracy >= 0.97, "test accuracy {accuracy} after {} epochs", history.epochs.len());
    let confusion = confusion_matrix(&net, &test).unwrap();
    assert_eq!(confusion.accuracy(), accuracy);
    assert_eq!((0..10).map(|c| (0..10).map(|p| confusion.count(c, p)).sum::<usize>()).sum::<usize>(), test.len());
}

#[test]
fn early_stopping_ends_with_the_best_epochs_weights() {
    let (train, val) = iris_split();
    let mut net: MlpModel<f64, Tanh, 4, 8, 3> = mlp(2);
    // A large learning rate makes the validation loss rise again after its best epoch.
    let mut trainer = Trainer::new(Sgd::new(0.5).momentum(0.9)).epochs(200).batch_size(8).early_stopping(5).quiet();
    let h = trainer.fit(&mut net, &train, Some(&val)).unwrap();
    assert!(h.stopped_early, "ran all {} epochs", h.epochs.len());
    let best = h.best_epoch.unwrap();
    assert_eq!(h.epochs.len(), best + 5);
    let best_loss = h.epochs[best - 1].val_loss.unwrap();
    assert!(h.epochs.iter().all(|e| e.val_loss.unwrap() >= best_loss));
    assert!(h.last().unwrap().val_loss.unwrap() > best_loss);
    assert_eq!(evaluate(&net, Loss::SoftmaxCrossEntropy, &val).unwrap().loss, best_loss);
}

#[test]
fn dataset_of_the_wrong_width_is_refused_before_training() {
    let (train, val) = iris_split();
    let mut net: MlpModel<f64, Tanh, 5, 8, 3> = mlp(0);
    let before = flat_params(&net);
    let mut trainer = Trainer::new(Sgd::new(0.1)).quiet();
    let e = trainer.fit(&mut net, &train, None).unwrap_err();
    assert!(matches!(e, TrainError::Width { what: "training data", expected: 5, found: 4 }), "{e:?}");
    let mut ok: MlpModel<f64, Tanh, 4, 8, 3> = mlp(0);
    let wide = Dataset::new(DMatrix::zeros(5, 2), Labels::Classes { indices: vec![0, 1], count: 3 }).unwrap();
    let e = trainer.fit(&mut ok, &train, Some(&wide)).unwrap_err();
    assert!(matches!(e, TrainError::Width { what: "validation data", expected: 4, found: 5 }), "{e:?}");
    let mut two: MlpModel<f64, Tanh, 4, 8, 2> = mlp(0);
    let e = trainer.fit(&mut two, &val, None).unwrap_err();
    assert!(
        matches!(
            e,
            TrainError::Targets {
                what: "training data",
                error: LossError::ClassOutOfRange { sample: 20, class: 2, classes: 2 }
            }
        ),
        "{e:?}"
    );
    // The loss error is kept as the source, not only in the message.
    let source = std::error::Error::source(&e).and_then(|s| s.downcast_ref::<LossError>());
    assert_eq!(source, Some(&LossError::ClassOutOfRange { sample: 20, class: 2, classes: 2 }));
    assert_eq!(flat_params(&net), before);
}

/// Delegates to a model and remembers the parameters at the first forward
/// whose input holds a NaN, and how many forwards came before it.
/// Its buffers (sum and count of the inputs seen) change in every forward,
/// as running statistics do.
struct Recording<M> {
    inner: M,
    forwards: usize,
    nan_forward: Option<(usize, Vec<f64>)>,
    seen_sum: [f64; 1],
    seen_count: i64,
}

impl<M: Model<f64>> Model<f64> for Recording<M> {
    const INPUT: usize = M::INPUT;
    const OUTPUT: usize = M::OUTPUT;
    const NAME: &'static str = "Recording";
    fn visit(&self, v: &mut dyn Visit<f64>) {
        self.inner.visit(v);
        v.buffer(BufferRef::Float { name: "seen_sum", shape: &[1], value: &self.seen_sum });
        v.buffer(BufferRef::Count { name: "seen_count", value: self.seen_count });
    }
    fn visit_mut(&mut self, v: &mut dyn VisitMut<f64>) {
        self.inner.visit_mut(v);
        v.buffer(BufferMut::Float { name: "seen_sum", shape: &[1], value: &mut self.seen_sum });
        v.buffer(BufferMut::Count { name: "seen_count", value: &mut self.seen_count });
    }
    fn forward_view(&mut self, x: DMatrixView<'_, f64>) -> Result<DMatrixView<'_, f64>, ShapeError> {
        self.forwards += 1;
        self.seen_sum[0] += x.sum();
        self.seen_count += 1;
        if self.nan_forward.is_none() && x.iter().any(|v| v.is_nan()) {
            self.nan_forward = Some((self.forwards, flat_params(&self.inner)));
        }
        self.inner.forward_view(x)
    }
    fn backward_view(&mut self, g: DMatrixView<'_, f64>) -> Result<DMatrixView<'_, f64>, ShapeError> {
        self.inner.backward_view(g)
    }
    fn predict_view(&self, x: DMatrixView<'_, f64>) -> Result<DMatrix<f64>, ShapeError> {
        self.inner.predict_view(x)
    }
}

#[test]
fn nan_in_a_batch_stops_training_with_the_step_and_layer_and_keeps_the_previous_weights() {
    let (mut train, _) = iris_split();
    train.inputs_mut()[(2, 57)] = f64::NAN;
    let mut net = Recording {
        inner: mlp::<f64, Tanh, 4, 8, 3>(4),
        forwards: 0,
        nan_forward: None,
        seen_sum: [0.0],
        seen_count: 0,
    };
    let initial = flat_params(&net.inner);
    let mut trainer = Trainer::new(Adam::new(0.01)).epochs(3).batch_size(16).seed(9).quiet();
    let err = trainer.fit(&mut net, &train, None).unwrap_err();
    let (forward, weights_before) = net.nan_forward.clone().expect("the NaN sample was seen");
    let steps_per_epoch = train.len().div_ceil(16);
    let TrainError::NonFinite { epoch, step, loss, tensor } = err else { panic!("unexpected error {err:?}") };
    assert_eq!((epoch, step), (1 + (forward - 1) / steps_per_epoch, 1 + (forward - 1) % steps_per_epoch));
    assert!(loss.is_nan());
    assert_eq!(tensor.as_deref(), Some("0.weight"));
    assert_eq!(flat_params(&net.inner), weights_before, "weights changed by the bad step");
    assert!(weights_before.iter().all(|v| v.is_finite()));
    // The buffers the bad forward changed are put back.
    assert!(net.seen_sum[0].is_finite());
    assert_eq!(net.seen_count as usize, forward - 1);
    if forward > 1 {
        assert_ne!(weights_before, initial, "the steps before the bad one were not applied");
    }
}

#[test]
fn non_finite_error_message_names_epoch_step_and_layer() {
    let (mut train, _) = iris_split();
    train.inputs_mut()[(0, 3)] = f64::INFINITY;
    let mut net = mlp::<f64, Tanh, 4, 8, 3>(4);
    let mut trainer = Trainer::new(Sgd::new(0.1)).epochs(1).batch_size(train.len()).quiet();
    let message = trainer.fit(&mut net, &train, None).unwrap_err().to_string();
    assert!(message.contains("epoch 1, step 1"), "{message}");
    assert!(message.contains("first non-finite gradient in 0.weight"), "{message}");
    assert!(message.contains("weights from before this step are kept"), "{message}");
}

/// A network with one auxiliary head: the main path is an MLP, the head a
/// dense layer from the input to the outputs.
struct WithAux {
    main: MlpModel<f64, Tanh, 4, 8, 3>,
    head: LayerModel<f64, Dense<f64, 4, 3>, 4, 3>,
    weight: f64,
    head_out: DMatrix<f64>,
    head_grad: Option<DMatrix<f64>>,
}

impl Model<f64> for WithAux {
    const INPUT: usize = 4;
    const OUTPUT: usize = 3;
    const NAME: &'static str = "WithAux";
    fn visit(&self, v: &mut dyn Visit<f64>) {
        self.main.visit(v);
        nn_runtime::visit_in(v, "aux", |v| self.head.visit(v));
    }
    fn visit_mut(&mut self, v: &mut dyn VisitMut<f64>) {
        self.main.visit_mut(v);
        nn_runtime::visit_mut_in(v, "aux", |v| self.head.visit_mut(v));
    }
    fn forward_view(&mut self, x: DMatrixView<'_, f64>) -> Result<DMatrixView<'_, f64>, ShapeError> {
        self.head_out = self.head.forward_view(x)?.into_owned();
        self.main.forward_view(x)
    }
    fn backward_view(&mut self, g: DMatrixView<'_, f64>) -> Result<DMatrixView<'_, f64>, ShapeError> {
        if let Some(hg) = self.head_grad.take() {
            self.head.backward_view(hg.as_view())?;
        }
        self.main.backward_view(g)
    }
    fn predict_view(&self, x: DMatrixView<'_, f64>) -> Result<DMatrix<f64>, ShapeError> {
        self.main.predict_view(x)
    }
    fn aux_heads(&self) -> usize {
        1
    }
    fn aux_output(&self, i: usize) -> Option<(f64, DMatrixView<'_, f64>)> {
        (i == 0).then(|| (self.weight, self.head_out.as_view()))
    }
    fn set_aux_grad(&mut self, _i: usize, grad: DMatrixView<'_, f64>) -> Result<(), ShapeError> {
        self.head_grad = Some(grad.into_owned());
        Ok(())
    }
}

#[test]
fn auxiliary_head_losses_are_added_with_their_weight() {
    let (train, _) = iris_split();
    let mut rng = seeded_rng(8);
    let head = Dense::<f64, 4, 3>::new(&mut rng, Init::XavierNormal, true);
    let mut net = WithAux {
        main: mlp(3),
        head: LayerModel::new(head.clone()),
        weight: 0.3,
        head_out: DMatrix::zeros(0, 0),
        head_grad: None,
    };
    let targets = train.targets();
    let main_loss = Loss::SoftmaxCrossEntropy
        .value(net.main.predict_view(train.inputs().as_view()).unwrap().as_view(), targets)
        .unwrap();
    // The head alone, trained on its own loss, gives its gradient.
    let mut alone = LayerModel::new(head.clone());
    let out = alone.forward_view(train.inputs().as_view()).unwrap();
    let mut g = DMatrix::zeros(3, train.len());
    let head_loss = Loss::SoftmaxCrossEntropy.value_and_grad(out, targets, g.as_view_mut()).unwrap();
    alone.backward_view(g.as_view()).unwrap();
    let head_grad = flat_params_grads(&alone);

    let lr = 0.1;
    let mut trainer = Trainer::new(Sgd::new(lr)).epochs(1).batch_size(train.len()).quiet();
    let h = trainer.fit(&mut net, &train, None).unwrap();
    let expected = main_loss + 0.3 * head_loss;
    assert!((h.epochs[0].train_loss - expected).abs() < 1e-12, "{} vs {expected}", h.epochs[0].train_loss);
    let old = flat_params(&alone);
    for ((new, old), g) in flat_params(&net.head).iter().zip(&old).zip(&head_grad) {
        assert!((new - (old - lr * 0.3 * g)).abs() < 1e-12);
    }
}

fn flat_params_grads<M: Model<f64>>(model: &M) -> Vec<f64> {
    model.parameters().into_iter().flat_map(|p| p.grad).collect()
}
