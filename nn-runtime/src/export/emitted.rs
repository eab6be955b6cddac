//! The helper functions an exported file carries: the layers' arithmetic and
//! the elementary functions, in `f32`, written for `core` alone (no `std`,
//! no `alloc`, no libm, no dependency). The emitter copies the sections a
//! network needs (`// @name` starts a section) into the file after its
//! weights. The same text is compiled here for the tests, which hold each
//! function to `nn`'s own, so an exported file is as exact as this file is.
//!
//! Layouts are `nn`'s: a sample is one vector, an image channel-major
//! (channel, then row, then column), a weight row-major as PyTorch's.
#![allow(dead_code, clippy::excessive_precision)]

#[cfg(test)]
mod tests;

// @exp
/// `e^x`, within 2 ulp (Cephes' `expf`): `x = n ln 2 + r` with `|r| <= ln 2 / 2`,
/// a polynomial for `e^r`, and `2^n` put into the exponent bits.
fn exp(x: f32) -> f32 {
    if x.is_nan() {
        return x;
    }
    if x > 88.72 {
        return f32::INFINITY;
    }
    if x < -87.33 {
        return 0.0;
    }
    let t = x * core::f32::consts::LOG2_E;
    let n = (if t < 0.0 { t - 0.5 } else { t + 0.5 }) as i32;
    let nf = n as f32;
    // ln 2 in two parts, so `x - n ln 2` loses nothing.
    let r = x - nf * 0.693_359_4 + nf * 2.121_944_4e-4;
    let p =
        ((((1.987_569_1e-4 * r + 1.398_2e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r + 0.166_666_66) * r + 0.5;
    let er = p * r * r + r + 1.0;
    // `n` is in -126..=128 here; 2^128 is split so the scale stays a normal number.
    if n > 127 {
        er * 2.0 * f32::from_bits(((n - 1 + 127) as u32) << 23)
    } else {
        er * f32::from_bits(((n + 127) as u32) << 23)
    }
}

// @ln
/// `ln x` for `x > 0`, within 2 ulp (Cephes' `logf`): `x = m 2^e` with `m` in
/// `[sqrt(1/2), sqrt(2))`, a polynomial for `ln m`.
fn ln(x: f32) -> f32 {
    if x.is_nan() || x < 0.0 {
        return f32::NAN;
    }
    if x == 0.0 {
        return f32::NEG_INFINITY;
    }
    if x == f32::INFINITY {
        return x;
    }
    // Subnormal inputs are scaled into the normal range first.
    let (x, bias) = if x < f32::MIN_POSITIVE { (x * 16_777_216.0, 24) } else { (x, 0) };
    let bits = x.to_bits();
    let mut e = ((bits >> 23) & 0xff) as i32 - 126 - bias;
    let mut m = f32::from_bits((bits & 0x007f_ffff) | 0x3f00_0000); // in [0.5, 1)
    if m < core::f32::consts::FRAC_1_SQRT_2 {
        e -= 1;
        m = m + m - 1.0;
    } else {
        m -= 1.0;
    }
    let z = m * m;
    let p = [
        7.037_683_6e-2,
        -1.151_461e-1,
        1.167_699_8e-1,
        -1.242_014_1e-1,
        1.424_932_3e-1,
        -1.666_805_8e-1,
        2.000_071_4e-1,
        -2.499_999_4e-1,
        3.333_333e-1,
    ]
    .iter()
    .fold(0.0, |p, c| p * m + c);
    let ef = e as f32;
    let y = m * z * p - 2.121_944_4e-4 * ef - 0.5 * z;
    m + y + 0.693_359_4 * ef
}

// @sqrt
/// `sqrt x` for `x >= 0`: an estimate from the exponent bits, then Newton's
/// iteration, which doubles the correct digits each step.
fn sqrt(x: f32) -> f32 {
    if !(x > 0.0 && x < f32::INFINITY) {
        // 0 and infinity are their own roots; a negative number or NaN has none.
        return if x >= 0.0 { x } else { f32::NAN };
    }
    let mut y = f32::from_bits((x.to_bits() >> 1) + 0x1fc0_0000);
    for _ in 0..4 {
        y = 0.5 * (y + x / y);
    }
    y
}

// @sigmoid
/// The logistic function; `e^x` is only taken of a non-positive number.
fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + exp(-x))
    } else {
        let e = exp(x);
        e / (1.0 + e)
    }
}

