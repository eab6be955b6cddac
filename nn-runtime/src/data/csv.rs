//! A CSV reader for numeric features and one label column, on the `csv`
//! crate: quoted fields (also across lines), a UTF-8 byte-order mark, a header
//! row of column names, the label column by position or by name, and class
//! labels written as indices or as words. Errors give the line and column of
//! the first bad field, and its column's name where the file has a header.

use std::fmt;
use std::path::{Path, PathBuf};

use nalgebra::DMatrix;

use super::{Dataset, Labels};
use crate::{batch::Batch, kernels::Float};

/// Which field of a row is the label.
///
/// `Csv::label_column` also takes a column number (`2`, counted from 0) or a
/// header name (`"species"`) directly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LabelColumn {
    /// The last field (the default).
    Last,
    /// Field `i`, counted from 0.
    Index(usize),
    /// The column of this name in the header row (see [`Csv::header`]).
    Named(String),
}

impl From<usize> for LabelColumn {
    fn from(i: usize) -> Self {
        LabelColumn::Index(i)
    }
}

impl From<&str> for LabelColumn {
    fn from(name: &str) -> Self {
        LabelColumn::Named(name.to_string())
    }
}

impl From<String> for LabelColumn {
    fn from(name: String) -> Self {
        LabelColumn::Named(name)
    }
}

/// What the label column holds.
#[derive(Clone, Debug, PartialEq)]
enum Target {
    /// A real number: a regression target.
    Real,
    /// A class index below the count.
    ClassIndices(usize),
    /// One of these class names; its position is the class index.
    ClassNames(Vec<String>),
    /// A class name; the classes are the distinct names, sorted.
    ClassNamesFound,
}

/// How to read a CSV file into a [`Dataset`]: every field but the label is
/// a feature and must be a finite number.
///
/// By default: comma-separated, no header, the label last and real-valued.
/// Fields may be quoted (`"1,5"`, `"say ""hi"""`, also across lines) and
/// are trimmed; blank lines are ignored; a UTF-8 byte-order mark is skipped.
///
/// ```
/// # use nn_runtime as nn;
/// use nn::data::Csv;
///
/// let text = "\u{feff}sepal length,sepal width,species\n\
///             5.1,3.5,setosa\n\
///             7.0,3.2,\"versicolor\"\n\
///             6.3,3.3,virginica\n";
/// let flowers = Csv::new().header(true).label_column("species").named_classes().parse::<f32>(text)?;
/// assert_eq!((flowers.len(), flowers.width()), (3, 2));
/// assert_eq!(flowers.class_names().unwrap(), ["setosa", "versicolor", "virginica"]);
/// assert_eq!(flowers.feature_names().unwrap(), ["sepal length", "sepal width"]);
///
/// // Errors name the line, the column and its header.
/// let err = Csv::new().header(true).named_classes().parse::<f32>("a,b,class\n1,x,dog\n").unwrap_err();
/// assert_eq!(err.to_string(), "line 2, column 2 (\"b\"): \"x\" is not a number");
/// # Ok::<(), nn::data::CsvError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Csv {
    skip_lines: usize,
    header: bool,
    label: LabelColumn,
    delimiter: char,
    target: Target,
}

/// Where a bad field is: its line and column (both from 1) and, if the file
/// has a header row, the column's name. The line is where the row starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvField {
    /// The line the row starts on, from 1.
    pub line: usize,
    /// The column, from 1.
    pub column: usize,
    /// The column's name in the header row, if the file has one.
    pub header: Option<String>,
}

impl fmt::Display for CsvField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)?;
        match &self.header {
            Some(name) => write!(f, " ({name:?})"),
            None => Ok(()),
        }
    }
}

