//! Weights in safetensors files, exchangeable with PyTorch, written atomically.
//!
//! A file holds every parameter and buffer of a [`Model`] under its full
//! PyTorch `state_dict` name (DESIGN.md, "Parameter names and files"), in
//! PyTorch's shape, row-major, as `F32` or `F64` for the model's float type;
//! `num_batches_tracked` counters are `I64` scalars, as PyTorch writes them.
//! The header's `__metadata__` carries `format: pt` (what
//! `safetensors.torch.save_file` writes), the network's name and the version
//! of `nn` that wrote it.
//!
//! Loading is strict, the way `load_state_dict(strict=True)` is:
//! - every tensor the network has must be in the file, and nothing else;
//! - dtypes must match exactly: an `F64` file does not load into an `f32`
//!   network (PyTorch would convert silently; here the error names both
//!   dtypes, so converting is an explicit step);
//! - shapes must match exactly (`[8]` is not `[1, 8]`);
//! - NaN or infinite values are refused: a checkpoint exists to restore good
//!   weights, and a non-finite one would only poison training later. Saving
//!   refuses them for the same reason, so every file written loads back.
//!
//! Everything is checked before the model is touched: after any error the
//! model is exactly as it was. No input makes the loader panic (fuzzed, see
//! `fuzz/`). Metadata is not checked, so files written by PyTorch load.

mod atomic;
mod error;
mod safetensors;

pub use self::error::{LoadError, LoadErrorKind, SaveError, SaveErrorKind};
pub use self::safetensors::{load_from_bytes, save_to_bytes};

use std::path::Path;

use crate::{Float, Model};

/// Writes `model`'s parameters and buffers to `path` as safetensors.
///
/// The bytes go to a temporary file in the same folder, which is synced and
/// then renamed over `path` (and the folder synced), so `path` always holds
/// either the previous file or the complete new one, whatever happens
/// (crash, full disk). A crash can leave a hidden `.{name}.tmp-*` file
/// beside it; it is never read.
pub fn save_safetensors<T: Float, M: Model<T>>(model: &M, path: impl AsRef<Path>) -> Result<(), SaveError> {
    let path = path.as_ref();
    let bytes = save_to_bytes(model).map_err(|e| e.at(path))?;
    atomic::write(path, &bytes).map_err(|(action, source)| SaveError::io(path, action, source))
}

/// Loads every parameter and buffer of `model` from the safetensors file at
/// `path`, after checking all of them; on error `model` is unchanged.
pub fn load_safetensors_into<T: Float, M: Model<T>>(model: &mut M, path: impl AsRef<Path>) -> Result<(), LoadError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| LoadError::new(LoadErrorKind::Io(e)).at(path))?;
    load_from_bytes(model, &bytes).map_err(|e| e.at(path))
}
