//! Monthly mean sunspot numbers, embedded (see `data/README.md` for the
//! provenance), as a series to forecast: a split by time, windows of past
//! months with the next month as the target, and the persistence baseline.

use std::ops::Range;

use nalgebra::DMatrix;

use super::{embedded, Csv, DataError, Dataset, Labels, Standardizer};
use crate::kernels::Float;

static SUNSPOTS: &str = include_str!("../../data/sunspots_monthly.csv");

/// A calendar month of the series.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    /// The year, e.g. 1749.
    pub year: u16,
    /// 1 (January) to 12.
    pub month: u8,
}

/// A monthly series: one value per month, months consecutive and in order.
///
/// Months are addressed by their index in the series, and parts of it by
/// ranges of indices (`0..len()` for all of it), so that a split by time is
/// two ranges and a window may reach back across the boundary into months
/// observed before the ones it forecasts.
///
/// ```
/// # use nn_runtime as nn;
/// use nn::data::sunspots;
///
/// let spots = sunspots();
/// let (train, test) = spots.split_months(0..spots.len(), 0.8)?;
/// let scaler = spots.standardizer::<f32>(train.clone())?;
/// // Forecast each month from the 12 before it, standardized by the training months.
/// let train_set = spots.windows(12, train, &scaler)?;
/// let test_set = spots.windows(12, test.clone(), &scaler)?;
/// assert_eq!((train_set.width(), train_set.len(), test_set.len()), (12, 2489, 625));
/// // The baseline to beat: "next month = this month", in sunspot numbers.
/// let persistence = spots.persistence_rmse(test)?;
/// assert!((persistence - 19.47).abs() < 0.01, "{persistence}");
/// # Ok::<(), nn::data::DataError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Sunspots {
    months: Vec<Month>,
    values: Vec<f64>,
}

/// The monthly mean sunspot number from January 1749 to June 2009, 3126
/// months without gaps (NOAA's National Geophysical Data Center, public
/// domain, as shipped with statsmodels; February 1824 was interpolated by the
/// source). The series has an 11-year cycle. Feature `datasets` (on by
/// default).
pub fn sunspots() -> Sunspots {
    let table = embedded::<f64>("sunspots", &Csv::new().header(true), SUNSPOTS);
    let Labels::Real(values) = table.labels() else { unreachable!("the sunspot numbers are real targets") };
    let months = table.inputs().column_iter().map(|c| Month { year: c[0] as u16, month: c[1] as u8 }).collect();
    Sunspots { months, values: values.as_slice().to_vec() }
}

impl Sunspots {
    /// Number of months.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether the series has no months.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The value of each month, in order.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// The calendar month of each value.
    pub fn months(&self) -> &[Month] {
        &self.months
    }

    /// Splits the months `months` by time: the first `first_fraction` of them
    /// (rounded) and the rest. `split_months(0..len(), 0.8)` is the issue's
    /// train/test split; splitting the training range again carves a
    /// validation part from its end.
    pub fn split_months(
        &self,
        months: Range<usize>,
        first_fraction: f64,
    ) -> Result<(Range<usize>, Range<usize>), DataError> {
        self.check_range(&months)?;
        if !(first_fraction > 0.0 && first_fraction < 1.0) {
            return Err(DataError::Fraction(first_fraction));
        }
        let cut = months.start + (months.len() as f64 * first_fraction).round() as usize;
        Ok((months.start..cut, cut..months.end))
    }

    /// A standardizer of one feature fitted on the values of `months` (the
    /// training months only, so nothing of the test months leaks in), for
    /// [`Sunspots::windows`]; its [`Standardizer::scale`] turns errors back
    /// into sunspot numbers.
    pub fn standardizer<T: Float>(&self, months: Range<usize>) -> Result<Standardizer<T>, DataError> {
        self.check_range(&months)?;
        let n = months.len();
        let values = DMatrix::from_iterator(1, n, self.values[months].iter().map(|&v| T::of(v)));
        // Only the inputs are measured: the data set has no targets.
        Standardizer::fit(&Dataset::new(values, Labels::Real(DMatrix::zeros(0, n)))?)
    }

