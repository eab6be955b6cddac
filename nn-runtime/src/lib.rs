//! The runtime of `nn`: layers and blocks with hand-derived backward passes,
//! losses, optimizers, the trainer, recurrent cells, gradient-flow
//! diagnostics, data sets and safetensors files.
//!
//! # How it fits with the other crates
//!
//! Users depend on the facade crate `nn-static`, whose library is called
//! `nn`: it re-exports everything here (`nn::Trainer` is
//! [`nn_runtime::Trainer`](Trainer)) and the `network!` macro of
//! `nn-macros`. The macro checks a network's shapes at compile time and
//! generates a struct made of this crate's layers and blocks, with an
//! implementation of [`Model`], the trait through which the [`Trainer`], the
//! optimizers, the diagnostics and the file functions see any network.
//! Everything here can also be used by hand, as below: a layer on its own is
//! a [`Layer`], and [`testing::LayerModel`] presents one as a [`Model`]. The
//! examples on this page use only this crate; those that need `network!`
//! (gradient-flow measurements, exporting to Rust) are on the facade's page.
//!
//! # Features
//!
//! All on by default: `progress` (the trainer's progress bar), `plot` (SVG
//! plots), `threads` (large products split over threads) and `datasets`
//! (the embedded digits, iris, English words and sunspots).
//!
//! # Modules
//!
//! - [`layers`]: dense, activations, normalization, dropout, convolution,
//!   pooling, embedding: one file each, forward beside backward.
//! - [`blocks`]: layers made of layers (`residual`, `highway`, `concat`,
//!   `parallel`, `repeat`, `aux_head`).
//! - [`rnn`]: recurrent cells (RNN, LSTM, GRU), packed sequences,
//!   bidirectional layers and truncated backpropagation through time; its
//!   page has examples.
//! - [`data`]: datasets, CSV files, splits, standardization, mini-batches.
//! - [`optim`]: SGD, Adam, AdamW, RMSprop and learning-rate schedules.
//! - [`train`]: the [`Trainer`], its [`History`], and [`train::evaluate`].
//! - [`io`]: weights in safetensors files, and a [`io::Pipeline`] that keeps
//!   the preprocessing with them.
//! - [`snapshot`]: a copy of a model's parameters and buffers by name.
//! - [`diagnostics`]: how the gradient flows through a network, with a
//!   verdict and remedies.
//! - [`export`]: a trained network as dependency-free Rust source.
//! - [`kernels`]: the matrix products, instruction sets and threads.
//! - [`testing`]: gradient checks by central differences, for anyone writing
//!   a layer.
//!
//! ## layers
//!
//! ```
//! use nn_runtime::{seeded_rng, Batch, Dense, Init, Layer};
//!
//! let mut dense = Dense::<f64, 3, 2>::new(&mut seeded_rng(0), Init::XavierNormal, true);
//! let x = Batch::<f64, 3>::from_element(4, 1.0); // 4 samples, one per column
//! let y = dense.forward(&x).clone(); // training mode: keeps x for backward
//! assert_eq!(y.shape(), (2, 4));
//! let dx = dense.backward(&y); // dL/dy in, dL/dx out; dL/dW accumulates
//! assert_eq!(dx.shape(), (3, 4));
//! assert_eq!(dense.predict(&x), y); // evaluation mode, &self
//! ```
//!
//! ## blocks
//!
//! ```
//! use nn_runtime::{seeded_rng, Batch, Dense, Init, Layer, Residual};
//!
//! // A residual block whose body starts at zero is the identity.
//! let body = Dense::<f64, 4, 4>::new(&mut seeded_rng(0), Init::Zeros, true);
//! let block = Residual::<f64, _, 4>::new(body);
//! let x = Batch::<f64, 4>::from_fn(2, |i, j| (i + 4 * j) as f64);
//! assert_eq!(block.predict(&x), x);
//! ```
//!
//! ## data
//!
//! ```
//! use nn_runtime::data::{split, Dataset, Labels, Standardizer};
//! use nn_runtime::nalgebra::DMatrix;
//!
//! let inputs = DMatrix::from_fn(2, 10, |i, j| (i * 10 + j) as f64); // 2 features, 10 samples
//! let data = Dataset::new(inputs, Labels::Classes { indices: (0..10).map(|j| j % 2).collect(), count: 2 })?;
//! let (mut train, mut test) = split(&data, 0.2, 0)?; // seeded
//! assert_eq!((train.len(), test.len()), (8, 2));
//! let scaler = Standardizer::fit(&train)?; // the training part's statistics only
//! scaler.apply(&mut train)?;
//! scaler.apply(&mut test)?;
//! assert!(train.inputs().row(0).mean().abs() < 1e-12);
//! # Ok::<(), nn_runtime::data::DataError>(())
//! ```
//!
//! ## optim
//!
//! ```
//! use nn_runtime::optim::{Optimizer, Sgd};
//! use nn_runtime::testing::LayerModel;
//! use nn_runtime::{seeded_rng, Batch, Dense, Init, Layer, Model};
//!
//! let mut model = LayerModel::new(Dense::<f64, 2, 1>::new(&mut seeded_rng(0), Init::Constant(1.0), false));
//! model.layer.forward(&Batch::<f64, 2>::from_element(1, 1.0));
//! model.layer.backward(&Batch::<f64, 1>::from_element(1, 1.0)); // dL/dW = [1, 1]
//! Sgd::new(0.1).step(&mut model); // W -= 0.1 dL/dW
//! assert_eq!(model.parameters()[0].value, [0.9, 0.9]);
//! ```
//!
//! ## train
//!
//! ```
//! use nn_runtime::data::{Dataset, Labels};
//! use nn_runtime::nalgebra::DMatrix;
//! use nn_runtime::optim::Adam;
//! use nn_runtime::testing::LayerModel;
//! use nn_runtime::train::evaluate;
//! use nn_runtime::{seeded_rng, Dense, Init, Loss, Trainer};
//!
//! // Class 1 where the feature is positive.
//! let inputs = DMatrix::from_fn(1, 40, |_, j| j as f64 - 19.5);
//! let data = Dataset::new(inputs, Labels::Classes { indices: (0..40).map(|j| usize::from(j >= 20)).collect(), count: 2 })?;
//! let mut model = LayerModel::new(Dense::<f64, 1, 2>::new(&mut seeded_rng(0), Init::XavierNormal, true));
//! let history = Trainer::new(Adam::new(0.1)).epochs(30).batch_size(8).quiet().fit(&mut model, &data, None)?;
//! assert_eq!(history.epochs.len(), 30);
//! assert!(evaluate(&model, Loss::SoftmaxCrossEntropy, &data)?.accuracy.unwrap() > 0.9);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## io
//!
//! ```
//! use nn_runtime::io::{load_from_bytes, save_to_bytes};
//! use nn_runtime::testing::LayerModel;
//! use nn_runtime::{seeded_rng, Dense, Init, Model};
//!
//! let trained = LayerModel::new(Dense::<f32, 3, 2>::new(&mut seeded_rng(1), Init::XavierNormal, true));
//! let bytes = save_to_bytes(&trained)?; // safetensors, as a file would hold it (save_safetensors)
//! let mut fresh = LayerModel::new(Dense::<f32, 3, 2>::new(&mut seeded_rng(2), Init::XavierNormal, true));
//! load_from_bytes(&mut fresh, &bytes)?;
//! assert_eq!(fresh.parameters(), trained.parameters());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## snapshot
//!
//! ```
//! use nn_runtime::testing::LayerModel;
//! use nn_runtime::{seeded_rng, Dense, Init, Snapshot};
//!
//! let model = LayerModel::new(Dense::<f64, 2, 2>::new(&mut seeded_rng(0), Init::XavierNormal, true));
//! let before = Snapshot::of(&model);
//! assert_eq!(before.get("weight").unwrap().shape, [2, 2]);
//! let mut zeroed = LayerModel::new(Dense::<f64, 2, 2>::new(&mut seeded_rng(0), Init::Zeros, true));
//! before.restore(&mut zeroed); // the first model's weights, by name
//! assert_eq!(Snapshot::of(&zeroed), before);
//! ```
//!
//! ## diagnostics
//!
//! A measurement needs a model that shows its items through
//! [`Model::probe`], as `network!`'s networks do; a lone layer shows none:
//!
//! ```
//! use nn_runtime::diagnostics::{DiagnosticsError, GradientFlow};
//! use nn_runtime::testing::LayerModel;
//! use nn_runtime::{seeded_rng, Batch, Dense, Init, Loss, Targets};
//!
//! let mut model = LayerModel::new(Dense::<f64, 2, 2>::new(&mut seeded_rng(0), Init::XavierNormal, true));
//! let x = Batch::<f64, 2>::from_element(3, 1.0);
//! let err = GradientFlow::measure(&mut model, &x, Targets::Classes(&[0, 1, 0]), Loss::SoftmaxCrossEntropy);
//! assert!(matches!(err, Err(DiagnosticsError::NoItems { .. })));
//! ```
//!
//! ## export
//!
//! [`export::to_rust`] takes a network made by `network!`; the facade's page
//! shows it.
//!
//! ## kernels
//!
//! ```
//! use nn_runtime::kernels::{isa, threads, with_threads};
//!
//! println!("products run on {:?} with up to {} threads", isa(), threads());
//! assert_eq!(with_threads(1, threads), 1); // one closure on one thread
//! ```
//!
//! ## testing
//!
//! ```
//! use nn_runtime::testing::{grad_check, LayerModel};
//! use nn_runtime::{seeded_rng, Dense, Init};
//!
//! // dL/dx and dL/dW of the hand-derived backward against central differences, in f64.
//! let mut model = LayerModel::new(Dense::<f64, 3, 2>::new(&mut seeded_rng(0), Init::XavierNormal, true));
//! grad_check(&mut model, 4, 0).assert_below(1e-6);
//! ```

