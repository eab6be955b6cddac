//! A small CSV reader for numeric data with one label column, whose errors
//! give the line and column of the first bad field.

use std::fmt;
use std::path::Path;

use nalgebra::DMatrix;

use super::{Dataset, Labels};
use crate::Float;

/// Which field of a row is the label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabelColumn {
    /// The last field (the default).
    Last,
    /// Field `i`, counted from 0.
    Index(usize),
}

/// How to read a CSV file: `Csv::new().skip_lines(1).classes(3).parse::<f64>(text)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Csv {
    skip_lines: usize,
    label: LabelColumn,
    delimiter: char,
    classes: Option<usize>,
}

/// What was wrong with a CSV file. Lines and columns count from 1.
#[derive(Clone, Debug, PartialEq)]
pub enum CsvError {
    /// The file could not be read.
    Io { path: String, message: String },
    /// No data rows after the skipped header lines.
    Empty,
    /// A row with a different number of fields than the first data row.
    Ragged { line: usize, expected: usize, found: usize },
    /// A field that is not a number.
    NotANumber { line: usize, column: usize, text: String },
    /// A class label that is not an integer in `0..classes`.
    LabelOutOfRange { line: usize, column: usize, text: String, classes: usize },
    /// The label column does not exist in the first data row.
    NoLabelColumn { line: usize, column: usize, fields: usize },
}

impl fmt::Display for CsvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CsvError::Io { path, message } => write!(f, "cannot read {path}: {message}"),
            CsvError::Empty => write!(f, "the file has no data rows"),
            CsvError::Ragged { line, expected, found } => {
                write!(f, "line {line}: {found} fields, but the first data row has {expected}")
            }
            CsvError::NotANumber { line, column, text } => {
                write!(f, "line {line}, column {column}: {text:?} is not a number")
            }
            CsvError::LabelOutOfRange { line, column, text, classes } => write!(
                f,
                "line {line}, column {column}: label {text:?} is not a class index 0..{}",
                classes.saturating_sub(1)
            ),
            CsvError::NoLabelColumn { line, column, fields } => {
                write!(f, "line {line}: label column {column} does not exist (the row has {fields} fields)")
            }
        }
    }
}

impl std::error::Error for CsvError {}

impl Default for Csv {
    fn default() -> Self {
        Self::new()
    }
}

impl Csv {
    /// Comma-separated, no header, label last, real-valued label.
    pub fn new() -> Self {
        Self { skip_lines: 0, label: LabelColumn::Last, delimiter: ',', classes: None }
    }
    /// Lines at the top to ignore (headers).
    pub fn skip_lines(mut self, n: usize) -> Self {
        self.skip_lines = n;
        self
    }
    /// Which field holds the label.
    pub fn label_column(mut self, column: LabelColumn) -> Self {
        self.label = column;
        self
    }
    /// The field separator.
    pub fn delimiter(mut self, delimiter: char) -> Self {
        self.delimiter = delimiter;
        self
    }
    /// Labels are class indices `0..count` (otherwise a real target).
    pub fn classes(mut self, count: usize) -> Self {
        self.classes = Some(count);
        self
    }

