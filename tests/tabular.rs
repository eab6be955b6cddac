//! Issue 21, acceptance 3: the steps of `examples/tabular.rs` on its data, in CI.

#[allow(dead_code)] // `main`, `run` and the printing are the example's
#[path = "../examples/tabular.rs"]
mod tabular;

use std::path::Path;

use nn::data::Csv;
use nn::io::Pipeline;
use tabular::{parse_row, predict, read_rows, train, FlowerNet, DATA, NEW_ROWS};

#[test]
fn a_csv_of_words_trains_saves_loads_and_names_the_species_of_raw_rows() {
    let model = std::env::temp_dir().join(format!("nn-tabular-test-{}.safetensors", std::process::id()));
    let trained = train(Path::new(DATA), &model).unwrap();

    // Early stopping on the validation part ended training and kept its best epoch.
    let h = &trained.history;
    assert!(h.stopped_early, "{h}");
    let best = h.best_epoch.unwrap();
    assert!(best < h.epochs.len(), "{h}");
    let best_val = h.epochs.iter().find(|e| e.epoch == best).unwrap().val_accuracy.unwrap();
    assert!(best_val >= 0.9, "{h}");
    // The test part (30 flowers, 10 per species) is measured once.
    let accuracy = trained.test.accuracy.unwrap();
    assert!(accuracy >= 0.9, "test accuracy {accuracy}");
    assert_eq!(trained.test.confusion.as_ref().unwrap().classes(), 3);

    // The file carries the preprocessing and the names of the words in the CSV.
    let loaded = Pipeline::load(FlowerNet::<f32>::seeded(0), &model).unwrap();
    assert_eq!(loaded.class_names().unwrap(), ["setosa", "versicolor", "virginica"]);
    let csv = Csv::new().header(true).label_column("species").named_classes().read::<f32>(DATA).unwrap();
    assert_eq!(loaded.standardizer().unwrap().width(), csv.width());

    // Raw rows from the command line's form and from the file, named.
    let typed = ["5.0,3.4,1.5,0.2", "5.9, 2.8, 4.3, 1.3", "6.9,3.1,5.8,2.2"].map(|r| parse_row(r).unwrap());
    let from_file = read_rows(Path::new(NEW_ROWS)).unwrap();
    assert_eq!(from_file.len(), 4);
    assert_eq!(from_file[..3], typed);
    let predictions = predict(&model, &from_file).unwrap();
    let species: Vec<&str> = predictions.iter().map(|p| p.species.as_str()).collect();
    assert_eq!(species[..3], ["setosa", "versicolor", "virginica"]);
    for p in &predictions[..3] {
        assert!(p.probability > 0.9, "{} at {}", p.species, p.probability);
    }
    assert!(predictions.iter().all(|p| p.probability > 1.0 / 3.0 && p.probability <= 1.0));
    std::fs::remove_file(&model).unwrap();

    assert!(parse_row("5.0,3.4,1.5").unwrap_err().to_string().contains("3 values, need 4 measurements"));
    assert!(parse_row("5.0,x,1.5,0.2").is_err());
}
