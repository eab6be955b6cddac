//! The checked network: every item resolved to a kind with its arguments and
//! defaults applied, and its input and output shapes inferred.

use std::fmt;

use crate::parse;

/// What flows between items: a vector of a width, or a channel-major image
/// `(C, H, W)`, which the data carries as one column of `C * H * W` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dims {
    Vector(usize),
    Image { c: usize, h: usize, w: usize },
}

impl Dims {
    /// Values per sample: the rows of the batch.
    pub fn len(self) -> usize {
        match self {
            Dims::Vector(n) => n,
            Dims::Image { c, h, w } => c * h * w,
        }
    }
}

/// As the user writes shapes: `8` or `(16, 4, 4)`.
impl fmt::Display for Dims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dims::Vector(n) => write!(f, "{n}"),
            Dims::Image { c, h, w } => write!(f, "({c}, {h}, {w})"),
        }
    }
}

/// A network whose items all resolved.
pub struct Net<'a> {
    pub src: &'a parse::Network,
    pub input: Dims,
    pub output: usize,
    pub body: List,
}

/// An item list (the network's top level or a block body): items chained.
pub struct List {
    pub items: Vec<Node>,
    pub input: Dims,
    pub output: Dims,
}

pub struct Node {
    pub kind: Kind,
    /// The item's `network!` spelling (`"dense"`, `"residual"`), as `Probe::kind` reports it.
    pub name: &'static str,
    pub input: Dims,
    pub output: Dims,
}

pub enum Kind {
    Dense {
        out: usize,
        init: Init,
        init_is_default: bool,
        bias: bool,
    },
    Activation(Act),
    Prelu {
        init: f64,
    },
    BatchNorm {
        momentum: f64,
        eps: f64,
    },
    /// Convolution of the input image to `out` channels.
    Conv2d {
        out: usize,
        window: Window,
        init: Init,
        init_is_default: bool,
        bias: bool,
    },
    MaxPool(Window),
    AvgPool(Window),
    GlobalAvgPool,
    Flatten,
    LayerNorm {
        eps: f64,
    },
    Dropout {
        p: f64,
    },
    Residual(List),
    ResidualProjection(List),
    Highway(List),
    Concat(List),
    Parallel(Vec<List>),
    AuxHead {
        weight: f64,
        body: List,
    },
    Repeat {
        k: usize,
        body: List,
    },
    /// `rnn(h)`, `lstm(h)`, `gru(h)`: runs over every step of a `seq` network.
    Recurrent {
        cell: Cell,
        hidden: usize,
        recurrent_init: Init,
        forget_bias: Option<f64>,
    },
    /// The final step of a sequence.
    Last,
}

/// A recurrent cell, as the runtime's `nn::rnn` aliases.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Cell {
    Rnn,
    Lstm,
    Gru,
}

/// A square window moved over an image, as the runtime's `Window2d`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Act {
    Identity,
    Sigmoid,
    Tanh,
    Relu,
    LeakyRelu { slope: f64 },
    Elu { alpha: f64 },
    Selu,
    Gelu,
    Swish,
    Mish,
    Softplus,
}

/// An initializer, as the runtime's `nn::Init`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    Zeros,
    Constant(f64),
    Uniform(f64),
    Normal(f64),
    XavierUniform,
    XavierNormal,
    HeUniform,
    HeNormal,
    LecunNormal,
    Orthogonal { gain: f64 },
}

impl Init {
    /// As the runtime's `Display for Init`, for the summary.
    pub fn describe(&self) -> String {
        match self {
            Init::Zeros => "zeros".into(),
            Init::Constant(c) => format!("constant({c})"),
            Init::Uniform(a) => format!("uniform({a})"),
            Init::Normal(s) => format!("normal({s})"),
            Init::XavierUniform => "xavier_uniform".into(),
            Init::XavierNormal => "xavier_normal".into(),
            Init::HeUniform => "he_uniform".into(),
            Init::HeNormal => "he_normal".into(),
            Init::LecunNormal => "lecun_normal".into(),
            Init::Orthogonal { gain } => format!("orthogonal(gain = {gain})"),
        }
    }
}

/// The default initializer of recurrent weights (each gate's block of `weight_hh`).
pub const RECURRENT_INIT: Init = Init::Orthogonal { gain: 1.0 };

/// The initializer of block-owned weights (residual projection, highway gate):
/// they feed no activation of their own, so Xavier, as for an output layer.
pub const BLOCK_INIT: Init = Init::XavierUniform;
