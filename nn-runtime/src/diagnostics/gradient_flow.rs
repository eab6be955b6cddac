//! Measuring one forward and backward pass, item by item.

use std::collections::BTreeMap;
use std::fmt;

use nalgebra::{DMatrix, DMatrixView};

use super::DiagnosticsError;
use crate::kernels::sigmoid;
use crate::layer::NamePath;
use crate::snapshot::{Contents, Data};
use crate::{
    init::Init,
    item::{Family, ItemKind},
    kernels::Float,
    layer::{ParamKind, ParamRef, Visit},
    loss::{Loss, Targets},
    model::{Model, Probe},
    snapshot::Snapshot,
};

/// A saturating activation is saturated where its output lies within this
/// share of its range from either end: sigmoid(-4) ~ 0.018, which is
/// |pre-activation| > 4 for sigmoid (slope below 0.018) and, since
/// tanh(x) = 2 sigmoid(2x) - 1, |pre-activation| > 2 for tanh (slope below 0.071).
pub(crate) fn saturated_within() -> f64 {
    sigmoid(-4.0)
}

/// What was measured for one item of a network, at any depth.
#[derive(Clone, Debug, PartialEq)]
pub struct ItemFlow {
    /// Position of the top-level item it is or stands in (the first
    /// component of its parameter names).
    pub index: usize,
    /// Where it stands, as its parameters' names begin (`"3"`, `"3.1.0"`).
    pub path: String,
    /// What the item is (it displays as its `network!` spelling).
    pub kind: ItemKind,
    /// Its family, as `network!` states it.
    pub family: Family,
    /// How its weights started, when an initializer decided them.
    pub init: Option<Init>,
    /// Mean over the samples of the L2 norm of dL/d(input); `None` if the item
    /// keeps no input gradient.
    pub input_grad_norm: Option<f64>,
    /// L2 norm of the gradient of all the item's own weight tensors (dense,
    /// projection, gate, recurrent and conv weights; not biases or norm
    /// scales, nor the weights of the items inside a block); `None` if it
    /// has none.
    pub weight_grad_norm: Option<f64>,
    /// L2 norm of those weight tensors.
    pub weight_norm: Option<f64>,
    /// ||W - W_before|| / ||W_before|| over those tensors, for the optimizer
    /// step between a [`Snapshot`] and the measurement.
    pub update_ratio: Option<f64>,
    /// For the ReLU family: the share of units whose output is <= 0 for every
    /// sample of the batch (never active, so they pass no gradient).
    pub dead_share: Option<f64>,
    /// For the saturating family (sigmoid, tanh, ...): the share of
    /// activations (unit and sample pairs) in saturation, read from the
    /// output: within 1.8% of its range from either end, which is
    /// |pre-activation| > 4 for sigmoid and > 2 for tanh.
    pub saturated_share: Option<f64>,
}

impl ItemFlow {
    /// Whether the item owns weight tensors (the layers the depth fit runs over).
    pub fn is_weighted(&self) -> bool {
        self.weight_norm.is_some()
    }
}

/// One gradient-flow measurement of a network on a batch.
#[derive(Clone, Debug, PartialEq)]
pub struct GradientFlow {
    /// Names the network in tables and plot legends; the `Model::NAME` unless
    /// set with [`GradientFlow::with_label`].
    pub label: String,
    /// The loss of the measuring forward pass.
    pub loss: f64,
    /// Samples in the batch.
    pub batch: usize,
    /// Mean over the samples of ||dL/dy|| at the network's output.
    pub output_grad_norm: f64,
    /// Every item at every depth, in network order (input side first; a
    /// block before the items of its body).
    pub items: Vec<ItemFlow>,
    /// For a network over sequences of vectors (`seq N`): per time step `t`
    /// (first step first), the mean over the samples of ||dL/dx_t||, the
    /// gradient of the loss reaching that step's input. Through a recurrent
    /// layer it is the gradient that travelled back from every later step, so
    /// its fall towards the first step is the vanishing gradient over time.
    /// Empty for a network without sequences or with `tokens` input (token
    /// ids have no gradient).
    pub steps: Vec<f64>,
}

