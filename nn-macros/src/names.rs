//! Every name the `network!` language accepts, each one constant, with the
//! arguments each layer and initializer takes.

pub const DENSE: &str = "dense";
pub const IDENTITY: &str = "identity";
pub const SIGMOID: &str = "sigmoid";
pub const TANH: &str = "tanh";
pub const RELU: &str = "relu";
pub const LEAKY_RELU: &str = "leaky_relu";
pub const ELU: &str = "elu";
pub const SELU: &str = "selu";
pub const GELU: &str = "gelu";
pub const SWISH: &str = "swish";
pub const SILU: &str = "silu";
pub const MISH: &str = "mish";
pub const SOFTPLUS: &str = "softplus";
pub const PRELU: &str = "prelu";
pub const BATCH_NORM: &str = "batch_norm";
pub const LAYER_NORM: &str = "layer_norm";
pub const DROPOUT: &str = "dropout";
pub const RESIDUAL: &str = "residual";
pub const HIGHWAY: &str = "highway";
pub const CONCAT: &str = "concat";
pub const PARALLEL: &str = "parallel";
pub const BRANCH: &str = "branch";
pub const AUX_HEAD: &str = "aux_head";
pub const REPEAT: &str = "repeat";
pub const CONV2D: &str = "conv2d";
pub const MAX_POOL: &str = "max_pool";
pub const AVG_POOL: &str = "avg_pool";
pub const GLOBAL_AVG_POOL: &str = "global_avg_pool";
pub const FLATTEN: &str = "flatten";
pub const RNN: &str = "rnn";
pub const LSTM: &str = "lstm";
pub const GRU: &str = "gru";
pub const LAST: &str = "last";

/// Recurrent layers: only at the top level of a `seq` network, before `last`.
pub const RECURRENT: &[&str] = &[RNN, LSTM, GRU];

/// Every item that may appear in an item list (`branch` only inside `parallel`).
pub const LAYERS: &[&str] = &[
    DENSE,
    IDENTITY,
    SIGMOID,
    TANH,
    RELU,
    LEAKY_RELU,
    ELU,
    SELU,
    GELU,
    SWISH,
    SILU,
    MISH,
    SOFTPLUS,
    PRELU,
    BATCH_NORM,
    LAYER_NORM,
    DROPOUT,
    RESIDUAL,
    HIGHWAY,
    CONCAT,
    PARALLEL,
    AUX_HEAD,
    REPEAT,
    CONV2D,
    MAX_POOL,
    AVG_POOL,
    GLOBAL_AVG_POOL,
    FLATTEN,
    RNN,
    LSTM,
    GRU,
    LAST,
];

/// Items that need an image input.
pub const IMAGE_LAYERS: &[&str] = &[CONV2D, MAX_POOL, AVG_POOL, GLOBAL_AVG_POOL, FLATTEN];

/// Items whose output width is their input width.
pub const KEEPS_WIDTH: &[&str] = &[
    IDENTITY, SIGMOID, TANH, RELU, LEAKY_RELU, ELU, SELU, GELU, SWISH, SILU, MISH, SOFTPLUS, PRELU, BATCH_NORM,
    LAYER_NORM, DROPOUT, RESIDUAL, HIGHWAY, AUX_HEAD,
];

/// Activations after which a `dense` starts with He initialization.
pub const RELU_FAMILY: &[&str] = &[RELU, LEAKY_RELU, PRELU, ELU, GELU, SWISH, SILU, MISH];

/// Items a `dense`'s default initializer looks through to find the activation that follows it.
pub const TRANSPARENT_FOR_INIT: &[&str] = &[BATCH_NORM, LAYER_NORM, DROPOUT];

pub const ZEROS: &str = "zeros";
pub const CONSTANT: &str = "constant";
pub const UNIFORM: &str = "uniform";
pub const NORMAL: &str = "normal";
pub const XAVIER_UNIFORM: &str = "xavier_uniform";
pub const XAVIER_NORMAL: &str = "xavier_normal";
pub const HE_UNIFORM: &str = "he_uniform";
pub const HE_NORMAL: &str = "he_normal";
pub const LECUN_NORMAL: &str = "lecun_normal";
pub const ORTHOGONAL: &str = "orthogonal";

pub const INITIALIZERS: &[&str] =
    &[ZEROS, CONSTANT, UNIFORM, NORMAL, XAVIER_UNIFORM, XAVIER_NORMAL, HE_UNIFORM, HE_NORMAL, LECUN_NORMAL, ORTHOGONAL];

/// The `residual(projection)` keyword.
pub const PROJECTION: &str = "projection";

