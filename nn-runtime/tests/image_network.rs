//! The image layers composed as a small convolutional network, checked by
//! finite differences end to end: their buffers, layouts and gradients fit
//! together, not only one by one.

use nn_runtime::layers::{Activation, Tanh};
use nn_runtime::testing::{grad_check, LayerModel};
use nn_runtime::{
    seeded_rng, visit_in, visit_mut_in, AvgPool2d, Batch, BatchNorm2d, Conv2d, Flatten, GlobalAvgPool, Init, Layer,
    MaxPool2d, Visit, VisitMut,
};

/// (1, 8, 8) -> conv 3x3 pad 1 (4, 8, 8) -> batch_norm -> tanh -> max_pool 2 (4, 4, 4)
/// -> conv 1x1 (3, 4, 4), which feeds two heads: avg_pool 3 stride 1 pad 1 then
/// flatten (48), and global_avg_pool (3).
struct Net {
    conv1: Conv2d<f64, 64, 256>,
    bn: BatchNorm2d<f64, 256>,
    act: Activation<f64, Tanh, 256>,
    pool: MaxPool2d<f64, 256, 64>,
    conv2: Conv2d<f64, 64, 48>,
    avg: AvgPool2d<f64, 48, 48>,
    flatten: Flatten<f64, 48>,
    gap: GlobalAvgPool<f64, 48, 3>,
    y: Batch<f64, 51>,
    dx: Batch<f64, 48>,
}

impl Net {
    fn new(seed: u64) -> Self {
        let mut rng = seeded_rng(seed);
        Self {
            conv1: Conv2d::new::<1, 8, 8, 4, 3, 1, 1>(&mut rng, Init::HeNormal, true),
            bn: BatchNorm2d::new::<4, 8, 8>(0.1, 1e-5),
            act: Activation::new(Tanh),
            pool: MaxPool2d::new::<4, 8, 8, 2, 2, 0>(),
            conv2: Conv2d::new::<4, 4, 4, 3, 1, 1, 0>(&mut rng, Init::XavierNormal, true),
            avg: AvgPool2d::new::<3, 4, 4, 3, 1, 1>(),
            flatten: Flatten::default(),
            gap: GlobalAvgPool::new::<3, 4, 4>(),
            y: Batch::zeros(0),
            dx: Batch::zeros(0),
        }
    }
}

/// Output: the flattened average-pooled map (48 values) stacked on the three
/// channel means, so both heads' gradients meet at `conv2`.
impl Layer<f64, 64, 51> for Net {
    fn forward(&mut self, x: &Batch<f64, 64>) -> &Batch<f64, 51> {
        let h = self.conv1.forward(x);
        let h = self.bn.forward(h);
        let h = self.act.forward(h);
        let h = self.pool.forward(h);
        let h = self.conv2.forward(h);
        let a = self.flatten.forward(self.avg.forward(h));
        let g = self.gap.forward(h);
        self.y = Batch::from_fn(x.ncols(), |i, j| if i < 48 { a[(i, j)] } else { g[(i - 48, j)] });
        &self.y
    }

    fn backward(&mut self, grad: &Batch<f64, 51>) -> &Batch<f64, 64> {
        let n = grad.ncols();
        let ga = Batch::<f64, 48>::from_fn(n, |i, j| grad[(i, j)]);
        let gg = Batch::<f64, 3>::from_fn(n, |i, j| grad[(48 + i, j)]);
        let from_avg = self.avg.backward(self.flatten.backward(&ga)).clone();
        self.dx = from_avg + self.gap.backward(&gg);
        let h = self.conv2.backward(&self.dx);
        let h = self.pool.backward(h);
        let h = self.act.backward(h);
        let h = self.bn.backward(h);
        self.conv1.backward(h)
    }

    fn predict(&self, x: &Batch<f64, 64>) -> Batch<f64, 51> {
        let h = self.conv2.predict(&self.pool.predict(&self.act.predict(&self.bn.predict(&self.conv1.predict(x)))));
        let a = self.flatten.predict(&self.avg.predict(&h));
        let g = self.gap.predict(&h);
        Batch::from_fn(x.ncols(), |i, j| if i < 48 { a[(i, j)] } else { g[(i - 48, j)] })
    }

    fn visit(&self, v: &mut dyn Visit<f64>) {
        visit_in(v, "0", |v| self.conv1.visit(v));
        visit_in(v, "1", |v| self.bn.visit(v));
        visit_in(v, "4", |v| self.conv2.visit(v));
    }

    fn visit_mut(&mut self, v: &mut dyn VisitMut<f64>) {
        visit_mut_in(v, "0", |v| self.conv1.visit_mut(v));
        visit_mut_in(v, "1", |v| self.bn.visit_mut(v));
        visit_mut_in(v, "4", |v| self.conv2.visit_mut(v));
    }
}

#[test]
fn small_convolutional_network_matches_finite_differences() {
    let report = grad_check(&mut LayerModel::new(Net::new(7)), 3, 11);
    report.assert_below(1e-6);
    assert_eq!(report.tensors, ["0.weight", "0.bias", "1.weight", "1.bias", "4.weight", "4.bias"]);
    // 3 samples of 64 inputs, then 36 + 4 + 4 + 4 + 12 + 3 parameters.
    assert_eq!(report.checked, 3 * 64 + 63);
}
