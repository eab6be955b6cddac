//! Element-wise activations: each is an `(f, df)` pair, side by side.
//!
//! `DF_USES_Y` says whether the derivative is computed from the output
//! (sigmoid, tanh, relu) or needs the input (the rest): only the latter pay
//! for caching a copy of the input.

use std::fmt::Debug;

use crate::kernels::{dispatch, Kernel, Level};
use crate::layer::{copy_batch, empty, Io};
use crate::{batch::Batch, kernels::Float, layer::Layer};

/// An element-wise function and its derivative.
pub trait ActivationFn: Copy + Debug + Send + Sync + 'static {
    /// `true` if `df` needs only the output `y`; `false` if it reads the input `x`.
    const DF_USES_Y: bool;
    /// y = f(x)
    fn f<T: Float>(&self, x: T) -> T;
    /// dy/dx, given both x and y = f(x) (only the one named by `DF_USES_Y` is valid).
    fn df<T: Float>(&self, x: T, y: T) -> T;
    /// `y = f(x)` element by element; functions with a vectorized kernel override it.
    fn f_slice<T: Float>(&self, x: &[T], y: &mut [T]) {
        dispatch(Forward { func: self, x, y })
    }
}

/// An activation layer on `N` features.
#[derive(Clone, Debug)]
pub struct Activation<T: Float, F: ActivationFn, const N: usize> {
    func: F,
    x: Batch<T, N>,
    io: Io<T, N, N>,
}

impl<T: Float, F: ActivationFn, const N: usize> Activation<T, F, N> {
    /// A layer applying `func` to every feature.
    pub fn new(func: F) -> Self {
        Self { func, x: empty(), io: Io::default() }
    }
    /// The function this layer applies.
    pub fn func(&self) -> &F {
        &self.func
    }
}

impl<T: Float, F: ActivationFn + Default, const N: usize> Default for Activation<T, F, N> {
    fn default() -> Self {
        Self::new(F::default())
    }
}

/// The arguments of [`ActivationFn::f_slice`]'s loop, as a kernel: through
/// [`dispatch`] for the reason [`apply_backward`] gives (a W1 step with AVX2
/// spent 1 % in its ReLU's forward loop).
struct Forward<'a, T, F> {
    func: &'a F,
    x: &'a [T],
    y: &'a mut [T],
}

impl<T: Float, F: ActivationFn> Kernel for Forward<'_, T, F> {
    type Output = ();
    #[inline(always)]
    fn run<L: Level>(self, _: L) {
        for (y, x) in self.y.iter_mut().zip(self.x) {
            *y = self.func.f(*x);
        }
    }
}

/// The backward loop, generic over the scalar and the function only, run
/// through [`dispatch`] so that it is compiled for the CPU's widest vectors
/// rather than the baseline's four lanes (a W3 step with AVX2 spent 3 % of
/// its time in this loop; through `dispatch` the step is about 1 % faster).
fn apply_backward<T: Float, F: ActivationFn>(func: &F, x: &[T], y: &[T], g: &[T], dx: &mut [T]) {
    dispatch(Backward { func, x, y, g, dx })
}

/// The arguments of [`apply_backward`], as a kernel.
struct Backward<'a, T, F> {
    func: &'a F,
    x: &'a [T],
    y: &'a [T],
    g: &'a [T],
    dx: &'a mut [T],
}

impl<T: Float, F: ActivationFn> Kernel for Backward<'_, T, F> {
    type Output = ();
    #[inline(always)]
    fn run<L: Level>(self, _: L) {
        let Self { func, x, y, g, dx } = self;
        if F::DF_USES_Y {
            for ((d, y), g) in dx.iter_mut().zip(y).zip(g) {
                *d = *g * func.df(T::zero(), *y);
            }
        } else {
            for (((d, x), y), g) in dx.iter_mut().zip(x).zip(y).zip(g) {
                *d = *g * func.df(*x, *y);
            }
        }
    }
}

impl<T: Float, F: ActivationFn, const N: usize> Layer<T, N, N> for Activation<T, F, N> {
    fn forward(&mut self, x: &Batch<T, N>) -> &Batch<T, N> {
        if !F::DF_USES_Y {
            copy_batch(&mut self.x, x);
        }
        let func = &self.func;
        self.io.write_output(x.ncols(), |y| func.f_slice(x.as_slice(), y))
    }

