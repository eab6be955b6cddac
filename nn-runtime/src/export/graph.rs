//! What a network computes in evaluation mode, as the exporter sees it: a
//! list of operations with their weights, blocks holding lists of their own.
//! Layers append to a [`Graph`]; it folds each batch norm into the dense
//! or convolution right before it, and the emitter writes the result out.

use crate::item::ItemKind;
use crate::layers::Window2d;

use super::ExportError;

/// An element-wise function, as the item it is, with its option
/// (`leaky_relu`'s slope, `elu`'s alpha).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Act {
    pub kind: ItemKind,
    pub param: Option<f64>,
}

/// `y = W x + b` with `W` row-major `[rows, cols]`, as a dense layer, a
/// convolution's `[OC, C*K*K]` or a recurrent cell's stacked gates.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Affine {
    /// The static's name in the exported file (`L3_1_0`).
    pub name: String,
    pub rows: usize,
    pub cols: usize,
    pub weight: Vec<f64>,
    pub bias: Vec<f64>,
}

impl Affine {
    /// Scales output row `r` by `scale[r]` and then adds `shift[r]`: a batch
    /// norm in evaluation mode, folded in.
    fn fold(&mut self, scale: &[f64], shift: &[f64]) {
        for (r, (row, b)) in self.weight.chunks_exact_mut(self.cols).zip(&mut self.bias).enumerate() {
            row.iter_mut().for_each(|w| *w *= scale[r]);
            *b = *b * scale[r] + shift[r];
        }
    }
}

/// The recurrent cells, as PyTorch's `RNNCell`, `LSTMCell`, `GRUCell`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cell {
    Rnn,
    Lstm,
    Gru,
}

/// One operation of a network in evaluation mode.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Op {
    Dense(Affine),
    Conv {
        window: Window2d,
        affine: Affine,
    },
    Act(Act),
    /// PReLU: one slope per feature.
    Prelu {
        name: String,
        slope: Vec<f64>,
    },
    /// A batch norm with nothing to fold into: `x * scale + shift`, one pair per
    /// channel of `plane` values.
    ScaleShift {
        name: String,
        scale: Vec<f64>,
        shift: Vec<f64>,
        plane: usize,
    },
    LayerNorm {
        name: String,
        eps: f64,
        weight: Vec<f64>,
        bias: Vec<f64>,
    },
    MaxPool(Window2d),
    AvgPool(Window2d),
    GlobalAvgPool {
        channels: usize,
    },
    /// `x + body(x)`, or `P x + body(x)` (the projection has no bias).
    Residual {
        body: Vec<Op>,
        projection: Option<Affine>,
    },
    /// `t * body(x) + (1 - t) * x`, `t = sigmoid(gate x)`.
    Highway {
        body: Vec<Op>,
        gate: Affine,
    },
    /// `[x; body(x)]`.
    Concat {
        body: Vec<Op>,
    },
    /// `[b0(x); b1(x); ...]`.
    Parallel {
        branches: Vec<Vec<Op>>,
    },
    /// A recurrent cell: `input` carries `W_ih` and `b_ih`, `hidden` `W_hh` and `b_hh`.
    Recurrent {
        cell: Cell,
        input: Affine,
        hidden: Affine,
    },
    /// `ops` run on every time step of a sequence; what they give at the last step goes on.
    Steps(Vec<Op>),
}

impl Op {
    /// The width this operation gives for an input of `width` values.
    pub(crate) fn out_width(&self, width: usize) -> usize {
        match self {
            Op::Dense(a) => a.rows,
            Op::Conv { window, affine } => window.output_len(affine.rows),
            Op::MaxPool(w) | Op::AvgPool(w) => w.output_len(w.channels()),
            Op::GlobalAvgPool { channels } => *channels,
            Op::Residual { projection: Some(p), .. } => p.rows,
            Op::Concat { body } => width + out_width(body, width),
            Op::Parallel { branches } => branches.iter().map(|b| out_width(b, width)).sum(),
            Op::Recurrent { hidden, .. } => hidden.cols,
            Op::Steps(ops) => out_width(ops, width),
            Op::Act(_)
            | Op::Prelu { .. }
            | Op::ScaleShift { .. }
            | Op::LayerNorm { .. }
            | Op::Residual { projection: None, .. }
            | Op::Highway { .. } => width,
        }
    }
}

