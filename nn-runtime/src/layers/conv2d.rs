//! 2-D convolution (cross-correlation, as PyTorch): im2col, then one matrix product.
//!
//! Layout, for a batch of `n` samples with `Q = H' * W'` output positions each:
//! `col` is row-major `[C*K*K, n*Q]` (row `(c, ki, kj)` matches the weight's
//! `[OC, C, K, K]` flattening, column `(sample, position)`), so the forward is
//! one product `Z = W col` with `Z` row-major `[OC, n*Q]`, permuted into the
//! channel-major output. Backward: `dW += Gz col^T`, `dcol = W^T Gz`, then
//! col2im scatters `dcol` back onto the input (`kernels/im2col.rs`). One
//! product per pass rather than one per sample keeps the product's tiles
//! full on small images. A 1x1 convolution with stride 1 and no padding
//! needs neither im2col nor the permutations: see [`pointwise`].

use rand::Rng;

use super::image::Window2d;
use crate::kernels::{col2im, gemm, gemm_dots, gemm_dots_sum, im2col, MatMut, MatRef};
use crate::layer::{visit_parts, Io, Param, ParamKind};
use crate::{batch::Batch, init::Init, kernels::Float, layer::Layer};

/// `conv2d(OC, kernel = K, stride = S, padding = P, bias)` on `(C, H, W)` images,
/// flattened to `IN = C*H*W` inputs and `OUT = OC*H'*W'` outputs.
///
/// Weight `[OC, C, K, K]` and bias `[OC]`, row-major as PyTorch's `nn.Conv2d`;
/// zero padding.
#[derive(Clone, Debug)]
pub struct Conv2d<T: Float, const IN: usize, const OUT: usize> {
    window: Window2d,
    /// `[OC, C, K, K]`.
    weight: Param<T>,
    /// `[OC]`.
    bias: Option<Param<T>>,
    col: Vec<T>,
    z: Vec<T>,
    dcol: Vec<T>,
    io: Io<T, IN, OUT>,
}

impl<T: Float, const IN: usize, const OUT: usize> Conv2d<T, IN, OUT> {
    /// A convolution from `(C, H, W)` to `(OC, H', W')`; `IN` and `OUT` must be
    /// the flattened sizes (checked at compile time). The weight is drawn from
    /// `init` with PyTorch's fans (`C*K*K` in, `OC*K*K` out); the bias, when
    /// present, starts at zero.
    ///
    /// `Conv2d::<f32, { 3 * 8 * 8 }, { 16 * 8 * 8 }>::new::<3, 8, 8, 16, 3, 1, 1>(&mut rng, Init::HeNormal, true)`
    pub fn new<
        const C: usize,
        const H: usize,
        const W: usize,
        const OC: usize,
        const K: usize,
        const S: usize,
        const P: usize,
    >(
        rng: &mut (impl Rng + ?Sized),
        init: Init,
        bias: bool,
    ) -> Self {
        let window = const {
            let w = Window2d::new(C, H, W, K, S, P);
            assert!(OC >= 1, "conv2d: at least one output channel");
            assert!(IN == w.input_len(), "conv2d: IN must be C * H * W");
            assert!(OUT == w.output_len(OC), "conv2d: OUT must be OC * H' * W'");
            w
        };
        let patch = C * K * K;
        let mut weight = vec![T::zero(); OC * patch];
        init.fill(rng, patch, OC * K * K, OC, patch, &mut weight);
        Self {
            window,
            weight: Param::new(ParamKind::Weight, &[OC, C, K, K], weight),
            bias: bias.then(|| Param::filled(ParamKind::Bias, &[OC], T::zero())),
            col: Vec::new(),
            z: Vec::new(),
            dcol: Vec::new(),
            io: Io::default(),
        }
    }

    /// The input geometry (channels, size, kernel, stride, padding).
    pub fn window(&self) -> Window2d {
        self.window
    }
    /// Output channels.
    pub fn out_channels(&self) -> usize {
        self.weight.shape()[0]
    }
    /// The weight, row-major `[OC, C, K, K]`.
    pub fn weight(&self) -> &[T] {
        &self.weight.value
    }
    /// The weight, for editing.
    pub fn weight_mut(&mut self) -> &mut [T] {
        &mut self.weight.value
    }
    /// The bias `[OC]`, if the layer has one.
    pub fn bias(&self) -> Option<&[T]> {
        self.bias.as_ref().map(|b| b.value.as_slice())
    }
    /// The bias, for editing.
    pub fn bias_mut(&mut self) -> Option<&mut [T]> {
        self.bias.as_mut().map(|b| b.value.as_mut_slice())
    }
}

