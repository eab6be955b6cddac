//! `seq` networks of `network!`: gradients through time via the generated
//! forward/backward, the sequence API and its `Model` view (steps * N rows),
//! errors for bad sequences, PyTorch names, the summary, and the Trainer.

use nn::prelude::*;
use nn::testing::grad_check_at;
use nn::{ItemKind, ShapeError};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;

nn::network! {
    /// Position-wise layers before, between and after recurrent layers.
    pub struct Stacked(seq 3 -> 2) {
        dense(4), tanh, lstm(5, forget_bias = 1.0), layer_norm, gru(4), dense(4), sigmoid, last, dense(3), tanh, dense(2),
    }

    /// Dropout at every step; its masks are frozen by the gradient check.
    pub struct Dropped(seq 2 -> 1) { rnn(4), dropout(0.3), residual { dense(4), relu }, last, dense(1) }

    #[derive(Clone, Debug)]
    pub struct Adder(seq 2 -> 1) { lstm(8), last, dense(1) }
}

/// A random sequence batch as the `Model` sees it: `steps * n` rows.
fn random(rows: usize, cols: usize, seed: u64) -> nn::nalgebra::DMatrix<f64> {
    use nn::rand::Rng;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    nn::nalgebra::DMatrix::from_fn(rows, cols, |_, _| rng.random_range(-1.0..1.0))
}

fn steps<const N: usize>(m: &nn::nalgebra::DMatrix<f64>) -> Vec<Batch<f64, N>> {
    (0..m.nrows() / N).map(|t| Batch::from_fn(m.ncols(), |i, j| m[(t * N + i, j)])).collect()
}

#[test]
fn stacked_seq_network_gradients_match_finite_differences() {
    for (length, seed) in [(1, 1), (6, 2)] {
        let mut net = Stacked::<f64>::seeded(seed);
        let report = grad_check_at(&mut net, &random(3 * length, 3, seed + 10), seed + 20);
        assert_eq!(report.tensors.len(), net.parameters().len());
        for t in
            ["0.weight", "2.weight_ih", "2.weight_hh", "2.bias_ih", "2.bias_hh", "3.weight", "4.weight_hh", "8.bias"]
        {
            assert!(report.tensors.iter().any(|n| n == t), "{t} not checked: {:?}", report.tensors);
        }
        report.assert_below(1e-6);
    }
    let mut net = Dropped::<f64>::seeded(3);
    let report = grad_check_at(&mut net, &random(2 * 5, 4, 30), 31);
    assert!(report.tensors.iter().any(|n| n == "2.0.weight"), "{:?}", report.tensors);
    report.assert_below(1e-6);
}

#[test]
fn names_follow_pytorch_with_last_counted() {
    let names: Vec<String> = Stacked::<f64>::seeded(0).parameters().into_iter().map(|p| p.name).collect();
    assert_eq!(
        names,
        [
            "0.weight",
            "0.bias",
            "2.weight_ih",
            "2.weight_hh",
            "2.bias_ih",
            "2.bias_hh",
            "3.weight",
            "3.bias",
            "4.weight_ih",
            "4.weight_hh",
            "4.bias_ih",
            "4.bias_hh",
            "5.weight",
            "5.bias",
            "8.weight",
            "8.bias",
            "10.weight",
            "10.bias",
        ]
    );
    let p = Stacked::<f64>::seeded(0).parameters();
    assert_eq!(p[2].shape, [20, 4]);
    assert_eq!(p[3].shape, [20, 5]);
    assert_eq!(p[9].shape, [12, 4]);
    // forget_bias = 1.0: b_ih + b_hh of the forget block (rows 5..10) is 1.
    for k in 5..10 {
        assert_eq!(p[4].value[k] + p[5].value[k], 1.0);
    }
    // Recurrent blocks start orthogonal: each 4x4 block of the GRU's weight_hh.
    let w = nn::nalgebra::DMatrix::from_row_slice(4, 4, &p[9].value[16..32]);
    assert!((&w * w.transpose() - nn::nalgebra::DMatrix::identity(4, 4)).amax() < 1e-12);
}

