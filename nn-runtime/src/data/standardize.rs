//! Standardization to zero mean and unit variance per feature, fitted on the
//! training part only so that nothing of the test part leaks into training,
//! and kept as plain numbers so that it can be saved with a model.

use super::rows::{check_finite_inputs, check_row_lengths};
use super::{first_non_finite, DataError, Dataset};
use crate::{batch::Batch, kernels::Float};

/// Per-feature mean and standard deviation (population, as scikit-learn's
/// `StandardScaler`); a constant feature keeps scale 1 so it maps to 0.
///
/// Apply the one fitted on the training data to everything the model sees:
/// a [`Dataset`], a network [`Batch`], or plain rows. To save it with a model,
/// store [`Standardizer::mean`] and [`Standardizer::scale`] and rebuild it
/// with [`Standardizer::from_parts`].
///
/// ```
/// # #[cfg(feature = "datasets")] fn main() -> Result<(), nn_runtime::data::DataError> {
/// # use nn_runtime as nn;
/// use nn::data::{iris, stratified_split, Standardizer};
///
/// let (mut train, _test) = stratified_split(&iris::<f32>(), 0.2, 0)?;
/// let scaler = Standardizer::fit(&train)?;
/// scaler.apply(&mut train)?;
///
/// // Saved as two lists of numbers, rebuilt elsewhere, applied to a raw flower.
/// let (mean, scale) = (scaler.mean().to_vec(), scaler.scale().to_vec());
/// let rebuilt = Standardizer::from_parts(mean, scale)?;
/// let mut flower = [[5.1, 3.5, 1.4, 0.2]];
/// rebuilt.apply_rows(&mut flower)?;
/// assert!(flower[0][2] < -1.0, "short petals for iris, as setosa's are");
/// # Ok(()) }
/// # #[cfg(not(feature = "datasets"))] fn main() {}
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Standardizer<T> {
    mean: Vec<T>,
    scale: Vec<T>,
}

impl<T: Float> Standardizer<T> {
    /// Measures every feature of `data` (call it on the training part). NaN
    /// or infinity in the inputs is an error naming the sample and feature.
    pub fn fit(data: &Dataset<T>) -> Result<Self, DataError> {
        let x = data.inputs();
        check_finite_inputs(x.as_slice(), x.nrows())?;
        let n = x.ncols().max(1) as f64;
        let mut mean = Vec::with_capacity(x.nrows());
        let mut scale = Vec::with_capacity(x.nrows());
        for row in x.row_iter() {
            let m = row.iter().map(|v| v.as_f64()).sum::<f64>() / n;
            let var = row.iter().map(|v| (v.as_f64() - m).powi(2)).sum::<f64>() / n;
            // A spread too small for `T` counts as none, as a constant feature's.
            let s = T::of(var.sqrt());
            mean.push(T::of(m));
            scale.push(if s > T::zero() { s } else { T::one() });
        }
        Self::from_parts(mean, scale)
    }

    /// Rebuilds a standardizer from what [`Standardizer::mean`] and
    /// [`Standardizer::scale`] returned: one finite mean and one finite,
    /// positive scale per feature.
    pub fn from_parts(mean: Vec<T>, scale: Vec<T>) -> Result<Self, DataError> {
        if mean.len() != scale.len() {
            return Err(DataError::StandardizerLength { means: mean.len(), scales: scale.len() });
        }
        let bad = |(m, s): (f64, f64)| !(m.is_finite() && s.is_finite() && s > 0.0);
        let pairs = mean.iter().zip(&scale).map(|(m, s)| (m.as_f64(), s.as_f64()));
        if let Some((feature, (mean, scale))) = pairs.enumerate().find(|&(_, pair)| bad(pair)) {
            return Err(DataError::StandardizerValue { feature, mean, scale });
        }
        Ok(Self { mean, scale })
    }

    /// The mean of each feature.
    pub fn mean(&self) -> &[T] {
        &self.mean
    }
    /// The standard deviation of each feature (1 for a constant feature).
    pub fn scale(&self) -> &[T] {
        &self.scale
    }
    /// Features per sample.
    pub fn width(&self) -> usize {
        self.mean.len()
    }

    /// Maps every feature of `data` to `(x - mean) / scale`.
    pub fn apply(&self, data: &mut Dataset<T>) -> Result<(), DataError> {
        self.check_width(data.width())?;
        self.apply_samples(data.inputs_mut().as_mut_slice())
    }

