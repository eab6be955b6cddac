//! Standardization to zero mean and unit variance per feature, fitted on the
//! training part only so that nothing of the test part leaks into training.

use super::{DataError, Dataset};
use crate::Float;

/// Per-feature mean and standard deviation (population, as scikit-learn's
/// `StandardScaler`); a constant feature keeps scale 1 so it maps to 0.
#[derive(Clone, Debug, PartialEq)]
pub struct Standardizer<T> {
    mean: Vec<T>,
    scale: Vec<T>,
}

impl<T: Float> Standardizer<T> {
    /// Measures every feature of `data` (call it on the training part).
    pub fn fit(data: &Dataset<T>) -> Self {
        let x = data.inputs();
        let n = x.ncols().max(1) as f64;
        let mut mean = Vec::with_capacity(x.nrows());
        let mut scale = Vec::with_capacity(x.nrows());
        for row in x.row_iter() {
            let m = row.iter().map(|v| v.as_f64()).sum::<f64>() / n;
            let var = row.iter().map(|v| (v.as_f64() - m).powi(2)).sum::<f64>() / n;
            mean.push(T::of(m));
            scale.push(T::of(if var > 0.0 { var.sqrt() } else { 1.0 }));
        }
        Self { mean, scale }
    }

    pub fn mean(&self) -> &[T] {
        &self.mean
    }
    pub fn scale(&self) -> &[T] {
        &self.scale
    }

    /// Maps every feature of `data` to `(x - mean) / scale`.
    pub fn apply(&self, data: &mut Dataset<T>) -> Result<(), DataError> {
        if data.width() != self.mean.len() {
            return Err(DataError::Width { expected: self.mean.len(), found: data.width() });
        }
        for mut col in data.inputs_mut().column_iter_mut() {
            for ((v, &m), &s) in col.iter_mut().zip(&self.mean).zip(&self.scale) {
                *v = (*v - m) / s;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{iris, stratified_split};

    #[test]
    fn training_part_gets_zero_mean_unit_variance_and_test_part_uses_its_statistics() {
        let (mut train, mut test) = stratified_split(&iris::<f64>(), 0.2, 1).unwrap();
        let raw_test = test.clone();
        let s = Standardizer::fit(&train);
        s.apply(&mut train).unwrap();
        s.apply(&mut test).unwrap();
        for row in train.inputs().row_iter() {
            let m = row.mean();
            let var = row.iter().map(|v| (v - m).powi(2)).sum::<f64>() / row.len() as f64;
            assert!(m.abs() < 1e-12 && (var - 1.0).abs() < 1e-12, "mean {m}, variance {var}");
        }
        let expected = (raw_test.inputs()[(2, 5)] - s.mean()[2]) / s.scale()[2];
        assert_eq!(test.inputs()[(2, 5)], expected);
        let mut wrong = crate::data::Dataset::new(
            nalgebra::DMatrix::zeros(3, 1),
            crate::data::Labels::Classes { indices: vec![0], count: 1 },
        )
        .unwrap();
        assert_eq!(s.apply(&mut wrong), Err(DataError::Width { expected: 4, found: 3 }));
    }

    #[test]
    fn constant_features_map_to_zero() {
        let mut d = crate::data::digits::<f64>();
        let s = Standardizer::fit(&d);
        s.apply(&mut d).unwrap();
        // Pixel 0 is blank in every digit image.
        assert_eq!(s.scale()[0], 1.0);
        assert!(d.inputs().row(0).iter().all(|&v| v == 0.0));
    }
}
