//! Fully connected layer: `y = W x + b`.

use std::sync::OnceLock;

use rand::Rng;

use crate::kernels::{
    add_bias_rows, add_row_sums, gemm, gemv_nonzero_cols, transpose_row_major, Aligned, MatMut, MatRef,
};
use crate::layer::{copy_batch, empty, visit_parts, Io, Param, ParamKind};
use crate::{batch::Batch, init::Init, kernels::Float, layer::Layer};

/// `dense(O)` from `I` features: weight `[O, I]`, optional bias `[O]`.
///
/// The weight is stored row-major as PyTorch's `nn.Linear.weight`, so files
/// and optimizers see PyTorch's layout; the products read it transposed
/// through strides, without copies.
///
/// A one-sample [`predict`](Layer::predict) whose input is at least a quarter
/// zeros (as after a ReLU) reads only the weight columns of the nonzero inputs,
/// from a column-major copy of the weight made at the first such call and kept
/// until the weight can change (`weight_mut`, `visit_mut`). Such predicts
/// therefore double the memory the weight takes; nothing else makes the copy.
#[derive(Clone, Debug)]
pub struct Dense<T: Float, const I: usize, const O: usize> {
    weight: Param<T>,
    bias: Option<Param<T>>,
    x: Batch<T, I>,
    io: Io<T, I, O>,
    /// The weight column-major (`[I, O]` row-major), for sparse one-sample
    /// predicts; `None` inside when the weight has a NaN or an infinity, whose
    /// product with a zero input must stay NaN as in the dense product. On a
    /// cache-line start ([`Aligned`]): with 16 `f32` per column multiple, no
    /// load straddles two lines (W6's 512 x 512 product at half zeros took
    /// 7.3 instead of 8.6 us aligned).
    by_column: OnceLock<Option<Aligned<T>>>,
}

/// A one-sample input with at least `I / SPARSE_MIN_ZEROS` exact zeros takes
/// the path that skips their weight columns. Measured on W6's 512 x 512 `f32`
/// product streaming from L3, the skipping product costs about what the dense
/// one does with no zeros at all with AVX-512, and breaks even at about 13 %
/// zeros with AVX2 and at 15 % with AVX-512 when the columns are not
/// cache-line aligned (as with `O` not a multiple of 16); the portable loops
/// win at any share. A quarter keeps a margin for other
/// machines and shapes, and a ReLU's output is typically half zeros.
const SPARSE_MIN_ZEROS: usize = 4;

impl<T: Float, const I: usize, const O: usize> Dense<T, I, O> {
    /// A layer whose weight is drawn from `init` (fan-in `I`, fan-out `O`) and
    /// whose bias, when present, starts at zero.
    pub fn new<R: Rng + ?Sized>(rng: &mut R, init: Init, bias: bool) -> Self {
        let mut weight = vec![T::zero(); O * I];
        init.fill(rng, I, O, O, I, &mut weight);
        Self {
            weight: Param::new(ParamKind::Weight, &[O, I], weight),
            bias: bias.then(|| Param::filled(ParamKind::Bias, &[O], T::zero())),
            x: empty(),
            io: Io::default(),
            by_column: OnceLock::new(),
        }
    }

    /// The weight, row-major `[O, I]`.
    pub fn weight(&self) -> &[T] {
        &self.weight.value
    }
    /// The weight, row-major `[O, I]`, for editing.
    pub fn weight_mut(&mut self) -> &mut [T] {
        self.forget_column_copy();
        &mut self.weight.value
    }
    /// The bias, if the layer has one.
    pub fn bias(&self) -> Option<&[T]> {
        self.bias.as_ref().map(|b| b.value.as_slice())
    }
    /// The bias, for editing.
    pub fn bias_mut(&mut self) -> Option<&mut [T]> {
        self.bias.as_mut().map(|b| b.value.as_mut_slice())
    }

    /// Called whenever the weight may change.
    fn forget_column_copy(&mut self) {
        self.by_column.take();
    }

