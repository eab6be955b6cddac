//! `backward_params` (and `Model::backward_params_view`, which `Trainer` uses)
//! skips dL/dx of the network's input but must add exactly the parameter
//! gradients `backward` adds, for every kind of first item and for the
//! recurrent-then-`last` shortcut of `seq` networks.

use nn::prelude::*;
use nn::ShapeError;

nn::network! {
    pub struct DenseFirst(3 -> 2) { dense(4), tanh, residual { dense(4), relu }, dense(2) }

    /// A block first: its default `backward_params` runs the whole backward.
    pub struct ResidualFirst(3 -> 2) { residual { dense(3), tanh }, dense(2) }

    /// An activation first: nothing to add, the dense after it still needs dL/dx.
    pub struct ActivationFirst(3 -> 2) { tanh, dense(4), relu, dense(2) }

    pub struct Headed(3 -> 2) {
        dense(4), tanh,
        aux_head(weight = 0.5) { dense(2) },
        dense(2),
    }

    pub struct ConvFirst((1, 6, 6) -> 3) {
        conv2d(2, kernel = 3, padding = 1), relu, max_pool(2), flatten, dense(3),
    }

    pub struct LstmLast(seq 3 -> 2) { lstm(5), last, dense(2) }

    pub struct GruLast(seq 3 -> 2) { gru(4), last, dense(2) }

    /// The shortcut in the middle (`gru` then `last`), with dL/dx passed on to the `lstm`.
    pub struct Stacked(seq 3 -> 2) { lstm(5), gru(4), last, dense(2) }

    /// Position-wise layers first and between; `last` after an activation.
    pub struct Mixed(seq 3 -> 2) { dense(4), tanh, rnn(5), layer_norm, dense(3), sigmoid, last, dense(2) }
}

fn grads<M: Model<f64>>(net: &M) -> Vec<f64> {
    net.parameters().into_iter().flat_map(|p| p.grad).collect()
}

fn random(rows: usize, cols: usize, seed: u64) -> nn::nalgebra::DMatrix<f64> {
    use nn::rand::Rng;
    let mut rng = seeded_rng(seed);
    nn::nalgebra::DMatrix::from_fn(rows, cols, |_, _| rng.random_range(-1.0..1.0))
}

/// Runs forward and `backward_view` on one network, forward and
/// `backward_params_view` on a second built from the same seed, and demands
/// the same, non-zero, parameter gradients.
fn same_parameter_gradients<M: Model<f64>>(make: impl Fn() -> M, x: nn::nalgebra::DMatrix<f64>, aux: bool) {
    let g = random(M::OUTPUT, x.ncols(), 7);
    let (mut full, mut params) = (make(), make());
    for (net, with_dx) in [(&mut full, true), (&mut params, false)] {
        net.forward_view(x.as_view()).unwrap();
        if aux {
            net.set_aux_grad(0, g.as_view()).unwrap();
        }
        if with_dx {
            net.backward_view(g.as_view()).unwrap();
        } else {
            net.backward_params_view(g.as_view()).unwrap();
        }
    }
    let (a, b) = (grads(&full), grads(&params));
    assert!(a.iter().filter(|v| **v != 0.0).count() > a.len() / 2, "most gradients are non-zero");
    assert_eq!(a, b);
}

#[test]
fn vector_networks_get_the_same_parameter_gradients() {
    same_parameter_gradients(|| DenseFirst::<f64>::seeded(1), random(3, 5, 1), false);
    same_parameter_gradients(|| ResidualFirst::<f64>::seeded(2), random(3, 5, 2), false);
    same_parameter_gradients(|| ActivationFirst::<f64>::seeded(3), random(3, 5, 3), false);
    same_parameter_gradients(|| Headed::<f64>::seeded(4), random(3, 5, 4), true);
    same_parameter_gradients(|| ConvFirst::<f64>::seeded(5), random(36, 4, 5), false);
}

#[test]
fn seq_networks_get_the_same_parameter_gradients() {
    // 4 steps of 3 features, 3 samples.
    same_parameter_gradients(|| LstmLast::<f64>::seeded(6), random(12, 3, 6), false);
    same_parameter_gradients(|| GruLast::<f64>::seeded(7), random(12, 3, 7), false);
    same_parameter_gradients(|| Stacked::<f64>::seeded(8), random(12, 3, 8), false);
    same_parameter_gradients(|| Mixed::<f64>::seeded(9), random(12, 3, 9), false);
}

#[test]
fn the_inherent_method_agrees_and_a_full_backward_still_works_after_it() {
    let xs: Vec<Batch<f64, 3>> = (0..4).map(|t| Batch::from_fn(2, |i, j| ((t + i + 2 * j) as f64).sin())).collect();
    let g = Batch::<f64, 2>::from_fn(2, |i, j| 0.5 - i as f64 + j as f64);
    let mut a = Stacked::<f64>::seeded(10);
    let mut b = Stacked::<f64>::seeded(10);
    a.forward(&xs);
    let dx = a.backward(&g);
    b.forward(&xs);
    b.backward_params(&g).unwrap();
    assert_eq!(grads(&a), grads(&b));
    // The buffers the shortcut left behind do not leak into a later full backward.
    b.zero_grad();
    b.forward(&xs);
    assert_eq!(b.backward(&g), dx);
    assert_eq!(grads(&a), grads(&b));

    let x = Batch::<f64, 3>::from_fn(4, |i, j| (i as f64 - j as f64) * 0.3);
    let gv = Batch::<f64, 2>::from_fn(4, |i, j| i as f64 + 0.25 * j as f64);
    let (mut c, mut d) = (DenseFirst::<f64>::seeded(11), DenseFirst::<f64>::seeded(11));
    c.forward(&x);
    c.backward(&gv);
    d.forward(&x);
    d.backward_params(&gv).unwrap();
    assert_eq!(grads(&c), grads(&d));
}

#[test]
fn a_gradient_that_does_not_fit_is_refused_without_touching_gradients() {
    let mut net = DenseFirst::<f64>::seeded(12);
    let g = Batch::<f64, 2>::from_element(3, 1.0);
    assert_eq!(net.backward_params(&g), Err(ShapeError::NoForward));
    net.forward(&Batch::<f64, 3>::from_element(2, 0.5));
    assert_eq!(net.backward_params(&g), Err(ShapeError::BatchSize { forward: 2, backward: 3 }));
    let wide = random(3, 2, 1);
    assert_eq!(
        net.backward_params_view(wide.as_view()),
        Err(ShapeError::Width { what: "gradient", expected: 2, found: 3 })
    );
    assert!(grads(&net).iter().all(|v| *v == 0.0));

    let mut seq = LstmLast::<f64>::seeded(13);
    assert_eq!(seq.backward_params(&g), Err(ShapeError::NoForward));
    let xs: Vec<Batch<f64, 3>> = (0..3).map(|_| Batch::from_element(2, 0.1)).collect();
    seq.forward(&xs);
    assert_eq!(seq.backward_params(&g), Err(ShapeError::BatchSize { forward: 2, backward: 3 }));
    assert_eq!(
        seq.backward_params_view(wide.as_view()),
        Err(ShapeError::Width { what: "gradient", expected: 2, found: 3 })
    );
    assert!(grads(&seq).iter().all(|v| *v == 0.0));
}