    fn backward(&mut self, g: &Batch<T, N>) -> &Batch<T, N> {
        let (func, x) = (&self.func, self.x.as_slice());
        self.io.write_input_grad_from_output(g.ncols(), |y, dx| apply_backward(func, x, y, g.as_slice(), dx))
    }

    fn io(&self) -> Option<&Io<T, N, N>> {
        Some(&self.io)
    }

    fn predict(&self, x: &Batch<T, N>) -> Batch<T, N> {
        let mut y = x.clone();
        self.func.f_slice(x.as_slice(), y.as_mut_slice());
        y
    }
}

/// `identity`: y = x.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Identity;
impl ActivationFn for Identity {
    const DF_USES_Y: bool = true;
    fn f<T: Float>(&self, x: T) -> T {
        x
    }
    fn df<T: Float>(&self, _x: T, _y: T) -> T {
        T::one()
    }
}

/// `sigmoid`: y = 1 / (1 + e^-x), computed without overflow for large |x|.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Sigmoid;
impl ActivationFn for Sigmoid {
    const DF_USES_Y: bool = true;
    fn f<T: Float>(&self, x: T) -> T {
        sigmoid(x)
    }
    fn df<T: Float>(&self, _x: T, y: T) -> T {
        y * (T::one() - y)
    }
    fn f_slice<T: Float>(&self, x: &[T], y: &mut [T]) {
        T::sigmoid_into(x, y);
    }
}

/// The logistic function, for one value (defined beside [`Float`], where
/// the losses and the kernels find it too).
pub use crate::kernels::sigmoid;

/// `tanh`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Tanh;
impl ActivationFn for Tanh {
    const DF_USES_Y: bool = true;
    fn f<T: Float>(&self, x: T) -> T {
        x.tanh()
    }
    fn df<T: Float>(&self, _x: T, y: T) -> T {
        T::one() - y * y
    }
    fn f_slice<T: Float>(&self, x: &[T], y: &mut [T]) {
        T::tanh_into(x, y);
    }
}

/// `relu`: max(0, x). NaN propagates (as PyTorch); the derivative at 0 is 0.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Relu;
impl ActivationFn for Relu {
    const DF_USES_Y: bool = true;
    fn f<T: Float>(&self, x: T) -> T {
        if x < T::zero() {
            T::zero()
        } else {
            x
        }
    }
    fn df<T: Float>(&self, _x: T, y: T) -> T {
        if y > T::zero() {
            T::one()
        } else {
            T::zero()
        }
    }
}

/// `leaky_relu(slope = 0.01)`: x for x > 0, `slope * x` otherwise.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LeakyRelu {
    /// The slope for x <= 0.
    pub slope: f64,
}
impl Default for LeakyRelu {
    fn default() -> Self {
        Self { slope: 0.01 }
    }
}
impl ActivationFn for LeakyRelu {
    // Reads x: with a negative slope the sign of y no longer tells the branch.
    const DF_USES_Y: bool = false;
    fn f<T: Float>(&self, x: T) -> T {
        if x > T::zero() {
            x
        } else {
            x * T::of(self.slope)
        }
    }
    fn df<T: Float>(&self, x: T, _y: T) -> T {
        if x > T::zero() {
            T::one()
        } else {
            T::of(self.slope)
        }
    }
}

/// `elu(alpha = 1.0)`: x for x > 0, `alpha * (e^x - 1)` otherwise.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Elu {
    /// The value approached as x goes to minus infinity is `-alpha`.
    pub alpha: f64,
}
impl Default for Elu {
    fn default() -> Self {
        Self { alpha: 1.0 }
    }
}
impl ActivationFn for Elu {
    const DF_USES_Y: bool = false;
    fn f<T: Float>(&self, x: T) -> T {
        elu(x, T::of(self.alpha))
    }
    fn df<T: Float>(&self, x: T, _y: T) -> T {
        elu_df(x, T::of(self.alpha))
    }
}

/// `expm1` keeps the relative precision of e^x - 1 for tiny |x|.
#[inline]
fn elu<T: Float>(x: T, alpha: T) -> T {
    if x > T::zero() {
        x
    } else {
        alpha * x.exp_m1()
    }
}

