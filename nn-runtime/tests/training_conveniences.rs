//! Issue 21's training conveniences on real runs: callbacks, ReduceLROnPlateau
//! (against torch, and inside the trainer), early stopping on any metric with
//! `min_delta`, the validation metrics, and the history as CSV and SVG.

mod common;

use std::cell::RefCell;
use std::rc::Rc;

use common::{flat_params, iris_split, mlp, MlpModel};
use nalgebra::DMatrix;
use nn_runtime::data::{Dataset, Labels};
use nn_runtime::layers::Tanh;
use nn_runtime::optim::{Adam, Optimizer, Schedule, Sgd};
use nn_runtime::train::{
    EarlyStopping, EpochStats, History, HistoryError, Metric, Mode, ReduceLrOnPlateau, Threshold, TrainError,
};
use nn_runtime::{Loss, Trainer};
use serde_json::Value;

type Net = MlpModel<f64, Tanh, 4, 8, 3>;

fn trainer(lr: f64, epochs: usize) -> Trainer<f64> {
    Trainer::new(Adam::new(lr)).epochs(epochs).batch_size(16).seed(1).quiet()
}

#[test]
fn a_callback_sees_the_history_and_stops_training() {
    let (train, val) = iris_split();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let log = Rc::clone(&seen);
    let mut t = trainer(0.05, 40).on_epoch_end(move |end| {
        log.borrow_mut().push((end.history().epochs.len(), end.stats().epoch));
        if end.stats().val_accuracy.is_some_and(|a| a >= 0.9) {
            end.stop();
        }
    });
    let h = t.fit(&mut mlp::<f64, Tanh, 4, 8, 3>(2), &train, Some(&val)).unwrap();
    let stop = h.epochs.len();
    assert!(stop < 40, "the callback never stopped:\n{h}");
    assert!(h.stopped_by_callback && !h.stopped_early);
    assert!(h.epochs[stop - 1].val_accuracy.unwrap() >= 0.9);
    assert!(h.epochs[..stop - 1].iter().all(|e| e.val_accuracy.unwrap() < 0.9), "it stopped at the first such epoch");
    let expected: Vec<(usize, usize)> = (1..=stop).map(|e| (e, e)).collect();
    assert_eq!(*seen.borrow(), expected, "called once per epoch, after the epoch is in the history");
}

#[test]
fn a_callback_sets_the_rate_of_the_following_epochs_and_callbacks_chain() {
    let (train, val) = iris_split();
    let mut t = trainer(0.04, 5)
        .on_epoch_end(|end| {
            if end.stats().epoch == 2 {
                end.set_lr(0.01);
            }
        })
        .on_epoch_end(|end| {
            // Sees the first callback's rate.
            if end.stats().epoch == 2 {
                assert_eq!(end.lr(), 0.01);
                end.set_lr(end.lr() / 2.0);
            }
        });
    let h = t.fit(&mut mlp::<f64, Tanh, 4, 8, 3>(2), &train, Some(&val)).unwrap();
    let rates: Vec<f64> = h.epochs.iter().map(|e| e.lr).collect();
    assert_eq!(rates, [0.04, 0.04, 0.005, 0.005, 0.005]);
    assert_eq!(t.optimizer().lr(), 0.005);
}

/// A ReduceLrOnPlateau built from the arguments of `tools/reference/plateau.py`.
fn plateau_from(args: &Value) -> ReduceLrOnPlateau {
    let number = |key: &str, default: f64| args.get(key).and_then(Value::as_f64).unwrap_or(default);
    let mode = if args.get("mode").and_then(Value::as_str) == Some("max") { Mode::Max } else { Mode::Min };
    let threshold = number("threshold", 1e-4);
    let threshold = match args.get("threshold_mode").and_then(Value::as_str) {
        Some("abs") => Threshold::Abs(threshold),
        _ => Threshold::Rel(threshold),
    };
    ReduceLrOnPlateau::new()
        .mode(mode)
        .factor(number("factor", 0.1))
        .patience(number("patience", 10.0) as usize)
        .threshold(threshold)
        .cooldown(number("cooldown", 0.0) as usize)
        .min_lr(number("min_lr", 0.0))
        .eps(number("eps", 1e-8))
}

