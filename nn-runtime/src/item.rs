//! What an item of a network is, as `network!` tells the runtime: where it
//! stands, its kind, its family and how its weights start. The macro's item
//! table is where these are stated; the runtime only receives them (in
//! [`Probe`](crate::model::Probe)s) and never lists kinds by family itself.

use std::fmt;

use crate::init::Init;

/// An item of the `network!` language. It displays as the item's spelling
/// (`ItemKind::LeakyRelu` as `leaky_relu`): the variant is the spelling in
/// CamelCase, the convention by which generated code names it.
// Each variant is the item of its spelling, whose documentation is the macro's.
#[allow(missing_docs)]
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ItemKind {
    Dense,
    Identity,
    Sigmoid,
    Tanh,
    Relu,
    LeakyRelu,
    Elu,
    Selu,
    Gelu,
    Swish,
    Silu,
    Mish,
    Softplus,
    Relu6,
    Hardswish,
    Hardsigmoid,
    Softsign,
    Prelu,
    BatchNorm,
    LayerNorm,
    Dropout,
    Residual,
    Highway,
    Concat,
    Parallel,
    AuxHead,
    Repeat,
    Conv2d,
    MaxPool,
    AvgPool,
    GlobalAvgPool,
    Flatten,
    Rnn,
    Lstm,
    Gru,
    Bidirectional,
    Last,
    Embedding,
}

/// The spelling: the variant's name in snake_case.
impl fmt::Display for ItemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let camel = format!("{self:?}");
        let mut snake = String::with_capacity(camel.len() + 4);
        for (i, c) in camel.chars().enumerate() {
            if c.is_ascii_uppercase() {
                if i > 0 {
                    snake.push('_');
                }
                snake.push(c.to_ascii_lowercase());
            } else {
                snake.push(c);
            }
        }
        f.write_str(&snake)
    }
}

/// How an item behaves as an activation, which decides the initializer of a
/// `dense` or `conv2d` before it and what diagnostics look for in it.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Family {
    /// The ReLU family: He initialization before it; a unit whose output is
    /// <= 0 on every sample is dead.
    Relu,
    /// Bounded outputs in `(low, high)`, flat near both ends: an output close
    /// to an end is saturated.
    Saturating {
        /// The value outputs approach from above (0 for sigmoid, -1 for tanh).
        low: f64,
        /// The value outputs approach from below (1 for both).
        high: f64,
    },
    /// `selu`: LeCun initialization before it.
    SelfNormalizing,
    /// Everything else.
    Other,
}

/// An item of a network, at any depth, as generated code describes it to
/// the runtime. A network lists every item in visiting order: each block
/// before its body, `repeat` with every copy, `parallel` with every branch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ItemInfo {
    /// Where it stands: the prefix of its parameters' names (`"3"`, `"3.1.0"`).
    pub path: &'static str,
    /// Which item it is.
    pub kind: ItemKind,
    /// Its family as an activation, from the macro's item table.
    pub family: Family,
    /// How its weights start, when an initializer decides them.
    pub init: Option<Init>,
    /// A `batch_norm` that sees one value per channel and sample (on a
    /// vector, or an image of 1 x 1): a training batch of one sample gives it
    /// no batch statistics, which PyTorch refuses and so does a network's core.
    pub one_value_per_channel: bool,
}

impl ItemInfo {
    /// An item at `path` with no initializer and batch statistics as usual.
    pub const fn new(path: &'static str, kind: ItemKind, family: Family) -> Self {
        ItemInfo { path, kind, family, init: None, one_value_per_channel: false }
    }

    /// The same item, whose weights `init` starts.
    pub const fn init(self, init: Init) -> Self {
        ItemInfo { init: Some(init), ..self }
    }

    /// The same item, a `batch_norm` with one value per channel and sample.
    pub const fn one_value_per_channel(self) -> Self {
        ItemInfo { one_value_per_channel: true, ..self }
    }

    /// Its position in the network's top-level list.
    pub fn index(&self) -> usize {
        let top = self.path.split('.').next().unwrap_or_default();
        top.parse().expect("a path starts with a top-level position")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_display_as_their_spelling() {
        assert_eq!(ItemKind::Dense.to_string(), "dense");
        assert_eq!(ItemKind::LeakyRelu.to_string(), "leaky_relu");
        assert_eq!(ItemKind::Conv2d.to_string(), "conv2d");
        assert_eq!(ItemKind::Relu6.to_string(), "relu6");
        assert_eq!(ItemKind::GlobalAvgPool.to_string(), "global_avg_pool");
        assert_eq!(ItemKind::AuxHead.to_string(), "aux_head");
    }
}
