//! Sequences of different lengths against PyTorch's packed sequences, from
//! `tools/reference/seq.py` (`tests/data/seq_reference.txt`, float64): LSTM
//! and GRU layers on `pack_padded_sequence`, their bidirectional versions
//! with `h_n`, `nn.Embedding`, and cross-entropy and MSE over the real steps.
//! Outputs and every gradient agree to 1e-10.

use std::collections::HashMap;

mod common;

use nalgebra::DMatrix;
use nn_runtime::layers::Embedding;
use nn_runtime::rnn::{Bidirectional, GruCell, Last, LstmCell, PackedGrad, Recurrent, SeqLayer, Steps};
use nn_runtime::{seeded_rng, Batch, Layer, Loss, ParamMut, ParamRef, Targets, Visit, VisitMut};

const I: usize = 3;
const H: usize = 4;
const STEPS: usize = 5;
const BATCH: usize = 4;
const TOL: f64 = 1e-10;

fn reference() -> HashMap<String, Vec<f64>> {
    common::reference_table("seq_reference.txt")
}

fn lengths(r: &HashMap<String, Vec<f64>>) -> Vec<usize> {
    r["lengths"].iter().map(|&l| l as usize).collect()
}

fn assert_close(what: &str, ours: &[f64], torch: &[f64]) {
    assert_eq!(ours.len(), torch.len(), "{what}: length");
    for (e, (a, b)) in ours.iter().zip(torch).enumerate() {
        let err = (a - b).abs() / a.abs().max(b.abs()).max(1e-3);
        assert!(err < TOL, "{what}[{e}]: ours {a:.17e}, torch {b:.17e}, relative error {err:.2e}");
    }
}

/// Packs `[steps, batch, n]` (torch's padded layout) as `steps` says.
fn pack(v: &[f64], n: usize, steps: &Steps) -> Vec<f64> {
    let mut out = Vec::with_capacity(n * steps.cols());
    for t in 0..steps.steps() {
        for &j in &steps.order()[..steps.size(t)] {
            out.extend_from_slice(&v[(t * BATCH + j) * n..(t * BATCH + j + 1) * n]);
        }
    }
    out
}

/// Unpacks into `[steps, batch, n]`, zero past each sequence's end.
fn unpack(v: &[f64], n: usize, steps: &Steps) -> Vec<f64> {
    let mut out = vec![0.0; STEPS * BATCH * n];
    for t in 0..steps.steps() {
        for (k, &j) in steps.order()[..steps.size(t)].iter().enumerate() {
            let c = steps.offset(t) + k;
            out[(t * BATCH + j) * n..(t * BATCH + j + 1) * n].copy_from_slice(&v[c * n..(c + 1) * n]);
        }
    }
    out
}

/// Loads tensors named `{case}.{name}{suffix}` and clears the gradients.
struct Load<'a>(&'a HashMap<String, Vec<f64>>, &'a str, &'a str);
impl VisitMut<f64> for Load<'_> {
    fn param(&mut self, p: ParamMut<'_, f64>) {
        p.value.copy_from_slice(&self.0[&format!("{}.{}{}", self.1, p.name, self.2)]);
        p.grad.fill(0.0);
    }
}

/// Compares every gradient with `{case}.grad.{name}{suffix}`; counts them.
struct Grads<'a>(&'a HashMap<String, Vec<f64>>, &'a str, &'a str, usize);
impl Visit<f64> for Grads<'_> {
    fn param(&mut self, p: ParamRef<'_, f64>) {
        let name = format!("{}.grad.{}{}", self.1, p.name, self.2);
        assert_close(&name, p.grad, &self.0[&name]);
        self.3 += 1;
    }
}

fn one_direction<L: SeqLayer<f64, I, H>>(mut cell: L, case: &str) {
    let r = reference();
    let steps = Steps::from_lengths(&lengths(&r), STEPS).unwrap();
    cell.visit_mut(&mut Load(&r, case, "_l0"));
    let x = Batch::<f64, I>::from_column_slice(&pack(&r[&format!("{case}.x")], I, &steps));
    let mut out = nn_runtime::empty();
    cell.forward_packed(&x, &steps, &mut out).unwrap();
    assert_close(&format!("{case}.out"), &unpack(out.as_slice(), H, &steps), &r[&format!("{case}.out")]);
    // h_n: each sequence's state after its last step, in packed order.
    let h_n = cell.final_state()[0].clone();
    let mut h_n_torch = vec![0.0; H * BATCH];
    for (k, &j) in steps.order().iter().enumerate() {
        h_n_torch[H * k..H * (k + 1)].copy_from_slice(&r[&format!("{case}.h_n")][H * j..H * (j + 1)]);
    }
    assert_close(&format!("{case}.h_n"), h_n.as_slice(), &h_n_torch);
    // dL/dh_n enters at each sequence's last step.
    let mut g = pack(&r[&format!("{case}.r")], H, &steps);
    for (k, &j) in steps.order().iter().enumerate() {
        let c = steps.last_column(k);
        for i in 0..H {
            g[H * c + i] += r[&format!("{case}.rh")][H * j + i];
        }
    }
    let mut dx = nn_runtime::empty();
    cell.backward_packed(PackedGrad::Every(&g), Some(&mut dx)).unwrap();
    assert_close(&format!("{case}.grad.x"), &unpack(dx.as_slice(), I, &steps), &r[&format!("{case}.grad.x")]);
    let mut grads = Grads(&r, case, "_l0", 0);
    cell.visit(&mut grads);
    assert_eq!(grads.3, 4);
}