/// The width a list of operations gives for an input of `width` values.
pub(crate) fn out_width(ops: &[Op], width: usize) -> usize {
    ops.iter().fold(width, |w, op| op.out_width(w))
}

/// The operations of a network, collected by [`Export::export`](super::Export::export).
///
/// Blocks open a nested list for their body; every item
/// names its weights by its place in the network, as its parameter names do.
#[derive(Debug, Default)]
pub struct Graph {
    lists: Vec<Vec<Op>>,
    path: Vec<String>,
    /// The branches of the `parallel` being exported.
    branches: Vec<Vec<Op>>,
}

impl Graph {
    pub(crate) fn new() -> Self {
        Graph { lists: vec![Vec::new()], path: Vec::new(), branches: Vec::new() }
    }

    /// The operations collected, when every nested list has been closed.
    pub(crate) fn finish(mut self) -> Vec<Op> {
        debug_assert_eq!(self.lists.len(), 1, "a nested list was left open");
        self.lists.pop().unwrap_or_default()
    }

    /// Runs `f` one naming level down (`"3"`, `"projection"`).
    pub(crate) fn within<R>(&mut self, segment: &str, f: impl FnOnce(&mut Self) -> R) -> R {
        self.path.push(segment.to_string());
        let r = f(self);
        self.path.pop();
        r
    }

    /// The place of the item being exported, as its parameter names start
    /// (`3.projection`), for errors that name it.
    pub(crate) fn place(&self) -> String {
        self.path.join(".")
    }

    /// The name of the item being exported, for its statics: its parameter
    /// prefix, dots as underscores (`3.projection` is `L3_PROJECTION`).
    pub(crate) fn name(&self) -> String {
        let mut name = String::from("L");
        for (i, s) in self.path.iter().enumerate() {
            if i > 0 {
                name.push('_');
            }
            name.push_str(&s.to_ascii_uppercase());
        }
        name
    }

    /// The operations `f` appends, as a list of their own (a block's body).
    pub(crate) fn nested(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<(), ExportError>,
    ) -> Result<Vec<Op>, ExportError> {
        self.lists.push(Vec::new());
        let r = f(self);
        let ops = self.lists.pop().unwrap_or_default();
        r.map(|()| ops)
    }

    /// The branches `f` exports with [`Graph::branch`] (a `parallel`'s).
    pub(crate) fn parallel(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<(), ExportError>,
    ) -> Result<Vec<Vec<Op>>, ExportError> {
        let outer = std::mem::take(&mut self.branches);
        let r = f(self);
        let branches = std::mem::replace(&mut self.branches, outer);
        r.map(|()| branches)
    }

    /// Exports one branch of the innermost [`Graph::parallel`] under `segment`.
    pub(crate) fn branch(
        &mut self,
        segment: &str,
        f: impl FnOnce(&mut Self) -> Result<(), ExportError>,
    ) -> Result<(), ExportError> {
        let ops = self.nested(|g| g.within(segment, f))?;
        self.branches.push(ops);
        Ok(())
    }

    /// Appends `op` to the innermost list.
    pub(crate) fn push(&mut self, op: Op) {
        if let Some(ops) = self.lists.last_mut() {
            ops.push(op);
        }
    }

    /// Appends a batch norm in evaluation mode, `x * scale + shift` per
    /// channel: folded into the dense or convolution right before it in the
    /// same list, whose output rows or channels are its channels; else kept
    /// as a scale and shift.
    pub(crate) fn push_scale_shift(&mut self, scale: Vec<f64>, shift: Vec<f64>, plane: usize) {
        let name = self.name();
        let Some(ops) = self.lists.last_mut() else { return };
        match ops.last_mut() {
            Some(Op::Dense(a)) if plane == 1 && a.rows == scale.len() => a.fold(&scale, &shift),
            Some(Op::Conv { window, affine })
                if affine.rows == scale.len() && window.out_height() * window.out_width() == plane =>
            {
                affine.fold(&scale, &shift)
            }
            _ => ops.push(Op::ScaleShift { name, scale, shift, plane }),
        }
    }
}
