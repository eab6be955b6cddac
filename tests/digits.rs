//! Issue 5, item 2: a residual network written with `network!` reaches at
//! least 97 % test accuracy on an 80/20 stratified split of the digits.

use nn::data::{digits, stratified_split, Standardizer};
use nn::prelude::*;

nn::network! {
    pub struct DigitNet(64 -> 10) {
        dense(128), batch_norm, relu,
        residual { dense(128), batch_norm, relu, dense(128), batch_norm },
        relu,
        aux_head(weight = 0.3) { dense(10) },
        dense(10),
    }
}

#[test]
fn residual_network_reaches_97_percent_on_the_digits_test_split() {
    let (mut train, mut test) = stratified_split(&digits::<f32>(), 0.2, 42).unwrap();
    let scaler = Standardizer::fit(&train).unwrap();
    scaler.apply(&mut train).unwrap();
    scaler.apply(&mut test).unwrap();
    let mut net = DigitNet::<f32>::seeded(42);
    let mut trainer = Trainer::new(AdamW::new(2e-3))
        .epochs(20)
        .batch_size(64)
        .seed(42)
        .schedule(Schedule::Cosine { t_max: 20, eta_min: 1e-5 })
        .quiet();
    let history = trainer.fit(&mut net, &train, None).unwrap();
    assert!(history.last().unwrap().train_loss < 0.1);
    let accuracy = evaluate(&net, Loss::SoftmaxCrossEntropy, &test).unwrap().accuracy.unwrap();
    assert!(accuracy >= 0.97, "test accuracy {accuracy}");
}
