//! Recurrent layers for the exporter: a cell's four tensors as two affine
//! maps (`W_ih x + b_ih`, `W_hh h + b_hh`), which the exported file runs
//! once per time step.

use super::graph::{Affine, Cell, Op};
use super::{f64s, Export, ExportError, Graph};
use crate::kernels::Float;
use crate::rnn::{Bidirectional, CellMath, Gru, Lstm, Recurrent, Rnn, SeqLayer, Unrolled};

impl<T: Float, C: CellMath, const I: usize, const H: usize> Export<T> for Recurrent<T, C, I, H> {
    fn export(&self, g: &mut Graph) -> Result<(), ExportError> {
        let cell = match C::NAME {
            n if n == Rnn::NAME => Cell::Rnn,
            n if n == Lstm::NAME => Cell::Lstm,
            n if n == Gru::NAME => Cell::Gru,
            other => {
                return Err(ExportError::Unsupported { what: other.into(), why: "a cell the exporter does not know" })
            }
        };
        let (name, rows, gates) = (g.name(), C::GATES * H, &self.gates);
        let input = Affine {
            name: name.clone(),
            rows,
            cols: I,
            weight: f64s(&gates.weight_ih.value),
            bias: f64s(&gates.bias_ih.value),
        };
        let hidden =
            Affine { name, rows, cols: H, weight: f64s(&gates.weight_hh.value), bias: f64s(&gates.bias_hh.value) };
        g.push(Op::Recurrent { cell, input, hidden });
        Ok(())
    }
}

impl<T: Float, L: SeqLayer<T, I, H> + Export<T>, const I: usize, const H: usize> Export<T> for Unrolled<T, L, I, H> {
    fn export(&self, g: &mut Graph) -> Result<(), ExportError> {
        self.layer().export(g)
    }
}

/// Refused: the reverse direction needs the whole sequence before its first
/// output, which the exported step-by-step loop does not keep.
impl<T: Float, C: CellMath, const I: usize, const H: usize, const O: usize> Export<T> for Bidirectional<T, C, I, H, O> {
    fn export(&self, g: &mut Graph) -> Result<(), ExportError> {
        Err(ExportError::Unsupported {
            what: format!("`bidirectional` (item {})", g.place()),
            why: "the exported predict runs one step at a time, and the reverse direction starts from the last step",
        })
    }
}
