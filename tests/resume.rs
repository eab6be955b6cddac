//! Issue 19, acceptance 1: a training run killed with SIGKILL at random
//! moments, some of them while the training state is being written, and
//! resumed each time, ends bit for bit where an uninterrupted run ends:
//! weights, buffers, optimizer state and history (all but wall-clock seconds).
//!
//! The run is the digits with a small network with batch norm and dropout,
//! Adam, a cosine schedule stepped every batch, early stopping on
//! validation accuracy and a best-weights checkpoint; the training state is
//! written after every step. Each run is a child process: this test binary
//! again, running the ignored test `child_run` in a folder given by
//! `NN_RESUME_DIR`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use nn::data::{digits, stratified_split, Dataset, Standardizer};
use nn::optim::Adam;
use nn::prelude::*;
use nn::snapshot::{Data, Entry};
use nn::train::{EarlyStopping, Metric, TrainingState};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

nn::network! {
    /// Small enough that writing the state after every step takes most of the time.
    pub struct ResumeNet(64 -> 10) { dense(24), batch_norm, relu, dropout(0.25), dense(10) }
}

const EPOCHS: usize = 8;
const BATCH: usize = 64;
const DIR: &str = "NN_RESUME_DIR";
const KILLS: usize = 20;

/// Standardized digits: (train, validation).
fn data() -> (Dataset<f32>, Dataset<f32>) {
    let (mut train, mut val) = stratified_split(&digits::<f32>(), 0.2, 11).unwrap();
    let s = Standardizer::fit(&train).unwrap();
    s.apply(&mut train).unwrap();
    s.apply(&mut val).unwrap();
    (train, val)
}

fn state_path(dir: &Path) -> PathBuf {
    dir.join("state.safetensors")
}

fn best_path(dir: &Path) -> PathBuf {
    dir.join("best.safetensors")
}

/// The run, in a child process: from the state in `NN_RESUME_DIR` if there
/// is one, else from the start; writes the final weights and the history.
#[test]
#[ignore = "a child process of `killed_runs_resume_bit_for_bit`, which sets NN_RESUME_DIR"]
fn child_run() {
    let dir = PathBuf::from(std::env::var(DIR).expect("run by killed_runs_resume_bit_for_bit, with NN_RESUME_DIR set"));
    let (train, val) = data();
    let steps = train.len().div_ceil(BATCH) * EPOCHS;
    let mut trainer = Trainer::new(Adam::new(4e-3))
        .epochs(EPOCHS)
        .batch_size(BATCH)
        .seed(5)
        .schedule_per_step(Schedule::Cosine { t_max: steps, eta_min: 1e-4 })
        .early_stopping(EarlyStopping::new(2).monitor(Metric::ValAccuracy))
        .checkpoint(best_path(&dir))
        .save_state(state_path(&dir))
        .save_state_every(1)
        .quiet();
    if state_path(&dir).exists() {
        trainer = trainer.resume_from(state_path(&dir));
    }
    let mut net = ResumeNet::<f32>::seeded(3);
    let history = trainer.fit(&mut net, &train, Some(&val)).unwrap();
    net.save_safetensors(dir.join("final.safetensors")).unwrap();
    history.save_csv(dir.join("history.csv")).unwrap();
}

/// Starts a child in `dir`; its test report goes to `dir/child.log`.
fn spawn(dir: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["child_run", "--exact", "--ignored", "--test-threads=1"])
        .env(DIR, dir)
        .stdout(std::fs::File::create(dir.join("child.log")).unwrap())
        .spawn()
        .unwrap()
}

/// The report of the last child in `dir`, to say why it ended.
fn log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("child.log")).unwrap_or_default()
}

fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nn-resume-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs a child in `dir` to its end and returns how long it took.
fn run_to_end(dir: &Path) -> Duration {
    let started = Instant::now();
    assert!(spawn(dir).wait().unwrap().success(), "the child run failed:\n{}", log(dir));
    started.elapsed()
}

/// The hidden temporary files of the atomic writer in `dir`: a kill
/// mid-write leaves one.
fn temporaries(dir: &Path) -> Vec<String> {
    let names = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned());
    names.filter(|n| n.contains(".tmp-")).collect()
}

/// Every entry's name, shape and data, floats as bits.
fn bits(entries: &[Entry<f32>]) -> Vec<(String, Vec<usize>, Vec<u64>)> {
    entries
        .iter()
        .map(|e| {
            let data = match &e.data {
                Data::Count(c) => vec![*c as u64],
                Data::Rng(r) => {
                    r.get_seed().map(u64::from).into_iter().chain([r.get_stream(), r.get_word_pos() as u64]).collect()
                }
                other => other.floats().unwrap().iter().map(|v| u64::from(v.to_bits())).collect(),
            };
            (e.name.clone(), e.shape.clone(), data)
        })
        .collect()
}

/// The history CSV without its `seconds` column.
fn without_seconds(csv: &str) -> Vec<String> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let at = header.iter().position(|c| *c == "seconds").unwrap();
    csv.lines().map(|l| l.split(',').enumerate().filter(|(i, _)| *i != at).map(|(_, f)| f).collect()).collect()
}

