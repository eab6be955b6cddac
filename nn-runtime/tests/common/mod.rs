//! What the integration tests share: a hand-built two-layer network with the
//! names `nn.Sequential(Linear, activation, Linear)` gives (`0.weight`,
//! `0.bias`, `2.weight`, `2.bias`), the iris split the trainer tests train
//! on, the reader of the reference tables the scripts in `tools/reference/`
//! write, and an allocator that counts ([`counting`]).

#![allow(dead_code)] // each test binary uses a different part

pub mod counting;

use std::collections::HashMap;

#[cfg(feature = "datasets")]
use nn_runtime::data::{iris, stratified_split, Dataset, Standardizer};
use nn_runtime::layers::{Activation, ActivationFn, Dense};
use nn_runtime::testing::LayerModel;
use nn_runtime::{seeded_rng, visit_in, visit_mut_in, Batch, Float, Init, Layer, Visit, VisitMut};

pub struct Mlp<T: Float, F: ActivationFn, const I: usize, const H: usize, const O: usize> {
    pub first: Dense<T, I, H>,
    act: Activation<T, F, H>,
    pub second: Dense<T, H, O>,
}

impl<T: Float, F: ActivationFn + Default, const I: usize, const H: usize, const O: usize> Mlp<T, F, I, H, O> {
    /// He-initialized weights from `seed`, zero biases.
    pub fn seeded(seed: u64) -> Self {
        let mut rng = seeded_rng(seed);
        Self {
            first: Dense::new(&mut rng, Init::HeNormal, true),
            act: Activation::default(),
            second: Dense::new(&mut rng, Init::XavierNormal, true),
        }
    }
}

impl<T: Float, F: ActivationFn, const I: usize, const H: usize, const O: usize> Layer<T, I, O> for Mlp<T, F, I, H, O> {
    fn forward(&mut self, x: &Batch<T, I>) -> &Batch<T, O> {
        let h = self.first.forward(x);
        let a = self.act.forward(h);
        self.second.forward(a)
    }
    fn backward(&mut self, g: &Batch<T, O>) -> &Batch<T, I> {
        let ga = self.second.backward(g);
        let gh = self.act.backward(ga);
        self.first.backward(gh)
    }
    fn predict(&self, x: &Batch<T, I>) -> Batch<T, O> {
        self.second.predict(&self.act.predict(&self.first.predict(x)))
    }
    fn visit(&self, v: &mut dyn Visit<T>) {
        visit_in(v, "0", |v| self.first.visit(v));
        visit_in(v, "2", |v| self.second.visit(v));
    }
    fn visit_mut(&mut self, v: &mut dyn VisitMut<T>) {
        visit_mut_in(v, "0", |v| self.first.visit_mut(v));
        visit_mut_in(v, "2", |v| self.second.visit_mut(v));
    }
}

pub type MlpModel<T, F, const I: usize, const H: usize, const O: usize> = LayerModel<T, Mlp<T, F, I, H, O>, I, O>;

/// The network as a `Model`, seeded.
pub fn mlp<T: Float, F: ActivationFn + Default, const I: usize, const H: usize, const O: usize>(
    seed: u64,
) -> MlpModel<T, F, I, H, O> {
    LayerModel::new(Mlp::seeded(seed))
}

/// Iris, standardized on the training part: (train, validation). Only with
/// the embedded data sets, which the tests that train on it require.
#[cfg(feature = "datasets")]
pub fn iris_split() -> (Dataset<f64>, Dataset<f64>) {
    let (mut train, mut val) = stratified_split(&iris::<f64>(), 0.2, 3).unwrap();
    let s = Standardizer::fit(&train).unwrap();
    s.apply(&mut train).unwrap();
    s.apply(&mut val).unwrap();
    (train, val)
}

/// All parameter values, flattened in visiting order.
pub fn flat_params<T: Float, M: nn_runtime::Model<T>>(model: &M) -> Vec<T> {
    model.parameters().into_iter().flat_map(|p| p.value).collect()
}

/// `<case>.<tensor> <shape> <values>` per line (`#` starts a comment), as the
/// scripts write them, from `tests/data/{file}`: each tensor by name, its
/// values row-major.
pub fn reference_table(file: &str) -> HashMap<String, Vec<f64>> {
    let path = format!("{}/tests/data/{file}", env!("CARGO_MANIFEST_DIR"));
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e} (run its script in tools/reference)"));
    let mut out = HashMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let mut words = line.split_whitespace();
        let name = words.next().expect("name").to_string();
        let size: usize = words.next().expect("shape").split('x').map(|d| d.parse::<usize>().expect("dim")).product();
        let values: Vec<f64> = words.map(|v| v.parse().expect("number")).collect();
        assert_eq!(values.len(), size, "{name}: shape and value count disagree");
        out.insert(name, values);
    }
    out
}
