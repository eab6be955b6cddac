//! The PyTorch references of issue 15 (tools/reference/words_lm.py and
//! sunspots.py) train on the same data as nn: the same held-out words, the
//! same W7 batch, the same months, standardization and persistence baseline.
//! Both scripts write what is compared here into tests/data.

use nn_runtime::data::{split_words, sunspots, words, CharSequences};
use serde_json::Value;

fn strings(v: &Value) -> Vec<String> {
    v.as_array().expect("a list").iter().map(|s| s.as_str().expect("a word").to_owned()).collect()
}

fn count(v: &Value) -> usize {
    v.as_u64().expect("a count") as usize
}

#[test]
fn python_holds_out_the_same_words_and_draws_the_same_w7_batch() {
    let py: Value = serde_json::from_str(include_str!("data/words_split.json")).expect("words_split.json parses");
    let seed = py["seed"].as_u64().unwrap();
    let fraction = py["held_out_fraction"].as_f64().unwrap();
    let (train, held_out) = split_words(&words(), fraction, seed).unwrap();
    assert_eq!((train.len(), held_out.len()), (count(&py["train"]), count(&py["held_out"])));
    assert_eq!((train.len(), held_out.len()), (57_487, 6_388));
    let first = strings(&py["held_out_first"]);
    assert_eq!(first.len(), 20);
    assert_eq!(held_out[..20], first[..]);

    // W7's batch: the first 64 training words, with their steps (letters + END).
    let w7 = strings(&py["train_first"]);
    assert_eq!(train[..64], w7[..]);
    let steps: Vec<usize> = py["w7_steps"].as_array().unwrap().iter().map(count).collect();
    let seqs = CharSequences::new(&train[..64]).unwrap();
    assert_eq!(seqs.lengths(), steps);
    assert_eq!(seqs.steps(), 599);

    // The validation part carved from the training words.
    let (fit, validation) = split_words(&train, fraction, py["validation_seed"].as_u64().unwrap()).unwrap();
    assert_eq!((fit.len(), validation.len()), (count(&py["fit"]), count(&py["validation"])));
    assert_eq!(validation[..20], strings(&py["validation_first"])[..]);
}

#[test]
fn python_splits_standardizes_and_scores_persistence_as_nn_does() {
    let py: Value = serde_json::from_str(include_str!("data/sunspots_check.json")).expect("sunspots_check.json parses");
    let months = |v: &Value| count(&v[0])..count(&v[1]);
    let spots = sunspots();
    let (train, test) = spots.split_months(0..spots.len(), 0.8).unwrap();
    assert_eq!((train.clone(), test.clone()), (months(&py["train_months"]), months(&py["test_months"])));
    let scaler = spots.standardizer::<f64>(train).unwrap();
    assert!((scaler.mean()[0] - py["mean"].as_f64().unwrap()).abs() < 1e-9);
    assert!((scaler.scale()[0] - py["std"].as_f64().unwrap()).abs() < 1e-9);
    let persistence = spots.persistence_rmse(test).unwrap();
    assert!((persistence - py["persistence_rmse"].as_f64().unwrap()).abs() < 1e-9, "{persistence}");
}