#[inline]
fn elu_df<T: Float>(x: T, alpha: T) -> T {
    if x > T::zero() {
        T::one()
    } else {
        alpha * x.exp()
    }
}

/// SELU's constants (Klambauer et al. 2017), as `torch.nn.SELU`.
const SELU_ALPHA: f64 = 1.673_263_242_354_377_3;
const SELU_SCALE: f64 = 1.050_700_987_355_480_5;

/// `selu`: `scale * elu(x, alpha)` with the self-normalizing constants.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Selu;
impl ActivationFn for Selu {
    const DF_USES_Y: bool = false;
    fn f<T: Float>(&self, x: T) -> T {
        T::of(SELU_SCALE) * elu(x, T::of(SELU_ALPHA))
    }
    fn df<T: Float>(&self, x: T, _y: T) -> T {
        T::of(SELU_SCALE) * elu_df(x, T::of(SELU_ALPHA))
    }
}

/// `gelu`, exact form (PyTorch's default): `x * Phi(x)`, `Phi` the standard
/// normal CDF.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Gelu;
impl ActivationFn for Gelu {
    const DF_USES_Y: bool = false;
    fn f<T: Float>(&self, x: T) -> T {
        x * normal_cdf(x)
    }
    // d/dx x Phi(x) = Phi(x) + x phi(x)
    fn df<T: Float>(&self, x: T, _y: T) -> T {
        let xf = x.as_f64();
        let pdf = (-0.5 * xf * xf).exp() / (2.0 * std::f64::consts::PI).sqrt();
        normal_cdf(x) + T::of(xf * pdf)
    }
}

/// `Phi(x) = erfc(-x / sqrt 2) / 2`: the erfc form equals PyTorch's
/// `(1 + erf(x / sqrt 2)) / 2` but keeps precision in the far left tail.
/// Computed in f64 (libm), which is exact enough for f32 too.
#[inline]
fn normal_cdf<T: Float>(x: T) -> T {
    T::of(0.5 * libm::erfc(-x.as_f64() * std::f64::consts::FRAC_1_SQRT_2))
}

/// `swish` (= `silu`): `x * sigmoid(x)`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Swish;
/// `silu` is another name for [`Swish`].
pub type Silu = Swish;
impl ActivationFn for Swish {
    const DF_USES_Y: bool = false;
    fn f<T: Float>(&self, x: T) -> T {
        x * sigmoid(x)
    }
    // s + x s (1 - s)
    fn df<T: Float>(&self, x: T, _y: T) -> T {
        let s = sigmoid(x);
        s + x * s * (T::one() - s)
    }
}

/// `mish` (Misra 2019): `x * tanh(softplus(x))`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Mish;
impl ActivationFn for Mish {
    const DF_USES_Y: bool = false;
    fn f<T: Float>(&self, x: T) -> T {
        x * softplus(x).tanh()
    }
    // tanh(sp) + x (1 - tanh(sp)^2) sigmoid(x), since sp' = sigmoid
    fn df<T: Float>(&self, x: T, _y: T) -> T {
        let t = softplus(x).tanh();
        t + x * (T::one() - t * t) * sigmoid(x)
    }
}

/// `softplus`: `ln(1 + e^x)` (beta 1, threshold 20, as `torch.nn.Softplus`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Softplus;
impl ActivationFn for Softplus {
    const DF_USES_Y: bool = false;
    fn f<T: Float>(&self, x: T) -> T {
        softplus(x)
    }
    fn df<T: Float>(&self, x: T, _y: T) -> T {
        if x > T::of(SOFTPLUS_THRESHOLD) {
            T::one()
        } else {
            sigmoid(x)
        }
    }
}

/// `relu6`: `min(max(0, x), 6)`. The derivative is 1 strictly between the
/// kinks and 0 at them, as PyTorch.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Relu6;
impl ActivationFn for Relu6 {
    // 0 < y < 6 exactly where 0 < x < 6.
    const DF_USES_Y: bool = true;
    fn f<T: Float>(&self, x: T) -> T {
        if x < T::zero() {
            T::zero()
        } else if x > T::of(6.0) {
            T::of(6.0)
        } else {
            x
        }
    }
    fn df<T: Float>(&self, _x: T, y: T) -> T {
        if y > T::zero() && y < T::of(6.0) {
            T::one()
        } else {
            T::zero()
        }
    }
}

