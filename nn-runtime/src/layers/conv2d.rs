//! 2-D convolution (cross-correlation, as PyTorch): im2col, then a matrix
//! product, one sample at a time.
//!
//! Layout, for a sample with `Q = H' * W'` output positions: its patch matrix
//! `col_s` is row-major `[C*K*K, Q]` (row `(c, ki, kj)` matches the weight's
//! `[OC, C, K, K]` flattening, column the position), so its output, row-major
//! `[OC, Q]` as the channel-major sample is, is the product `W col_s`,
//! written in place. Backward: `dW += sum_s g_s col_s^T` (rows of both read
//! in place, summed over the samples in registers), `dcol_s = W^T g_s`, then
//! col2im scatters `dcol_s` back onto the sample's input
//! (`kernels/im2col.rs`; with stride 1 through its wide positions,
//! `kernels::Wide`). A sample at a time, each patch matrix is built,
//! multiplied and (in backward) scattered while it is in cache: W8's first
//! convolution has a patch matrix of 3.7 MB for a batch of 64, which one
//! product over the batch wrote, read and read again from memory (and
//! permuted its output into the channel-major layout). A 1x1 convolution
//! with stride 1 and no padding has its input as its patch matrix: see
//! [`pointwise`].

use rand::Rng;

use super::image::Window2d;
use crate::kernels::{col2im, col2im_wide, gemm, gemm_dots_sum, im2col, over_samples, sample_parts, spread_wide};
use crate::kernels::{MatMut, MatRef, Pieces, Wide};
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
    /// Every sample's patch matrix, `[C*K*K, Q]` row-major, one after the other.
    col: Vec<T>,
    /// One sample's patch-matrix gradient (in the wide layout with stride 1:
    /// `kernels::Wide`).
    dcol: Vec<T>,
    /// `Q` ones: the bias gradient sums the output gradient's rows as dot
    /// products with them.
    ones: Vec<T>,
    /// One sample's output gradient in the wide layout (stride 1).
    g_wide: Vec<T>,
    /// One sample's padded input gradient (stride 1).
    padded: Vec<T>,
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
            dcol: Vec::new(),
            ones: vec![T::one(); OUT / OC],
            g_wide: Vec::new(),
            padded: Vec::new(),
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
/// sample's input (row-major `[C, Q]`) already is its patch matrix, with no
/// `im2col` to build it and no `col2im` to take its gradient back.
fn pointwise(win: &Window2d) -> bool {
    win.kernel == 1 && win.stride == 1 && win.padding == 0
}

/// `y = conv(x)` for `n` samples, one sample at a time: its patch matrix into
/// its block of `col` (grown as needed and kept: backward reads it again),
/// then one product straight into its output. With more than one thread,
/// parts of the batch run on the kernels' threads.
fn conv_forward<T: Float>(
    win: &Window2d,
    weight: &[T],
    bias: Option<&[T]>,
    x: &[T],
    n: usize,
    col: &mut Vec<T>,
    y: &mut [T],
) {
    let patch = win.channels * win.kernel * win.kernel;
    let oc = weight.len() / patch;
    let q = win.out_height() * win.out_width();
    col.resize(n * patch * q, T::zero());
    let (col, y) = (Pieces::new(col), Pieces::new(y));
    over_samples(sample_parts(n, oc * patch * q), n, &|_, samples| {
        // SAFETY: the parts' sample ranges are disjoint, and so are their
        // blocks of `col` and `y`.
        let (col, y) = unsafe {
            (
                col.piece(samples.start * patch * q..samples.end * patch * q),
                y.piece(samples.start * oc * q..samples.end * oc * q),
            )
        };
        let x = &x[samples.start * win.input_len()..];
        for ((xs, cs), ys) in
            x.chunks_exact(win.input_len()).zip(col.chunks_exact_mut(patch * q)).zip(y.chunks_exact_mut(oc * q))
        {
            if pointwise(win) {
                cs.copy_from_slice(xs);
            } else {
                im2col(win, xs, 1, cs);
            }
            // The bias first, then the product added to it (beta 1): one
            // rounding, as the product's sum plus the bias (for patches of at
            // most 256 rows, the product's depth of one pass).
            let beta = bias.map_or(T::zero(), |bias| {
                for (row, b) in ys.chunks_exact_mut(q).zip(bias) {
                    row.fill(*b);
                }
                T::one()
            });
            let (w, cs) = (MatRef::row_major(weight, oc, patch), MatRef::row_major(cs, patch, q));
            gemm(T::one(), w, cs, beta, MatMut::row_major(ys, oc, q));
        }
    });
}

