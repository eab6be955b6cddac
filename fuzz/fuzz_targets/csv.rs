//! Any bytes into the CSV reader, under settings taken from the first byte:
//! it must return a dataset whose parts agree (and a batch of finite rows to
//! predict), or a typed error, never panic.
//!
//! libFuzzer needs a nightly toolchain and `cargo install cargo-fuzz`; from `fuzz/`:
//! `mkdir -p corpus/csv && nice cargo +nightly fuzz run csv corpus/csv seeds/csv -- -dict=csv.dict -max_total_time=300`
//! (`seeds/csv/` holds small files that start with a settings byte; `corpus/` is not committed).
#![no_main]

use libfuzzer_sys::fuzz_target;
use nn_runtime::data::{Csv, Dataset, LabelColumn, Labels};

/// Reader settings from one byte: bits 0-1 the label kind, bits 2-3 the
/// label column, bit 4 a header row, bit 5 one skipped line, bit 6 `;` as
/// the delimiter, bit 7 `f32` instead of `f64`.
fn settings(byte: u8) -> Csv {
    let mut csv = Csv::new().header(byte & 0x10 != 0).skip_lines(usize::from(byte & 0x20 != 0));
    csv = match byte & 0b11 {
        0 => csv,
        1 => csv.classes(3),
        2 => csv.class_names(["setosa", "versicolor", "virginica"]),
        _ => csv.named_classes(),
    };
    csv = match (byte >> 2) & 0b11 {
        0 => csv,
        1 => csv.label_column(0),
        2 => csv.label_column(LabelColumn::Index(2)),
        _ => csv.label_column("species"),
    };
    if byte & 0x40 != 0 {
        csv = csv.delimiter(';');
    }
    csv
}

/// What every dataset the reader returns must satisfy.
fn check<T: nn_runtime::Float>(data: &Dataset<T>) {
    assert!(!data.is_empty(), "an empty dataset is the Empty error");
    assert!(data.inputs().iter().all(|v| v.as_f64().is_finite()), "non-finite input");
    match data.labels() {
        Labels::Classes { indices, count } => {
            assert_eq!(indices.len(), data.len());
            assert!(indices.iter().all(|c| c < count), "class out of range");
            if let Some(names) = data.class_names() {
                assert_eq!(names.len(), *count);
            }
        }
        Labels::Real(t) => {
            assert_eq!(t.shape(), (1, data.len()));
            assert!(t.iter().all(|v| v.as_f64().is_finite()), "non-finite target");
        }
    }
    if let Some(names) = data.feature_names() {
        assert_eq!(names.len(), data.width());
    }
}

fuzz_target!(|bytes: &[u8]| {
    let Some((&byte, text)) = bytes.split_first() else { return };
    let csv = settings(byte);
    let dataset = if byte & 0x80 == 0 {
        csv.parse_bytes::<f64>(text).map(|d| check(&d))
    } else {
        csv.parse_bytes::<f32>(text).map(|d| check(&d))
    };
    // The same bytes as rows to predict, every column an input.
    let batch = csv.parse_batch_bytes::<f32, 3>(text).map(|x| {
        assert!(x.ncols() > 0, "an empty file is the Empty error");
        assert!(x.iter().all(|v| v.is_finite()), "non-finite input");
    });
    for error in [dataset.err(), batch.err()].into_iter().flatten() {
        assert!(!error.to_string().is_empty());
    }
});
