//! Sequences, second version: token inputs, outputs per step, variable
//! lengths, `bidirectional`, recurrent layers in `residual`. The four networks
//! of DESIGN.md ("Sequences, second version") as written, and small networks
//! of the same shapes whose every gradient is checked by finite differences
//! in f64, variable lengths included.

use nn::nalgebra::DMatrix;
use nn::prelude::*;
use nn::testing::grad_check_lengths;
use nn::ShapeError;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

nn::network! {
    pub struct Tagger(seq 16 -> seq 5) { lstm(64), dropout(0.2), lstm(64), dense(5) }
    pub struct CharLm(tokens 28 -> seq 28) { embedding(32), lstm(128), dense(28) }
    pub struct Reviews(tokens 5000 -> 2) { embedding(64), bidirectional { gru(64) }, last, dense(2) }
    pub struct Deep(seq 8 -> 1) { lstm(32), residual { lstm(32), layer_norm }, last, dense(1) }
}

nn::network! {
    /// The four networks' shapes at widths small enough to check every
    /// gradient by finite differences, with every recurrent kind.
    pub struct SmallTagger(seq 3 -> seq 2) { lstm(4), dropout(0.2), gru(3), dense(2) }
    #[derive(Clone)]
    pub struct SmallLm(tokens 6 -> seq 6) { embedding(3), lstm(4), dense(6) }
    #[derive(Clone)]
    pub struct SmallReviews(tokens 9 -> 2) { embedding(3), bidirectional { gru(3) }, last, dense(2) }
    #[derive(Clone)]
    pub struct SmallDeep(seq 2 -> 1) { lstm(3), residual { rnn(3), layer_norm }, last, dense(1) }
    /// `bidirectional` of each cell, position-wise items before `last`, and
    /// `batch_norm` over the real steps.
    pub struct Stacks(seq 2 -> 2) {
        dense(3), batch_norm, bidirectional { lstm(2, forget_bias = 1.0) }, layer_norm,
        repeat(2) { residual { gru(4), tanh } }, bidirectional { rnn(2) }, dropout(0.1), last, dense(2),
    }
}

fn random(rows: usize, cols: usize, seed: u64) -> DMatrix<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    DMatrix::from_fn(rows, cols, |_, _| rng.random_range(-1.0..1.0))
}

/// Token ids below `vocab`, `steps` rows, one column per sample, as the `Model` takes them.
fn ids(vocab: usize, steps: usize, cols: usize, seed: u64) -> DMatrix<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    DMatrix::from_fn(steps, cols, |_, _| rng.random_range(0..vocab) as f64)
}

const LENGTHS: [usize; 5] = [3, 1, 5, 2, 5];

#[test]
fn every_gradient_of_the_four_shapes_matches_finite_differences_with_mixed_lengths() {
    let steps = 5;
    let mut tagger = SmallTagger::<f64>::seeded(1);
    let report = grad_check_lengths(&mut tagger, &random(3 * steps, 5, 10), &LENGTHS, 11);
    assert_eq!(report.tensors.len(), 10);
    report.assert_below(1e-6);

    let mut lm = SmallLm::<f64>::seeded(2);
    let report = grad_check_lengths(&mut lm, &ids(6, steps, 5, 12), &LENGTHS, 13);
    assert_eq!(report.tensors[0], "0.weight");
    report.assert_below(1e-6);

    let mut reviews = SmallReviews::<f64>::seeded(3);
    let report = grad_check_lengths(&mut reviews, &ids(9, steps, 5, 14), &LENGTHS, 15);
    assert!(report.tensors.iter().any(|t| t == "1.weight_hh_l0_reverse"), "{:?}", report.tensors);
    report.assert_below(1e-6);

    let mut deep = SmallDeep::<f64>::seeded(4);
    let report = grad_check_lengths(&mut deep, &random(2 * steps, 5, 16), &LENGTHS, 17);
    assert!(report.tensors.iter().any(|t| t == "1.0.weight_hh"), "{:?}", report.tensors);
    report.assert_below(1e-6);

    let mut stacks = Stacks::<f64>::seeded(5);
    let report = grad_check_lengths(&mut stacks, &random(2 * steps, 5, 18), &LENGTHS, 19);
    for t in ["1.weight", "2.bias_hh_l0_reverse", "4.1.0.0.weight_ih", "5.weight_ih_l0"] {
        assert!(report.tensors.iter().any(|n| n == t), "{t} not checked: {:?}", report.tensors);
    }
    report.assert_below(1e-6);
}

