//! Weights files of generated networks: `save_safetensors`, `load_safetensors`
//! and `load_safetensors_into` round trips, bit for bit, for a network with
//! every parameterised layer kind and blocks nesting them; and the Trainer's
//! checkpoints.

use std::path::PathBuf;

use nn::data::{iris, stratified_split, Standardizer};
use nn::io::LoadErrorKind;
use nn::optim::Adam;
use nn::prelude::*;
use nn::testing::scramble;
use nn::train::TrainError;
use nn::NamedBuffer;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use safetensors::{Dtype, SafeTensors};

nn::network! {
    /// Every layer with parameters or buffers, each block kind, and blocks
    /// nested three deep (repeat > highway > residual).
    pub struct Everything(4 -> 3) {
        dense(6), batch_norm, prelu,                                        // 0, 1, 2
        residual(projection) { dense(5), layer_norm },                      // 3: 6 -> 5
        highway { dense(5, bias = false), tanh },                           // 4
        repeat(2) { highway { residual { dense(5), batch_norm } }, relu },  // 5
        parallel { branch { dense(2) }, branch { prelu, dense(3) } },       // 6: 5 -> 5
        concat { layer_norm, dense(2, bias = false) },                      // 7: 5 -> 7
        aux_head(weight = 0.5) { dense(3) },                                // 8
        dropout(0.1),                                                       // 9
        dense(3, bias = false),                                             // 10
    }
}

nn::network! {
    /// A sequence network: stacked recurrent cells, a position-wise layer, `last`.
    pub struct Sequence(seq 3 -> 2) {
        dense(4), layer_norm, lstm(5, forget_bias = 1.0), gru(4), rnn(3), last, dense(2),
    }
}

nn::network! {
    /// A different network, to load the wrong file into.
    pub struct Other(4 -> 3) {
        dense(6), batch_norm, relu, dense(3),
    }
}

fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nn-io-generated-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn input<T: Float, const N: usize>(cols: usize, seed: u64) -> Batch<T, N> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Batch::<T, N>::from_fn(cols, |_, _| T::of(rng.random_range(-2.0..2.0)))
}

fn bits<T: Float>(v: &[T]) -> Vec<u64> {
    v.iter().map(|x| x.as_f64().to_bits()).collect()
}

/// Parameters (name, shape, value bits) and buffers, bit for bit.
type State<T> = (Vec<(String, Vec<usize>, Vec<u64>)>, Vec<NamedBuffer<T>>);

fn state<T: Float, M: Model<T>>(m: &M) -> State<T> {
    let params = m.parameters().into_iter().map(|p| (p.name, p.shape, bits(&p.value))).collect();
    (params, m.buffers())
}

/// Scrambled weights, then training forwards so the running statistics and
/// counters are what batch norm made of them.
fn trained<T: Float>() -> Everything<T> {
    let mut net = Everything::<T>::seeded(1);
    scramble(&mut net, 7);
    for s in 0..3 {
        net.forward(&input::<T, 4>(6, 100 + s));
    }
    net
}

