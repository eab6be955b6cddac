//! Mini-batches for the training loop, copied into buffers that are reused.

use nalgebra::{DMatrix, DMatrixView};

use super::{DataError, Dataset, Labels};
use crate::loss::Targets;
use crate::Float;

/// A mini-batch copied out of a [`Dataset`] into buffers that are kept between
/// batches: once sized for the largest batch, filling it allocates nothing
/// (a smaller last batch uses the leading columns).
#[derive(Clone, Debug)]
pub struct MiniBatch<T> {
    inputs: DMatrix<T>,
    classes: Vec<usize>,
    real: DMatrix<T>,
    from_classes: bool,
    len: usize,
}

impl<T: Float> Default for MiniBatch<T> {
    fn default() -> Self {
        Self {
            inputs: DMatrix::zeros(0, 0),
            classes: Vec::new(),
            real: DMatrix::zeros(0, 0),
            from_classes: true,
            len: 0,
        }
    }
}

impl<T: Float> MiniBatch<T> {
    /// Copies the samples at `indices` from `data`.
    pub fn fill(&mut self, data: &Dataset<T>, indices: &[usize]) -> Result<(), DataError> {
        data.check_indices(indices)?;
        let n = indices.len();
        if self.inputs.nrows() != data.width() || self.inputs.ncols() < n {
            self.inputs = DMatrix::zeros(data.width(), n);
        }
        for (j, &i) in indices.iter().enumerate() {
            self.inputs.column_mut(j).copy_from(&data.inputs().column(i));
        }
        match data.labels() {
            Labels::Classes { indices: all, .. } => {
                self.classes.clear();
                self.classes.extend(indices.iter().map(|&i| all[i]));
                self.from_classes = true;
            }
            Labels::Real(t) => {
                if self.real.nrows() != t.nrows() || self.real.ncols() < n {
                    self.real = DMatrix::zeros(t.nrows(), n);
                }
                for (j, &i) in indices.iter().enumerate() {
                    self.real.column_mut(j).copy_from(&t.column(i));
                }
                self.from_classes = false;
            }
        }
        self.len = n;
        Ok(())
    }

    /// Number of samples in the batch.
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// The batch's inputs, one column per sample.
    pub fn inputs(&self) -> DMatrixView<'_, T> {
        self.inputs.columns(0, self.len)
    }
    /// The batch's targets, for a loss.
    pub fn targets(&self) -> Targets<'_, T> {
        if self.from_classes {
            Targets::Classes(&self.classes[..self.len])
        } else {
            Targets::Real(self.real.columns(0, self.len))
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
