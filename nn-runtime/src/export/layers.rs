//! What each layer computes in evaluation mode, for the exporter: weights
//! copied out in `f64`, batch norm as a scale and shift (which the graph folds
//! into the layer before it), dropout and `flatten` as nothing.

use super::graph::{Act, Affine, Op};
use super::{f64s, Export, ExportError, Graph};
use crate::layers::{
    Activation, AvgPooling, BatchNorm, BatchNorm2d, Conv2d, Dense, Dropout, Elu, Embedding, Gelu, GlobalAvgPooling,
    Hardsigmoid, Hardswish, Identity, LayerNorm, LeakyRelu, MaxPooling, Mish, Pool, Prelu, Relu, Relu6, Selu, Sigmoid,
    Softplus, Softsign, Swish, Tanh,
};
use crate::{item::ItemKind, kernels::Float, layers::ActivationFn};

/// A dense layer's `W x + b` (a zero bias where it has none), its statics named `name`.
pub(crate) fn affine<T: Float, const I: usize, const O: usize>(dense: &Dense<T, I, O>, name: String) -> Affine {
    let bias = dense.bias().map_or_else(|| vec![0.0; O], f64s);
    Affine { name, rows: O, cols: I, weight: f64s(dense.weight()), bias }
}

impl<T: Float, const I: usize, const O: usize> Export<T> for Dense<T, I, O> {
    fn export(&self, g: &mut Graph) -> Result<(), ExportError> {
        g.push(Op::Dense(affine(self, g.name())));
        Ok(())
    }
}

impl<T: Float, const IN: usize, const OUT: usize> Export<T> for Conv2d<T, IN, OUT> {
    fn export(&self, g: &mut Graph) -> Result<(), ExportError> {
        let (window, rows) = (self.window(), self.out_channels());
        let bias = self.bias().map_or_else(|| vec![0.0; rows], f64s);
        let cols = window.channels() * window.kernel() * window.kernel();
        g.push(Op::Conv { window, affine: Affine { name: g.name(), rows, cols, weight: f64s(self.weight()), bias } });
        Ok(())
    }
}

/// An element-wise function the exported file can compute: which item it
/// is, and its option.
pub trait ExportFn: ActivationFn {
    /// The `network!` item this function is.
    const KIND: ItemKind;
    /// The option that changes the function (`leaky_relu`'s slope, `elu`'s alpha), if any.
    fn option(&self) -> Option<f64> {
        None
    }
}

macro_rules! plain_export_fn {
    ($($f:ident),*) => { $(impl ExportFn for $f { const KIND: ItemKind = ItemKind::$f; })* };
}
plain_export_fn!(
    Identity,
    Sigmoid,
    Tanh,
    Relu,
    Selu,
    Gelu,
    Swish,
    Mish,
    Softplus,
    Relu6,
    Hardswish,
    Hardsigmoid,
    Softsign
);

impl ExportFn for LeakyRelu {
    const KIND: ItemKind = ItemKind::LeakyRelu;
    fn option(&self) -> Option<f64> {
        Some(self.slope)
    }
}

impl ExportFn for Elu {
    const KIND: ItemKind = ItemKind::Elu;
    fn option(&self) -> Option<f64> {
        Some(self.alpha)
    }
}

/// `identity` and `flatten` (the same layer) compute nothing.
impl<T: Float, F: ExportFn, const N: usize> Export<T> for Activation<T, F, N> {
    fn export(&self, g: &mut Graph) -> Result<(), ExportError> {
        if F::KIND != ItemKind::Identity {
            g.push(Op::Act(Act { kind: F::KIND, param: self.func().option() }));
        }
        Ok(())
    }
}

impl<T: Float, const N: usize> Export<T> for Prelu<T, N> {
    fn export(&self, g: &mut Graph) -> Result<(), ExportError> {
        g.push(Op::Prelu { name: g.name(), slope: f64s(self.weight()) });
        Ok(())
    }
}

/// `weight (x - mean) / sqrt(var + eps) + bias` per channel, as `x * scale + shift`.
fn batch_norm<T: Float>(g: &mut Graph, weight: &[T], bias: &[T], mean: &[T], var: &[T], eps: f64, plane: usize) {
    let scale: Vec<f64> = weight.iter().zip(var).map(|(w, v)| w.as_f64() / (v.as_f64() + eps).sqrt()).collect();
    let shift = bias.iter().zip(mean).zip(&scale).map(|((b, m), s)| b.as_f64() - m.as_f64() * s).collect();
    g.push_scale_shift(scale, shift, plane);
}

impl<T: Float, const N: usize> Export<T> for BatchNorm<T, N> {
    fn export(&self, g: &mut Graph) -> Result<(), ExportError> {
        batch_norm(g, self.weight(), self.bias(), self.running_mean(), self.running_var(), self.eps(), 1);
        Ok(())
    }
}

impl<T: Float, const N: usize> Export<T> for BatchNorm2d<T, N> {
    fn export(&self, g: &mut Graph) -> Result<(), ExportError> {
        let plane = N / self.weight().len().max(1);
        batch_norm(g, self.weight(), self.bias(), self.running_mean(), self.running_var(), self.eps(), plane);
        Ok(())
    }
}

impl<T: Float, const N: usize> Export<T> for LayerNorm<T, N> {
    fn export(&self, g: &mut Graph) -> Result<(), ExportError> {
        let (weight, bias) = (f64s(self.weight()), f64s(self.bias()));
        g.push(Op::LayerNorm { name: g.name(), eps: self.eps(), weight, bias });
        Ok(())
    }
}

/// The identity in evaluation mode.
impl<T: Float, const N: usize> Export<T> for Dropout<T, N> {
    fn export(&self, _g: &mut Graph) -> Result<(), ExportError> {
        Ok(())
    }
}

impl<T: Float, const IN: usize, const OUT: usize> Export<T> for Pool<T, MaxPooling, IN, OUT> {
    fn export(&self, g: &mut Graph) -> Result<(), ExportError> {
        g.push(Op::MaxPool(self.window()));
        Ok(())
    }
}

impl<T: Float, const IN: usize, const OUT: usize> Export<T> for Pool<T, AvgPooling, IN, OUT> {
    fn export(&self, g: &mut Graph) -> Result<(), ExportError> {
        g.push(Op::AvgPool(self.window()));
        Ok(())
    }
}

impl<T: Float, const IN: usize, const C: usize> Export<T> for Pool<T, GlobalAvgPooling, IN, C> {
    fn export(&self, g: &mut Graph) -> Result<(), ExportError> {
        g.push(Op::GlobalAvgPool { channels: C });
        Ok(())
    }
}

/// Refused: a network with an embedding takes token ids, which the exported
/// `predict` does not (`to_rust` says so before any item is reached).
impl<T: Float, const V: usize, const D: usize> Export<T> for Embedding<T, V, D> {
    fn export(&self, g: &mut Graph) -> Result<(), ExportError> {
        Err(ExportError::Unsupported {
            what: format!("`embedding` (item {})", g.place()),
            why: "the exported predict takes f32 values per time step, not token ids",
        })
    }
}
