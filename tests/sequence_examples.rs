//! The code of `examples/words.rs` and `examples/sunspots.rs` on slices small
//! enough for CI (the examples themselves train for minutes): each model
//! starts as PyTorch starts it, a few epochs lower its loss on data it did not
//! train on, and what the examples print (sampled words, RMSE in sunspot
//! numbers next to persistence) is computed as they compute it; and their
//! settings are those of the PyTorch scripts' committed outputs.

use nn::data::{split_words, sunspots, words};
use nn::prelude::*;

#[allow(dead_code)]
#[path = "../examples/words.rs"]
mod words_example;

// Both examples load `examples/common/torch.rs` as a module of their own.
#[allow(dead_code, clippy::duplicate_mod)]
#[path = "../examples/sunspots.rs"]
mod sunspots_example;

/// Every value of the parameter `name` of `model`.
fn values<M: Model<f32>>(model: &M, name: &str) -> Vec<f32> {
    let p = model.parameters().into_iter().find(|p| p.name == name);
    p.unwrap_or_else(|| panic!("{} has no {name}", M::NAME)).value
}

/// Values drawn from U(-bound, bound): inside it, and spread over it (the
/// largest magnitude near the bound, the mean square near bound^2 / 3).
fn assert_uniform(v: &[f32], bound: f64, what: &str) {
    let largest = v.iter().map(|x| f64::from(x.abs())).fold(0.0, f64::max);
    assert!(largest <= bound && largest > 0.9 * bound, "{what}: largest {largest}, bound {bound}");
    let mean_square = v.iter().map(|x| f64::from(x * x)).sum::<f64>() / v.len() as f64;
    assert!((mean_square / (bound * bound / 3.0) - 1.0).abs() < 0.2, "{what}: mean square {mean_square}");
}

#[test]
fn the_models_start_as_pytorch_starts_them() {
    let lm = words_example::char_lm(3);
    let h = 1.0 / 128f64.sqrt();
    for name in ["1.weight_ih", "1.weight_hh", "1.bias_ih", "1.bias_hh", "2.weight", "2.bias"] {
        assert_uniform(&values(&lm, name), h, name);
    }
    // nn.Embedding: N(0, 1).
    let embedding = values(&lm, "0.weight");
    let variance = embedding.iter().map(|x| f64::from(x * x)).sum::<f64>() / embedding.len() as f64;
    assert!((variance - 1.0).abs() < 0.1, "embedding variance {variance}");

    let net = sunspots_example::forecaster(4);
    let h = 1.0 / 32f64.sqrt();
    for name in ["0.weight_ih", "0.weight_hh", "0.bias_ih", "0.bias_hh", "2.weight"] {
        assert_uniform(&values(&net, name), h, name);
    }
    // One value: only its range can be checked.
    let bias = values(&net, "2.bias")[0];
    assert!(bias != 0.0 && f64::from(bias.abs()) <= h, "dense bias {bias}");
}

#[test]
fn a_few_epochs_of_the_words_model_lower_held_out_bits_per_character() {
    let (train, held_out) = split_words(&words(), words_example::SPLIT.0, words_example::SPLIT.1).unwrap();
    let train_set = words_example::char_data(&train[..2048]).unwrap();
    let held_out_set = words_example::char_data(&held_out[..512]).unwrap();
    let mut lm = words_example::char_lm(5);
    let before = words_example::bits_per_character(&lm, &held_out_set).unwrap();
    let settings = words_example::Settings { epochs: 2, ..words_example::Settings::REFERENCE };
    let history = words_example::train(&mut lm, &train_set, settings, Progress::Quiet).unwrap();
    let after = words_example::bits_per_character(&lm, &held_out_set).unwrap();
    eprintln!("held-out bits per character {before:.3} -> {after:.3}");
    // Measured: 4.81 untrained (log2(28) = 4.81), 3.38 after 64 steps; the
    // letter frequencies alone give 4.24, the full example 2.47.
    assert!(before > 4.5, "untrained {before}");
    assert!(after < 3.6, "after 64 steps {after}");
    let padding = history.epochs.iter().filter_map(|e| e.padding).fold(0.0, f64::max);
    assert!(padding < 0.1, "batches bucketed by length: padding {padding}");

    let sampled = words_example::sample(&lm, 5, 9).unwrap();
    assert_eq!(sampled.len(), 5);
    assert!(sampled.iter().all(|w| w.len() <= 30 && w.chars().all(|c| c.is_ascii_lowercase())), "{sampled:?}");
    assert!(sampled.iter().any(|w| !w.is_empty()), "{sampled:?}");
    assert_eq!(words_example::sample(&lm, 5, 9).unwrap(), sampled, "seeded");
}

