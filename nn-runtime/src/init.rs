//! Weight initializers, with fan-in and fan-out computed once, as PyTorch does.

use rand::Rng;
use rand_distr::{Distribution, Normal, Uniform};
use std::fmt;

use crate::kernels::Float;

/// The portable seeded generator behind `Network::seeded(seed)`: ChaCha8 gives
/// the same stream on every platform, so the same seed gives the same weights.
pub type SeededRng = rand_chacha::ChaCha8Rng;

/// A generator from a seed (see [`SeededRng`]).
pub fn seeded_rng(seed: u64) -> SeededRng {
    use rand::SeedableRng;
    SeededRng::seed_from_u64(seed)
}

/// How a weight tensor starts. Biases always start at zero.
///
/// Samples are drawn in `f64` and rounded, so an `f32` network is the rounded
/// `f64` network of the same seed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// All zeros.
    Zeros,
    /// Every element `c`.
    Constant(f64),
    /// Uniform on `[-a, a]`.
    Uniform(f64),
    /// Normal with mean 0 and the given standard deviation.
    Normal(f64),
    /// Glorot: uniform with bound `sqrt(6 / (fan_in + fan_out))`.
    XavierUniform,
    /// Glorot: normal with std `sqrt(2 / (fan_in + fan_out))`.
    XavierNormal,
    /// Kaiming for ReLU, fan-in mode: uniform with bound `sqrt(6 / fan_in)`.
    HeUniform,
    /// Kaiming for ReLU, fan-in mode: normal with std `sqrt(2 / fan_in)`.
    HeNormal,
    /// LeCun (for SELU): normal with std `sqrt(1 / fan_in)`.
    LecunNormal,
    /// A (semi-)orthogonal matrix times `gain` (Saxe et al.), as `torch.nn.init.orthogonal_`.
    Orthogonal {
        /// Factor the orthogonal matrix is scaled by.
        gain: f64,
    },
}

impl fmt::Display for Init {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Init::Zeros => write!(f, "zeros"),
            Init::Constant(c) => write!(f, "constant({c})"),
            Init::Uniform(a) => write!(f, "uniform({a})"),
            Init::Normal(s) => write!(f, "normal({s})"),
            Init::XavierUniform => write!(f, "xavier_uniform"),
            Init::XavierNormal => write!(f, "xavier_normal"),
            Init::HeUniform => write!(f, "he_uniform"),
            Init::HeNormal => write!(f, "he_normal"),
            Init::LecunNormal => write!(f, "lecun_normal"),
            Init::Orthogonal { gain } => write!(f, "orthogonal(gain = {gain})"),
        }
    }
}

impl Init {
    /// The standard deviation this initializer gives for the given fans
    /// (`None` for constants and orthogonal matrices, whose spread is not a parameter).
    pub fn std(&self, fan_in: usize, fan_out: usize) -> Option<f64> {
        let (fi, fo) = (fan_in.max(1) as f64, fan_out.max(1) as f64);
        match *self {
            Init::Zeros | Init::Constant(_) | Init::Orthogonal { .. } => None,
            Init::Uniform(a) => Some(a / 3f64.sqrt()),
            Init::Normal(s) => Some(s),
            Init::XavierUniform | Init::XavierNormal => Some((2.0 / (fi + fo)).sqrt()),
            Init::HeUniform | Init::HeNormal => Some((2.0 / fi).sqrt()),
            Init::LecunNormal => Some((1.0 / fi).sqrt()),
        }
    }

    /// Fills the row-major `rows x cols` tensor `out` (PyTorch's layout: a dense
    /// weight is `[out, in]`, so `rows = fan_out` for it). Fans are passed
    /// separately because a convolution's fans include the kernel area.
    pub fn fill<T: Float, R: Rng + ?Sized>(
        &self,
        rng: &mut R,
        fan_in: usize,
        fan_out: usize,
        rows: usize,
        cols: usize,
        out: &mut [T],
    ) {
        assert_eq!(out.len(), rows * cols, "initializer output has the wrong size");
        let (fi, fo) = (fan_in.max(1) as f64, fan_out.max(1) as f64);
        match *self {
            Init::Zeros => out.fill(T::zero()),
            Init::Constant(c) => out.fill(T::of(c)),
            Init::Uniform(a) => fill_uniform(rng, a, out),
            Init::Normal(s) => fill_normal(rng, s, out),
            Init::XavierUniform => fill_uniform(rng, (6.0 / (fi + fo)).sqrt(), out),
            Init::XavierNormal => fill_normal(rng, (2.0 / (fi + fo)).sqrt(), out),
            Init::HeUniform => fill_uniform(rng, (6.0 / fi).sqrt(), out),
            Init::HeNormal => fill_normal(rng, (2.0 / fi).sqrt(), out),
            Init::LecunNormal => fill_normal(rng, (1.0 / fi).sqrt(), out),
            Init::Orthogonal { gain } => fill_orthogonal(rng, gain, rows, cols, out),
        }
    }
}

fn fill_uniform<T: Float, R: Rng + ?Sized>(rng: &mut R, bound: f64, out: &mut [T]) {
    if bound <= 0.0 || !bound.is_finite() {
        out.fill(T::zero());
        return;
    }
    let d = Uniform::new_inclusive(-bound, bound).expect("finite positive bound");
    for v in out {
        *v = T::of(d.sample(rng));
    }
}

