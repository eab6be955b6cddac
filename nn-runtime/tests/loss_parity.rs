//! Losses against PyTorch's values and gradients (`tools/reference/losses.py`)
//! and against central finite differences, on logits of moderate size and of
//! magnitude 1000.

use nalgebra::DMatrix;
use nn_runtime::{Loss, Targets};
use serde_json::Value;

/// A `[samples][outputs]` array as a matrix with one column per sample.
fn columns(v: &Value) -> DMatrix<f64> {
    let rows = v.as_array().unwrap();
    let width = rows[0].as_array().unwrap().len();
    DMatrix::from_fn(width, rows.len(), |i, j| rows[j][i].as_f64().unwrap())
}

fn loss(name: &str) -> Loss {
    match name {
        "SoftmaxCrossEntropy" => Loss::SoftmaxCrossEntropy,
        "Mse" => Loss::Mse,
        "BinaryCrossEntropyWithLogits" => Loss::BinaryCrossEntropyWithLogits,
        other => panic!("unknown loss {other}"),
    }
}

struct Case {
    name: String,
    loss: Loss,
    outputs: DMatrix<f64>,
    classes: Vec<usize>,
    real: DMatrix<f64>,
    value: f64,
    grad: DMatrix<f64>,
}

impl Case {
    fn targets(&self) -> Targets<'_, f64> {
        if self.loss == Loss::SoftmaxCrossEntropy {
            Targets::Classes(&self.classes)
        } else {
            Targets::Real(self.real.as_view())
        }
    }
}

fn cases() -> Vec<Case> {
    let r: Value = serde_json::from_str(include_str!("data/losses.json")).unwrap();
    r["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let loss = loss(c["loss"].as_str().unwrap());
            let (classes, real) = if loss == Loss::SoftmaxCrossEntropy {
                (
                    c["targets"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect(),
                    DMatrix::zeros(0, 0),
                )
            } else {
                (Vec::new(), columns(&c["targets"]))
            };
            Case {
                name: format!("{:?} {}", loss, c["name"].as_str().unwrap()),
                loss,
                outputs: columns(&c["outputs"]),
                classes,
                real,
                value: c["value"].as_f64().unwrap(),
                grad: columns(&c["grad"]),
            }
        })
        .collect()
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / a.abs().max(b.abs()).max(1e-12)
}

#[test]
fn values_and_gradients_match_pytorch_including_logits_of_magnitude_1000() {
    let cases = cases();
    assert_eq!(cases.len(), 6);
    assert_eq!(cases.iter().filter(|c| c.name.ends_with("magnitude_1000")).count(), 3);
    for c in &cases {
        let mut grad = DMatrix::zeros(c.outputs.nrows(), c.outputs.ncols());
        let value = c.loss.value_and_grad(c.outputs.as_view(), c.targets(), grad.as_view_mut()).unwrap();
        assert!(rel(value, c.value) < 1e-12, "{}: loss {value} vs torch {}", c.name, c.value);
        assert_eq!(c.loss.value(c.outputs.as_view(), c.targets()).unwrap(), value);
        for (a, b) in grad.iter().zip(c.grad.iter()) {
            assert!((a - b).abs() <= 1e-12 * b.abs().max(1e-3), "{}: gradient {a} vs torch {b}", c.name);
        }
    }
}

#[test]
fn gradients_match_central_differences_including_logits_of_magnitude_1000() {
    for c in cases() {
        let mut grad = DMatrix::zeros(c.outputs.nrows(), c.outputs.ncols());
        c.loss.value_and_grad(c.outputs.as_view(), c.targets(), grad.as_view_mut()).unwrap();
        // MSE is quadratic, so central differences have no truncation error
        // and a larger step only shrinks the rounding of its large values.
        let h = if c.loss == Loss::Mse { 1e-3 } else { 1e-5 };
        for k in 0..c.outputs.len() {
            let mut y = c.outputs.clone();
            y[k] += h;
            let up = c.loss.value(y.as_view(), c.targets()).unwrap();
            y[k] -= 2.0 * h;
            let down = c.loss.value(y.as_view(), c.targets()).unwrap();
            let numeric = (up - down) / (2.0 * h);
            let err = (grad[k] - numeric).abs() / grad[k].abs().max(numeric.abs()).max(1e-3);
            assert!(err < 1e-6, "{} element {k}: analytic {} vs numeric {numeric} ({err:e})", c.name, grad[k]);
        }
    }
}