#[test]
fn lstm_and_gru_match_packed_sequences() {
    one_direction(LstmCell::<f64, I, H>::new(&mut seeded_rng(0)), "lstm");
    one_direction(GruCell::<f64, I, H>::new(&mut seeded_rng(0)), "gru");
}

fn both_directions<C: nn_runtime::rnn::CellMath>(case: &str) {
    let r = reference();
    let steps = Steps::from_lengths(&lengths(&r), STEPS).unwrap();
    let mut rng = seeded_rng(1);
    let mut layer = Bidirectional::<f64, C, I, H, 8>::new(Recurrent::new(&mut rng), Recurrent::new(&mut rng));
    layer.visit_mut(&mut Load(&r, case, ""));
    let x = Batch::<f64, I>::from_column_slice(&pack(&r[&format!("{case}.x")], I, &steps));
    let out = layer.forward_steps(&x, &steps).clone();
    assert_close(&format!("{case}.out"), &unpack(out.as_slice(), 8, &steps), &r[&format!("{case}.out")]);
    // `last` after `bidirectional` is h_n: [2, batch, H] in torch.
    let h_n = Last::<f64, 8>::bidirectional().forward(&out, &steps).unwrap().clone();
    let torch_h_n = &r[&format!("{case}.h_n")];
    for (k, &j) in steps.order().iter().enumerate() {
        for d in 0..2 {
            let ours = &h_n.as_slice()[8 * k + H * d..8 * k + H * (d + 1)];
            assert_close(&format!("{case}.h_n"), ours, &torch_h_n[(d * BATCH + j) * H..(d * BATCH + j + 1) * H]);
        }
    }
    let mut g = pack(&r[&format!("{case}.r")], 8, &steps);
    let rh = &r[&format!("{case}.rh")];
    for (k, &j) in steps.order().iter().enumerate() {
        let (last, first) = (steps.last_column(k), k);
        for i in 0..H {
            g[8 * last + i] += rh[H * j + i];
            g[8 * first + H + i] += rh[(BATCH + j) * H + i];
        }
    }
    let dx = layer.backward(&Batch::<f64, 8>::from_column_slice(&g)).clone();
    assert_close(&format!("{case}.grad.x"), &unpack(dx.as_slice(), I, &steps), &r[&format!("{case}.grad.x")]);
    let mut grads = Grads(&r, case, "", 0);
    layer.visit(&mut grads);
    assert_eq!(grads.3, 8);
}

#[test]
fn bidirectional_lstm_and_gru_match_nn_lstm_and_nn_gru() {
    both_directions::<nn_runtime::rnn::Lstm>("bilstm");
    both_directions::<nn_runtime::rnn::Gru>("bigru");
}

#[test]
fn embedding_matches_nn_embedding() {
    let r = reference();
    let steps = Steps::from_lengths(&lengths(&r), STEPS).unwrap();
    let mut e = Embedding::<f64, 6, 3>::new(&mut seeded_rng(2));
    e.visit_mut(&mut Load(&r, "embedding", ""));
    let ids = Batch::<f64, 1>::from_column_slice(&pack(&r["embedding.ids"], 1, &steps));
    let out = e.forward_steps(&ids, &steps).clone();
    assert_close("embedding.out", &unpack(out.as_slice(), 3, &steps), &r["embedding.out"]);
    e.backward_params(&Batch::<f64, 3>::from_column_slice(&pack(&r["embedding.r"], 3, &steps)));
    let mut grads = Grads(&r, "embedding", "", 0);
    e.visit(&mut grads);
    assert_eq!(grads.3, 1);
}

/// `[steps, batch, m]` as a `Model` batch: `steps * m` rows, one column per sample.
fn model_layout(v: &[f64], m: usize) -> DMatrix<f64> {
    DMatrix::from_fn(STEPS * m, BATCH, |row, j| v[((row / m) * BATCH + j) * m + row % m])
}

#[test]
fn losses_over_real_steps_match_the_losses_on_packed_data() {
    let r = reference();
    let lengths = lengths(&r);
    let logits = model_layout(&r["ce.logits"], 7);
    let classes: Vec<usize> =
        (0..BATCH * STEPS).map(|i| r["ce.classes"][(i % STEPS) * BATCH + i / STEPS] as usize).collect();
    let mut grad = DMatrix::zeros(STEPS * 7, BATCH);
    let targets = Targets::StepClasses { classes: &classes, lengths: &lengths };
    let value = Loss::SoftmaxCrossEntropy.value_and_grad(logits.as_view(), targets, grad.as_view_mut()).unwrap();
    assert_close("ce.loss", &[value], &r["ce.loss"]);
    assert_close("ce.grad", grad.as_slice(), model_layout(&r["ce.grad"], 7).as_slice());

    let (y, t) = (model_layout(&r["mse.y"], 2), model_layout(&r["mse.t"], 2));
    let targets = Targets::StepReal { values: t.as_view(), per_step: 2, lengths: &lengths };
    let mut grad = DMatrix::zeros(STEPS * 2, BATCH);
    let value = Loss::Mse.value_and_grad(y.as_view(), targets, grad.as_view_mut()).unwrap();
    assert_close("mse.loss", &[value], &r["mse.loss"]);
    assert_close("mse.grad", grad.as_slice(), model_layout(&r["mse.grad"], 2).as_slice());
}
