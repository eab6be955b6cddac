//! The piece every cell shares (burn's `gate_controller`): the parameters
//! `weight_ih [G*H, I]`, `weight_hh [G*H, H]`, `bias_ih`, `bias_hh [G*H]` and
//! the products `W_ih x + b_ih` and `W_hh h + b_hh`, with their backward.
//!
//! Shapes are run-time values here so each product is compiled once per
//! scalar type, not once per cell width.

use rand::Rng;

use crate::kernels::{add_bias_rows, add_row_sums, gemm, transpose_row_major, MatMut, MatRef};
use crate::layer::{Param, ParamKind, Tensor};
use crate::{
    init::Init,
    kernels::Float,
    layer::{Visit, VisitMut},
};

/// The tensors' names in a cell (`nn.RNNCell`, `nn.LSTMCell`, `nn.GRUCell`), in PyTorch's order.
const CELL_NAMES: [&str; 4] = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"];

/// Parameters and gradients of one recurrent cell, row-major in PyTorch's layout.
#[derive(Clone, Debug)]
pub(crate) struct Gates<T> {
    input: usize,
    hidden: usize,
    /// `G * H`: the stacked gate rows.
    rows: usize,
    /// `[G*H, I]`, `[G*H, H]`, `[G*H]`, `[G*H]`.
    pub(crate) weight_ih: Param<T>,
    pub(crate) weight_hh: Param<T>,
    pub(crate) bias_ih: Param<T>,
    pub(crate) bias_hh: Param<T>,
    /// `weight_hh` column-major, copied when a training sequence starts: the
    /// per-step product then reads it in place instead of re-laying it out at
    /// every step (see `kernels`).
    weight_hh_col_major: Vec<T>,
    /// Scratch for [`Gates::backward_biases`]: one row sum per gate row.
    bias_grad_sums: Vec<T>,
}

impl<T: Float> Gates<T> {
    /// PyTorch's initialization, uniform on `±1/sqrt(H)` for every tensor,
    /// except `weight_hh`, whose `H x H` block of each gate is drawn from
    /// `recurrent` (orthogonal by default, so the recurrence neither shrinks
    /// nor blows up the state at the start of training).
    pub(crate) fn new<R: Rng + ?Sized>(
        rng: &mut R,
        gates: usize,
        input: usize,
        hidden: usize,
        recurrent: Init,
    ) -> Self {
        let rows = gates * hidden;
        let pytorch = Init::Uniform(1.0 / (hidden.max(1) as f64).sqrt());
        let mut weight_ih = vec![T::zero(); rows * input];
        let mut weight_hh = vec![T::zero(); rows * hidden];
        let mut bias_ih = vec![T::zero(); rows];
        let mut bias_hh = vec![T::zero(); rows];
        pytorch.fill(rng, input, rows, rows, input, &mut weight_ih);
        if hidden > 0 {
            for block in weight_hh.chunks_exact_mut(hidden * hidden) {
                recurrent.fill(rng, hidden, hidden, hidden, hidden, block);
            }
        }
        pytorch.fill(rng, 1, rows, rows, 1, &mut bias_ih);
        pytorch.fill(rng, 1, rows, rows, 1, &mut bias_hh);
        Self {
            input,
            hidden,
            rows,
            weight_ih: Param::new(ParamKind::Weight, &[rows, input], weight_ih),
            weight_hh: Param::new(ParamKind::Weight, &[rows, hidden], weight_hh),
            bias_ih: Param::new(ParamKind::Bias, &[rows], bias_ih),
            bias_hh: Param::new(ParamKind::Bias, &[rows], bias_hh),
            weight_hh_col_major: Vec::new(),
            bias_grad_sums: vec![T::zero(); rows],
        }
    }

    /// `out = W_ih xs + b_ih` for `cols` columns at once (every step of a sequence):
    /// the one large product where a recurrent layer gets its speed. With
    /// `fold_hidden_bias`, `b_hh` is added too: a cell that adds the two
    /// projections (not `SPLIT`) then lets each step's recurrent product
    /// accumulate onto its block, with no bias or addition pass per step.
    pub(crate) fn project_inputs(&self, xs: &[T], cols: usize, out: &mut [T], fold_hidden_bias: bool) {
        gemm(
            T::one(),
            MatRef::row_major(&self.weight_ih.value, self.rows, self.input),
            MatRef::col_major(xs, self.input, cols),
            T::zero(),
            MatMut::col_major(out, self.rows, cols),
        );
        let out = &mut out[..self.rows * cols];
        if !fold_hidden_bias {
            add_bias_rows(out, &self.bias_ih.value);
        } else if self.rows > 0 {
            for col in out.chunks_exact_mut(self.rows) {
                for ((v, a), b) in col.iter_mut().zip(&self.bias_ih.value).zip(&self.bias_hh.value) {
                    *v += *a + *b;
                }
            }
        }
    }

    /// Refreshes the column-major copy of `weight_hh` that [`Gates::project_hidden`]
    /// reads with `cached = true`; call it when a training sequence starts.
    pub(crate) fn cache_hidden_weights(&mut self) {
        transpose_row_major(&self.weight_hh.value, self.rows, self.hidden, &mut self.weight_hh_col_major);
    }

