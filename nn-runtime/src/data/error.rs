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
    SampleCount {
        /// Samples in the inputs (their columns).
        inputs: usize,
        /// Samples the labels describe.
        labels: usize,
    },
    /// A class index is not below the number of classes.
    #[error("sample {sample} has class {class}, but there are {classes} classes")]
    ClassOutOfRange {
        /// The sample with the bad class.
        sample: usize,
        /// Its class index.
        class: usize,
        /// The number of classes, which the index must be below.
        classes: usize,
    },
    /// The data has a different number of features than expected.
    #[error("the data has {found} features per sample but {expected} are expected")]
    Width {
        /// Features per sample the caller expects.
        expected: usize,
        /// Features per sample of the data.
        found: usize,
    },
    /// A split fraction outside (0, 1).
    #[error("split fraction {0} is not strictly between 0 and 1")]
    Fraction(f64),
    /// A sample index beyond the dataset.
    #[error("sample index {index} is out of range for a dataset of {samples} samples")]
    Index {
        /// The sample index asked for.
        index: usize,
        /// Samples in the dataset.
        samples: usize,
    },
    /// An input value is NaN or infinite.
    #[error(
        "input sample {sample}, feature {feature} is {value}: every input must be a finite number \
         (a missing value? fill or drop it before building the data set)"
    )]
    NonFiniteInput {
        /// The sample holding the value.
        sample: usize,
        /// The feature (row of the inputs) holding it.
        feature: usize,
        /// The value itself: NaN or an infinity.
        value: f64,
    },
    /// A real-valued target is NaN or infinite.
    #[error("the target of sample {sample}, output {output} is {value}: every target must be a finite number")]
    NonFiniteTarget {
        /// The sample whose target it is.
        sample: usize,
        /// The output (row of the targets) holding it.
        output: usize,
        /// The value itself: NaN or an infinity.
        value: f64,
    },
    /// A row of plain values has a different length than the others (or than
    /// the width the batch or standardizer takes).
    #[error("row {row} has {found} values, but {expected} are expected")]
    RowLength {
        /// The row with the wrong length.
        row: usize,
        /// Values a row must have.
        expected: usize,
        /// Values that row has.
        found: usize,
    },
    /// A flat slice of samples whose length is not a multiple of the width.
    #[error("{len} values do not divide into samples of {width}")]
    SliceLength {
        /// Values in the slice.
        len: usize,
        /// Values per sample.
        width: usize,
    },
    /// Class names that do not match the labels: a different count, or given
    /// for real-valued targets (`classes` is `None`).
    #[error("{names} class names for {}", match classes {
        Some(n) => format!("{n} classes"),
        None => "real-valued targets, which have no classes".to_string(),
    })]
    ClassNames {
        /// Class names given.
        names: usize,
        /// Classes of the labels; `None` for real-valued targets.
        classes: Option<usize>,
    },
    /// Feature names whose count is not the number of features.
    #[error("{names} feature names for {features} features")]
    FeatureNames {
        /// Feature names given.
        names: usize,
        /// Features per sample of the data.
        features: usize,
    },
    /// A standardizer rebuilt from a different number of means and scales.
    #[error("a standardizer needs one scale per mean, but has {means} means and {scales} scales")]
    StandardizerLength {
        /// Means given.
        means: usize,
        /// Scales given.
        scales: usize,
    },
    /// A standardizer rebuilt with a non-finite mean, or a scale that is not
    /// finite and positive.
    #[error(
        "standardizer feature {feature} has mean {mean} and scale {scale}: the mean must be finite \
         and the scale finite and above 0"
    )]
    StandardizerValue {
        /// The feature whose mean or scale is bad.
        feature: usize,
        /// Its mean.
        mean: f64,
        /// Its scale.
        scale: f64,
    },
    /// A sequence's length outside `1..=steps`, the steps its data set pads to.
    #[error(
        "sample {sample} has length {length}, but a length must be at least 1 and at most the {steps} padded steps"
    )]
    Length {
        /// The sample with the bad length.
        sample: usize,
        /// Its length, in steps.
        length: usize,
        /// Steps the data set pads every sample to.
        steps: usize,
    },
    /// Labels per step that do not cover the steps of the inputs.
    #[error("sample {sample} has {found} labelled steps but {expected} steps of input")]
    StepCount {
        /// The sample whose labels are short or long.
        sample: usize,
        /// Steps of its input.
        expected: usize,
        /// Steps its labels cover.
        found: usize,
    },
    /// A word with a character that has no token in a character vocabulary.
    #[error("word {word} has {found:?} at position {position}: only the letters a-z have tokens")]
    WordCharacter {
        /// The word, by its index in the list given.
        word: usize,
        /// The character's position in the word, counting characters from 0.
        position: usize,
        /// The character.
        found: char,
    },
    /// A model gave another number of next-token probabilities than the
    /// vocabulary has tokens.
    #[error("step {step} of a sampled word has {found} probabilities, but the vocabulary has {expected} tokens")]
    ProbabilityCount {
        /// The step of the word being sampled (0 draws the first letter).
        step: usize,
        /// Tokens in the vocabulary.
        expected: usize,
        /// Probabilities the model gave.
        found: usize,
    },
    /// Next-token probabilities that cannot be drawn from.
    #[error(
        "the probabilities at step {step} of a sampled word cannot be drawn from: they must be finite, \
         not negative, and not all zero"
    )]
    Probabilities {
        /// The step of the word being sampled (0 draws the first letter).
        step: usize,
        /// Why the weights cannot be drawn from.
        #[source]
        source: rand::distr::weighted::Error,
    },
    /// A range of months that is empty or reaches past the series.
    #[error("months {start}..{end} are not a nonempty range within the series' {months} months")]
    MonthRange {
        /// First month of the range, as an index into the series.
        start: usize,
        /// End of the range (exclusive).
        end: usize,
        /// Months in the series.
        months: usize,
    },
    /// No month of `start..end` has `window` months before it (or the window
    /// is empty).
    #[error("no month of {start}..{end} has a window of {window} months before it (the window must be at least 1)")]
    Window {
        /// Months of history each sample takes.
        window: usize,
        /// First target month, as an index into the series.
        start: usize,
        /// End of the target months (exclusive).
        end: usize,
    },
}
