//! Matrix-vector products, `y = alpha * A x + beta * y`.
//!
//! matrixmultiply packs the whole of `A` before it multiplies, which for a
//! single column costs more than the product itself (about 10x a plain loop:
//! DESIGN.md, performance model). These loops read `A` once, in its storage
//! order: dot products when `A` is row-major, column updates (axpy) when it is
//! column-major. They are generic over the instruction set ([`Level`]) and
//! run through [`dispatch`](super::isa::dispatch), which compiles them once
//! per set.

use super::aligned::from_line_start;
use super::isa::{dispatch, Kernel, Level};
use super::mat::Product;
use super::simd;
use super::{MatMut, MatRef};
use crate::kernels::Float;

/// `y = alpha * A x + beta * y`, the product `c = alpha a b + beta c` with one
/// column (`b` is `x`, `c` is `y`), on `level`. With `beta == 0`, `y`'s old
/// contents are ignored (NaN included), as BLAS specifies.
#[inline(always)]
pub(super) fn gemv<T: Float, L: Level>(level: L, product: Product<'_, T>) {
    let Product { alpha, a, b: x, beta, c: y } = product;
    debug_assert_eq!(x.cols, 1);
    if a.cs == 1 && x.rs == 1 {
        let x = &x.data[..a.cols];
        // Every row's dot product reads all of `x`: off a cache line, half
        // of those loads straddle two (a one-sample W6 step with AVX2 spent
        // about 8 % more). A copy on a line start costs one pass over `x`
        // and moves no value, so results do not depend on the address.
        if x.as_ptr().align_offset(64) == 0 || a.rows < 16 {
            return rows_dot(level, alpha, a, x, beta, y);
        }
        T::with_buf(|buf| {
            let aligned = from_line_start(buf, x.len(), x.len());
            aligned.copy_from_slice(x);
            // Through `run`: this closure is compiled outside the level's
            // wrapper, and would call its intrinsics instead of inlining them.
            level.run(RowsDot { alpha, a, x: aligned, beta, y })
        })
    } else if a.rs == 1 && y.rs == 1 {
        cols_axpy::<T, L>(alpha, a, x, beta, &mut y.data[..a.rows]);
    } else {
        strided(alpha, a, x, beta, y);
    }
}

/// `a * b + c`, fused only where the CPU has FMA: without it `mul_add` is a
/// slow library call.
#[inline(always)]
fn madd<T: Float, L: Level>(a: T, b: T, c: T) -> T {
    if L::FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// `y[i] = alpha * beta_free_dot + beta * y[i]`, the BLAS rule for `beta == 0`.
#[inline(always)]
fn combine<T: Float>(alpha: T, dot: T, beta: T, y: T) -> T {
    if beta == T::zero() {
        alpha * dot
    } else {
        alpha * dot + beta * y
    }
}

/// [`rows_dot`]'s arguments, as a kernel.
struct RowsDot<'a, T> {
    alpha: T,
    a: MatRef<'a, T>,
    x: &'a [T],
    beta: T,
    y: MatMut<'a, T>,
}

impl<T: Float> Kernel for RowsDot<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run<L: Level>(self, level: L) {
        rows_dot(level, self.alpha, self.a, self.x, self.beta, self.y)
    }
}

/// A row-major matrix of at least this many bytes, rows back to back, is
/// read as one stream with [`simd::dot_prefetching`]: as large as the L2 of
/// current x86 cores (1 to 2 MiB), it comes from L3 or memory in every call
/// anyway, and a read-once hint costs it no reuse. Smaller ones may stay in
/// L2 between calls; they keep the plain loops.
const STREAM_MIN_BYTES: usize = 1 << 20;

/// How far ahead of its loads the streaming dot product asks for memory:
/// about a row of W6's first layer (3136 bytes). Measured there (AVX2, Zen 5,
/// one thread): 2 to 6 KiB all about 1.6 us faster per call than without;
/// 1 KiB slower than without.
const STREAM_AHEAD_BYTES: usize = 3072;