    /// Reads and parses a file.
    pub fn read<T: Float>(&self, path: impl AsRef<Path>) -> Result<Dataset<T>, CsvError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| CsvError::Io { path: path.display().to_string(), message: e.to_string() })?;
        self.parse(&text)
    }

    /// Parses CSV text. Blank lines are ignored; fields are trimmed.
    pub fn parse<T: Float>(&self, text: &str) -> Result<Dataset<T>, CsvError> {
        let mut features: Vec<T> = Vec::new();
        let mut classes: Vec<usize> = Vec::new();
        let mut real: Vec<T> = Vec::new();
        let mut layout: Option<(usize, usize)> = None; // (fields per row, label index)
        let mut samples = 0;
        for (i, raw) in text.lines().enumerate().skip(self.skip_lines) {
            let line = i + 1;
            if raw.trim().is_empty() {
                continue;
            }
            let found = raw.split(self.delimiter).count();
            let (fields, label) = *layout.get_or_insert_with(|| {
                (
                    found,
                    match self.label {
                        LabelColumn::Last => found - 1,
                        LabelColumn::Index(k) => k,
                    },
                )
            });
            if label >= fields {
                return Err(CsvError::NoLabelColumn { line, column: label + 1, fields });
            }
            if found != fields {
                return Err(CsvError::Ragged { line, expected: fields, found });
            }
            samples += 1;
            for (k, field) in raw.split(self.delimiter).enumerate() {
                let field = field.trim();
                let value: f64 = field
                    .parse()
                    .ok()
                    .filter(|v: &f64| v.is_finite())
                    .ok_or_else(|| CsvError::NotANumber { line, column: k + 1, text: field.to_string() })?;
                if k != label {
                    features.push(T::of(value));
                } else if let Some(count) = self.classes {
                    if value.fract() != 0.0 || value < 0.0 || value >= count as f64 {
                        return Err(CsvError::LabelOutOfRange {
                            line,
                            column: k + 1,
                            text: field.to_string(),
                            classes: count,
                        });
                    }
                    classes.push(value as usize);
                } else {
                    real.push(T::of(value));
                }
            }
        }
        let (fields, _) = layout.ok_or(CsvError::Empty)?;
        let width = fields - 1;
        let inputs = DMatrix::from_vec(width, samples, features);
        let labels = match self.classes {
            Some(count) => Labels::Classes { indices: classes, count },
            None => Labels::Real(DMatrix::from_vec(1, samples, real)),
        };
        Ok(Dataset { inputs, labels })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_features_and_labels_with_header_and_other_label_column() {
        let text = "a;b;label;c\n1;2;0;3\n\n4; 5 ;2;6\n";
        let d: Dataset<f64> =
            Csv::new().skip_lines(1).delimiter(';').label_column(LabelColumn::Index(2)).classes(3).parse(text).unwrap();
        assert_eq!(d.inputs(), &DMatrix::from_column_slice(3, 2, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
        assert_eq!(d.labels(), &Labels::Classes { indices: vec![0, 2], count: 3 });
        let r: Dataset<f32> = Csv::new().parse("1,2.5\n3,-1\n").unwrap();
        assert_eq!(r.labels(), &Labels::Real(DMatrix::from_row_slice(1, 2, &[2.5, -1.0])));
        let labels_only: Dataset<f64> = Csv::new().classes(2).parse("1\n0\n1\n").unwrap();
        assert_eq!((labels_only.width(), labels_only.len()), (0, 3));
    }

    #[test]
    fn bad_files_give_line_and_column() {
        let csv = Csv::new().skip_lines(1).classes(3);
        assert_eq!(
            csv.parse::<f64>("h\n1,2,0\n3,4\n").unwrap_err(),
            CsvError::Ragged { line: 3, expected: 3, found: 2 }
        );
        assert_eq!(
            csv.parse::<f64>("h\n1,2,0\n3,x7,1\n").unwrap_err(),
            CsvError::NotANumber { line: 3, column: 2, text: "x7".into() }
        );
        assert_eq!(
            csv.parse::<f64>("h\n1,2,0\n\n3,4,3\n").unwrap_err(),
            CsvError::LabelOutOfRange { line: 4, column: 3, text: "3".into(), classes: 3 }
        );
        assert_eq!(
            csv.parse::<f64>("h\n1,2,1.5\n").unwrap_err(),
            CsvError::LabelOutOfRange { line: 2, column: 3, text: "1.5".into(), classes: 3 }
        );
        assert_eq!(csv.parse::<f64>("").unwrap_err(), CsvError::Empty);
        assert_eq!(csv.parse::<f64>("header only\n\n").unwrap_err(), CsvError::Empty);
        assert_eq!(
            Csv::new().label_column(LabelColumn::Index(5)).parse::<f64>("1,2\n").unwrap_err(),
            CsvError::NoLabelColumn { line: 1, column: 6, fields: 2 }
        );
        assert_eq!(
            csv.parse::<f64>("h\n1,NaN,0\n").unwrap_err(),
            CsvError::NotANumber { line: 2, column: 2, text: "NaN".into() }
        );
        assert!(matches!(csv.read::<f64>("/nonexistent/file.csv").unwrap_err(), CsvError::Io { .. }));
    }

    #[test]
    fn files_on_disk_report_the_same_errors() {
        let dir = std::env::temp_dir().join(format!("nn-csv-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cases = [
            ("empty.csv", "", CsvError::Empty),
            ("ragged.csv", "1,2,0\r\n3,4,1,5\r\n", CsvError::Ragged { line: 2, expected: 3, found: 4 }),
            ("text.csv", "1,2,0\n3,four,1\n", CsvError::NotANumber { line: 2, column: 2, text: "four".into() }),
            (
                "label.csv",
                "1,2,0\n3,4,-1\n",
                CsvError::LabelOutOfRange { line: 2, column: 3, text: "-1".into(), classes: 2 },
            ),
        ];
        for (name, text, expected) in cases {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            assert_eq!(Csv::new().classes(2).read::<f32>(&path).unwrap_err(), expected, "{name}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