/// What was wrong with a CSV file. Lines and columns count from 1.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CsvError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why it could not be read.
        source: std::io::Error,
    },
    /// A delimiter the reader cannot use.
    #[error("the delimiter {0:?} is not a single-byte (ASCII) character")]
    Delimiter(char),
    /// The label column is named, but the file is read without a header row.
    #[error("the label column is named {0:?}, which needs a header row of column names: add `.header(true)`")]
    NoHeader(String),
    /// No data rows after the skipped lines and the header.
    #[error("the file has no data rows")]
    Empty,
    /// The underlying `csv` reader failed.
    #[error("the CSV reader failed: {0}")]
    Reader(#[from] csv::Error),
    /// A field that is not UTF-8 text.
    #[error("{at}: the text is not valid UTF-8 ({source})")]
    NotUtf8 {
        /// Where the field is.
        at: CsvField,
        /// Where the UTF-8 decoding failed.
        source: std::str::Utf8Error,
    },
    /// Rows to predict with a different number of columns than the network's inputs.
    #[error("the rows have {found} columns, but the network takes {expected} inputs")]
    Width {
        /// Inputs the network takes.
        expected: usize,
        /// Columns of the rows.
        found: usize,
    },
    /// A row with a different number of fields than the first row (the header, if any).
    #[error("line {line}: {found} fields, but the first row has {expected}")]
    Ragged {
        /// The line the short or long row starts on.
        line: usize,
        /// Fields of the first row.
        expected: usize,
        /// Fields of this row.
        found: usize,
    },
    /// The label column does not exist in the first row.
    #[error("line {line}: label column {column} does not exist (the row has {fields} fields)")]
    NoLabelColumn {
        /// The first row's line.
        line: usize,
        /// The label column asked for, from 1.
        column: usize,
        /// Fields of the first row.
        fields: usize,
    },
    /// No column of the header row has the label column's name.
    #[error("line {line}: no column is named {name:?}; the header has {headers:?}")]
    NoColumnNamed {
        /// The header row's line.
        line: usize,
        /// The label column's name asked for.
        name: String,
        /// The names the header has.
        headers: Vec<String>,
    },
    /// The label column's name is in the header row more than once.
    #[error("line {line}: columns {first} and {second} are both named {name:?}, so the label column is ambiguous")]
    DuplicateColumn {
        /// The header row's line.
        line: usize,
        /// The name given twice.
        name: String,
        /// The first column with it, from 1.
        first: usize,
        /// The second column with it, from 1.
        second: usize,
    },
    /// A field that is not a number.
    #[error("{at}: {text:?} is not a number")]
    NotANumber {
        /// Where the field is.
        at: CsvField,
        /// The field's text.
        text: String,
    },
    /// A number that is NaN or infinite, or too large for the float type.
    #[error(
        "{at}: {text:?} is NaN, infinite or out of range: every value must be a finite number \
         (a missing value? fill or drop it)"
    )]
    NonFinite {
        /// Where the field is.
        at: CsvField,
        /// The field's text.
        text: String,
    },
    /// A class label that is not an integer in `0..classes`.
    #[error("{at}: label {text:?} is not a class index 0..{}{}", classes.saturating_sub(1), word_hint(text))]
    LabelOutOfRange {
        /// Where the label is.
        at: CsvField,
        /// The label's text.
        text: String,
        /// Classes the reader was told there are.
        classes: usize,
    },
    /// A class label that is not one of the given class names.
    #[error("{at}: label {text:?} is not one of the class names {names:?}")]
    UnknownClass {
        /// Where the label is.
        at: CsvField,
        /// The label's text.
        text: String,
        /// The class names given.
        names: Vec<String>,
    },
}

/// The fix for class names written as words where indices were asked for.
fn word_hint(label: &str) -> &'static str {
    if label.parse::<f64>().is_ok() {
        ""
    } else {
        "; for class names written as words use `.named_classes()` or `.class_names([..])`"
    }
}

impl Default for Csv {
    fn default() -> Self {
        Self::new()
    }
}