// @tanh
/// `tanh x` (Cephes' `tanhf`): a polynomial near 0, `1 - 2 / (e^2|x| + 1)` elsewhere.
fn tanh(x: f32) -> f32 {
    if x.is_nan() {
        return x;
    }
    let a = x.abs();
    if a < 0.625 {
        let s = x * x;
        return ((((-5.704_988_7e-3 * s + 2.063_908_9e-2) * s - 5.373_971_6e-2) * s + 1.333_144_2e-1) * s
            - 3.333_328_2e-1)
            * s
            * x
            + x;
    }
    let t = if a > 9.0 { 1.0 } else { 1.0 - 2.0 / (exp(a + a) + 1.0) };
    if x < 0.0 {
        -t
    } else {
        t
    }
}

// @softplus_fn
/// `ln(1 + e^x)`, and `x` above 20, as `torch.nn.Softplus`.
fn softplus_fn(x: f32) -> f32 {
    if x > 20.0 {
        x
    } else {
        ln(1.0 + exp(x))
    }
}

// @mish
/// `x tanh(softplus(x))`.
fn mish(x: f32) -> f32 {
    x * tanh(softplus_fn(x))
}

// @relu6
/// `min(max(x, 0), 6)`; NaN stays NaN.
fn relu6(x: f32) -> f32 {
    x.clamp(0.0, 6.0)
}

// @erfc
/// The complementary error function, within 1.2e-7 of it (Numerical Recipes'
/// `erfcc`, a Chebyshev fit that keeps its relative precision in the tail).
fn erfc(x: f32) -> f32 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let p = [
        0.170_872_77,
        -0.822_152_23,
        1.488_515_87,
        -1.135_203_98,
        0.278_868_07,
        -0.186_288_06,
        0.096_784_18,
        0.374_091_96,
        1.000_023_68,
        -1.265_512_23,
    ]
    .iter()
    .fold(0.0, |p, c| p * t + c);
    // e^(-z^2) with z^2 split so that no rounding of it is magnified by e^:
    // `zh` keeps 12 bits of `z`, so `zh * zh` is exact.
    let zh = f32::from_bits(z.to_bits() & 0xffff_f000);
    let r = t * exp(-zh * zh) * exp((zh - z) * (zh + z) + p);
    if x < 0.0 {
        2.0 - r
    } else {
        r
    }
}

// @map
/// `f` applied to every element.
fn map<const N: usize>(mut x: [f32; N], f: impl Fn(f32) -> f32) -> [f32; N] {
    for v in x.iter_mut() {
        *v = f(*v);
    }
    x
}

// @dense
/// `W x + b` for `W` row-major `[O, I]`.
fn dense<const I: usize, const O: usize>(w: &[[f32; I]; O], b: &[f32; O], x: &[f32; I]) -> [f32; O] {
    let mut y = [0.0; O];
    for ((y, row), b) in y.iter_mut().zip(w).zip(b) {
        let mut s = 0.0;
        for (w, x) in row.iter().zip(x) {
            s += w * x;
        }
        *y = s + b;
    }
    y
}

// @add
/// `a + b`, element by element.
fn add<const N: usize>(mut a: [f32; N], b: &[f32; N]) -> [f32; N] {
    for (a, b) in a.iter_mut().zip(b) {
        *a += b;
    }
    a
}

// @scale_shift
/// `x * scale + shift` with one scale and shift per channel of `PLANE` values
/// (a batch norm that no dense or convolution precedes).
fn scale_shift<const N: usize, const C: usize>(
    mut x: [f32; N],
    scale: &[f32; C],
    shift: &[f32; C],
    plane: usize,
) -> [f32; N] {
    for (i, v) in x.iter_mut().enumerate() {
        *v = *v * scale[i / plane] + shift[i / plane];
    }
    x
}

// @prelu
/// PReLU with one slope per feature.
fn prelu<const N: usize>(mut x: [f32; N], slope: &[f32; N]) -> [f32; N] {
    for (v, a) in x.iter_mut().zip(slope) {
        if *v <= 0.0 {
            *v *= a;
        }
    }
    x
}