#[test]
fn reduce_lr_on_plateau_matches_torch_step_for_step() {
    let reference: Value = serde_json::from_str(include_str!("data/plateau.json")).unwrap();
    let cases = reference["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 5);
    let mut reductions = 0;
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let mut plateau = plateau_from(&case["args"]);
        let mut sgd = Sgd::<f64>::new(case["lr"].as_f64().unwrap());
        let values = case["values"].as_array().unwrap();
        let steps = case["steps"].as_array().unwrap();
        assert_eq!(values.len(), steps.len());
        let mut last = sgd.lr();
        for (t, (value, expected)) in values.iter().zip(steps).enumerate() {
            plateau.step(value.as_f64().unwrap(), &mut sgd);
            let at = format!("{name}, step {}", t + 1);
            assert_eq!(sgd.lr().to_bits(), expected["lr"].as_f64().unwrap().to_bits(), "{at}: lr {}", sgd.lr());
            assert_eq!(plateau.best(), expected["best"].as_f64().unwrap(), "{at}: best");
            assert_eq!(plateau.bad_epochs() as u64, expected["num_bad_epochs"].as_u64().unwrap(), "{at}: bad epochs");
            assert_eq!(
                plateau.cooldown_left() as u64,
                expected["cooldown_counter"].as_u64().unwrap(),
                "{at}: cooldown"
            );
            reductions += usize::from(sgd.lr() < last);
            last = sgd.lr();
        }
    }
    assert_eq!(reductions, 15, "the cases lower the rate this often in torch");
}

#[test]
fn the_trainer_halves_the_rate_on_a_plateau() {
    let (train, val) = iris_split();
    // At this rate the validation loss moves by far less than the relative
    // threshold of 1e-4: every epoch after the first is a bad one.
    let plateau = ReduceLrOnPlateau::new().factor(0.5).patience(1).monitor(Metric::ValLoss);
    let mut t = Trainer::new(Sgd::new(1e-6)).epochs(7).batch_size(16).quiet().reduce_lr_on_plateau(plateau);
    let h = t.fit(&mut mlp::<f64, Tanh, 4, 8, 3>(2), &train, Some(&val)).unwrap();
    let rates: Vec<f64> = h.epochs.iter().map(|e| e.lr).collect();
    // Epoch 1 sets the best; epochs 2 and 3 are bad, and more than the
    // patience of 1 lowers the rate for epoch 4; again after epochs 4 and 5.
    assert_eq!(rates, [1e-6, 1e-6, 1e-6, 5e-7, 5e-7, 2.5e-7, 2.5e-7]);
    assert_eq!(t.optimizer().lr(), 2.5e-7 / 2.0, "after epoch 7, the third halving");
}

#[test]
fn a_plateau_with_a_schedule_or_an_unmeasured_metric_is_refused_before_training() {
    let (train, val) = iris_split();
    let mut net: Net = mlp(2);
    let before = flat_params(&net);
    let with_schedule = trainer(0.01, 3)
        .schedule(Schedule::Cosine { t_max: 3, eta_min: 0.0 })
        .reduce_lr_on_plateau(ReduceLrOnPlateau::new());
    let e = { with_schedule }.fit(&mut net, &train, Some(&val)).unwrap_err();
    assert!(matches!(e, TrainError::Setup { .. }), "{e}");
    assert!(e.to_string().contains("choose one"), "{e}");

    let e = trainer(0.01, 3).reduce_lr_on_plateau(ReduceLrOnPlateau::new().factor(1.5)).fit(&mut net, &train, None);
    assert!(e.unwrap_err().to_string().contains("factor in [0, 1)"));

    let e =
        trainer(0.01, 3).early_stopping(EarlyStopping::new(2).monitor(Metric::ValAccuracy)).fit(&mut net, &train, None);
    let e = e.unwrap_err();
    assert!(matches!(e, TrainError::Unmeasured { metric: Metric::ValAccuracy, .. }), "{e}");
    assert_eq!(
        e.to_string(),
        "early stopping watches val_accuracy, which needs validation data with class labels (or binary cross-entropy targets)"
    );
    let plateau = ReduceLrOnPlateau::new().monitor(Metric::ValRmse);
    let e = trainer(0.01, 3).reduce_lr_on_plateau(plateau).fit(&mut net, &train, Some(&val)).unwrap_err();
    assert_eq!(e.to_string(), "ReduceLrOnPlateau watches val_rmse, which needs validation data with real targets");
    assert_eq!(flat_params(&net), before, "nothing trained");
}

/// The epochs with their wall-clock seconds cleared, to compare runs.
fn timeless(epochs: &[EpochStats]) -> Vec<EpochStats> {
    let mut epochs = epochs.to_vec();
    epochs.iter_mut().for_each(|e| e.seconds = 0.0);
    epochs
}