impl GradientFlow {
    /// Runs a training-mode forward on `x`, `loss` against `targets`, and a
    /// backward, and measures every item.
    ///
    /// Gradients and buffers are restored afterwards (see the module docs),
    /// so this can run between optimizer steps.
    pub fn measure<'x, T: Float, M: Model<T>>(
        net: &mut M,
        x: impl Into<DMatrixView<'x, T>>,
        targets: Targets<'_, T>,
        loss: Loss,
    ) -> Result<GradientFlow, DiagnosticsError> {
        let mut loss_error = None;
        let flow = Self::measure_with(net, x, |y| {
            let mut grad = DMatrix::zeros(y.nrows(), y.ncols());
            let value = loss.value_and_grad(y, targets, grad.as_view_mut()).unwrap_or_else(|e| {
                loss_error = Some(e);
                f64::NAN
            });
            (value, grad)
        });
        // A loss error comes first: it explains whatever the zero gradient led to.
        match loss_error {
            Some(e) => Err(DiagnosticsError::Loss(e)),
            None => flow,
        }
    }

    /// As [`GradientFlow::measure`] with any loss: `objective` gets the
    /// network's output and returns the loss and dL/dy (shaped as the output).
    pub fn measure_with<'x, T: Float, M: Model<T>>(
        net: &mut M,
        x: impl Into<DMatrixView<'x, T>>,
        objective: impl FnOnce(DMatrixView<'_, T>) -> (f64, DMatrix<T>),
    ) -> Result<GradientFlow, DiagnosticsError> {
        let x = x.into();
        if x.ncols() == 0 {
            return Err(DiagnosticsError::EmptyBatch);
        }
        let saved = Snapshot::taken(Contents::GradsAndBuffers, net);
        net.zero_grad();
        let flow = measure_inner(net, x, objective);
        saved.restore(net);
        flow
    }

    /// Fills each item's update-to-weight ratio: how far `net`'s weights
    /// moved since `before` was taken (typically just before the last
    /// optimizer step), relative to their size then.
    pub fn with_update<T: Float, M: Model<T>>(
        mut self,
        before: &Snapshot<T>,
        net: &M,
    ) -> Result<Self, DiagnosticsError> {
        let owners = Owners::of(&self.items);
        let ratios = update_ratios(before, &Snapshot::of(net), &owners)?;
        for (k, item) in self.items.iter_mut().enumerate() {
            item.update_ratio = ratios.get(&k).copied();
        }
        Ok(self)
    }

    /// Names the measurement (a table's title, a plot's legend entry).
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    /// ||dL/dx|| at the network's input over ||dL/dy|| at its output: far
    /// below 1 when the gradient vanishes, far above when it explodes.
    pub fn ratio(&self) -> Option<f64> {
        let first = self.items.first()?.input_grad_norm?;
        (self.output_grad_norm > 0.0).then(|| first / self.output_grad_norm)
    }

    /// ||dL/dx_1|| over ||dL/dx_T||: how much of the gradient at the last
    /// time step's input reaches the first's (see [`GradientFlow::steps`]);
    /// `None` without steps or with no gradient at the last step.
    pub fn first_to_last_step(&self) -> Option<f64> {
        let (first, last) = (self.steps.first()?, self.steps.last()?);
        (*last > 0.0).then(|| first / last)
    }

    /// The items that own weights on the way from the output to the input,
    /// in network order: the layers of the depth fit and the plot. The items
    /// of an `aux_head` are left out: their gradient comes from the head's
    /// own loss, not through the layers after them.
    pub fn weighted(&self) -> impl Iterator<Item = &ItemFlow> {
        let heads: Vec<&str> =
            self.items.iter().filter(|i| i.kind == ItemKind::AuxHead).map(|i| i.path.as_str()).collect();
        let in_head =
            move |i: &ItemFlow| heads.iter().any(|h| i.path.strip_prefix(h).is_some_and(|r| r.starts_with('.')));
        self.items.iter().filter(move |i| i.is_weighted() && !in_head(i))
    }
}