impl<T: Float, const IN: usize, const OUT: usize> Layer<T, IN, OUT> for Conv2d<T, IN, OUT> {
    fn forward(&mut self, x: &Batch<T, IN>) -> &Batch<T, OUT> {
        let n = x.ncols();
        let (win, weight, bias) = (&self.window, &self.weight.value, self.bias.as_ref().map(|b| b.value.as_slice()));
        let col = &mut self.col;
        self.io.write_output(n, |y| conv_forward(win, weight, bias, x.as_slice(), n, col, y))
    }

    fn backward(&mut self, g: &Batch<T, OUT>) -> &Batch<T, IN> {
        self.backward_params(g);
        let n = g.ncols();
        let oc = self.out_channels();
        let patch = self.weight.value.len() / oc;
        let q = OUT / oc;
        let weight_t = MatRef::row_major(&self.weight.value, oc, patch).t();
        let (win, dcol, g_wide, padded) = (&self.window, &mut self.dcol, &mut self.g_wide, &mut self.padded);
        let parts = sample_parts(n, oc * patch * q);
        let g = g.as_slice();
        if pointwise(win) {
            // dx = W^T g, sample by sample, in place.
            return self.io.write_input_grad(n, |dx| {
                let dx = Pieces::new(dx);
                over_samples(parts, n, &|_, samples| {
                    // SAFETY: the parts' sample ranges, and so their blocks of `dx`, are disjoint.
                    let dx = unsafe { dx.piece(samples.start * IN..samples.end * IN) };
                    for (gs, dxs) in g[samples.start * oc * q..].chunks_exact(oc * q).zip(dx.chunks_exact_mut(IN)) {
                        let (gs, dxs) = (MatRef::row_major(gs, oc, q), MatMut::row_major(dxs, patch, q));
                        gemm(T::one(), weight_t, gs, T::zero(), dxs);
                    }
                })
            });
        }
        if win.stride == 1 {
            // dx = col2im(W^T g), sample by sample, in the wide layout; each
            // part its own scratch.
            let wide = Wide::of(win);
            let scratch = (patch * wide.row, oc * wide.positions, win.channels * wide.plane);
            dcol.resize(parts * scratch.0, T::zero());
            g_wide.resize(parts * scratch.1, T::zero());
            padded.resize(parts * scratch.2, T::zero());
            let (dcol, g_wide, padded) = (Pieces::new(dcol), Pieces::new(g_wide), Pieces::new(padded));
            return self.io.write_input_grad(n, |dx| {
                let dx = Pieces::new(dx);
                over_samples(parts, n, &|p, samples| {
                    // SAFETY: the parts' sample ranges, and so their blocks of
                    // `dx`, are disjoint, and part `p` takes scratch `p`.
                    let (dx, dcol, g_wide, padded) = unsafe {
                        let dx = dx.piece(samples.start * IN..samples.end * IN);
                        let at = |len: usize| p * len..(p + 1) * len;
                        (dx, dcol.piece(at(scratch.0)), g_wide.piece(at(scratch.1)), padded.piece(at(scratch.2)))
                    };
                    for (gs, dxs) in g[samples.start * oc * q..].chunks_exact(oc * q).zip(dx.chunks_exact_mut(IN)) {
                        spread_wide(win, gs, g_wide);
                        let dcol_s = MatMut::strided(&mut dcol[Wide::first(win)..], patch, wide.positions, wide.row, 1);
                        gemm(T::one(), weight_t, MatRef::row_major(g_wide, oc, wide.positions), T::zero(), dcol_s);
                        col2im_wide(win, dcol, padded, dxs);
                    }
                })
            });
        }
        // dx = col2im(W^T g), sample by sample: each sample's dcol is
        // scattered while it is in cache.
        dcol.resize(parts * patch * q, T::zero());
        let dcol = Pieces::new(dcol);
        self.io.write_input_grad(n, |dx| {
            let dx = Pieces::new(dx);
            over_samples(parts, n, &|p, samples| {
                // SAFETY: as above: disjoint samples, scratch `p` for part `p`.
                let (dx, dcol) = unsafe {
                    (dx.piece(samples.start * IN..samples.end * IN), dcol.piece(p * patch * q..(p + 1) * patch * q))
                };
                for (gs, dxs) in g[samples.start * oc * q..].chunks_exact(oc * q).zip(dx.chunks_exact_mut(IN)) {
                    gemm(
                        T::one(),
                        weight_t,
                        MatRef::row_major(gs, oc, q),
                        T::zero(),
                        MatMut::row_major(dcol, patch, q),
                    );
                    col2im(win, dcol, 1, dxs);
                }
            })
        })
    }