// @layer_norm
/// Each sample normalized over its features (biased variance), then scaled and shifted.
fn layer_norm<const N: usize>(mut x: [f32; N], eps: f32, weight: &[f32; N], bias: &[f32; N]) -> [f32; N] {
    let n = N as f32;
    let mean = x.iter().sum::<f32>() / n;
    let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
    let inv_std = 1.0 / sqrt(var + eps);
    for ((v, w), b) in x.iter_mut().zip(weight).zip(bias) {
        *v = (*v - mean) * inv_std * w + b;
    }
    x
}

// @highway
/// `t * h + (1 - t) * x` with the gate `t = sigmoid(W x + b)`.
fn highway<const N: usize>(x: &[f32; N], h: &[f32; N], w: &[[f32; N]; N], b: &[f32; N]) -> [f32; N] {
    let mut y = dense(w, b, x);
    for ((y, h), x) in y.iter_mut().zip(h).zip(x) {
        let t = sigmoid(*y);
        *y = t * h + (1.0 - t) * x;
    }
    y
}

// @concat
/// `[a; b]`.
fn concat<const A: usize, const B: usize, const N: usize>(a: &[f32; A], b: &[f32; B]) -> [f32; N] {
    let mut y = [0.0; N];
    y[..A].copy_from_slice(a);
    y[A..].copy_from_slice(b);
    y
}

// @window
/// A `k x k` window moved by `stride` over a `(channels, height, width)` image
/// padded by `padding`, and the output's height and width.
struct Window {
    channels: usize,
    height: usize,
    width: usize,
    k: usize,
    stride: usize,
    padding: usize,
    out_height: usize,
    out_width: usize,
}

impl Window {
    /// The input rows (or columns, with `len` the width) that output row `o`
    /// reads, clipped to the image: padding cells are left out.
    fn span(&self, o: usize, len: usize) -> (usize, usize) {
        let at = o * self.stride;
        (at.saturating_sub(self.padding), (at + self.k).saturating_sub(self.padding).min(len))
    }
}

// @conv2d
/// Cross-correlation with zero padding, as PyTorch's `Conv2d`; the weight row
/// of output channel `o` is `[C, k, k]` flattened.
fn conv2d<const I: usize, const O: usize, const P: usize, const OC: usize>(
    g: &Window,
    w: &[[f32; P]; OC],
    b: &[f32; OC],
    x: &[f32; I],
) -> [f32; O] {
    let mut y = [0.0; O];
    let plane = g.out_height * g.out_width;
    for (o, (w, b)) in w.iter().zip(b).enumerate() {
        for oy in 0..g.out_height {
            let (r0, r1) = g.span(oy, g.height);
            for ox in 0..g.out_width {
                let (c0, c1) = g.span(ox, g.width);
                let mut s = 0.0;
                for c in 0..g.channels {
                    for r in r0..r1 {
                        let ki = r + g.padding - oy * g.stride;
                        for col in c0..c1 {
                            let kj = col + g.padding - ox * g.stride;
                            s += w[(c * g.k + ki) * g.k + kj] * x[(c * g.height + r) * g.width + col];
                        }
                    }
                }
                y[o * plane + oy * g.out_width + ox] = s + b;
            }
        }
    }
    y
}

// @max_pool
/// The largest value of each window (padding is never the largest, as PyTorch's
/// `MaxPool2d`); NaN wins.
fn max_pool<const I: usize, const O: usize>(g: &Window, x: &[f32; I]) -> [f32; O] {
    let mut y = [0.0; O];
    let plane = g.out_height * g.out_width;
    for c in 0..g.channels {
        for oy in 0..g.out_height {
            let (r0, r1) = g.span(oy, g.height);
            for ox in 0..g.out_width {
                let (c0, c1) = g.span(ox, g.width);
                let mut m = f32::NEG_INFINITY;
                for r in r0..r1 {
                    for col in c0..c1 {
                        let v = x[(c * g.height + r) * g.width + col];
                        if v > m || v.is_nan() {
                            m = v;
                        }
                    }
                }
                y[c * plane + oy * g.out_width + ox] = m;
            }
        }
    }
    y
}

