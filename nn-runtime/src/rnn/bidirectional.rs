//! `bidirectional { lstm(h) }` (and `gru`, `rnn`): one cell runs forward in
//! time, another backward from each sequence's own last step, and each
//! step's output is the two stacked, `[forward; reverse]`, as
//! `nn.LSTM(I, h, bidirectional=True)`.
//!
//! The reverse direction is the same packed recurrence run on each sequence
//! mirrored in time: a reversed sequence has the length of the original, so
//! the packed layout ([`Steps`]) is the same, and column `offset(u) + k` of
//! the mirrored batch is column `offset(length_k - 1 - u) + k` of the
//! original. Mirroring is a permutation of columns that is its own inverse,
//! so the inputs, the reverse outputs and their gradients each cross it with
//! one copy.

use super::unrolled::steps_or_one;
use super::{CellMath, PackedGrad, Recurrent, SeqLayer, Steps};
use crate::layer::{empty, ensure_cols, Io};
use crate::{
    batch::Batch,
    kernels::Float,
    layer::{Layer, Visit, VisitMut},
};

/// `nn.LSTM`'s names for the forward direction's tensors.
const FORWARD: [&str; 4] = ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"];
/// `nn.LSTM`'s names for the reverse direction's tensors.
const REVERSE: [&str; 4] = ["weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse", "bias_hh_l0_reverse"];

/// A bidirectional layer of cell `C`, `I` features to `O = 2 H` per step.
#[derive(Clone, Debug)]
pub struct Bidirectional<T: Float, C: CellMath, const I: usize, const H: usize, const O: usize> {
    forward: Recurrent<T, C, I, H>,
    reverse: Recurrent<T, C, I, H>,
    /// The mirrored column of each column of the last forward.
    mirror: Vec<usize>,
    one_step: Steps,
    x_reverse: Batch<T, I>,
    out_forward: Batch<T, H>,
    /// The reverse direction's outputs, mirrored.
    out_reverse: Batch<T, H>,
    grad_forward: Vec<T>,
    grad_reverse: Vec<T>,
    dx_forward: Batch<T, I>,
    dx_reverse: Batch<T, I>,
    io: Io<T, I, O>,
}

/// Column `c` of `to` (`rows` each) is column `mirror[c]` of `from`.
fn mirrored<T: Float>(from: &[T], rows: usize, mirror: &[usize], to: &mut [T]) {
    if rows == 0 {
        return;
    }
    for (column, &m) in to.chunks_exact_mut(rows).zip(mirror) {
        column.copy_from_slice(&from[rows * m..rows * (m + 1)]);
    }
}

/// The mirrored column of every column of a packed batch.
fn mirror_of(steps: &Steps, into: &mut Vec<usize>) {
    into.clear();
    for t in 0..steps.steps() {
        into.extend((0..steps.size(t)).map(|k| steps.mirrored_column(t, k)));
    }
}

/// Stacks `[forward[:, c]; reverse[:, mirror[c]]]` into each column of `out`.
fn stack<T: Float>(forward: &[T], reverse: &[T], h: usize, mirror: &[usize], out: &mut [T]) {
    if h == 0 {
        return;
    }
    for ((column, f), &m) in out.chunks_exact_mut(2 * h).zip(forward.chunks_exact(h)).zip(mirror) {
        column[..h].copy_from_slice(f);
        column[h..].copy_from_slice(&reverse[h * m..h * (m + 1)]);
    }
}

/// The caller (a network's core) packed the batch as its steps say and
/// calls backward only after a forward, with a gradient of its shape.
const STAGED: &str = "a sequence batch staged by the network fits its steps";

impl<T: Float, C: CellMath, const I: usize, const H: usize, const O: usize> Bidirectional<T, C, I, H, O> {
    /// The two directions' cells (each drawn as `nn.LSTMCell`'s, see [`Recurrent`]).
    pub fn new(forward: Recurrent<T, C, I, H>, reverse: Recurrent<T, C, I, H>) -> Self {
        const { assert!(O == 2 * H, "a bidirectional layer gives both directions: O = 2 H") };
        Self {
            forward,
            reverse,
            mirror: Vec::new(),
            one_step: Steps::default(),
            x_reverse: empty(),
            out_forward: empty(),
            out_reverse: empty(),
            grad_forward: Vec::new(),
            grad_reverse: Vec::new(),
            dx_forward: empty(),
            dx_reverse: empty(),
            io: Io::default(),
        }
    }