/// What an argument accepts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Ty {
    /// A width or count: an integer literal.
    Count,
    /// A real number (integer literals are accepted).
    Real,
    Bool,
    /// An initializer name, possibly with arguments.
    Init,
    /// Exactly this keyword (`projection`).
    Keyword(&'static str),
}

/// An argument a layer or initializer accepts: by position (in this order) or by name.
#[derive(Clone, Copy, Debug)]
pub struct Param {
    pub name: &'static str,
    pub ty: Ty,
    /// `false` for arguments without a default.
    pub optional: bool,
}

/// The arguments of a layer; defaults are applied in `check.rs`.
pub fn layer_params(layer: &str) -> &'static [Param] {
    match layer {
        DENSE => &[
            Param { name: "out", ty: Ty::Count, optional: false },
            Param { name: "init", ty: Ty::Init, optional: true },
            Param { name: "bias", ty: Ty::Bool, optional: true },
        ],
        LEAKY_RELU => &[Param { name: "slope", ty: Ty::Real, optional: true }],
        ELU => &[Param { name: "alpha", ty: Ty::Real, optional: true }],
        PRELU => &[Param { name: "init", ty: Ty::Real, optional: true }],
        BATCH_NORM => &[
            Param { name: "momentum", ty: Ty::Real, optional: true },
            Param { name: "eps", ty: Ty::Real, optional: true },
        ],
        LAYER_NORM => &[Param { name: "eps", ty: Ty::Real, optional: true }],
        DROPOUT => &[Param { name: "p", ty: Ty::Real, optional: false }],
        RESIDUAL => &[Param { name: PROJECTION, ty: Ty::Keyword(PROJECTION), optional: true }],
        AUX_HEAD => &[Param { name: "weight", ty: Ty::Real, optional: false }],
        REPEAT => &[Param { name: "k", ty: Ty::Count, optional: false }],
        CONV2D => &[
            Param { name: "out", ty: Ty::Count, optional: false },
            Param { name: "kernel", ty: Ty::Count, optional: false },
            Param { name: "stride", ty: Ty::Count, optional: true },
            Param { name: "padding", ty: Ty::Count, optional: true },
            Param { name: "bias", ty: Ty::Bool, optional: true },
            Param { name: "init", ty: Ty::Init, optional: true },
        ],
        MAX_POOL | AVG_POOL => &[
            Param { name: "kernel", ty: Ty::Count, optional: false },
            Param { name: "stride", ty: Ty::Count, optional: true },
            Param { name: "padding", ty: Ty::Count, optional: true },
        ],
        RNN | GRU => &[
            Param { name: "hidden", ty: Ty::Count, optional: false },
            Param { name: "recurrent_init", ty: Ty::Init, optional: true },
        ],
        LSTM => &[
            Param { name: "hidden", ty: Ty::Count, optional: false },
            Param { name: "recurrent_init", ty: Ty::Init, optional: true },
            Param { name: "forget_bias", ty: Ty::Real, optional: true },
        ],
        _ => &[],
    }
}

/// The arguments of an initializer.
pub fn init_params(init: &str) -> &'static [Param] {
    match init {
        CONSTANT => &[Param { name: "c", ty: Ty::Real, optional: false }],
        UNIFORM => &[Param { name: "a", ty: Ty::Real, optional: false }],
        NORMAL => &[Param { name: "std", ty: Ty::Real, optional: false }],
        ORTHOGONAL => &[Param { name: "gain", ty: Ty::Real, optional: true }],
        _ => &[],
    }
}

/// Whether an item takes a `{ body }`.
pub fn takes_body(layer: &str) -> bool {
    matches!(layer, RESIDUAL | HIGHWAY | CONCAT | PARALLEL | BRANCH | AUX_HEAD | REPEAT)
}

/// A short example of the item written correctly, for messages.
pub fn example(layer: &str) -> &'static str {
    match layer {
        DENSE => "dense(64)",
        CONV2D => "conv2d(16, kernel = 3, padding = 1)",
        MAX_POOL => "max_pool(2)",
        AVG_POOL => "avg_pool(2)",
        DROPOUT => "dropout(0.1)",
        AUX_HEAD => "aux_head(weight = 0.3) { dense(10) }",
        REPEAT => "repeat(3) { dense(64), relu }",
        RNN => "rnn(64)",
        LSTM => "lstm(64)",
        GRU => "gru(64)",
        RESIDUAL => "residual { dense(64), relu }",
        HIGHWAY => "highway { dense(64), relu }",
        CONCAT => "concat { dense(32), relu }",
        PARALLEL => "parallel { branch { dense(32) }, branch { dense(16), relu } }",
        BRANCH => "branch { dense(32), relu }",
        CONSTANT => "constant(0.1)",
        UNIFORM => "uniform(0.05)",
        NORMAL => "normal(0.02)",
        _ => "",
    }
}
