//! The adding problem (Hochreiter & Schmidhuber 1997), the classic test of
//! memory over long time lags.

use nalgebra::DMatrix;
use rand::Rng;

use super::{Dataset, Labels};
use crate::{init::seeded_rng, kernels::Float};

/// `samples` sequences of `length` steps of 2 features: a value drawn
/// uniformly from [0, 1) and a marker, 1 at two steps (one in each half of
/// the sequence) and 0 elsewhere. The target is the sum of the two marked
/// values; always answering 1.0 scores a mean squared error of 1/6.
///
/// Laid out as a sequence dataset: each sample is a column of `2 * length`
/// values, rows `2t` and `2t + 1` being step `t` (what a `seq 2` network's
/// `Model` view takes). `length` below 2 gives sequences with one mark.
pub fn adding_problem<T: Float>(length: usize, samples: usize, seed: u64) -> Dataset<T> {
    let mut rng = seeded_rng(seed);
    let mut inputs = DMatrix::<T>::zeros(2 * length, samples);
    let mut targets = DMatrix::<T>::zeros(1, samples);
    for j in 0..samples {
        for t in 0..length {
            inputs[(2 * t, j)] = T::of(rng.random::<f64>());
        }
        if length == 0 {
            continue;
        }
        let half = length / 2;
        let first = rng.random_range(0..half.max(1));
        let second = rng.random_range(half..length);
        let mut sum = 0.0;
        for t in [first, second] {
            if inputs[(2 * t + 1, j)] == T::zero() {
                inputs[(2 * t + 1, j)] = T::one();
                sum += inputs[(2 * t, j)].as_f64();
            }
        }
        targets[(0, j)] = T::of(sum);
    }
    Dataset::new(inputs, Labels::Real(targets)).expect("one target per sample")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_marks_one_per_half_and_the_target_is_their_sum() {
        let d = adding_problem::<f64>(10, 200, 1);
        assert_eq!((d.width(), d.len()), (20, 200));
        let Labels::Real(t) = d.labels() else { panic!("real targets") };
        let mut error = 0.0;
        for j in 0..200 {
            let x = d.inputs().column(j);
            let marked: Vec<usize> = (0..10).filter(|&s| x[2 * s + 1] == 1.0).collect();
            assert_eq!(marked.len(), 2);
            assert!(marked[0] < 5 && marked[1] >= 5);
            assert_eq!(t[(0, j)], x[2 * marked[0]] + x[2 * marked[1]]);
            assert!((0..10).all(|s| (0.0..1.0).contains(&x[2 * s])));
            error += (t[(0, j)] - 1.0).powi(2) / 200.0;
        }
        assert!((error - 1.0 / 6.0).abs() < 0.03, "always 1.0 scores about 1/6: {error}");
        assert_eq!(adding_problem::<f64>(10, 200, 1), d, "seeded");
    }
}
