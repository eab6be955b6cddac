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

use crate::kernels::Float;

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
    use crate::{
        blocks::Chain,
        init::{seeded_rng, Init},
    };

    /// `dense(O), tanh` from `I` features.
    pub type DenseTanh<const I: usize, const O: usize> =
        Chain<f64, Dense<f64, I, O>, Activation<f64, Tanh, O>, I, O, O>;

    pub fn dense_tanh<const I: usize, const O: usize>(seed: u64) -> DenseTanh<I, O> {
        Chain::new(Dense::new(&mut seeded_rng(seed), Init::XavierNormal, true), Activation::new(Tanh))
    }
}

#[cfg(test)]
mod bad_input {
    use super::test_bodies::dense_tanh;
    use super::*;
    use crate::layers::{Dropout, LayerNorm};
    use crate::{
        batch::Batch,
        init::{seeded_rng, Init},
        layer::Layer,
    };

    /// An empty batch gives empty outputs and gradients; a NaN sample comes out
    /// NaN (in its own column only) and backward runs. No panic either way.
    /// Also checks the `output`/`input_grad` hooks.
    fn check<L: Layer<f64, 3, O>, const O: usize>(what: &str, mut block: L) {
        assert_eq!(block.forward(&Batch::zeros(0)).ncols(), 0, "{what}");
        assert_eq!(block.backward(&Batch::zeros(0)).ncols(), 0, "{what}");
        assert_eq!(block.predict(&Batch::zeros(0)).ncols(), 0, "{what}");
        // The diagnostics hooks show the last forward's output and backward's dL/dx.
        let finite = Batch::<f64, 3>::from_column_slice(&[0.3, 1.0, 2.0, 0.5, -0.5, 0.25]);
        let y = block.forward(&finite).clone();
        assert_eq!(block.output(), Some(&y), "{what}: output hook");
        let dx = block.backward(&Batch::from_element(2, 0.5)).clone();
        assert_eq!(block.input_grad(), Some(&dx), "{what}: input_grad hook");
        let x = Batch::<f64, 3>::from_column_slice(&[f64::NAN, 1.0, 2.0, 0.5, -0.5, 0.25]);
        let y = block.forward(&x).clone();
        assert!(y.column(0).iter().any(|v| v.is_nan()), "{what}: NaN propagates");
        assert!(y.column(1).iter().all(|v| v.is_finite()), "{what}: the other sample is untouched");
        block.backward(&Batch::from_element(2, 1.0));
        assert!(block.predict(&x).column(0).iter().any(|v| v.is_nan()), "{what}: NaN in eval");
    }

    #[test]
    fn empty_and_nan_batches_go_through_every_block() {
        check("chain", Chain::new(dense_tanh::<3, 4>(1), dense_tanh::<4, 2>(2)));
        check("residual", Residual::new(dense_tanh::<3, 3>(3)));
        check("projection", ResidualProjection::new(&mut seeded_rng(4), dense_tanh::<3, 5>(5), Init::HeNormal));
        check("highway", Highway::new(&mut seeded_rng(6), dense_tanh::<3, 3>(7), Init::XavierNormal));
        check("concat", Concat::<f64, _, 3, 2, 5>::new(dense_tanh::<3, 2>(8)));
        check(
            "parallel",
            Parallel::<f64, _, 3, 6>::new((
                Branch::<_, 2>(dense_tanh::<3, 2>(9)),
                Branch::<_, 4>(dense_tanh::<3, 4>(10)),
            )),
        );
        check("repeat", Repeat::<f64, _, 3, 2>::from_fn(|c| dense_tanh::<3, 3>(11 + c as u64)));
        check("aux_head", AuxHead::new(dense_tanh::<3, 2>(13), 0.3));
        // Stochastic and per-sample-normalizing bodies too (batch_norm mixes samples; see its own tests).
        check("repeat of dropout", Repeat::<f64, _, 3, 1>::from_fn(|_| Dropout::new(0.0, seeded_rng(14))));
        check("residual of layer_norm", Residual::new(LayerNorm::<f64, 3>::new(1e-5)));
    }
}
