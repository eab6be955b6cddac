//! SCOWL's English words, embedded (see `data/README.md` and
//! `data/words.NOTICE` for the copyright notice), as token sequences for a
//! character-level language model: the vocabulary, a seeded split that
//! `tools/reference/words_lm.py` computes identically, bits per character,
//! and sampling a word from a model.

use rand::distr::weighted::WeightedIndex;
use rand::distr::Distribution;
use rand::Rng;

use super::DataError;
use crate::kernels::Float;

#[cfg(feature = "datasets")]
static WORDS_GZ: &[u8] = include_bytes!("../../data/words.txt.gz");

/// The 63,875 English words of SCOWL (Copyright 2000-2011 Kevin Atkinson;
/// the notice is in `data/words.NOTICE`) as Debian's `wamerican` ships them,
/// those written with `a`-`z` alone: sorted, unique, 1 to 22 letters.
/// Feature `datasets` (on by default).
#[cfg(feature = "datasets")]
pub fn words() -> Vec<String> {
    use std::io::Read;
    let mut text = String::new();
    flate2::read::GzDecoder::new(WORDS_GZ)
        .read_to_string(&mut text)
        .unwrap_or_else(|e| panic!("the embedded word list is corrupt: {e}"));
    text.lines().map(str::to_owned).collect()
}

/// The tokens of a character-level model of words: the letters `a`-`z` are
/// 0 to 25, [`Chars::END`] closes every word and [`Chars::START`] opens it.
///
/// A word of `n` letters is `n + 1` steps: the inputs are START and the
/// letters, the targets the letters and END, so the model predicts each
/// letter from the ones before it and then that the word ends (END counts as
/// a character in bits per character). START is never a target.
///
/// Padding: steps past a word's end are never read (PyTorch's packed
/// sequences). Where a padded layout needs a value there, it holds START, in
/// inputs and targets alike: START is never a real target, so a padded target
/// cannot pass for one.
#[derive(Clone, Copy, Debug)]
pub struct Chars;

impl Chars {
    /// Tokens in the vocabulary: 26 letters, END and START.
    pub const SIZE: usize = 28;
    /// The target after a word's last letter.
    pub const END: usize = 26;
    /// The input before a word's first letter, and the padding value.
    pub const START: usize = 27;

    /// The token of a letter `a`-`z`; other characters have none.
    pub fn token(c: char) -> Option<usize> {
        c.is_ascii_lowercase().then(|| c as usize - 'a' as usize)
    }

    /// The letter of a token below 26; END and START are not letters.
    pub fn letter(token: usize) -> Option<char> {
        (token < 26).then(|| (b'a' + token as u8) as char)
    }
}

/// Splits `words` into (train, held out), with `held_out_fraction` of them
/// (rounded) held out, by a seeded shuffle simple enough to write again in
/// any language (`tools/reference/words_lm.py` does, and a test checks that
/// both agree):
///
/// - each word's key is FNV-1a (64 bits) over the 8 little-endian bytes of
///   `seed` followed by the word's UTF-8 bytes, passed through SplitMix64's
///   finalizer (so that words sharing a prefix do not sort together);
/// - the words are ordered by (key, word); the first `round(n * fraction)`
///   are held out, the rest are the training words.
///
/// Both parts come in that shuffled order. A validation part is carved from
/// the training words the same way (with another seed).
///
/// ```
/// # #[cfg(feature = "datasets")] fn main() -> Result<(), nn_runtime::data::DataError> {
/// # use nn_runtime as nn;
/// use nn::data::{split_words, words};
///
/// let (train, held_out) = split_words(&words(), 0.1, 15)?;
/// assert_eq!((train.len(), held_out.len()), (57_487, 6_388));
/// let (fit, validation) = split_words(&train, 0.1, 16)?;
/// assert_eq!((fit.len(), validation.len()), (51_738, 5_749));
/// # Ok(()) }
/// # #[cfg(not(feature = "datasets"))] fn main() {}
/// ```
pub fn split_words<S: AsRef<str>>(
    words: &[S],
    held_out_fraction: f64,
    seed: u64,
) -> Result<(Vec<String>, Vec<String>), DataError> {
    if !(held_out_fraction > 0.0 && held_out_fraction < 1.0) {
        return Err(DataError::Fraction(held_out_fraction));
    }
    let mut keyed: Vec<(u64, &str)> = words.iter().map(|w| (split_key(seed, w.as_ref()), w.as_ref())).collect();
    keyed.sort_unstable();
    let held_out = (words.len() as f64 * held_out_fraction).round() as usize;
    let mut shuffled = keyed.into_iter().map(|(_, w)| w.to_owned());
    let test = shuffled.by_ref().take(held_out).collect();
    Ok((shuffled.collect(), test))
}