    /// One sample per month `t` of `targets` with `window` months before it:
    /// the inputs are the values of months `t - window .. t` in time order
    /// (what a `seq 1` network takes: one value per step), the target is
    /// month `t`'s value, all mapped by `scaler` (a one-feature standardizer
    /// from [`Sunspots::standardizer`]). Months of `targets` with fewer than
    /// `window` months before them are skipped; windows for the first test
    /// months reach back into the training months, which are observed by then.
    pub fn windows<T: Float>(
        &self,
        window: usize,
        targets: Range<usize>,
        scaler: &Standardizer<T>,
    ) -> Result<Dataset<T>, DataError> {
        self.check_range(&targets)?;
        if scaler.width() != 1 {
            return Err(DataError::Width { expected: 1, found: scaler.width() });
        }
        let first = targets.start.max(window);
        if window == 0 || first >= targets.end {
            return Err(DataError::Window { window, start: targets.start, end: targets.end });
        }
        let (mean, scale) = (scaler.mean()[0].as_f64(), scaler.scale()[0].as_f64());
        let standard = |v: f64| T::of((v - mean) / scale);
        let samples = targets.end - first;
        let inputs = (first..targets.end).flat_map(|t| self.values[t - window..t].iter().map(|&v| standard(v)));
        let inputs = DMatrix::from_iterator(window, samples, inputs);
        let labels = DMatrix::from_iterator(1, samples, self.values[first..targets.end].iter().map(|&v| standard(v)));
        Dataset::new(inputs, Labels::Real(labels))
    }

    /// The root mean squared error, in sunspot numbers, of forecasting each
    /// month of `targets` as the month before it ("next month = this
    /// month"), the baseline a forecaster must beat. `targets` must not
    /// start at month 0, which has no month before it.
    pub fn persistence_rmse(&self, targets: Range<usize>) -> Result<f64, DataError> {
        self.check_range(&targets)?;
        if targets.start == 0 {
            return Err(DataError::Window { window: 1, start: 0, end: targets.end });
        }
        let squares: f64 = targets.clone().map(|t| (self.values[t] - self.values[t - 1]).powi(2)).sum();
        Ok((squares / targets.len() as f64).sqrt())
    }

