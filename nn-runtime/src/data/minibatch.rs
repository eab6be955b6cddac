//! Mini-batches for the training loop, copied into buffers that are reused.

use nalgebra::{DMatrix, DMatrixView};

use super::{DataError, Dataset, Labels};
use crate::kernels::Float;
use crate::loss::Targets;

/// A mini-batch copied out of a [`Dataset`] into buffers that are kept between
/// batches: once sized for the largest batch, filling it allocates nothing
/// (a smaller last batch uses the leading columns).
///
/// A batch of sequences of different lengths keeps their lengths, and only
/// as many steps as its longest sequence has (the leading rows).
#[derive(Clone, Debug)]
pub struct MiniBatch<T> {
    inputs: DMatrix<T>,
    classes: Vec<usize>,
    real: DMatrix<T>,
    kind: Kind,
    /// Each sample's length, for sequences of different lengths.
    lengths: Option<Vec<usize>>,
    /// The rows of `inputs` this batch uses.
    rows: usize,
    /// The rows of `real` this batch uses.
    real_rows: usize,
    len: usize,
}

/// What the batch's labels are.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Classes,
    Real,
    StepClasses,
    StepReal { per_step: usize },
}

impl<T: Float> Default for MiniBatch<T> {
    fn default() -> Self {
        Self {
            inputs: DMatrix::zeros(0, 0),
            classes: Vec::new(),
            real: DMatrix::zeros(0, 0),
            kind: Kind::Classes,
            lengths: None,
            rows: 0,
            real_rows: 0,
            len: 0,
        }
    }
}

/// Makes `m` at least `rows x cols`, keeping it when it is large enough.
fn reserve<T: Float>(m: &mut DMatrix<T>, rows: usize, cols: usize) {
    if m.nrows() < rows || m.ncols() < cols {
        *m = DMatrix::zeros(rows.max(m.nrows()), cols.max(m.ncols()));
    }
}

/// Copies the first `rows` values of column `from` of `src` into column `to` of `dst`.
fn copy_rows<T: Float>(src: &DMatrix<T>, from: usize, dst: &mut DMatrix<T>, to: usize, rows: usize) {
    dst.view_mut((0, to), (rows, 1)).copy_from(&src.view((0, from), (rows, 1)));
}

impl<T: Float> MiniBatch<T> {
    /// Copies the samples at `indices` from `data`.
    pub fn fill(&mut self, data: &Dataset<T>, indices: &[usize]) -> Result<(), DataError> {
        data.check_indices(indices)?;
        let n = indices.len();
        // Sequences: as many steps as the longest of the batch.
        let (steps, padded) = match (data.lengths(), data.steps()) {
            (Some(all), Some(padded)) => (indices.iter().map(|&i| all[i]).max().unwrap_or(0), padded),
            _ => (1, 1),
        };
        self.rows = data.width() / padded * steps;
        reserve(&mut self.inputs, data.width(), n);
        for (j, &i) in indices.iter().enumerate() {
            copy_rows(data.inputs(), i, &mut self.inputs, j, self.rows);
        }
        match (data.lengths(), &mut self.lengths) {
            (Some(all), Some(lengths)) => {
                lengths.clear();
                lengths.extend(indices.iter().map(|&i| all[i]));
            }
            (Some(all), lengths) => *lengths = Some(indices.iter().map(|&i| all[i]).collect()),
            (None, lengths) => *lengths = None,
        }
        self.classes.clear();
        match data.labels() {
            Labels::Classes { indices: all, .. } => {
                self.classes.extend(indices.iter().map(|&i| all[i]));
                self.kind = Kind::Classes;
            }
            Labels::StepClasses { indices: all, .. } => {
                self.classes.extend(indices.iter().flat_map(|&i| all[i * padded..i * padded + steps].iter().copied()));
                self.kind = Kind::StepClasses;
            }
            Labels::Real(t) | Labels::StepReal { values: t, .. } => {
                (self.kind, self.real_rows) = match data.labels() {
                    // Per step: as many steps as the inputs.
                    Labels::StepReal { per_step, .. } => (Kind::StepReal { per_step: *per_step }, per_step * steps),
                    _ => (Kind::Real, t.nrows()),
                };
                reserve(&mut self.real, t.nrows(), n);
                for (j, &i) in indices.iter().enumerate() {
                    copy_rows(t, i, &mut self.real, j, self.real_rows);
                }
            }
        }
        self.len = n;
        Ok(())
    }

    /// Number of samples in the batch.
    pub fn len(&self) -> usize {
        self.len
    }
    /// Whether the batch has no samples.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// The batch's inputs, one column per sample (sequences padded to the
    /// batch's longest).
    pub fn inputs(&self) -> DMatrixView<'_, T> {
        self.inputs.view((0, 0), (self.rows, self.len))
    }
    /// Each sample's length, for sequences of different lengths.
    pub fn lengths(&self) -> Option<&[usize]> {
        self.lengths.as_deref().map(|l| &l[..self.len])
    }
    /// The batch's targets, for a loss.
    pub fn targets(&self) -> Targets<'_, T> {
        let lengths = self.lengths().unwrap_or_default();
        let real = || self.real.view((0, 0), (self.real_rows, self.len));
        match self.kind {
            Kind::Classes => Targets::Classes(&self.classes),
            Kind::Real => Targets::Real(real()),
            Kind::StepClasses => Targets::StepClasses { classes: &self.classes, lengths },
            Kind::StepReal { per_step } => Targets::StepReal { values: real(), per_step, lengths },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mini_batches_copy_the_chosen_samples_and_keep_their_buffer() {
        let x = DMatrix::from_fn(2, 5, |i, j| (10 * j + i) as f64);
        let data = Dataset::new(x, Labels::Classes { indices: vec![0, 1, 2, 1, 0], count: 3 }).unwrap();
        let mut batch = MiniBatch::default();
        batch.fill(&data, &[4, 1, 2]).unwrap();
        assert_eq!(batch.inputs(), DMatrix::from_column_slice(2, 3, &[40.0, 41.0, 10.0, 11.0, 20.0, 21.0]));
        let Targets::Classes(c) = batch.targets() else { panic!("class targets") };
        assert_eq!(c, &[0, 1, 2]);
        let buffer = batch.inputs().as_ptr();
        batch.fill(&data, &[3]).unwrap();
        assert_eq!((batch.len(), batch.inputs().as_ptr()), (1, buffer));
        assert_eq!(batch.inputs(), DMatrix::from_column_slice(2, 1, &[30.0, 31.0]));
        assert_eq!(batch.fill(&data, &[0, 5]), Err(DataError::Index { index: 5, samples: 5 }));
    }
}