/// Row-major `A`: one dot product per row, or four at a time where the
/// instruction set has a kernel for it ([`Level::dot4`]) and `A` may stay
/// in cache; a matrix that streams from L3 goes row by row, asking for the
/// rows ahead (one stream: on W6 faster than four rows at a time, with
/// AVX-512 too, with or without the requests).
#[inline(always)]
fn rows_dot<T: Float, L: Level>(level: L, alpha: T, a: MatRef<'_, T>, x: &[T], beta: T, y: MatMut<'_, T>) {
    let row = |i: usize| &a.data[i * a.rs..i * a.rs + a.cols];
    if a.rs == a.cols && a.rows * a.cols * T::BYTES >= STREAM_MIN_BYTES {
        for i in 0..a.rows {
            let yi = &mut y.data[i * y.rs];
            let d = simd::dot_prefetching::<L::Reg<T>>(level, row(i), x, STREAM_AHEAD_BYTES);
            *yi = combine(alpha, d, beta, *yi);
        }
        return;
    }
    let mut first = 0;
    while first + 4 <= a.rows {
        let Some(dots) = level.dot4(std::array::from_fn(|r| row(first + r)), x) else { break };
        for (r, d) in dots.into_iter().enumerate() {
            let yi = &mut y.data[(first + r) * y.rs];
            *yi = combine(alpha, d, beta, *yi);
        }
        first += 4;
    }
    for i in first..a.rows {
        let yi = &mut y.data[i * y.rs];
        *yi = combine(alpha, dot(level, row(i), x), beta, *yi);
    }
}

/// A dot product with the instruction set's vector registers.
#[inline(always)]
fn dot<T: Float, L: Level>(level: L, a: &[T], x: &[T]) -> T {
    simd::dot::<L::Reg<T>>(level, a, x)
}

/// Column-major `A`: `y = beta * y`, then `y += (alpha * x[j]) * A[:, j]`, four
/// columns per pass so that `y` is loaded and stored a quarter as often.
#[inline(always)]
fn cols_axpy<T: Float, L: Level>(alpha: T, a: MatRef<'_, T>, x: MatRef<'_, T>, beta: T, y: &mut [T]) {
    let m = a.rows;
    if beta == T::zero() {
        y.fill(T::zero());
    } else if beta != T::one() {
        for v in y.iter_mut() {
            *v *= beta;
        }
    }
    let col = |j: usize| &a.data[j * a.cs..j * a.cs + m];
    let s = |j: usize| alpha * x.data[j * x.rs];
    let mut j = 0;
    while j + 4 <= a.cols {
        axpy4::<T, L>([s(j), s(j + 1), s(j + 2), s(j + 3)], [col(j), col(j + 1), col(j + 2), col(j + 3)], None, y);
        j += 4;
    }
    while j < a.cols {
        axpy1::<T, L>(s(j), col(j), y);
        j += 1;
    }
}

/// `y += s[0] c[0] + s[1] c[1] + s[2] c[2] + s[3] c[3]`, each column as long
/// as `y`. With `next`, the four columns the caller adds after these are
/// asked for ([`simd::prefetch_streaming`]), a cache line of each per line of
/// `y`, so that they are on their way when their pass begins.
#[inline(always)]
fn axpy4<T: Float, L: Level>(s: [T; 4], c: [&[T]; 4], next: Option<[&[T]; 4]>, y: &mut [T]) {
    let Some(next) = next else { return add4::<T, L>(s, c, y) };
    let line = 64 / std::mem::size_of::<T>();
    let mut i = 0;
    while i + line <= y.len() {
        for column in next {
            simd::prefetch_streaming(column[i..].as_ptr().cast());
        }
        add4::<T, L>(s, c.map(|c| &c[i..i + line]), &mut y[i..i + line]);
        i += line;
    }
    add4::<T, L>(s, c.map(|c| &c[i..]), &mut y[i..]);
}

