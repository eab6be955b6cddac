//! Element-wise activations: each is an `(f, df)` pair, side by side.
//!
//! `DF_USES_Y` says whether the derivative is computed from the output
//! (sigmoid, tanh, relu) or needs the input (the rest): only the latter pay
//! for caching a copy of the input.

use std::fmt::Debug;

use crate::layer::{copy_batch, empty, ensure_cols};
use crate::{Batch, Float, Layer};

/// An element-wise function and its derivative.
pub trait ActivationFn: Copy + Debug + Send + Sync + 'static {
    /// The `network!` spelling.
    const NAME: &'static str;
    /// `true` if `df` needs only the output `y`; `false` if it reads the input `x`.
    const DF_USES_Y: bool;
    /// y = f(x)
    fn f<T: Float>(&self, x: T) -> T;
    /// dy/dx, given both x and y = f(x) (only the one named by `DF_USES_Y` is valid).
    fn df<T: Float>(&self, x: T, y: T) -> T;
}

/// An activation layer on `N` features.
#[derive(Clone, Debug)]
pub struct Activation<T: Float, F: ActivationFn, const N: usize> {
    func: F,
    x: Batch<T, N>,
    y: Batch<T, N>,
    dx: Batch<T, N>,
}

impl<T: Float, F: ActivationFn, const N: usize> Activation<T, F, N> {
    pub fn new(func: F) -> Self {
        Self { func, x: empty(), y: empty(), dx: empty() }
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

/// The element-wise loops, generic over the scalar and the function only.
fn apply<T: Float, F: ActivationFn>(func: &F, x: &[T], y: &mut [T]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y = func.f(*x);
    }
}

fn apply_backward<T: Float, F: ActivationFn>(func: &F, x: &[T], y: &[T], g: &[T], dx: &mut [T]) {
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

impl<T: Float, F: ActivationFn, const N: usize> Layer<T, N, N> for Activation<T, F, N> {
    fn forward(&mut self, x: &Batch<T, N>) -> &Batch<T, N> {
        if !F::DF_USES_Y {
            copy_batch(&mut self.x, x);
        }
        ensure_cols(&mut self.y, x.ncols());
        apply(&self.func, x.as_slice(), self.y.as_mut_slice());
        &self.y
    }

    fn backward(&mut self, g: &Batch<T, N>) -> &Batch<T, N> {
        ensure_cols(&mut self.dx, g.ncols());
        apply_backward(&self.func, self.x.as_slice(), self.y.as_slice(), g.as_slice(), self.dx.as_mut_slice());
        &self.dx
    }

    fn output(&self) -> Option<&Batch<T, N>> {
        Some(&self.y)
    }

    fn input_grad(&self) -> Option<&Batch<T, N>> {
        Some(&self.dx)
    }

    fn predict(&self, x: &Batch<T, N>) -> Batch<T, N> {
        let mut y = x.clone();
        apply(&self.func, x.as_slice(), y.as_mut_slice());
        y
    }
}

/// `identity`: y = x.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Identity;
impl ActivationFn for Identity {
    const NAME: &'static str = "identity";
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
    const NAME: &'static str = "sigmoid";
    const DF_USES_Y: bool = true;
    fn f<T: Float>(&self, x: T) -> T {
        sigmoid(x)
    }
    fn df<T: Float>(&self, _x: T, y: T) -> T {
        y * (T::one() - y)
    }
}

/// The logistic function; e^x is only taken of a non-positive number, so it never overflows.
#[inline]
pub fn sigmoid<T: Float>(x: T) -> T {
    if x >= T::zero() {
        T::one() / (T::one() + (-x).exp())
    } else {
        let e = x.exp();
        e / (T::one() + e)
    }
}

/// `tanh`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Tanh;
impl ActivationFn for Tanh {
    const NAME: &'static str = "tanh";
    const DF_USES_Y: bool = true;
    fn f<T: Float>(&self, x: T) -> T {
        x.tanh()
    }
    fn df<T: Float>(&self, _x: T, y: T) -> T {
        T::one() - y * y
    }
}

/// `relu`: max(0, x). NaN propagates (as PyTorch); the derivative at 0 is 0.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Relu;
impl ActivationFn for Relu {
    const NAME: &'static str = "relu";
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
