//! Parallel branches on the same input, outputs stacked:
//! `y = [b0(x); b1(x); ...]` (an Inception module over images).

use super::{add_assign, put_rows, take_rows};
use crate::layer::{empty, ensure_cols, visit_in, visit_mut_in, visit_parts, Io};
use crate::{
    batch::Batch,
    kernels::Float,
    layer::{Layer, Visit, VisitMut},
};

/// One branch of a [`Parallel`], carrying its output width `O`.
#[derive(Clone, Debug)]
pub struct Branch<B, const O: usize>(pub B);

/// A tuple of 1 to 8 [`Branch`]es on `N` input features. Implemented for tuples
/// only; the methods are the plumbing of [`Parallel`].
pub trait Branches<T: Float, const N: usize> {
    /// The sum of the branches' output widths.
    const WIDTH: usize;
    /// One gradient buffer per branch, kept by [`Parallel`] across steps.
    type Grads;

    /// Empty gradient buffers.
    fn grads() -> Self::Grads;
    /// Writes the branches' outputs one below the other into the column-major
    /// `y` of `WIDTH` rows.
    fn forward(&mut self, x: &Batch<T, N>, y: &mut [T]);
    /// Splits the column-major `g` (`WIDTH` rows, `n` samples) between the
    /// branches and adds their input gradients to `dx`.
    fn backward(&mut self, g: &[T], n: usize, grads: &mut Self::Grads, dx: &mut [T]);
    /// The evaluation twin of [`Branches::forward`].
    fn predict(&self, x: &Batch<T, N>, y: &mut [T]);
    /// Visits branch `i` under the segment `"i"`.
    fn visit(&self, v: &mut dyn Visit<T>);
    /// The mutable twin of [`Branches::visit`].
    fn visit_mut(&mut self, v: &mut dyn VisitMut<T>);
    /// [`Layer::freeze_randomness`] on every branch.
    fn freeze_randomness(&mut self, frozen: bool);
}

macro_rules! impl_branches {
    ($(($idx:tt, $b:ident, $o:ident)),+) => {
        impl<T: Float, const N: usize, $($b: Layer<T, N, $o>, const $o: usize),+> Branches<T, N>
            for ($(Branch<$b, $o>,)+)
        {
            const WIDTH: usize = 0 $(+ $o)+;
            type Grads = ($(Batch<T, $o>,)+);

            fn grads() -> Self::Grads {
                ($(empty::<T, $o>(),)+)
            }

            fn forward(&mut self, x: &Batch<T, N>, y: &mut [T]) {
                let mut offset = 0;
                $(
                    put_rows(y, Self::WIDTH, offset, self.$idx.0.forward(x).as_slice(), $o);
                    offset += $o;
                )+
                let _ = offset;
            }

            fn backward(&mut self, g: &[T], n: usize, grads: &mut Self::Grads, dx: &mut [T]) {
                let mut offset = 0;
                $(
                    ensure_cols(&mut grads.$idx, n);
                    take_rows(g, Self::WIDTH, offset, grads.$idx.as_mut_slice(), $o);
                    add_assign(dx, self.$idx.0.backward(&grads.$idx).as_slice());
                    offset += $o;
                )+
                let _ = offset;
            }

            fn predict(&self, x: &Batch<T, N>, y: &mut [T]) {
                let mut offset = 0;
                $(
                    put_rows(y, Self::WIDTH, offset, self.$idx.0.predict(x).as_slice(), $o);
                    offset += $o;
                )+
                let _ = offset;
            }

            fn visit(&self, v: &mut dyn Visit<T>) {
                $(visit_in(v, stringify!($idx), |v| self.$idx.0.visit(v));)+
            }

            fn visit_mut(&mut self, v: &mut dyn VisitMut<T>) {
                $(visit_mut_in(v, stringify!($idx), |v| self.$idx.0.visit_mut(v));)+
            }

            fn freeze_randomness(&mut self, frozen: bool) {
                $(self.$idx.0.freeze_randomness(frozen);)+
            }
        }
    };
}

impl_branches!((0, B0, O0));
impl_branches!((0, B0, O0), (1, B1, O1));
impl_branches!((0, B0, O0), (1, B1, O1), (2, B2, O2));
impl_branches!((0, B0, O0), (1, B1, O1), (2, B2, O2), (3, B3, O3));
impl_branches!((0, B0, O0), (1, B1, O1), (2, B2, O2), (3, B3, O3), (4, B4, O4));
impl_branches!((0, B0, O0), (1, B1, O1), (2, B2, O2), (3, B3, O3), (4, B4, O4), (5, B5, O5));
impl_branches!((0, B0, O0), (1, B1, O1), (2, B2, O2), (3, B3, O3), (4, B4, O4), (5, B5, O5), (6, B6, O6));
impl_branches!((0, B0, O0), (1, B1, O1), (2, B2, O2), (3, B3, O3), (4, B4, O4), (5, B5, O5), (6, B6, O6), (7, B7, O7));

