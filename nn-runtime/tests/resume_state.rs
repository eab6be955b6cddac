//! Training states (issue 19): what they hold, that a run resumed at an
//! epoch boundary ends as the whole run does with every part of the trainer
//! that keeps state, that a state of another run or network is refused before
//! anything changes, that optimizers give their state back exactly, and that
//! checkpoint and state paths that cannot be written stop `fit` before the
//! first step. (`tests/resume.rs` at the root kills runs mid-epoch.)

mod common;

use std::path::{Path, PathBuf};

use common::{flat_params, iris_split, mlp, MlpModel};
use nn_runtime::io::{save_safetensors, LoadErrorKind, SaveErrorKind};
use nn_runtime::layers::Tanh;
use nn_runtime::optim::{Adam, AdamW, Optimizer, RmsProp, Schedule, Sgd, StateError};
use nn_runtime::snapshot::Data;
use nn_runtime::train::{EarlyStopping, EpochStats, Metric, ReduceLrOnPlateau, ResumeError, TrainError, TrainingState};
use nn_runtime::{Model, Trainer, VisitMut};

type Net = MlpModel<f64, Tanh, 4, 8, 3>;

fn folder(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nn-state-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn timeless(epochs: &[EpochStats]) -> Vec<EpochStats> {
    let mut epochs = epochs.to_vec();
    epochs.iter_mut().for_each(|e| e.seconds = 0.0);
    epochs
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// A trainer with every part that keeps state between epochs: Adam, a plateau
/// watch (or a schedule), early stopping on accuracy, callbacks.
fn stateful(epochs: usize, schedule: bool) -> Trainer<f64> {
    let t = Trainer::new(Adam::new(0.02)).epochs(epochs).batch_size(16).seed(9).quiet();
    let t = t.early_stopping(EarlyStopping::new(4).monitor(Metric::ValAccuracy).min_delta(0.01));
    if schedule {
        t.schedule_per_step(Schedule::Cosine { t_max: 96, eta_min: 1e-4 })
    } else {
        t.reduce_lr_on_plateau(ReduceLrOnPlateau::new().factor(0.5).patience(1).monitor(Metric::ValLoss))
    }
}

#[test]
fn a_run_resumed_at_every_epoch_ends_as_the_whole_run() {
    let (train, val) = iris_split();
    for schedule in [false, true] {
        let mut whole: Net = mlp(2);
        let all = stateful(12, schedule).fit(&mut whole, &train, Some(&val)).unwrap();
        assert!(all.epochs.len() > 3, "{all}");

        // One process per epoch: each builds a new trainer and network and
        // goes on from the state the previous one left.
        let dir = folder(&format!("every-epoch-{schedule}"));
        let path = dir.join("state.safetensors");
        let mut net: Net = mlp(2);
        let mut last = None;
        for epochs in 1..=12 {
            let mut t = stateful(epochs, schedule).save_state(&path);
            if epochs > 1 {
                net = mlp(99); // overwritten by the state
                t = t.resume_from(&path);
            }
            last = Some(t.fit(&mut net, &train, Some(&val)).unwrap());
        }
        let last = last.unwrap();
        assert_eq!(timeless(&last.epochs), timeless(&all.epochs), "schedule: {schedule}");
        assert_eq!((last.best_epoch, last.stopped_early), (all.best_epoch, all.stopped_early));
        assert_eq!(bits(&flat_params(&net)), bits(&flat_params(&whole)), "the best epoch's weights");
        let state = TrainingState::read(&path, &net).unwrap();
        assert_eq!(state.stopped(), all.stopped_early);
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn a_state_holds_each_part_under_its_name() {
    let (train, val) = iris_split();
    let dir = folder("parts");
    let path = dir.join("state.safetensors");
    let mut net: Net = mlp(2);
    let h = stateful(3, false).save_state(&path).save_state_every(2).fit(&mut net, &train, Some(&val)).unwrap();
    let state = TrainingState::read(&path, &net).unwrap();
    assert_eq!((state.epoch(), state.step()), (4, 0), "after the last epoch");
    assert_eq!(timeless(&state.history().epochs), timeless(&h.epochs));
    let names: Vec<&str> = state.model().entries().iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["0.weight", "0.bias", "2.weight", "2.bias"]);
    // A file keeps its tensors sorted (by dtype and name), not in the order saved.
    let mut optimizer: Vec<&str> = state.optimizer().entries().iter().map(|e| e.name.as_str()).collect();
    optimizer.sort_unstable();
    let per_tensor = |i| [format!("{i}.exp_avg"), format!("{i}.exp_avg_sq")];
    let mut expected: Vec<String> = (0..4).flat_map(per_tensor).collect();
    expected.push("step".into());
    assert_eq!(optimizer, expected);
    assert_eq!(state.optimizer().get("step").map(|e| &e.data), Some(&Data::Count(24)), "8 steps an epoch");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_weights_file_or_a_state_of_another_run_is_refused_before_anything_changes() {
    let (train, val) = iris_split();
    let dir = folder("refused");
    let (state, weights) = (dir.join("state.safetensors"), dir.join("weights.safetensors"));
    let mut net: Net = mlp(2);
    stateful(2, false).save_state(&state).fit(&mut net, &train, Some(&val)).unwrap();
    save_safetensors(&net, &weights).unwrap();

    let mut fresh: Net = mlp(5);
    let before = flat_params(&fresh);
    let resume =
        |t: Trainer<f64>, path: &Path, net: &mut Net| t.resume_from(path).fit(net, &train, Some(&val)).unwrap_err();
    let e = resume(stateful(4, false), &weights, &mut fresh);
    assert!(matches!(&e, TrainError::Resume { source, .. } if matches!(**source, ResumeError::NotAState)), "{e}");

    let e = resume(stateful(4, false).batch_size(32), &state, &mut fresh);
    assert_eq!(
        e.to_string(),
        format!(
            "cannot resume from {}: the training state was written by a run with batch size 16, \
             but this run has batch size 32",
            state.display()
        )
    );
    let e = resume(stateful(4, true), &state, &mut fresh);
    assert!(matches!(&e, TrainError::Resume { source, .. } if matches!(**source, ResumeError::Mismatch { .. })), "{e}");
    let e =
        resume(Trainer::new(Sgd::new(0.1).momentum(0.9)).epochs(4).batch_size(16).seed(9).quiet(), &state, &mut fresh);
    assert!(e.to_string().ends_with("with ReduceLrOnPlateau, but this run has no ReduceLrOnPlateau"), "{e}");
    let plateau = ReduceLrOnPlateau::new().factor(0.5).patience(1).monitor(Metric::ValLoss);
    let no_stopping =
        Trainer::new(Adam::new(0.02)).epochs(4).batch_size(16).seed(9).quiet().reduce_lr_on_plateau(plateau);
    let e = resume(no_stopping, &state, &mut fresh);
    assert!(e.to_string().ends_with("with early stopping, but this run has no early stopping"), "{e}");
    assert_eq!(flat_params(&fresh), before, "nothing was changed");

    // Another network: the first tensor that differs is named.
    let mut wider: MlpModel<f64, Tanh, 4, 6, 3> = mlp(2);
    let e = stateful(4, false).resume_from(&state).fit(&mut wider, &train, Some(&val)).unwrap_err();
    let TrainError::Resume { source, .. } = &e else { panic!("{e}") };
    let ResumeError::Load(load) = &**source else { panic!("{e}") };
    assert!(matches!(load.kind(), LoadErrorKind::Shape { name, .. } if name == "model.0.weight"), "{e}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// Three steps of `opt` on a fixed gradient, the parameters after.
fn steps<O: Optimizer<f64>>(opt: &mut O, net: &mut Net, n: usize) -> Vec<f64> {
    struct Grad;
    impl VisitMut<f64> for Grad {
        fn param(&mut self, p: nn_runtime::ParamMut<'_, f64>) {
            for (i, g) in p.grad.iter_mut().enumerate() {
                *g = (i as f64 * 0.37).sin() + 0.1;
            }
        }
    }
    for _ in 0..n {
        net.visit_mut(&mut Grad);
        opt.step(net);
    }
    flat_params(net)
}

fn lens(net: &Net) -> Vec<usize> {
    net.parameters().iter().map(|p| p.value.len()).collect()
}

#[test]
fn every_optimizer_gives_back_its_state_and_goes_on_identically() {
    fn check<O: Optimizer<f64>>(make: impl Fn() -> O, names: &[&str]) {
        let (mut a, mut net_a) = (make(), mlp::<f64, Tanh, 4, 8, 3>(1));
        steps(&mut a, &mut net_a, 3);
        let state = a.state().unwrap();
        let found: Vec<&str> = state.entries().iter().map(|e| e.name.as_str()).collect();
        assert_eq!(found, names);
        let (mut b, mut net_b) = (make(), mlp::<f64, Tanh, 4, 8, 3>(1));
        steps(&mut b, &mut net_b, 3);
        let mut c = make();
        c.set_state(&state, &lens(&net_b)).unwrap();
        assert_eq!(bits(&steps(&mut a, &mut net_a, 4)), bits(&steps(&mut c, &mut net_b, 4)));
    }
    let per_tensor = |what: &str| (0..4).map(|i| format!("{i}.{what}")).collect::<Vec<_>>();
    let momentum = per_tensor("momentum_buffer");
    let names = |parts: &[&Vec<String>], head: &[&str]| -> Vec<String> {
        head.iter().map(|s| s.to_string()).chain(parts.iter().flat_map(|p| p.iter().cloned())).collect()
    };
    let sgd = names(&[&momentum], &[]);
    check(|| Sgd::new(0.1).momentum(0.9).nesterov(true), &sgd.iter().map(String::as_str).collect::<Vec<_>>());
    check(|| Sgd::new(0.1), &[]);
    let adam = names(&[&per_tensor("exp_avg"), &per_tensor("exp_avg_sq")], &["step"]);
    check(|| Adam::new(0.01), &adam.iter().map(String::as_str).collect::<Vec<_>>());
    check(|| AdamW::new(0.01).weight_decay(0.1), &adam.iter().map(String::as_str).collect::<Vec<_>>());
    let rms = names(&[&momentum, &per_tensor("square_avg")], &[]);
    check(|| RmsProp::new(0.01).momentum(0.5), &rms.iter().map(String::as_str).collect::<Vec<_>>());
}

#[test]
fn an_optimizer_state_that_does_not_fit_is_refused_and_changes_nothing() {
    let mut net: Net = mlp(1);
    let mut adam = Adam::new(0.01);
    steps(&mut adam, &mut net, 2);
    let state = adam.state().unwrap();
    let mut lens = lens(&net);
    lens[1] += 1;
    let mut fresh = Adam::<f64>::new(0.01);
    let e = fresh.set_state(&state, &lens).unwrap_err();
    assert_eq!(e, StateError::Tensor { name: "1.exp_avg".into(), expected: "9 values".into() });
    let e = Sgd::<f64>::new(0.1).momentum(0.9).set_state(&state, &lens).unwrap_err();
    assert!(matches!(e, StateError::Unexpected { .. }), "{e}");
    assert_eq!(fresh.state().unwrap().entries().len(), 1, "still fresh: only its step count");
}

#[test]
fn a_failed_state_write_stops_training_with_the_epoch_and_step() {
    let (train, val) = iris_split();
    let dir = folder("vanishes");
    let inner = dir.join("run");
    std::fs::create_dir_all(&inner).unwrap();
    let gone = inner.clone();
    let t = stateful(5, false).save_state(inner.join("state.safetensors")).on_epoch_end(move |end| {
        if end.stats().epoch == 2 {
            std::fs::remove_dir_all(&gone).unwrap();
        }
    });
    let e = { t }.fit(&mut mlp::<f64, Tanh, 4, 8, 3>(2), &train, Some(&val)).unwrap_err();
    assert!(matches!(e, TrainError::SaveState { epoch: 3, step: 0, .. }), "{e}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn configurations_a_state_cannot_hold_are_refused_before_training() {
    let (train, val) = iris_split();
    let mut net: Net = mlp(2);
    let dir = folder("config");
    let path = dir.join("state.safetensors");
    let e = stateful(2, false).save_state_every(3).fit(&mut net, &train, Some(&val)).unwrap_err();
    assert!(e.to_string().contains("save_state_every needs save_state"), "{e}");
    let e = stateful(2, false).save_state(&path).gradient_flow(1, val.clone()).fit(&mut net, &train, Some(&val));
    assert!(matches!(e, Err(TrainError::Setup { .. })));
    let e = stateful(2, false).save_state(&path).save_state_every(0).fit(&mut net, &train, Some(&val));
    assert!(matches!(e, Err(TrainError::Empty { .. })));

    /// An optimizer of the user's, which keeps no state it can give.
    struct Plain(Sgd<f64>);
    impl Optimizer<f64> for Plain {
        fn step_with(&mut self, visit: &mut dyn FnMut(&mut dyn VisitMut<f64>)) {
            self.0.step_with(visit);
        }
        fn lr(&self) -> f64 {
            self.0.lr()
        }
        fn set_lr(&mut self, lr: f64) {
            self.0.set_lr(lr);
        }
    }
    let e = Trainer::new(Plain(Sgd::new(0.1))).save_state(&path).quiet().fit(&mut net, &train, None).unwrap_err();
    assert!(e.to_string().contains("this optimizer cannot save its state"), "{e}");
    assert!(!path.exists(), "nothing was written");
    std::fs::remove_dir_all(dir).unwrap();
}

/// A folder no file can be created in, even by root: the chmod'ed folder
/// when permissions apply to this process, else Linux's /sys, where nobody
/// creates files.
fn read_only_folder(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let ro = dir.join("read-only");
    std::fs::create_dir_all(&ro).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    if std::fs::write(ro.join("probe"), b"").is_err() {
        ro
    } else {
        PathBuf::from("/sys")
    }
}

#[test]
fn unwritable_checkpoint_and_state_paths_stop_fit_before_the_first_step() {
    let (train, val) = iris_split();
    let dir = folder("unwritable");
    let read_only = read_only_folder(&dir);
    let mut net: Net = mlp(2);
    let before = flat_params(&net);
    let trainer = || Trainer::new(Adam::new(0.01)).epochs(3).quiet();
    let cases = [
        (trainer().checkpoint(&dir), "checkpoint", "checking the target"),
        (trainer().checkpoint(read_only.join("best.safetensors")), "checkpoint", "creating a temporary file"),
        (trainer().save_state(&dir), "training state", "checking the target"),
        (trainer().save_state(read_only.join("state.safetensors")), "training state", "creating a temporary file"),
    ];
    for (t, what, action) in cases {
        let e = { t }.fit(&mut net, &train, Some(&val)).unwrap_err();
        let TrainError::Unwritable { what: found, source } = &e else { panic!("{e}") };
        assert_eq!(*found, what);
        assert!(matches!(source.kind(), SaveErrorKind::Io { action: a, .. } if a.starts_with(action)), "{e}");
        assert!(e.to_string().starts_with(&format!("the {what} cannot be written: cannot save weights to ")), "{e}");
    }
    assert_eq!(flat_params(&net), before, "no step was taken");
    let e = trainer().checkpoint(&dir).fit(&mut net, &train, None).unwrap_err();
    assert!(e.to_string().contains("the path is a folder; give a file name inside it"), "{e}");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "no probe left behind");
    std::fs::remove_dir_all(dir).unwrap();
}
