//! One study as the page runs it: the digits, the network the settings
//! describe, its gradient flow at initialization, then one epoch at a time
//! with the test accuracy and the gradient flow after each. Results travel
//! to the page as JSON.

use nn::data::{digits, stratified_split, Dataset, Standardizer};
use nn::diagnostics::{DiagnosticsError, GradientFlow};
use nn::optim::{Adam, Sgd};
use nn::{Clip, Loss, Trainer};
use serde_json::{json, Value};

use crate::settings::{Optimizer, Settings, SettingsError};
use crate::stack::Stack;

/// Samples of the training part on which the gradient flow is measured.
const PROBE: usize = 256;
/// Samples per step.
const BATCH: usize = 64;

/// Why a study could not start or go on.
#[derive(Debug, thiserror::Error)]
pub enum StudyError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    Data(#[from] nn::data::DataError),
    #[error(transparent)]
    Diagnostics(#[from] DiagnosticsError),
}

pub struct Study {
    settings: Settings,
    net: Stack,
    /// Taken out for each epoch: its builder methods consume it.
    trainer: Option<Trainer<f32>>,
    train: Dataset<f32>,
    test: Dataset<f32>,
    probe: Dataset<f32>,
    epoch: usize,
    /// Set when training stopped (a non-finite loss or gradient).
    stopped: Option<String>,
}

impl Study {
    /// Builds the network and splits the digits (80/20, stratified, seed 7,
    /// standardized on the training part), as `examples/vanishing_gradients.rs`.
    pub fn new(settings_json: &str) -> Result<Study, StudyError> {
        let settings = Settings::from_json(settings_json)?;
        let (mut train, mut test) = stratified_split(&digits::<f32>(), 0.2, 7)?;
        let standardizer = Standardizer::fit(&train)?;
        standardizer.apply(&mut train)?;
        standardizer.apply(&mut test)?;
        let probe = train.subset(&(0..PROBE.min(train.len())).collect::<Vec<_>>())?;
        let mut trainer = match settings.optimizer {
            Optimizer::Adam { lr } => Trainer::new(Adam::new(lr)),
            Optimizer::Sgd { lr } => Trainer::new(Sgd::new(lr).momentum(0.9)),
        }
        .epochs(1)
        .batch_size(BATCH)
        .quiet();
        if let Some(c) = settings.clip {
            trainer = trainer.clip(Clip::GlobalNorm(c));
        }
        let net = Stack::new(&settings);
        Ok(Study { settings, net, trainer: Some(trainer), train, test, probe, epoch: 0, stopped: None })
    }

    /// The network in words and its gradient flow before any training.
    pub fn start(&mut self) -> Result<Value, StudyError> {
        let flow = self.flow()?;
        Ok(json!({ "network": self.settings.spelling(), "epochs": self.settings.epochs, "flow": flow }))
    }

    /// Trains one more epoch (each with its own shuffling seed); its loss,
    /// test accuracy and gradient norms, and the gradient flow after it.
    pub fn epoch(&mut self) -> Result<Value, StudyError> {
        if let Some(reason) = &self.stopped {
            return Ok(json!({ "stopped": reason }));
        }
        self.epoch += 1;
        let trainer = self.trainer.take().expect("the trainer is put back after every epoch");
        let mut trainer = trainer.seed(self.settings.seed + self.epoch as u64);
        let fitted = trainer.fit(&mut self.net, &self.train, Some(&self.test));
        self.trainer = Some(trainer);
        let s = match fitted.map(|mut history| history.epochs.pop()) {
            Ok(Some(s)) => s,
            Ok(None) => return Ok(json!({ "epoch": self.epoch, "stopped": "the trainer ran no epoch" })),
            Err(e) => {
                // The Trainer keeps the last good weights; nothing more to learn from this run.
                let reason = format!("training stopped in epoch {}: {e}", self.epoch);
                self.stopped = Some(reason.clone());
                return Ok(json!({ "epoch": self.epoch, "stopped": reason }));
            }
        };
        Ok(json!({
            "epoch": self.epoch,
            "train_loss": finite(s.train_loss),
            "test_loss": s.val_loss.and_then(finite),
            "test_accuracy": s.val_accuracy,
            "grad_norm_max": finite(s.grad_norm_max),
            "seconds": s.seconds,
            "flow": self.flow()?,
        }))
    }

    /// The gradient flow on the probe samples, as the page shows it.
    fn flow(&mut self) -> Result<Value, StudyError> {
        let flow =
            GradientFlow::measure(&mut self.net, self.probe.inputs(), self.probe.targets(), Loss::SoftmaxCrossEntropy)?;
        Ok(flow_json(&flow))
    }
}

/// JSON has no NaN or infinity: they travel as null.
fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// The numbers and words of a measurement: the first layer's gradient ratio,
/// the per-layer factor, each weighted layer's input-gradient norm (input
/// side first), the verdict with its findings, remedies and caveats.
pub fn flow_json(flow: &GradientFlow) -> Value {
    let verdict = flow.verdict();
    let layers: Vec<Option<f64>> = flow.weighted().map(|i| i.input_grad_norm.and_then(finite)).collect();
    json!({
        "ratio": flow.ratio().and_then(finite),
        "factor": flow.depth_fit().map(|f| f.factor).and_then(finite),
        "layers": layers,
        "verdict": verdict.headline(),
        "vanishing": verdict.is_vanishing(),
        "exploding": verdict.is_exploding(),
        "healthy": verdict.is_healthy(),
        "findings": verdict.findings.iter().map(|f| f.reason.clone()).collect::<Vec<_>>(),
        "remedies": verdict.remedies.iter().map(|r| json!({ "spelling": r.spelling, "why": r.why })).collect::<Vec<_>>(),
        "caveats": verdict.caveats,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 20-layer sigmoid study (Adam, lr 3e-3, one epoch), with `changes`.
    fn settings(changes: Value) -> String {
        let mut s = json!({
            "depth": 20, "activation": "sigmoid", "init": "auto", "shortcut": "none", "batch_norm": false,
            "clip": null, "optimizer": "adam", "lr": 0.003, "epochs": 1, "seed": 1
        });
        if let (Some(s), Some(changes)) = (s.as_object_mut(), changes.as_object()) {
            s.extend(changes.clone());
        }
        s.to_string()
    }

    fn run(json: &str) -> (Value, Vec<Value>) {
        let mut study = Study::new(json).unwrap();
        let start = study.start().unwrap();
        let epochs = (0..start["epochs"].as_u64().unwrap()).map(|_| study.epoch().unwrap()).collect();
        (start, epochs)
    }

    #[test]
    fn twenty_sigmoid_layers_vanish_and_clipping_does_not_help() {
        let (start, epochs) = run(&settings(json!({"clip": 1, "epochs": 2})));
        assert_eq!(start["flow"]["verdict"], "vanishing");
        assert!(start["flow"]["ratio"].as_f64().unwrap() < 1e-6, "{}", start["flow"]);
        assert_eq!(start["flow"]["layers"].as_array().unwrap().len(), 21, "20 hidden layers and the output layer");
        let caveats = start["flow"]["caveats"].to_string();
        assert!(caveats.contains("clipping cures explosion, not vanishing"), "{caveats}");
        for e in &epochs {
            assert!(e["test_accuracy"].as_f64().unwrap() < 0.2, "still guessing: {e}");
        }
    }

    #[test]
    fn twenty_residual_relu_layers_are_healthy_and_learn() {
        let (start, epochs) =
            run(&settings(json!({"activation": "relu", "init": "small", "shortcut": "residual", "epochs": 3})));
        assert_eq!(start["flow"]["verdict"], "healthy");
        assert!(start["network"].as_str().unwrap().contains("residual { dense(64, init = normal(0.01)), relu }"));
        let last = epochs.last().unwrap();
        assert!(last["test_accuracy"].as_f64().unwrap() > 0.9, "{last}");
        assert!(last["train_loss"].as_f64().unwrap() < epochs[0]["train_loss"].as_f64().unwrap());
    }

    #[test]
    fn an_explosion_stops_training_and_clipping_tames_it() {
        let (start, epochs) = run(&settings(
            json!({"activation": "relu", "init": "he_normal", "shortcut": "residual", "optimizer": "sgd", "lr": 0.1, "epochs": 2}),
        ));
        assert_eq!(start["flow"]["verdict"], "exploding");
        assert!(start["flow"]["ratio"].as_f64().unwrap() > 1e3, "{}", start["flow"]);
        let stopped = epochs[0]["stopped"].as_str().unwrap();
        assert!(stopped.contains("non-finite"), "{stopped}");
        assert_eq!(epochs[1]["stopped"], epochs[0]["stopped"], "a stopped study stays stopped");

        let (_, clipped) = run(&settings(
            json!({"activation": "relu", "init": "he_normal", "shortcut": "residual", "optimizer": "sgd", "lr": 0.1, "clip": 1, "epochs": 10}),
        ));
        assert!(clipped.iter().all(|e| e.get("stopped").is_none()));
        let last = clipped.last().unwrap();
        assert!(last["test_accuracy"].as_f64().unwrap() > 0.8, "{last}");
    }

    #[test]
    fn bad_settings_are_an_error_naming_the_field() {
        let err = Study::new(&settings(json!({"depth": 0}))).err().unwrap();
        assert!(err.to_string().starts_with("setting `depth`"), "{err}");
    }
}
