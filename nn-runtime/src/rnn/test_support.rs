//! Test harness for sequence layers: [`SeqModel`] presents a [`SeqLayer`] as a
//! [`Model`] over whole sequences (rows `t*I..(t+1)*I` are step `t`), so
//! `testing::grad_check_at` checks inputs and parameters through time, and
//! [`initial_state_check`] checks dL/d(initial state) by central differences.

use nalgebra::{DMatrix, DMatrixView};
use rand_distr::{Distribution, StandardNormal};

use super::{SeqGrad, SeqLayer};
use crate::testing::{grad_check_at, GradReport, STEP};
use crate::{
    batch::Batch,
    error::ShapeError,
    init::seeded_rng,
    layer::{Visit, VisitMut},
    model::Model,
};

/// What the model outputs (and so which backward path the check exercises).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outputs {
    /// Every step's output, then every part of the final state:
    /// `(steps + STATE_PARTS) * H` rows; backward uses `SeqGrad::Every` and a
    /// final-state gradient.
    EveryAndFinal,
    /// The last step's output only: `H` rows; backward uses `SeqGrad::Last`.
    Last,
}

pub struct SeqModel<L, const I: usize, const H: usize> {
    pub layer: L,
    /// The initial state forward starts from (`None`: zeros).
    pub initial: Option<Vec<Batch<f64, H>>>,
    outputs: Outputs,
    xs: Vec<Batch<f64, I>>,
    gs: Vec<Batch<f64, H>>,
    finals: Vec<Batch<f64, H>>,
    out: DMatrix<f64>,
    dx: DMatrix<f64>,
}

impl<L: SeqLayer<f64, I, H>, const I: usize, const H: usize> SeqModel<L, I, H> {
    pub fn new(layer: L, outputs: Outputs) -> Self {
        Self {
            layer,
            initial: None,
            outputs,
            xs: Vec::new(),
            gs: Vec::new(),
            finals: Vec::new(),
            out: DMatrix::zeros(0, 0),
            dx: DMatrix::zeros(0, 0),
        }
    }

    /// Starts every forward from a random state of `batch` samples.
    pub fn with_random_initial(mut self, batch: usize, seed: u64) -> Self {
        let mut rng = seeded_rng(seed);
        self.initial = Some(
            (0..L::STATE_PARTS)
                .map(|_| {
                    Batch::<f64, H>::from_fn(batch, |_, _| {
                        let v: f64 = StandardNormal.sample(&mut rng);
                        0.5 * v
                    })
                })
                .collect(),
        );
        self
    }
}

/// Splits rows `t*N..(t+1)*N` of `m` into step batches.
fn split_steps<const N: usize>(m: &DMatrixView<'_, f64>, steps: usize, into: &mut Vec<Batch<f64, N>>) {
    into.resize_with(steps, crate::layer::empty);
    for (t, b) in into.iter_mut().enumerate() {
        *b = Batch::<f64, N>::from_fn(m.ncols(), |i, j| m[(t * N + i, j)]);
    }
}

impl<L: SeqLayer<f64, I, H>, const I: usize, const H: usize> Model<f64> for SeqModel<L, I, H> {
    const INPUT: usize = I;
    const OUTPUT: usize = H;
    const NAME: &'static str = "SeqModel";

    fn visit(&self, v: &mut dyn Visit<f64>) {
        self.layer.visit(v);
    }
    fn visit_mut(&mut self, v: &mut dyn VisitMut<f64>) {
        self.layer.visit_mut(v);
    }