/// `hardsigmoid`: `relu6(x + 3) / 6`, slope 1/6 strictly between -3 and 3.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Hardsigmoid;
impl ActivationFn for Hardsigmoid {
    // 0 < y < 1 exactly where -3 < x < 3.
    const DF_USES_Y: bool = true;
    fn f<T: Float>(&self, x: T) -> T {
        Relu6.f(x + T::of(3.0)) / T::of(6.0)
    }
    fn df<T: Float>(&self, _x: T, y: T) -> T {
        if y > T::zero() && y < T::one() {
            T::of(1.0 / 6.0)
        } else {
            T::zero()
        }
    }
}

/// `hardswish` (MobileNetV3): `x * relu6(x + 3) / 6`. The derivative is 0
/// up to -3, `x / 3 + 1/2` up to 3, then 1 (at the kinks as PyTorch).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Hardswish;
impl ActivationFn for Hardswish {
    const DF_USES_Y: bool = false;
    fn f<T: Float>(&self, x: T) -> T {
        x * Relu6.f(x + T::of(3.0)) / T::of(6.0)
    }
    fn df<T: Float>(&self, x: T, _y: T) -> T {
        if x <= T::of(-3.0) {
            T::zero()
        } else if x >= T::of(3.0) {
            T::one()
        } else {
            x / T::of(3.0) + T::of(0.5)
        }
    }
}

/// `softsign`: `x / (1 + |x|)`, with derivative `1 / (1 + |x|)^2`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Softsign;
impl ActivationFn for Softsign {
    // Reads x: from y it would be (1 - |y|)^2, which loses precision in the tails.
    const DF_USES_Y: bool = false;
    fn f<T: Float>(&self, x: T) -> T {
        x / (T::one() + x.abs())
    }
    fn df<T: Float>(&self, x: T, _y: T) -> T {
        let d = T::one() + x.abs();
        T::one() / (d * d)
    }
}

/// Above this, softplus is the identity (as PyTorch): e^x would overflow at
/// x ~ 710, and ln(1 + e^x) - x < 2e-9 already.
const SOFTPLUS_THRESHOLD: f64 = 20.0;

/// `ln(1 + e^x)` without overflow; NaN propagates.
#[inline]
pub fn softplus<T: Float>(x: T) -> T {
    if x > T::of(SOFTPLUS_THRESHOLD) {
        x
    } else {
        x.exp().ln_1p()
    }
}

#[cfg(test)]
mod tests {
    use nalgebra::DMatrix;

    use super::*;
    use crate::testing::{grad_check_at, LayerModel};

    /// Calls `$check!(name, value)` for every activation.
    macro_rules! every_activation {
        ($check:ident) => {
            $check!("identity", Identity);
            $check!("sigmoid", Sigmoid);
            $check!("tanh", Tanh);
            $check!("relu", Relu);
            $check!("leaky_relu", LeakyRelu::default());
            $check!("elu", Elu::default());
            $check!("selu", Selu);
            $check!("gelu", Gelu);
            $check!("swish", Swish);
            $check!("mish", Mish);
            $check!("softplus", Softplus);
            $check!("relu6", Relu6);
            $check!("hardsigmoid", Hardsigmoid);
            $check!("hardswish", Hardswish);
            $check!("softsign", Softsign);
        };
    }

    fn f_df<T: Float, F: ActivationFn>(func: F, x: T) -> (T, T) {
        let y = func.f(x);
        (y, func.df(x, y))
    }

    /// f and f' in f64 by name.
    fn eval(name: &str, x: f64) -> (f64, f64) {
        macro_rules! pick {
            ($n:literal, $f:expr) => {
                if name == $n {
                    return f_df($f, x);
                }
            };
        }
        every_activation!(pick);
        panic!("unknown activation {name}");
    }

    /// Relative error, with an absolute floor far below any value in the table
    /// (PyTorch's erf form of gelu rounds `x Phi(x)` at x = -20 to -0; ours gives -5e-88).
    fn close(a: f64, b: f64) -> bool {
        a == b || (a - b).abs() <= 1e-12 * b.abs().max(1e-70)
    }