fn measure_inner<T: Float, M: Model<T>>(
    net: &mut M,
    x: DMatrixView<'_, T>,
    objective: impl FnOnce(DMatrixView<'_, T>) -> (f64, DMatrix<T>),
) -> Result<GradientFlow, DiagnosticsError> {
    let batch = x.ncols();
    let y = net.forward_view(x)?;
    let (loss, dy) = objective(y);
    let output_grad_norm = mean_column_norm(&dy.as_view());
    let dx = net.backward_view(dy.as_view())?;
    let steps = if M::SEQUENCE && !M::TOKENS { per_step_norms(&dx, M::INPUT) } else { Vec::new() };

    let mut items = Vec::new();
    net.probe(&mut |p: Probe<'_, T>| items.push(probe_item(&p)));
    if items.is_empty() {
        return Err(DiagnosticsError::NoItems { network: M::NAME });
    }
    let mut stats = WeightStats { path: NamePath::default(), owners: Owners::of(&items), sums: BTreeMap::new() };
    net.visit(&mut stats);
    for (k, item) in items.iter_mut().enumerate() {
        if let Some(&(value_sq, grad_sq)) = stats.sums.get(&k) {
            item.weight_norm = Some(value_sq.sqrt());
            item.weight_grad_norm = Some(grad_sq.sqrt());
        }
    }
    Ok(GradientFlow { label: M::NAME.to_string(), loss, batch, output_grad_norm, items, steps })
}

/// [`mean_column_norm`] of each time step's `per_step` rows of a sequence
/// batch's gradient.
fn per_step_norms<T: Float>(dx: &DMatrixView<'_, T>, per_step: usize) -> Vec<f64> {
    (0..dx.nrows() / per_step.max(1)).map(|t| mean_column_norm(&dx.rows(t * per_step, per_step))).collect()
}

/// Everything about one item that its probe shows.
fn probe_item<T: Float>(p: &Probe<'_, T>) -> ItemFlow {
    let y = p.output.as_ref().filter(|y| y.ncols() > 0);
    ItemFlow {
        index: p.index,
        path: p.path.to_string(),
        kind: p.kind,
        family: p.family,
        init: p.init,
        input_grad_norm: p.input_grad.as_ref().filter(|g| g.ncols() > 0).map(mean_column_norm),
        weight_grad_norm: None,
        weight_norm: None,
        update_ratio: None,
        dead_share: y.filter(|_| p.family == Family::Relu).map(dead_share),
        saturated_share: y.and_then(|y| saturated_share(p.family, y)),
    }
}

/// Share of a saturating activation's outputs in saturation (see
/// [`saturated_within`]): the functions are monotonic, so a pre-activation
/// beyond a bound is an output beyond its image.
fn saturated_share<T: Float>(family: Family, y: &DMatrixView<'_, T>) -> Option<f64> {
    let Family::Saturating { low, high } = family else { return None };
    let margin = saturated_within() * (high - low);
    Some(share_where(y, |v| v < low + margin || v > high - margin))
}

/// Mean over columns (samples) of each column's L2 norm, in f64.
fn mean_column_norm<T: Float>(m: &DMatrixView<'_, T>) -> f64 {
    if m.ncols() == 0 {
        return 0.0;
    }
    let total: f64 = m.column_iter().map(|c| c.iter().map(|v| v.as_f64().powi(2)).sum::<f64>().sqrt()).sum();
    total / m.ncols() as f64
}

/// Share of rows (units) whose every entry is <= 0.
fn dead_share<T: Float>(y: &DMatrixView<'_, T>) -> f64 {
    let dead = y.row_iter().filter(|r| r.iter().all(|v| v.as_f64() <= 0.0)).count();
    dead as f64 / y.nrows().max(1) as f64
}

/// Share of entries for which `pred` holds.
fn share_where<T: Float>(y: &DMatrixView<'_, T>, pred: impl Fn(f64) -> bool) -> f64 {
    let hits = y.iter().filter(|v| pred(v.as_f64())).count();
    hits as f64 / y.len().max(1) as f64
}

/// Which measured item owns a parameter: the deepest item whose path
/// begins its name (`3.1.0.weight` is item `3.1.0`'s, `3.projection.weight`
/// the block `3`'s own).
struct Owners(BTreeMap<String, usize>);

impl Owners {
    fn of(items: &[ItemFlow]) -> Self {
        Owners(items.iter().enumerate().map(|(k, i)| (i.path.clone(), k)).collect())
    }

    /// The row of the item owning the parameter `name`.
    fn owner(&self, name: &str) -> Option<usize> {
        let mut prefix = name;
        while let Some((rest, _)) = prefix.rsplit_once('.') {
            if let Some(&k) = self.0.get(rest) {
                return Some(k);
            }
            prefix = rest;
        }
        None
    }
}

/// Sums of squares of weight values and gradients per owning item (row).
struct WeightStats {
    path: NamePath,
    owners: Owners,
    sums: BTreeMap<usize, (f64, f64)>,
}

impl<T: Float> Visit<T> for WeightStats {
    fn enter(&mut self, segment: &str) {
        self.path.enter(segment);
    }
    fn leave(&mut self) {
        self.path.leave();
    }
    fn param(&mut self, p: ParamRef<'_, T>) {
        if let (ParamKind::Weight, Some(item)) = (p.kind, self.owners.owner(&self.path.full(p.name))) {
            let s = self.sums.entry(item).or_default();
            s.0 += sum_sq(p.value);
            s.1 += sum_sq(p.grad);
        }
    }
}

fn sum_sq<T: Float>(v: &[T]) -> f64 {
    v.iter().map(|x| x.as_f64().powi(2)).sum()
}

/// The weight tensors of a snapshot by name, in visiting order.
fn weights<T: Float>(s: &Snapshot<T>) -> Vec<(&str, &[T])> {
    s.entries()
        .iter()
        .filter_map(|e| match &e.data {
            Data::Param { kind: ParamKind::Weight, values } => Some((e.name.as_str(), values.as_slice())),
            _ => None,
        })
        .collect()
}

/// ||W_now - W_before|| / ||W_before|| per owning item (row), over the
/// weight tensors of two snapshots of one network, matched in visiting order.
fn update_ratios<T: Float>(
    before: &Snapshot<T>,
    now: &Snapshot<T>,
    owners: &Owners,
) -> Result<BTreeMap<usize, f64>, DiagnosticsError> {
    let (was, is) = (weights(before), weights(now));
    let mut sums: BTreeMap<usize, (f64, f64)> = BTreeMap::new();
    for tensor in 0..was.len().max(is.len()) {
        match (was.get(tensor), is.get(tensor)) {
            (Some((_, w0)), Some((name, w1))) if w0.len() == w1.len() => {
                let Some(item) = owners.owner(name) else { continue };
                let s = sums.entry(item).or_default();
                s.0 += w1.iter().zip(w0.iter()).map(|(a, b)| (a.as_f64() - b.as_f64()).powi(2)).sum::<f64>();
                s.1 += sum_sq(w0);
            }
            (w0, w1) => {
                let (expected, found) = (w0.map_or(0, |w| w.1.len()), w1.map_or(0, |w| w.1.len()));
                return Err(DiagnosticsError::SnapshotMismatch { tensor, expected, found });
            }
        }
    }
    Ok(sums
        .into_iter()
        .filter(|(_, (_, base))| *base > 0.0)
        .map(|(item, (delta, base))| (item, (delta / base).sqrt()))
        .collect())
}

fn opt(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.map_or_else(|| "-".to_string(), f)
}

fn sci(v: f64) -> String {
    format!("{v:.3e}")
}

fn percent(v: f64) -> String {
    format!("{:.1}%", 100.0 * v)
}

impl fmt::Display for GradientFlow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Gradient flow of {} (loss {}, {} samples)", self.label, sci(self.loss), self.batch)?;
        let header = ["item", "kind", "|dL/dx|", "|dL/dW|", "|W|", "update/|W|", "dead", "saturated"];
        let rows: Vec<[String; 8]> = self
            .items
            .iter()
            .map(|i| {
                [
                    i.path.clone(),
                    i.kind.to_string(),
                    opt(i.input_grad_norm, sci),
                    opt(i.weight_grad_norm, sci),
                    opt(i.weight_norm, sci),
                    opt(i.update_ratio, sci),
                    opt(i.dead_share, percent),
                    opt(i.saturated_share, percent),
                ]
            })
            .collect();
        let mut widths = header.map(str::len);
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.len());
            }
        }
        let line = |f: &mut fmt::Formatter<'_>, cells: [&str; 8]| -> fmt::Result {
            for (c, (cell, w)) in cells.iter().zip(widths).enumerate() {
                // The path and kind columns read as words: left-aligned; numbers right-aligned.
                if c <= 1 {
                    write!(f, "  {cell:<w$}")?;
                } else {
                    write!(f, "  {cell:>w$}")?;
                }
            }
            writeln!(f)
        };
        line(f, header)?;
        for row in &rows {
            line(f, row.each_ref().map(String::as_str))?;
        }
        writeln!(f, "gradient at the output |dL/dy|: {}", sci(self.output_grad_norm))?;
        writeln!(f, "input/output gradient ratio: {}", opt(self.ratio(), sci))?;
        if let Some(reach) = self.first_to_last_step() {
            let n = self.steps.len();
            // Five steps spread from the first to the last, as a profile over time.
            let picks: Vec<usize> = (0..5).map(|k| k * (n - 1) / 4).collect();
            let mut shown: Vec<String> = Vec::new();
            for (k, &t) in picks.iter().enumerate() {
                if k == 0 || t != picks[k - 1] {
                    shown.push(format!("t={} {}", t + 1, sci(self.steps[t])));
                }
            }
            writeln!(f, "gradient per time step |dL/dx_t|: {}", shown.join(", "))?;
            writeln!(f, "first/last time step gradient ratio: {}", sci(reach))?;
        }
        match self.depth_fit() {
            Some(fit) => writeln!(
                f,
                "per-layer factor: {:.4} (least squares over {} weighted layers, r^2 {:.3})",
                fit.factor, fit.layers, fit.r2
            )?,
            None => writeln!(f, "per-layer factor: - (fewer than two weighted layers with a gradient)")?,
        }
        write!(f, "{}", self.verdict())
    }
}