/// The gradients of a batch (summed over its samples) and those of each
/// sample run alone, summed, for a `Model` and a per-sample slice of its input.
fn batch_and_alone<M: Model<f64> + Clone>(
    net: &M,
    x: &DMatrix<f64>,
    g: &DMatrix<f64>,
    rows_per_step: usize,
    out_per_step: Option<usize>,
) -> (Vec<f64>, Vec<f64>) {
    let mut batch = net.clone();
    batch.zero_grad();
    let y = batch.forward_seq_view(x.as_view(), &LENGTHS).unwrap().into_owned();
    if let Some(m) = out_per_step {
        for (j, &length) in LENGTHS.iter().enumerate() {
            let padding = y.view((m * length, j), (y.nrows() - m * length, 1));
            assert!(padding.iter().all(|v| *v == 0.0), "outputs past the end of sample {j} are zero");
        }
    }
    batch.backward_view(g.as_view()).unwrap();
    let together: Vec<f64> = batch.parameters().into_iter().flat_map(|p| p.grad).collect();
    let mut sum = vec![0.0; together.len()];
    for (j, &length) in LENGTHS.iter().enumerate() {
        let mut alone = net.clone();
        alone.zero_grad();
        let xj = x.view((0, j), (rows_per_step * length, 1)).into_owned();
        let yj = alone.forward_view(xj.as_view()).unwrap().into_owned();
        let rows = yj.nrows();
        assert!((&yj - y.view((0, j), (rows, 1))).amax() < 1e-13, "outputs of sample {j}");
        alone.backward_view(g.view((0, j), (rows, 1))).unwrap();
        for (s, p) in sum.iter_mut().zip(alone.parameters().into_iter().flat_map(|p| p.grad)) {
            *s += p;
        }
    }
    (together, sum)
}

/// A batch of mixed lengths gives each sequence what running it alone gives:
/// its outputs (zero past its end) and, summed over the sequences, the
/// parameter gradients; in evaluation mode with `batch_norm` too.
#[test]
fn a_mixed_batch_is_each_sequence_run_alone() {
    let steps = 5;
    let cases: [(Vec<f64>, Vec<f64>); 3] = [
        batch_and_alone(&SmallDeep::<f64>::seeded(8), &random(2 * steps, 5, 20), &random(1, 5, 21), 2, None),
        batch_and_alone(&SmallLm::<f64>::seeded(9), &ids(6, steps, 5, 22), &random(6 * steps, 5, 23), 1, Some(6)),
        batch_and_alone(&SmallReviews::<f64>::seeded(10), &ids(9, steps, 5, 24), &random(2, 5, 25), 1, None),
    ];
    for (together, sum) in cases {
        assert!(together.iter().any(|g| *g != 0.0));
        for (a, b) in together.iter().zip(&sum) {
            assert!((a - b).abs() < 1e-12, "gradient {a} vs the sum over sequences alone {b}");
        }
    }

    let x = random(2 * steps, 5, 26);
    let mut stacks = Stacks::<f64>::seeded(6);
    // Running statistics that are not the initial ones.
    stacks.forward_seq_view(x.as_view(), &LENGTHS).unwrap();
    let eval = stacks.predict_seq_view(x.as_view(), &LENGTHS).unwrap();
    for (j, &length) in LENGTHS.iter().enumerate() {
        let alone = x.view((0, j), (2 * length, 1)).into_owned();
        let y = stacks.predict_view(alone.as_view()).unwrap();
        assert!((y - eval.column(j)).amax() < 1e-13, "sample {j} in evaluation");
    }
}