#[test]
fn a_few_epochs_of_the_sunspot_model_forecast_better_than_at_the_start() {
    let spots = sunspots();
    let (train, test) = spots.split_months(0..spots.len(), sunspots_example::TRAIN_FRACTION).unwrap();
    assert_eq!((train.clone(), test.clone()), (0..2501, 2501..3126));
    let settings = sunspots_example::Settings { epochs: 3, ..sunspots_example::Settings::REFERENCE };
    let sunspots_example::Windows { train: train_set, test: test_set, scaler } =
        sunspots_example::forecast_data(&spots, settings.window, train, test).unwrap();
    assert_eq!((train_set.len(), train_set.width(), test_set.len()), (2453, 48, 625));
    let mut net = sunspots_example::forecaster(6);
    let before = sunspots_example::rmse(&net, &test_set, &scaler).unwrap();
    let history = sunspots_example::train(&mut net, &train_set, settings, Progress::Quiet).unwrap();
    let after = sunspots_example::rmse(&net, &test_set, &scaler).unwrap();
    eprintln!("test RMSE {before:.2} -> {after:.2}");
    let losses: Vec<f64> = history.epochs.iter().map(|e| e.train_loss).collect();
    assert!(losses[2] < losses[0], "training MSE {losses:?}");
    // Measured: 63.3 untrained, 19.2 after three epochs (persistence 19.47,
    // the full example 18.67 after fifty).
    assert!(before > 40.0 && after < 22.0, "test RMSE {before} -> {after}");
}

/// A PyTorch script's committed output, `tools/reference/out/<name>.json`.
fn reference(name: &str) -> serde_json::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/reference/out").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_examples_train_with_the_settings_of_the_pytorch_scripts() {
    let words_lm = reference("words_lm.json");
    let s = &words_lm["settings"];
    let ours = words_example::Settings::REFERENCE;
    assert_eq!(s["lr"].as_f64(), Some(ours.lr));
    assert_eq!(s["epochs"].as_u64(), Some(ours.epochs as u64));
    assert_eq!(s["batch"].as_u64(), Some(ours.batch as u64));
    assert_eq!((s["held_out_fraction"].as_f64(), s["split_seed"].as_u64()), (Some(0.1), Some(15)));
    assert_eq!(words_example::SPLIT, (0.1, 15));
    assert_eq!((s["vocab"].as_u64(), s["embedding"].as_u64(), s["hidden"].as_u64()), (Some(28), Some(32), Some(128)));
    let p = words_example::char_lm(0).parameters();
    assert_eq!((p[0].shape.as_slice(), p[2].shape.as_slice()), (&[28, 32][..], &[512, 128][..]));
    let (train, held_out) = split_words(&words(), 0.1, 15).unwrap();
    assert_eq!((words_lm["train_words"].as_u64(), words_lm["held_out_words"].as_u64()), (Some(57_487), Some(6_388)));
    assert_eq!((train.len(), held_out.len()), (57_487, 6_388));
    let characters = words_example::char_data(&held_out).unwrap().lengths().unwrap().iter().sum::<usize>();
    assert_eq!(words_lm["held_out_characters"].as_u64(), Some(characters as u64));

    let spots = reference("sunspots.json");
    let s = &spots["settings"];
    let ours = sunspots_example::Settings::REFERENCE;
    assert_eq!(s["lr"].as_f64(), Some(ours.lr));
    assert_eq!(s["epochs"].as_u64(), Some(ours.epochs as u64));
    assert_eq!(s["batch"].as_u64(), Some(ours.batch as u64));
    assert_eq!(s["window"].as_u64(), Some(ours.window as u64));
    assert_eq!(s["hidden"].as_u64(), Some(32));
    assert_eq!(sunspots_example::forecaster(0).parameters()[1].shape, [128, 32]);
    assert_eq!(spots["train_months"], serde_json::json!([0, 2501]));
    let persistence = sunspots().persistence_rmse(2501..3126).unwrap();
    assert!((spots["persistence_rmse"].as_f64().unwrap() - persistence).abs() < 1e-4, "{persistence}");
}