    /// `y = W x + b` for the samples of `x`, into the column-major `y`.
    fn affine(weight: &Param<T>, bias: Option<&Param<T>>, x: &Batch<T, I>, y: &mut [T]) {
        let n = x.ncols();
        gemm(
            T::one(),
            MatRef::row_major(&weight.value, O, I),
            MatRef::col_major(x.as_slice(), I, n),
            T::zero(),
            MatMut::col_major(y, O, n),
        );
        if let Some(b) = bias {
            add_bias_rows(y, &b.value);
        }
    }

    /// `y = W x + b` for one sample, reading only the columns of `W` whose
    /// `x[j]` is not zero; `false` (and `y` untouched) when the input has too
    /// few zeros or the weight is not finite.
    fn apply_sparse(&self, x: &[T], y: &mut [T]) -> bool {
        if x.iter().filter(|v| **v == T::zero()).count() * SPARSE_MIN_ZEROS < I {
            return false;
        }
        let weight = &self.weight.value;
        let by_column = self.by_column.get_or_init(|| {
            weight.iter().all(|w| w.is_finite()).then(|| {
                let mut data = Vec::new();
                transpose_row_major(weight, O, I, &mut data);
                Aligned::from(data)
            })
        });
        let Some(by_column) = by_column else { return false };
        match &self.bias {
            Some(b) => y.copy_from_slice(&b.value),
            None => y.fill(T::zero()),
        }
        gemv_nonzero_cols(by_column, x, y);
        true
    }
}

impl<T: Float, const I: usize, const O: usize> Layer<T, I, O> for Dense<T, I, O> {
    fn forward(&mut self, x: &Batch<T, I>) -> &Batch<T, O> {
        copy_batch(&mut self.x, x);
        let (weight, bias) = (&self.weight, self.bias.as_ref());
        self.io.write_output(x.ncols(), |y| Self::affine(weight, bias, x, y))
    }

    fn backward(&mut self, g: &Batch<T, O>) -> &Batch<T, I> {
        self.backward_params(g);
        let n = g.ncols();
        let weight = &self.weight.value;
        // dx = W^T g
        self.io.write_input_grad(n, |dx| {
            gemm(
                T::one(),
                MatRef::row_major(weight, O, I).t(),
                MatRef::col_major(g.as_slice(), O, n),
                T::zero(),
                MatMut::col_major(dx, I, n),
            )
        })
    }

    fn backward_params(&mut self, g: &Batch<T, O>) {
        let n = self.io.grad_samples(g);
        // dW += g x^T
        gemm(
            T::one(),
            MatRef::col_major(g.as_slice(), O, n),
            MatRef::col_major(self.x.as_slice(), I, n).t(),
            T::one(),
            MatMut::row_major(&mut self.weight.grad, O, I),
        );
        if let Some(b) = &mut self.bias {
            add_row_sums(&mut b.grad, g.as_slice());
        }
    }

    fn predict(&self, x: &Batch<T, I>) -> Batch<T, O> {
        let mut y = Batch::zeros(x.ncols());
        if x.ncols() != 1 || !self.apply_sparse(x.as_slice(), y.as_mut_slice()) {
            Self::affine(&self.weight, self.bias.as_ref(), x, y.as_mut_slice());
        }
        y
    }

    fn io(&self) -> Option<&Io<T, I, O>> {
        Some(&self.io)
    }

    visit_parts!(tensors: weight, bias; before visit_mut: forget_column_copy);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::{Optimizer, Sgd};
    use crate::testing::{grad_check, LayerModel};

    #[test]
    fn forward_matches_hand_computed_product() {
        let mut d = Dense::<f64, 3, 2>::new(&mut crate::init::seeded_rng(0), Init::Zeros, true);
        d.weight_mut().copy_from_slice(&[1.0, 2.0, 3.0, -1.0, 0.5, 0.0]);
        d.bias_mut().unwrap().copy_from_slice(&[0.25, -0.5]);
        let x = Batch::<f64, 3>::from_column_slice(&[1.0, 1.0, 1.0, 2.0, 0.0, -1.0]);
        let y = d.forward(&x).clone();
        assert_eq!(y.as_slice(), &[6.25, -1.0, -0.75, -2.5]);
        assert_eq!(d.predict(&x), y);
    }

