//! The vanishing-gradient study shared by `examples/vanishing_gradients.rs`
//! and its test: the same deep stack of width-64 layers on the UCI digits,
//! built seven ways, measured at initialisation and after the same training.
//!
//! `deep!` writes each hidden layer out; `GradientFlow` would give the layers
//! of a `repeat(20) { .. }` the same rows (`tests/gradient_flow_in_blocks.rs`).

use nn::data::{digits, stratified_split, Dataset, Standardizer};
use nn::diagnostics::GradientFlow;
use nn::optim::Adam;
use nn::train::evaluate;
use nn::{Loss, Model, Trainer};

/// `deep!(Name, [x x ..], { layer tokens, })`: `64 -> 10` with the layer
/// tokens repeated once per `x`, then the output layer `dense(10)`.
macro_rules! deep {
    ($name:ident, [$($count:tt)*], { $($layer:tt)* }) => {
        deep!(@go $name, [$($count)*], { $($layer)* }, []);
    };
    (@go $name:ident, [], { $($layer:tt)* }, [$($acc:tt)*]) => {
        nn::network! { pub struct $name(64 -> 10) { $($acc)* dense(10) } }
    };
    (@go $name:ident, [$c:tt $($rest:tt)*], { $($layer:tt)* }, [$($acc:tt)*]) => {
        deep!(@go $name, [$($rest)*], { $($layer)* }, [$($acc)* $($layer)*]);
    };
}

deep!(SigmoidXavier20, [x x x x x x x x x x x x x x x x x x x x], { dense(64, init = xavier_normal), sigmoid, });
deep!(TanhXavier20, [x x x x x x x x x x x x x x x x x x x x], { dense(64, init = xavier_normal), tanh, });
deep!(ReluHe20, [x x x x x x x x x x x x x x x x x x x x], { dense(64, init = he_normal), relu, });
deep!(ReluHeBatchNorm20, [x x x x x x x x x x x x x x x x x x x x], {
    dense(64, init = he_normal), batch_norm, relu,
});
// x + relu(W x) with He init about doubles the activations' variance per
// block, so such a stack explodes with depth (ratio 1e4 at 20 blocks, and it
// stops learning at 50). Starting each body small makes every block start
// near the identity, as ResNets do by zeroing the last scale of each body.
deep!(ResidualRelu20, [x x x x x x x x x x x x x x x x x x x x], {
    residual { dense(64, init = normal(0.01)), relu },
});
deep!(Highway20, [x x x x x x x x x x x x x x x x x x x x], { highway { dense(64, init = he_normal), relu }, });
deep!(ResidualSigmoid20, [x x x x x x x x x x x x x x x x x x x x], {
    residual { dense(64, init = xavier_normal), sigmoid },
});

/// The typical factor by which a hidden layer's transposed weight scales a
/// random gradient, ||W||_F / sqrt(64), as a geometric mean over the hidden layers.
pub fn mean_gain(flow: &GradientFlow) -> f64 {
    let hidden: Vec<f64> = flow.weighted().filter_map(|i| i.weight_norm).collect();
    let hidden = &hidden[..hidden.len() - 1]; // the output layer is 10 x 64
    (hidden.iter().map(|w| (w / 8.0).ln()).sum::<f64>() / hidden.len() as f64).exp()
}

/// The digits, split 80/20 (stratified, seeded) and standardized on the training part.
pub fn data() -> (Dataset<f32>, Dataset<f32>) {
    let (mut train, mut test) = stratified_split(&digits::<f32>(), 0.2, 7).expect("0.2 is a valid fraction");
    let s = Standardizer::fit(&train).expect("the digits are finite");
    s.apply(&mut train).expect("same width");
    s.apply(&mut test).expect("same width");
    (train, test)
}

/// One variant's results.
pub struct Row {
    pub flow: GradientFlow,
    /// Test accuracy after training, if it was trained.
    pub accuracy: Option<f64>,
}

/// Adam's learning rate for every variant. 1e-3 is too slow for the plain
/// `dense, batch_norm, relu` stack, whose gradient grows by about 1.2 per layer
/// at initialisation (Yang et al. 2019): at 1e-3 it reaches 51 % in 15
/// epochs (PyTorch's own BatchNorm1d stack of the same shape: 83 %), at 3e-3 it
/// learns, and the other variants learn as well as at 1e-3 or better.
pub const LR: f64 = 3e-3;

/// Measures `net` at initialisation on the whole training set, then trains it
/// for `epochs` (Adam, lr [`LR`], batches of 64, seed 0) and measures test accuracy.
pub fn study<M: Model<f32>>(label: &str, mut net: M, train: &Dataset<f32>, test: &Dataset<f32>, epochs: usize) -> Row {
    let flow = GradientFlow::measure(&mut net, train.inputs(), train.targets(), Loss::SoftmaxCrossEntropy)
        .expect("the digits fit the network")
        .with_label(label);
    let accuracy = (epochs > 0).then(|| {
        let mut trainer = Trainer::new(Adam::new(LR)).epochs(epochs).batch_size(64).seed(0).quiet();
        trainer.fit(&mut net, train, None).expect("training on finite data");
        evaluate(&net, Loss::SoftmaxCrossEntropy, test).expect("the digits fit the network").accuracy.unwrap_or(0.0)
    });
    Row { flow, accuracy }
}