/// [`axpy4`]'s arithmetic.
#[inline(always)]
fn add4<T: Float, L: Level>(s: [T; 4], c: [&[T]; 4], y: &mut [T]) {
    let m = y.len();
    let (c0, c1, c2, c3) = (&c[0][..m], &c[1][..m], &c[2][..m], &c[3][..m]);
    for i in 0..m {
        let v = madd::<T, L>(s[0], c0[i], y[i]);
        let v = madd::<T, L>(s[1], c1[i], v);
        let v = madd::<T, L>(s[2], c2[i], v);
        y[i] = madd::<T, L>(s[3], c3[i], v);
    }
}

/// `y += s c`, `c` as long as `y`.
#[inline(always)]
fn axpy1<T: Float, L: Level>(s: T, c: &[T], y: &mut [T]) {
    let c = &c[..y.len()];
    for (yi, ci) in y.iter_mut().zip(c) {
        *yi = madd::<T, L>(s, *ci, *yi);
    }
}

/// `y += A x` for a column-major `A` (`y.len()` rows, `x.len()` columns, column
/// `j` at `a[j * y.len()..]`), reading only the columns whose `x[j]` is not
/// zero: after a ReLU about half of them are, and a one-sample product is bound
/// by the bytes of `A` it reads. A NaN in `x` is not zero, so it reaches `y`;
/// a non-finite entry of `A` in a skipped column does not (the caller decides
/// whether that is acceptable).
pub(crate) fn gemv_nonzero_cols<T: Float>(a: &[T], x: &[T], y: &mut [T]) {
    assert!(a.len() >= x.len() * y.len(), "matrix data too short");
    dispatch(NonzeroCols { a, x, y })
}

/// The arguments of [`gemv_nonzero_cols`], as a kernel.
struct NonzeroCols<'a, T> {
    a: &'a [T],
    x: &'a [T],
    y: &'a mut [T],
}

impl<T: Float> Kernel for NonzeroCols<'_, T> {
    type Output = ();

    /// The indices of the nonzero `x[j]` are gathered a block of inputs at a
    /// time, each 64 of them as a bit mask built without branches and then
    /// its set bits, so that zeros and nonzeros in any pattern cost no
    /// mispredicted branch. The columns then go four per pass over `y`, which
    /// stays in L1, as in [`cols_axpy`], each pass asking for the next four
    /// columns of its block: a column of a one-sample product is too short
    /// for the hardware prefetcher to find by itself (W6's 512 x 512 layer
    /// with AVX2: about 2 % faster).
    #[inline(always)]
    fn run<L: Level>(self, _: L) {
        const MASK: usize = 64;
        const BLOCK: usize = 8 * MASK;
        let Self { a, x, y } = self;
        let m = y.len();
        let col = |j: usize| &a[j * m..j * m + m];
        let group = |g: &[usize]| [col(g[0]), col(g[1]), col(g[2]), col(g[3])];
        // Up to three indices wait for the next block to fill a group of four.
        let mut pending = [0usize; BLOCK + 3];
        let mut n = 0;
        for (b, block) in x.chunks(BLOCK).enumerate() {
            for (c, xs) in block.chunks(MASK).enumerate() {
                let mut mask = 0u64;
                for (l, v) in xs.iter().enumerate() {
                    mask |= u64::from(*v != T::zero()) << l;
                }
                while mask != 0 {
                    pending[n] = b * BLOCK + c * MASK + mask.trailing_zeros() as usize;
                    n += 1;
                    mask &= mask - 1;
                }
            }
            let full = n / 4 * 4;
            let groups = &pending[..full];
            for (k, g) in groups.chunks_exact(4).enumerate() {
                let next = groups.get(4 * k + 4..4 * k + 8).map(group);
                axpy4::<T, L>([x[g[0]], x[g[1]], x[g[2]], x[g[3]]], group(g), next, y);
            }
            pending.copy_within(full..n, 0);
            n -= full;
        }
        for &j in &pending[..n] {
            axpy1::<T, L>(x[j], col(j), y);
        }
    }
}