    /// A nonempty range of months within the series.
    fn check_range(&self, months: &Range<usize>) -> Result<(), DataError> {
        if months.is_empty() || months.end > self.len() {
            return Err(DataError::MonthRange { start: months.start, end: months.end, months: self.len() });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_series_is_3126_consecutive_months_as_in_the_file() {
        let s = sunspots();
        assert_eq!(s.len(), 3126);
        assert_eq!((s.months()[0], s.values()[0]), (Month { year: 1749, month: 1 }, 58.0));
        assert_eq!((s.months()[1], s.values()[1]), (Month { year: 1749, month: 2 }, 62.6));
        assert_eq!((s.months()[3125], s.values()[3125]), (Month { year: 2009, month: 6 }, 2.6));
        assert_eq!(s.values()[3124], 2.9);
        for (i, m) in s.months().iter().enumerate() {
            assert_eq!((m.year as usize, m.month as usize), (1749 + i / 12, 1 + i % 12), "month {i}");
        }
        assert!(s.values().iter().all(|&v| (0.0..=253.8).contains(&v)));
        assert_eq!(s.values().iter().cloned().fold(0.0, f64::max), 253.8);
    }

    #[test]
    fn the_split_is_by_time_and_a_validation_part_comes_from_its_end() {
        let s = sunspots();
        let (train, test) = s.split_months(0..s.len(), 0.8).unwrap();
        assert_eq!((train.clone(), test.clone()), (0..2501, 2501..3126));
        assert_eq!(s.months()[train.end - 1], Month { year: 1957, month: 5 });
        assert_eq!(s.months()[test.start], Month { year: 1957, month: 6 });
        let (fit, validation) = s.split_months(train, 0.8).unwrap();
        assert_eq!((fit, validation), (0..2001, 2001..2501));
        assert_eq!(s.split_months(0..s.len(), 1.0).unwrap_err(), DataError::Fraction(1.0));
        let beyond = DataError::MonthRange { start: 3000, end: 3127, months: 3126 };
        assert_eq!(s.split_months(3000..3127, 0.5).unwrap_err(), beyond);
        assert!(matches!(s.split_months(5..5, 0.5), Err(DataError::MonthRange { .. })));
    }

    #[test]
    fn windows_hold_the_months_before_each_target_standardized_by_the_training_months() {
        let s = sunspots();
        let (train, test) = (0..2501, 2501..3126);
        let scaler = s.standardizer::<f64>(train.clone()).unwrap();
        let n = 2501.0;
        let mean = s.values()[..2501].iter().sum::<f64>() / n;
        let std = (s.values()[..2501].iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
        assert!((scaler.mean()[0] - mean).abs() < 1e-12 && (scaler.scale()[0] - std).abs() < 1e-12);
        assert!((mean - 47.408).abs() < 1e-3 && (std - 39.841).abs() < 1e-3, "{mean} {std}");

        let w = s.windows(3, train, &scaler).unwrap();
        assert_eq!((w.width(), w.len()), (3, 2498));
        let Labels::Real(t) = w.labels() else { panic!("real targets") };
        let raw = |v: f64| v * std + mean;
        // The first sample forecasts April 1749 from January to March.
        let first: Vec<f64> = w.inputs().column(0).iter().map(|&v| raw(v)).collect();
        assert!(first.iter().zip([58.0, 62.6, 70.0]).all(|(a, b)| (a - b).abs() < 1e-9), "{first:?}");
        assert!((raw(t[(0, 0)]) - s.values()[3]).abs() < 1e-9);
        // The last training sample's target is the last training month.
        assert!((raw(t[(0, 2497)]) - s.values()[2500]).abs() < 1e-9);

        // Test windows start at the first test month and reach back into training.
        let v = s.windows(24, test, &scaler).unwrap();
        assert_eq!((v.width(), v.len()), (24, 625));
        let Labels::Real(vt) = v.labels() else { panic!("real targets") };
        assert!((raw(vt[(0, 0)]) - 200.7).abs() < 1e-9);
        assert!((raw(v.inputs()[(23, 0)]) - 164.6).abs() < 1e-9, "the last training month");
        assert!((raw(v.inputs()[(0, 624)]) - s.values()[3125 - 24]).abs() < 1e-9);
        assert!((raw(vt[(0, 624)]) - 2.6).abs() < 1e-9);
    }

    #[test]
    fn persistence_is_the_error_of_repeating_the_previous_month() {
        let s = sunspots();
        // Computed from the file's text, not from the loader.
        let file: Vec<f64> = SUNSPOTS.lines().skip(1).map(|l| l.rsplit(',').next().unwrap().parse().unwrap()).collect();
        let mse = (2501..3126).map(|t| (file[t] - file[t - 1]).powi(2)).sum::<f64>() / 625.0;
        let rmse = s.persistence_rmse(2501..3126).unwrap();
        assert!((rmse - mse.sqrt()).abs() < 1e-12);
        assert!((rmse - 19.4738).abs() < 1e-4, "{rmse}");
        // One month: the absolute change.
        assert!((s.persistence_rmse(1..2).unwrap() - 4.6).abs() < 1e-12);
        assert_eq!(s.persistence_rmse(0..10).unwrap_err(), DataError::Window { window: 1, start: 0, end: 10 });
    }

    #[test]
    fn bad_windows_are_errors() {
        let s = sunspots();
        let scaler = s.standardizer::<f32>(0..100).unwrap();
        assert_eq!(s.windows(0, 0..100, &scaler).unwrap_err(), DataError::Window { window: 0, start: 0, end: 100 });
        assert_eq!(s.windows(100, 0..100, &scaler).unwrap_err(), DataError::Window { window: 100, start: 0, end: 100 });
        assert_eq!(s.windows(99, 0..100, &scaler).unwrap().len(), 1);
        let two = Standardizer::from_parts(vec![0.0f32; 2], vec![1.0; 2]).unwrap();
        assert_eq!(s.windows(3, 0..100, &two).unwrap_err(), DataError::Width { expected: 1, found: 2 });
        assert!(matches!(s.windows(3, 0..4000, &scaler), Err(DataError::MonthRange { end: 4000, .. })));
        assert!(matches!(s.standardizer::<f32>(10..10), Err(DataError::MonthRange { .. })));
    }
}