#[test]
fn slice_api_agrees_with_the_model_view() {
    let mut net = Stacked::<f64>::seeded(4);
    let m = random(3 * 5, 2, 40);
    let xs = steps::<3>(&m);
    let y = net.forward(&xs);
    assert_eq!(y.ncols(), 2);
    assert_eq!(net.predict(&xs), y, "no dropout or batch statistics: predict is forward");
    let g = Batch::<f64, 2>::from_fn(2, |i, j| 1.0 - i as f64 + 0.5 * j as f64);
    let dx = net.backward(&g);
    assert_eq!(dx.len(), 5);
    let once: Vec<f64> = net.parameters().into_iter().flat_map(|p| p.grad).collect();

    let view = net.forward_view(m.as_view()).unwrap().into_owned();
    assert_eq!(view.as_slice(), y.as_slice());
    let dx_view = net.backward_view(g.as_view()).unwrap().into_owned();
    assert_eq!(dx_view.shape(), (15, 2));
    assert_eq!(steps::<3>(&dx_view), dx);
    for (twice, once) in net.parameters().into_iter().flat_map(|p| p.grad).zip(&once) {
        assert!((twice - 2.0 * once).abs() < 1e-12, "gradients add up over two backward passes");
    }
    assert_eq!(net.predict_view(m.as_view()).unwrap().as_slice(), y.as_slice());
    net.zero_grad();
    assert!(net.parameters().iter().all(|p| p.grad.iter().all(|g| *g == 0.0)));

    // The gradient reaches the first step, and depends on it.
    assert!(dx[0].norm() > 0.0);
    let mut shorter = Stacked::<f64>::seeded(4);
    shorter.forward(&xs[1..]);
    assert_ne!(shorter.forward(&xs[1..]), y, "the first step changes the output");
}

/// The message of the panic `f` raises (it must raise one).
fn panic_message(f: impl FnOnce()) -> String {
    let payload = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).expect_err("a panic");
    payload.downcast_ref::<String>().cloned().unwrap_or_default()
}

#[test]
fn bad_sequences_are_errors_from_try_methods_and_panics_saying_so_from_the_others() {
    let mut net = Adder::<f64>::seeded(5);
    assert_eq!(net.try_forward(&[]).unwrap_err(), ShapeError::EmptySequence);
    assert_eq!(
        panic_message(|| drop(net.forward(&[]))),
        "forward: sequence has no time steps (`try_forward` returns this as a `ShapeError`)"
    );
    assert_eq!(net.try_predict(&[]).unwrap_err(), ShapeError::EmptySequence);
    assert_eq!(
        panic_message(|| drop(net.predict(&[]))),
        "predict: sequence has no time steps (`try_predict` returns this as a `ShapeError`)"
    );
    let ragged = vec![Batch::<f64, 2>::zeros(3), Batch::zeros(3), Batch::zeros(2)];
    assert_eq!(net.try_forward(&ragged).unwrap_err(), ShapeError::RaggedSequence { step: 2, expected: 3, found: 2 });
    assert!(panic_message(|| {
        net.forward_ref(&ragged);
    })
    .starts_with("forward: time step 2 has 2 samples"));
    assert_eq!(net.try_backward(&Batch::zeros(3)).unwrap_err(), ShapeError::NoForward);
    assert!(panic_message(|| drop(net.backward(&Batch::zeros(3)))).starts_with("backward: backward called before"));

    let xs = vec![Batch::<f64, 2>::from_element(3, 0.5); 4];
    net.forward(&xs);
    assert_eq!(net.try_backward(&Batch::zeros(2)).unwrap_err(), ShapeError::BatchSize { forward: 3, backward: 2 });
    assert_eq!(net.try_backward(&Batch::zeros(3)).unwrap().len(), 4);

    let empty = nn::nalgebra::DMatrix::<f64>::zeros(0, 3);
    assert_eq!(net.forward_view(empty.as_view()).unwrap_err(), ShapeError::EmptySequence);
    assert_eq!(net.predict_view(empty.as_view()).unwrap_err(), ShapeError::EmptySequence);
    let odd = nn::nalgebra::DMatrix::<f64>::zeros(7, 3);
    assert_eq!(net.forward_view(odd.as_view()).unwrap_err(), ShapeError::StepRows { per_step: 2, found: 7 });
    assert!(net.forward_view(odd.as_view()).unwrap_err().to_string().contains("not a whole number of time steps"));
    assert_eq!(net.predict_view(odd.as_view()).unwrap_err(), ShapeError::StepRows { per_step: 2, found: 7 });
    let g = nn::nalgebra::DMatrix::<f64>::zeros(2, 3);
    assert_eq!(
        net.backward_view(g.as_view()).unwrap_err(),
        ShapeError::Width { what: "gradient", expected: 1, found: 2 }
    );
}

