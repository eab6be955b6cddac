//! From measurements to a verdict: what is wrong, why we think so, and the
//! remedies that fit, each in the spelling a user writes.

use std::fmt;

use super::gradient_flow::saturated_within;
use super::GradientFlow;
use crate::{
    init::Init,
    item::{Family, ItemKind},
};

/// Items that normalize their input.
const NORMS: &[ItemKind] = &[ItemKind::BatchNorm, ItemKind::LayerNorm];
/// Items that give the gradient a path around their body.
const SHORTCUTS: &[ItemKind] = &[ItemKind::Residual, ItemKind::Highway, ItemKind::Concat];

/// Where the verdict draws its lines. The defaults are rules of thumb, not laws.
#[derive(Clone, Debug, PartialEq)]
pub struct Thresholds {
    /// Vanishing if ||dL/dx|| at the input is below this fraction of ||dL/dy|| at the output.
    pub vanishing_ratio: f64,
    /// Exploding if it is above this multiple.
    pub exploding_ratio: f64,
    /// Vanishing if the fitted per-layer factor is below this (0.7: the
    /// gradient halves every two layers).
    pub vanishing_factor: f64,
    /// Exploding if the fitted per-layer factor is above this.
    pub exploding_factor: f64,
    /// The per-layer factor is judged only over at least this many weighted layers.
    pub min_fit_layers: usize,
    /// Exploding if any input or weight gradient norm is above this (or not finite).
    pub max_norm: f64,
    /// Flag an item when at least this share of its ReLU-family units is dead.
    pub dead_share: f64,
    /// Flag an item when at least this share of its sigmoid/tanh activations is saturated.
    pub saturated_share: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            vanishing_ratio: 1e-3,
            exploding_ratio: 1e3,
            vanishing_factor: 0.7,
            exploding_factor: 1.0 / 0.7,
            min_fit_layers: 4,
            max_norm: 1e3,
            dead_share: 0.25,
            saturated_share: 0.25,
        }
    }
}

/// The per-layer factor of the gradient norm: least squares of ln ||dL/dx||
/// against the weighted layer's position, so that norm(layer k) ~ norm(layer
/// k + 1) * factor.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DepthFit {
    /// Multiplies the gradient norm at each weighted layer, going from the
    /// output towards the input.
    pub factor: f64,
    /// Number of layers the fit used (those with a positive, finite norm).
    pub layers: usize,
    /// Coefficient of determination of the log-linear fit (1 = exactly geometric).
    pub r2: f64,
}

/// Fits `norms` (input side first) as geometric in depth. Non-positive or
/// non-finite norms are left out; needs two points.
pub(crate) fn fit_depth(norms: &[f64]) -> Option<DepthFit> {
    let points: Vec<(f64, f64)> =
        norms.iter().enumerate().filter(|(_, n)| **n > 0.0 && n.is_finite()).map(|(k, n)| (k as f64, n.ln())).collect();
    if points.len() < 2 {
        return None;
    }
    let n = points.len() as f64;
    let (mx, my) = (points.iter().map(|p| p.0).sum::<f64>() / n, points.iter().map(|p| p.1).sum::<f64>() / n);
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let slope = sxy / sxx;
    let ss_tot: f64 = points.iter().map(|p| (p.1 - my).powi(2)).sum();
    let ss_res: f64 = points.iter().map(|p| (p.1 - my - slope * (p.0 - mx)).powi(2)).sum();
    let r2 = if ss_tot > 0.0 { 1.0 - ss_res / ss_tot } else { 1.0 };
    // Norms grow towards the output when they shrink towards the input, so the
    // per-layer factor (output to input) is e^-slope.
    Some(DepthFit { factor: (-slope).exp(), layers: points.len(), r2 })
}

/// What kind of problem a [`Finding`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The gradient shrinks on its way to the input.
    Vanishing,
    /// The gradient grows on its way to the input, or is huge or not finite.
    Exploding,
    /// An item in top-level item `index` (the item itself or one inside it)
    /// has ReLU-family units that never fire on the batch.
    DeadUnits {
        /// The top-level item, counted from 0.
        index: usize,
    },
    /// An item in top-level item `index` has sigmoid/tanh activations in their flat tails.
    Saturation {
        /// The top-level item, counted from 0.
        index: usize,
    },
}

