//! Highway connection (Srivastava et al. 2015): a learned gate mixes the body's
//! output with the input, `y = t * body(x) + (1 - t) * x`, `t = sigmoid(G x + b)`.

use rand::Rng;

use crate::layer::{copy_batch, empty, ensure_cols, visit_parts, Io};
use crate::layers::{sigmoid, Dense};
use crate::{batch::Batch, init::Init, kernels::Float, layer::Layer};

/// The gate's bias starts here, so the block starts close to the identity
/// (t ~ 0.12) and gradients flow through the skip early in training.
const GATE_BIAS: f64 = -2.0;

/// `highway { body }` on `N` features; the gate is a dense layer named `gate`.
#[derive(Clone, Debug)]
pub struct Highway<T: Float, B, const N: usize> {
    body: B,
    gate: Dense<T, N, N>,
    // The last forward's input, gate `t` and body output `h`; dL/dh and
    // dL/d(gate pre-activation) of the last backward.
    x: Batch<T, N>,
    t: Batch<T, N>,
    h: Batch<T, N>,
    gh: Batch<T, N>,
    gz: Batch<T, N>,
    io: Io<T, N, N>,
}

impl<T: Float, B: Layer<T, N, N>, const N: usize> Highway<T, B, N> {
    /// The gate's weight is drawn from `init`; its bias starts at -2.
    pub fn new<R: Rng + ?Sized>(rng: &mut R, body: B, init: Init) -> Self {
        let mut gate = Dense::new(rng, init, true);
        if let Some(b) = gate.bias_mut() {
            b.fill(T::of(GATE_BIAS));
        }
        Self { body, gate, x: empty(), t: empty(), h: empty(), gh: empty(), gz: empty(), io: Io::default() }
    }
    /// The body.
    pub fn body(&self) -> &B {
        &self.body
    }
    /// The gate layer (before its sigmoid).
    pub fn gate(&self) -> &Dense<T, N, N> {
        &self.gate
    }
}

/// `t = sigmoid(z)` in place, then `y = x + t * (h - x)`.
fn mix<T: Float>(t: &mut [T], x: &[T], h: &[T], y: &mut [T]) {
    for (((t, x), h), y) in t.iter_mut().zip(x).zip(h).zip(y) {
        *t = sigmoid(*t);
        *y = *x + *t * (*h - *x);
    }
}

impl<T: Float, B: Layer<T, N, N>, const N: usize> Layer<T, N, N> for Highway<T, B, N> {
    fn forward(&mut self, x: &Batch<T, N>) -> &Batch<T, N> {
        copy_batch(&mut self.x, x);
        copy_batch(&mut self.h, self.body.forward(x));
        copy_batch(&mut self.t, self.gate.forward(x));
        let (t, h) = (self.t.as_mut_slice(), self.h.as_slice());
        self.io.write_output(x.ncols(), |y| mix(t, x.as_slice(), h, y))
    }

    // dL/dh = g t; dL/dz = g (h - x) t (1 - t); dL/dx = g (1 - t) + body'^T dL/dh + G^T dL/dz.
    fn backward(&mut self, g: &Batch<T, N>) -> &Batch<T, N> {
        let n = g.ncols();
        ensure_cols(&mut self.gh, n);
        ensure_cols(&mut self.gz, n);
        self.io.write_input_grad(n, |dx| {
            let one = T::one();
            for (i, g) in g.as_slice().iter().enumerate() {
                let (t, x, h) = (self.t[i], self.x[i], self.h[i]);
                self.gh[i] = *g * t;
                self.gz[i] = *g * (h - x) * t * (one - t);
                dx[i] = *g * (one - t);
            }
            super::add_assign(dx, self.body.backward(&self.gh).as_slice());
            super::add_assign(dx, self.gate.backward(&self.gz).as_slice());
        })
    }

    fn predict(&self, x: &Batch<T, N>) -> Batch<T, N> {
        let h = self.body.predict(x);
        let mut t = self.gate.predict(x);
        let mut y = x.clone();
        mix(t.as_mut_slice(), x.as_slice(), h.as_slice(), y.as_mut_slice());
        y
    }

    fn io(&self) -> Option<&Io<T, N, N>> {
        Some(&self.io)
    }

    visit_parts!(layers: body, gate in "gate");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocks::test_bodies::dense_tanh;
    use crate::init::seeded_rng;
    use crate::testing::{grad_check, LayerModel};

    #[test]
    fn gradients_match_finite_differences() {
        let block = Highway::new(&mut seeded_rng(1), dense_tanh::<4, 4>(2), Init::XavierNormal);
        let report = grad_check(&mut LayerModel::new(block), 3, 9);
        report.assert_below(1e-6);
        assert_eq!(report.tensors, ["0.weight", "0.bias", "gate.weight", "gate.bias"]);
    }

    #[test]
    fn zero_gate_weight_mixes_with_sigmoid_of_minus_two() {
        let mut block = Highway::new(&mut seeded_rng(3), dense_tanh::<2, 2>(4), Init::Zeros);
        assert!(block.gate().bias().unwrap().iter().all(|b| *b == -2.0));
        let x = Batch::<f64, 2>::from_column_slice(&[1.0, -2.0, 0.5, 3.0]);
        let h = dense_tanh::<2, 2>(4).forward(&x).clone();
        let t = 1.0 / (1.0 + 2f64.exp());
        let y = block.forward(&x).clone();
        for i in 0..4 {
            assert!((y[i] - (t * h[i] + (1.0 - t) * x[i])).abs() < 1e-15);
        }
        assert_eq!(block.predict(&x), y);
    }
}
