//! The data layer as a user's program meets it, through public paths only:
//! a CSV file with a byte-order mark, quoted header names and species written
//! as words, read by column name, split, standardized, trained on and used to
//! name the predicted class of a raw row; plain rows into a dataset and a
//! network batch; a random split of real targets; and the loss that the
//! target-kind error suggests.

use nn_runtime::data::{batch_from_rows, iris, split, stratified_split, Csv, Dataset, Labels, Standardizer};
use nn_runtime::layers::Dense;
use nn_runtime::optim::Adam;
use nn_runtime::testing::LayerModel;
use nn_runtime::train::TrainError;
use nn_runtime::{seeded_rng, Batch, Init, Loss, Model, Trainer};

/// Iris written as a spreadsheet exports it: a BOM, CRLF, quoted names with
/// spaces, the species as a word in the middle column, some values quoted.
fn iris_csv_text() -> String {
    let data = iris::<f64>();
    let Labels::Classes { indices, .. } = data.labels() else { unreachable!("iris has classes") };
    let species = ["setosa", "versicolor", "virginica"];
    let mut text = String::from("\u{feff}\"sepal length\",\"sepal width\",species,\"petal length\",petal width\r\n");
    for (j, &class) in indices.iter().enumerate() {
        let x = data.inputs().column(j);
        let quoted = if j % 7 == 0 { format!("\"{}\"", x[0]) } else { x[0].to_string() };
        text += &format!("{quoted},{},\"Iris {}\",{},{}\r\n", x[1], species[class], x[2], x[3]);
    }
    text
}

#[test]
fn a_spreadsheet_csv_trains_a_model_that_names_the_class_of_a_raw_row() {
    let path = std::env::temp_dir().join(format!("nn-data-workflow-{}.csv", std::process::id()));
    std::fs::write(&path, iris_csv_text()).unwrap();
    let names = ["Iris setosa", "Iris versicolor", "Iris virginica"];
    let flowers = Csv::new().header(true).label_column("species").class_names(names).read::<f64>(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let reference = iris::<f64>();
    assert_eq!(flowers.inputs(), reference.inputs());
    assert_eq!(flowers.labels(), reference.labels());
    assert_eq!(flowers.class_names().unwrap(), names);
    assert_eq!(flowers.feature_names().unwrap(), ["sepal length", "sepal width", "petal length", "petal width"]);

    let (mut train, mut val) = stratified_split(&flowers, 0.2, 0).unwrap();
    let scaler = Standardizer::fit(&train).unwrap();
    scaler.apply(&mut train).unwrap();
    scaler.apply(&mut val).unwrap();
    let mut model = LayerModel::new(Dense::<f64, 4, 3>::new(&mut seeded_rng(0), Init::XavierNormal, true));
    let history = Trainer::new(Adam::new(0.05)).epochs(30).batch_size(16).quiet().fit(&mut model, &train, Some(&val));
    assert!(history.unwrap().last().unwrap().val_accuracy.unwrap() > 0.85);

    // The scaler saved as numbers and rebuilt elsewhere, then a raw row of each species.
    let rebuilt = Standardizer::from_parts(scaler.mean().to_vec(), scaler.scale().to_vec()).unwrap();
    let mut rows = [[5.0, 3.4, 1.5, 0.2], [5.9, 2.8, 4.3, 1.3], [6.9, 3.1, 5.8, 2.2]];
    rebuilt.apply_rows(&mut rows).unwrap();
    let x: Batch<f64, 4> = batch_from_rows(&rows).unwrap();
    let scores = model.predict_view(x.as_view()).unwrap();
    let predicted: Vec<&str> = scores.column_iter().map(|s| names[s.argmax().0]).collect();
    assert_eq!(predicted, names);
}

#[test]
fn plain_rows_become_a_dataset_and_the_batch_a_network_takes() {
    let rows: Vec<Vec<f32>> = (0..6).map(|i| vec![i as f32, (i * i) as f32]).collect();
    let data = Dataset::from_rows_classes(&rows, &[0, 1, 0, 1, 0, 1], 2).unwrap();
    let batch: Batch<f32, 2> = data.to_batch().unwrap();
    assert_eq!(batch, batch_from_rows::<f32, 2, _>(&rows).unwrap());
    assert_eq!(batch.column(4).as_slice(), &[4.0, 16.0]);
    let model = LayerModel::new(Dense::<f32, 2, 2>::new(&mut seeded_rng(1), Init::XavierUniform, true));
    let outputs = model.predict_view(batch.as_view()).unwrap();
    assert_eq!(outputs.shape(), (2, 6));
    let wrong: Result<Batch<f32, 3>, _> = Batch::try_from(&data);
    assert_eq!(wrong.unwrap_err().to_string(), "the data has 2 features per sample but 3 are expected");
}

#[test]
fn real_targets_split_at_random_and_train_with_the_loss_the_error_suggests() {
    let xs: Vec<[f64; 2]> = (0..50).map(|i| [i as f64 / 50.0, 1.0 - i as f64 / 50.0]).collect();
    let ys: Vec<[f64; 1]> = xs.iter().map(|&[a, b]| [2.0 * a - b]).collect();
    let data = Dataset::from_rows_real(&xs, &ys).unwrap();
    let (train, test) = split(&data, 0.3, 11).unwrap();
    assert_eq!((train.len(), test.len()), (35, 15));
    assert_eq!(split(&data, 0.3, 11).unwrap(), (train.clone(), test.clone()));

    let mut model = LayerModel::new(Dense::<f64, 2, 1>::new(&mut seeded_rng(2), Init::XavierUniform, true));
    // No `.loss(..)`: cross-entropy, which needs classes.
    let err = Trainer::new(Adam::new(0.01)).epochs(1).quiet().fit(&mut model, &train, None).unwrap_err();
    assert!(matches!(err, TrainError::Targets { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("SoftmaxCrossEntropy needs class indices"), "{message}");
    assert!(message.contains("choose `.loss(Loss::Mse)`"), "{message}");
    assert!(message.contains("SoftmaxCrossEntropy is the default when no `.loss(..)` is set"), "{message}");
    let history = Trainer::new(Adam::new(0.05)).loss(Loss::Mse).epochs(40).batch_size(8).quiet().fit(
        &mut model,
        &train,
        Some(&test),
    );
    let last = history.unwrap().last().unwrap().clone();
    assert!(last.val_loss.unwrap() < 0.01, "a linear target: {last:?}");

    // And the reverse: a regression loss given classes suggests cross-entropy.
    let classes = Dataset::from_rows_classes(&xs, &[0; 50], 1).unwrap();
    let err = Trainer::new(Adam::new(0.01)).loss(Loss::Mse).quiet().fit(&mut model, &classes, None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "training data: Mse needs real targets as targets; for class indices choose \
         `.loss(Loss::SoftmaxCrossEntropy)`, the default when no `.loss(..)` is set"
    );
}