    #[test]
    fn gradients_match_finite_differences_with_and_without_bias() {
        for bias in [true, false] {
            let mut rng = crate::init::seeded_rng(1);
            let layer = Dense::<f64, 5, 4>::new(&mut rng, Init::XavierNormal, bias);
            grad_check(&mut LayerModel::new(layer), 3, 7).assert_below(1e-6);
        }
    }

    #[test]
    fn gradients_accumulate_over_two_backward_calls() {
        let mut rng = crate::init::seeded_rng(2);
        let mut d = Dense::<f64, 3, 2>::new(&mut rng, Init::HeNormal, true);
        let x = Batch::<f64, 3>::from_fn(4, |i, j| (i + 2 * j) as f64 * 0.1);
        let g = Batch::<f64, 2>::from_fn(4, |i, j| (i as f64) - (j as f64) * 0.3);
        d.forward(&x);
        d.backward(&g);
        let once = d.weight.grad.clone();
        d.backward(&g);
        for (a, b) in d.weight.grad.iter().zip(&once) {
            assert!((a - 2.0 * b).abs() < 1e-12);
        }
    }

    #[test]
    fn empty_batch_gives_empty_output_and_no_gradient() {
        let mut d = Dense::<f32, 3, 2>::new(&mut crate::init::seeded_rng(3), Init::HeNormal, true);
        let x = Batch::<f32, 3>::zeros(0);
        assert_eq!(d.forward(&x).ncols(), 0);
        let g = Batch::<f32, 2>::zeros(0);
        assert_eq!(d.backward(&g).ncols(), 0);
        assert!(d.weight.grad.iter().all(|v| *v == 0.0));
    }

    /// `W x + b` in f64 for one sample, and the sum of the terms' magnitudes.
    fn dense_reference<T: Float, const I: usize, const O: usize>(d: &Dense<T, I, O>, x: &[T]) -> Vec<(f64, f64)> {
        (0..O)
            .map(|o| {
                let b = d.bias().map_or(0.0, |b| b[o].as_f64());
                (0..I).fold((b, b.abs()), |(s, mag), i| {
                    let p = d.weight()[o * I + i].as_f64() * x[i].as_f64();
                    (s + p, mag + p.abs())
                })
            })
            .collect()
    }

    /// One sample with `zeros` of its `I` entries exactly zero, at seeded positions.
    fn sample_with_zeros<T: Float, const I: usize>(seed: u64, zeros: usize) -> Batch<T, I> {
        use rand::seq::SliceRandom;
        let mut rng = crate::init::seeded_rng(seed);
        let mut x: Vec<T> =
            (0..I).map(|_| T::of(rng.random_range(0.1..2.0) * rng.random_range(-1.0f64..1.0).signum())).collect();
        let mut order: Vec<usize> = (0..I).collect();
        order.shuffle(&mut rng);
        for &i in &order[..zeros] {
            x[i] = T::zero();
        }
        Batch::<T, I>::from_column_slice(&x)
    }