/// Any other layout (neither `A` nor the vector it would stream is contiguous):
/// plain loops; no layer produces this.
fn strided<T: Float>(alpha: T, a: MatRef<'_, T>, x: MatRef<'_, T>, beta: T, y: MatMut<'_, T>) {
    for i in 0..a.rows {
        let mut d = T::zero();
        for j in 0..a.cols {
            d += a.at(i, j) * x.at(j, 0);
        }
        let yi = &mut y.data[i * y.rs];
        *yi = combine(alpha, d, beta, *yi);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::{gemm, with_isa, Isa};
    use rand::Rng;

    /// The instruction sets this CPU runs, each in its own `with_isa`.
    fn isas() -> impl Iterator<Item = Isa> {
        Isa::ALL.iter().copied().filter(|i| i.available())
    }

    /// A row-major product copies an `x` that is off a cache line to one:
    /// the same bits as with `x` on one, on every instruction set.
    #[test]
    fn x_off_a_cache_line_gives_the_bits_of_x_on_one() {
        let mut rng = crate::init::seeded_rng(5);
        for (rows, cols) in [(16, 9), (40, 784), (17, 33)] {
            let a: Vec<f32> = (0..rows * cols).map(|_| rng.random_range(-1.0..1.0)).collect();
            let x: Vec<f32> = (0..cols + 1).map(|_| rng.random_range(-1.0..1.0)).collect();
            let on_line = crate::kernels::Aligned::from(x[1..].to_vec());
            let off_line = crate::kernels::Aligned::from(x.clone());
            assert_eq!(on_line.as_ptr().align_offset(64), 0);
            assert_ne!(off_line[1..].as_ptr().align_offset(64), 0);
            for isa in isas() {
                let run = |x: &[f32]| {
                    let mut y = vec![0.0f32; rows];
                    with_isa(isa, || crate::kernels::gemv(1.0, MatRef::row_major(&a, rows, cols), x, 0.0, &mut y));
                    y
                };
                let (want, got) = (run(&on_line), run(&off_line[1..]));
                assert!(want.iter().zip(&got).all(|(w, g)| w.to_bits() == g.to_bits()), "{isa:?} {rows}x{cols}");
            }
        }
    }

    /// [`simd::dot_prefetching`]'s result, and what the rows of a matrix
    /// large enough to stream get in a product: the bits of the plain dot,
    /// on every instruction set, up to the matrix's last row (whose requests
    /// point past its end).
    #[test]
    fn streaming_dot_products_give_the_bits_of_plain_ones_on_every_isa() {
        struct Both<'a> {
            row: &'a [f32],
            x: &'a [f32],
        }
        impl Kernel for Both<'_> {
            type Output = (f32, f32);
            fn run<L: Level>(self, level: L) -> (f32, f32) {
                let plain = simd::dot::<L::Reg<f32>>(level, self.row, self.x);
                (plain, simd::dot_prefetching::<L::Reg<f32>>(level, self.row, self.x, STREAM_AHEAD_BYTES))
            }
        }
        let (rows, cols) = (512, 784);
        assert!(rows * cols * 4 >= STREAM_MIN_BYTES, "the shape streams");
        let mut rng = crate::init::seeded_rng(11);
        let a: Vec<f32> = (0..rows * cols).map(|_| rng.random_range(-1.0..1.0)).collect();
        let x = crate::kernels::Aligned::from((0..cols).map(|_| rng.random_range(-1.0..1.0)).collect::<Vec<f32>>());
        for isa in isas() {
            let mut y = vec![f32::NAN; rows];
            with_isa(isa, || crate::kernels::gemv(1.0, MatRef::row_major(&a, rows, cols), &x, 0.0, &mut y));
            for (i, yi) in y.iter().enumerate() {
                let row = &a[i * cols..(i + 1) * cols];
                let (plain, prefetching) = with_isa(isa, || dispatch(Both { row, x: &x }));
                assert_eq!(plain.to_bits(), prefetching.to_bits(), "{isa:?} row {i}");
                assert_eq!(yi.to_bits(), plain.to_bits(), "{isa:?} row {i} of the product");
            }
        }
    }

    /// Shapes around the vector widths (8, 16, 32 lanes) and the 4-column blocks,
    /// plus the sizes of the benchmark networks.
    const SHAPES: [(usize, usize); 14] = [
        (1, 1),
        (1, 7),
        (3, 1),
        (5, 31),
        (7, 32),
        (9, 33),
        (16, 63),
        (17, 64),
        (31, 65),
        (33, 100),
        (64, 129),
        (10, 512),
        (128, 64),
        (512, 784),
    ];

    /// The product in f64 from the same (rounded) inputs, and a bound on the
    /// rounding error of any summation order in `T`.
    fn reference<T: Float>(alpha: T, a: MatRef<'_, T>, x: MatRef<'_, T>, beta: T, y0: &[T]) -> (Vec<f64>, Vec<f64>) {
        let eps = if T::BYTES == 4 { f32::EPSILON as f64 } else { f64::EPSILON };
        (0..a.rows())
            .map(|i| {
                let (mut d, mut mag) = (0.0, 0.0);
                for j in 0..a.cols() {
                    let p = a.at(i, j).as_f64() * x.at(j, 0).as_f64();
                    d += p;
                    mag += p.abs();
                }
                let b = if beta == T::zero() { 0.0 } else { beta.as_f64() * y0[i].as_f64() };
                let tol = 2.0 * (a.cols() as f64 + 2.0) * eps * (alpha.as_f64().abs() * mag + b.abs()) + 1e-30;
                (alpha.as_f64() * d + b, tol)
            })
            .unzip()
    }

    fn check_all<T: Float>() {
        let mut rng = crate::init::seeded_rng(9);
        let mut checked = 0;
        for &(m, k) in &SHAPES {
            let a: Vec<T> = (0..m * k).map(|_| T::of(rng.random_range(-1.0..1.0))).collect();
            let x: Vec<T> = (0..k).map(|_| T::of(rng.random_range(-1.0..1.0))).collect();
            let y0: Vec<T> = (0..m).map(|_| T::of(rng.random_range(-1.0..1.0))).collect();
            let layouts =
                [("row-major", MatRef::row_major(&a[..], m, k)), ("column-major", MatRef::col_major(&a[..], m, k))];
            for (layout, mat) in layouts {
                for (alpha, beta) in [(1.0, 0.0), (0.5, 1.0), (-2.0, 0.25)] {
                    let (alpha, beta) = (T::of(alpha), T::of(beta));
                    let xs = MatRef::col_major(&x[..], k, 1);
                    let (want, tol) = reference(alpha, mat, xs, beta, &y0);
                    for isa in isas() {
                        // beta == 0 must ignore NaN in y (BLAS).
                        let mut y: Vec<T> = if beta == T::zero() { vec![T::of(f64::NAN); m] } else { y0.clone() };
                        with_isa(isa, || gemm(alpha, mat, xs, beta, MatMut::col_major(&mut y, m, 1)));
                        for i in 0..m {
                            let err = (y[i].as_f64() - want[i]).abs();
                            assert!(
                                err <= tol[i],
                                "{} {isa:?} {layout} {m}x{k} alpha {alpha} beta {beta} row {i}: {} vs {} (tol {})",
                                T::DTYPE,
                                y[i],
                                want[i],
                                tol[i]
                            );
                        }
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked >= SHAPES.len() * 2 * 3, "every shape, layout and (alpha, beta) ran at least once");
    }

    #[test]
    fn gemv_matches_f64_reference_for_every_shape_layout_and_isa_f32() {
        check_all::<f32>();
    }

    #[test]
    fn gemv_matches_f64_reference_for_every_shape_layout_and_isa_f64() {
        check_all::<f64>();
    }

    #[test]
    fn strided_vectors_take_the_general_path_and_agree() {
        // x with stride 2 under a row-major A, y with stride 3 under a column-major A.
        let (m, k) = (5, 9);
        let a: Vec<f64> = (0..m * k).map(|v| (v as f64 * 0.37).sin()).collect();
        let x: Vec<f64> = (0..2 * k).map(|v| (v as f64 * 0.11).cos()).collect();
        let xs = MatRef::strided(&x[..], k, 1, 2, 1);
        for mat in [MatRef::row_major(&a[..], m, k), MatRef::col_major(&a[..], m, k)] {
            let (want, tol) = reference(1.5, mat, xs, 0.0, &[0.0; 5]);
            for isa in isas() {
                let mut y = vec![f64::NAN; 3 * m];
                with_isa(isa, || gemm(1.5, mat, xs, 0.0, MatMut::strided(&mut y, m, 1, 3, 1)));
                for i in 0..m {
                    assert!((y[3 * i] - want[i]).abs() <= tol[i], "{isa:?} row {i}: {} vs {}", y[3 * i], want[i]);
                    if i + 1 < m {
                        assert!(y[3 * i + 1].is_nan() && y[3 * i + 2].is_nan(), "gaps between strided y untouched");
                    }
                }
            }
        }
    }

    /// `y += A x` reading only the columns of nonzero `x[j]`, against the f64
    /// product of every column, for inputs from no zeros to all zeros.
    fn check_nonzero_cols<T: Float>() {
        use rand::seq::SliceRandom;
        let mut rng = crate::init::seeded_rng(10);
        let mut checked = 0;
        for (m, k) in [(1, 1), (13, 37), (5, 64), (7, 65), (16, 129), (33, 200), (10, 512), (512, 512)] {
            let a: Vec<T> = (0..m * k).map(|_| T::of(rng.random_range(-1.0..1.0))).collect();
            let y0: Vec<T> = (0..m).map(|_| T::of(rng.random_range(-1.0..1.0))).collect();
            let mat = MatRef::col_major(&a[..], m, k);
            for percent in [0, 30, 50, 90, 100] {
                let mut x: Vec<T> = (0..k).map(|_| T::of(rng.random_range(-1.0..1.0))).collect();
                let mut order: Vec<usize> = (0..k).collect();
                order.shuffle(&mut rng);
                order[..k * percent / 100].iter().for_each(|&j| x[j] = T::zero());
                let (want, tol) = reference(T::one(), mat, MatRef::col_major(&x[..], k, 1), T::one(), &y0);
                for isa in isas() {
                    let mut y = y0.clone();
                    with_isa(isa, || gemv_nonzero_cols(&a, &x, &mut y));
                    for i in 0..m {
                        assert!(
                            (y[i].as_f64() - want[i]).abs() <= tol[i],
                            "{} {isa:?} {m}x{k} {percent} % zeros, row {i}: {} vs {}",
                            T::DTYPE,
                            y[i],
                            want[i]
                        );
                    }
                    if percent == 100 {
                        assert_eq!(y, y0, "all-zero input leaves y as it was");
                    }
                    // A NaN is not zero: it reaches every row.
                    let mut xn = x.clone();
                    xn[k / 2] = T::of(f64::NAN);
                    with_isa(isa, || gemv_nonzero_cols(&a, &xn, &mut y));
                    assert!(y.iter().all(|v| v.as_f64().is_nan()), "{isa:?} {m}x{k}: NaN input lost");
                    checked += 1;
                }
            }
        }
        assert!(checked >= 8 * 5, "every shape and share of zeros ran at least once");
    }

    #[test]
    fn nonzero_column_products_match_f64_reference_for_every_isa_f32() {
        check_nonzero_cols::<f32>();
    }

    #[test]
    fn nonzero_column_products_match_f64_reference_for_every_isa_f64() {
        check_nonzero_cols::<f64>();
    }
}