impl Csv {
    /// Comma-separated, no header, label last, real-valued label.
    pub fn new() -> Self {
        Self { skip_lines: 0, header: false, label: LabelColumn::Last, delimiter: ',', target: Target::Real }
    }
    /// Lines at the top to ignore (before the header row, if any).
    pub fn skip_lines(mut self, n: usize) -> Self {
        self.skip_lines = n;
        self
    }
    /// The first row (after the skipped lines) names the columns: the label
    /// column can be chosen by name, errors name the column, and the
    /// dataset keeps the feature names.
    pub fn header(mut self, yes: bool) -> Self {
        self.header = yes;
        self
    }
    /// Which field holds the label: [`LabelColumn::Last`] (the default), a
    /// position counted from 0 (`2`), or a header name (`"species"`).
    pub fn label_column(mut self, column: impl Into<LabelColumn>) -> Self {
        self.label = column.into();
        self
    }
    /// The field separator, an ASCII character.
    pub fn delimiter(mut self, delimiter: char) -> Self {
        self.delimiter = delimiter;
        self
    }
    /// Labels are class indices `0..count` (otherwise a real target).
    pub fn classes(mut self, count: usize) -> Self {
        self.target = Target::ClassIndices(count);
        self
    }
    /// Labels are these class names (words such as `"setosa"`), and a
    /// name's position in `names` is its class index; any other label is an
    /// error. Fixes the class indices across files that do not all hold
    /// every class. The dataset keeps the names.
    pub fn class_names<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.target = Target::ClassNames(names.into_iter().map(Into::into).collect());
        self
    }
    /// Labels are class names (words such as `"setosa"`); the classes are
    /// the distinct names found, sorted (so `"10"` comes before `"9"`: use
    /// [`Csv::classes`] for class indices). The dataset keeps the names.
    pub fn named_classes(mut self) -> Self {
        self.target = Target::ClassNamesFound;
        self
    }

    /// Reads and parses a file.
    pub fn read<T: Float>(&self, path: impl AsRef<Path>) -> Result<Dataset<T>, CsvError> {
        self.parse_bytes(&read_file(path.as_ref())?)
    }

    /// Parses CSV text.
    pub fn parse<T: Float>(&self, text: &str) -> Result<Dataset<T>, CsvError> {
        self.parse_bytes(text.as_bytes())
    }

    /// Parses CSV bytes, which must be UTF-8 text.
    pub fn parse_bytes<T: Float>(&self, bytes: &[u8]) -> Result<Dataset<T>, CsvError> {
        let table = self.table::<T>(bytes, true)?;
        let n = table.samples;
        let (labels, class_names) = match &self.target {
            Target::Real => (Labels::Real(DMatrix::from_vec(1, n, table.real)), None),
            Target::ClassIndices(count) => (Labels::Classes { indices: table.classes, count: *count }, None),
            Target::ClassNames(names) => {
                (Labels::Classes { indices: table.classes, count: names.len() }, Some(names.clone()))
            }
            Target::ClassNamesFound => {
                let mut names = table.words.clone();
                names.sort_unstable();
                names.dedup();
                let indices = table.words.iter().map(|w| names.binary_search(w).expect("a found name")).collect();
                (Labels::Classes { indices, count: names.len() }, Some(names))
            }
        };
        let inputs = DMatrix::from_vec(table.width, n, table.features);
        Ok(Dataset::unchecked(inputs, labels, class_names, table.feature_names))
    }

    /// Reads a file of inputs without labels, one sample per row (every
    /// column is a feature; the label settings are not used), as the batch a
    /// network with `N` inputs takes: the rows to predict.
    ///
    /// ```
    /// # use nn_runtime as nn;
    /// use nn::data::Csv;
    /// use nn::Batch;
    ///
    /// let x: Batch<f32, 2> = Csv::new().header(true).parse_batch("height,weight\n1.8,75\n1.6,\"52.5\"\n")?;
    /// assert_eq!(x.column(1).as_slice(), &[1.6, 52.5]);
    /// # Ok::<(), nn::data::CsvError>(())
    /// ```
    pub fn read_batch<T: Float, const N: usize>(&self, path: impl AsRef<Path>) -> Result<Batch<T, N>, CsvError> {
        self.parse_batch_bytes(&read_file(path.as_ref())?)
    }

    /// [`Csv::read_batch`] from text.
    pub fn parse_batch<T: Float, const N: usize>(&self, text: &str) -> Result<Batch<T, N>, CsvError> {
        self.parse_batch_bytes(text.as_bytes())
    }

    /// [`Csv::read_batch`] from bytes, which must be UTF-8 text.
    pub fn parse_batch_bytes<T: Float, const N: usize>(&self, bytes: &[u8]) -> Result<Batch<T, N>, CsvError> {
        let table = self.table::<T>(bytes, false)?;
        if table.width != N {
            return Err(CsvError::Width { expected: N, found: table.width });
        }
        Ok(Batch::<T, N>::from_iterator(table.samples, table.features))
    }

    /// Reads every row: features, and labels if `labelled`.
    fn table<T: Float>(&self, bytes: &[u8], labelled: bool) -> Result<Table<T>, CsvError> {
        let delimiter =
            u8::try_from(self.delimiter).ok().filter(u8::is_ascii).ok_or(CsvError::Delimiter(self.delimiter))?;
        if let (LabelColumn::Named(name), false, true) = (&self.label, self.header, labelled) {
            return Err(CsvError::NoHeader(name.clone()));
        }
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let (skipped, rest) = skip_lines(bytes, self.skip_lines);
        let mut lines = Lines { bytes: rest, counted: 0, line: skipped + 1 };
        let mut reader =
            csv::ReaderBuilder::new().has_headers(false).flexible(true).delimiter(delimiter).from_reader(rest);
        let mut record = csv::ByteRecord::new();
        let mut header: Option<Vec<String>> = None;
        let mut layout: Option<Layout> = None;
        let mut table = Table::<T>::default();
        while reader.read_byte_record(&mut record)? {
            let line = lines.of_record(record.position().map_or(0, |p| p.byte() as usize));
            let row = decode(&record, line, header.as_deref())?;
            if let [only] = row[..] {
                if only.is_empty() {
                    continue; // a line of spaces
                }
            }
            let layout = match layout {
                Some(layout) => layout,
                None => {
                    let first =
                        if labelled { self.layout(line, &row)? } else { Layout { fields: row.len(), label: None } };
                    layout = Some(first);
                    if self.header {
                        header = Some(row.iter().map(|name| name.to_string()).collect());
                        continue;
                    }
                    first
                }
            };
            if row.len() != layout.fields {
                return Err(CsvError::Ragged { line, expected: layout.fields, found: row.len() });
            }
            for (k, text) in row.iter().enumerate() {
                let at = || CsvField { line, column: k + 1, header: header.as_ref().map(|h| h[k].clone()) };
                if Some(k) == layout.label {
                    self.push_label(&mut table, text, at)?;
                } else {
                    table.features.push(number(text, at)?);
                }
            }
            table.samples += 1;
        }
        let layout = match layout {
            Some(layout) if table.samples > 0 => layout,
            _ => return Err(CsvError::Empty),
        };
        table.width = layout.fields - usize::from(layout.label.is_some());
        table.feature_names = header.map(|mut names| {
            if let Some(label) = layout.label {
                names.remove(label);
            }
            names
        });
        Ok(table)
    }

    /// The row width and label position, from the first row (the header, if any).
    fn layout(&self, line: usize, row: &[&str]) -> Result<Layout, CsvError> {
        let fields = row.len();
        let label = match &self.label {
            LabelColumn::Last => fields.saturating_sub(1),
            LabelColumn::Index(k) => *k,
            LabelColumn::Named(name) => {
                let mut found = row.iter().enumerate().filter(|(_, h)| *h == name).map(|(k, _)| k + 1);
                let headers = || row.iter().map(|h| h.to_string()).collect();
                let first = found.next().ok_or_else(|| CsvError::NoColumnNamed {
                    line,
                    name: name.clone(),
                    headers: headers(),
                })?;
                if let Some(second) = found.next() {
                    return Err(CsvError::DuplicateColumn { line, name: name.clone(), first, second });
                }
                first - 1
            }
        };
        if label >= fields {
            return Err(CsvError::NoLabelColumn { line, column: label + 1, fields });
        }
        Ok(Layout { fields, label: Some(label) })
    }

    /// Reads one label as the target kind asks.
    fn push_label<T: Float>(
        &self,
        table: &mut Table<T>,
        text: &str,
        at: impl Fn() -> CsvField,
    ) -> Result<(), CsvError> {
        match &self.target {
            Target::Real => table.real.push(number(text, at)?),
            Target::ClassIndices(count) => match text.parse::<f64>() {
                Ok(v) if v.fract() == 0.0 && v >= 0.0 && v < *count as f64 => table.classes.push(v as usize),
                _ => return Err(CsvError::LabelOutOfRange { at: at(), text: text.to_string(), classes: *count }),
            },
            Target::ClassNames(names) => match names.iter().position(|n| n == text) {
                Some(class) => table.classes.push(class),
                None => return Err(CsvError::UnknownClass { at: at(), text: text.to_string(), names: names.clone() }),
            },
            Target::ClassNamesFound => table.words.push(text.to_string()),
        }
        Ok(())
    }
}