#[test]
fn the_typed_api_takes_token_sequences_and_padded_batches_and_refuses_bad_ones() {
    assert_eq!((CharLm::INPUT, CharLm::OUTPUT, CharLm::VOCAB), (1, 28, 28));
    let mut lm = CharLm::<f64>::seeded(30);
    let words = vec![vec![27, 2, 0, 1], vec![27, 0]];
    let ys: Vec<Batch<f64, 28>> = lm.forward(&words);
    assert_eq!((ys.len(), ys[0].ncols()), (4, 2));
    assert!(ys[3].column(0).iter().any(|v| *v != 0.0) && ys[3].column(1).iter().all(|v| *v == 0.0));
    let predicted = lm.predict(&words);
    for (a, b) in predicted.iter().zip(&ys) {
        assert!((a - b).amax() < 1e-12, "no dropout: predict is forward");
    }
    // The second word alone gives its steps.
    let alone = lm.predict(&[vec![27, 0]]);
    assert!((alone[1].column(0) - ys[1].column(1)).amax() < 1e-12);
    assert!(lm.backward(&ys).is_empty(), "token ids have no gradient");
    assert!(lm.parameters()[0].grad.iter().any(|g| *g != 0.0));
    // Only the rows of the tokens seen get an embedding gradient.
    let seen = [0, 1, 2, 27];
    for (row, grad) in lm.parameters()[0].grad.chunks(32).enumerate() {
        assert_eq!(grad.iter().any(|g| *g != 0.0), seen.contains(&row), "row {row}");
    }

    assert_eq!(
        lm.try_forward(&[vec![27, 28]]).unwrap_err(),
        ShapeError::Token { sample: 0, step: 1, found: "28".into(), vocab: 28 }
    );
    assert!(lm.try_forward(&[vec![27, 28]]).unwrap_err().to_string().contains("sample 0, step 1: token 28"));
    assert_eq!(lm.try_predict(&[vec![1], vec![]]).unwrap_err(), ShapeError::Length { sample: 1, length: 0, steps: 1 });
    assert_eq!(lm.try_forward(&[]).unwrap_err(), ShapeError::EmptySequence);
    let half = DMatrix::from_column_slice(2, 1, &[3.0, 0.5]);
    assert_eq!(
        lm.forward_view(half.as_view()).unwrap_err(),
        ShapeError::Token { sample: 0, step: 1, found: "0.5".into(), vocab: 28 }
    );
    // Padding is never read: an id out of range there is no error.
    let padded = DMatrix::from_column_slice(2, 2, &[3.0, 99.0, 4.0, 5.0]);
    assert_eq!(lm.forward_seq_view(padded.as_view(), &[1, 2]).unwrap().shape(), (56, 2));

    let mut tagger = Tagger::<f64>::seeded(31);
    let xs: Vec<Batch<f64, 16>> = (0..4).map(|t| Batch::from_fn(3, |i, j| ((t + i + j) as f64).sin())).collect();
    let ys = tagger.predict_padded(&xs, &[4, 2, 3]).unwrap();
    assert_eq!((ys.len(), ys[0].ncols()), (4, 3));
    assert!(ys[2].column(1).iter().all(|v| *v == 0.0) && ys[3].column(2).iter().all(|v| *v == 0.0));
    let full = tagger.predict(&xs);
    assert!((full[1].column(0) - ys[1].column(0)).amax() < 1e-12, "the longest sequence is as in a full batch");
    let trained = tagger.forward_padded(&xs, &[4, 2, 3]).unwrap();
    let dx = tagger.backward(&trained);
    assert_eq!(dx.len(), 4);
    assert!(dx[3].column(1).iter().all(|v| *v == 0.0), "no gradient past a sequence's end");
    assert!(dx[1].column(1).iter().any(|v| *v != 0.0));
    assert_eq!(tagger.forward_padded(&xs, &[4, 2]).unwrap_err(), ShapeError::Lengths { expected: 3, found: 2 });
    assert_eq!(
        tagger.predict_padded(&xs, &[4, 5, 1]).unwrap_err(),
        ShapeError::Length { sample: 1, length: 5, steps: 4 }
    );
    assert_eq!(tagger.try_backward(&trained[..3]).unwrap_err(), ShapeError::SequenceLength { expected: 4, found: 3 });

    let mut reviews = Reviews::<f32>::seeded(32);
    let y = reviews.forward(&[vec![4999, 3, 7], vec![12]]);
    assert_eq!(y.shape(), (2, 2));
    let alone = reviews.predict(&[vec![12]]);
    assert!((alone.column(0) - y.column(1)).amax() < 1e-5);
}

