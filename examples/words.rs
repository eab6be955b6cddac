//! A character-level language model of English words (issue 15): each word
//! is a token sequence (START, its letters; targets its letters, END), the
//! model predicts every next character, and it is scored in bits per
//! character on held-out words, then writes 20 words of its own.
//!
//! It trains the model of `tools/reference/words_lm.py` the way that script
//! does: `nn.Embedding(28, 32)`, `nn.LSTM(32, 128)`, `nn.Linear(128, 28)` at
//! every step, with PyTorch's default initialization; softmax cross-entropy
//! averaged over every real step of a batch (words of different lengths run
//! packed, as `pack_padded_sequence`); Adam (lr 0.01) in batches of 64 words
//! of about one length, in a shuffled order; the learning rate annealed to 0
//! along a cosine over every step of 20 epochs; the seeded 90/10 split of
//! `nn::data::split_words(&words(), 0.1, 15)`. The script chose lr and epochs
//! on a validation part of the training words; the held-out words are scored
//! once.
//!
//! `cargo run --release --example words`. Measured on 2 cores (AVX-512), f32:
//! see the README's "Sequence examples" for held-out bits per character and
//! wall time next to PyTorch's.

use std::time::Instant;

use nn::data::{sample_word, split_words, words, CharSequences, Chars, DataError};
use nn::prelude::*;
use nn::train::{probabilities, TrainError};

#[path = "common/torch.rs"]
mod torch;

nn::network! {
    /// `CharLm` of `tools/reference/words_lm.py`; 1/sqrt(128) bounds PyTorch's
    /// uniform initialization of the LSTM and of the dense layer's weight.
    pub struct CharLm(tokens 28 -> seq 28) {
        embedding(32),
        lstm(128, recurrent_init = uniform(0.08838834764831845)),
        dense(28, init = uniform(0.08838834764831845)),
    }
}

/// How a run trains: `words_lm.py`'s settings are [`Settings::REFERENCE`].
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    pub epochs: usize,
    pub batch: usize,
    pub lr: f64,
    /// Initialization and batch order.
    pub seed: u64,
}

impl Settings {
    /// `tools/reference/words_lm.py`'s LR, EPOCHS and BATCH.
    pub const REFERENCE: Settings = Settings { epochs: 20, batch: 64, lr: 0.01, seed: 0 };
}

/// The held-out fraction and seed of the split (`words_lm.py`'s HELD_OUT, SEED).
pub const SPLIT: (f64, u64) = (0.1, 15);

/// `words` as a data set for [`CharLm`]: inputs START and the letters,
/// a class per step, the letters and END.
pub fn char_data(words: &[String]) -> Result<Dataset<f32>, DataError> {
    let seqs = CharSequences::new(words)?;
    let inputs: Vec<&[usize]> = (0..seqs.len()).map(|i| seqs.input(i)).collect();
    let targets: Vec<&[usize]> = (0..seqs.len()).map(|i| seqs.target(i)).collect();
    Dataset::token_sequences(&inputs, &targets, Chars::SIZE)
}

/// A [`CharLm`] as PyTorch starts one (see `common/torch.rs`).
pub fn char_lm(seed: u64) -> CharLm<f32> {
    let mut lm = CharLm::seeded(seed);
    assert!(torch::redraw(&mut lm, "2.bias", torch::linear_bias(128), seed + 1));
    lm
}

/// Trains `lm` on `data` with `settings` as `words_lm.py` does.
pub fn train(
    lm: &mut CharLm<f32>,
    data: &Dataset<f32>,
    settings: Settings,
    progress: Progress,
) -> Result<History, TrainError> {
    let Settings { epochs, batch, lr, seed } = settings;
    torch::trainer(data.len(), epochs, batch, lr, seed).progress(progress).fit(lm, data, None)
}

/// Cross-entropy over every real step of `data`, in bits per character.
pub fn bits_per_character(lm: &CharLm<f32>, data: &Dataset<f32>) -> Result<f64, TrainError> {
    Ok(evaluate(lm, Loss::SoftmaxCrossEntropy, data)?.loss / std::f64::consts::LN_2)
}

/// `count` words drawn from `lm`, one letter at a time, with a generator seeded by `seed`.
pub fn sample(lm: &CharLm<f32>, count: usize, seed: u64) -> Result<Vec<String>, DataError> {
    let mut rng = nn::seeded_rng(seed);
    (0..count)
        .map(|_| {
            sample_word(&mut rng, 30, |prefix| {
                let steps = lm.predict(&[prefix.to_vec()]);
                let last = steps.last().expect("a prefix has at least START");
                probabilities(last).as_slice().to_vec()
            })
        })
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let (held_out_fraction, split_seed) = SPLIT;
    let (train_words, held_out) = split_words(&words(), held_out_fraction, split_seed)?;
    let (train_set, held_out_set) = (char_data(&train_words)?, char_data(&held_out)?);
    let settings = Settings::REFERENCE;
    println!(
        "{} training words, {} held out ({} characters); Adam lr {} annealed by a cosine per step, {} epochs, \
         batches of {}",
        train_set.len(),
        held_out_set.len(),
        held_out_set.lengths().map_or(0, |l| l.iter().sum::<usize>()),
        settings.lr,
        settings.epochs,
        settings.batch
    );
    let mut lm = char_lm(settings.seed);
    let history = train(&mut lm, &train_set, settings, Progress::Auto)?;
    let trained = started.elapsed().as_secs_f64();
    let padding = history.epochs.iter().filter_map(|e| e.padding).fold(0.0, f64::max);
    println!("trained in {trained:.0} s (padding at most {:.1} % of the steps)", padding * 100.0);
    println!("held-out bits per character: {:.4}", bits_per_character(&lm, &held_out_set)?);
    println!("sampled: {}", sample(&lm, 20, settings.seed)?.join(" "));
    println!("wall time {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}
