//! `nn::export` on trained networks: the exported file, compiled by rustc on
//! the host (as a `#![no_std]` library with warnings denied, and into a
//! program), agrees with the network's own `predict` on every sample of the
//! digits' test split (largest difference below 1e-5 of the largest output,
//! the same class) for a vector, an image and a sequence network.

use nn::data::{digits, stratified_split, Dataset, Standardizer};
use nn::optim::Adam;
use nn::testing::{assert_exported_agrees, run_exported};
use nn::{Model, Trainer};

#[path = "../examples/common/digit_net.rs"]
mod digit_net;

use digit_net::DigitNet;

nn::network! {
    /// The README's Inception network.
    pub struct TinyNet((1, 8, 8) -> 10) {
        conv2d(8, kernel = 3, padding = 1), batch_norm, relu,
        parallel {
            branch { conv2d(4, kernel = 1), relu },
            branch { conv2d(4, kernel = 1), relu, conv2d(6, kernel = 3, padding = 1), relu },
            branch { max_pool(3, stride = 1, padding = 1), conv2d(2, kernel = 1), relu },
        },
        aux_head(weight = 0.3) { avg_pool(2), conv2d(4, kernel = 1), relu, flatten, dense(10) },
        max_pool(2),
        global_avg_pool,
        dense(10),
    }
}

nn::network! {
    /// Each row of a digit is a time step.
    pub struct RowLstm(seq 8 -> 10) { lstm(32), last, dense(10) }
}

nn::network! {
    /// Every cell, stacked, with position-wise layers before and after `last`.
    pub struct RowCells(seq 8 -> 10) { dense(12), tanh, rnn(16), gru(16), lstm(16), last, gelu, dense(10) }
}

nn::network! {
    /// Recurrent layers inside `residual`, `batch_norm` over the real steps
    /// and `layer_norm` between recurrent layers (the second version's deeper stacks).
    pub struct DeepRows(seq 8 -> 10) { lstm(16), batch_norm, residual { gru(16), layer_norm }, last, dense(10) }
    /// What the exported file cannot compute.
    pub struct TokenLm(tokens 28 -> 3) { embedding(8), lstm(8), last, dense(3) }
    pub struct RowTagger(seq 8 -> seq 3) { lstm(8), dense(3) }
    pub struct BothWays(seq 8 -> 3) { dense(4), bidirectional { gru(4) }, last, dense(3) }
}

/// The digits split as the examples split them, standardized on the training part.
fn data() -> (Dataset<f32>, Dataset<f32>) {
    let (mut train, mut test) = stratified_split(&digits::<f32>(), 0.2, 7).unwrap();
    let s = Standardizer::fit(&train).unwrap();
    s.apply(&mut train).unwrap();
    s.apply(&mut test).unwrap();
    (train, test)
}

/// Trains `net` for `epochs`, exports it, and holds the file to `predict` on the whole test split.
fn check<M: Model<f32>>(what: &str, net: &mut M, source: impl Fn(&M) -> String, steps: Option<usize>, epochs: usize) {
    let (train, test) = data();
    Trainer::new(Adam::new(3e-3)).epochs(epochs).batch_size(64).quiet().fit(net, &train, None).unwrap();
    let own = net.predict_view(test.inputs().as_view()).unwrap();
    let source = source(net);
    let exported = run_exported(&source, test.inputs().as_slice(), steps).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(exported.len(), 10 * test.len());
    assert_exported_agrees(what, &exported, own.as_slice(), 10);
}

#[test]
fn a_vector_network_exports_to_the_same_predictions() {
    let mut net = DigitNet::<f32>::seeded(42);
    check("DigitNet", &mut net, |n| nn::export::to_rust(n).unwrap(), None, 3);
    let source = nn::export::to_rust(&net).unwrap();
    // Batch norm folded into the dense layers (seven of them, no scale_shift),
    // dropout and the auxiliary head's dense(10) left out.
    assert_eq!(source.matches("= dense(&").count(), 8, "seven hidden dense layers and the output");
    assert!(!source.contains("scale_shift"));
    assert!(source.contains("pub fn predict(x: &[f32; INPUT]) -> [f32; OUTPUT]"));
}

#[test]
fn an_image_network_exports_to_the_same_predictions() {
    let mut net = TinyNet::<f32>::seeded(1);
    check("TinyNet", &mut net, |n| nn::export::to_rust(n).unwrap(), None, 2);
}

#[test]
fn an_lstm_network_exports_to_the_same_predictions() {
    let mut net = RowLstm::<f32>::seeded(3);
    check("RowLstm", &mut net, |n| nn::export::to_rust(n).unwrap(), Some(8), 3);
    let source = nn::export::to_rust(&net).unwrap();
    assert!(source.contains("pub fn predict(xs: &[[f32; INPUT]]) -> [f32; OUTPUT]"), "the sequence form");
}

#[test]
fn rnn_gru_and_lstm_cells_export_to_the_same_predictions() {
    let mut net = RowCells::<f32>::seeded(4);
    check("RowCells", &mut net, |n| nn::export::to_rust(n).unwrap(), Some(8), 2);
}

#[test]
fn recurrent_layers_in_residual_export_and_each_sequence_runs_over_its_own_length() {
    let mut net = DeepRows::<f32>::seeded(5);
    check("DeepRows", &mut net, |n| nn::export::to_rust(n).unwrap(), Some(8), 2);
    let source = nn::export::to_rust(&net).unwrap();
    let (_, test) = data();
    // Every sample cut to 3 of its 8 rows, or kept whole, in one padded batch for nn.
    let lengths: Vec<usize> = (0..test.len()).map(|j| if j % 2 == 0 { 3 } else { 8 }).collect();
    let own = net.predict_seq_view(test.inputs().as_view(), &lengths).unwrap();
    for length in [3, 8] {
        let picked: Vec<usize> = (0..test.len()).filter(|&j| lengths[j] == length).collect();
        let inputs: Vec<f32> = picked
            .iter()
            .flat_map(|&j| test.inputs().column(j).iter().take(8 * length).copied().collect::<Vec<_>>())
            .collect();
        let exported = run_exported(&source, &inputs, Some(length)).unwrap();
        let own: Vec<f32> = picked.iter().flat_map(|&j| own.column(j).iter().copied().collect::<Vec<_>>()).collect();
        assert_exported_agrees(&format!("DeepRows, {length} steps"), &exported, &own, 10);
    }
}

#[test]
fn what_the_exported_file_cannot_compute_is_refused_by_name() {
    let refused = |e: nn::export::ExportError| match e {
        nn::export::ExportError::Unsupported { what, .. } => what,
        other => panic!("another error: {other}"),
    };
    assert_eq!(refused(nn::export::to_rust(&TokenLm::<f32>::seeded(0)).unwrap_err()), "a `tokens` input");
    assert_eq!(refused(nn::export::to_rust(&RowTagger::<f32>::seeded(0)).unwrap_err()), "a `seq` output");
    let e = nn::export::to_rust(&BothWays::<f32>::seeded(0)).unwrap_err();
    assert!(e.to_string().starts_with("cannot export `bidirectional` (item 1): "), "{e}");
    assert!(nn::export::write_rust(&BothWays::<f32>::seeded(0), std::env::temp_dir().join("nn-both-ways.rs")).is_err());
}