/// A word's place in the seeded order of [`split_words`].
fn split_key(seed: u64, word: &str) -> u64 {
    let fnv1a = seed
        .to_le_bytes()
        .iter()
        .chain(word.as_bytes())
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    // SplitMix64's finalizer: FNV-1a's last multiply leaves words that differ
    // only in their last letter close together in the high bits.
    let mut z = fnv1a;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Words as variable-length token sequences for a character-level language
/// model (see [`Chars`]): word `i` of `n` letters is `n + 1` steps, inputs
/// START then the letters, targets the letters then END.
///
/// ```
/// # use nn_runtime as nn;
/// use nn::data::{CharSequences, Chars};
///
/// let seqs = CharSequences::new(&["cab", "a"])?;
/// assert_eq!(seqs.lengths(), vec![4, 2]);
/// assert_eq!(seqs.input(0), &[Chars::START, 2, 0, 1]);
/// assert_eq!(seqs.target(0), &[2, 0, 1, Chars::END]);
/// assert_eq!(seqs.steps(), 6);
/// # Ok::<(), nn::data::DataError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct CharSequences {
    /// Every sequence's input tokens, one after another.
    inputs: Vec<usize>,
    /// Every sequence's target tokens, aligned with `inputs`.
    targets: Vec<usize>,
    /// Where each sequence starts in `inputs`, and the total length last.
    starts: Vec<usize>,
}

impl CharSequences {
    /// The sequences of `words`. A character other than `a`-`z` is an error
    /// naming the word (its index in `words`) and the position.
    pub fn new<S: AsRef<str>>(words: &[S]) -> Result<Self, DataError> {
        let steps = words.iter().map(|w| w.as_ref().len() + 1).sum();
        let mut seqs = Self { inputs: Vec::with_capacity(steps), targets: Vec::with_capacity(steps), starts: vec![0] };
        for (word, w) in words.iter().enumerate() {
            seqs.inputs.push(Chars::START);
            for (position, c) in w.as_ref().chars().enumerate() {
                let token = Chars::token(c).ok_or(DataError::WordCharacter { word, position, found: c })?;
                seqs.inputs.push(token);
                seqs.targets.push(token);
            }
            seqs.targets.push(Chars::END);
            seqs.starts.push(seqs.inputs.len());
        }
        Ok(seqs)
    }

    /// Number of sequences (words).
    pub fn len(&self) -> usize {
        self.starts.len() - 1
    }

    /// Whether there are no sequences.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The input tokens of sequence `i`: START, then the word's letters.
    pub fn input(&self, i: usize) -> &[usize] {
        &self.inputs[self.starts[i]..self.starts[i + 1]]
    }

    /// The target tokens of sequence `i`: the word's letters, then END.
    pub fn target(&self, i: usize) -> &[usize] {
        &self.targets[self.starts[i]..self.starts[i + 1]]
    }

    /// Each sequence's number of steps (its word's letters plus one).
    pub fn lengths(&self) -> Vec<usize> {
        self.starts.windows(2).map(|w| w[1] - w[0]).collect()
    }

    /// Real steps over all sequences: the characters bits per character
    /// counts, END included.
    pub fn steps(&self) -> usize {
        self.inputs.len()
    }
}