/// Whether the convolution is 1x1 with stride 1 and no padding: then each
/// sample's input (row-major `[C, Q]`) already is its patch matrix, and its
/// output (`[OC, Q]`) the product's result, so there is no `im2col`, no
/// `col2im` and nothing to permute: the products run per sample, in place.
fn pointwise(win: &Window2d) -> bool {
    win.kernel == 1 && win.stride == 1 && win.padding == 0
}

/// `y = conv(x)` for `n` samples; `col` and `z` are scratch, grown as needed
/// (and kept: the training forward reads `col` again in backward). A
/// [`pointwise`] convolution keeps its input in `col`.
#[allow(clippy::too_many_arguments)]
fn conv_forward<T: Float>(
    win: &Window2d,
    weight: &[T],
    bias: Option<&[T]>,
    x: &[T],
    n: usize,
    col: &mut Vec<T>,
    z: &mut Vec<T>,
    y: &mut [T],
) {
    if n == 0 {
        return;
    }
    let patch = win.channels * win.kernel * win.kernel;
    let oc = weight.len() / patch;
    let q = win.out_height() * win.out_width();
    if pointwise(win) {
        col.clear();
        col.extend_from_slice(&x[..n * patch * q]);
        for (xs, ys) in x.chunks_exact(patch * q).zip(y.chunks_exact_mut(oc * q)) {
            // The bias first, then the product added to it (beta 1): one
            // rounding, as the product's sum plus the bias.
            let beta = bias.map_or(T::zero(), |bias| {
                for (row, b) in ys.chunks_exact_mut(q).zip(bias) {
                    row.fill(*b);
                }
                T::one()
            });
            let (w, xs) = (MatRef::row_major(weight, oc, patch), MatRef::row_major(xs, patch, q));
            gemm(T::one(), w, xs, beta, MatMut::row_major(ys, oc, q));
        }
        return;
    }
    col.resize(patch * n * q, T::zero());
    z.resize(oc * n * q, T::zero());
    im2col(win, x, n, col);
    gemm(
        T::one(),
        MatRef::row_major(weight, oc, patch),
        MatRef::row_major(col, patch, n * q),
        T::zero(),
        MatMut::row_major(z, oc, n * q),
    );
    // z[o, (s, p)] -> y[(s), (o, p)], adding the bias on the way.
    for (o, zo) in z.chunks_exact(n * q).enumerate() {
        let b = bias.map_or(T::zero(), |b| b[o]);
        for (s, src) in zo.chunks_exact(q).enumerate() {
            for (v, z) in y[(s * oc + o) * q..][..q].iter_mut().zip(src) {
                *v = *z + b;
            }
        }
    }
}

impl<T: Float, const IN: usize, const OUT: usize> Layer<T, IN, OUT> for Conv2d<T, IN, OUT> {
    fn forward(&mut self, x: &Batch<T, IN>) -> &Batch<T, OUT> {
        let n = x.ncols();
        let (win, weight, bias) = (&self.window, &self.weight.value, self.bias.as_ref().map(|b| b.value.as_slice()));
        let (col, z) = (&mut self.col, &mut self.z);
        self.io.write_output(n, |y| conv_forward(win, weight, bias, x.as_slice(), n, col, z, y))
    }

    fn backward(&mut self, g: &Batch<T, OUT>) -> &Batch<T, IN> {
        self.backward_params(g);
        let n = g.ncols();
        let oc = self.out_channels();
        let patch = self.weight.value.len() / oc;
        let q = OUT / oc;
        let weight_t = MatRef::row_major(&self.weight.value, oc, patch).t();
        if pointwise(&self.window) {
            // dx = W^T g, sample by sample, in place.
            return self.io.write_input_grad(n, |dx| {
                for (gs, dxs) in g.as_slice().chunks_exact(oc * q).zip(dx.chunks_exact_mut(patch * q)) {
                    gemm(T::one(), weight_t, MatRef::row_major(gs, oc, q), T::zero(), MatMut::row_major(dxs, patch, q));
                }
            });
        }
        if n > 0 {
            // dcol = W^T Gz, with Gz left in `z` by backward_params
            self.dcol.resize(patch * n * q, T::zero());
            gemm(
                T::one(),
                weight_t,
                MatRef::row_major(&self.z, oc, n * q),
                T::zero(),
                MatMut::row_major(&mut self.dcol, patch, n * q),
            );
        }
        let (win, dcol) = (&self.window, &self.dcol);
        self.io.write_input_grad(n, |dx| col2im(win, dcol, n, dx))
    }

