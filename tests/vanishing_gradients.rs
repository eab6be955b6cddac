//! Issue 7, acceptance 2: the ordering `examples/vanishing_gradients.rs`
//! claims, on a smaller training budget.

#[allow(dead_code)]
#[macro_use]
#[path = "../examples/common/vanishing.rs"]
mod vanishing;

use vanishing::*;

const EPOCHS: usize = 5;

#[test]
fn sigmoid_stack_vanishes_and_the_remedies_learn() {
    let (train, test) = data();
    let sigmoid = study("sigmoid + xavier", SigmoidXavier20::<f32>::seeded(1), &train, &test, EPOCHS);
    let residual = study("residual relu", ResidualRelu20::<f32>::seeded(1), &train, &test, EPOCHS);
    let batch_norm = study("relu + he + batch_norm", ReluHeBatchNorm20::<f32>::seeded(1), &train, &test, EPOCHS);

    let (s, r) = (sigmoid.flow.ratio().unwrap(), residual.flow.ratio().unwrap());
    assert!(s < 1e-4 * r, "sigmoid ratio {s:e} is not below 1e-4 of the residual network's {r:e}");
    assert!(sigmoid.flow.verdict().is_vanishing(), "{}", sigmoid.flow);
    // Sigmoid's slope is at most 1/4, so a layer passes at most 1/4 of its weight gain.
    let (factor, gain) = (sigmoid.flow.depth_fit().unwrap().factor, mean_gain(&sigmoid.flow));
    assert!(factor <= 0.25 * gain, "sigmoid per-layer factor {factor}, weight gain {gain}");
    assert!((0.9..1.1).contains(&gain), "Xavier's gain at width 64 is about 1, not {gain}");

    let acc = |row: &Row| row.accuracy.unwrap();
    eprintln!(
        "ratios: sigmoid {s:.2e}, residual {r:.2e}; accuracy: sigmoid {:.3}, residual {:.3}, batch_norm {:.3}",
        acc(&sigmoid),
        acc(&residual),
        acc(&batch_norm)
    );
    let best_remedy = acc(&residual).max(acc(&batch_norm));
    assert!(
        best_remedy >= acc(&sigmoid) + 0.30,
        "sigmoid {:.3}, residual {:.3}, batch_norm {:.3}",
        acc(&sigmoid),
        acc(&residual),
        acc(&batch_norm)
    );
}