    /// `out = W_hh h + b_hh` for one step of `cols` samples, or with `accumulate`
    /// `out += W_hh h` (the bias folded into the input projection); `cached`
    /// reads the copy made by [`Gates::cache_hidden_weights`] (the same values,
    /// laid out for the product).
    pub(crate) fn project_hidden(&self, h: &[T], cols: usize, out: &mut [T], cached: bool, accumulate: bool) {
        let w = if cached {
            MatRef::col_major(&self.weight_hh_col_major, self.rows, self.hidden)
        } else {
            MatRef::row_major(&self.weight_hh.value, self.rows, self.hidden)
        };
        let beta = if accumulate { T::one() } else { T::zero() };
        gemm(T::one(), w, MatRef::col_major(h, self.hidden, cols), beta, MatMut::col_major(out, self.rows, cols));
        if !accumulate {
            add_bias_rows(&mut out[..self.rows * cols], &self.bias_hh.value);
        }
    }

    /// `dh += W_hh^T dph` for one step: the gradient the recurrence carries back.
    pub(crate) fn hidden_grad(&self, dph: &[T], cols: usize, dh: &mut [T]) {
        gemm(
            T::one(),
            MatRef::row_major(&self.weight_hh.value, self.rows, self.hidden).t(),
            MatRef::col_major(dph, self.rows, cols),
            T::one(),
            MatMut::col_major(dh, self.hidden, cols),
        );
    }

    /// Given dL/d(W_ih x + b_ih) for every column and the inputs `xs` that
    /// were multiplied, adds to `weight_ih`'s gradient.
    pub(crate) fn backward_input_weights(&mut self, dpx: &[T], xs: &[T], cols: usize) {
        gemm(
            T::one(),
            MatRef::col_major(dpx, self.rows, cols),
            MatRef::col_major(xs, self.input, cols).t(),
            T::one(),
            MatMut::row_major(&mut self.weight_ih.grad, self.rows, self.input),
        );
    }

    /// `dxs = W_ih^T dpx`: dL/dx for every column.
    pub(crate) fn input_grads(&self, dpx: &[T], cols: usize, dxs: &mut [T]) {
        gemm(
            T::one(),
            MatRef::row_major(&self.weight_ih.value, self.rows, self.input).t(),
            MatRef::col_major(dpx, self.rows, cols),
            T::zero(),
            MatMut::col_major(dxs, self.input, cols),
        );
    }

    /// Given dL/d(W_hh h + b_hh) for every column and the states `hs` that were
    /// multiplied, adds to `weight_hh`'s gradient.
    pub(crate) fn backward_hidden_weights(&mut self, dph: &[T], hs: &[T], cols: usize) {
        gemm(
            T::one(),
            MatRef::col_major(dph, self.rows, cols),
            MatRef::col_major(hs, self.hidden, cols).t(),
            T::one(),
            MatMut::row_major(&mut self.weight_hh.grad, self.rows, self.hidden),
        );
    }

    /// Adds the row sums of `dpx` (dL/d(W_ih x + b_ih), `cols` columns) to
    /// `bias_ih`'s gradient and those of `dph` to `bias_hh`'s; `dph == None`
    /// when the two are the same (not `SPLIT`), which is then summed once.
    pub(crate) fn backward_biases(&mut self, dpx: &[T], dph: Option<&[T]>, cols: usize) {
        let len = self.rows * cols;
        match dph {
            Some(dph) => {
                add_row_sums(&mut self.bias_ih.grad, &dpx[..len]);
                add_row_sums(&mut self.bias_hh.grad, &dph[..len]);
            }
            None => {
                self.bias_grad_sums.fill(T::zero());
                add_row_sums(&mut self.bias_grad_sums, &dpx[..len]);
                for ((ih, hh), s) in self.bias_ih.grad.iter_mut().zip(&mut self.bias_hh.grad).zip(&self.bias_grad_sums)
                {
                    *ih += *s;
                    *hh += *s;
                }
            }
        }
    }

    /// Shows the four tensors under `nn.LSTMCell`'s names.
    pub(crate) fn visit(&self, v: &mut dyn Visit<T>) {
        self.visit_as(v, &CELL_NAMES);
    }

    /// The mutable twin of [`Gates::visit`].
    pub(crate) fn visit_mut(&mut self, v: &mut dyn VisitMut<T>) {
        self.visit_mut_as(v, &CELL_NAMES);
    }

    /// Shows the four tensors, in PyTorch's order, under `names`
    /// (`nn.LSTM`'s `weight_ih_l0`, ... for the directions of `bidirectional`).
    pub(crate) fn visit_as(&self, v: &mut dyn Visit<T>, names: &[&str; 4]) {
        let tensors = [&self.weight_ih, &self.weight_hh, &self.bias_ih, &self.bias_hh];
        for (t, name) in tensors.into_iter().zip(names) {
            t.show(name, v);
        }
    }

    /// The mutable twin of [`Gates::visit_as`].
    pub(crate) fn visit_mut_as(&mut self, v: &mut dyn VisitMut<T>, names: &[&str; 4]) {
        let tensors = [&mut self.weight_ih, &mut self.weight_hh, &mut self.bias_ih, &mut self.bias_hh];
        for (t, name) in tensors.into_iter().zip(names) {
            t.show_mut(name, v);
        }
    }
}
