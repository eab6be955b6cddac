//! Issue 15, item 7: `GradientFlow::steps`, the gradient of the loss reaching
//! each time step's input of a `seq` network, against central finite
//! differences in f64 (one output per sequence, and outputs per step).

use nn::diagnostics::GradientFlow;
use nn::nalgebra::DMatrix;
use nn::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

nn::network! {
    pub struct Reader(seq 2 -> 1) { rnn(3), last, dense(1) }
    pub struct Tagger(seq 2 -> seq 1) { lstm(3), gru(2), dense(1) }
    pub struct Tokens(tokens 5 -> 1) { embedding(2), lstm(2), last, dense(1) }
}

fn random(rows: usize, cols: usize, seed: u64) -> DMatrix<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    DMatrix::from_fn(rows, cols, |_, _| rng.random_range(-1.0..1.0))
}

/// Per step, the mean over samples of ||dL/dx_t||, dL/dx by central differences.
fn by_differences<M: Model<f64>>(net: &M, data: &Dataset<f64>) -> Vec<f64> {
    let loss = |x: &DMatrix<f64>| {
        let y = net.predict_view(x.as_view()).unwrap();
        let mut g = DMatrix::zeros(y.nrows(), y.ncols());
        Loss::Mse.value_and_grad(y.as_view(), data.targets(), g.as_view_mut()).unwrap()
    };
    let (x, h, per_step) = (data.inputs().clone(), 1e-6, M::INPUT);
    let steps = x.nrows() / per_step;
    (0..steps)
        .map(|t| {
            let norms = (0..x.ncols()).map(|j| {
                let sq: f64 = (0..per_step)
                    .map(|i| {
                        let (mut up, mut down) = (x.clone(), x.clone());
                        up[(t * per_step + i, j)] += h;
                        down[(t * per_step + i, j)] -= h;
                        ((loss(&up) - loss(&down)) / (2.0 * h)).powi(2)
                    })
                    .sum();
                sq.sqrt()
            });
            norms.sum::<f64>() / x.ncols() as f64
        })
        .collect()
}

fn assert_close(ours: &[f64], theirs: &[f64]) {
    assert_eq!(ours.len(), theirs.len());
    for (t, (a, b)) in ours.iter().zip(theirs).enumerate() {
        assert!((a - b).abs() <= 1e-6 * b.abs().max(1e-8), "step {}: measured {a:e}, differences {b:e}", t + 1);
    }
}

#[test]
fn the_gradient_reaching_each_step_is_the_finite_differences_one() {
    let steps = 6;
    let data = Dataset::new(random(2 * steps, 4, 1), Labels::Real(random(1, 4, 2))).unwrap();
    let mut reader = Reader::<f64>::seeded(3);
    let flow = GradientFlow::measure(&mut reader, data.inputs(), data.targets(), Loss::Mse).unwrap();
    assert_eq!(flow.steps.len(), steps);
    assert_close(&flow.steps, &by_differences(&reader, &data));
    assert_eq!(flow.first_to_last_step(), Some(flow.steps[0] / flow.steps[steps - 1]));
    let table = flow.to_string();
    assert!(table.contains("gradient per time step |dL/dx_t|: t=1 ") && table.contains("t=6 "), "{table}");

    let targets = Labels::StepReal { values: random(steps, 4, 4), per_step: 1 };
    let data = Dataset::new(random(2 * steps, 4, 3), targets).unwrap();
    let mut tagger = Tagger::<f64>::seeded(5);
    let flow = GradientFlow::measure(&mut tagger, data.inputs(), data.targets(), Loss::Mse).unwrap();
    assert_close(&flow.steps, &by_differences(&tagger, &data));

    // Token ids have no gradient, so no steps.
    let ids = DMatrix::from_fn(steps, 3, |t, j| ((t + j) % 5) as f64);
    let data = Dataset::new(ids, Labels::Real(random(1, 3, 6))).unwrap();
    let flow = GradientFlow::measure(&mut Tokens::<f64>::seeded(0), data.inputs(), data.targets(), Loss::Mse).unwrap();
    assert!(flow.steps.is_empty() && flow.first_to_last_step().is_none());
}

#[cfg(feature = "plot")]
#[test]
fn the_steps_plot_has_a_line_per_network() {
    let data = Dataset::new(random(2 * 8, 4, 1), Labels::Real(random(1, 4, 2))).unwrap();
    let flow = |seed| {
        let mut net = Reader::<f64>::seeded(seed);
        GradientFlow::measure(&mut net, data.inputs(), data.targets(), Loss::Mse).unwrap()
    };
    let svg = nn::diagnostics::steps_svg(&[flow(1).with_label("first"), flow(2).with_label("second")]).unwrap();
    assert!(svg.contains("time step (1 = first)") && svg.contains("\nfirst\n") && svg.contains("\nsecond\n"), "{svg}");
}