/// One problem found, with the numbers that show it.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    /// What was found.
    pub problem: Problem,
    /// The evidence, in words and numbers.
    pub reason: String,
}

/// A fix, written as the user writes it (a `network!` item or argument, or a
/// runtime setting), and why it helps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Remedy {
    /// The fix as the user writes it, e.g. `"residual { .. }"` or `"gru(h)"`.
    pub spelling: &'static str,
    /// Why it helps.
    pub why: &'static str,
}

impl Remedy {
    const fn new(spelling: &'static str, why: &'static str) -> Self {
        Remedy { spelling, why }
    }
}

/// The diagnosis of a [`GradientFlow`]: healthy when nothing was found.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    /// The problems found, in the order they were checked; none when healthy.
    pub findings: Vec<Finding>,
    /// What fits the findings, most direct first, without repeats.
    pub remedies: Vec<Remedy>,
    /// Remedies that look tempting and do not apply.
    pub caveats: Vec<&'static str>,
}

/// What a measurement says, in the verdict's terms: kept here so that the
/// measurement (`gradient_flow.rs`) knows nothing of how it is judged.
impl GradientFlow {
    /// The per-layer factor of the input-gradient norm over the weighted
    /// layers (least squares of its logarithm against depth).
    pub fn depth_fit(&self) -> Option<DepthFit> {
        let norms: Vec<f64> = self.weighted().map(|i| i.input_grad_norm.unwrap_or(f64::NAN)).collect();
        fit_depth(&norms)
    }

    /// The verdict under the default [`Thresholds`].
    pub fn verdict(&self) -> Verdict {
        Verdict::of(self, &Thresholds::default())
    }

    /// The verdict under chosen thresholds.
    pub fn verdict_with(&self, thresholds: &Thresholds) -> Verdict {
        Verdict::of(self, thresholds)
    }
}

impl Verdict {
    /// Nothing to report.
    pub fn is_healthy(&self) -> bool {
        self.findings.is_empty()
    }

    /// Whether the gradient vanishes.
    pub fn is_vanishing(&self) -> bool {
        self.has(|p| p == Problem::Vanishing)
    }

    /// Whether the gradient explodes.
    pub fn is_exploding(&self) -> bool {
        self.has(|p| p == Problem::Exploding)
    }

    /// Whether top-level item `index`, or an item inside it, has dead units.
    pub fn has_dead_units(&self, index: usize) -> bool {
        self.has(|p| p == Problem::DeadUnits { index })
    }

    /// Whether top-level item `index`, or an item inside it, is saturated.
    pub fn is_saturated(&self, index: usize) -> bool {
        self.has(|p| p == Problem::Saturation { index })
    }

    /// The problems in a few words ("vanishing, saturation"), or "healthy".
    pub fn headline(&self) -> String {
        let mut words: Vec<&str> = Vec::new();
        for f in &self.findings {
            let word = match f.problem {
                Problem::Vanishing => "vanishing",
                Problem::Exploding => "exploding",
                Problem::DeadUnits { .. } => "dead units",
                Problem::Saturation { .. } => "saturation",
            };
            if !words.contains(&word) {
                words.push(word);
            }
        }
        if words.is_empty() {
            "healthy".to_string()
        } else {
            words.join(", ")
        }
    }

    fn has(&self, pred: impl Fn(Problem) -> bool) -> bool {
        self.findings.iter().any(|f| pred(f.problem))
    }