#![warn(missing_docs)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod batch;
pub mod blocks;
mod clip;
pub mod data;
pub mod diagnostics;
mod error;
pub mod export;
mod init;
pub mod io;
mod item;
pub mod kernels;
mod layer;
pub mod layers;
mod loss;
mod model;
#[doc(hidden)]
pub mod network;
pub mod optim;
pub mod rnn;
pub mod snapshot;
pub mod testing;
pub mod train;

pub use batch::Batch;
pub use blocks::{AuxHead, Branch, Branches, Chain, Concat, Highway, Parallel, Repeat, Residual, ResidualProjection};
pub use clip::{first_non_finite_grad, grad_norm, Clip};
pub use error::ShapeError;
pub use init::{seeded_rng, Init, SeededRng};
pub use kernels::Float;
pub use layer::{
    copy_batch, empty, ensure_cols, view_into_batch, visit_in, visit_mut_in, BufferMut, BufferRef, Io, Layer, NamePath,
    ParamKind, ParamMut, ParamRef, Visit, VisitMut, ZeroGrad,
};
pub use layers::*;
pub use loss::{Loss, LossError, Targets};
pub use model::{Model, NamedBuffer, NamedParam, Probe};
pub use network::{Family, ItemKind};
pub use snapshot::Snapshot;
pub use train::{History, Trainer};

/// Re-exported so users and generated code share one version.
pub use nalgebra;
pub use rand;