    #[test]
    fn values_and_derivatives_match_pytorch() {
        let table = include_str!("../../tests/data/activations.txt");
        let mut names = std::collections::BTreeSet::new();
        for line in table.lines() {
            let v: Vec<&str> = line.split_whitespace().collect();
            let (x, y, dy): (f64, f64, f64) = (v[1].parse().unwrap(), v[2].parse().unwrap(), v[3].parse().unwrap());
            let (fy, fdy) = eval(v[0], x);
            assert!(close(fy, y), "{}({x}) = {fy:e}, PyTorch {y:e}", v[0]);
            assert!(close(fdy, dy), "{}'({x}) = {fdy:e}, PyTorch {dy:e}", v[0]);
            names.insert(v[0]);
        }
        assert_eq!(names.len(), 15, "the table covers every activation");
    }

    #[test]
    fn gradients_match_finite_differences_away_from_kinks() {
        // |x| >= 0.15 keeps every kink at 0 further than the step away.
        let x = DMatrix::<f64>::from_fn(4, 3, |i, j| {
            let v = (i as f64 - 1.5) * 0.9 + (j as f64 - 1.0) * 0.35;
            if v.abs() < 0.15 {
                v + 0.3
            } else {
                v
            }
        });
        // Every piece of the piecewise functions, at least 0.3 from the kinks
        // at -3, 0, 3 and 6 (relu6, hardsigmoid, hardswish).
        let wide =
            DMatrix::<f64>::from_row_slice(4, 3, &[-6.5, -4.1, -3.4, -2.6, -1.7, -0.8, 0.45, 1.3, 2.4, 3.3, 4.7, 6.6]);
        macro_rules! check {
            ($n:literal, $f:expr) => {
                for x in [&x, &wide] {
                    let layer = Activation::<f64, _, 4>::new($f);
                    let report = grad_check_at(&mut LayerModel::new(layer), x, 1);
                    assert!(report.checked == 12, "{}: {} inputs checked", $n, report.checked);
                    report.assert_below(1e-6);
                }
            };
        }
        every_activation!(check);
    }

    #[test]
    fn extreme_inputs_stay_finite_in_f32_and_f64() {
        macro_rules! check {
            ($n:literal, $f:expr) => {
                for x in [-1e30f64, -1000.0, -88.0, -20.0, 20.0, 88.0, 1000.0, 1e30] {
                    let (y, dy) = f_df($f, x);
                    assert!(y.is_finite() && dy.is_finite(), "{}({x}) = {y}, f' = {dy}", $n);
                    let (y, dy) = f_df($f, x as f32);
                    if (x as f32).is_finite() {
                        assert!(y.is_finite() && dy.is_finite(), "f32 {}({x}) = {y}, f' = {dy}", $n);
                    }
                }
            };
        }
        every_activation!(check);
        assert_eq!(sigmoid(-1000.0f32), 0.0);
        assert_eq!(sigmoid(1000.0f32), 1.0);
        assert_eq!(softplus(1000.0f32), 1000.0);
        assert_eq!(softplus(-1000.0f32), 0.0);
    }

    #[test]
    fn nan_propagates_through_every_activation() {
        macro_rules! check {
            ($n:literal, $f:expr) => {
                let mut layer = Activation::<f32, _, 2>::new($f);
                let x = Batch::<f32, 2>::from_column_slice(&[f32::NAN, 1.0]);
                let y = layer.forward(&x).clone();
                assert!(y[0].is_nan(), "{} of NaN is {}", $n, y[0]);
                assert!(!y[1].is_nan());
                assert!(layer.predict(&x)[0].is_nan());
                layer.backward(&Batch::<f32, 2>::from_element(1, 1.0));
            };
        }
        every_activation!(check);
    }

    #[test]
    fn empty_batch_passes_through() {
        macro_rules! check {
            ($n:literal, $f:expr) => {
                let mut layer = Activation::<f64, _, 3>::new($f);
                assert_eq!(layer.forward(&Batch::<f64, 3>::zeros(0)).ncols(), 0);
                assert_eq!(layer.backward(&Batch::<f64, 3>::zeros(0)).ncols(), 0);
                assert_eq!(layer.predict(&Batch::<f64, 3>::zeros(0)).ncols(), 0);
            };
        }
        every_activation!(check);
    }
}
