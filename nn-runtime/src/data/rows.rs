//! Plain rows, one slice of values per sample (`&[[T; N]]`, `&[Vec<T>]`,
//! `&[&[T]]`), to and from `nn`'s matrices, whose samples are columns.

use nalgebra::DMatrix;

use super::{first_non_finite, DataError};
use crate::{batch::Batch, kernels::Float};

/// The batch a network with `N` inputs takes, from one row of `N` values per
/// sample. NaN and infinity are refused, as by [`Dataset::new`](super::Dataset::new).
///
/// ```
/// # use nn_runtime as nn;
/// use nn::data::batch_from_rows;
/// use nn::Batch;
///
/// let x: Batch<f32, 3> = batch_from_rows(&[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])?;
/// assert_eq!((x.nrows(), x.ncols()), (3, 2));
/// assert_eq!(x.column(1).as_slice(), &[4.0, 5.0, 6.0]);
/// // Rows read at run time have their length checked.
/// let rows = vec![vec![1.0_f32, 2.0, 3.0], vec![4.0, 5.0]];
/// assert!(batch_from_rows::<f32, 3, _>(&rows).is_err());
/// # Ok::<(), nn::data::DataError>(())
/// ```
pub fn batch_from_rows<T: Float, const N: usize, R: AsRef<[T]>>(rows: &[R]) -> Result<Batch<T, N>, DataError> {
    check_row_lengths(rows, N)?;
    let batch = Batch::<T, N>::from_iterator(rows.len(), rows.iter().flat_map(|r| r.as_ref().iter().copied()));
    check_finite_inputs(batch.as_slice(), N)?;
    Ok(batch)
}

/// The batch a network with `N` inputs takes, from the values of its samples
/// one after another (`N` per sample), as a flat buffer or a file holds them.
///
/// ```
/// # use nn_runtime as nn;
/// use nn::data::batch_from_slice;
/// use nn::Batch;
///
/// let x: Batch<f64, 2> = batch_from_slice(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0])?;
/// assert_eq!(x.column(2).as_slice(), &[4.0, 5.0]);
/// assert!(batch_from_slice::<f64, 4>(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]).is_err());
/// # Ok::<(), nn::data::DataError>(())
/// ```
pub fn batch_from_slice<T: Float, const N: usize>(values: &[T]) -> Result<Batch<T, N>, DataError> {
    let samples = values.len().checked_div(N).unwrap_or(0);
    if samples * N != values.len() {
        return Err(DataError::SliceLength { len: values.len(), width: N });
    }
    check_finite_inputs(values, N)?;
    Ok(Batch::<T, N>::from_iterator(samples, values.iter().copied()))
}

/// One row of `N` values per sample (column) of a batch, e.g. a network's
/// outputs.
///
/// ```
/// # use nn_runtime as nn;
/// use nn::data::batch_to_rows;
/// use nn::Batch;
///
/// let y = Batch::<f32, 2>::from_column_slice(&[0.1, 0.9, 0.8, 0.2]);
/// assert_eq!(batch_to_rows(&y), vec![[0.1, 0.9], [0.8, 0.2]]);
/// ```
pub fn batch_to_rows<T: Float, const N: usize>(batch: &Batch<T, N>) -> Vec<[T; N]> {
    batch.column_iter().map(|sample| std::array::from_fn(|i| sample[i])).collect()
}

/// A matrix with one column per row (sample); every row as long as the first.
pub(super) fn matrix_from_rows<T: Float, R: AsRef<[T]>>(rows: &[R]) -> Result<DMatrix<T>, DataError> {
    let width = rows.first().map_or(0, |r| r.as_ref().len());
    check_row_lengths(rows, width)?;
    Ok(DMatrix::from_iterator(width, rows.len(), rows.iter().flat_map(|r| r.as_ref().iter().copied())))
}

/// Checks that every row has `expected` values.
pub(super) fn check_row_lengths<T, R: AsRef<[T]>>(rows: &[R], expected: usize) -> Result<(), DataError> {
    match rows.iter().map(|r| r.as_ref().len()).enumerate().find(|&(_, len)| len != expected) {
        Some((row, found)) => Err(DataError::RowLength { row, expected, found }),
        None => Ok(()),
    }
}

/// Inputs laid out sample after sample, `width` values each, must be finite.
pub(super) fn check_finite_inputs<T: Float>(values: &[T], width: usize) -> Result<(), DataError> {
    match first_non_finite(values, width) {
        Some((sample, feature, value)) => Err(DataError::NonFiniteInput { sample, feature, value }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_from_rows_and_slices_hold_one_sample_per_column() {
        let rows = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]];
        let from_arrays: Batch<f64, 2> = batch_from_rows(&rows).unwrap();
        let expected = Batch::<f64, 2>::from_column_slice(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(from_arrays, expected);
        let vecs: Vec<Vec<f64>> = rows.iter().map(|r| r.to_vec()).collect();
        assert_eq!(batch_from_rows::<f64, 2, _>(&vecs).unwrap(), expected);
        assert_eq!(batch_from_slice::<f64, 2>(rows.as_flattened()).unwrap(), expected);
        assert_eq!(batch_to_rows(&expected), rows);
        assert_eq!(batch_from_rows::<f64, 2, [f64; 2]>(&[]).unwrap().ncols(), 0);
    }

    #[test]
    fn bad_rows_and_slices_are_typed_errors() {
        let short: [&[f32]; 2] = [&[1.0, 2.0], &[3.0]];
        assert_eq!(batch_from_rows::<f32, 2, _>(&short), Err(DataError::RowLength { row: 1, expected: 2, found: 1 }));
        assert_eq!(
            batch_from_rows::<f32, 2, _>(&[[1.0, 2.0], [f32::INFINITY, 0.0]]),
            Err(DataError::NonFiniteInput { sample: 1, feature: 0, value: f64::INFINITY })
        );
        assert_eq!(batch_from_slice::<f32, 2>(&[1.0, 2.0, 3.0]), Err(DataError::SliceLength { len: 3, width: 2 }));
        let err = batch_from_slice::<f32, 2>(&[1.0, 2.0, 3.0, f32::NAN]).unwrap_err();
        assert!(matches!(err, DataError::NonFiniteInput { sample: 1, feature: 1, .. }), "{err:?}");
        assert_eq!(batch_from_slice::<f32, 0>(&[]).unwrap().ncols(), 0);
        assert_eq!(batch_from_slice::<f32, 0>(&[1.0]), Err(DataError::SliceLength { len: 1, width: 0 }));
        assert_eq!(
            DataError::RowLength { row: 1, expected: 2, found: 1 }.to_string(),
            "row 1 has 1 values, but 2 are expected"
        );
    }
}
