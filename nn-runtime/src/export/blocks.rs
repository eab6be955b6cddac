//! What each block computes in evaluation mode: its body as a list of its
//! own, named as the block visits it (`projection`, `gate`, branch and copy
//! numbers). An auxiliary head is the identity then, and exports nothing.

use super::graph::Op;
use super::layers::affine;
use super::{Export, ExportError, Graph};
use crate::blocks::{AuxHead, Branch, Chain, Concat, Highway, Parallel, Repeat, Residual, ResidualProjection};
use crate::{blocks::Branches, kernels::Float, layer::Layer};

impl<T, A, B, const I: usize, const M: usize, const O: usize> Export<T> for Chain<T, A, B, I, M, O>
where
    T: Float,
    A: Layer<T, I, M> + Export<T>,
    B: Layer<T, M, O> + Export<T>,
{
    fn export(&self, g: &mut Graph) -> Result<(), ExportError> {
        g.within("0", |g| self.first().export(g))?;
        g.within("1", |g| self.second().export(g))
    }
}

impl<T: Float, B: Layer<T, N, N> + Export<T>, const N: usize> Export<T> for Residual<T, B, N> {
    fn export(&self, g: &mut Graph) -> Result<(), ExportError> {
        let body = g.nested(|g| self.body().export(g))?;
        g.push(Op::Residual { body, projection: None });
        Ok(())
    }
}

impl<T: Float, B: Layer<T, N, M> + Export<T>, const N: usize, const M: usize> Export<T>
    for ResidualProjection<T, B, N, M>
{
    fn export(&self, g: &mut Graph) -> Result<(), ExportError> {
        let body = g.nested(|g| self.body().export(g))?;
        let projection = g.within("projection", |g| affine(self.projection(), g.name()));
        g.push(Op::Residual { body, projection: Some(projection) });
        Ok(())
    }
}

impl<T: Float, B: Layer<T, N, N> + Export<T>, const N: usize> Export<T> for Highway<T, B, N> {
    fn export(&self, g: &mut Graph) -> Result<(), ExportError> {
        let body = g.nested(|g| self.body().export(g))?;
        let gate = g.within("gate", |g| affine(self.gate(), g.name()));
        g.push(Op::Highway { body, gate });
        Ok(())
    }
}

impl<T: Float, B: Layer<T, N, M> + Export<T>, const N: usize, const M: usize, const O: usize> Export<T>
    for Concat<T, B, N, M, O>
{
    fn export(&self, g: &mut Graph) -> Result<(), ExportError> {
        let body = g.nested(|g| self.body().export(g))?;
        g.push(Op::Concat { body });
        Ok(())
    }
}

impl<T: Float, Bs: Branches<T, N> + ExportBranches<T>, const N: usize, const O: usize> Export<T>
    for Parallel<T, Bs, N, O>
{
    fn export(&self, g: &mut Graph) -> Result<(), ExportError> {
        let branches = g.parallel(|g| self.branches().export_branches(g))?;
        g.push(Op::Parallel { branches });
        Ok(())
    }
}

/// The branches of a [`Parallel`] (tuples of [`Branch`]es), for the exporter.
pub trait ExportBranches<T: Float> {
    /// Exports each branch under its number, as a branch of `g`'s innermost `parallel`.
    fn export_branches(&self, g: &mut Graph) -> Result<(), ExportError>;
}

macro_rules! export_branches {
    ($(($idx:tt, $b:ident, $o:ident)),+) => {
        impl<T: Float, $($b: Export<T>, const $o: usize),+> ExportBranches<T> for ($(Branch<$b, $o>,)+) {
            fn export_branches(&self, g: &mut Graph) -> Result<(), ExportError> {
                $(g.branch(stringify!($idx), |g| self.$idx.0.export(g))?;)+
                Ok(())
            }
        }
    };
}

export_branches!((0, B0, O0));
export_branches!((0, B0, O0), (1, B1, O1));
export_branches!((0, B0, O0), (1, B1, O1), (2, B2, O2));
export_branches!((0, B0, O0), (1, B1, O1), (2, B2, O2), (3, B3, O3));
export_branches!((0, B0, O0), (1, B1, O1), (2, B2, O2), (3, B3, O3), (4, B4, O4));
export_branches!((0, B0, O0), (1, B1, O1), (2, B2, O2), (3, B3, O3), (4, B4, O4), (5, B5, O5));
export_branches!((0, B0, O0), (1, B1, O1), (2, B2, O2), (3, B3, O3), (4, B4, O4), (5, B5, O5), (6, B6, O6));
export_branches!(
    (0, B0, O0),
    (1, B1, O1),
    (2, B2, O2),
    (3, B3, O3),
    (4, B4, O4),
    (5, B5, O5),
    (6, B6, O6),
    (7, B7, O7)
);

/// The copies one after the other, each under its number.
impl<T: Float, B: Layer<T, N, N> + Export<T>, const N: usize, const K: usize> Export<T> for Repeat<T, B, N, K> {
    fn export(&self, g: &mut Graph) -> Result<(), ExportError> {
        for (c, copy) in self.copies().iter().enumerate() {
            g.within(&c.to_string(), |g| copy.export(g))?;
        }
        Ok(())
    }
}

/// The identity on the main path; the head is used only in training.
impl<T: Float, B, const N: usize, const O: usize> Export<T> for AuxHead<T, B, N, O> {
    fn export(&self, _g: &mut Graph) -> Result<(), ExportError> {
        Ok(())
    }
}