#[test]
fn parameters_are_named_as_pytorch_modules_name_them_and_summaries_show_sequences() {
    let names = |p: Vec<nn::NamedParam<f32>>| p.into_iter().map(|p| (p.name, p.shape)).collect::<Vec<_>>();
    let n = |s: &str, shape: &[usize]| (s.to_string(), shape.to_vec());
    assert_eq!(
        names(Reviews::<f32>::seeded(0).parameters()),
        [
            n("0.weight", &[5000, 64]),
            n("1.weight_ih_l0", &[192, 64]),
            n("1.weight_hh_l0", &[192, 64]),
            n("1.bias_ih_l0", &[192]),
            n("1.bias_hh_l0", &[192]),
            n("1.weight_ih_l0_reverse", &[192, 64]),
            n("1.weight_hh_l0_reverse", &[192, 64]),
            n("1.bias_ih_l0_reverse", &[192]),
            n("1.bias_hh_l0_reverse", &[192]),
            n("3.weight", &[2, 128]),
            n("3.bias", &[2]),
        ]
    );
    assert_eq!(
        names(Deep::<f32>::seeded(0).parameters()),
        [
            n("0.weight_ih", &[128, 8]),
            n("0.weight_hh", &[128, 32]),
            n("0.bias_ih", &[128]),
            n("0.bias_hh", &[128]),
            n("1.0.weight_ih", &[128, 32]),
            n("1.0.weight_hh", &[128, 32]),
            n("1.0.bias_ih", &[128]),
            n("1.0.bias_hh", &[128]),
            n("1.1.weight", &[32]),
            n("1.1.bias", &[32]),
            n("3.weight", &[1, 32]),
            n("3.bias", &[1]),
        ]
    );
    let s = CharLm::<f32>::seeded(0).summary();
    let lines: Vec<&str> = s.lines().collect();
    assert_eq!(lines[0], "CharLm (tokens 28 -> seq 28)");
    assert!(
        lines[3].contains("embedding(32)") && lines[3].contains("tokens 28 -> seq 32") && lines[3].ends_with(" 896"),
        "{s}"
    );
    assert!(lines[5].contains("dense(28)") && lines[5].contains("seq 128 -> seq 28"), "{s}");
    let s = Reviews::<f32>::seeded(0).summary();
    assert!(s.contains("bidirectional { gru(64) }") && s.contains("seq 64 -> seq 128") && s.contains(" 49920 "), "{s}");
    assert!(s.contains("seq 128 -> 128"), "{s}");
    assert_eq!(Reviews::<f32>::seeded(0).parameter_count(), 5000 * 64 + 49920 + 258);
}