    /// Judges `flow` under `t`.
    pub fn of(flow: &GradientFlow, t: &Thresholds) -> Verdict {
        let has = |set: &[ItemKind]| flow.items.iter().any(|i| set.contains(&i.kind));
        let has_family = |pred: fn(Family) -> bool| flow.items.iter().any(|i| pred(i.family));
        let mut v = Verdict { findings: Vec::new(), remedies: Vec::new(), caveats: Vec::new() };
        let ratio = flow.ratio();
        let fit = flow.depth_fit().filter(|f| f.layers >= t.min_fit_layers);

        let mut vanishing = Vec::new();
        if let Some(r) = ratio.filter(|r| *r < t.vanishing_ratio) {
            vanishing.push(format!(
                "the gradient reaching the input is {r:.3e} of the one leaving the output (below {:e})",
                t.vanishing_ratio
            ));
        }
        if let Some(f) = fit.filter(|f| f.factor < t.vanishing_factor) {
            vanishing.push(format!(
                "it shrinks by a factor {:.3} per weighted layer over {} layers (below {})",
                f.factor, f.layers, t.vanishing_factor
            ));
        }
        let mut exploding = Vec::new();
        if let Some(r) = ratio.filter(|r| *r > t.exploding_ratio) {
            exploding.push(format!(
                "the gradient reaching the input is {r:.3e} times the one leaving the output (above {:e})",
                t.exploding_ratio
            ));
        }
        if let Some(f) = fit.filter(|f| f.factor > t.exploding_factor) {
            exploding.push(format!(
                "it grows by a factor {:.3} per weighted layer over {} layers (above {:.3})",
                f.factor, f.layers, t.exploding_factor
            ));
        }
        let norms = flow.items.iter().flat_map(|i| {
            [("input gradient", i.input_grad_norm), ("weight gradient", i.weight_grad_norm)]
                .into_iter()
                .filter_map(move |(what, n)| n.map(|n| (i, what, n)))
        });
        if let Some((item, what, n)) = norms.clone().find(|(_, _, n)| !n.is_finite()) {
            exploding.push(format!("item {} ({}) has a non-finite {what} norm ({n})", item.path, item.kind));
        } else if let Some((item, what, n)) =
            norms.filter(|(_, _, n)| *n > t.max_norm).max_by(|a, b| a.2.total_cmp(&b.2))
        {
            exploding.push(format!(
                "item {} ({}) has a {what} norm of {n:.3e} (above {:e})",
                item.path, item.kind, t.max_norm
            ));
        }
        if !vanishing.is_empty() {
            v.findings.push(Finding { problem: Problem::Vanishing, reason: vanishing.join("; ") });
        }
        if !exploding.is_empty() {
            v.findings.push(Finding { problem: Problem::Exploding, reason: exploding.join("; ") });
        }
        for i in &flow.items {
            if let Some(s) = i.dead_share.filter(|s| *s >= t.dead_share) {
                v.findings.push(Finding {
                    problem: Problem::DeadUnits { index: i.index },
                    reason: format!(
                        "item {} ({}): {:.1}% of its units never fire on this batch, so they pass no gradient",
                        i.path,
                        i.kind,
                        100.0 * s
                    ),
                });
            }
            if let (Some(s), Family::Saturating { low, high }) =
                (i.saturated_share.filter(|s| *s >= t.saturated_share), i.family)
            {
                v.findings.push(Finding {
                    problem: Problem::Saturation { index: i.index },
                    reason: format!(
                        "item {} ({}): {:.1}% of its activations are saturated (within {:.1}% of an end of its \
                         output range ({low}, {high})), where its slope is nearly zero",
                        i.path,
                        i.kind,
                        100.0 * s,
                        100.0 * saturated_within(),
                    ),
                });
            }
        }

        let saturating = has_family(|f| matches!(f, Family::Saturating { .. }));
        let relu = has_family(|f| f == Family::Relu);
        let matching_init = |v: &mut Verdict| {
            if relu {
                v.add(HE);
            }
            if saturating || !relu {
                v.add(XAVIER);
            }
        };
        // What else helps against a gradient that vanishes or explodes alike.
        let norms_and_gates = |v: &mut Verdict| {
            if !has(NORMS) {
                v.add(BATCH_NORM);
                v.add(LAYER_NORM);
            }
            if has(&[ItemKind::Rnn]) {
                v.add(LSTM);
                v.add(GRU);
            }
        };
        if v.is_vanishing() {
            if saturating {
                v.add(RELU);
            }
            matching_init(&mut v);
            if !has(SHORTCUTS) {
                v.add(RESIDUAL);
                v.add(HIGHWAY);
            }
            norms_and_gates(&mut v);
            if !v.is_exploding() {
                v.caveats.push(
                    "Clip::GlobalNorm(..) is no remedy here: clipping cures explosion, not vanishing; \
                     it only scales large gradients down",
                );
            }
        }
        if v.is_exploding() {
            v.add(CLIP);
            matching_init(&mut v);
            norms_and_gates(&mut v);
        }
        if v.has(|p| matches!(p, Problem::DeadUnits { .. })) {
            v.add(LEAKY_RELU);
            v.add(HE);
            if !has(NORMS) {
                v.add(BATCH_NORM);
            }
        }
        if v.has(|p| matches!(p, Problem::Saturation { .. })) {
            if !has(NORMS) {
                v.add(BATCH_NORM);
            }
            v.add(XAVIER);
            v.add(RELU);
        }
        // An initializer every weighted layer already starts from is no remedy.
        let inits: Vec<Option<Init>> = flow.items.iter().filter(|i| i.is_weighted()).map(|i| i.init).collect();
        v.remedies.retain(|r| {
            let Some(family) = INITS.iter().find(|(remedy, _)| remedy == r).map(|(_, f)| f) else { return true };
            inits.is_empty() || !inits.iter().all(|i| i.is_some_and(|i| family.contains(&i)))
        });
        v
    }