    fn backward_params(&mut self, g: &Batch<T, OUT>) {
        let n = self.io.grad_samples(g);
        if n == 0 {
            return;
        }
        let oc = self.out_channels();
        let patch = self.weight.value.len() / oc;
        let q = OUT / oc;
        let nq = n * q;
        if pointwise(&self.window) {
            if let Some(b) = &mut self.bias {
                for (o, db) in b.grad.iter_mut().enumerate() {
                    let rows = g.as_slice().chunks_exact(q).skip(o).step_by(oc);
                    *db += rows.fold(T::zero(), |acc, row| row.iter().fold(acc, |acc, v| acc + *v));
                }
            }
            // dW += sum_s g_s x_s^T over the samples, both read in place.
            let (g0, x0) = (MatRef::row_major(g.as_slice(), oc, q), MatRef::row_major(&self.col, patch, q));
            let samples = (n, oc * q, patch * q);
            gemm_dots_sum(T::one(), g0, x0.t(), samples, T::one(), MatMut::row_major(&mut self.weight.grad, oc, patch));
            return;
        }
        // Gz: the output gradient in z's layout, row-major [OC, n*Q].
        self.z.resize(oc * nq, T::zero());
        for (o, zo) in self.z.chunks_exact_mut(nq).enumerate() {
            for (s, dst) in zo.chunks_exact_mut(q).enumerate() {
                dst.copy_from_slice(&g.as_slice()[(s * oc + o) * q..][..q]);
            }
            if let Some(b) = &mut self.bias {
                b.grad[o] += zo.iter().fold(T::zero(), |acc, v| acc + *v);
            }
        }
        // dW += Gz col^T: rows of both, read in place.
        let (gz, col) = (MatRef::row_major(&self.z, oc, nq), MatRef::row_major(&self.col, patch, nq));
        gemm_dots(T::one(), gz, col.t(), T::one(), MatMut::row_major(&mut self.weight.grad, oc, patch));
    }

    fn predict(&self, x: &Batch<T, IN>) -> Batch<T, OUT> {
        let mut y = Batch::zeros(x.ncols());
        let (mut col, mut z) = (Vec::new(), Vec::new());
        conv_forward(
            &self.window,
            &self.weight.value,
            self.bias(),
            x.as_slice(),
            x.ncols(),
            &mut col,
            &mut z,
            y.as_mut_slice(),
        );
        y
    }

    fn io(&self) -> Option<&Io<T, IN, OUT>> {
        Some(&self.io)
    }

    visit_parts!(tensors: weight, bias);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{grad_check, LayerModel};