    /// Maps every sample (column) of a network batch as [`Standardizer::apply`].
    pub fn apply_batch<const N: usize>(&self, batch: &mut Batch<T, N>) -> Result<(), DataError> {
        self.check_width(N)?;
        self.apply_samples(batch.as_mut_slice())
    }

    /// Maps plain rows, one sample each (`&mut [[T; N]]`, `&mut [Vec<T>]`),
    /// as [`Standardizer::apply`]. On an error no row is changed.
    pub fn apply_rows<R: AsRef<[T]> + AsMut<[T]>>(&self, rows: &mut [R]) -> Result<(), DataError> {
        check_row_lengths(rows, self.width())?;
        for (sample, row) in rows.iter().enumerate() {
            if let Some((_, feature, value)) = first_non_finite(row.as_ref(), self.width()) {
                return Err(DataError::NonFiniteInput { sample, feature, value });
            }
        }
        rows.iter_mut().for_each(|row| self.standardize(row.as_mut()));
        Ok(())
    }

    fn check_width(&self, found: usize) -> Result<(), DataError> {
        if found != self.width() {
            return Err(DataError::Width { expected: self.width(), found });
        }
        Ok(())
    }

    /// Standardizes samples of `width()` values laid one after another, after
    /// checking them all (so an error changes nothing).
    fn apply_samples(&self, values: &mut [T]) -> Result<(), DataError> {
        check_finite_inputs(values, self.width())?;
        if self.width() > 0 {
            values.chunks_exact_mut(self.width()).for_each(|sample| self.standardize(sample));
        }
        Ok(())
    }

    /// `(x - mean) / scale` for one sample's features.
    fn standardize(&self, sample: &mut [T]) {
        for ((v, &m), &s) in sample.iter_mut().zip(&self.mean).zip(&self.scale) {
            *v = (*v - m) / s;
        }
    }
}

#[cfg(test)]
mod tests {
    #[cfg(feature = "datasets")]
    use nalgebra::DMatrix;

    use super::*;
    #[cfg(feature = "datasets")]
    use crate::data::{iris, stratified_split, Labels};

    #[test]
    #[cfg(feature = "datasets")]
    fn training_part_gets_zero_mean_unit_variance_and_test_part_uses_its_statistics() {
        let (mut train, mut test) = stratified_split(&iris::<f64>(), 0.2, 1).unwrap();
        let raw_test = test.clone();
        let s = Standardizer::fit(&train).unwrap();
        s.apply(&mut train).unwrap();
        s.apply(&mut test).unwrap();
        for row in train.inputs().row_iter() {
            let m = row.mean();
            let var = row.iter().map(|v| (v - m).powi(2)).sum::<f64>() / row.len() as f64;
            assert!(m.abs() < 1e-12 && (var - 1.0).abs() < 1e-12, "mean {m}, variance {var}");
        }
        let expected = (raw_test.inputs()[(2, 5)] - s.mean()[2]) / s.scale()[2];
        assert_eq!(test.inputs()[(2, 5)], expected);
        let mut wrong = Dataset::new(DMatrix::zeros(3, 1), Labels::Classes { indices: vec![0], count: 1 }).unwrap();
        assert_eq!(s.apply(&mut wrong), Err(DataError::Width { expected: 4, found: 3 }));
    }

    #[test]
    #[cfg(feature = "datasets")]
    fn constant_features_map_to_zero() {
        let mut d = crate::data::digits::<f64>();
        let s = Standardizer::fit(&d).unwrap();
        s.apply(&mut d).unwrap();
        // Pixel 0 is blank in every digit image.
        assert_eq!(s.scale()[0], 1.0);
        assert!(d.inputs().row(0).iter().all(|&v| v == 0.0));
    }

    #[test]
    #[cfg(feature = "datasets")]
    fn fitting_on_nan_or_infinity_is_an_error_naming_sample_and_feature() {
        let mut data = iris::<f32>();
        data.inputs_mut()[(3, 17)] = f32::NAN;
        let err = Standardizer::fit(&data).unwrap_err();
        assert!(
            matches!(err, DataError::NonFiniteInput { sample: 17, feature: 3, value } if value.is_nan()),
            "{err:?}"
        );
        assert!(err.to_string().starts_with("input sample 17, feature 3 is NaN"), "{err}");
        data.inputs_mut()[(3, 17)] = 0.2;
        data.inputs_mut()[(0, 149)] = f32::INFINITY;
        assert_eq!(
            Standardizer::fit(&data),
            Err(DataError::NonFiniteInput { sample: 149, feature: 0, value: f64::INFINITY })
        );
    }