/// The epoch early stopping should end at, and the best epoch, replayed from
/// a full history: improvements by more than `min_delta` reset the count.
fn replay(h: &History, patience: usize, min_delta: f64) -> (usize, usize) {
    let (mut best, mut best_epoch, mut since) = (f64::NEG_INFINITY, 0, 0);
    for e in &h.epochs {
        let acc = e.val_accuracy.unwrap();
        if acc > best + min_delta {
            (best, best_epoch, since) = (acc, e.epoch, 0);
        } else {
            since += 1;
            if since >= patience {
                return (e.epoch, best_epoch);
            }
        }
    }
    (h.epochs.len(), best_epoch)
}

#[test]
fn early_stopping_on_accuracy_with_min_delta_ends_with_the_best_epochs_weights() {
    let (train, val) = iris_split();
    // At this rate the validation accuracy climbs one sample (1/30) at a
    // time after the second epoch: 24 26 25 25 26 26 26 27 27 27 28 ... of 30.
    let full = trainer(0.003, 40).fit(&mut mlp::<f64, Tanh, 4, 8, 3>(4), &train, Some(&val)).unwrap();

    let run = |min_delta: f64| {
        let stopping = EarlyStopping::new(8).monitor(Metric::ValAccuracy).min_delta(min_delta);
        let mut net: Net = mlp(4);
        let h = trainer(0.003, 40).early_stopping(stopping).fit(&mut net, &train, Some(&val)).unwrap();
        (h, net)
    };
    // One more sample right (0.033) is not more than 0.05: after 26 of 30 in
    // epoch 2, only 28 (epoch 11) would count, and patience runs out first.
    let (strict, net) = run(0.05);
    assert_eq!(replay(&full, 8, 0.05), (10, 2));
    assert!(strict.stopped_early, "{strict}");
    assert_eq!((strict.epochs.len(), strict.best_epoch), (10, Some(2)));
    assert_eq!(timeless(&strict.epochs), timeless(&full.epochs[..10]), "stopping changes nothing before the stop");

    // The weights are those after the best epoch: a run of exactly that many epochs.
    let mut reference: Net = mlp(4);
    trainer(0.003, 2).fit(&mut reference, &train, Some(&val)).unwrap();
    assert_eq!(flat_params(&net), flat_params(&reference));

    // Without min_delta, every extra sample counts and training goes on.
    let (loose, _) = run(0.0);
    // 27 of 30 in epoch 8 and 28 in epoch 11 count, then eight epochs at 28.
    assert_eq!(replay(&full, 8, 0.0), (19, 11));
    assert_eq!((loose.epochs.len(), loose.best_epoch), (19, Some(11)));
}

#[test]
fn validation_metrics_are_recorded_for_classes_and_for_real_targets() {
    let (train, val) = iris_split();
    let h = trainer(0.05, 3).fit(&mut mlp::<f64, Tanh, 4, 8, 3>(2), &train, Some(&val)).unwrap();
    let e = h.last().unwrap();
    assert!(e.val_precision.is_some() && e.val_recall.is_some() && e.val_f1.is_some());
    assert_eq!((e.val_mae, e.val_rmse), (None, None));

    // Regression: predict the one-hot class from the features with the MSE.
    let one_hot = |d: &Dataset<f64>| {
        let Labels::Classes { indices, .. } = d.labels() else { unreachable!() };
        let t = DMatrix::from_fn(3, indices.len(), |r, c| f64::from(u8::from(indices[c] == r)));
        Dataset::new(d.inputs().clone(), Labels::Real(t)).unwrap()
    };
    let (train, val) = (one_hot(&train), one_hot(&val));
    let h = trainer(0.05, 3).loss(Loss::Mse).fit(&mut mlp::<f64, Tanh, 4, 8, 3>(2), &train, Some(&val)).unwrap();
    let e = h.last().unwrap();
    assert_eq!((e.val_accuracy, e.val_f1), (None, None));
    let (mae, rmse) = (e.val_mae.unwrap(), e.val_rmse.unwrap());
    assert!((rmse * rmse - e.val_loss.unwrap()).abs() < 1e-12, "RMSE is the root of the validation MSE");
    assert!(mae > 0.0 && mae <= rmse, "MAE {mae} is at most RMSE {rmse}");
}

