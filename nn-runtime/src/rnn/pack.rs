//! Copies between the layouts callers give sequences in and the packed
//! layout of [`Steps`] that a `seq` network runs on.
//!
//! Callers pad: a batch of sequences is `padded` steps of every sample, as
//! one batch per step (`&[Batch<T, N>]`, the typed API) or as a `Model`
//! matrix of `padded * N` rows (rows `t*N .. (t+1)*N` are step `t`), one
//! column per sample, with each sample's length beside it. Packing keeps the
//! real steps only, longest sequence first; unpacking puts them back in the
//! caller's order with zeros past each sequence's end.

use nalgebra::{DMatrix, DMatrixView};

use super::Steps;
use crate::layer::ensure_cols;
use crate::{batch::Batch, kernels::Float};

/// Fills the packed batch (`rows` values per column, [`Steps::cols`]
/// columns) by asking `fill(t, j, column)` for step `t` of the caller's sample `j`.
pub(crate) fn pack_with<T: Float>(
    steps: &Steps,
    rows: usize,
    packed: &mut [T],
    mut fill: impl FnMut(usize, usize, &mut [T]),
) {
    if rows == 0 {
        return;
    }
    for t in 0..steps.steps() {
        let block = steps.block(t);
        let columns = packed[rows * block.start..rows * block.end].chunks_exact_mut(rows);
        for (column, &j) in columns.zip(steps.order()) {
            fill(t, j, column);
        }
    }
}

/// Hands every step of the padded layout to `put(t, j, column)`: step `t` of
/// the caller's sample `j`, `None` where it is padding.
pub(crate) fn unpack_with<T: Float>(
    steps: &Steps,
    rows: usize,
    packed: &[T],
    mut put: impl FnMut(usize, usize, Option<&[T]>),
) {
    for t in 0..steps.padded() {
        let running = if t < steps.steps() { steps.size(t) } else { 0 };
        let at = if t < steps.steps() { steps.offset(t) } else { 0 };
        for (k, &j) in steps.order().iter().enumerate() {
            let column = (k < running).then(|| &packed[rows * (at + k)..rows * (at + k + 1)]);
            put(t, j, column);
        }
    }
}

/// Packs one batch per padded step (each with every sample) into `packed`.
pub(crate) fn pack_steps<T: Float, const N: usize>(xs: &[Batch<T, N>], steps: &Steps, packed: &mut Batch<T, N>) {
    ensure_cols(packed, steps.cols());
    pack_with(steps, N, packed.as_mut_slice(), |t, j, column| column.copy_from_slice(xs[t].column(j).as_slice()));
}

/// Packs a `Model` sequence batch (`padded * N` rows, one column per sample) into `packed`.
pub(crate) fn pack_matrix<T: Float, const N: usize>(x: &DMatrixView<'_, T>, steps: &Steps, packed: &mut Batch<T, N>) {
    ensure_cols(packed, steps.cols());
    pack_with(steps, N, packed.as_mut_slice(), |t, j, column| {
        for (dst, src) in column.iter_mut().zip(x.view((t * N, j), (N, 1)).iter()) {
            *dst = *src;
        }
    });
}

/// Unpacks into one batch per padded step, in the caller's order, zero past
/// each sequence's end; reuses `out`'s buffers.
pub(crate) fn unpack_steps<T: Float, const N: usize>(packed: &[T], steps: &Steps, out: &mut Vec<Batch<T, N>>) {
    out.resize_with(steps.padded(), crate::layer::empty);
    for x in out.iter_mut() {
        ensure_cols(x, steps.samples());
    }
    unpack_with(steps, N, packed, |t, j, column| {
        let dst = &mut out[t].as_mut_slice()[N * j..N * (j + 1)];
        match column {
            Some(c) => dst.copy_from_slice(c),
            None => dst.fill(T::zero()),
        }
    });
}

/// Unpacks into a `Model` sequence batch (`padded * rows` rows, one column
/// per sample, zero past each sequence's end), allocating only beyond the
/// largest size seen.
pub(crate) fn unpack_matrix<T: Float>(packed: &[T], rows: usize, steps: &Steps, out: &mut DMatrix<T>) {
    let shape = (steps.padded() * rows, steps.samples());
    if out.shape() != shape {
        // Keeps the allocation: batches padded to fewer steps reuse it.
        let mut data: Vec<T> = std::mem::replace(out, DMatrix::zeros(0, 0)).data.into();
        data.resize(shape.0 * shape.1, T::zero());
        *out = DMatrix::from_vec(shape.0, shape.1, data);
    }
    unpack_with(steps, rows, packed, |t, j, column| {
        let mut dst = out.view_mut((t * rows, j), (rows, 1));
        match column {
            Some(c) => dst.iter_mut().zip(c).for_each(|(d, s)| *d = *s),
            None => dst.fill(T::zero()),
        }
    });
}

/// Puts one column per sequence from packed order (`from`) into the caller's order (`to`).
pub(crate) fn unsort<T: Float>(from: &[T], rows: usize, steps: &Steps, to: &mut [T]) {
    for (column, &j) in from.chunks_exact(rows.max(1)).zip(steps.order()) {
        to[rows * j..rows * (j + 1)].copy_from_slice(column);
    }
}

/// Puts one column per sequence from the caller's order (`from`) into packed order (`to`).
pub(crate) fn sort<T: Float>(from: &[T], rows: usize, steps: &Steps, to: &mut [T]) {
    for (column, &j) in to.chunks_exact_mut(rows.max(1)).zip(steps.order()) {
        column.copy_from_slice(&from[rows * j..rows * (j + 1)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_keeps_real_steps_longest_first_and_unpacking_restores_them_with_zeros() {
        // Samples of lengths 1, 3, 2 over 3 padded steps; value 10 t + j + 1.
        let steps = Steps::from_lengths(&[1, 3, 2], 3).unwrap();
        let xs: Vec<Batch<f64, 1>> = (0..3).map(|t| Batch::from_fn(3, |_, j| (10 * t + j + 1) as f64)).collect();
        let mut packed = crate::layer::empty();
        pack_steps(&xs, &steps, &mut packed);
        // Step 0: samples 1, 2, 0; step 1: samples 1, 2; step 2: sample 1.
        assert_eq!(packed.as_slice(), &[2.0, 3.0, 1.0, 12.0, 13.0, 22.0]);
        let m = DMatrix::from_fn(3, 3, |t, j| xs[t][j]);
        let mut from_matrix = crate::layer::empty::<f64, 1>();
        pack_matrix(&m.as_view(), &steps, &mut from_matrix);
        assert_eq!(from_matrix, packed);
        let mut back: Vec<Batch<f64, 1>> = Vec::new();
        unpack_steps(packed.as_slice(), &steps, &mut back);
        let padded = |t: usize, j: usize| if t < [1, 3, 2][j] { xs[t][j] } else { 0.0 };
        for (t, x) in back.iter().enumerate() {
            assert_eq!(x.as_slice(), &[padded(t, 0), padded(t, 1), padded(t, 2)]);
        }
        let mut matrix = DMatrix::zeros(0, 0);
        unpack_matrix(packed.as_slice(), 1, &steps, &mut matrix);
        assert_eq!(matrix, DMatrix::from_fn(3, 3, padded));
        let mut caller = [0.0; 3];
        unsort(&[2.0, 3.0, 1.0], 1, &steps, &mut caller);
        assert_eq!(caller, [1.0, 2.0, 3.0]);
        let mut again = [0.0; 3];
        sort(&caller, 1, &steps, &mut again);
        assert_eq!(again, [2.0, 3.0, 1.0]);
    }
}