/// Token sequences of lengths 2 to 9 over `vocab` tokens in which token
/// `t + 1 (mod vocab)` follows token `t`, for a language model: each
/// sequence's targets are its inputs shifted by one.
fn counting(count: usize, vocab: usize, seed: u64) -> (Vec<Vec<usize>>, Vec<Vec<usize>>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..count)
        .map(|_| {
            let (start, length) = (rng.random_range(0..vocab), rng.random_range(2..10));
            let tokens: Vec<usize> = (0..=length).map(|k| (start + k) % vocab).collect();
            (tokens[..length].to_vec(), tokens[1..].to_vec())
        })
        .unzip()
}

/// The four networks as written train on data of their kind (sequences of
/// different lengths, bucketed), save under their names and load back.
#[test]
fn the_four_networks_train_on_variable_lengths_and_save_and_load() {
    let dir = std::env::temp_dir().join(format!("nn-seq-lengths-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    // CharLm: a class per step, token inputs.
    let (inputs, targets) = counting(256, 26, 40);
    let data = Dataset::<f32>::token_sequences(&inputs, &targets, 28).unwrap();
    let mut lm = CharLm::<f32>::seeded(41);
    let before = evaluate(&lm, Loss::SoftmaxCrossEntropy, &data).unwrap();
    let history = Trainer::new(Adam::new(0.01)).epochs(4).batch_size(32).quiet().fit(&mut lm, &data, None).unwrap();
    let after = evaluate(&lm, Loss::SoftmaxCrossEntropy, &data).unwrap();
    assert!(after.loss < 0.5 * before.loss, "cross-entropy per step {} -> {}", before.loss, after.loss);
    assert!(after.accuracy.unwrap() > 0.8, "accuracy over real steps {:?}", after.accuracy);
    let padding = history.epochs.iter().map(|e| e.padding.unwrap()).fold(0.0, f64::max);
    // Lengths 2 to 9 at random: a batch of 32 without bucketing pads about 40 %.
    assert!(padding < 0.12, "bucketing keeps padding low: {padding}");
    let csv = history.to_csv();
    assert!(csv.lines().next().unwrap().ends_with(",grad_norms,padding"), "{csv}");
    assert_eq!(nn::History::from_csv(&csv).unwrap().epochs, history.epochs, "the padding column reads back");
    round_trip(&lm, &dir.join("charlm.safetensors"), |p| CharLm::load_safetensors(p));

    // Tagger: vectors in, a class per step (the sign of the running sum of feature 0).
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let (n, steps) = (192, 7);
    let x = DMatrix::<f32>::from_fn(16 * steps, n, |_, _| rng.random_range(-1.0..1.0));
    let lengths: Vec<usize> = (0..n).map(|_| rng.random_range(1..=steps)).collect();
    let mut tags = vec![0; steps * n];
    for j in 0..n {
        let mut sum = 0.0;
        for t in 0..steps {
            sum += x[(16 * t, j)];
            tags[j * steps + t] = usize::from(sum > 0.0) + 2 * usize::from(x[(16 * t + 1, j)] > 0.0);
        }
    }
    let data = Dataset::sequences(x, 16, lengths, Labels::StepClasses { indices: tags, count: 5 }).unwrap();
    let mut tagger = Tagger::<f32>::seeded(43);
    let before = evaluate(&tagger, Loss::SoftmaxCrossEntropy, &data).unwrap().loss;
    Trainer::new(Adam::new(0.01)).epochs(6).batch_size(32).quiet().fit(&mut tagger, &data, None).unwrap();
    let after = evaluate(&tagger, Loss::SoftmaxCrossEntropy, &data).unwrap().loss;
    assert!(after < 0.6 * before, "tagger cross-entropy {before} -> {after}");
    round_trip(&tagger, &dir.join("tagger.safetensors"), |p| Tagger::load_safetensors(p));

    // Reviews: token sequences, one class each (whether token 7 occurs).
    let (inputs, _) = counting(256, 20, 44);
    let classes: Vec<usize> = inputs.iter().map(|s| usize::from(s.contains(&7))).collect();
    let longest = inputs.iter().map(Vec::len).max().unwrap();
    let ids = DMatrix::<f32>::from_fn(longest, inputs.len(), |t, j| inputs[j].get(t).map_or(0.0, |&v| v as f32));
    let lengths = inputs.iter().map(Vec::len).collect();
    let data = Dataset::sequences(ids, 1, lengths, Labels::Classes { indices: classes, count: 2 }).unwrap();
    let mut reviews = Reviews::<f32>::seeded(45);
    Trainer::new(Adam::new(0.005)).epochs(6).batch_size(32).quiet().fit(&mut reviews, &data, None).unwrap();
    let accuracy = evaluate(&reviews, Loss::SoftmaxCrossEntropy, &data).unwrap().accuracy.unwrap();
    assert!(accuracy > 0.9, "reviews accuracy {accuracy}");
    round_trip(&reviews, &dir.join("reviews.safetensors"), |p| Reviews::load_safetensors(p));

    // Deep: vectors in, one real number out (the mean of feature 0 over the real steps).
    let mut rng = ChaCha8Rng::seed_from_u64(46);
    let x = DMatrix::<f32>::from_fn(8 * steps, n, |_, _| rng.random_range(-1.0..1.0));
    let lengths: Vec<usize> = (0..n).map(|_| rng.random_range(1..=steps)).collect();
    let y = DMatrix::from_fn(1, n, |_, j| (0..lengths[j]).map(|t| x[(8 * t, j)]).sum::<f32>() / lengths[j] as f32);
    let data = Dataset::sequences(x, 8, lengths, Labels::Real(y)).unwrap();
    let mut deep = Deep::<f32>::seeded(47);
    let before = evaluate(&deep, Loss::Mse, &data).unwrap().loss;
    Trainer::new(Adam::new(0.005))
        .loss(Loss::Mse)
        .epochs(8)
        .batch_size(32)
        .quiet()
        .fit(&mut deep, &data, None)
        .unwrap();
    let after = evaluate(&deep, Loss::Mse, &data).unwrap().loss;
    assert!(after < 0.3 * before, "deep MSE {before} -> {after}");
    round_trip(&deep, &dir.join("deep.safetensors"), |p| Deep::load_safetensors(p));

    std::fs::remove_dir_all(&dir).unwrap();
}

/// Saves `net`, loads the file into a fresh network and compares every tensor.
fn round_trip<M: Model<f32>>(
    net: &M,
    path: &std::path::Path,
    load: impl Fn(&std::path::Path) -> Result<M, nn::io::LoadError>,
) {
    nn::io::save_safetensors(net, path).unwrap();
    let loaded = load(path).unwrap();
    let tensors = |m: &M| m.parameters().into_iter().map(|p| (p.name, p.shape, p.value)).collect::<Vec<_>>();
    assert!(tensors(&loaded) == tensors(net), "{} loads back what it saved", M::NAME);
}

#[test]
fn the_trainer_refuses_data_that_does_not_fit_the_layout() {
    let (inputs, targets) = counting(8, 26, 50);
    let per_step = Dataset::<f32>::token_sequences(&inputs, &targets, 28).unwrap();
    let err = Trainer::new(Adam::new(0.01)).quiet().fit(&mut Reviews::<f32>::seeded(0), &per_step, None).unwrap_err();
    assert!(err.to_string().contains("labels are per time step"), "{err}");
    let wide = Dataset::<f32>::token_sequences(&inputs, &targets, 40).unwrap();
    let err = Trainer::new(Adam::new(0.01)).quiet().fit(&mut CharLm::<f32>::seeded(0), &wide, None);
    assert!(err.is_ok(), "classes below 28 at real steps are fine, whatever the count says");
    let mut bad = targets.clone();
    bad[3][1] = 30;
    let out_of_range = Dataset::<f32>::token_sequences(&inputs, &bad, 40).unwrap();
    let err =
        Trainer::new(Adam::new(0.01)).quiet().fit(&mut CharLm::<f32>::seeded(0), &out_of_range, None).unwrap_err();
    assert!(err.to_string().contains("sample 3, step 1 has class 30"), "{err}");
}

/// nn -> PyTorch: `tools/reference/seq_modules.py` loads these committed
/// files (the four networks, f32) into PyTorch modules of the same shape with
/// `load_state_dict(strict=True)` and checks their outputs on the committed
/// inputs, of different lengths, against ours. This test pins the files to
/// what this code writes (the outputs to f32 rounding); with
/// `NN_WRITE_REFERENCE=1` it rewrites them.
#[test]
fn committed_files_for_pytorch_are_what_we_write() {
    let tokens = |vocab: usize, seed: u64| ids(vocab, 6, 4, seed).map(|v| v as f32);
    let vectors = |width: usize, seed: u64| random(width * 6, 4, seed).map(|v| v as f32);
    committed("tagger", Tagger::<f32>::seeded, vectors(16, 61));
    committed("charlm", CharLm::<f32>::seeded, tokens(28, 63));
    committed("reviews", Reviews::<f32>::seeded, tokens(5000, 65));
    committed("deep", Deep::<f32>::seeded, vectors(8, 67));
}

/// Lengths of the committed batches: 4 sequences of at most 6 steps.
const COMMITTED: [usize; 4] = [6, 2, 5, 1];

fn committed<M: Model<f32>>(name: &str, make: fn(u64) -> M, x: DMatrix<f32>) {
    let mut net = make(60);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/reference/out");
    let (file, io) = (dir.join(format!("nn_{name}.safetensors")), dir.join(format!("nn_{name}_io.safetensors")));
    nn::testing::scramble(&mut net, 68);
    let y = net.predict_seq_view(x.as_view(), &COMMITTED).unwrap();
    let lengths = DMatrix::from_iterator(1, 4, COMMITTED.iter().map(|&l| l as f32));
    if std::env::var_os("NN_WRITE_REFERENCE").is_some() {
        nn::io::save_safetensors(&net, &file).unwrap();
        // [batch, rows] row-major: one sample's column per row.
        let tensors = [("x", &x), ("lengths", &lengths), ("y", &y)].map(|(n, m)| {
            let bytes: Vec<u8> = m.iter().flat_map(|v| v.to_le_bytes()).collect();
            (n, vec![m.ncols(), m.nrows()], bytes)
        });
        let views = tensors.iter().map(|(n, shape, bytes)| {
            (*n, safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes).unwrap())
        });
        safetensors::serialize_to_file(views, None, &io).unwrap();
    }
    let mut fresh = make(0);
    nn::io::load_safetensors_into(&mut fresh, &file).unwrap();
    let tensors = |m: &M| m.parameters().into_iter().map(|p| (p.name, p.value)).collect::<Vec<_>>();
    assert!(tensors(&fresh) == tensors(&net), "{} is not what this code writes", file.display());
    let bytes = std::fs::read(&io).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let committed_y: Vec<f32> =
        st.tensor("y").unwrap().data().chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
    // The outputs to f32 rounding, not to the bit: they were written on
    // AVX-512 by an earlier kernel, and the last bits of a product depend on
    // its summation order, which differs between instruction sets (with
    // `NN_ISA=portable` 400 of the outputs differ, with `avx2` 30; each run
    // on one CPU gives the same bits). The parameters above are bit-exact,
    // and tools/reference/seq_modules.py holds PyTorch to 1e-4 of these.
    assert_eq!(committed_y.len(), y.len(), "{name}: outputs");
    let size = y.iter().fold(0f32, |m, v| m.max(v.abs()));
    for (k, (a, b)) in committed_y.iter().zip(y.iter()).enumerate() {
        assert!((a - b).abs() <= 1e-6 * size, "{name}: output {k} is {b}, committed {a}");
    }
}
