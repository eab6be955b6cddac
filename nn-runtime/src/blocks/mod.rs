//! Blocks: layers made of other layers (the bodies the `network!` macro
//! generates), one file each, forward and hand-derived backward side by side.
//!
//! A body numbers its own items, so a block visits its body without adding a
//! naming segment, except where DESIGN.md names one (`projection`, `gate`,
//! branch and copy indices).

mod aux_head;
mod chain;
mod concat;
mod highway;
mod parallel;
mod repeat;
mod residual;

pub use aux_head::AuxHead;
pub use chain::Chain;
pub use concat::Concat;
pub use highway::Highway;
pub use parallel::{Branch, Branches, Parallel};
pub use repeat::Repeat;
pub use residual::{Residual, ResidualProjection};

use crate::Float;

/// `out = a + b`, element-wise.
fn sum_into<T: Float>(out: &mut [T], a: &[T], b: &[T]) {
    for ((o, a), b) in out.iter_mut().zip(a).zip(b) {
        *o = *a + *b;
    }
}

/// `out += a`, element-wise.
fn add_assign<T: Float>(out: &mut [T], a: &[T]) {
    for (o, a) in out.iter_mut().zip(a) {
        *o += *a;
    }
}

/// Writes the column-major `src` (`src_rows` rows) into rows `offset..offset + src_rows`
/// of the column-major `dst` (`dst_rows` rows), column by column.
fn put_rows<T: Float>(dst: &mut [T], dst_rows: usize, offset: usize, src: &[T], src_rows: usize) {
    if src_rows == 0 || dst_rows == 0 {
        return;
    }
    for (d, s) in dst.chunks_exact_mut(dst_rows).zip(src.chunks_exact(src_rows)) {
        d[offset..offset + src_rows].copy_from_slice(s);
    }
}

/// Reads rows `offset..offset + dst_rows` of the column-major `src` (`src_rows` rows)
/// into the column-major `dst`.
fn take_rows<T: Float>(src: &[T], src_rows: usize, offset: usize, dst: &mut [T], dst_rows: usize) {
    if src_rows == 0 || dst_rows == 0 {
        return;
    }
    for (d, s) in dst.chunks_exact_mut(dst_rows).zip(src.chunks_exact(src_rows)) {
        d.copy_from_slice(&s[offset..offset + dst_rows]);
    }
}

#[cfg(test)]
pub(crate) mod test_bodies {
    //! Small bodies for the blocks' tests: dense layers and activations.
    use crate::layers::{Activation, Dense, Tanh};
    use crate::{seeded_rng, Chain, Init};

    /// `dense(O), tanh` from `I` features.
    pub type DenseTanh<const I: usize, const O: usize> =
        Chain<f64, Dense<f64, I, O>, Activation<f64, Tanh, O>, I, O, O>;

    pub fn dense_tanh<const I: usize, const O: usize>(seed: u64) -> DenseTanh<I, O> {
        Chain::new(Dense::new(&mut seeded_rng(seed), Init::XavierNormal, true), Activation::new(Tanh))
    }
}