fn fill_normal<T: Float, R: Rng + ?Sized>(rng: &mut R, std: f64, out: &mut [T]) {
    if std <= 0.0 || !std.is_finite() {
        out.fill(T::zero());
        return;
    }
    let d = Normal::new(0.0, std).expect("finite positive std");
    for v in out {
        *v = T::of(d.sample(rng));
    }
}

/// As `torch.nn.init.orthogonal_`: QR of a Gaussian matrix (transposed when
/// wide), columns' signs fixed by diag(R) so the result is uniformly distributed.
fn fill_orthogonal<T: Float, R: Rng + ?Sized>(rng: &mut R, gain: f64, rows: usize, cols: usize, out: &mut [T]) {
    if rows == 0 || cols == 0 {
        return;
    }
    let (tall_r, tall_c) = if rows < cols { (cols, rows) } else { (rows, cols) };
    let normal = Normal::new(0.0, 1.0).expect("unit normal");
    let a = nalgebra::DMatrix::<f64>::from_fn(tall_r, tall_c, |_, _| normal.sample(rng));
    let qr = a.qr();
    let (q, r) = (qr.q(), qr.r());
    for i in 0..rows {
        for j in 0..cols {
            // q is tall_r x tall_c; the result is q itself or its transpose.
            let (qi, qj) = if rows < cols { (j, i) } else { (i, j) };
            let sign = if r[(qj, qj)] < 0.0 { -1.0 } else { 1.0 };
            out[i * cols + j] = T::of(gain * q[(qi, qj)] * sign);
        }
    }
}

#[cfg(test)]
mod tests {
    use nalgebra::DMatrix;

    use super::*;

    fn sample(init: Init, rows: usize, cols: usize, seed: u64) -> DMatrix<f64> {
        let mut w = vec![0.0; rows * cols];
        init.fill(&mut seeded_rng(seed), cols, rows, rows, cols, &mut w);
        DMatrix::from_row_slice(rows, cols, &w)
    }

    #[test]
    fn sample_variance_matches_the_formula_within_5_percent() {
        // fan_in = 512, fan_out = 512 for a 512x512 weight.
        let cases = [
            (Init::Uniform(0.3), 0.3 * 0.3 / 3.0),
            (Init::Normal(0.02), 0.02 * 0.02),
            (Init::XavierUniform, 2.0 / 1024.0),
            (Init::XavierNormal, 2.0 / 1024.0),
            (Init::HeUniform, 2.0 / 512.0),
            (Init::HeNormal, 2.0 / 512.0),
            (Init::LecunNormal, 1.0 / 512.0),
        ];
        for (init, var) in cases {
            let w = sample(init, 512, 512, 1);
            let n = w.len() as f64;
            let mean = w.sum() / n;
            let sample_var = w.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0);
            assert!((sample_var / var - 1.0).abs() < 0.05, "{init}: variance {sample_var:e}, formula {var:e}");
            assert!(mean.abs() < 0.01 * var.sqrt(), "{init}: mean {mean:e}");
            let std = init.std(512, 512).expect("a random initializer has a std");
            assert!((std * std / var - 1.0).abs() < 1e-12, "{init}: Init::std disagrees with the formula");
        }
    }

    #[test]
    fn orthogonal_rows_or_columns_are_orthonormal() {
        for (rows, cols) in [(64, 64), (96, 40), (40, 96)] {
            let w = sample(Init::Orthogonal { gain: 1.0 }, rows, cols, 2);
            // Tall: the columns are orthonormal; wide: the rows are.
            let gram = if rows >= cols { w.transpose() * &w } else { &w * w.transpose() };
            let eye = DMatrix::<f64>::identity(gram.nrows(), gram.ncols());
            assert!((gram - eye).abs().max() < 1e-5, "{rows}x{cols}");
        }
        let w = sample(Init::Orthogonal { gain: 2.0 }, 32, 32, 3);
        let gram = w.transpose() * &w;
        assert!((gram - DMatrix::<f64>::identity(32, 32) * 4.0).abs().max() < 1e-5, "gain scales by 2");
    }

    #[test]
    fn same_seed_gives_identical_matrices_and_another_seed_does_not() {
        for init in [
            Init::Uniform(0.5),
            Init::Normal(1.0),
            Init::XavierUniform,
            Init::XavierNormal,
            Init::HeUniform,
            Init::HeNormal,
            Init::LecunNormal,
            Init::Orthogonal { gain: 1.0 },
        ] {
            assert_eq!(sample(init, 30, 20, 9), sample(init, 30, 20, 9), "{init}");
            assert_ne!(sample(init, 30, 20, 9), sample(init, 30, 20, 10), "{init}");
        }
        assert!(sample(Init::Zeros, 3, 4, 1).iter().all(|v| *v == 0.0));
        assert!(sample(Init::Constant(0.7), 3, 4, 1).iter().all(|v| *v == 0.7));
    }

    #[test]
    fn f32_weights_are_the_rounded_f64_weights_of_the_same_seed() {
        let mut w32 = vec![0.0f32; 12];
        Init::HeNormal.fill(&mut seeded_rng(5), 4, 3, 3, 4, &mut w32);
        let w64 = sample(Init::HeNormal, 3, 4, 5);
        let rounded: Vec<f32> = w64.transpose().iter().map(|v| *v as f32).collect();
        assert_eq!(w32, rounded);
    }
}