    fn backward_params(&mut self, g: &Batch<T, OUT>) {
        let n = self.io.grad_samples(g);
        if n == 0 {
            return;
        }
        let oc = self.out_channels();
        let patch = self.weight.value.len() / oc;
        let q = OUT / oc;
        let (g0, samples) = (MatRef::row_major(g.as_slice(), oc, q), (n, oc * q, patch * q));
        if let Some(b) = &mut self.bias {
            // db += sum_s g_s 1, in registers: a sum in plain order waited
            // on each addition (W8's first convolution: 221k of them).
            let (ones, db) = (MatRef::col_major(&self.ones, q, 1), MatMut::col_major(&mut b.grad, oc, 1));
            gemm_dots_sum(T::one(), g0, ones, (n, oc * q, 0), T::one(), db);
        }
        // dW += sum_s g_s col_s^T over the samples, both read in place.
        let col0 = MatRef::row_major(&self.col, patch, q);
        gemm_dots_sum(T::one(), g0, col0.t(), samples, T::one(), MatMut::row_major(&mut self.weight.grad, oc, patch));
    }

    fn predict(&self, x: &Batch<T, IN>) -> Batch<T, OUT> {
        let mut y = Batch::zeros(x.ncols());
        let x = x.as_slice();
        conv_forward(&self.window, &self.weight.value, self.bias(), x, y.ncols(), &mut Vec::new(), y.as_mut_slice());
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

    /// The f32 layer against the f64 one on the same f32-exact weights and
    /// data: every output and gradient within the rounding bound of a sum of
    /// its `k` terms in any order, `k u sum |terms|` (u = 2^-24; `k` the most
    /// terms any value sums: a patch and the bias, a batch's positions, or a
    /// patch's taps over the output channels). The sums of `|terms|` are the
    /// f64 layer run on the absolute values. Output sizes that are and are
    /// not a multiple of the registers, padded, strided and 1x1.
    #[test]
    fn f32_values_and_gradients_are_within_rounding_of_f64() {
        fn check<
            const C: usize,
            const H: usize,
            const W: usize,
            const K: usize,
            const S: usize,
            const P: usize,
            const IN: usize,
            const OUT: usize,
        >() {
            let n = 3;
            let mut f32_conv = Conv2d::<f32, IN, OUT>::new::<C, H, W, 4, K, S, P>(
                &mut crate::init::seeded_rng(7),
                Init::HeNormal,
                true,
            );
            f32_conv.bias_mut().unwrap().copy_from_slice(&[0.25, -0.5, 0.125, 1.0]);
            let value = |i: usize, j: usize, seed: usize| (((i * 31 + j * 17 + seed) % 97) as f32 - 48.0) / 32.0;
            let x = Batch::<f32, IN>::from_fn(n, |i, j| value(i, j, 1));
            let g = Batch::<f32, OUT>::from_fn(n, |i, j| value(i, j, 2));
            let f64_of = |conv: &Conv2d<f32, IN, OUT>, abs: bool| {
                let mut c = Conv2d::<f64, IN, OUT>::new::<C, H, W, 4, K, S, P>(
                    &mut crate::init::seeded_rng(0),
                    Init::Zeros,
                    true,
                );
                let of = |v: f32| if abs { f64::from(v).abs() } else { f64::from(v) };
                c.weight_mut().iter_mut().zip(conv.weight()).for_each(|(d, s)| *d = of(*s));
                c.bias_mut().unwrap().iter_mut().zip(conv.bias().unwrap()).for_each(|(d, s)| *d = of(*s));
                let x = Batch::<f64, IN>::from_fn(n, |i, j| of(x[(i, j)]));
                let g = Batch::<f64, OUT>::from_fn(n, |i, j| of(g[(i, j)]));
                let y: Vec<f64> = c.forward(&x).as_slice().to_vec();
                let dx: Vec<f64> = c.backward(&g).as_slice().to_vec();
                [y, dx, c.weight.grad.to_vec(), c.bias.as_ref().unwrap().grad.to_vec()]
            };
            let (want, sums) = (f64_of(&f32_conv, false), f64_of(&f32_conv, true));
            let y: Vec<f32> = f32_conv.forward(&x).as_slice().to_vec();
            let dx: Vec<f32> = f32_conv.backward(&g).as_slice().to_vec();
            let got = [y, dx, f32_conv.weight.grad.to_vec(), f32_conv.bias.as_ref().unwrap().grad.to_vec()];
            let q = OUT / 4;
            let terms = (C * K * K + 1).max(n * q).max(4 * K * K) as f64;
            for (what, ((got, want), sums)) in ["y", "dx", "dW", "db"].iter().zip(got.iter().zip(&want).zip(&sums)) {
                for (i, ((g, w), s)) in got.iter().zip(want).zip(sums).enumerate() {
                    let bound = terms * 2f64.powi(-24) * s;
                    assert!(
                        (f64::from(*g) - w).abs() <= bound,
                        "{C}x{H}x{W} k{K} s{S} p{P} {what}[{i}]: {g} vs {w} (bound {bound:e})"
                    );
                }
            }
        }
        check::<3, 7, 8, 3, 1, 1, { 3 * 7 * 8 }, { 4 * 7 * 8 }>();
        check::<2, 9, 9, 5, 1, 0, { 2 * 9 * 9 }, { 4 * 5 * 5 }>();
        check::<2, 12, 12, 5, 1, 0, { 2 * 12 * 12 }, { 4 * 8 * 8 }>();
        check::<2, 7, 7, 3, 2, 1, { 2 * 7 * 7 }, { 4 * 4 * 4 }>();
        check::<3, 5, 6, 1, 1, 0, { 3 * 5 * 6 }, { 4 * 5 * 6 }>();
    }

    /// Batches large enough to be split over samples give the bits of one
    /// thread with 2 and 3 threads, for every path (wide, strided, 1x1).
    #[cfg(feature = "threads")]
    #[test]
    fn split_batches_give_the_bits_of_one_thread() {
        use crate::kernels::{sample_parts, with_threads};
        fn run<const S: usize, const P: usize, const K: usize, const OUT: usize>(threads: usize) -> Vec<Vec<f32>> {
            let mut conv = Conv2d::<f32, { 3 * 12 * 12 }, OUT>::new::<3, 12, 12, 8, K, S, P>(
                &mut crate::init::seeded_rng(9),
                Init::HeNormal,
                true,
            );
            let x = Batch::<f32, { 3 * 12 * 12 }>::from_fn(40, |i, j| ((i * 13 + j * 7) % 23) as f32 * 0.1 - 1.0);
            let g = Batch::<f32, OUT>::from_fn(40, |i, j| ((i * 5 + j * 11) % 19) as f32 * 0.05 - 0.4);
            with_threads(threads, || {
                let y = conv.forward(&x).as_slice().to_vec();
                let dx = conv.backward(&g).as_slice().to_vec();
                vec![y, dx, conv.weight.grad.to_vec(), conv.bias.as_ref().unwrap().grad.to_vec()]
            })
        }
        fn check<const S: usize, const P: usize, const K: usize, const OUT: usize>() {
            let one = run::<S, P, K, OUT>(1);
            for threads in [2, 3] {
                assert!(with_threads(threads, || sample_parts(40, 3 * K * K * OUT)) == threads, "not split");
                let many = run::<S, P, K, OUT>(threads);
                for (a, b) in one.iter().zip(&many) {
                    assert!(
                        a.iter().zip(b).all(|(a, b)| a.to_bits() == b.to_bits()),
                        "S {S} P {P} K {K}: {threads} threads"
                    );
                }
            }
        }
        check::<1, 1, 3, { 8 * 12 * 12 }>();
        check::<2, 1, 3, { 8 * 6 * 6 }>();
        check::<1, 0, 1, { 8 * 12 * 12 }>();
    }

    #[test]
    fn steady_state_steps_reuse_their_buffers() {
        let mut conv =
            Conv2d::<f64, 18, 18>::new::<2, 3, 3, 2, 3, 1, 1>(&mut crate::init::seeded_rng(5), Init::HeNormal, true);
        let x = Batch::<f64, 18>::from_element(4, 0.5);
        conv.forward(&x);
        conv.backward(&x);
        let buffers = |c: &Conv2d<f64, 18, 18>| {
            let scratch = (c.col.as_ptr(), c.dcol.as_ptr(), c.g_wide.as_ptr(), c.padded.as_ptr());
            (scratch, c.io.output().as_ptr(), c.io.input_grad().as_ptr())
        };
        let before = buffers(&conv);
        conv.forward(&x);
        conv.backward(&x);
        let after = buffers(&conv);
        assert_eq!(before, after);
    }
}