/// `parallel { branch { .. }, ... }`: `N -> O`, `O` the sum of the branch widths;
/// `dL/dx` is the sum of the branches' input gradients.
///
/// ```
/// use nn_runtime::{seeded_rng, Activation, Batch, Branch, Dense, Init, Layer, Parallel, Relu};
///
/// let mut rng = seeded_rng(0);
/// let mut block: Parallel<f64, _, 4, 5> = Parallel::new((
///     Branch::<_, 3>(Dense::<f64, 4, 3>::new(&mut rng, Init::HeNormal, true)),
///     Branch::<_, 2>(Dense::<f64, 4, 2>::new(&mut rng, Init::HeNormal, true)),
/// ));
/// assert_eq!(block.forward(&Batch::<f64, 4>::zeros(7)).shape(), (5, 7));
/// ```
///
/// `O` must be the sum of the widths, checked when the code is compiled:
///
/// ```compile_fail,E0080
/// use nn_runtime::{seeded_rng, Branch, Dense, Init, Parallel};
///
/// let dense = Dense::<f64, 4, 3>::new(&mut seeded_rng(0), Init::HeNormal, true);
/// let block: Parallel<f64, _, 4, 5> = Parallel::new((Branch::<_, 3>(dense),));
/// ```
pub struct Parallel<T: Float, Bs: Branches<T, N>, const N: usize, const O: usize> {
    branches: Bs,
    grads: Bs::Grads,
    io: Io<T, N, O>,
}

impl<T: Float, Bs: Branches<T, N>, const N: usize, const O: usize> Parallel<T, Bs, N, O> {
    /// The outputs of `branches`, stacked in order.
    pub fn new(branches: Bs) -> Self {
        const { assert!(O == Bs::WIDTH, "parallel: output width must be the sum of the branch widths") };
        Self { branches, grads: Bs::grads(), io: Io::default() }
    }
    /// The branches.
    pub fn branches(&self) -> &Bs {
        &self.branches
    }
}

impl<T: Float, Bs: Branches<T, N> + Clone, const N: usize, const O: usize> Clone for Parallel<T, Bs, N, O>
where
    Bs::Grads: Clone,
{
    fn clone(&self) -> Self {
        Self { branches: self.branches.clone(), grads: self.grads.clone(), io: self.io.clone() }
    }
}

impl<T: Float, Bs: Branches<T, N>, const N: usize, const O: usize> std::fmt::Debug for Parallel<T, Bs, N, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parallel").field("input", &N).field("output", &O).finish_non_exhaustive()
    }
}

impl<T: Float, Bs: Branches<T, N>, const N: usize, const O: usize> Layer<T, N, O> for Parallel<T, Bs, N, O> {
    fn forward(&mut self, x: &Batch<T, N>) -> &Batch<T, O> {
        let branches = &mut self.branches;
        self.io.write_output(x.ncols(), |y| branches.forward(x, y))
    }

    fn backward(&mut self, g: &Batch<T, O>) -> &Batch<T, N> {
        let (branches, grads) = (&mut self.branches, &mut self.grads);
        self.io.write_input_grad(g.ncols(), |dx| {
            dx.fill(T::zero());
            branches.backward(g.as_slice(), g.ncols(), grads, dx);
        })
    }

    fn predict(&self, x: &Batch<T, N>) -> Batch<T, O> {
        let mut y = Batch::zeros(x.ncols());
        self.branches.predict(x, y.as_mut_slice());
        y
    }

    fn io(&self) -> Option<&Io<T, N, O>> {
        Some(&self.io)
    }

    visit_parts!(layers: branches);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocks::test_bodies::dense_tanh;
    use crate::layers::{Activation, Relu};
    use crate::testing::{grad_check, LayerModel};

    #[test]
    fn gradients_match_finite_differences() {
        let block: Parallel<f64, _, 3, 7> = Parallel::new((
            Branch::<_, 2>(dense_tanh::<3, 2>(1)),
            Branch::<_, 4>(dense_tanh::<3, 4>(2)),
            Branch::<_, 1>(dense_tanh::<3, 1>(3)),
        ));
        let report = grad_check(&mut LayerModel::new(block), 3, 4);
        report.assert_below(1e-6);
        assert_eq!(report.tensors, ["0.0.weight", "0.0.bias", "1.0.weight", "1.0.bias", "2.0.weight", "2.0.bias"]);
    }

    #[test]
    fn one_branch_and_eight_branches_stack_outputs_in_order() {
        let x = Batch::<f64, 2>::from_column_slice(&[1.0, -2.0, 3.0, -0.5]);
        let mut one: Parallel<f64, _, 2, 2> = Parallel::new((Branch::<_, 2>(Activation::<f64, Relu, 2>::default()),));
        assert_eq!(one.forward(&x).as_slice(), &[1.0, 0.0, 3.0, 0.0]);
        let r = || Branch::<_, 2>(Activation::<f64, Relu, 2>::default());
        let mut eight: Parallel<f64, _, 2, 17> =
            Parallel::new((r(), r(), r(), r(), r(), r(), r(), Branch::<_, 3>(dense_tanh::<2, 3>(5))));
        let y = eight.forward(&x).clone();
        let h = dense_tanh::<2, 3>(5).forward(&x).clone();
        for j in 0..2 {
            for b in 0..7 {
                assert_eq!(y.fixed_view::<2, 1>(2 * b, j), one.predict(&x).column(j));
            }
            assert_eq!(y.fixed_view::<3, 1>(14, j), h.column(j));
        }
        assert_eq!(eight.predict(&x), y);
        assert_eq!(eight.clone().forward(&x), &y, "a clone computes the same");
        // dL/dx is the sum over the eight branches.
        let g = Batch::<f64, 17>::from_element(2, 1.0);
        let dx = eight.backward(&g).clone();
        let mut d3 = dense_tanh::<2, 3>(5);
        d3.forward(&x);
        let expected = d3.backward(&Batch::<f64, 3>::from_element(2, 1.0)) + x.map(|v| if v > 0.0 { 7.0 } else { 0.0 });
        assert!((dx - expected).abs().max() < 1e-12);
    }
}