    #[test]
    fn forward_matches_hand_computed_convolution() {
        // One 3x3 image, one 2x2 kernel, stride 1, no padding.
        let mut conv =
            Conv2d::<f64, 9, 4>::new::<1, 3, 3, 1, 2, 1, 0>(&mut crate::init::seeded_rng(0), Init::Zeros, true);
        conv.weight_mut().copy_from_slice(&[1.0, 2.0, 3.0, 4.0]);
        conv.bias_mut().unwrap()[0] = 0.5;
        let x = Batch::<f64, 9>::from_column_slice(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
        // top-left: 1*1 + 2*2 + 3*4 + 4*5 = 37; then 47, 67, 77; plus 0.5
        let y = conv.forward(&x).clone();
        assert_eq!(y.as_slice(), &[37.5, 47.5, 67.5, 77.5]);
        assert_eq!(conv.predict(&x), y);
    }

    #[test]
    fn padding_reads_zeros_and_stride_skips() {
        // 1x3x3 image of ones, 3x3 kernel of ones, padding 1, stride 2: the four
        // corners of the padded image each see a 2x2 block of ones.
        let mut conv = Conv2d::<f64, 9, 4>::new::<1, 3, 3, 1, 3, 2, 1>(
            &mut crate::init::seeded_rng(0),
            Init::Constant(1.0),
            false,
        );
        let x = Batch::<f64, 9>::from_element(1, 1.0);
        assert_eq!(conv.forward(&x).as_slice(), &[4.0, 4.0, 4.0, 4.0]);
    }

    #[test]
    fn output_is_channel_major_per_sample() {
        // Two output channels with constant kernels 1 and -1 over a 1x2x2 image
        // (kernel 1): each sample's column holds channel 0's plane, then channel 1's.
        let mut conv =
            Conv2d::<f64, 4, 8>::new::<1, 2, 2, 2, 1, 1, 0>(&mut crate::init::seeded_rng(0), Init::Zeros, true);
        conv.weight_mut().copy_from_slice(&[1.0, -1.0]);
        conv.bias_mut().unwrap().copy_from_slice(&[0.0, 10.0]);
        let x = Batch::<f64, 4>::from_column_slice(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
        let y = conv.forward(&x);
        assert_eq!(y.column(0).as_slice(), &[1.0, 2.0, 3.0, 4.0, 9.0, 8.0, 7.0, 6.0]);
        assert_eq!(y.column(1).as_slice(), &[5.0, 6.0, 7.0, 8.0, 5.0, 4.0, 3.0, 2.0]);
    }

    #[test]
    fn gradients_match_finite_differences_for_stride_padding_bias_and_1x1() {
        fn check<const S: usize, const P: usize, const OUT: usize>(bias: bool) {
            let mut rng = crate::init::seeded_rng(11);
            let conv =
                Conv2d::<f64, { 2 * 5 * 6 }, OUT>::new::<2, 5, 6, 3, 3, S, P>(&mut rng, Init::XavierNormal, bias);
            grad_check(&mut LayerModel::new(conv), 2, 5).assert_below(1e-6);
        }
        fn pointwise(bias: bool) {
            let conv = Conv2d::<f64, { 2 * 5 * 6 }, { 3 * 5 * 6 }>::new::<2, 5, 6, 3, 1, 1, 0>(
                &mut crate::init::seeded_rng(12),
                Init::XavierNormal,
                bias,
            );
            grad_check(&mut LayerModel::new(conv), 3, 6).assert_below(1e-6);
        }
        for bias in [true, false] {
            pointwise(bias);
            check::<1, 0, { 3 * 3 * 4 }>(bias);
            check::<1, 1, { 3 * 5 * 6 }>(bias);
            check::<2, 0, { 3 * 2 * 2 }>(bias);
            check::<2, 1, { 3 * 3 * 3 }>(bias);
        }
    }

    #[test]
    fn gradients_accumulate_over_two_backward_calls() {
        let mut conv =
            Conv2d::<f64, 18, 18>::new::<2, 3, 3, 2, 3, 1, 1>(&mut crate::init::seeded_rng(2), Init::HeNormal, true);
        let x = Batch::<f64, 18>::from_fn(3, |i, j| ((i * 7 + j * 3) % 5) as f64 - 2.0);
        let g = Batch::<f64, 18>::from_fn(3, |i, j| (i as f64) * 0.1 - (j as f64) * 0.3);
        conv.forward(&x);
        conv.backward(&g);
        let bias = |c: &Conv2d<f64, 18, 18>| c.bias.as_ref().unwrap().grad.clone();
        let (w1, b1) = (conv.weight.grad.clone(), bias(&conv));
        conv.backward(&g);
        for (a, b) in conv.weight.grad.iter().chain(&bias(&conv)).zip(w1.iter().chain(&b1)) {
            assert!((a - 2.0 * b).abs() < 1e-12, "{a} vs 2 * {b}");
        }
    }

    #[test]
    fn fans_include_the_kernel_area() {
        // He normal's std is sqrt(2 / fan_in) with fan_in = C*K*K = 4*5*5 = 100.
        let conv = Conv2d::<f64, { 4 * 9 * 9 }, { 64 * 5 * 5 }>::new::<4, 9, 9, 64, 5, 1, 0>(
            &mut crate::init::seeded_rng(3),
            Init::HeNormal,
            false,
        );
        let w = conv.weight();
        let var = w.iter().map(|v| v * v).sum::<f64>() / w.len() as f64;
        // 6400 samples: the sample variance is within a few percent of 0.02.
        assert!((var - 0.02).abs() < 0.002, "variance {var}");
    }

    #[test]
    fn empty_batch_and_nan_do_not_panic() {
        let mut conv =
            Conv2d::<f32, 8, 8>::new::<2, 2, 2, 2, 1, 1, 0>(&mut crate::init::seeded_rng(4), Init::HeNormal, true);
        assert_eq!(conv.forward(&Batch::<f32, 8>::zeros(0)).ncols(), 0);
        assert_eq!(conv.backward(&Batch::<f32, 8>::zeros(0)).ncols(), 0);
        assert!(conv.weight.grad.iter().all(|v| *v == 0.0));
        let mut x = Batch::<f32, 8>::from_element(1, 1.0);
        x[(0, 0)] = f32::NAN;
        let y = conv.forward(&x);
        // The NaN input cell feeds position 0 of both output channels only.
        assert!(y[(0, 0)].is_nan() && y[(4, 0)].is_nan());
        assert!(y[(1, 0)].is_finite());
    }

    #[test]
    fn steady_state_steps_reuse_their_buffers() {
        let mut conv =
            Conv2d::<f64, 18, 18>::new::<2, 3, 3, 2, 3, 1, 1>(&mut crate::init::seeded_rng(5), Init::HeNormal, true);
        let x = Batch::<f64, 18>::from_element(4, 0.5);
        conv.forward(&x);
        conv.backward(&x);
        let buffers = |c: &Conv2d<f64, 18, 18>| {
            (c.col.as_ptr(), c.z.as_ptr(), c.dcol.as_ptr(), c.io.output().as_ptr(), c.io.input_grad().as_ptr())
        };
        let before = buffers(&conv);
        conv.forward(&x);
        conv.backward(&x);
        let after = buffers(&conv);
        assert_eq!(before, after);
    }
}
