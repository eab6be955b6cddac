//! What can go wrong reading or writing a weights file, said so a user can act on it.

use std::error::Error;
use std::fmt;
use std::path::{Path, PathBuf};

/// Why a file could not be loaded, and which file (when it came from one).
///
/// Its message is the [`LoadErrorKind`]'s with the file in front; its
/// [`source`](Error::source) is the kind's (the I/O error, for
/// [`LoadErrorKind::Io`]), not the kind itself, whose message this one
/// already holds.
#[derive(Debug)]
pub struct LoadError {
    path: Option<PathBuf>,
    kind: LoadErrorKind,
}

/// The problem found in a weights file. Tensor names are full PyTorch names
/// (`"3.projection.weight"`); dtypes are safetensors names (`"F32"`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadErrorKind {
    /// The file could not be read.
    #[error("{0}")]
    Io(#[source] std::io::Error),
    /// Fewer than the 8 bytes that give the header's length.
    #[error("the file has {len} bytes, fewer than the 8 that start a safetensors file")]
    TooShort {
        /// Bytes in the file.
        len: usize,
    },
    /// The header length in the first 8 bytes is beyond what safetensors allows.
    #[error(
        "the header claims {declared} bytes, more than safetensors allows ({limit}); \
         the file is not safetensors or is corrupt"
    )]
    HeaderTooLarge {
        /// Header bytes the first 8 bytes claim.
        declared: u64,
        /// The most safetensors allows, in bytes.
        limit: u64,
    },
    /// The header length in the first 8 bytes runs past the end of the file.
    #[error("the header claims {declared} bytes but only {available} follow; the file is truncated or corrupt")]
    HeaderPastEnd {
        /// Header bytes the first 8 bytes claim.
        declared: u64,
        /// Bytes that follow them in the file.
        available: u64,
    },
    /// The header is not valid UTF-8 JSON describing tensors, or its offsets
    /// do not tile the data (overlaps, gaps, sizes that do not fit the shape).
    #[error("the header is not valid safetensors: {0}")]
    BadHeader(#[source] Box<dyn Error + Send + Sync>),
    /// The tensors declare `declared` bytes of data but the file has `found`
    /// after the header: truncated, or with trailing bytes.
    #[error(
        "the header describes {declared} bytes of tensor data but the file has {found}; it is {}",
        if found < declared { "truncated" } else { "followed by stray bytes" }
    )]
    DataLength {
        /// Bytes of tensor data the header describes.
        declared: u64,
        /// Bytes after the header.
        found: u64,
    },
    /// The network has this tensor and the file does not. `unknown` lists
    /// tensors of the file the network does not have (a misnamed tensor shows up here).
    #[error("tensor `{name}` ({dtype} {shape:?}) is missing{}", Unknown(unknown))]
    Missing {
        /// The tensor's name, e.g. `"3.projection.weight"`.
        name: String,
        /// The dtype the network expects, e.g. `"F32"`.
        dtype: &'static str,
        /// The shape the network expects.
        shape: Vec<usize>,
        /// Tensors of the file the network does not have.
        unknown: Vec<String>,
    },
    /// The file has a tensor the network does not have.
    #[error("the file has tensor `{name}`, which the network does not have (strict loading)")]
    Unexpected {
        /// The tensor's name.
        name: String,
    },
    /// The tensor's dtype differs from the network's.
    #[error(
        "tensor `{name}` is {found} but the network expects {expected}; \
         convert the file or build the network for the file's float type"
    )]
    Dtype {
        /// The tensor's name.
        name: String,
        /// The network's dtype, e.g. `"F32"`.
        expected: &'static str,
        /// The file's dtype.
        found: String,
    },
    /// The tensor's shape differs from the network's.
    #[error("tensor `{name}` has shape {found:?} but the network expects {expected:?}")]
    Shape {
        /// The tensor's name.
        name: String,
        /// The network's shape.
        expected: Vec<usize>,
        /// The file's shape.
        found: Vec<usize>,
    },
    /// A value is NaN or infinite.
    #[error("tensor `{name}` holds {value} at flat index {index}; weights must be finite")]
    NonFinite {
        /// The tensor's name.
        name: String,
        /// Index of the value in the tensor, row-major.
        index: usize,
        /// The value: NaN or an infinity.
        value: f64,
    },
    /// An entry of the header's metadata that `nn` reads (a
    /// [`Pipeline`](super::Pipeline)'s preprocessing) is malformed or does not
    /// fit the network.
    #[error("metadata entry `{key}`: {problem}")]
    Metadata {
        /// The metadata entry's key.
        key: String,
        /// What is wrong with it.
        problem: String,
    },
}

/// The tail of a [`LoadErrorKind::Missing`] message: the first five tensors
/// of the file the network does not know, which is where a misnamed one shows up.
struct Unknown<'a>(&'a [String]);

impl fmt::Display for Unknown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return Ok(());
        }
        write!(f, "; the file has tensors the network does not know: ")?;
        for (i, u) in self.0.iter().take(5).enumerate() {
            write!(f, "{}`{u}`", if i == 0 { "" } else { ", " })?;
        }
        if self.0.len() > 5 {
            write!(f, " and {} more", self.0.len() - 5)?;
        }
        Ok(())
    }
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

impl Error for LoadError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.kind.source()
    }
}

/// Why a model could not be saved, and to which file.
///
/// As [`LoadError`]: the [`SaveErrorKind`]'s message with the file in front,
/// and the kind's source as its own.
#[derive(Debug)]
pub struct SaveError {
    path: Option<PathBuf>,
    kind: SaveErrorKind,
}

/// The problem met while saving. After any of them the file at the target
/// path, if there was one, is untouched.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SaveErrorKind {
    /// A file-system step failed; `action` says which.
    #[error("{action}: {source}")]
    Io {
        /// The step that failed, e.g. "create the temporary file".
        action: &'static str,
        /// Why it failed.
        source: std::io::Error,
    },
    /// A parameter or buffer holds NaN or infinity; such a file would not load back.
    #[error("tensor `{name}` holds {value} at flat index {index}; only finite weights are saved")]
    NonFinite {
        /// The tensor's name.
        name: String,
        /// Index of the value in the tensor, row-major.
        index: usize,
        /// The value: NaN or an infinity.
        value: f64,
    },
    /// The safetensors encoder refused the tensors.
    #[error("{0}")]
    Encode(#[source] Box<dyn Error + Send + Sync>),
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
            Some(p) => write!(f, "cannot save weights to {}: {}", p.display(), self.kind),
            None => write!(f, "cannot save weights: {}", self.kind),
        }
    }
}

impl Error for SaveError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.kind.source()
    }
}
