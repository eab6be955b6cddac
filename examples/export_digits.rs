//! Trains the README's `DigitNet` on the UCI digits and exports it to
//! dependency-free Rust for the `embedded/` crate: `embedded/src/digit_net.rs`
//! (the network) and `embedded/src/samples.rs` (ten test digits with the
//! classes `predict` gives them here, which the microcontroller must match).
//!
//! `cargo run --release --example export_digits`, then
//! `cd embedded && cargo run --release` (QEMU's MPS2-AN386, a Cortex-M4F).

use std::fmt::Write;

use nn::data::{digits, stratified_split, Labels, Standardizer};
use nn::optim::Adam;
use nn::train::evaluate;
use nn::{Loss, Model, Trainer};

#[path = "common/digit_net.rs"]
mod digit_net;

use digit_net::DigitNet;

/// Test digits the microcontroller classifies.
const SAMPLES: usize = 10;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (mut train, mut test) = stratified_split(&digits::<f32>(), 0.2, 7)?;
    let standardizer = Standardizer::fit(&train)?;
    standardizer.apply(&mut train)?;
    standardizer.apply(&mut test)?;

    let mut net = DigitNet::<f32>::seeded(42);
    Trainer::new(Adam::new(1e-3)).epochs(20).batch_size(64).quiet().fit(&mut net, &train, None)?;
    let accuracy = evaluate(&net, Loss::SoftmaxCrossEntropy, &test)?.accuracy.unwrap_or(0.0);
    println!("DigitNet: test accuracy {:.2} %", 100.0 * accuracy);

    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("embedded/src");
    nn::export::write_rust(&net, dir.join("digit_net.rs"))?;

    let x = test.inputs().columns(0, SAMPLES).into_owned();
    let y = net.predict_view(x.as_view())?;
    let classes: Vec<usize> = y.column_iter().map(|c| c.argmax().0).collect();
    let Labels::Classes { indices, .. } = test.labels() else { unreachable!("the digits are classes") };
    let mut samples = String::from(
        "//! Ten test digits of the UCI set, standardized as for training, and the\n\
         //! classes `DigitNet::predict` gives them on the host (written by\n\
         //! `cargo run --release --example export_digits`).\n\n",
    );
    writeln!(samples, "pub static DIGITS: [[f32; 64]; {SAMPLES}] = [")?;
    for digit in x.column_iter() {
        let values: Vec<String> = digit.iter().map(|v| format!("{v:?}")).collect();
        writeln!(samples, "    [{}],", values.join(", "))?;
    }
    writeln!(samples, "];")?;
    let list = |v: &[usize]| v.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(", ");
    writeln!(samples, "pub const LABELS: [u8; {SAMPLES}] = [{}];", list(&indices[..SAMPLES]))?;
    writeln!(samples, "pub const HOST_CLASSES: [u8; {SAMPLES}] = [{}];", list(&classes))?;
    std::fs::write(dir.join("samples.rs"), samples)?;
    println!("host classes of the first {SAMPLES} test digits: {classes:?} (labels {:?})", &indices[..SAMPLES]);
    println!("wrote {}", dir.display());
    Ok(())
}