    fn add(&mut self, r: Remedy) {
        if !self.remedies.contains(&r) {
            self.remedies.push(r);
        }
    }
}

const RELU: Remedy = Remedy::new(
    "relu",
    "the ReLU family passes the gradient with slope 1 wherever a unit is active; \
     sigmoid's slope is at most 0.25 and tanh's is far below 1 once saturated",
);
const HE: Remedy = Remedy::new(
    "init = he_normal",
    "He init (variance 2/fan_in) keeps activations and gradients the same size through ReLU-family layers",
);
const XAVIER: Remedy = Remedy::new(
    "init = xavier_normal",
    "Xavier init (variance 2/(fan_in + fan_out)) keeps sigmoid/tanh pre-activations in their steep middle",
);
/// The initializers each init remedy stands for: switching between the
/// uniform and the normal form keeps the variance, so it changes nothing.
const INITS: &[(Remedy, &[Init])] =
    &[(HE, &[Init::HeNormal, Init::HeUniform]), (XAVIER, &[Init::XavierNormal, Init::XavierUniform])];
const RESIDUAL: Remedy =
    Remedy::new("residual { .. }", "y = x + body(x): the identity path hands dL/dy to every block's input unchanged");
const HIGHWAY: Remedy = Remedy::new(
    "highway { .. }",
    "a learned gate mixes body(x) with x, so the gradient has a path that skips the body",
);
const BATCH_NORM: Remedy = Remedy::new(
    "batch_norm",
    "re-centres and re-scales each unit's pre-activation over the batch, \
     keeping it out of saturation and the gradient's scale steady",
);
const LAYER_NORM: Remedy = Remedy::new("layer_norm", "the same per sample, for small batches and sequences");
const LSTM: Remedy = Remedy::new(
    "lstm(h)",
    "the LSTM's cell state is updated additively through gates, so the gradient through time does not shrink \
     by a matrix product per step",
);
const GRU: Remedy = Remedy::new("gru(h)", "a lighter gated cell with the same additive path");
const CLIP: Remedy = Remedy::new(
    "Clip::GlobalNorm(1.0)",
    "caps the global gradient norm of each step (as clip_grad_norm_); \
     clipping cures explosion, not vanishing",
);
const LEAKY_RELU: Remedy = Remedy::new(
    "leaky_relu(slope = 0.01)",
    "a small slope for negative inputs keeps a gradient flowing, so dead units can come back \
     (elu and prelu do the same)",
);

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.problem {
            Problem::Vanishing => "vanishing gradient",
            Problem::Exploding => "exploding gradient",
            Problem::DeadUnits { .. } => "dead units",
            Problem::Saturation { .. } => "saturation",
        };
        write!(f, "{what}: {}", self.reason)
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_healthy() {
            return writeln!(f, "verdict: healthy");
        }
        writeln!(f, "verdict:")?;
        for finding in &self.findings {
            writeln!(f, "  - {finding}")?;
        }
        writeln!(f, "remedies:")?;
        let w = self.remedies.iter().map(|r| r.spelling.len()).max().unwrap_or(0);
        for r in &self.remedies {
            writeln!(f, "  {:<w$}  {}", r.spelling, r.why)?;
        }
        for c in &self.caveats {
            writeln!(f, "note: {c}")?;
        }
        Ok(())
    }
}