    fn forward_view(&mut self, x: DMatrixView<'_, f64>) -> Result<DMatrixView<'_, f64>, ShapeError> {
        if !x.nrows().is_multiple_of(I) {
            return Err(ShapeError::Width { what: "sequence", expected: I, found: x.nrows() });
        }
        let steps = x.nrows() / I;
        split_steps(&x, steps, &mut self.xs);
        self.layer.forward_seq(&self.xs, self.initial.as_deref())?;
        let ys = self.layer.outputs();
        self.out = match self.outputs {
            Outputs::Last => DMatrix::from_column_slice(H, x.ncols(), ys[steps - 1].as_slice()),
            Outputs::EveryAndFinal => {
                let parts: Vec<&Batch<f64, H>> = ys.iter().chain(self.layer.final_state()).collect();
                DMatrix::from_fn(parts.len() * H, x.ncols(), |i, j| parts[i / H][(i % H, j)])
            }
        };
        Ok(self.out.as_view())
    }

    fn backward_view(&mut self, g: DMatrixView<'_, f64>) -> Result<DMatrixView<'_, f64>, ShapeError> {
        let dxs = match self.outputs {
            Outputs::Last => {
                let g = Batch::<f64, H>::from_column_slice(g.clone_owned().as_slice());
                self.layer.backward_seq(SeqGrad::Last(&g), None)?
            }
            Outputs::EveryAndFinal => {
                let steps = g.nrows() / H - L::STATE_PARTS;
                split_steps(&g.rows(0, steps * H), steps, &mut self.gs);
                split_steps(&g.rows(steps * H, L::STATE_PARTS * H), L::STATE_PARTS, &mut self.finals);
                self.layer.backward_seq(SeqGrad::Every(&self.gs), Some(&self.finals))?
            }
        };
        let cols = dxs.first().map_or(0, |d| d.ncols());
        self.dx = DMatrix::from_fn(dxs.len() * I, cols, |i, j| dxs[i / I][(i % I, j)]);
        Ok(self.dx.as_view())
    }

    fn predict_view(&self, x: DMatrixView<'_, f64>) -> Result<DMatrix<f64>, ShapeError> {
        let mut xs = Vec::new();
        split_steps(&x, x.nrows() / I, &mut xs);
        let ys = self.layer.predict_seq(&xs, self.initial.as_deref())?;
        Ok(DMatrix::from_fn(ys.len() * H, x.ncols(), |i, j| ys[i / H][(i % H, j)]))
    }
}

/// A random sequence of `steps` steps of `batch` samples, as the model's input matrix.
pub fn random_sequence<const I: usize>(steps: usize, batch: usize, seed: u64) -> DMatrix<f64> {
    let mut rng = seeded_rng(seed);
    DMatrix::from_fn(steps * I, batch, |_, _| StandardNormal.sample(&mut rng))
}

/// Checks dL/d(initial state) against central differences for `L = <r, y>`
/// with random `r`. Returns the worst relative error (as `GradReport`'s).
pub fn initial_state_check<L: SeqLayer<f64, I, H>, const I: usize, const H: usize>(
    model: &mut SeqModel<L, I, H>,
    x: &DMatrix<f64>,
    seed: u64,
) -> f64 {
    let mut rng = seeded_rng(seed);
    let y = model.forward_view(x.as_view()).expect("forward").into_owned();
    let r = DMatrix::<f64>::from_fn(y.nrows(), y.ncols(), |_, _| StandardNormal.sample(&mut rng));
    model.backward_view(r.as_view()).expect("backward");
    let analytic: Vec<Batch<f64, H>> = model.layer.initial_state_grad().to_vec();
    assert_eq!(analytic.len(), L::STATE_PARTS);
    let mut worst = 0.0f64;
    for (p, part) in analytic.iter().enumerate() {
        for (e, &a) in part.iter().enumerate() {
            let mut loss = |delta: f64| {
                model.initial.as_mut().expect("initial state set")[p].as_mut_slice()[e] += delta;
                model.forward_view(x.as_view()).expect("forward").dot(&r)
            };
            let lp = loss(STEP);
            let lm = loss(-2.0 * STEP);
            loss(STEP);
            let n = (lp - lm) / (2.0 * STEP);
            worst = worst.max((a - n).abs() / a.abs().max(n.abs()).max(1e-3));
        }
    }
    worst
}

/// The full check of a sequence layer at `steps` steps: inputs and every
/// parameter through `grad_check_at` (both output modes), and the initial state.
pub fn check_through_time<L, const I: usize, const H: usize>(make: impl Fn() -> L, steps: usize, seed: u64)
where
    L: SeqLayer<f64, I, H>,
{
    let batch = 2;
    let x = random_sequence::<I>(steps, batch, seed);
    let mut every = SeqModel::new(make(), Outputs::EveryAndFinal).with_random_initial(batch, seed + 1);
    let report: GradReport = grad_check_at(&mut every, &x, seed + 2);
    assert_eq!(report.tensors, ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]);
    report.assert_below(1e-6);
    let worst = initial_state_check(&mut every, &x, seed + 3);
    assert!(worst < 1e-6, "initial state gradient: relative error {worst:.3e} at {steps} steps");
    let mut last = SeqModel::new(make(), Outputs::Last).with_random_initial(batch, seed + 4);
    let last_report = grad_check_at(&mut last, &x, seed + 5);
    last_report.assert_below(1e-6);
    let last_worst = initial_state_check(&mut last, &x, seed + 6);
    assert!(
        last_worst < 1e-6,
        "initial state gradient (last output only): relative error {last_worst:.3e} at {steps} steps"
    );
    eprintln!(
        "{} at {steps} steps: worst relative error {:.1e} ({} scalars), initial state {worst:.1e}; \
         last output only: {:.1e}, initial state {last_worst:.1e}",
        L::KIND,
        report.worst,
        report.checked,
        last_report.worst
    );
}