    /// The forward direction's cell.
    pub fn forward_cell(&self) -> &Recurrent<T, C, I, H> {
        &self.forward
    }

    /// The reverse direction's cell.
    pub fn reverse_cell(&self) -> &Recurrent<T, C, I, H> {
        &self.reverse
    }

    /// Splits dL/d(outputs) into the directions' (the reverse one's mirrored).
    fn split_grad(&mut self, g: &Batch<T, O>, mirror: bool) {
        let n = g.ncols();
        self.grad_forward.resize(H * n, T::zero());
        self.grad_reverse.resize(H * n, T::zero());
        if H == 0 {
            return;
        }
        for (c, column) in g.as_slice().chunks_exact(O).enumerate() {
            self.grad_forward[H * c..H * (c + 1)].copy_from_slice(&column[..H]);
            let r = if mirror { self.mirror[c] } else { c };
            self.grad_reverse[H * r..H * (r + 1)].copy_from_slice(&column[H..]);
        }
    }

    /// Both directions' backward from the split gradient (every step's, or
    /// each sequence's last only); dL/dx, into the io, when `dx`.
    fn backward_both(&mut self, last: bool, dx: bool) -> Option<&Batch<T, I>> {
        let (forward_grad, reverse_grad) = if last {
            (PackedGrad::Last(&self.grad_forward[..]), PackedGrad::Last(&self.grad_reverse[..]))
        } else {
            (PackedGrad::Every(&self.grad_forward[..]), PackedGrad::Every(&self.grad_reverse[..]))
        };
        if !dx {
            self.forward.backward_packed(forward_grad, None).expect(STAGED);
            self.reverse.backward_packed(reverse_grad, None).expect(STAGED);
            return None;
        }
        self.forward.backward_packed(forward_grad, Some(&mut self.dx_forward)).expect(STAGED);
        self.reverse.backward_packed(reverse_grad, Some(&mut self.dx_reverse)).expect(STAGED);
        let (f, r, mirror) = (&self.dx_forward, &self.dx_reverse, &self.mirror);
        Some(self.io.write_input_grad(f.ncols(), |out| {
            mirrored(r.as_slice(), I, mirror, out);
            for (o, f) in out.iter_mut().zip(f.as_slice()) {
                *o += *f;
            }
        }))
    }
}

