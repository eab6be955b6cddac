//! Errors for data that comes from outside: shapes chosen at run time.

/// A run-time shape problem: a batch, gradient or sequence that does not fit
/// the network. Says what was expected and what was found.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ShapeError {
    /// A matrix had the wrong number of rows (features).
    #[error("{what} has {found} rows (features) but the network expects {expected}")]
    Width {
        /// What had the wrong width: "input", "gradient", ...
        what: &'static str,
        /// Rows the network expects.
        expected: usize,
        /// Rows it had.
        found: usize,
    },
    /// The gradient's batch size differs from the last forward's.
    #[error(
        "gradient has {backward} columns (samples) but the last forward had {forward}; \
         call backward with dL/dy of the last forward"
    )]
    BatchSize {
        /// Samples (columns) of the last forward.
        forward: usize,
        /// Samples (columns) of the gradient.
        backward: usize,
    },
    /// `backward` was called before any `forward` (or after a refused one).
    #[error("backward called before a training forward; run `forward` on the batch first")]
    NoForward,
    /// A sequence with no time steps.
    #[error("sequence has no time steps")]
    EmptySequence,
    /// Time steps of one sequence batch with different batch sizes.
    #[error(
        "time step {step} has {found} samples but step 0 has {expected}; \
         every step of a sequence batch needs the same batch size"
    )]
    RaggedSequence {
        /// The time step whose batch size differs.
        step: usize,
        /// Samples of step 0.
        expected: usize,
        /// Samples of that step.
        found: usize,
    },
    /// An auxiliary head index beyond the network's heads.
    #[error("auxiliary head {index} does not exist (the network has {heads})")]
    NoSuchAuxHead {
        /// The head asked for.
        index: usize,
        /// Auxiliary heads the network has.
        heads: usize,
    },
    /// A per-step gradient whose number of steps differs from the last forward's.
    #[error(
        "gradient has {found} time steps but the last forward had {expected}; \
         give one gradient per step, or only the last step's"
    )]
    SequenceLength {
        /// Time steps of the last forward.
        expected: usize,
        /// Time steps of the gradient.
        found: usize,
    },
    /// A recurrent state (or its gradient) with the wrong number of parts
    /// (one, `h`, for RNN and GRU; two, `h` and `c`, for LSTM).
    #[error("{what} has {found} parts but the cell's state has {expected} (h for RNN and GRU, h and c for LSTM)")]
    StateParts {
        /// What had the wrong parts: the state or its gradient.
        what: &'static str,
        /// Parts of the cell's state (1 or 2).
        expected: usize,
        /// Parts given.
        found: usize,
    },
    /// A recurrent state (or its gradient) whose batch size differs from the sequence's.
    #[error("{what} has {found} samples but the sequence has {expected}")]
    StateBatch {
        /// What had the wrong batch size: the state or its gradient.
        what: &'static str,
        /// Samples of the sequence.
        expected: usize,
        /// Samples of the state.
        found: usize,
    },
    /// A sequence batch seen as a matrix (`Model`) whose rows are not a whole
    /// number of steps of `per_step` features.
    #[error(
        "sequence batch has {found} rows, not a whole number of time steps of {per_step} features \
         (rows t*{per_step}..(t+1)*{per_step} are step t)"
    )]
    StepRows {
        /// Features per time step.
        per_step: usize,
        /// Rows of the batch.
        found: usize,
    },
    /// A batch of steps laid side by side whose columns do not split into `steps` equal steps.
    #[error("{found} columns do not split into {steps} time steps of one batch size")]
    StepColumns {
        /// Time steps the columns should split into.
        steps: usize,
        /// Columns of the batch.
        found: usize,
    },
    /// A packed batch of sequences whose columns are not its real steps.
    #[error("a packed sequence batch has {found} columns but its sequences have {expected} real steps")]
    Columns {
        /// Real (unpadded) steps of all the sequences together.
        expected: usize,
        /// Columns of the packed batch.
        found: usize,
    },
    /// A sequence's length outside `1..=steps`, the steps of the padded batch it came in.
    #[error(
        "sample {sample} has length {length}, but a length must be at least 1 and at most the batch's {steps} \
         padded steps"
    )]
    Length {
        /// The sample with the bad length.
        sample: usize,
        /// Its length, in steps.
        length: usize,
        /// Padded steps of its batch.
        steps: usize,
    },
    /// A batch of sequences with another number of lengths than samples.
    #[error("{found} lengths for a batch of {expected} sequences; give one length per sample")]
    Lengths {
        /// Samples in the batch.
        expected: usize,
        /// Lengths given.
        found: usize,
    },
    /// A token id that is not a whole number below the network's vocabulary size.
    #[error("sample {sample}, step {step}: token {found} is not an id in 0..{vocab} (the network's vocabulary)")]
    Token {
        /// The sample holding the token.
        sample: usize,
        /// The time step holding it.
        step: usize,
        /// The value given as a token, as text (it may be a fraction or negative).
        found: String,
        /// The network's vocabulary size: ids are below it.
        vocab: usize,
    },
    /// Lengths given to a network whose input is not a sequence.
    #[error("the network takes vectors, not sequences: it has no lengths to give")]
    NotSequence,
    /// A carried state ([`Carry::set`](crate::rnn::Carry::set)) of another size than its samples need.
    #[error("a carried state of {found} values, but its layer needs {expected} for its samples")]
    CarryLen {
        /// Values the layer needs: its state size times the samples.
        expected: usize,
        /// Values of the carried state.
        found: usize,
    },
    /// Carrying the state across batches asked of a network whose item
    /// `item` cannot carry it.
    #[error(
        "item {item} is bidirectional, whose reverse direction starts at each chunk's end, so it cannot carry its \
         state from batch to batch; use a unidirectional layer for truncated BPTT across batches"
    )]
    NoCarry {
        /// The item's path in the network, e.g. `layers.2`.
        item: String,
    },
    /// A training batch of one sample through a `batch_norm` that sees one
    /// value per channel and sample (PyTorch: "Expected more than 1 value per
    /// channel when training").
    #[error(
        "item {item} (batch_norm) would get 1 value per channel from this training batch of 1 sample, and batch \
         statistics need more than 1 (as PyTorch says, \"Expected more than 1 value per channel when training\"); \
         train on batches of at least 2 samples, or use `predict` (running statistics) for one sample"
    )]
    OneValuePerChannel {
        /// The batch_norm item's path in the network.
        item: &'static str,
    },
}
