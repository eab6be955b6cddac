//! What can be wrong with data handed to `nn::data`. Sample, feature and row
//! numbers count from 0, as the indices of `Dataset::inputs()` and of the
//! caller's own rows; a CSV file's lines and columns count from 1 (`CsvError`).

/// Data whose parts do not fit together, or that holds values no network can
/// learn from.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// Inputs and labels describe different numbers of samples.
    #[error("{inputs} input samples but {labels} labels")]
    SampleCount { inputs: usize, labels: usize },
    /// A class index is not below the number of classes.
    #[error("sample {sample} has class {class}, but there are {classes} classes")]
    ClassOutOfRange { sample: usize, class: usize, classes: usize },
    /// The data has a different number of features than expected.
    #[error("the data has {found} features per sample but {expected} are expected")]
    Width { expected: usize, found: usize },
    /// A split fraction outside (0, 1).
    #[error("split fraction {0} is not strictly between 0 and 1")]
    Fraction(f64),
    /// A sample index beyond the dataset.
    #[error("sample index {index} is out of range for a dataset of {samples} samples")]
    Index { index: usize, samples: usize },
    /// An input value is NaN or infinite.
    #[error(
        "input sample {sample}, feature {feature} is {value}: every input must be a finite number \
         (a missing value? fill or drop it before building the data set)"
    )]
    NonFiniteInput { sample: usize, feature: usize, value: f64 },
    /// A real-valued target is NaN or infinite.
    #[error("the target of sample {sample}, output {output} is {value}: every target must be a finite number")]
    NonFiniteTarget { sample: usize, output: usize, value: f64 },
    /// A row of plain values has a different length than the others (or than
    /// the width the batch or standardizer takes).
    #[error("row {row} has {found} values, but {expected} are expected")]
    RowLength { row: usize, expected: usize, found: usize },
    /// A flat slice of samples whose length is not a multiple of the width.
    #[error("{len} values do not divide into samples of {width}")]
    SliceLength { len: usize, width: usize },
    /// Class names that do not match the labels: a different count, or given
    /// for real-valued targets (`classes` is `None`).
    #[error("{names} class names for {}", match classes {
        Some(n) => format!("{n} classes"),
        None => "real-valued targets, which have no classes".to_string(),
    })]
    ClassNames { names: usize, classes: Option<usize> },
    /// Feature names whose count is not the number of features.
    #[error("{names} feature names for {features} features")]
    FeatureNames { names: usize, features: usize },
    /// A standardizer rebuilt from a different number of means and scales.
    #[error("a standardizer needs one scale per mean, but has {means} means and {scales} scales")]
    StandardizerLength { means: usize, scales: usize },
    /// A standardizer rebuilt with a non-finite mean, or a scale that is not
    /// finite and positive.
    #[error(
        "standardizer feature {feature} has mean {mean} and scale {scale}: the mean must be finite \
         and the scale finite and above 0"
    )]
    StandardizerValue { feature: usize, mean: f64, scale: f64 },
    /// A sequence's length outside `1..=steps`, the steps its data set pads to.
    #[error(
        "sample {sample} has length {length}, but a length must be at least 1 and at most the {steps} padded steps"
    )]
    Length { sample: usize, length: usize, steps: usize },
    /// Labels per step that do not cover the steps of the inputs.
    #[error("sample {sample} has {found} labelled steps but {expected} steps of input")]
    StepCount { sample: usize, expected: usize, found: usize },
    /// A word with a character that has no token in a character vocabulary.
    #[error("word {word} has {found:?} at position {position}: only the letters a-z have tokens")]
    WordCharacter { word: usize, position: usize, found: char },
    /// A model gave another number of next-token probabilities than the
    /// vocabulary has tokens.
    #[error("step {step} of a sampled word has {found} probabilities, but the vocabulary has {expected} tokens")]
    ProbabilityCount { step: usize, expected: usize, found: usize },
    /// Next-token probabilities that cannot be drawn from.
    #[error(
        "the probabilities at step {step} of a sampled word cannot be drawn from: they must be finite, \
         not negative, and not all zero"
    )]
    Probabilities {
        step: usize,
        #[source]
        source: rand::distr::weighted::Error,
    },
    /// A range of months that is empty or reaches past the series.
    #[error("months {start}..{end} are not a nonempty range within the series' {months} months")]
    MonthRange { start: usize, end: usize, months: usize },
    /// No month of `start..end` has `window` months before it (or the window
    /// is empty).
    #[error("no month of {start}..{end} has a window of {window} months before it (the window must be at least 1)")]
    Window { window: usize, start: usize, end: usize },
}
