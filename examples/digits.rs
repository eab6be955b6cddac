//! Trains a residual network on the UCI digits (8x8 images, embedded in the
//! crate) with an 80/20 stratified split, and reports the test accuracy.
//! Early stopping watches a validation part cut from the training part, so
//! the test part plays no role in training.
//!
//! `cargo run --release --example digits`

use nn::data::{digits, stratified_split, Standardizer};
use nn::prelude::*;
use nn::train::confusion_matrix;

nn::network! {
    /// Residual MLP for 8x8 digits.
    pub struct DigitNet(64 -> 10) {
        dense(128), batch_norm, relu,
        repeat(2) {
            residual { dense(128), batch_norm, relu, dense(128), batch_norm },
            relu,
        },
        aux_head(weight = 0.3) { dense(10) },
        dropout(0.1),
        dense(10),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (train_all, mut test) = stratified_split(&digits::<f32>(), 0.2, 42)?;
    let (mut train, mut val) = stratified_split(&train_all, 0.1, 43)?;
    let scaler = Standardizer::fit(&train)?;
    for part in [&mut train, &mut val, &mut test] {
        scaler.apply(part)?;
    }

    let mut net = DigitNet::<f32>::seeded(42);
    println!("{}", net.summary());

    let mut trainer = Trainer::new(AdamW::new(2e-3))
        .epochs(30)
        .batch_size(64)
        .seed(42)
        .clip(Clip::GlobalNorm(5.0))
        .schedule(
            Schedule::LinearWarmup { start_factor: 0.2, steps: 3 }
                .then(3, Schedule::Cosine { t_max: 27, eta_min: 1e-5 }),
        )
        .early_stopping(8);
    let history = trainer.fit(&mut net, &train, Some(&val))?;
    println!("{history}");

    let result = evaluate(&net, Loss::SoftmaxCrossEntropy, &test)?;
    println!("test loss {:.4}, test accuracy {:.2}%", result.loss, 100.0 * result.accuracy.unwrap_or(0.0));
    println!("{}", confusion_matrix(&net, &test)?);
    Ok(())
}