    #[test]
    #[cfg(feature = "datasets")]
    fn rebuilt_from_its_parts_it_maps_datasets_batches_and_rows_alike() {
        let (train, test) = stratified_split(&iris::<f32>(), 0.2, 4).unwrap();
        let fitted = Standardizer::fit(&train).unwrap();
        let rebuilt = Standardizer::from_parts(fitted.mean().to_vec(), fitted.scale().to_vec()).unwrap();
        assert_eq!(rebuilt, fitted);

        let mut as_dataset = test.clone();
        fitted.apply(&mut as_dataset).unwrap();
        let mut as_batch = test.to_batch::<4>().unwrap();
        rebuilt.apply_batch(&mut as_batch).unwrap();
        let mut as_rows: Vec<[f32; 4]> = crate::data::batch_to_rows(&test.to_batch::<4>().unwrap());
        let mut as_vecs: Vec<Vec<f32>> = as_rows.iter().map(|r| r.to_vec()).collect();
        rebuilt.apply_rows(&mut as_rows).unwrap();
        rebuilt.apply_rows(&mut as_vecs).unwrap();
        assert_eq!(as_batch.as_slice(), as_dataset.inputs().as_slice());
        assert_eq!(as_rows.as_flattened(), as_dataset.inputs().as_slice());
        assert_eq!(as_vecs.concat(), as_dataset.inputs().as_slice());
        // Element by element, the documented formula.
        let raw = test.inputs()[(1, 3)];
        assert_eq!(as_rows[3][1], (raw - fitted.mean()[1]) / fitted.scale()[1]);
        assert_ne!(as_rows[3][1], raw);
    }

    #[test]
    fn bad_parts_and_bad_rows_are_refused_and_change_nothing() {
        assert_eq!(
            Standardizer::from_parts(vec![0.0, 1.0], vec![1.0]),
            Err(DataError::StandardizerLength { means: 2, scales: 1 })
        );
        assert_eq!(
            Standardizer::from_parts(vec![0.0, 1.0], vec![1.0, 0.0]),
            Err(DataError::StandardizerValue { feature: 1, mean: 1.0, scale: 0.0 })
        );
        assert_eq!(
            Standardizer::from_parts(vec![0.0, 1.0], vec![-2.0, 1.0]),
            Err(DataError::StandardizerValue { feature: 0, mean: 0.0, scale: -2.0 })
        );
        assert!(matches!(
            Standardizer::from_parts(vec![f64::NAN], vec![1.0]),
            Err(DataError::StandardizerValue { feature: 0, .. })
        ));
        assert!(Standardizer::from_parts(vec![0.0], vec![f64::INFINITY]).is_err());

        let s = Standardizer::from_parts(vec![1.0, 2.0], vec![2.0, 4.0]).unwrap();
        let mut rows = vec![vec![3.0, 6.0], vec![1.0, f64::NAN]];
        assert!(matches!(s.apply_rows(&mut rows), Err(DataError::NonFiniteInput { sample: 1, feature: 1, .. })));
        assert_eq!(rows[0], [3.0, 6.0], "an error changes no row");
        let mut short = vec![vec![3.0, 6.0], vec![1.0]];
        assert_eq!(s.apply_rows(&mut short), Err(DataError::RowLength { row: 1, expected: 2, found: 1 }));
        let mut batch = Batch::<f64, 2>::from_column_slice(&[3.0, 6.0, f64::INFINITY, 0.0]);
        assert_eq!(
            s.apply_batch(&mut batch),
            Err(DataError::NonFiniteInput { sample: 1, feature: 0, value: f64::INFINITY })
        );
        assert_eq!(batch[(0, 0)], 3.0, "an error changes no sample");
        let mut wide = Batch::<f64, 3>::zeros(1);
        assert_eq!(s.apply_batch(&mut wide), Err(DataError::Width { expected: 2, found: 3 }));
        let mut ok = [[3.0, 6.0]];
        s.apply_rows(&mut ok).unwrap();
        assert_eq!(ok, [[1.0, 1.0]]);
    }
}
