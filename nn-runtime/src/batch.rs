//! The batch type every layer speaks.

use nalgebra::{Const, Dyn, OMatrix};

/// A batch of samples with `N` features each: one column per sample, the
/// feature count fixed at compile time and the batch size chosen at run time.
///
/// The `Dyn` column dimension is what sends products to `matrixmultiply`
/// rather than nalgebra's baseline loops (see DESIGN.md, performance model).
pub type Batch<T, const N: usize> = OMatrix<T, Const<N>, Dyn>;
