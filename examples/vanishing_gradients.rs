//! Why deep networks stop learning, measured: the same 20 hidden layers of
//! width 64 on the UCI digits, built seven ways, then a 50-layer variant of each.
//!
//! For each: the ratio of the gradient reaching the input to the gradient
//! leaving the output at initialisation, the fitted per-layer factor, the
//! verdict, and the test accuracy after the same training budget. Writes
//! `gradient_flow.svg` (the 20-layer networks, one line each).
//!
//! `cargo run --release --example vanishing_gradients`

#[macro_use]
#[path = "common/vanishing.rs"]
mod vanishing;

use nn::diagnostics::{write_compare_svg, GradientFlow};
use vanishing::*;

/// Epochs every network gets (Adam, lr `LR`, batches of 64).
const EPOCHS: usize = 15;

deep!(SigmoidXavier50, [x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x], {
    dense(64, init = xavier_normal), sigmoid,
});
deep!(TanhXavier50, [x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x], {
    dense(64, init = xavier_normal), tanh,
});
deep!(ReluHe50, [x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x], {
    dense(64, init = he_normal), relu,
});
deep!(ReluHeBatchNorm50, [x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x], {
    dense(64, init = he_normal), batch_norm, relu,
});
deep!(ResidualRelu50, [x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x], {
    residual { dense(64, init = normal(0.01)), relu },
});
deep!(Highway50, [x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x], {
    highway { dense(64, init = he_normal), relu },
});
deep!(ResidualSigmoid50, [x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x], {
    residual { dense(64, init = xavier_normal), sigmoid },
});

const NAMES: [&str; 7] = [
    "sigmoid + xavier",
    "tanh + xavier",
    "relu + he",
    "relu + he + batch_norm",
    "residual relu",
    "highway",
    "residual sigmoid",
];

fn main() {
    let (train, test) = data();
    let started = std::time::Instant::now();
    let twenty = [
        trained(study(NAMES[0], SigmoidXavier20::<f32>::seeded(1), &train, &test, EPOCHS), &started),
        trained(study(NAMES[1], TanhXavier20::<f32>::seeded(1), &train, &test, EPOCHS), &started),
        trained(study(NAMES[2], ReluHe20::<f32>::seeded(1), &train, &test, EPOCHS), &started),
        trained(study(NAMES[3], ReluHeBatchNorm20::<f32>::seeded(1), &train, &test, EPOCHS), &started),
        trained(study(NAMES[4], ResidualRelu20::<f32>::seeded(1), &train, &test, EPOCHS), &started),
        trained(study(NAMES[5], Highway20::<f32>::seeded(1), &train, &test, EPOCHS), &started),
        trained(study(NAMES[6], ResidualSigmoid20::<f32>::seeded(1), &train, &test, EPOCHS), &started),
    ];
    table("20 hidden layers of width 64", &twenty);

    let sigmoid = &twenty[0].flow;
    let factor = sigmoid.depth_fit().map_or(f64::NAN, |f| f.factor);
    let gain = mean_gain(sigmoid);
    println!(
        "sigmoid's derivative is at most 0.25, so each layer can pass at most 0.25 x its weight gain: \
         measured per-layer factor {factor:.3} <= 0.25 x {gain:.3} = {:.3}\n",
        0.25 * gain
    );
    println!("The plain sigmoid stack in detail:\n{sigmoid}");

    let flows: Vec<GradientFlow> = twenty.iter().map(|r| r.flow.clone()).collect();
    match write_compare_svg(&flows, "gradient_flow.svg") {
        Ok(()) => println!("wrote gradient_flow.svg"),
        Err(e) => eprintln!("{e}"),
    }

    let fifty = [
        trained(study(NAMES[0], SigmoidXavier50::<f32>::seeded(1), &train, &test, EPOCHS), &started),
        trained(study(NAMES[1], TanhXavier50::<f32>::seeded(1), &train, &test, EPOCHS), &started),
        trained(study(NAMES[2], ReluHe50::<f32>::seeded(1), &train, &test, EPOCHS), &started),
        trained(study(NAMES[3], ReluHeBatchNorm50::<f32>::seeded(1), &train, &test, EPOCHS), &started),
        trained(study(NAMES[4], ResidualRelu50::<f32>::seeded(1), &train, &test, EPOCHS), &started),
        trained(study(NAMES[5], Highway50::<f32>::seeded(1), &train, &test, EPOCHS), &started),
        trained(study(NAMES[6], ResidualSigmoid50::<f32>::seeded(1), &train, &test, EPOCHS), &started),
    ];
    table("50 hidden layers of width 64", &fifty);
    println!("({:.0} s)", started.elapsed().as_secs_f64());
}

/// One line per network as it finishes, so a long run is never silent.
fn trained(row: Row, started: &std::time::Instant) -> Row {
    let acc = row.accuracy.map_or("-".to_string(), |a| format!("{:.1}%", 100.0 * a));
    eprintln!("trained {:<24} test acc {acc:>6}  ({:.0} s so far)", row.flow.label, started.elapsed().as_secs_f64());
    row
}

fn table(title: &str, rows: &[Row]) {
    println!("{title}: at initialisation, and after {EPOCHS} epochs (Adam, lr {LR:e})");
    println!("  {:<24}  {:>12}  {:>10}  {:<28}  {:>9}", "network", "|dx|/|dy|", "per layer", "verdict", "test acc");
    for r in rows {
        let fit = r.flow.depth_fit().map_or("-".to_string(), |f| format!("{:.3}", f.factor));
        let ratio = r.flow.ratio().map_or("-".to_string(), |v| format!("{v:.2e}"));
        let acc = r.accuracy.map_or("-".to_string(), |a| format!("{:.1}%", 100.0 * a));
        println!("  {:<24}  {ratio:>12}  {fit:>10}  {:<28}  {acc:>9}", r.flow.label, r.flow.verdict().headline());
    }
    println!();
}
