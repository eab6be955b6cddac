//! The everyday workflow on your own table: read a CSV with a header row and
//! the class written as a word, split it, standardize, train with early
//! stopping on a validation part, measure the test part once, save the model
//! with its preprocessing and class names, load it again, and name the
//! species of raw measurements.
//!
//! `cargo run --release --example tabular` does it all with
//! `examples/data/iris.csv` (training, then loading the saved file and
//! predicting `examples/data/new_flowers.csv`). In two steps:
//!
//! ```text
//! cargo run --release --example tabular -- train iris.safetensors
//! cargo run --release --example tabular -- predict iris.safetensors 5.0,3.4,1.5,0.2 6.9,3.1,5.8,2.2
//! cargo run --release --example tabular -- predict iris.safetensors --file examples/data/new_flowers.csv
//! ```
//!
//! `tests/tabular.rs` runs the same steps on the same data.

use std::error::Error;
use std::path::Path;

use nn::data::{batch_to_rows, stratified_split, Csv, Standardizer};
use nn::io::Pipeline;
use nn::prelude::*;
use nn::train::{probabilities, EarlyStopping, Evaluation};

nn::network! {
    /// Four measurements in, a score per species out.
    pub struct FlowerNet(4 -> 3) { dense(16), relu, dense(16), relu, dense(3) }
}

/// The table the example ships with, and rows it predicts.
pub const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/iris.csv");
pub const NEW_ROWS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/new_flowers.csv");

/// What training measured.
pub struct Trained {
    pub history: History,
    /// The test part's loss and metrics, measured once, after training.
    pub test: Evaluation,
}

/// Reads `csv`, trains a [`FlowerNet`] and saves it with its standardizer and
/// class names to `model`.
pub fn train(csv: &Path, model: &Path) -> Result<Trained, Box<dyn Error>> {
    // The label is the column named "species"; its words become the classes.
    let flowers = Csv::new().header(true).label_column("species").named_classes().read::<f32>(csv)?;
    // 20 % for the test, then 25 % of the rest for validation: 90 / 30 / 30 rows.
    let (rest, mut test) = stratified_split(&flowers, 0.2, 1)?;
    let (mut train, mut val) = stratified_split(&rest, 0.25, 2)?;
    // Fitted on the training part only, so validation and test stay unseen.
    let scaler = Standardizer::fit(&train)?;
    for part in [&mut train, &mut val, &mut test] {
        scaler.apply(part)?;
    }

    let mut net = FlowerNet::<f32>::seeded(3);
    let history = Trainer::new(Adam::new(0.01))
        .epochs(300)
        .batch_size(16)
        .seed(4)
        .early_stopping(EarlyStopping::new(20))
        .quiet()
        .fit(&mut net, &train, Some(&val))?;
    let test_result = evaluate(&net, Loss::SoftmaxCrossEntropy, &test)?;

    let names = flowers.class_names().expect("named_classes keeps the names").to_vec();
    Pipeline::new(net).with_standardizer(scaler)?.with_class_names(names)?.save(model)?;
    Ok(Trained { history, test: test_result })
}

/// One predicted row: the class name and the model's probability for it.
pub struct Prediction {
    pub species: String,
    pub probability: f32,
}

/// Loads `model` (into a fresh network: the file holds the weights, the
/// standardizer and the class names) and names the species of raw `rows`.
pub fn predict(model: &Path, rows: &[[f32; 4]]) -> Result<Vec<Prediction>, Box<dyn Error>> {
    let loaded = Pipeline::load(FlowerNet::<f32>::seeded(0), model)?;
    let p = probabilities(&loaded.predict_rows(rows)?);
    let classes = loaded.classify_rows(rows)?;
    Ok(classes
        .into_iter()
        .enumerate()
        .map(|(row, class)| Prediction {
            species: loaded.class_name(class).expect("the file names the classes").to_string(),
            probability: p[(class, row)],
        })
        .collect())
}

/// A row written as `5.0,3.4,1.5,0.2`.
pub fn parse_row(text: &str) -> Result<[f32; 4], Box<dyn Error>> {
    let values = text.split(',').map(|v| v.trim().parse::<f32>()).collect::<Result<Vec<_>, _>>()?;
    <[f32; 4]>::try_from(values).map_err(|v| format!("{text:?}: {} values, need 4 measurements", v.len()).into())
}

/// Rows from a CSV file with a header row and four columns.
pub fn read_rows(path: &Path) -> Result<Vec<[f32; 4]>, Box<dyn Error>> {
    Ok(batch_to_rows(&Csv::new().header(true).read_batch::<f32, 4>(path)?))
}

fn print_training(trained: &Trained) {
    let h = &trained.history;
    let best = h.best_epoch.unwrap_or(h.epochs.len());
    let val = h.epochs.iter().find(|e| e.epoch == best).and_then(|e| e.val_accuracy).unwrap_or(0.0);
    println!(
        "trained {} epochs; the weights of epoch {best} (validation accuracy {:.1}%) kept",
        h.epochs.len(),
        100.0 * val
    );
    let t = &trained.test;
    println!("test: loss {:.4}, accuracy {:.1}%", t.loss, 100.0 * t.accuracy.unwrap_or(0.0));
}

fn print_predictions(rows: &[[f32; 4]], predictions: &[Prediction]) {
    for (row, p) in rows.iter().zip(predictions) {
        let row: Vec<String> = row.iter().map(|v| format!("{v:.1}")).collect();
        println!("{} -> {} ({:.1}%)", row.join(","), p.species, 100.0 * p.probability);
    }
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        [] => {
            let model = std::env::temp_dir().join(format!("nn-tabular-{}.safetensors", std::process::id()));
            print_training(&train(Path::new(DATA), &model)?);
            println!("saved with its standardizer and class names; loaded again, it names new flowers:");
            let rows = read_rows(Path::new(NEW_ROWS))?;
            print_predictions(&rows, &predict(&model, &rows)?);
            std::fs::remove_file(model)?;
        }
        ["train", model] => {
            print_training(&train(Path::new(DATA), Path::new(model))?);
            println!("saved {model}");
        }
        ["predict", model, "--file", file] => {
            let rows = read_rows(Path::new(file))?;
            print_predictions(&rows, &predict(Path::new(model), &rows)?);
        }
        ["predict", model, rows @ ..] if !rows.is_empty() => {
            let rows = rows.iter().map(|r| parse_row(r)).collect::<Result<Vec<_>, _>>()?;
            print_predictions(&rows, &predict(Path::new(model), &rows)?);
        }
        _ => {
            return Err("usage: tabular [train MODEL | predict MODEL ROW.. | predict MODEL --file CSV]".into());
        }
    }
    Ok(())
}
