//! A generated network trained by the runtime's `Trainer` through `Model`,
//! auxiliary head included: the macro's output plugs into the rest of `nn`.

use nn::data::{iris, stratified_split, Standardizer};
use nn::optim::Adam;
use nn::prelude::*;
use nn::Trainer;

nn::network! {
    /// Iris classifier with every kind of state the trainer must handle:
    /// batch statistics, dropout, a residual block and an auxiliary head.
    pub struct IrisNet(4 -> 3) {
        dense(16), batch_norm, relu,
        residual { dense(16), relu },
        aux_head(weight = 0.3) { dense(3) },
        dropout(0.1),
        dense(3),
    }
}

#[test]
fn trainer_fits_a_generated_network_with_an_aux_head() {
    let (mut train, mut val) = stratified_split(&iris::<f64>(), 0.2, 0).unwrap();
    let scaler = Standardizer::fit(&train).unwrap();
    scaler.apply(&mut train).unwrap();
    scaler.apply(&mut val).unwrap();
    let mut net = IrisNet::<f64>::seeded(0);
    let before: Vec<f64> = net.parameters().into_iter().find(|p| p.name == "4.0.weight").unwrap().value;
    let mut trainer = Trainer::new(Adam::new(0.01)).epochs(40).batch_size(16).seed(1).quiet();
    let history = trainer.fit(&mut net, &train, Some(&val)).unwrap();
    let accuracy = history.last().unwrap().val_accuracy.unwrap();
    assert!(accuracy > 0.85, "validation accuracy {accuracy}");
    // The head's own weights only move if the trainer back-propagates its loss.
    let after: Vec<f64> = net.parameters().into_iter().find(|p| p.name == "4.0.weight").unwrap().value;
    assert_ne!(before, after);
}
