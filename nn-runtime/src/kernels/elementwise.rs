//! `exp`, `sigmoid` and `tanh` over slices of `f32`, vectorized.
//!
//! libm's `expf` and `tanhf` are scalar calls of 10-20 ns each. An LSTM step
//! evaluates five of them per unit and sample, so in W4 (issue 9) they cost
//! twice the step's matrix products; PyTorch vectorizes them (Sleef). Here
//! `exp` is Cephes' `expf` (range reduction by `ln 2`, a degree-6 polynomial),
//! written without branches so that LLVM vectorizes the loops, which the
//! kernels' dispatcher compiles for every instruction set. Where the level has
//! fused multiply-add, the polynomials use it: one rounding instead of two,
//! and fewer instructions (a W3 step with AVX2 spent 9 % of its time in
//! sigmoid). Results are within 2 ulp of the exact value on every level
//! (tested against `f64` below); NaN propagates; `f64` keeps the exact scalar
//! code.

use super::isa::{dispatch, Kernel, Level};

/// `x` clamped to where `exp` is finite and not zero after rounding: below
/// -104 `e^x` rounds to 0, above 89 to infinity, both of which the
/// polynomial reaches from the clamped ends.
const EXP_LO: f32 = -104.0;
const EXP_HI: f32 = 89.0;

/// `a * b + c`, fused where `fused` (a level with FMA; the flag is a constant
/// once inlined, so no branch remains), else multiplied and added: without
/// FMA hardware `mul_add` is a slow library call.
#[inline(always)]
fn mul_add(a: f32, b: f32, c: f32, fused: bool) -> f32 {
    if fused {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// `e^x`, branch-free. NaN stays NaN (`clamp` keeps it).
#[inline(always)]
fn exp(x: f32, fused: bool) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split in two, the first exact in few bits, so `n * LN2_HI` is exact.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding 1.5 * 2^23 rounds to an integer, which then sits in the low mantissa bits.
    const ROUND: f32 = 12_582_912.0;
    let fma = |a: f32, b: f32, c: f32| mul_add(a, b, c, fused);
    let x = x.clamp(EXP_LO, EXP_HI);
    let shifted = fma(x, LOG2E, ROUND);
    let n = shifted - ROUND;
    let k = (shifted.to_bits() as i32).wrapping_sub(ROUND.to_bits() as i32);
    let r = fma(-n, LN2_LO, fma(-n, LN2_HI, x));
    let p = [1.398_199_9e-3, 8.333_452e-3, 4.166_579_6e-2, 0.166_666_65, 0.5]
        .into_iter()
        .fold(1.987_569_1e-4, |p, c| fma(p, r, c));
    let p = fma(p * r, r, r) + 1.0;
    // 2^k in two factors, each a normal number, so that results below
    // f32::MIN_POSITIVE round to subnormals instead of wrapping the exponent.
    let k1 = k >> 1;
    let k2 = k - k1;
    let scale = |e: i32| f32::from_bits(((e + 127) as u32) << 23);
    p * scale(k1) * scale(k2)
}

#[inline(always)]
fn sigmoid(x: f32, fused: bool) -> f32 {
    // e^-|x| never overflows; the logistic of a negative x is e * s.
    let e = exp(-x.abs(), fused);
    let s = 1.0 / (1.0 + e);
    if x >= 0.0 {
        s
    } else {
        e * s
    }
}

#[inline(always)]
fn tanh(x: f32, fused: bool) -> f32 {
    let a = x.abs();
    // Near 0, 1 - 2 / (e^2a + 1) cancels; Cephes' odd polynomial is exact to 1 ulp there.
    let z = a * a;
    let odd = [2.063_909e-2, -5.373_971_6e-2, 0.133_314_42, -0.333_332_8]
        .into_iter()
        .fold(-5.704_988_7e-3, |p, c| mul_add(p, z, c, fused));
    let small = mul_add(odd * z, a, a, fused);
    let large = 1.0 - 2.0 / (exp(2.0 * a, fused) + 1.0);
    let t = if a < 0.625 { small } else { large };
    t.copysign(x)
}

/// `f(x, fused)` written from `x` into `y` (the same slice for an in-place
/// map), compiled per instruction set.
struct Map<'a, F> {
    x: Option<&'a [f32]>,
    y: &'a mut [f32],
    f: F,
}

impl<F: Fn(f32, bool) -> f32> Kernel for Map<'_, F> {
    type Output = ();
    #[inline(always)]
    fn run<L: Level>(self, _: L) {
        let f = |x| (self.f)(x, L::FMA);
        match self.x {
            Some(x) => self.y.iter_mut().zip(x).for_each(|(y, x)| *y = f(*x)),
            None => self.y.iter_mut().for_each(|y| *y = f(*y)),
        }
    }
}

/// Replaces every `x` by `e^x`.
pub fn exp_in_place(xs: &mut [f32]) {
    dispatch(Map { x: None, y: xs, f: exp })
}