/// How many fields a row has, and which is the label (if the rows have one).
#[derive(Clone, Copy, Debug)]
struct Layout {
    fields: usize,
    label: Option<usize>,
}

/// The rows read: features sample after sample (column-major inputs), and
/// the labels in the form the target kind asks for.
struct Table<T> {
    samples: usize,
    /// Features per sample.
    width: usize,
    features: Vec<T>,
    feature_names: Option<Vec<String>>,
    real: Vec<T>,
    classes: Vec<usize>,
    words: Vec<String>,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Self {
            samples: 0,
            width: 0,
            features: Vec::new(),
            feature_names: None,
            real: Vec::new(),
            classes: Vec::new(),
            words: Vec::new(),
        }
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, CsvError> {
    std::fs::read(path).map_err(|source| CsvError::Io { path: path.to_path_buf(), source })
}

/// The index just after the first line break (LF, CRLF or a lone CR, as the
/// `csv` crate ends records) in `bytes`.
fn after_line_break(bytes: &[u8]) -> Option<usize> {
    let i = bytes.iter().position(|&b| b == b'\n' || b == b'\r')?;
    Some(if bytes[i..].starts_with(b"\r\n") { i + 2 } else { i + 1 })
}

/// The number of lines skipped (up to `n`) and the bytes after them.
fn skip_lines(bytes: &[u8], n: usize) -> (usize, &[u8]) {
    let mut rest = bytes;
    let mut skipped = 0;
    while skipped < n && !rest.is_empty() {
        rest = after_line_break(rest).map_or(&[], |i| &rest[i..]);
        skipped += 1;
    }
    (skipped, rest)
}

/// Line numbers of records, counted as editors count lines. The `csv`
/// crate's own count misses blank lines and CRLF breaks, and the byte
/// position it gives for a record includes the blank lines before it.
struct Lines<'a> {
    bytes: &'a [u8],
    /// Bytes before this offset are counted in `line`.
    counted: usize,
    /// The line at `counted`.
    line: usize,
}