impl<T: Float, C: CellMath, const I: usize, const H: usize, const O: usize> Layer<T, I, O>
    for Bidirectional<T, C, I, H, O>
{
    fn forward(&mut self, x: &Batch<T, I>) -> &Batch<T, O> {
        self.forward_steps(x, Steps::none())
    }

    fn forward_steps(&mut self, x: &Batch<T, I>, steps: &Steps) -> &Batch<T, O> {
        let steps = steps_or_one(steps, &mut self.one_step, x.ncols());
        mirror_of(steps, &mut self.mirror);
        ensure_cols(&mut self.x_reverse, x.ncols());
        mirrored(x.as_slice(), I, &self.mirror, self.x_reverse.as_mut_slice());
        self.forward.forward_packed(x, steps, &mut self.out_forward).expect(STAGED);
        self.reverse.forward_packed(&self.x_reverse, steps, &mut self.out_reverse).expect(STAGED);
        let (f, r, mirror) = (&self.out_forward, &self.out_reverse, &self.mirror);
        self.io.write_output(x.ncols(), |y| stack(f.as_slice(), r.as_slice(), H, mirror, y))
    }

    fn backward(&mut self, g: &Batch<T, O>) -> &Batch<T, I> {
        self.split_grad(g, true);
        self.backward_both(false, true).expect("asked for dL/dx")
    }

    fn backward_params(&mut self, g: &Batch<T, O>) {
        self.split_grad(g, true);
        self.backward_both(false, false);
    }

    // Followed by `last`, the gradient is PyTorch's dL/dh_n: the forward
    // half at each sequence's last step, which is where the forward
    // direction ends, and the reverse half at step 0, where the reverse one ends.
    fn backward_last_step(&mut self, g: &Batch<T, O>) -> Option<&Batch<T, I>> {
        self.split_grad(g, false);
        self.backward_both(true, true)
    }

    fn backward_params_last_step(&mut self, g: &Batch<T, O>) -> bool {
        self.split_grad(g, false);
        self.backward_both(true, false);
        true
    }

    fn predict(&self, x: &Batch<T, I>) -> Batch<T, O> {
        self.predict_steps(x, Steps::none())
    }

    fn predict_steps(&self, x: &Batch<T, I>, steps: &Steps) -> Batch<T, O> {
        let mut one = Steps::default();
        let steps = steps_or_one(steps, &mut one, x.ncols());
        let mut mirror = Vec::new();
        mirror_of(steps, &mut mirror);
        let mut x_reverse = Batch::<T, I>::zeros(x.ncols());
        mirrored(x.as_slice(), I, &mirror, x_reverse.as_mut_slice());
        let f = self.forward.predict_packed(x, steps).expect(STAGED);
        let r = self.reverse.predict_packed(&x_reverse, steps).expect(STAGED);
        let mut y = Batch::<T, O>::zeros(x.ncols());
        stack(f.as_slice(), r.as_slice(), H, &mirror, y.as_mut_slice());
        y
    }

    fn io(&self) -> Option<&Io<T, I, O>> {
        Some(&self.io)
    }

    fn visit(&self, v: &mut dyn Visit<T>) {
        self.forward.visit_as(v, &FORWARD);
        self.reverse.visit_as(v, &REVERSE);
        v.carry("state", None);
    }

    fn visit_mut(&mut self, v: &mut dyn VisitMut<T>) {
        self.forward.visit_mut_as(v, &FORWARD);
        self.reverse.visit_mut_as(v, &REVERSE);
        v.carry("state", None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rnn::{pack_with, GruCell, Last, LstmCell, SeqGrad};
    use crate::{init::seeded_rng, model::Model};

    /// Each sequence of a mixed batch: the forward half is the forward cell
    /// run on it alone, the reverse half the reverse cell run on it reversed
    /// (PyTorch's definition), and gradients (every step, or `h_n` through
    /// `last`) match the sum over the sequences run alone.
    #[test]
    fn each_direction_is_its_cell_on_the_sequence_and_on_it_reversed() {
        let lengths = [2, 5, 1, 4];
        let steps = Steps::from_lengths(&lengths, 5).unwrap();
        let value = |j: usize, t: usize, i: usize| ((j * 17 + t * 5 + i * 3) as f64 * 0.29).sin();
        let grad = |j: usize, t: usize, i: usize| ((j * 7 + t * 11 + i) as f64 * 0.43).cos();
        let mut x = Batch::<f64, 3>::zeros(steps.cols());
        pack_with(&steps, 3, x.as_mut_slice(), |t, j, c| {
            c.iter_mut().enumerate().for_each(|(i, v)| *v = value(j, t, i))
        });
        let make = || {
            let mut rng = seeded_rng(90);
            let f = LstmCell::<f64, 3, 2>::new(&mut rng);
            (f, LstmCell::<f64, 3, 2>::new(&mut rng))
        };
        for through_last in [false, true] {
            let (f, r) = make();
            let mut layer = Bidirectional::<f64, _, 3, 2, 4>::new(f.clone(), r.clone());
            let y = layer.forward_steps(&x, &steps).clone();
            let mut last = Last::<f64, 4>::bidirectional();
            let mut g = Batch::<f64, 4>::zeros(steps.cols());
            pack_with(&steps, 4, g.as_mut_slice(), |t, j, c| {
                c.iter_mut().enumerate().for_each(|(i, v)| *v = grad(j, t, i))
            });
            let dx = if through_last {
                last.forward(&y, &steps).unwrap();
                let h_n = Batch::<f64, 4>::from_fn(4, |i, k| grad(steps.order()[k], 0, i));
                layer.backward_last_step(&h_n).unwrap().clone()
            } else {
                layer.backward(&g).clone()
            };
            let (mut f_sum, mut r_sum) = (vec![0.0; 4 * 2 * 3], vec![0.0; 4 * 2 * 3]);
            for (k, &j) in steps.order().iter().enumerate() {
                let n = lengths[j];
                let xs: Vec<Batch<f64, 3>> = (0..n).map(|t| Batch::from_fn(1, |i, _| value(j, t, i))).collect();
                let reversed: Vec<Batch<f64, 3>> = xs.iter().rev().cloned().collect();
                let (mut fa, mut ra) = make();
                let fy = fa.forward_seq(&xs, None).unwrap().to_vec();
                let ry = ra.forward_seq(&reversed, None).unwrap().to_vec();
                let (fdx, rdx) = if through_last {
                    let gf = Batch::<f64, 2>::from_fn(1, |i, _| grad(j, 0, i));
                    let gr = Batch::<f64, 2>::from_fn(1, |i, _| grad(j, 0, i + 2));
                    (
                        fa.backward_seq(SeqGrad::Last(&gf), None).unwrap().to_vec(),
                        ra.backward_seq(SeqGrad::Last(&gr), None).unwrap().to_vec(),
                    )
                } else {
                    let gf: Vec<Batch<f64, 2>> = (0..n).map(|t| Batch::from_fn(1, |i, _| grad(j, t, i))).collect();
                    let gr: Vec<Batch<f64, 2>> =
                        (0..n).rev().map(|t| Batch::from_fn(1, |i, _| grad(j, t, i + 2))).collect();
                    (
                        fa.backward_seq(SeqGrad::Every(&gf), None).unwrap().to_vec(),
                        ra.backward_seq(SeqGrad::Every(&gr), None).unwrap().to_vec(),
                    )
                };
                for t in 0..n {
                    let c = steps.offset(t) + k;
                    for i in 0..2 {
                        assert!((y[(i, c)] - fy[t][i]).abs() < 1e-14, "forward half, sample {j} step {t}");
                        assert!((y[(i + 2, c)] - ry[n - 1 - t][i]).abs() < 1e-14, "reverse half, sample {j} step {t}");
                    }
                    for i in 0..3 {
                        let want = fdx[t][i] + rdx[n - 1 - t][i];
                        assert!((dx[(i, c)] - want).abs() < 1e-13, "dL/dx, sample {j} step {t}");
                    }
                }
                if through_last {
                    let h_n = last.output().unwrap();
                    assert!((h_n[(0, k)] - fy[n - 1][0]).abs() < 1e-14 && (h_n[(2, k)] - ry[n - 1][0]).abs() < 1e-14);
                }
                for (sum, g) in f_sum.iter_mut().zip(&fa.gates.weight_ih.grad) {
                    *sum += g;
                }
                for (sum, g) in r_sum.iter_mut().zip(&ra.gates.weight_ih.grad) {
                    *sum += g;
                }
            }
            for (a, b) in layer.forward.gates.weight_ih.grad.iter().zip(&f_sum) {
                assert!((a - b).abs() < 1e-12, "forward weight_ih gradient");
            }
            for (a, b) in layer.reverse.gates.weight_ih.grad.iter().zip(&r_sum) {
                assert!((a - b).abs() < 1e-12, "reverse weight_ih gradient");
            }
            assert!((layer.predict_steps(&x, &steps) - &y).amax() < 1e-14, "predict is forward");
        }
    }

    #[test]
    fn parameters_have_nn_lstms_names() {
        let mut rng = seeded_rng(91);
        let layer = Bidirectional::<f64, _, 3, 4, 8>::new(GruCell::new(&mut rng), GruCell::new(&mut rng));
        let m = crate::testing::LayerModel::new(layer);
        let names: Vec<(String, Vec<usize>)> = m.parameters().into_iter().map(|p| (p.name, p.shape)).collect();
        let expect = |n: &str, s: &[usize]| (n.to_string(), s.to_vec());
        assert_eq!(
            names,
            [
                expect("weight_ih_l0", &[12, 3]),
                expect("weight_hh_l0", &[12, 4]),
                expect("bias_ih_l0", &[12]),
                expect("bias_hh_l0", &[12]),
                expect("weight_ih_l0_reverse", &[12, 3]),
                expect("weight_hh_l0_reverse", &[12, 4]),
                expect("bias_ih_l0_reverse", &[12]),
                expect("bias_hh_l0_reverse", &[12]),
            ]
        );
    }
}