// @avg_pool
/// The mean of each `k x k` window, padding counted as zeros (PyTorch's
/// `AvgPool2d` default `count_include_pad = True`).
fn avg_pool<const I: usize, const O: usize>(g: &Window, x: &[f32; I]) -> [f32; O] {
    let mut y = [0.0; O];
    let plane = g.out_height * g.out_width;
    let area = (g.k * g.k) as f32;
    for c in 0..g.channels {
        for oy in 0..g.out_height {
            let (r0, r1) = g.span(oy, g.height);
            for ox in 0..g.out_width {
                let (c0, c1) = g.span(ox, g.width);
                let mut s = 0.0;
                for r in r0..r1 {
                    for col in c0..c1 {
                        s += x[(c * g.height + r) * g.width + col];
                    }
                }
                y[c * plane + oy * g.out_width + ox] = s / area;
            }
        }
    }
    y
}

// @global_avg_pool
/// The mean of each channel's plane of `I / C` values.
fn global_avg_pool<const I: usize, const C: usize>(x: &[f32; I]) -> [f32; C] {
    let plane = I / C;
    let mut y = [0.0; C];
    for (c, y) in y.iter_mut().enumerate() {
        *y = x[c * plane..(c + 1) * plane].iter().sum::<f32>() / plane as f32;
    }
    y
}

// @gates
/// `W_ih x + W_hh h + b`, the gate pre-activations of a recurrent cell (`b`
/// holds `b_ih + b_hh`, or only `b_ih` where the cell keeps `b_hh` apart).
fn gates<const I: usize, const H: usize, const G: usize>(
    w_ih: &[[f32; I]; G],
    w_hh: &[[f32; H]; G],
    b: &[f32; G],
    x: &[f32; I],
    h: &[f32; H],
) -> [f32; G] {
    add(dense(w_ih, b, x), &dense(w_hh, &[0.0; G], h))
}

// @rnn_step
/// `h = tanh(W_ih x + b_ih + W_hh h + b_hh)`, as `nn.RNNCell`.
fn rnn_step<const I: usize, const H: usize>(
    w_ih: &[[f32; I]; H],
    w_hh: &[[f32; H]; H],
    b: &[f32; H],
    x: &[f32; I],
    h: &mut [f32; H],
) {
    *h = map(gates(w_ih, w_hh, b, x, h), tanh);
}

// @lstm_step
/// One step of `nn.LSTMCell`: gates (input, forget, cell, output) stacked in
/// `G = 4 H` rows, `c = f c + i g`, `h = o tanh(c)`.
fn lstm_step<const I: usize, const H: usize, const G: usize>(
    w_ih: &[[f32; I]; G],
    w_hh: &[[f32; H]; G],
    b: &[f32; G],
    x: &[f32; I],
    h: &mut [f32; H],
    c: &mut [f32; H],
) {
    let a = gates(w_ih, w_hh, b, x, h);
    for k in 0..H {
        let (i, f) = (sigmoid(a[k]), sigmoid(a[H + k]));
        let (g, o) = (tanh(a[2 * H + k]), sigmoid(a[3 * H + k]));
        c[k] = f * c[k] + i * g;
        h[k] = o * tanh(c[k]);
    }
}

// @gru_step
/// One step of `nn.GRUCell`: gates (reset, update, new) stacked in `G = 3 H`
/// rows, `n = tanh(W_in x + b_in + r (W_hn h + b_hn))`, `h = (1 - z) n + z h`.
fn gru_step<const I: usize, const H: usize, const G: usize>(
    w_ih: &[[f32; I]; G],
    w_hh: &[[f32; H]; G],
    b_ih: &[f32; G],
    b_hh: &[f32; G],
    x: &[f32; I],
    h: &mut [f32; H],
) {
    let px = dense(w_ih, b_ih, x);
    let ph = dense(w_hh, b_hh, h);
    for k in 0..H {
        let r = sigmoid(px[k] + ph[k]);
        let z = sigmoid(px[H + k] + ph[H + k]);
        let n = tanh(px[2 * H + k] + r * ph[2 * H + k]);
        h[k] = (1.0 - z) * n + z * h[k];
    }
}