/// Replaces every `x` by `1 / (1 + e^-x)`.
pub fn sigmoid_in_place(xs: &mut [f32]) {
    dispatch(Map { x: None, y: xs, f: sigmoid })
}

/// Replaces every `x` by `tanh(x)`.
pub fn tanh_in_place(xs: &mut [f32]) {
    dispatch(Map { x: None, y: xs, f: tanh })
}

/// `y = 1 / (1 + e^-x)` element by element (`x` and `y` of one length):
/// one pass, where copying `x` first cost W3 another 1.4 %.
pub fn sigmoid_into(x: &[f32], y: &mut [f32]) {
    assert_eq!(x.len(), y.len(), "sigmoid_into: input and output lengths differ");
    dispatch(Map { x: Some(x), y, f: sigmoid })
}

/// `y = tanh(x)` element by element, as [`sigmoid_into`].
pub fn tanh_into(x: &[f32], y: &mut [f32]) {
    assert_eq!(x.len(), y.len(), "tanh_into: input and output lengths differ");
    dispatch(Map { x: Some(x), y, f: tanh })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::{with_isa, Isa};

    /// Distance in units in the last place, counting across zero and subnormals.
    fn ulps(a: f32, b: f32) -> u32 {
        let key = |v: f32| {
            let i = v.to_bits() as i32;
            if i < 0 {
                i32::MIN.wrapping_sub(i)
            } else {
                i
            }
        };
        key(a).wrapping_sub(key(b)).unsigned_abs()
    }

    /// Inputs from -120 to 120, dense near 0, plus the edges.
    fn inputs() -> Vec<f32> {
        let mut xs: Vec<f32> = (-120_000..=120_000).map(|i| i as f32 * 1e-3).collect();
        xs.extend((-2000..=2000).map(|i| i as f32 * 1.37e-7));
        xs.extend([0.0, -0.0, 1e-30, -1e-30, 1e-8, -1e-8, 88.7, 89.5, -87.4, -103.9, -104.5, 1e4, -1e4]);
        xs
    }

    /// `f` on every instruction set this CPU has, against `exact`.
    fn check(name: &str, f: fn(&mut [f32]), exact: fn(f64) -> f64) {
        let xs = inputs();
        let mut checked = 0;
        for &isa in Isa::ALL.iter().filter(|i| i.available()) {
            let mut ys = xs.clone();
            with_isa(isa, || f(&mut ys));
            for (x, y) in xs.iter().zip(&ys) {
                let want = exact(f64::from(*x)) as f32;
                assert!(ulps(*y, want) <= 2, "{isa:?} {name}({x}) = {y}, exact {want} ({} ulp)", ulps(*y, want));
            }
            let mut nan = [f32::NAN];
            with_isa(isa, || f(&mut nan));
            assert!(nan[0].is_nan(), "{isa:?} {name}(NaN) = {}", nan[0]);
            checked += 1;
        }
        assert!(checked >= 1 && Isa::Portable.available());
    }

    fn exact_sigmoid(x: f64) -> f64 {
        1.0 / (1.0 + (-x).exp())
    }

    #[test]
    fn exp_in_place_is_within_two_ulp_on_every_instruction_set() {
        check("exp", exp_in_place, f64::exp);
    }

    #[test]
    fn sigmoid_is_within_two_ulp_on_every_instruction_set() {
        check("sigmoid", sigmoid_in_place, exact_sigmoid);
    }

    #[test]
    fn tanh_is_within_two_ulp_on_every_instruction_set() {
        check("tanh", tanh_in_place, f64::tanh);
    }

    #[test]
    fn sigmoid_and_tanh_into_equal_their_in_place_maps() {
        let xs = inputs();
        for &isa in Isa::ALL.iter().filter(|i| i.available()) {
            for (into, in_place) in [
                (sigmoid_into as fn(&[f32], &mut [f32]), sigmoid_in_place as fn(&mut [f32])),
                (tanh_into, tanh_in_place),
            ] {
                let (mut y, mut z) = (vec![0.0; xs.len()], xs.clone());
                with_isa(isa, || {
                    into(&xs, &mut y);
                    in_place(&mut z);
                });
                assert!(y.iter().zip(&z).all(|(a, b)| a.to_bits() == b.to_bits()), "{isa:?}");
            }
        }
    }

    #[test]
    fn exp_is_within_two_ulp_from_underflow_to_overflow_fused_or_not() {
        for fused in [false, true] {
            for i in -110_000..=90_000 {
                let x = i as f32 * 1e-3;
                let want = f64::from(x).exp() as f32;
                let got = exp(x, fused);
                assert!(ulps(got, want) <= 2, "exp({x}) = {got}, exact {want}, fused {fused}");
            }
            assert_eq!(exp(-1e4, fused), 0.0);
            assert_eq!(exp(1e4, fused), f32::INFINITY);
        }
    }
}