#[test]
fn summary_shows_sequence_widths_and_last() {
    let s = Adder::<f32>::seeded(0).summary();
    let lines: Vec<&str> = s.lines().collect();
    assert_eq!(lines[0], "Adder (seq 2 -> 1)");
    assert!(lines[3].starts_with("0      lstm(8)"), "{s}");
    assert!(lines[3].contains("seq 2 -> seq 8") && lines[3].contains(" 384 "), "{s}");
    assert!(lines[3].contains("recurrent orthogonal(gain = 1)"), "{s}");
    assert!(lines[4].contains("last") && lines[4].contains("seq 8 -> 8"), "{s}");
    assert!(lines[5].contains("dense(1)") && lines[5].contains("8 -> 1"), "{s}");
    assert!(s.contains("total parameters: 393"), "{s}");
    assert_eq!(Adder::<f32>::seeded(0).parameter_count(), 393);
    assert_eq!((Adder::INPUT, Adder::OUTPUT), (2, 1));
    const { assert!(<Adder<f32> as Model<f32>>::SEQUENCE) };
}

#[test]
fn probe_shows_every_step_before_last_and_one_vector_after() {
    let mut net = Adder::<f64>::seeded(6);
    let xs = vec![Batch::<f64, 2>::from_element(3, 0.5); 4];
    net.forward(&xs);
    net.backward(&Batch::from_element(3, 1.0));
    let mut seen = Vec::new();
    net.probe(&mut |p| {
        seen.push((p.index, p.kind, p.output.map(|o| o.shape()), p.input_grad.map(|g| g.shape())));
    });
    assert_eq!(
        seen,
        [
            (0, ItemKind::Lstm, Some((8, 12)), Some((2, 12))),
            (1, ItemKind::Last, Some((8, 3)), Some((8, 12))),
            (2, ItemKind::Dense, Some((1, 3)), Some((8, 3))),
        ]
    );
}

#[test]
fn trainer_fits_a_sequence_dataset_with_global_norm_clipping() {
    use nn::data::Dataset;
    use nn::optim::Adam;
    // Target: the first step's value, which the LSTM must carry over 5 steps.
    let (length, samples) = (5, 256);
    let mut x = random(2 * length, samples, 70);
    let targets = nn::nalgebra::DMatrix::from_fn(1, samples, |_, j| x[(0, j)]);
    for j in 0..samples {
        x[(1, j)] = 1.0;
    }
    let data = Dataset::new(x, Labels::Real(targets)).unwrap();
    let mut net = Adder::<f64>::seeded(7);
    let before = nn::train::evaluate(&net, Loss::Mse, &data).unwrap().loss;
    let mut trainer =
        Trainer::new(Adam::new(0.02)).loss(Loss::Mse).epochs(30).batch_size(32).clip(Clip::GlobalNorm(1.0)).quiet();
    let history = trainer.fit(&mut net, &data, None).unwrap();
    let after = nn::train::evaluate(&net, Loss::Mse, &data).unwrap().loss;
    assert!(after < 0.1 * before, "MSE {before} -> {after}");
    assert!(history.epochs.iter().all(|e| e.grad_norm_max.is_finite()));

    // Samples must be whole sequences: a multiple of the per-step width.
    let bad = Dataset::new(random(7, 4, 71), Labels::Real(nn::nalgebra::DMatrix::zeros(1, 4))).unwrap();
    assert!(matches!(
        trainer.fit(&mut net, &bad, None),
        Err(nn::train::TrainError::Width { expected: 2, found: 7, .. })
    ));
}

nn::network! {
    /// The network of `tools/reference/safetensors_interop.py`'s LSTM.
    pub struct TorchLstm(seq 3 -> 2) { lstm(5), last, dense(2) }
}

#[test]
fn pytorch_lstm_state_dict_loads_strictly_and_files_round_trip() {
    let reference = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/reference/out/torch_lstm.safetensors");
    let mut net = TorchLstm::<f64>::seeded(0);
    let before = net.parameters();
    // Every name, dtype and shape must match PyTorch's state_dict for the load to succeed.
    nn::io::load_safetensors_into(&mut net, &reference).unwrap();
    assert!(net.parameters().iter().zip(&before).all(|(a, b)| a.name == b.name && a.value != b.value));

    let bytes = nn::io::save_to_bytes(&net).unwrap();
    let mut copy = TorchLstm::<f64>::seeded(1);
    nn::io::load_from_bytes(&mut copy, &bytes).unwrap();
    assert_eq!(copy.parameters(), net.parameters());
    let xs = steps::<3>(&random(3 * 4, 2, 80));
    assert_eq!(copy.predict(&xs), net.predict(&xs));
}
