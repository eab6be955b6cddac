//! A 50-layer network from one `network!` block: 24 residual blocks of
//! dense + batch_norm + relu (72 layers inside them) between an input and an
//! output layer. Shows that depth costs neither stack nor compile time: the
//! 24 copies share one generated body type.
//!
//! Run with `cargo run --example deep50`.

use nn::prelude::*;

nn::network! {
    /// 64 -> 10 through 24 residual blocks.
    pub struct Deep50(64 -> 10) {
        dense(64), relu,
        repeat(24) { residual { dense(64), batch_norm, relu } },
        dense(10),
    }
}

fn main() {
    let mut net = Deep50::<f32>::seeded(0);
    let x = Batch::<f32, 64>::from_fn(32, |i, j| ((i * 7 + j * 3) % 11) as f32 / 11.0 - 0.5);
    let y = net.forward(&x);
    let dx = net.backward(&Batch::<f32, 10>::from_element(32, 1.0 / 32.0));
    println!("{} parameters in {} tensors", net.parameter_count(), net.parameters().len());
    println!("output {}x{}, input gradient {}x{}", y.nrows(), y.ncols(), dx.nrows(), dx.ncols());
    let summary = net.summary();
    let lines: Vec<&str> = summary.lines().collect();
    println!("{}\n...\n{}", lines[..6].join("\n"), lines[lines.len() - 4..].join("\n"));
}
