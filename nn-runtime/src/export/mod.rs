//! Export to dependency-free Rust: a trained network as one self-contained
//! source file that runs without `nn`, `std`, `alloc` or any crate, on a
//! microcontroller as well as anywhere else.
//!
//! The file holds the weights as `static` `f32` arrays and
//! `pub fn predict(x: &[f32; INPUT]) -> [f32; OUTPUT]` (for a `seq` network,
//! `predict(xs: &[[f32; INPUT]])` over the time steps), which computes what
//! the network's own `predict` computes, in evaluation mode:
//!
//! - a batch norm is folded into the dense or convolution right before it
//!   (its running statistics scale that layer's rows), or, with none before
//!   it, becomes a per-feature scale and shift;
//! - dropout, `identity`, `flatten` and auxiliary heads are left out;
//! - a `seq` network's sequences each run alone, over their own steps, so
//!   variable lengths need nothing more: `predict` takes a slice of any length;
//! - `tokens` inputs, `seq` outputs and `bidirectional` are refused with
//!   [`ExportError::Unsupported`] naming them;
//! - every activation is computed by the file's own `exp`, `ln`, `tanh` and
//!   `erfc` (no libm), within a few `f32` rounding errors of `nn`'s.
//!
//! Each layer and block says what it computes by implementing [`Export`];
//! the exporter collects that in a [`Graph`], folds, and writes the file.

mod blocks;
mod emit;
#[cfg(test)]
mod emitted;
mod graph;
mod layers;
mod network;
mod rnn;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

pub use blocks::ExportBranches;
pub use graph::Graph;
pub use layers::ExportFn;
pub use network::{ExportItems, ExportSlot};

use crate::network::{Core, InputKind, Items, Network, OutputKind};
use crate::{kernels::Float, layer::Layer};

/// A layer or block that can say what it computes in evaluation mode.
/// Every layer and block of `nn` implements it.
pub trait Export<T: Float> {
    /// Appends this layer's evaluation-mode computation, with its weights, to `g`.
    fn export(&self, g: &mut Graph) -> Result<(), ExportError>;
}

/// Why a network could not be exported.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The network holds something the exported file cannot compute.
    #[error("cannot export {what}: {why}")]
    Unsupported {
        /// The item or setting that cannot be exported.
        what: String,
        /// Why the exported file cannot compute it.
        why: &'static str,
    },
    /// A weight (after folding batch norm) is not a finite `f32`.
    #[error(
        "cannot export: {tensor}[{index}] is {value:e}, not a finite f32 \
         (a network with non-finite or huge weights has nothing sound to export)"
    )]
    NonFinite {
        /// The weight tensor's name.
        tensor: String,
        /// Index of the value in the tensor, row-major.
        index: usize,
        /// The value (after folding batch norm).
        value: f64,
    },
    /// Writing the file failed.
    #[error("cannot write the exported network to {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why writing it failed.
        source: std::io::Error,
    },
}

/// The Rust source of `net`, a network of `network!`, exported: see the
/// module documentation for what the file holds and computes.
pub fn to_rust<N, T, B, const I: usize, const O: usize, In, Out>(net: &N) -> Result<String, ExportError>
where
    N: Network<Core = Core<T, B, I, O, In, Out>>,
    T: Float,
    B: Layer<T, I, O> + Items<T, I, O> + ExportItems<T>,
    In: InputKind,
    Out: OutputKind,
{
    if In::TOKENS {
        return Err(ExportError::Unsupported {
            what: "a `tokens` input".into(),
            why: "the exported predict takes f32 values per time step, not token ids",
        });
    }
    if Out::PER_STEP {
        return Err(ExportError::Unsupported {
            what: "a `seq` output".into(),
            why: "the exported predict gives one output per sequence, so the network must end in `last` and the items after it",
        });
    }
    let mut g = Graph::new();
    net.core().body().export_items(&mut g, 0)?;
    emit::rust(N::NAME, &g.finish(), I)
}

/// Writes [`to_rust`]'s file for `net` to `path`.
pub fn write_rust<N, T, B, const I: usize, const O: usize, In, Out>(
    net: &N,
    path: impl AsRef<Path>,
) -> Result<(), ExportError>
where
    N: Network<Core = Core<T, B, I, O, In, Out>>,
    T: Float,
    B: Layer<T, I, O> + Items<T, I, O> + ExportItems<T>,
    In: InputKind,
    Out: OutputKind,
{
    let path = path.as_ref();
    let source = to_rust(net)?;
    std::fs::write(path, source).map_err(|source| ExportError::Io { path: path.to_path_buf(), source })
}

/// The exported source of one layer or block, named `name`, taking `input` values.
#[cfg(test)]
pub(crate) fn rust_of<T: Float>(name: &str, input: usize, item: &impl Export<T>) -> Result<String, ExportError> {
    let mut g = Graph::new();
    item.export(&mut g)?;
    emit::rust(name, &g.finish(), input)
}

/// A tensor's values in `f64`, in which batch norm is folded before rounding to `f32`.
fn f64s<T: Float>(v: &[T]) -> Vec<f64> {
    v.iter().map(|x| x.as_f64()).collect()
}
