//! Seeded train/test splits that keep each class's share.

use rand::seq::SliceRandom;

use super::{DataError, Dataset, Labels};
use crate::{seeded_rng, Float};

/// Splits `data` into (train, test) with `test_fraction` of each class in the
/// test part (rounded per class), chosen by a generator seeded with `seed`.
/// Real-valued labels are split as one group. Samples keep their original order.
pub fn stratified_split<T: Float>(
    data: &Dataset<T>,
    test_fraction: f64,
    seed: u64,
) -> Result<(Dataset<T>, Dataset<T>), DataError> {
    if !(test_fraction > 0.0 && test_fraction < 1.0) {
        return Err(DataError::Fraction(test_fraction));
    }
    let groups: Vec<Vec<usize>> = match data.labels() {
        Labels::Classes { indices, count } => {
            (0..*count).map(|c| (0..data.len()).filter(|&i| indices[i] == c).collect()).collect()
        }
        Labels::Real(_) => vec![(0..data.len()).collect()],
    };
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
    use crate::data::iris;

    fn class_counts(d: &Dataset<f64>) -> Vec<usize> {
        let Labels::Classes { indices, count } = d.labels() else { unreachable!() };
        (0..*count).map(|c| indices.iter().filter(|&&k| k == c).count()).collect()
    }

    #[test]
    fn keeps_class_shares_is_seeded_and_disjoint() {
        let data = iris::<f64>();
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
}