fn round_trip<T: Float>(test: &str) {
    let dir = scratch(test);
    let path = dir.join("everything.safetensors");
    let src = trained::<T>();
    src.save_safetensors(&path).unwrap();

    let loaded = Everything::<T>::load_safetensors(&path).unwrap();
    let mut into = Everything::<T>::seeded(2);
    assert_ne!(state(&into), state(&src), "a fresh network must differ before loading");
    into.load_safetensors_into(&path).unwrap();
    let x = input::<T, 4>(9, 5);
    let y = src.predict(&x);
    for (how, dst) in [("load_safetensors", &loaded), ("load_safetensors_into", &into)] {
        assert_eq!(state(dst), state(&src), "{how}");
        assert_eq!(bits(dst.predict(&x).as_slice()), bits(y.as_slice()), "{how}: predict differs");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn round_trip_is_bit_exact_f32() {
    round_trip::<f32>("rt32");
}

#[test]
fn round_trip_is_bit_exact_f64() {
    round_trip::<f64>("rt64");
}

fn sequence_round_trip<T: Float>(test: &str) {
    let dir = scratch(test);
    let path = dir.join("sequence.safetensors");
    let mut src = Sequence::<T>::seeded(3);
    scramble(&mut src, 11);
    src.save_safetensors(&path).unwrap();
    let loaded = Sequence::<T>::load_safetensors(&path).unwrap();
    assert_eq!(state(&loaded), state(&src));
    let xs: Vec<Batch<T, 3>> = (0..7).map(|t| input::<T, 3>(5, 40 + t)).collect();
    assert_eq!(bits(loaded.predict(&xs).as_slice()), bits(src.predict(&xs).as_slice()), "predict differs");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn sequence_network_round_trip_is_bit_exact_f32_and_f64() {
    sequence_round_trip::<f32>("seq32");
    sequence_round_trip::<f64>("seq64");
}

/// The file holds exactly `Model::parameters()` and `Model::buffers()`, under
/// their names, with their shapes, in the network's float type (counters I64).
#[test]
fn file_names_are_the_models_parameter_and_buffer_names() {
    let dir = scratch("names");
    let path = dir.join("w.safetensors");
    let net = trained::<f64>();
    net.save_safetensors(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut in_file: Vec<(String, Dtype, Vec<usize>)> =
        st.tensors().into_iter().map(|(n, v)| (n, v.dtype(), v.shape().to_vec())).collect();
    in_file.sort();

    let mut expected: Vec<(String, Dtype, Vec<usize>)> =
        net.parameters().into_iter().map(|p| (p.name, Dtype::F64, p.shape)).collect();
    expected.extend(net.buffers().into_iter().map(|b| match b {
        NamedBuffer::Float { name, shape, .. } => (name, Dtype::F64, shape),
        NamedBuffer::Count { name, .. } => (name, Dtype::I64, vec![]),
    }));
    expected.sort();
    assert_eq!(in_file, expected);
    // Spot checks against DESIGN.md's naming, so the comparison above is not
    // two views of one mistake.
    for name in [
        "3.projection.weight",
        "4.0.weight",
        "4.gate.bias",
        "5.1.0.0.0.weight",
        "5.1.0.0.1.num_batches_tracked",
        "5.1.0.gate.weight",
        "6.1.0.weight",
        "7.1.weight",
        "10.weight",
    ] {
        assert!(in_file.iter().any(|(n, ..)| n == name), "{name} missing from {in_file:?}");
    }
    assert!(!in_file.iter().any(|(n, ..)| n == "4.0.bias" || n == "10.bias"), "bias = false must have no bias");

    let (_, meta) = SafeTensors::read_metadata(&bytes).unwrap();
    assert_eq!(meta.metadata().as_ref().unwrap()["network"], "Everything");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn loading_the_wrong_file_is_an_error_and_changes_nothing() {
    let dir = scratch("wrong");
    let other = dir.join("other.safetensors");
    Other::<f32>::seeded(0).save_safetensors(&other).unwrap();
    let mut net = trained::<f32>();
    let before = state(&net);
    let e = net.load_safetensors_into(&other).unwrap_err();
    assert!(matches!(e.kind(), LoadErrorKind::Missing { name, .. } if name == "2.weight"), "{e}");
    assert_eq!(state(&net), before);

    // An f32 file into an f64 network.
    let f32_file = dir.join("everything32.safetensors");
    net.save_safetensors(&f32_file).unwrap();
    let Err(e) = Everything::<f64>::load_safetensors(&f32_file) else { panic!("an f32 file loaded as f64") };
    assert!(matches!(e.kind(), LoadErrorKind::Dtype { expected: "F64", .. }), "{e}");

    let missing = dir.join("none.safetensors");
    let Err(e) = Everything::<f32>::load_safetensors(&missing) else { panic!("a missing file loaded") };
    assert!(matches!(e.kind(), LoadErrorKind::Io(_)) && e.path() == Some(missing.as_path()), "{e}");
    std::fs::remove_dir_all(dir).unwrap();
}

// ------------------------------------------------------------ checkpoints

nn::network! {
    /// Iris classifier with running statistics and dropout, so a checkpoint
    /// must carry buffers and a rerun must replay the same random stream.
    pub struct IrisNet(4 -> 3) {
        dense(16), batch_norm, relu, dropout(0.1), dense(3),
    }
}

fn iris_split() -> (Dataset<f64>, Dataset<f64>) {
    let (mut train, mut val) = stratified_split(&iris::<f64>(), 0.3, 0).unwrap();
    let scaler = Standardizer::fit(&train).unwrap();
    scaler.apply(&mut train).unwrap();
    scaler.apply(&mut val).unwrap();
    (train, val)
}

fn trainer(epochs: usize) -> Trainer<f64> {
    Trainer::new(Adam::new(0.05)).epochs(epochs).batch_size(16).seed(3).quiet()
}

/// With early stopping the model ends with the best epoch's weights; the
/// checkpoint must hold exactly those, not the last epoch's.
#[test]
fn checkpoint_holds_the_best_weights_with_early_stopping() {
    let dir = scratch("ckpt-early");
    let path = dir.join("best.safetensors");
    let (train, val) = iris_split();
    let mut net = IrisNet::<f64>::seeded(0);
    let history = trainer(300).early_stopping(4).checkpoint(&path).fit(&mut net, &train, Some(&val)).unwrap();
    assert!(history.stopped_early, "the run must stop early for the test to tell best from last:\n{history}");
    let best = history.best_epoch.unwrap();
    assert!(best < history.epochs.len());

    let loaded = IrisNet::<f64>::load_safetensors(&path).unwrap();
    assert_eq!(state(&loaded), state(&net));
    let x = val.inputs().fixed_rows::<4>(0).into_owned();
    assert_eq!(bits(loaded.predict(&x).as_slice()), bits(net.predict(&x).as_slice()));
    std::fs::remove_dir_all(dir).unwrap();
}

/// Without early stopping the model ends with the last epoch; the checkpoint
/// holds the best one, which a seeded rerun stopped at that epoch reproduces.
#[test]
fn checkpoint_holds_the_best_epoch_while_training_goes_on() {
    let dir = scratch("ckpt-last");
    let path = dir.join("best.safetensors");
    let (train, val) = iris_split();
    let mut net = IrisNet::<f64>::seeded(0);
    let history = trainer(40).checkpoint(&path).fit(&mut net, &train, Some(&val)).unwrap();
    let best = history.best_epoch.unwrap();
    let val_losses: Vec<f64> = history.epochs.iter().map(|e| e.val_loss.unwrap()).collect();
    let lowest = val_losses.iter().copied().fold(f64::INFINITY, f64::min);
    assert_eq!(val_losses[best - 1], lowest);
    assert!(best < 40, "the last epoch must not be the best for the test to tell them apart: {val_losses:?}");

    let mut rerun = IrisNet::<f64>::seeded(0);
    trainer(best).fit(&mut rerun, &train, Some(&val)).unwrap();
    let loaded = IrisNet::<f64>::load_safetensors(&path).unwrap();
    assert_eq!(state(&loaded), state(&rerun));
    assert_ne!(state(&loaded), state(&net));
    std::fs::remove_dir_all(dir).unwrap();
}

/// A checkpoint folder that is missing is a typed error before the first
/// step (issue 19); one that disappears during training stops training with
/// a typed error after the epoch whose checkpoint failed, and the model keeps
/// what it learned (here: epoch 2, a new best).
#[test]
fn a_failed_checkpoint_is_an_error_and_keeps_the_trained_weights() {
    let (train, val) = iris_split();
    let missing = std::env::temp_dir().join("nn-no-such-folder-5e2a/best.safetensors");
    let mut net = IrisNet::<f64>::seeded(0);
    let e = trainer(10).checkpoint(&missing).fit(&mut net, &train, Some(&val)).unwrap_err();
    assert!(matches!(&e, TrainError::Unwritable { what: "checkpoint", .. }), "{e}");
    assert!(e.to_string().contains("nn-no-such-folder-5e2a"), "{e}");
    assert_eq!(state(&net), state(&IrisNet::<f64>::seeded(0)), "refused before the first step");

    let dir = std::env::temp_dir().join(format!("nn-vanishing-checkpoint-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("best.safetensors");
    let gone = dir.clone();
    let removing = trainer(10).checkpoint(&path).on_epoch_end(move |end| {
        if end.stats().epoch == 1 {
            std::fs::remove_dir_all(&gone).unwrap();
        }
    });
    let e = { removing }.fit(&mut net, &train, Some(&val)).unwrap_err();
    match &e {
        TrainError::Checkpoint { epoch: 2, source } => {
            assert!(source.to_string().contains("nn-vanishing-checkpoint"), "{source}");
            assert_eq!(source.path(), Some(path.as_path()));
        }
        other => panic!("expected a checkpoint error after epoch 2, got {other:?}"),
    }
    assert!(e.to_string().contains("epoch 2"), "{e}");
    // The causes are kept, not only their text: the SaveError, then the I/O error under it.
    let save = std::error::Error::source(&e).and_then(|s| s.downcast_ref::<nn::io::SaveError>()).expect("SaveError");
    let io = std::error::Error::source(save).and_then(|s| s.downcast_ref::<std::io::Error>()).expect("io::Error");
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);

    let mut two_epochs = IrisNet::<f64>::seeded(0);
    trainer(2).fit(&mut two_epochs, &train, Some(&val)).unwrap();
    assert_eq!(state(&net), state(&two_epochs));
    assert_ne!(state(&net), state(&IrisNet::<f64>::seeded(0)));
}