    fn sparse_predict_matches_dense_product<T: Float, const I: usize, const O: usize>(rel: f64) {
        for bias in [true, false] {
            let mut rng = crate::init::seeded_rng(11);
            let mut d = Dense::<T, I, O>::new(&mut rng, Init::XavierNormal, bias);
            if let Some(b) = d.bias_mut() {
                b.iter_mut().enumerate().for_each(|(o, v)| *v = T::of(0.1 * o as f64 - 0.5));
            }
            for percent in [0, 30, 50, 90, 100] {
                let x = sample_with_zeros::<T, I>(percent as u64, I * percent / 100);
                let one = d.predict(&x);
                assert_eq!(d.by_column.get().is_some(), percent >= 25, "{percent} % zeros: copy only if sparse");
                // A batch of two takes the dense product.
                let two = d.predict(&Batch::<T, I>::from_fn(2, |i, _| x[i]));
                for (o, (want, mag)) in dense_reference(&d, x.as_slice()).into_iter().enumerate() {
                    for (path, y) in [("one sample", one[o]), ("batch of two", two[(o, 1)])] {
                        assert!(
                            (y.as_f64() - want).abs() <= rel * mag,
                            "{} {I}->{O} bias {bias} {percent} % zeros, {path}, row {o}: {y} vs {want}",
                            T::DTYPE,
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn one_sample_predict_skipping_zero_inputs_matches_the_dense_product_f64() {
        sparse_predict_matches_dense_product::<f64, 37, 13>(1e-12);
        sparse_predict_matches_dense_product::<f64, 130, 67>(1e-12);
    }

    #[test]
    fn one_sample_predict_skipping_zero_inputs_matches_the_dense_product_f32() {
        // A sum of n terms in f32 in any order is within about n ulp of the
        // magnitude; 37 and 130 terms.
        sparse_predict_matches_dense_product::<f32, 37, 13>(40.0 * f32::EPSILON as f64);
        sparse_predict_matches_dense_product::<f32, 130, 67>(140.0 * f32::EPSILON as f64);
    }

    /// Asserts that `d.predict(x)` (sparse) is `W x + b` for the layer's current weight.
    fn assert_predict_uses_current_weight(d: &Dense<f64, 9, 5>, x: &Batch<f64, 9>, when: &str) {
        let y = d.predict(x);
        for (o, (want, mag)) in dense_reference(d, x.as_slice()).into_iter().enumerate() {
            assert!((y[o] - want).abs() <= 1e-12 * mag, "{when}, row {o}: {} vs {want}", y[o]);
        }
    }

    #[test]
    fn the_column_major_copy_follows_every_change_of_the_weight() {
        let mut d = Dense::<f64, 9, 5>::new(&mut crate::init::seeded_rng(12), Init::HeNormal, true);
        let x = sample_with_zeros::<f64, 9>(13, 4);
        assert_predict_uses_current_weight(&d, &x, "first predict");
        let before = d.predict(&x);

        d.weight_mut()[5 * 9 - 1] += 1.0;
        d.weight_mut()[0] = -3.0;
        assert_predict_uses_current_weight(&d, &x, "after weight_mut");
        assert_ne!(d.predict(&x), before);

        // An optimizer step writes through visit_mut.
        let mut model = LayerModel::new(d);
        let batch = Batch::<f64, 9>::from_fn(3, |i, j| (i as f64 - 4.0) * 0.3 + j as f64);
        let before = model.layer.predict(&x);
        model.layer.forward(&batch);
        model.layer.backward(&Batch::<f64, 5>::from_fn(3, |i, j| 1.0 + (i * j) as f64));
        Sgd::new(0.1).step(&mut model);
        assert_predict_uses_current_weight(&model.layer, &x, "after an Sgd step");
        assert_ne!(model.layer.predict(&x), before);

        // A clone carries its own copy, which its own edits invalidate.
        let mut c = model.layer.clone();
        c.weight_mut().iter_mut().for_each(|w| *w *= -2.0);
        assert_predict_uses_current_weight(&c, &x, "clone after weight_mut");
        assert_predict_uses_current_weight(&model.layer, &x, "original after the clone changed");
    }

    #[test]
    fn nan_and_infinity_reach_the_output_as_in_the_dense_product() {
        let mut d = Dense::<f64, 9, 5>::new(&mut crate::init::seeded_rng(14), Init::HeNormal, true);
        let mut x = sample_with_zeros::<f64, 9>(15, 5);
        let nonzero = (0..9).find(|&i| x[i] != 0.0).unwrap();
        x[nonzero] = f64::NAN;
        assert!(d.predict(&x).iter().all(|v| v.is_nan()), "a NaN input makes every output NaN");
        assert!(d.by_column.get().is_some(), "through the sparse path");

        // An infinite weight in a column whose input is zero: 0 * inf is NaN in
        // the dense product, so the sparse path must not skip it.
        let x = sample_with_zeros::<f64, 9>(16, 5);
        let zero = (0..9).find(|&i| x[i] == 0.0).unwrap();
        d.weight_mut()[2 * 9 + zero] = f64::INFINITY;
        let y = d.predict(&x);
        let mut dense = Batch::<f64, 5>::zeros(1);
        Dense::<f64, 9, 5>::affine(&d.weight, d.bias.as_ref(), &x, dense.as_mut_slice());
        assert!(y[2].is_nan() && dense[2].is_nan(), "row 2: {} (dense {})", y[2], dense[2]);
        assert!(matches!(d.by_column.get(), Some(None)), "no copy of a non-finite weight");
    }
}