/// Bits per character from a cross-entropy summed over `characters` real
/// steps, in nats (the natural-log cross-entropy losses compute); the mean
/// loss over real steps divided by ln 2 is the same number.
///
/// ```
/// # use nn_runtime as nn;
/// // Uniform guessing among 32 tokens costs 5 bits a character.
/// let nats = 10.0 * 32f64.ln();
/// assert!((nn::data::bits_per_character(nats, 10) - 5.0).abs() < 1e-12);
/// ```
pub fn bits_per_character(nats: f64, characters: usize) -> f64 {
    nats / characters as f64 / std::f64::consts::LN_2
}

/// Draws a word from a character-level model, one letter at a time, with
/// `rng` (seed it for the same words each run).
///
/// `next` is the model: given the input tokens so far (START, then the
/// letters drawn), it returns the probabilities of the next token (the
/// softmax of the model's output at the last step; any non-negative weights
/// do, they need not sum to 1), [`Chars::SIZE`] of them. START's is ignored,
/// as START is never a target. The word ends when END is drawn or after
/// `max_letters` letters.
///
/// Probabilities of another count, or that cannot be sampled from (negative,
/// NaN, infinite, or zero for every letter and END), are an error naming the
/// step.
///
/// ```
/// # use nn_runtime as nn;
/// use nn::data::{sample_word, Chars};
///
/// // A model that spells "ab" and then ends.
/// let spell = |prefix: &[usize]| {
///     let mut p = vec![0.0; Chars::SIZE];
///     p[[0, 1, Chars::END][prefix.len() - 1]] = 1.0;
///     p
/// };
/// assert_eq!(sample_word(&mut nn::seeded_rng(0), 10, spell)?, "ab");
/// # Ok::<(), nn::data::DataError>(())
/// ```
pub fn sample_word<T, P, R>(
    rng: &mut R,
    max_letters: usize,
    mut next: impl FnMut(&[usize]) -> P,
) -> Result<String, DataError>
where
    T: Float,
    P: AsRef<[T]>,
    R: Rng + ?Sized,
{
    let mut prefix = vec![Chars::START];
    while prefix.len() <= max_letters {
        let step = prefix.len() - 1;
        let p = next(&prefix);
        let p = p.as_ref();
        if p.len() != Chars::SIZE {
            return Err(DataError::ProbabilityCount { step, expected: Chars::SIZE, found: p.len() });
        }
        let weights = p[..Chars::START].iter().map(|v| v.as_f64());
        let draw = WeightedIndex::new(weights).map_err(|source| DataError::Probabilities { step, source })?;
        match draw.sample(rng) {
            Chars::END => break,
            letter => prefix.push(letter),
        }
    }
    Ok(prefix[1..].iter().filter_map(|&t| Chars::letter(t)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init::seeded_rng;

    #[test]
    #[cfg(feature = "datasets")]
    fn the_embedded_list_is_sorted_unique_lowercase_words() {
        let w = words();
        assert_eq!(w.len(), 63_875);
        assert_eq!((w[0].as_str(), w[1].as_str()), ("a", "aardvark"));
        assert_eq!(w.last().unwrap(), "zygotes");
        assert!(w.windows(2).all(|p| p[0] < p[1]), "sorted and unique");
        assert!(w.iter().all(|x| !x.is_empty() && x.chars().all(|c| c.is_ascii_lowercase())));
        assert_eq!(w.iter().map(String::len).max(), Some(22));
    }

    #[test]
    fn tokens_round_trip_and_end_and_start_are_not_letters() {
        for (i, c) in ('a'..='z').enumerate() {
            assert_eq!(Chars::token(c), Some(i));
            assert_eq!(Chars::letter(i), Some(c));
        }
        assert_eq!((Chars::letter(Chars::END), Chars::letter(Chars::START)), (None, None));
        assert_eq!((Chars::token('A'), Chars::token('é'), Chars::token('\'')), (None, None, None));
        assert_eq!(Chars::SIZE, Chars::START + 1);
    }

    /// Cross-entropy in bits per character of the list under a model fitted
    /// on the list itself: unigram (letter and END frequencies) and bigram
    /// (each token given the one before, START before the first letter).
    /// The shared data README quotes 4.24 and 3.56 for this convention.
    #[test]
    #[cfg(feature = "datasets")]
    fn unigram_and_bigram_scores_match_the_quoted_convention() {
        let seqs = CharSequences::new(&words()).unwrap();
        let mut unigram = [0usize; Chars::SIZE];
        let mut bigram = [[0usize; Chars::SIZE]; Chars::SIZE];
        for i in 0..seqs.len() {
            for (&x, &y) in seqs.input(i).iter().zip(seqs.target(i)) {
                unigram[y] += 1;
                bigram[x][y] += 1;
            }
        }
        assert_eq!(unigram[Chars::START], 0, "START is never a target");
        let nats = |counts: &[usize]| -> f64 {
            let total = counts.iter().sum::<usize>() as f64;
            counts.iter().filter(|&&c| c > 0).map(|&c| -(c as f64) * (c as f64 / total).ln()).sum()
        };
        let uni = bits_per_character(nats(&unigram), seqs.steps());
        let bi = bits_per_character(bigram.iter().map(|row| nats(row)).sum(), seqs.steps());
        assert_eq!(format!("{uni:.2} {bi:.2}"), "4.24 3.56");
        assert!((uni - 4.243_59).abs() < 1e-5 && (bi - 3.564_48).abs() < 1e-5, "{uni} {bi}");
        assert_eq!(seqs.steps(), 63_875 + words().iter().map(String::len).sum::<usize>(), "END counts");
    }

    #[test]
    fn sequences_are_start_then_letters_and_letters_then_end() {
        let seqs = CharSequences::new(&["zoo", "", "i"]).unwrap();
        assert_eq!(seqs.len(), 3);
        assert_eq!(seqs.lengths(), vec![4, 1, 2]);
        assert_eq!(seqs.input(0), &[Chars::START, 25, 14, 14]);
        assert_eq!(seqs.target(0), &[25, 14, 14, Chars::END]);
        assert_eq!((seqs.input(1), seqs.target(1)), (&[Chars::START][..], &[Chars::END][..]));
        assert_eq!((seqs.input(2), seqs.target(2)), (&[Chars::START, 8][..], &[8, Chars::END][..]));
        assert_eq!(seqs.steps(), 7);
        assert!(CharSequences::new::<&str>(&[]).unwrap().is_empty());
        let err = CharSequences::new(&["ok", "naïve"]).unwrap_err();
        assert_eq!(err, DataError::WordCharacter { word: 1, position: 2, found: 'ï' });
        assert_eq!(err.to_string(), "word 1 has 'ï' at position 2: only the letters a-z have tokens");
    }

    #[test]
    #[cfg(feature = "datasets")]
    fn the_split_is_sized_seeded_disjoint_and_complete() {
        use std::collections::HashSet;
        let all = words();
        let (train, test) = split_words(&all, 0.1, 15).unwrap();
        assert_eq!((train.len(), test.len()), (57_487, 6_388));
        assert_eq!(split_words(&all, 0.1, 15).unwrap(), (train.clone(), test.clone()), "seeded");
        let (_, other) = split_words(&all, 0.1, 16).unwrap();
        assert!(other.iter().filter(|w| test.contains(w)).count() < 1_000, "another seed, another split");
        let held: HashSet<&String> = test.iter().collect();
        assert!(train.iter().all(|w| !held.contains(w)), "no word in both parts");
        let mut together: Vec<&String> = train.iter().chain(&test).collect();
        together.sort();
        assert!(together.iter().copied().eq(all.iter()), "the parts hold every word once");
        // Shuffled: the held-out words are not a run of the alphabet and have
        // the list's lengths (mean 8.28 letters).
        assert!(test.windows(2).filter(|p| p[0] < p[1]).count() < 3_400);
        let mean = test.iter().map(String::len).sum::<usize>() as f64 / test.len() as f64;
        assert!((mean - 8.28).abs() < 0.1, "{mean}");
        // Words sharing all but the last letter land apart.
        let prefixes = |w: &Vec<String>| w.iter().map(|s| s[..s.len() - 1].to_owned()).collect::<HashSet<_>>().len();
        assert!(prefixes(&test) > 6_000, "{}", prefixes(&test));
        assert_eq!(split_words(&all, 0.0, 1).unwrap_err(), DataError::Fraction(0.0));
        assert_eq!(split_words(&all, 1.0, 1).unwrap_err(), DataError::Fraction(1.0));
    }

    #[test]
    fn bits_per_character_is_nats_over_characters_over_ln_2() {
        assert!((bits_per_character(2f64.ln() * 7.0, 7) - 1.0).abs() < 1e-15);
        assert!((bits_per_character(3.0, 4) - 0.75 / std::f64::consts::LN_2).abs() < 1e-15);
    }

    /// Draws from a bigram model fitted on the list: the words come out
    /// seeded, of letters only, and with the list's letter frequencies.
    #[test]
    #[cfg(feature = "datasets")]
    fn sampled_words_follow_the_model_and_the_seed() {
        let seqs = CharSequences::new(&words()).unwrap();
        let mut bigram = vec![vec![0.0f64; Chars::SIZE]; Chars::SIZE];
        for i in 0..seqs.len() {
            for (&x, &y) in seqs.input(i).iter().zip(seqs.target(i)) {
                bigram[x][y] += 1.0;
            }
        }
        let model = |prefix: &[usize]| bigram[*prefix.last().unwrap()].clone();
        let mut rng = seeded_rng(3);
        let drawn: Vec<String> = (0..2_000).map(|_| sample_word(&mut rng, 30, model).unwrap()).collect();
        let mut again = seeded_rng(3);
        assert_eq!(sample_word(&mut again, 30, model).unwrap(), drawn[0], "seeded");
        assert!(drawn.iter().all(|w| w.len() <= 30 && w.chars().all(|c| c.is_ascii_lowercase())));
        // The share of 'e' among drawn letters is the list's (about 11 %), and
        // words are about as long as the bigram model's mean (8.3 letters).
        let letters: String = drawn.concat();
        let e = letters.matches('e').count() as f64 / letters.len() as f64;
        let list_e = bigram.iter().map(|r| r[4]).sum::<f64>() / (seqs.steps() - seqs.len()) as f64;
        assert!((e - list_e).abs() < 0.01, "{e} against {list_e}");
        let mean = letters.len() as f64 / drawn.len() as f64;
        assert!((mean - 8.28).abs() < 0.4, "{mean}");
        // max_letters cuts a word that has not ended.
        let mut never = [0.5f32; Chars::SIZE];
        never[Chars::END] = 0.0;
        assert_eq!(sample_word(&mut rng, 5, |_: &[usize]| never).unwrap().len(), 5);
        assert_eq!(sample_word(&mut rng, 0, model).unwrap(), "");
    }

    #[test]
    fn unusable_probabilities_are_errors_naming_the_step() {
        let mut rng = seeded_rng(0);
        let short = sample_word(&mut rng, 10, |_: &[usize]| vec![1.0f64; 27]).unwrap_err();
        assert_eq!(short, DataError::ProbabilityCount { step: 0, expected: 28, found: 27 });
        // "a", then probabilities with a NaN.
        let nan_second = |prefix: &[usize]| {
            let mut p = vec![0.0f64; Chars::SIZE];
            p[0] = if prefix.len() == 1 { 1.0 } else { f64::NAN };
            p
        };
        let err = sample_word(&mut rng, 10, nan_second).unwrap_err();
        assert!(matches!(err, DataError::Probabilities { step: 1, .. }), "{err:?}");
        // Only START has weight: nothing to draw.
        let only_start = |_: &[usize]| {
            let mut p = [0.0f64; Chars::SIZE];
            p[Chars::START] = 1.0;
            p
        };
        let err = sample_word(&mut rng, 10, only_start).unwrap_err();
        assert!(matches!(err, DataError::Probabilities { step: 0, .. }), "{err:?}");
        assert!(err.to_string().contains("step 0"), "{err}");
    }
}
