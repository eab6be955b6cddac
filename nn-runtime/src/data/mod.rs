//! Data for training and prediction: a [`Dataset`] of inputs (one column per
//! sample) and labels, built from a matrix, plain rows, a network batch or a
//! CSV file ([`Csv`]); the embedded digits and iris data; random and
//! stratified splits; standardization that can be saved and rebuilt;
//! mini-batches copied into reused buffers; and two embedded sequence data
//! sets: English words for a character-level language model ([`words`],
//! [`CharSequences`]) and the monthly sunspot numbers to forecast
//! ([`sunspots`]). The embedded data sets (and their decompressor) come with
//! the feature `datasets`, on by default.
//!
//! A network takes a [`Batch<T, N>`](crate::batch::Batch), one column per sample:
//! [`Dataset::to_batch`], [`Dataset::from_batch`], [`batch_from_rows`],
//! [`batch_from_slice`] and [`batch_to_rows`] convert between them.
//!
//! Nothing here accepts NaN or infinity as data: each is an error naming the
//! sample and feature (the line and column of a CSV file).

mod adding;
mod csv;
mod dataset;
#[cfg(feature = "datasets")]
mod digits;
mod error;
#[cfg(feature = "datasets")]
mod iris;
mod minibatch;
mod rows;
mod split;
mod standardize;
#[cfg(feature = "datasets")]
mod sunspots;
mod words;

pub use adding::adding_problem;
pub use csv::{Csv, CsvError, CsvField, LabelColumn};
pub use dataset::{Dataset, Labels, Lengths};
#[cfg(feature = "datasets")]
pub use digits::digits;
pub use error::DataError;
#[cfg(feature = "datasets")]
pub use iris::iris;
pub use minibatch::MiniBatch;
pub use rows::{batch_from_rows, batch_from_slice, batch_to_rows};
pub use split::{split, stratified_split};
pub use standardize::Standardizer;
#[cfg(feature = "datasets")]
pub use sunspots::{sunspots, Month, Sunspots};
#[cfg(feature = "datasets")]
pub use words::words;
pub use words::{bits_per_character, sample_word, split_words, CharSequences, Chars};

use crate::kernels::Float;

/// The first NaN or infinity among `values`, which hold samples of `width`
/// values one after another: (sample, position within the sample, value).
fn first_non_finite<T: Float>(values: &[T], width: usize) -> Option<(usize, usize, f64)> {
    let i = values.iter().position(|v| !v.as_f64().is_finite())?;
    Some((i / width, i % width, values[i].as_f64()))
}

/// Parses the embedded, known-good CSV of a bundled dataset.
#[cfg(feature = "datasets")]
fn embedded<T: Float>(name: &str, csv: &Csv, text: &str) -> Dataset<T> {
    csv.parse(text).unwrap_or_else(|e| panic!("the embedded {name} data is corrupt: {e}"))
}
