//! The recurrent cells against PyTorch: outputs and torch.autograd gradients
//! for weights, inputs and initial states written by `tools/reference/rnn.py`
//! into `tests/data/rnn_reference.txt` (nn.RNNCell, nn.LSTMCell, nn.GRUCell,
//! float64, 5 steps of 2 samples, I = 3, H = 4; also truncated at k = 2).

use std::collections::HashMap;
use std::num::NonZeroUsize;

mod common;

use nn_runtime::rnn::{GruCell, LstmCell, RnnCell, SeqGrad, SeqLayer};
use nn_runtime::{seeded_rng, Batch, ParamMut, ParamRef, Visit, VisitMut};

const I: usize = 3;
const H: usize = 4;
const STEPS: usize = 5;
const BATCH: usize = 2;
const TOL: f64 = 1e-10;

fn reference() -> HashMap<String, Vec<f64>> {
    common::reference_table("rnn_reference.txt")
}

/// `[steps, batch, n]` row-major is, per step, a column-major `n x batch` batch.
fn steps<const N: usize>(v: &[f64]) -> Vec<Batch<f64, N>> {
    v.chunks_exact(N * BATCH).map(Batch::<f64, N>::from_column_slice).collect()
}

/// Returns the worst relative error.
fn assert_close(what: &str, ours: &[f64], torch: &[f64]) -> f64 {
    assert_eq!(ours.len(), torch.len(), "{what}: length");
    let mut worst = 0.0f64;
    for (e, (a, b)) in ours.iter().zip(torch).enumerate() {
        let err = (a - b).abs() / a.abs().max(b.abs()).max(1e-3);
        assert!(err < TOL, "{what}[{e}]: ours {a:.17e}, torch {b:.17e}, relative error {err:.2e}");
        worst = worst.max(err);
    }
    worst
}

struct Load<'a>(&'a HashMap<String, Vec<f64>>, &'a str);
impl VisitMut<f64> for Load<'_> {
    fn param(&mut self, p: ParamMut<'_, f64>) {
        let v = &self.0[&format!("{}.{}", self.1, p.name)];
        p.value.copy_from_slice(v);
        p.grad.fill(0.0);
    }
}

/// Compares every parameter gradient; counts them and keeps the worst error.
struct Grads<'a>(&'a HashMap<String, Vec<f64>>, &'a str, usize, f64);
impl Visit<f64> for Grads<'_> {
    fn param(&mut self, p: ParamRef<'_, f64>) {
        assert_eq!(p.shape.iter().product::<usize>(), p.value.len());
        let name = format!("{}.grad.{}", self.1, p.name);
        self.3 = self.3.max(assert_close(&name, p.grad, &self.0[&name]));
        self.2 += 1;
    }
}

fn check<L: SeqLayer<f64, I, H>>(mut cell: L, kind: &str, case: &str, r: &HashMap<String, Vec<f64>>) {
    cell.visit_mut(&mut Load(r, kind));
    let xs = steps::<I>(&r[&format!("{kind}.x")]);
    assert_eq!(xs.len(), STEPS);
    let mut initial = vec![Batch::<f64, H>::from_column_slice(&r[&format!("{kind}.h0")])];
    let mut final_grad = vec![Batch::<f64, H>::zeros(BATCH)];
    if L::STATE_PARTS == 2 {
        initial.push(Batch::from_column_slice(&r[&format!("{kind}.c0")]));
        final_grad.push(Batch::from_column_slice(&r[&format!("{kind}.rc")]));
    }
    let outs: Vec<f64> =
        cell.forward_seq(&xs, Some(&initial)).unwrap().iter().flat_map(|h| h.iter().copied()).collect();
    let mut worst = assert_close(&format!("{case}.out"), &outs, &r[&format!("{case}.out")]);
    if L::STATE_PARTS == 2 {
        worst = worst.max(assert_close(
            &format!("{case}.c_last"),
            cell.final_state()[1].as_slice(),
            &r[&format!("{case}.c_last")],
        ));
    }
    let predicted: Vec<f64> =
        cell.predict_seq(&xs, Some(&initial)).unwrap().iter().flat_map(|h| h.iter().copied()).collect();
    assert_eq!(predicted, outs, "{case}: predict_seq differs from forward_seq");

    let weights = steps::<H>(&r[&format!("{kind}.r")]);
    let dx: Vec<f64> = cell
        .backward_seq(SeqGrad::Every(&weights), Some(&final_grad))
        .unwrap()
        .iter()
        .flat_map(|d| d.iter().copied())
        .collect();
    worst = worst.max(assert_close(&format!("{case}.grad.x"), &dx, &r[&format!("{case}.grad.x")]));
    let d0 = cell.initial_state_grad();
    worst = worst.max(assert_close(&format!("{case}.grad.h0"), d0[0].as_slice(), &r[&format!("{case}.grad.h0")]));
    if L::STATE_PARTS == 2 {
        worst = worst.max(assert_close(&format!("{case}.grad.c0"), d0[1].as_slice(), &r[&format!("{case}.grad.c0")]));
    }
    let mut grads = Grads(r, case, 0, 0.0);
    cell.visit(&mut grads);
    assert_eq!(grads.2, 4, "{case}: every parameter compared");
    eprintln!("{case}: worst relative error against torch {:.1e}", worst.max(grads.3));
}

fn k2() -> Option<NonZeroUsize> {
    NonZeroUsize::new(2)
}

#[test]
fn rnn_cell_matches_torch() {
    let r = reference();
    check(RnnCell::<f64, I, H>::new(&mut seeded_rng(0)), "rnn", "rnn", &r);
    check(RnnCell::<f64, I, H>::new(&mut seeded_rng(0)).with_truncation(k2()), "rnn", "rnn_trunc2", &r);
}

#[test]
fn lstm_cell_matches_torch() {
    let r = reference();
    check(LstmCell::<f64, I, H>::new(&mut seeded_rng(0)), "lstm", "lstm", &r);
    check(LstmCell::<f64, I, H>::new(&mut seeded_rng(0)).with_truncation(k2()), "lstm", "lstm_trunc2", &r);
}

#[test]
fn gru_cell_matches_torch() {
    let r = reference();
    check(GruCell::<f64, I, H>::new(&mut seeded_rng(0)), "gru", "gru", &r);
    check(GruCell::<f64, I, H>::new(&mut seeded_rng(0)).with_truncation(k2()), "gru", "gru_trunc2", &r);
}

#[test]
fn truncation_changes_the_reference_gradients() {
    // Guards the truncated cases against being trivially equal to the full ones.
    let r = reference();
    for kind in ["rnn", "lstm", "gru"] {
        let (full, cut) = (&r[&format!("{kind}.grad.weight_hh")], &r[&format!("{kind}_trunc2.grad.weight_hh")]);
        assert!(full.iter().zip(cut).any(|(a, b)| (a - b).abs() > 1e-3), "{kind}");
    }
}
