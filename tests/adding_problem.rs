//! The adding problem at length 40 with `network!` sequence networks trained
//! by the `Trainer` (the code of `examples/adding_problem.rs`, which runs
//! length 100): LSTM and GRU carry the first marked value across the
//! sequence and reach a test MSE below 0.01; the tanh RNN, whose gradient
//! through the recurrence shrinks at every step, stays near the 0.167 of
//! always answering 1.0. Measured: test MSE LSTM 0.0037, GRU 0.0005, RNN
//! 0.171; about 25 s in the test profile. Same budget and data for all three (32 000 fresh
//! sequences in batches of 32, Adam 5e-3, Clip::GlobalNorm(1.0)).

#[allow(dead_code)]
#[path = "../examples/adding_problem.rs"]
mod example;

use example::{train, Budget, GruAdder, LstmAdder, RnnAdder};
use nn::prelude::*;

#[test]
fn lstm_and_gru_solve_the_adding_problem_and_the_tanh_rnn_does_not() {
    let budget =
        Budget { length: 40, samples: 32_000, batch: 32, lr: 5e-3, clip: 1.0, seed: 10, progress: Progress::Quiet };
    let lstm = train(&mut LstmAdder::<f32>::seeded(1), &budget).unwrap();
    let gru = train(&mut GruAdder::<f32>::seeded(2), &budget).unwrap();
    let rnn = train(&mut RnnAdder::<f32>::seeded(3), &budget).unwrap();
    eprintln!(
        "adding problem, length 40: test MSE lstm {:.5}, gru {:.5}, rnn {:.5} (always 1.0: 0.167); \
         |dL/dx_1| / |dL/dx_T|: lstm {:.1e}, gru {:.1e}, rnn {:.1e}",
        lstm.test_mse,
        gru.test_mse,
        rnn.test_mse,
        lstm.reach(),
        gru.reach(),
        rnn.reach()
    );
    assert!(lstm.test_mse < 0.01, "LSTM test MSE {}", lstm.test_mse);
    assert!(gru.test_mse < 0.01, "GRU test MSE {}", gru.test_mse);
    assert!(rnn.test_mse > 0.05, "tanh RNN test MSE {}", rnn.test_mse);
    // Why: how much gradient reaches the first step (GradientFlow::steps).
    // At length 40 the tanh RNN still passes a tenth of it (measured 0.096,
    // against 1.1 for the LSTM and 0.61 for the GRU); at length 100 the
    // example measures far less.
    for r in [&lstm, &gru, &rnn] {
        assert_eq!(r.flow.steps.len(), 40, "one gradient norm per step");
    }
    let (lstm_reach, gru_reach, rnn_reach) = (lstm.reach(), gru.reach(), rnn.reach());
    assert!(lstm_reach > 0.2 && gru_reach > 0.2, "gates keep the path open: {lstm_reach} {gru_reach}");
    assert!(rnn_reach * 2.0 < lstm_reach.min(gru_reach), "the tanh RNN loses the most: {rnn_reach}");
}