#[test]
fn one_output_binary_cross_entropy_reports_accuracy() {
    // Is the first iris feature above its mean? A linear question a tanh MLP learns.
    let (train, val) = iris_split();
    let binary = |d: &Dataset<f64>| {
        let t = DMatrix::from_fn(1, d.len(), |_, c| f64::from(u8::from(d.inputs()[(0, c)] > 0.0)));
        Dataset::new(d.inputs().clone(), Labels::Real(t)).unwrap()
    };
    let (train, val) = (binary(&train), binary(&val));
    let mut net: MlpModel<f64, Tanh, 4, 8, 1> = mlp(3);
    let stopping = EarlyStopping::new(50).monitor(Metric::ValAccuracy);
    let mut t = trainer(0.05, 30).loss(Loss::BinaryCrossEntropyWithLogits).early_stopping(stopping);
    let h = t.fit(&mut net, &train, Some(&val)).unwrap();
    let acc = h.last().unwrap().val_accuracy.expect("accuracy for one-output binary cross-entropy");
    assert!(acc > 0.9, "val accuracy {acc}");
    assert_eq!(h.last().unwrap().val_mae, None);
}

/// A history with every kind of field: measured values, unmeasured ones
/// (no validation metrics for real targets), many step norms.
fn sample_history() -> History {
    let (train, val) = iris_split();
    trainer(0.05, 4).fit(&mut mlp::<f64, Tanh, 4, 8, 3>(2), &train, Some(&val)).unwrap()
}

#[test]
fn history_csv_round_trips_bit_for_bit() {
    let h = sample_history();
    let csv = h.to_csv();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "epoch,train_loss,val_loss,val_accuracy,val_precision,val_recall,val_f1,val_mae,val_rmse,lr,\
         grad_norm_mean,grad_norm_max,seconds,grad_norms"
    );
    assert_eq!(lines.count(), 4);
    let back = History::from_csv(&csv).unwrap();
    assert_eq!(back.epochs, h.epochs);
    let bits = |h: &History| -> Vec<u64> {
        h.epochs.iter().flat_map(|e| e.grad_norms.iter().chain([&e.train_loss, &e.lr]).map(|v| v.to_bits())).collect()
    };
    assert_eq!(bits(&back), bits(&h));
    assert_eq!(back.epochs[0].val_mae, None, "an empty field reads as unmeasured");

    let path = std::env::temp_dir().join(format!("nn-history-{}.csv", std::process::id()));
    h.save_csv(&path).unwrap();
    assert_eq!(History::load_csv(&path).unwrap().epochs, h.epochs);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_damaged_history_csv_is_an_error_naming_line_and_column() {
    let csv = sample_history().to_csv();
    let bad = csv.replacen(",0.05,", ",fast,", 1);
    assert_ne!(bad, csv, "the rate column holds 0.05");
    let e = History::from_csv(&bad).unwrap_err();
    assert!(matches!(e, HistoryError::Value { line: 2, column: "lr", .. }), "{e}");
    assert_eq!(e.to_string(), "history CSV line 2, column `lr`: `fast` is not a number");

    let no_lr = csv.replacen("lr,", "rate,", 1);
    assert!(matches!(History::from_csv(&no_lr), Err(HistoryError::MissingColumn("lr"))));
    let missing = std::env::temp_dir().join("nn-no-such-history-3f1.csv");
    assert!(matches!(History::load_csv(&missing), Err(HistoryError::Io { .. })));
}

#[cfg(feature = "plot")]
#[test]
fn the_history_plot_is_svg_with_a_line_per_measured_series() {
    let h = sample_history();
    let svg = h.to_svg().unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("the plot is well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    // plotters draws a line series as a polyline of one point per epoch
    // (legend samples are two-point lines).
    let lines: Vec<usize> = doc
        .descendants()
        .filter(|n| n.has_tag_name("polyline"))
        .map(|n| n.attribute("points").unwrap_or("").split_whitespace().count())
        .filter(|&points| points == h.epochs.len())
        .collect();
    assert_eq!(lines.len(), 3, "train loss, val loss, val accuracy");
    let text: String = doc.descendants().filter_map(|n| n.text()).collect();
    for label in ["Loss", "Accuracy", "train loss", "val loss", "val accuracy", "epoch"] {
        assert!(text.contains(label), "no `{label}` in the plot");
    }
    let path = std::env::temp_dir().join(format!("nn-history-{}.svg", std::process::id()));
    h.save_svg(&path).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), svg);
    std::fs::remove_file(&path).unwrap();
    assert!(matches!(History::default().to_svg(), Err(HistoryError::Empty)));
}