impl Lines<'_> {
    /// The line on which the record reported at byte `start` begins.
    fn of_record(&mut self, start: usize) -> usize {
        let start = start.clamp(self.counted, self.bytes.len());
        let blank = self.bytes[start..].iter().take_while(|&&b| b == b'\n' || b == b'\r').count();
        let mut rest = &self.bytes[self.counted..start + blank];
        while let Some(i) = after_line_break(rest) {
            rest = &rest[i..];
            self.line += 1;
        }
        self.counted = start + blank;
        self.line
    }
}

/// The record's fields as trimmed text.
fn decode<'r>(record: &'r csv::ByteRecord, line: usize, header: Option<&[String]>) -> Result<Vec<&'r str>, CsvError> {
    record
        .iter()
        .enumerate()
        .map(|(k, raw)| {
            std::str::from_utf8(raw).map(str::trim).map_err(|source| CsvError::NotUtf8 {
                at: CsvField { line, column: k + 1, header: header.and_then(|h| h.get(k).cloned()) },
                source,
            })
        })
        .collect()
}

/// A finite number of type `T`.
fn number<T: Float>(text: &str, at: impl Fn() -> CsvField) -> Result<T, CsvError> {
    let value: f64 = text.parse().map_err(|_| CsvError::NotANumber { at: at(), text: text.to_string() })?;
    let value = T::of(value);
    if !value.as_f64().is_finite() {
        return Err(CsvError::NonFinite { at: at(), text: text.to_string() });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Errors compared whole, as `assert_eq!` would if `CsvError` (which
    /// keeps an `io::Error` source) could be `PartialEq`.
    #[track_caller]
    fn assert_error<T: std::fmt::Debug>(result: Result<T, CsvError>, expected: CsvError) {
        let found = result.expect_err("an error");
        assert_eq!(format!("{found:?}"), format!("{expected:?}"));
    }

    fn at(line: usize, column: usize, header: Option<&str>) -> CsvField {
        CsvField { line, column, header: header.map(String::from) }
    }

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
        assert_error(csv.parse::<f64>("h\n1,2,0\n3,4\n"), CsvError::Ragged { line: 3, expected: 3, found: 2 });
        assert_error(
            csv.parse::<f64>("h\n1,2,0\n3,x7,1\n"),
            CsvError::NotANumber { at: at(3, 2, None), text: "x7".into() },
        );
        assert_error(
            csv.parse::<f64>("h\n1,2,0\n\n3,4,3\n"),
            CsvError::LabelOutOfRange { at: at(4, 3, None), text: "3".into(), classes: 3 },
        );
        assert_error(
            csv.parse::<f64>("h\n1,2,1.5\n"),
            CsvError::LabelOutOfRange { at: at(2, 3, None), text: "1.5".into(), classes: 3 },
        );
        assert_error(csv.parse::<f64>(""), CsvError::Empty);
        assert_error(csv.parse::<f64>("header only\n\n"), CsvError::Empty);
        assert_error(
            Csv::new().label_column(LabelColumn::Index(5)).parse::<f64>("1,2\n"),
            CsvError::NoLabelColumn { line: 1, column: 6, fields: 2 },
        );
        assert_error(csv.parse::<f64>("h\n1,NaN,0\n"), CsvError::NonFinite { at: at(2, 2, None), text: "NaN".into() });
        assert!(matches!(csv.read::<f64>("/nonexistent/file.csv").unwrap_err(), CsvError::Io { .. }));
    }

    #[test]
    fn files_on_disk_report_the_same_errors() {
        let dir = std::env::temp_dir().join(format!("nn-csv-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cases = [
            ("empty.csv", "", CsvError::Empty),
            ("ragged.csv", "1,2,0\r\n3,4,1,5\r\n", CsvError::Ragged { line: 2, expected: 3, found: 4 }),
            ("text.csv", "1,2,0\n3,four,1\n", CsvError::NotANumber { at: at(2, 2, None), text: "four".into() }),
            (
                "label.csv",
                "1,2,0\n3,4,-1\n",
                CsvError::LabelOutOfRange { at: at(2, 3, None), text: "-1".into(), classes: 2 },
            ),
        ];
        for (name, text, expected) in cases {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            assert_error(Csv::new().classes(2).read::<f32>(&path), expected);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn quoted_fields_keep_delimiters_quotes_and_line_breaks() {
        let text = "x,\"y, in cm\",kind\n\
                    \"1.5\",2,\"Iris, \"\"setosa\"\"\"\n\
                    3,\"4\",\"two\nlines\"\n\
                    5,x,other\n";
        let csv = Csv::new().header(true).named_classes();
        let d: Dataset<f64> = csv.parse(&text.replace(",x,", ",6,")).unwrap();
        assert_eq!(d.inputs(), &DMatrix::from_column_slice(2, 3, &[1.5, 2.0, 3.0, 4.0, 5.0, 6.0]));
        assert_eq!(d.class_names().unwrap(), ["Iris, \"setosa\"", "other", "two\nlines"]);
        assert_eq!(d.labels(), &Labels::Classes { indices: vec![0, 2, 1], count: 3 });
        assert_eq!(d.feature_names().unwrap(), ["x", "y, in cm"]);
        // The record after a quoted line break starts on line 5, and the error says so.
        assert_error(csv.parse::<f64>(text), CsvError::NotANumber { at: at(5, 2, Some("y, in cm")), text: "x".into() });
    }

    #[test]
    fn line_numbers_count_blank_lines_every_line_break_and_breaks_inside_quotes() {
        for (text, line) in [
            ("1,0\n\n  \n2,x\n", 4),
            ("1,0\r\n\r\n2,x\r\n", 3),
            ("1,0\r\r2,x\r", 3),
            ("\n\n2,x\n", 3),
            ("\"1\r\n\n\",0\n2,x\n", 4),
        ] {
            assert_error(
                Csv::new().parse::<f64>(text),
                CsvError::NotANumber { at: at(line, 2, None), text: "x".into() },
            );
        }
        assert_error(
            Csv::new().skip_lines(2).parse::<f64>("a\r\nb\r1,0\n2,x\n"),
            CsvError::NotANumber { at: at(4, 2, None), text: "x".into() },
        );
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_first_name_or_value() {
        let with_header: Dataset<f32> =
            Csv::new().header(true).label_column("a").parse("\u{feff}a,b\n1,2\n3,4\n").unwrap();
        assert_eq!(with_header.feature_names().unwrap(), ["b"]);
        assert_eq!(with_header.labels(), &Labels::Real(DMatrix::from_row_slice(1, 2, &[1.0, 3.0])));
        let plain: Dataset<f32> = Csv::new().parse("\u{feff}1,2\n").unwrap();
        assert_eq!(plain.inputs().as_slice(), &[1.0]);
        // Skipped lines are counted after the mark.
        let skipped: Dataset<f32> = Csv::new().skip_lines(1).parse("\u{feff}junk\n1,2\n").unwrap();
        assert_eq!(skipped.len(), 1);
        assert_error(
            Csv::new().parse::<f32>("\u{feff}1,2\n\u{feff}3,4\n"),
            CsvError::NotANumber { at: at(2, 1, None), text: "\u{feff}3".into() },
        );
    }

    #[test]
    fn the_label_column_by_name_and_header_names_in_errors() {
        let text = "petal,species,sepal\n1.4,setosa,5.1\n4.7,versicolor,7.0\n1.3,setosa,inf\n";
        let csv = Csv::new().header(true).label_column("species").class_names(["setosa", "versicolor", "virginica"]);
        let d: Dataset<f64> = csv.parse(&text.replace("inf", "4.9")).unwrap();
        assert_eq!(d.inputs(), &DMatrix::from_column_slice(2, 3, &[1.4, 5.1, 4.7, 7.0, 1.3, 4.9]));
        assert_eq!(d.labels(), &Labels::Classes { indices: vec![0, 1, 0], count: 3 });
        assert_eq!(d.class_names().unwrap(), ["setosa", "versicolor", "virginica"]);
        assert_eq!(d.feature_names().unwrap(), ["petal", "sepal"]);
        let err = csv.parse::<f64>(text).unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 4, column 3 (\"sepal\"): \"inf\" is NaN, infinite or out of range: every value must be a \
             finite number (a missing value? fill or drop it)"
        );
        assert_error(
            csv.parse::<f64>("petal,species,sepal\n1,setosa,2\n1,rose,2\n"),
            CsvError::UnknownClass {
                at: at(3, 2, Some("species")),
                text: "rose".into(),
                names: vec!["setosa".into(), "versicolor".into(), "virginica".into()],
            },
        );
        assert_error(
            Csv::new().header(true).label_column("kind").parse::<f64>("a,b\n1,2\n"),
            CsvError::NoColumnNamed { line: 1, name: "kind".into(), headers: vec!["a".into(), "b".into()] },
        );
        assert_error(
            Csv::new().header(true).label_column("a").parse::<f64>("a,b,a\n1,2,3\n"),
            CsvError::DuplicateColumn { line: 1, name: "a".into(), first: 1, second: 3 },
        );
        let err = Csv::new().label_column("species").parse::<f64>(text).unwrap_err();
        assert_error::<()>(Err(err), CsvError::NoHeader("species".into()));
        // The label column by position works with a header too, and the header's width counts.
        let by_index: Dataset<f64> = Csv::new().header(true).label_column(0).parse("y,x\n1,2\n").unwrap();
        assert_eq!(by_index.feature_names().unwrap(), ["x"]);
        assert_error(
            Csv::new().header(true).parse::<f64>("a,b,c\n1,2\n"),
            CsvError::Ragged { line: 2, expected: 3, found: 2 },
        );
        assert_error(Csv::new().header(true).parse::<f64>("a,b\n"), CsvError::Empty);
    }

    #[test]
    fn word_labels_are_sorted_into_classes_and_index_labels_suggest_them() {
        let text = "1,dog\n2,cat\n3,dog\n4,bird\n";
        let d: Dataset<f32> = Csv::new().named_classes().parse(text).unwrap();
        assert_eq!(d.class_names().unwrap(), ["bird", "cat", "dog"]);
        assert_eq!(d.labels(), &Labels::Classes { indices: vec![2, 1, 2, 0], count: 3 });
        let err = Csv::new().classes(3).parse::<f32>(text).unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 1, column 2: label \"dog\" is not a class index 0..2; for class names written as words use \
             `.named_classes()` or `.class_names([..])`"
        );
        assert_eq!(
            Csv::new().classes(3).parse::<f32>("1,7\n").unwrap_err().to_string(),
            "line 1, column 2: label \"7\" is not a class index 0..2"
        );
    }

    #[test]
    fn values_must_be_finite_in_the_chosen_float_type() {
        for text in ["nan", "-inf", "infinity", "1e400"] {
            assert_error(
                Csv::new().parse::<f64>(&format!("1,{text},0\n")),
                CsvError::NonFinite { at: at(1, 2, None), text: text.into() },
            );
        }
        assert_error(
            Csv::new().parse::<f64>("1,2,NaN\n"),
            CsvError::NonFinite { at: at(1, 3, None), text: "NaN".into() },
        );
        // 1e39 is a finite f64 but overflows f32.
        assert!(Csv::new().parse::<f64>("1e39,0\n").is_ok());
        assert_error(
            Csv::new().parse::<f32>("1e39,0\n"),
            CsvError::NonFinite { at: at(1, 1, None), text: "1e39".into() },
        );
    }

    #[test]
    fn rows_to_predict_read_as_a_batch_of_every_column() {
        // The label settings are for datasets; rows to predict have no label column.
        let csv = Csv::new().header(true).label_column("species").named_classes();
        let x: Batch<f64, 3> = csv.parse_batch("a,b,c\r\n1,2,3\r\n\r\n\"4\",5,6\r\n").unwrap();
        assert_eq!(x, Batch::<f64, 3>::from_column_slice(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
        let no_header: Batch<f32, 2> = Csv::new().delimiter(';').parse_batch("1;2\n3;4\n").unwrap();
        assert_eq!(no_header.column(1).as_slice(), &[3.0, 4.0]);
        assert_error(Csv::new().parse_batch::<f64, 3>("1,2\n3,4\n"), CsvError::Width { expected: 3, found: 2 });
        assert_eq!(
            Csv::new().parse_batch::<f64, 3>("1,2\n").unwrap_err().to_string(),
            "the rows have 2 columns, but the network takes 3 inputs"
        );
        assert_error(
            csv.parse_batch::<f64, 3>("a,b,c\n1,2,3\n4,nan,6\n"),
            CsvError::NonFinite { at: at(3, 2, Some("b")), text: "nan".into() },
        );
        assert_error(csv.parse_batch::<f64, 3>("a,b,c\n1,2\n"), CsvError::Ragged { line: 2, expected: 3, found: 2 });
        assert_error(csv.parse_batch::<f64, 3>("a,b,c\n"), CsvError::Empty);
    }

    #[test]
    fn bytes_that_are_not_utf8_and_bad_delimiters_are_typed_errors() {
        let err = Csv::new().header(true).parse_bytes::<f64>(b"a,b\n1,2\n3,\xff\n").unwrap_err();
        assert!(
            matches!(&err, CsvError::NotUtf8 { at: CsvField { line: 3, column: 2, header: Some(h) }, .. } if h == "b"),
            "{err:?}"
        );
        assert!(std::error::Error::source(&err).is_some(), "the UTF-8 error is kept as the source");
        assert_error(Csv::new().delimiter('§').parse::<f64>("1§2\n"), CsvError::Delimiter('§'));
        let tabs: Dataset<f64> = Csv::new().delimiter('\t').parse("1\t2\n").unwrap();
        assert_eq!(tabs.len(), 1);
    }
}
