//! [`Steps`]: how the columns of a batch of sequences are laid out for the
//! items of a `seq` network, which is what [`Layer::forward_steps`](crate::layer::Layer::forward_steps)
//! is told.
//!
//! The layout is PyTorch's packed sequence (`pack_padded_sequence`): the
//! sequences are ordered longest first, and the batch holds time step after
//! time step, step `t` a block of as many columns as there are sequences
//! longer than `t` (the first ones, since they are sorted). Only real steps
//! take a column: a position-wise layer runs on every real step in one
//! product and never on padding, a recurrent layer's batch shrinks as
//! sequences end, and `batch_norm` pools its statistics over real steps
//! only. When every sequence has every step, the order is the caller's and
//! step `t` is columns `t*n .. (t+1)*n`, the layout of a sequence of one length.

use std::ops::Range;

use crate::error::ShapeError;

/// The time steps of a batch of sequences (see the module documentation):
/// per step, how many sequences are still running, and which of the caller's
/// samples each packed sequence is.
///
/// ```
/// use nn_runtime::rnn::Steps;
///
/// // Three sequences of lengths 2, 3 and 1: packed longest first.
/// let steps = Steps::from_lengths(&[2, 3, 1], 3)?;
/// assert_eq!(steps.order(), &[1, 0, 2]);
/// assert_eq!(steps.sizes(), &[3, 2, 1]);
/// assert_eq!((steps.steps(), steps.cols(), steps.samples()), (3, 6, 3));
/// // Step 1 is columns 3..5; the sample of length 2 ends at column 4.
/// assert_eq!(steps.block(1), 3..5);
/// assert_eq!(steps.last_column(1), 4);
/// # Ok::<(), nn_runtime::ShapeError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Steps {
    /// Sequences longer than `t`, for each step `t`: non-increasing.
    sizes: Vec<usize>,
    /// Columns before step `t`, for `t` in `0..=steps` (the last is the total).
    offsets: Vec<usize>,
    /// The length of packed sequence `k`, longest first.
    lengths: Vec<usize>,
    /// The caller's sample of packed sequence `k`.
    order: Vec<usize>,
    /// Steps of the padded layout the batch came in (at least `steps()`).
    padded: usize,
    /// Every sequence has every step (so `order` is the identity).
    uniform: bool,
}

/// See [`Steps::none`].
static NONE: Steps =
    Steps { sizes: Vec::new(), offsets: Vec::new(), lengths: Vec::new(), order: Vec::new(), padded: 0, uniform: true };