/// How far the state in `dir` is, in steps from the start (0 without a state).
fn position(dir: &Path, net: &ResumeNet<f32>, steps_per_epoch: usize) -> usize {
    match TrainingState::read(state_path(dir), net) {
        Ok(state) => (state.epoch() - 1) * steps_per_epoch + state.step(),
        Err(_) if !state_path(dir).exists() => 0,
        Err(e) => panic!("a state left on disk does not load: {e}"),
    }
}

#[test]
fn killed_runs_resume_bit_for_bit() {
    let started = Instant::now();
    let whole = folder("whole");
    let full = run_to_end(&whole);
    let net = ResumeNet::<f32>::seeded(0);
    let steps_per_epoch = data().0.len().div_ceil(BATCH);
    let total = TrainingState::read(state_path(&whole), &net).unwrap().history().epochs.len() * steps_per_epoch;

    // Where to kill: two moments right after a start (reading data, resuming),
    // then once past each of twenty random steps spread over the whole run,
    // a random fraction of a step later (computing, or writing the state) or
    // as soon as the next state write has begun.
    let mut rng = ChaCha8Rng::seed_from_u64(19);
    let mut targets: Vec<usize> = (0..KILLS).map(|_| rng.random_range(1..total)).collect();
    targets.sort_unstable();
    let step_time = full.as_secs_f64() / total as f64;
    let killed = folder("killed");
    let (mut kills, mut mid_write, mut positions) = (0, 0, Vec::new());
    for target in [None, None].into_iter().chain(targets.into_iter().map(Some)) {
        let before = temporaries(&killed);
        let mut child = spawn(&killed);
        match target {
            None => std::thread::sleep(Duration::from_secs_f64(rng.random_range(0.0..0.03))),
            Some(target) => {
                while position(&killed, &net, steps_per_epoch) < target {
                    assert!(
                        child.try_wait().unwrap().is_none(),
                        "the child ended before step {target}:\n{}",
                        log(&killed)
                    );
                    std::thread::sleep(Duration::from_micros(500));
                }
                if kills % 2 == 0 {
                    std::thread::sleep(Duration::from_secs_f64(rng.random_range(0.0..step_time)));
                } else {
                    // Every other time, the moment a state write has begun
                    // (its temporary file is there), or after a few steps.
                    let until = Instant::now() + Duration::from_secs_f64(4.0 * step_time);
                    while temporaries(&killed).is_empty() && Instant::now() < until {}
                }
            }
        }
        assert!(child.try_wait().unwrap().is_none(), "the child ended before it was killed:\n{}", log(&killed));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
        if temporaries(&killed).iter().any(|t| !before.contains(t)) {
            mid_write += 1;
        }
        // Whatever the moment, every file left loads.
        positions.push(position(&killed, &net, steps_per_epoch));
        if best_path(&killed).exists() {
            ResumeNet::<f32>::load_safetensors(best_path(&killed)).unwrap();
        }
    }
    run_to_end(&killed);

    assert!(kills >= KILLS, "{kills} kills");
    assert!(mid_write > 0, "no kill landed while the state was being written ({kills} kills)");
    assert!(positions.windows(2).all(|w| w[0] <= w[1]), "each resume goes on from the last state: {positions:?}");
    assert!(positions.iter().any(|p| p % steps_per_epoch != 0), "some kills came within an epoch: {positions:?}");
    let read = |dir: &Path, file: &str| std::fs::read(dir.join(file)).unwrap();
    assert_eq!(read(&killed, "final.safetensors"), read(&whole, "final.safetensors"), "final weights and buffers");
    assert_eq!(read(&killed, "best.safetensors"), read(&whole, "best.safetensors"), "the best-weights checkpoint");
    let history = |dir: &Path| String::from_utf8(read(dir, "history.csv")).unwrap();
    assert_eq!(without_seconds(&history(&killed)), without_seconds(&history(&whole)));
    let (a, b) = (
        TrainingState::read(state_path(&killed), &net).unwrap(),
        TrainingState::read(state_path(&whole), &net).unwrap(),
    );
    assert_eq!(bits(a.model().entries()), bits(b.model().entries()), "weights, buffers, dropout generators");
    assert_eq!(bits(a.optimizer().entries()), bits(b.optimizer().entries()), "optimizer moments and step count");
    assert!(matches!(a.model().get("3.rng").map(|e| &e.data), Some(Data::Rng(_))), "the dropout's generator");
    assert!(a.optimizer().get("0.exp_avg").is_some() && a.optimizer().get("step").is_some());
    assert_eq!(a.lr(), b.lr());
    assert_eq!(
        (a.history().best_epoch, a.history().stopped_early),
        (b.history().best_epoch, b.history().stopped_early)
    );
    assert_eq!(temporaries(&killed), Vec::<String>::new(), "the resumed run removed what the kills left");
    eprintln!(
        "{kills} kills ({mid_write} while writing the state) at steps {positions:?} of {total}; \
         uninterrupted run {:.1} s, whole test {:.1} s",
        full.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    for dir in [whole, killed] {
        std::fs::remove_dir_all(dir).unwrap();
    }
}
