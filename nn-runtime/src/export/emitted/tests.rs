//! The exported file's own elementary functions against the standard
//! library's, in ulps (units in the last place) of the `f32` result, over
//! their whole useful range, and its layer helpers against `nn`'s layers.

use super::*;

/// How many `f32` values lie between `a` and the correctly rounded `b`.
fn ulps(a: f32, b: f64) -> u32 {
    let b = b as f32;
    if a == b {
        return 0;
    }
    let key = |x: f32| {
        let i = x.to_bits() as i32;
        if i < 0 {
            i32::MIN - i
        } else {
            i
        }
    };
    key(a).abs_diff(key(b))
}

/// `n` points spread evenly over `[lo, hi]`.
fn grid(lo: f32, hi: f32, n: usize) -> impl Iterator<Item = f32> {
    (0..=n).map(move |i| lo + (hi - lo) * i as f32 / n as f32)
}

#[test]
fn exp_is_within_two_ulps() {
    for x in grid(-87.0, 88.0, 200_000) {
        assert!(ulps(exp(x), (x as f64).exp()) <= 2, "exp({x}) = {} vs {}", exp(x), (x as f64).exp());
    }
    assert_eq!((exp(0.0), exp(-100.0), exp(100.0)), (1.0, 0.0, f32::INFINITY));
    assert!(exp(f32::NAN).is_nan());
}

#[test]
fn ln_is_within_two_ulps() {
    for x in grid(-30.0, 30.0, 100_000).map(|e| e.exp()).chain(grid(0.5, 2.0, 100_000)).chain([1e-40, 3e38]) {
        assert!(ulps(ln(x), (x as f64).ln()) <= 2, "ln({x}) = {} vs {}", ln(x), (x as f64).ln());
    }
    assert_eq!((ln(1.0), ln(0.0), ln(f32::INFINITY)), (0.0, f32::NEG_INFINITY, f32::INFINITY));
    assert!(ln(-1.0).is_nan() && ln(f32::NAN).is_nan());
}

#[test]
fn sqrt_is_within_one_ulp() {
    for x in grid(-30.0, 30.0, 100_000).map(|e| e.exp()) {
        assert!(ulps(sqrt(x), (x as f64).sqrt()) <= 1, "sqrt({x})");
    }
    assert_eq!((sqrt(0.0), sqrt(4.0), sqrt(f32::INFINITY)), (0.0, 2.0, f32::INFINITY));
    assert!(sqrt(-1.0).is_nan() && sqrt(f32::NAN).is_nan());
}

#[test]
fn tanh_and_sigmoid_are_within_a_few_ulps() {
    for x in grid(-20.0, 20.0, 200_000) {
        let xf = x as f64;
        assert!(ulps(tanh(x), xf.tanh()) <= 3, "tanh({x}) = {} vs {}", tanh(x), xf.tanh());
        let s = 1.0 / (1.0 + (-xf).exp());
        assert!(ulps(sigmoid(x), s) <= 3, "sigmoid({x}) = {} vs {s}", sigmoid(x));
    }
    assert_eq!((tanh(0.0), tanh(30.0), tanh(-30.0)), (0.0, 1.0, -1.0));
    assert!(tanh(f32::NAN).is_nan() && sigmoid(f32::NAN).is_nan());
}

#[test]
fn erfc_and_softplus_match_libm() {
    // gelu(x) reads erfc(-x / sqrt 2): beyond |x| = 8.5, gelu is 0 or x in f32 anyway.
    for x in grid(-6.0, 6.0, 100_000) {
        let want = libm::erfc(x as f64);
        // Numerical Recipes' bound, 1.2e-7 relative, plus a few f32 roundings.
        assert!(((erfc(x) as f64 - want) / want).abs() < 4e-7, "erfc({x}) = {} vs {want}", erfc(x));
    }
    for x in grid(-80.0, 40.0, 100_000) {
        let xf = x as f64;
        let want = if xf > 20.0 { xf } else { xf.exp().ln_1p() };
        // ln(1 + e^x) loses e^x below the rounding of 1: absolute error of one ulp of 1.
        assert!((softplus_fn(x) as f64 - want).abs() <= 2.4e-7 * want.max(1.0), "softplus({x})");
    }
}

#[test]
fn windows_clip_padding_as_nn_does() {
    let w = Window { channels: 1, height: 5, width: 4, k: 3, stride: 2, padding: 1, out_height: 3, out_width: 2 };
    let nn = crate::layers::Window2d::new(1, 5, 4, 3, 2, 1);
    for o in 0..3 {
        assert_eq!(w.span(o, 5), nn.rows_of(o), "rows of {o}");
    }
    for o in 0..2 {
        assert_eq!(w.span(o, 4), nn.cols_of(o), "columns of {o}");
    }
}