impl Steps {
    /// A batch that is not a sequence: every column is a sample of its own.
    /// Position-wise layers ignore steps; a recurrent layer told this runs
    /// the batch as sequences of one step.
    pub fn none() -> &'static Steps {
        &NONE
    }

    /// Whether this is [`Steps::none`].
    pub fn is_none(&self) -> bool {
        self.offsets.is_empty()
    }

    /// `n` sequences of `steps` steps each.
    pub fn uniform(steps: usize, n: usize) -> Self {
        let mut s = Self::default();
        s.set_uniform(steps, n);
        s
    }

    /// Sequences of the given lengths, padded to `padded` steps: each length
    /// must be in `1..=padded`.
    pub fn from_lengths(lengths: &[usize], padded: usize) -> Result<Self, ShapeError> {
        let mut s = Self::default();
        s.set_lengths(lengths, padded)?;
        Ok(s)
    }

    /// As [`Steps::uniform`], reusing this value's buffers (no allocation
    /// once they have grown to the steps and samples seen).
    pub fn set_uniform(&mut self, steps: usize, n: usize) {
        self.order.clear();
        self.order.extend(0..n);
        self.lengths.clear();
        self.lengths.resize(n, steps);
        self.padded = steps;
        self.uniform = true;
        self.fill_sizes(steps);
    }

    /// As [`Steps::from_lengths`], reusing this value's buffers. On error
    /// the value is left as it was.
    pub fn set_lengths(&mut self, lengths: &[usize], padded: usize) -> Result<(), ShapeError> {
        if let Some((sample, &length)) = lengths.iter().enumerate().find(|(_, &l)| l == 0 || l > padded) {
            return Err(ShapeError::Length { sample, length, steps: padded });
        }
        let steps = lengths.iter().copied().max().unwrap_or(0);
        self.order.clear();
        self.order.extend(0..lengths.len());
        // Longest first, ties in the caller's order: the keys are unique, so
        // the unstable sort (which allocates nothing) is deterministic.
        self.order.sort_unstable_by_key(|&j| (std::cmp::Reverse(lengths[j]), j));
        self.lengths.clear();
        self.lengths.extend(self.order.iter().map(|&j| lengths[j]));
        self.padded = padded;
        self.uniform = lengths.iter().all(|&l| l == padded);
        self.fill_sizes(steps);
        Ok(())
    }

    fn fill_sizes(&mut self, steps: usize) {
        self.sizes.clear();
        self.offsets.clear();
        self.offsets.push(0);
        // Lengths are sorted longest first: the sequences longer than `t` are a prefix.
        let mut running = self.lengths.len();
        for t in 0..steps {
            while running > 0 && self.lengths[running - 1] <= t {
                running -= 1;
            }
            self.sizes.push(running);
            self.offsets.push(self.offsets[t] + running);
        }
    }

    /// Number of time steps: the longest sequence's length.
    pub fn steps(&self) -> usize {
        self.sizes.len()
    }

    /// Steps of the padded layout the batch came in: what a `seq M` output
    /// and dL/dx are padded to.
    pub fn padded(&self) -> usize {
        self.padded
    }

    /// Number of sequences.
    pub fn samples(&self) -> usize {
        self.order.len()
    }

    /// Number of columns: every real step of every sequence.
    pub fn cols(&self) -> usize {
        self.offsets.last().copied().unwrap_or(0)
    }

    /// Sequences still running at each step, non-increasing.
    pub fn sizes(&self) -> &[usize] {
        &self.sizes
    }

    /// Sequences still running at step `t`.
    pub fn size(&self, t: usize) -> usize {
        self.sizes[t]
    }

    /// The columns of step `t`.
    pub fn block(&self, t: usize) -> Range<usize> {
        self.offsets[t]..self.offsets[t + 1]
    }

    /// Columns before step `t`.
    pub fn offset(&self, t: usize) -> usize {
        self.offsets[t]
    }

    /// Each packed sequence's length, longest first.
    pub fn lengths(&self) -> &[usize] {
        &self.lengths
    }

    /// The caller's sample of each packed sequence.
    pub fn order(&self) -> &[usize] {
        &self.order
    }

    /// Whether every sequence has every step: then the caller's order is kept
    /// and no step is padding.
    pub fn is_uniform(&self) -> bool {
        self.uniform
    }

    /// Whether the packed order is the caller's (no copy is needed to give
    /// results back in it).
    pub fn in_order(&self) -> bool {
        self.uniform || self.order.iter().enumerate().all(|(k, &j)| k == j)
    }

    /// The column of packed sequence `k`'s last step.
    pub fn last_column(&self, k: usize) -> usize {
        self.offsets[self.lengths[k] - 1] + k
    }

    /// The column of packed sequence `k` at the step mirrored from `t`
    /// (`length - 1 - t`): where the reverse direction of `bidirectional`
    /// reads what the forward direction reads at `t`.
    pub fn mirrored_column(&self, t: usize, k: usize) -> usize {
        self.offsets[self.lengths[k] - 1 - t] + k
    }

    /// Copies `other` into this value, reusing its buffers.
    pub fn copy_from(&mut self, other: &Steps) {
        self.sizes.clone_from(&other.sizes);
        self.offsets.clone_from(&other.offsets);
        self.lengths.clone_from(&other.lengths);
        self.order.clone_from(&other.order);
        self.padded = other.padded;
        self.uniform = other.uniform;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_steps_keep_the_order_and_split_evenly() {
        let s = Steps::uniform(3, 4);
        assert_eq!((s.sizes(), s.cols(), s.order()), (&[4, 4, 4][..], 12, &[0, 1, 2, 3][..]));
        assert!(s.is_uniform() && s.in_order());
        assert_eq!(s.block(2), 8..12);
        assert_eq!(s.last_column(1), 9);
        assert_eq!(s.mirrored_column(0, 1), 9);
        assert_eq!(Steps::from_lengths(&[3, 3, 3, 3], 3).unwrap(), s);
    }

    #[test]
    fn lengths_pack_longest_first_with_ties_in_order() {
        let s = Steps::from_lengths(&[1, 4, 2, 4, 1], 5).unwrap();
        assert_eq!(s.order(), &[1, 3, 2, 0, 4]);
        assert_eq!(s.lengths(), &[4, 4, 2, 1, 1]);
        assert_eq!(s.sizes(), &[5, 3, 2, 2]);
        assert_eq!(s.cols(), 12);
        assert_eq!((s.steps(), s.padded(), s.samples()), (4, 5, 5));
        assert!(!s.is_uniform() && !s.in_order());
        // Packed sequence 2 (length 2) ends in step 1: columns 5..8, its own column 7.
        assert_eq!(s.last_column(2), 7);
        assert_eq!(s.last_column(4), 4);
        assert_eq!(s.mirrored_column(0, 2), 7);
        assert_eq!(s.mirrored_column(1, 2), 2);
        // Lengths already sorted: the caller's order.
        assert!(Steps::from_lengths(&[3, 2, 2], 3).unwrap().in_order());
    }

    #[test]
    fn bad_lengths_are_errors_and_change_nothing() {
        let mut s = Steps::uniform(2, 2);
        assert_eq!(s.set_lengths(&[2, 0], 2), Err(ShapeError::Length { sample: 1, length: 0, steps: 2 }));
        assert_eq!(s.set_lengths(&[3, 1], 2), Err(ShapeError::Length { sample: 0, length: 3, steps: 2 }));
        assert_eq!(s, Steps::uniform(2, 2));
        let none = Steps::from_lengths(&[], 4).unwrap();
        assert_eq!((none.steps(), none.cols(), none.samples()), (0, 0, 0));
    }
}
