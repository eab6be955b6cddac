//! Seeded train/test splits: random, or keeping each class's share.

use rand::seq::SliceRandom;

use super::{DataError, Dataset, Labels};
use crate::{init::seeded_rng, kernels::Float};

/// Splits `data` into (train, test) with `test_fraction` of the samples
/// (rounded) in the test part, chosen at random by a generator seeded with
/// `seed`. For real-valued targets, or wherever class shares need not be
/// kept (for classes, [`stratified_split`] keeps them). Samples keep their
/// original order.
///
/// ```
/// # use nn_runtime as nn;
/// use nn::data::{split, Dataset};
///
/// let xs: Vec<[f32; 1]> = (0..100).map(|i| [i as f32 / 100.0]).collect();
/// let ys: Vec<[f32; 1]> = xs.iter().map(|&[x]| [(6.0 * x).sin()]).collect();
/// let (train, test) = split(&Dataset::from_rows_real(&xs, &ys)?, 0.2, 42)?;
/// assert_eq!((train.len(), test.len()), (80, 20));
/// # Ok::<(), nn::data::DataError>(())
/// ```
pub fn split<T: Float>(
    data: &Dataset<T>,
    test_fraction: f64,
    seed: u64,
) -> Result<(Dataset<T>, Dataset<T>), DataError> {
    split_groups(data, vec![(0..data.len()).collect()], test_fraction, seed)
}

/// Splits `data` into (train, test) with `test_fraction` of each class in the
/// test part (rounded per class), chosen by a generator seeded with `seed`.
/// Real-valued labels and labels per step are split as one group, as
/// [`split`] does with the same seed. Samples keep their original order.
pub fn stratified_split<T: Float>(
    data: &Dataset<T>,
    test_fraction: f64,
    seed: u64,
) -> Result<(Dataset<T>, Dataset<T>), DataError> {
    let groups: Vec<Vec<usize>> = match data.labels() {
        Labels::Classes { indices, count } => {
            (0..*count).map(|c| (0..data.len()).filter(|&i| indices[i] == c).collect()).collect()
        }
        Labels::Real(_) | Labels::StepClasses { .. } | Labels::StepReal { .. } => vec![(0..data.len()).collect()],
    };
    split_groups(data, groups, test_fraction, seed)
}

/// Puts `test_fraction` of each group, drawn by a generator seeded with
/// `seed`, into the test part and the rest into the train part.
fn split_groups<T: Float>(
    data: &Dataset<T>,
    groups: Vec<Vec<usize>>,
    test_fraction: f64,
    seed: u64,
) -> Result<(Dataset<T>, Dataset<T>), DataError> {
    if !(test_fraction > 0.0 && test_fraction < 1.0) {
        return Err(DataError::Fraction(test_fraction));
    }
    let mut rng = seeded_rng(seed);
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for mut group in groups {
        group.shuffle(&mut rng);
        let n_test = (group.len() as f64 * test_fraction).round() as usize;
        test.extend_from_slice(&group[..n_test]);
        train.extend_from_slice(&group[n_test..]);
    }
    train.sort_unstable();
    test.sort_unstable();
    Ok((data.subset(&train)?, data.subset(&test)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "datasets")]
    fn class_counts(d: &Dataset<f64>) -> Vec<usize> {
        let Labels::Classes { indices, count } = d.labels() else { unreachable!() };
        (0..*count).map(|c| indices.iter().filter(|&&k| k == c).count()).collect()
    }

    #[test]
    #[cfg(feature = "datasets")]
    fn keeps_class_shares_is_seeded_and_disjoint() {
        let data = crate::data::iris::<f64>();
        let (train, test) = stratified_split(&data, 0.2, 7).unwrap();
        assert_eq!(class_counts(&train), vec![40, 40, 40]);
        assert_eq!(class_counts(&test), vec![10, 10, 10]);
        let (train2, test2) = stratified_split(&data, 0.2, 7).unwrap();
        assert_eq!((&train, &test), (&train2, &test2));
        let (_, other) = stratified_split(&data, 0.2, 8).unwrap();
        assert_ne!(other, test);
        // Together the parts hold exactly the original samples.
        let rows = |d: &Dataset<f64>| -> Vec<(Vec<u64>, usize)> {
            let Labels::Classes { indices, .. } = d.labels() else { unreachable!() };
            (0..d.len()).map(|j| (d.inputs().column(j).iter().map(|v| v.to_bits()).collect(), indices[j])).collect()
        };
        let mut parts = rows(&train);
        parts.extend(rows(&test));
        let mut all = rows(&data);
        parts.sort();
        all.sort();
        assert_eq!(parts, all);
        assert_eq!(stratified_split(&data, 1.0, 0).unwrap_err(), DataError::Fraction(1.0));
    }

    #[test]
    fn random_split_of_real_targets_is_sized_seeded_and_disjoint() {
        let data = crate::data::adding_problem::<f64>(4, 101, 3);
        let (train, test) = split(&data, 0.25, 5).unwrap();
        assert_eq!((train.len(), test.len()), (76, 25));
        assert_eq!(split(&data, 0.25, 5).unwrap(), (train.clone(), test.clone()));
        assert_ne!(split(&data, 0.25, 6).unwrap().1, test);
        // The same seed splits real targets as stratified_split does.
        assert_eq!(stratified_split(&data, 0.25, 5).unwrap(), (train.clone(), test.clone()));
        // Each sample lands in exactly one part, targets still beside their inputs.
        let samples = |d: &Dataset<f64>| -> Vec<Vec<u64>> {
            let Labels::Real(t) = d.labels() else { unreachable!() };
            (0..d.len())
                .map(|j| d.inputs().column(j).iter().chain(t.column(j).iter()).map(|v| v.to_bits()).collect())
                .collect()
        };
        let (mut parts, mut all) = (samples(&train), samples(&data));
        parts.extend(samples(&test));
        parts.sort();
        all.sort();
        assert_eq!(parts, all);
        assert_eq!(split(&data, 0.0, 0).unwrap_err(), DataError::Fraction(0.0));
        assert!(matches!(split(&data, f64::NAN, 0), Err(DataError::Fraction(f)) if f.is_nan()));
    }
}
