//! What can go wrong reading or writing a weights file, said so a user can act on it.

use std::fmt;
use std::path::{Path, PathBuf};

/// Why a file could not be loaded, and which file (when it came from one).
#[derive(Debug)]
pub struct LoadError {
    path: Option<PathBuf>,
    kind: LoadErrorKind,
}

/// The problem found in a weights file. Tensor names are full PyTorch names
/// (`"3.projection.weight"`); dtypes are safetensors names (`"F32"`).
#[derive(Debug)]
#[non_exhaustive]
pub enum LoadErrorKind {
    /// The file could not be read.
    Io(std::io::Error),
    /// Fewer than the 8 bytes that give the header's length.
    TooShort { len: usize },
    /// The header length in the first 8 bytes is beyond what safetensors allows.
    HeaderTooLarge { declared: u64, limit: u64 },
    /// The header length in the first 8 bytes runs past the end of the file.
    HeaderPastEnd { declared: u64, available: u64 },
    /// The header is not valid UTF-8 JSON describing tensors, or its offsets
    /// do not tile the data (overlaps, gaps, sizes that do not fit the shape).
    BadHeader { reason: String },
    /// The tensors declare `declared` bytes of data but the file has `found`
    /// after the header: truncated, or with trailing bytes.
    DataLength { declared: u64, found: u64 },
    /// The network has this tensor and the file does not. `unknown` lists
    /// tensors of the file the network does not have (a misnamed tensor shows up here).
    Missing { name: String, dtype: &'static str, shape: Vec<usize>, unknown: Vec<String> },
    /// The file has a tensor the network does not have.
    Unexpected { name: String },
    /// The tensor's dtype differs from the network's.
    Dtype { name: String, expected: &'static str, found: String },
    /// The tensor's shape differs from the network's.
    Shape { name: String, expected: Vec<usize>, found: Vec<usize> },
    /// A value is NaN or infinite.
    NonFinite { name: String, index: usize, value: f64 },
}

impl LoadError {
    pub(crate) fn new(kind: LoadErrorKind) -> Self {
        Self { path: None, kind }
    }
    pub(crate) fn at(mut self, path: &Path) -> Self {
        self.path = Some(path.to_path_buf());
        self
    }
    /// The file, when the bytes came from one.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }
    /// What is wrong.
    pub fn kind(&self) -> &LoadErrorKind {
        &self.kind
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(p) => write!(f, "cannot load weights from {}: {}", p.display(), self.kind),
            None => write!(f, "cannot load weights: {}", self.kind),
        }
    }
}

impl fmt::Display for LoadErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadErrorKind::Io(e) => write!(f, "{e}"),
            LoadErrorKind::TooShort { len } => {
                write!(f, "the file has {len} bytes, fewer than the 8 that start a safetensors file")
            }
            LoadErrorKind::HeaderTooLarge { declared, limit } => write!(
                f,
                "the header claims {declared} bytes, more than safetensors allows ({limit}); \
                 the file is not safetensors or is corrupt"
            ),
            LoadErrorKind::HeaderPastEnd { declared, available } => write!(
                f,
                "the header claims {declared} bytes but only {available} follow; the file is truncated or corrupt"
            ),
            LoadErrorKind::BadHeader { reason } => write!(f, "the header is not valid safetensors: {reason}"),
            LoadErrorKind::DataLength { declared, found } => write!(
                f,
                "the header describes {declared} bytes of tensor data but the file has {found}; \
                 it is {}",
                if found < declared { "truncated" } else { "followed by stray bytes" }
            ),
            LoadErrorKind::Missing { name, dtype, shape, unknown } => {
                write!(f, "tensor `{name}` ({dtype} {shape:?}) is missing")?;
                if !unknown.is_empty() {
                    write!(f, "; the file has tensors the network does not know: ")?;
                    for (i, u) in unknown.iter().take(5).enumerate() {
                        write!(f, "{}`{u}`", if i == 0 { "" } else { ", " })?;
                    }
                    if unknown.len() > 5 {
                        write!(f, " and {} more", unknown.len() - 5)?;
                    }
                }
                Ok(())
            }
            LoadErrorKind::Unexpected { name } => {
                write!(f, "the file has tensor `{name}`, which the network does not have (strict loading)")
            }
            LoadErrorKind::Dtype { name, expected, found } => write!(
                f,
                "tensor `{name}` is {found} but the network expects {expected}; \
                 convert the file or build the network for the file's float type"
            ),
            LoadErrorKind::Shape { name, expected, found } => {
                write!(f, "tensor `{name}` has shape {found:?} but the network expects {expected:?}")
            }
            LoadErrorKind::NonFinite { name, index, value } => {
                write!(f, "tensor `{name}` holds {value} at flat index {index}; weights must be finite")
            }
        }
    }
}

impl std::error::Error for LoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            LoadErrorKind::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// Why a model could not be saved, and to which file.
#[derive(Debug)]
pub struct SaveError {
    path: Option<PathBuf>,
    kind: SaveErrorKind,
}

/// The problem met while saving. After any of them the file at the target
/// path, if there was one, is untouched.
#[derive(Debug)]
#[non_exhaustive]
pub enum SaveErrorKind {
    /// A file-system step failed; `action` says which.
    Io { action: &'static str, source: std::io::Error },
    /// A parameter or buffer holds NaN or infinity; such a file would not load back.
    NonFinite { name: String, index: usize, value: f64 },
    /// The safetensors encoder refused the tensors.
    Encode { reason: String },
}

impl SaveError {
    pub(crate) fn new(kind: SaveErrorKind) -> Self {
        Self { path: None, kind }
    }
    pub(crate) fn io(path: &Path, action: &'static str, source: std::io::Error) -> Self {
        Self::new(SaveErrorKind::Io { action, source }).at(path)
    }
    pub(crate) fn at(mut self, path: &Path) -> Self {
        self.path = Some(path.to_path_buf());
        self
    }
    /// The target file, when saving to one.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }
    /// What went wrong.
    pub fn kind(&self) -> &SaveErrorKind {
        &self.kind
    }
}

impl fmt::Display for SaveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(p) => write!(f, "cannot save weights to {}: ", p.display())?,
            None => write!(f, "cannot save weights: ")?,
        }
        match &self.kind {
            SaveErrorKind::Io { action, source } => write!(f, "{action}: {source}"),
            SaveErrorKind::NonFinite { name, index, value } => {
                write!(f, "tensor `{name}` holds {value} at flat index {index}; only finite weights are saved")
            }
            SaveErrorKind::Encode { reason } => write!(f, "{reason}"),
        }
    }
}

impl std::error::Error for SaveError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            SaveErrorKind::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
