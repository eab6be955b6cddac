//! Every item of the `network!` language, in one table that parse, check,
//! expand and the summary read: its name, its options by name (type, default,
//! valid range, how the summary shows it), its form (how its shape follows
//! from its input and what runtime type it is), its parameters with their
//! shapes, its family, and where it may stand. Also every initializer.
//!
//! Conventions that tie an entry to the runtime without a second list:
//! the runtime's `ItemKind` variant is the name in CamelCase (`leaky_relu`:
//! `ItemKind::LeakyRelu`), as is an activation's function type
//! (`layers::LeakyRelu`, whose fields are the item's options) and a recurrent
//! item's cell (`rnn::LstmCell`); an initializer is `Init::` its name in
//! CamelCase, its required options as tuple fields and its optional ones as
//! named fields (`Init::Constant(c)`, `Init::Orthogonal { gain }`).

/// What an option accepts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Ty {
    /// A width (an item's output size): a whole number of at least 1.
    Width,
    /// Any other whole number.
    Count,
    /// A real number (integer literals are accepted).
    Real,
    Bool,
    /// An initializer name, possibly with arguments.
    Init,
    /// The option's name itself, as a keyword (`residual(projection)`).
    Keyword,
}

/// What an option is when it is not given.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DefaultValue {
    /// It must be given.
    Required,
    Real(f64),
    Bool(bool),
    Count(u64),
    /// The value of another option (a pool's stride is its kernel).
    SameAs(&'static str),
    Init(InitRef),
    /// The default-init rule: the initializer that suits the activation after the item.
    FromNext,
    /// Nothing: the option is off (`projection`, `forget_bias`).
    Absent,
}

/// Which values of an option's type are valid.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Range {
    Any,
    AtLeastOne,
    /// `[0, 1]`
    UnitClosed,
    /// `[0, 1)`
    UnitHalfOpen,
    /// `(0, inf)`
    Positive,
    /// `[0, inf)`
    NonNegative,
}

impl Range {
    pub fn admits(self, v: f64) -> bool {
        match self {
            Range::Any => true,
            Range::AtLeastOne => v >= 1.0,
            Range::UnitClosed => (0.0..=1.0).contains(&v),
            Range::UnitHalfOpen => (0.0..1.0).contains(&v),
            Range::Positive => v > 0.0,
            Range::NonNegative => v >= 0.0,
        }
    }

    /// As messages state it.
    pub fn text(self) -> &'static str {
        match self {
            Range::Any => "any value",
            Range::AtLeastOne => "at least 1",
            Range::UnitClosed => "in [0, 1]",
            Range::UnitHalfOpen => "in [0, 1)",
            Range::Positive => "in (0, inf)",
            Range::NonNegative => "in [0, inf)",
        }
    }
}

/// How the summary's kind column shows an option.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Show {
    /// Always, by position: `dropout(0.1)`.
    Positional,
    /// Always, by name: `aux_head(weight = 0.3)`.
    Named,
    /// By name, when it differs from its default: `dense(8, bias = false)`.
    IfChanged,
    /// By name, when given: `lstm(8, forget_bias = 1.0)`.
    IfGiven,
    /// Never (initializers have their own column).
    Hidden,
}

/// An option of an item or initializer, given by position (in table order) or by name.
#[derive(Clone, Copy, Debug)]
pub struct Opt {
    pub name: &'static str,
    pub ty: Ty,
    pub default: DefaultValue,
    pub range: Range,
    pub show: Show,
    /// The message for a value out of range, if not the usual "`{option}` of
    /// `{item}` must be {range}, found {found}"; it may use those placeholders.
    pub out_of_range: Option<&'static str>,
}

const fn opt(name: &'static str, ty: Ty, default: DefaultValue) -> Opt {
    Opt { name, ty, default, range: Range::Any, show: Show::Positional, out_of_range: None }
}

impl Opt {
    const fn range(self, range: Range) -> Self {
        Opt { range, ..self }
    }
    const fn show(self, show: Show) -> Self {
        Opt { show, ..self }
    }
    const fn out_of_range(self, message: &'static str) -> Self {
        Opt { out_of_range: Some(message), ..self }
    }
    pub fn is_required(&self) -> bool {
        self.default == DefaultValue::Required
    }
}

/// A width option: `dense(0)` is refused with its own message.
const fn width(name: &'static str) -> Opt {
    opt(name, Ty::Width, DefaultValue::Required)
        .range(Range::AtLeastOne)
        .out_of_range("`{item}(0)` gives zero outputs; a width must be at least 1")
}

const fn real(name: &'static str, default: f64) -> Opt {
    opt(name, Ty::Real, DefaultValue::Real(default))
}

/// `init = ...` of a `dense` or `conv2d`: by default, the default-init rule.
const INIT: Opt = opt("init", Ty::Init, DefaultValue::FromNext).show(Show::Hidden);
const BIAS: Opt = opt("bias", Ty::Bool, DefaultValue::Bool(true)).show(Show::IfChanged);
const KERNEL: Opt = opt("kernel", Ty::Count, DefaultValue::Required).range(Range::AtLeastOne);
const STRIDE: Opt = opt("stride", Ty::Count, DefaultValue::Count(1))
    .range(Range::AtLeastOne)
    .show(Show::IfChanged)
    .out_of_range("`{option}` of `{item}` must be at least 1, found {found}: the window would never move");
const PADDING: Opt = opt("padding", Ty::Count, DefaultValue::Count(0)).show(Show::IfChanged);
const POOL_OPTIONS: &[Opt] = &[KERNEL, Opt { default: DefaultValue::SameAs("kernel"), ..STRIDE }, PADDING];
const RECURRENT_INIT: Opt =
    opt("recurrent_init", Ty::Init, DefaultValue::Init(InitRef { name: "orthogonal", args: &[1.0] }))
        .show(Show::Hidden);

/// How an item's output shape follows from its input, and what it is at run time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Form {
    /// Element-wise: `layers::Activation<T, F, N>`, `F` the runtime function
    /// named after the item, the item's options its fields.
    Activation,
    Dense,
    Prelu,
    BatchNorm,
    LayerNorm,
    Dropout,
    Conv2d,
    MaxPool,
    AvgPool,
    GlobalAvgPool,
    Flatten,
    Residual,
    Highway,
    Concat,
    Parallel,
    AuxHead,
    Repeat,
    /// Runs a cell (`gates` blocks stacked in its weights) over every step
    /// of a `seq` network: output width `hidden`.
    Recurrent {
        gates: usize,
    },
    /// The final step of a sequence.
    Last,
    /// A learned vector per token id: output width `dim`.
    Embedding,
    /// Its body's one recurrent item run in both directions: output width
    /// twice the item's.
    Bidirectional,
}

/// How an item behaves as an activation, as the runtime's `Family`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Family {
    /// He initialization before it; diagnostics look for dead units.
    Relu,
    /// Outputs in `(low, high)`, flat near both ends; diagnostics look for saturation.
    Saturating {
        low: f64,
        high: f64,
    },
    /// LeCun initialization before it (`selu`).
    SelfNormalizing,
    Other,
}

impl Family {
    /// The default-init rule: what a `dense` or `conv2d` followed by this
    /// family starts with when it has no `init = ...`.
    pub fn init_before(self) -> InitRef {
        match self {
            Family::Relu => InitRef { name: "he_normal", args: &[] },
            Family::SelfNormalizing => InitRef { name: "lecun_normal", args: &[] },
            Family::Saturating { .. } | Family::Other => InitRef { name: "xavier_uniform", args: &[] },
        }
    }
}

/// A size in a parameter's shape.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Dim {
    /// The item's input width (all of `C * H * W` for an image).
    In,
    /// The input's channels (its width for a vector, its vocabulary for tokens).
    Channels,
    /// The item's output width.
    Out,
    /// The value of an option.
    Opt(&'static str),
    /// A recurrent item's gates times its `hidden` width.
    Gates,
}

/// A tensor an item owns itself (not its body's), a parameter or a buffer,
/// with PyTorch's name and shape.
#[derive(Clone, Copy, Debug)]
pub struct Param {
    /// PyTorch's name, as DESIGN.md's table and the runtime's layer give it;
    /// the macro itself needs only the shape, so only the tests read it.
    #[allow(dead_code)]
    pub name: &'static str,
    pub shape: &'static [Dim],
    /// Present only when this option is on (`bias = true`, `projection`).
    pub when: Option<&'static str>,
    /// How it starts, when an initializer decides it: the summary's init column.
    pub init: Option<ParamInit>,
}

/// Where a parameter's initializer comes from.
#[derive(Clone, Copy, Debug)]
pub enum ParamInit {
    /// An option's value; the summary prefixes it with `label`.
    Option { option: &'static str, label: &'static str },
    /// Always this one.
    Fixed(InitRef),
}

const fn param(name: &'static str, shape: &'static [Dim]) -> Param {
    Param { name, shape, when: None, init: None }
}

impl Param {
    const fn when(self, option: &'static str) -> Self {
        Param { when: Some(option), ..self }
    }
    const fn init(self, init: ParamInit) -> Self {
        Param { init: Some(init), ..self }
    }
}

/// Weights that feed no activation of their own (residual projection, highway gate): Xavier, as an output layer.
const BLOCK_INIT: ParamInit = ParamInit::Fixed(InitRef { name: "xavier_uniform", args: &[] });
const WEIGHT_FROM_INIT: ParamInit = ParamInit::Option { option: "init", label: "" };
const NORM_PARAMS: &[Param] = &[param("weight", &[Dim::Channels]), param("bias", &[Dim::Channels])];

/// What an item needs as input.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Needs {
    /// A vector or an image.
    Any,
    Vector,
    Image,
    /// Token ids (`embedding`, the first item of a `tokens V` network).
    Tokens,
}

/// Where an item may stand.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Place {
    Anywhere,
    /// The top level of a network (`aux_head`).
    TopLevel,
    /// Where time steps run: a sequence network before `last` (or all
    /// through, with outputs per step), and there the bodies of the blocks
    /// that pass the steps on (recurrent items, `bidirectional`).
    Steps,
    /// The top level of a sequence network (`last`).
    Sequence,
}

/// Where an item may stand in a `seq` network.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum InSequence {
    Anywhere,
    /// Nowhere; the message says why.
    Never(&'static str),
}

/// What an item takes in braces.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Body {
    None,
    /// An item list: `residual { dense(8), relu }`.
    List,
    /// `branch { .. }` lists (`parallel`).
    Branches,
}

/// One item of the language.
#[derive(Clone, Copy, Debug)]
pub struct Item {
    pub name: &'static str,
    pub options: &'static [Opt],
    pub form: Form,
    pub family: Family,
    /// A `dense` or `conv2d` looks past this item for the activation that
    /// chooses its default initializer (normalization, dropout).
    pub transparent_for_init: bool,
    pub params: &'static [Param],
    /// Values it keeps without training them (running statistics), as
    /// PyTorch's buffers: the summary's non-trainable count.
    pub buffers: &'static [Param],
    pub needs: Needs,
    pub place: Place,
    /// Whether it may stand in a `seq` network (checked in blocks too).
    pub in_sequence: InSequence,
    pub body: Body,
    /// A block whose body runs over the time steps of a sequence, so that
    /// recurrent items may stand in it (`residual`, `repeat`).
    pub passes_steps: bool,
    /// The item written correctly, for messages (empty: the name alone is).
    pub example: &'static str,
}

const fn item(name: &'static str, form: Form) -> Item {
    Item {
        name,
        options: &[],
        form,
        family: Family::Other,
        transparent_for_init: false,
        params: &[],
        buffers: &[],
        needs: Needs::Any,
        place: Place::Anywhere,
        in_sequence: InSequence::Anywhere,
        body: Body::None,
        passes_steps: false,
        example: "",
    }
}

/// An element-wise activation.
const fn activation(name: &'static str, family: Family) -> Item {
    Item { family, ..item(name, Form::Activation) }
}

impl Item {
    const fn family(self, family: Family) -> Self {
        Item { family, ..self }
    }
    const fn options(self, options: &'static [Opt]) -> Self {
        Item { options, ..self }
    }
    const fn params(self, params: &'static [Param]) -> Self {
        Item { params, ..self }
    }
    const fn buffers(self, buffers: &'static [Param]) -> Self {
        Item { buffers, ..self }
    }
    const fn example(self, example: &'static str) -> Self {
        Item { example, ..self }
    }
    const fn transparent_for_init(self) -> Self {
        Item { transparent_for_init: true, ..self }
    }
    const fn needs(self, needs: Needs) -> Self {
        Item { needs, ..self }
    }
    const fn place(self, place: Place) -> Self {
        Item { place, ..self }
    }
    const fn in_sequence(self, in_sequence: InSequence) -> Self {
        Item { in_sequence, ..self }
    }
    const fn body(self, body: Body) -> Self {
        Item { body, ..self }
    }
    const fn passes_steps(self) -> Self {
        Item { passes_steps: true, ..self }
    }

    /// Whether the output shape is the input shape whatever the options
    /// (which lets the check go on with a known width after a mistake).
    pub fn keeps_width(&self) -> bool {
        matches!(
            self.form,
            Form::Activation
                | Form::Prelu
                | Form::BatchNorm
                | Form::LayerNorm
                | Form::Dropout
                | Form::Residual
                | Form::Highway
                | Form::AuxHead
        )
    }

    #[cfg(test)]
    pub fn option(&self, name: &str) -> &'static Opt {
        self.options.iter().find(|o| o.name == name).unwrap_or_else(|| panic!("`{}` has no option `{name}`", self.name))
    }
}

/// Every item, in the order of DESIGN.md's tables.
pub static ITEMS: &[Item] = &[
    item("dense", Form::Dense)
        .options(&[width("out"), INIT, BIAS])
        .params(&[
            param("weight", &[Dim::Opt("out"), Dim::In]).init(WEIGHT_FROM_INIT),
            param("bias", &[Dim::Opt("out")]).when("bias"),
        ])
        .needs(Needs::Vector)
        .example("dense(64)"),
    activation("identity", Family::Other),
    activation("sigmoid", Family::Saturating { low: 0.0, high: 1.0 }),
    activation("tanh", Family::Saturating { low: -1.0, high: 1.0 }),
    activation("relu", Family::Relu),
    activation("leaky_relu", Family::Relu).options(&[real("slope", 0.01)]),
    activation("elu", Family::Relu).options(&[real("alpha", 1.0)]),
    activation("selu", Family::SelfNormalizing),
    activation("gelu", Family::Relu),
    activation("swish", Family::Relu),
    activation("silu", Family::Relu),
    activation("mish", Family::Relu),
    activation("softplus", Family::Other),
    activation("relu6", Family::Relu),
    activation("hardswish", Family::Relu),
    activation("hardsigmoid", Family::Saturating { low: 0.0, high: 1.0 }),
    activation("softsign", Family::Saturating { low: -1.0, high: 1.0 }),
    item("prelu", Form::Prelu)
        .family(Family::Relu)
        .options(&[real("init", 0.25)])
        .params(&[param("weight", &[Dim::In])])
        .example("prelu(0.25)"),
    item("batch_norm", Form::BatchNorm)
        .options(&[real("momentum", 0.1).range(Range::UnitClosed), real("eps", 1e-5).range(Range::Positive)])
        .params(NORM_PARAMS)
        .buffers(&[param("running_mean", &[Dim::Channels]), param("running_var", &[Dim::Channels])])
        .transparent_for_init(),
    item("layer_norm", Form::LayerNorm)
        .options(&[real("eps", 1e-5).range(Range::Positive)])
        .params(NORM_PARAMS)
        .transparent_for_init(),
    item("dropout", Form::Dropout)
        .options(&[opt("p", Ty::Real, DefaultValue::Required).range(Range::UnitHalfOpen).out_of_range(
            "dropout probability must be in [0, 1), found {found}: it is the share of units zeroed in training \
             (`dropout(0.1)` drops 10%), and 1 would drop everything",
        )])
        .transparent_for_init()
        .example("dropout(0.1)"),
    item("residual", Form::Residual)
        .options(&[opt("projection", Ty::Keyword, DefaultValue::Absent)])
        .params(&[param("projection.weight", &[Dim::Out, Dim::In]).when("projection").init(BLOCK_INIT)])
        .body(Body::List)
        .passes_steps()
        .example("residual { dense(64), relu }"),
    item("highway", Form::Highway)
        .params(&[param("gate.weight", &[Dim::In, Dim::In]).init(BLOCK_INIT), param("gate.bias", &[Dim::In])])
        .body(Body::List)
        .example("highway { dense(64), relu }"),
    item("concat", Form::Concat).body(Body::List).example("concat { dense(32), relu }"),
    item("parallel", Form::Parallel)
        .body(Body::Branches)
        .example("parallel { branch { dense(32) }, branch { dense(16), relu } }"),
    item("aux_head", Form::AuxHead)
        .options(&[opt("weight", Ty::Real, DefaultValue::Required)
            .range(Range::NonNegative)
            .show(Show::Named)
            .out_of_range("`{option}` of `{item}` must be in [0, inf) (a loss weight), found {found}")])
        .place(Place::TopLevel)
        .in_sequence(InSequence::Never(
            "`aux_head` is not available in `seq` networks yet; train the extra head as a separate network",
        ))
        .body(Body::List)
        .example("aux_head(weight = 0.3) { dense(10) }"),
    item("repeat", Form::Repeat)
        .options(&[opt("k", Ty::Count, DefaultValue::Required)
            .range(Range::AtLeastOne)
            .out_of_range("`repeat(0)` repeats nothing; write a count of at least 1, or remove the block")])
        .body(Body::List)
        .passes_steps()
        .example("repeat(3) { dense(64), relu }"),
    item("conv2d", Form::Conv2d)
        .options(&[width("out"), KERNEL.show(Show::Named), STRIDE, PADDING, BIAS, INIT])
        .params(&[
            param("weight", &[Dim::Opt("out"), Dim::Channels, Dim::Opt("kernel"), Dim::Opt("kernel")])
                .init(WEIGHT_FROM_INIT),
            param("bias", &[Dim::Opt("out")]).when("bias"),
        ])
        .needs(Needs::Image)
        .example("conv2d(16, kernel = 3, padding = 1)"),
    item("max_pool", Form::MaxPool).options(POOL_OPTIONS).needs(Needs::Image).example("max_pool(2)"),
    item("avg_pool", Form::AvgPool).options(POOL_OPTIONS).needs(Needs::Image).example("avg_pool(2)"),
    item("global_avg_pool", Form::GlobalAvgPool).needs(Needs::Image),
    item("flatten", Form::Flatten).needs(Needs::Image),
    recurrent("rnn", 1, &[width("hidden"), RECURRENT_INIT]).example("rnn(64)"),
    recurrent("lstm", 4, &[width("hidden"), RECURRENT_INIT, FORGET_BIAS]).example("lstm(64)"),
    recurrent("gru", 3, &[width("hidden"), RECURRENT_INIT]).example("gru(64)"),
    // Its tensors are those of its body's cell, twice, under `nn.LSTM`'s
    // names (`weight_ih_l0`, ..., `weight_ih_l0_reverse`, ...): the summary
    // counts them from the body.
    item("bidirectional", Form::Bidirectional)
        .place(Place::Steps)
        .body(Body::List)
        .passes_steps()
        .example("bidirectional { lstm(64) }"),
    item("last", Form::Last).place(Place::Sequence),
    item("embedding", Form::Embedding)
        .options(&[width("dim")])
        .params(&[param("weight", &[Dim::Channels, Dim::Opt("dim")])])
        .needs(Needs::Tokens)
        .example("embedding(32)"),
];

/// A recurrent item with `gates` gate blocks stacked in its weights, as PyTorch's cells.
const fn recurrent(name: &'static str, gates: usize, options: &'static [Opt]) -> Item {
    item(name, Form::Recurrent { gates }).options(options).params(RECURRENT_PARAMS).place(Place::Steps)
}

const FORGET_BIAS: Opt = opt("forget_bias", Ty::Real, DefaultValue::Absent).show(Show::IfGiven);

const RECURRENT_PARAMS: &[Param] = &[
    param("weight_ih", &[Dim::Gates, Dim::In]),
    param("weight_hh", &[Dim::Gates, Dim::Opt("hidden")])
        .init(ParamInit::Option { option: "recurrent_init", label: "recurrent " }),
    param("bias_ih", &[Dim::Gates]),
    param("bias_hh", &[Dim::Gates]),
];

/// The output length of a window moved over `len` values (as PyTorch's
/// `Conv2d` and pools, `floor` mode): `(len + 2 padding - kernel) / stride + 1`.
pub fn window_out(len: usize, kernel: usize, stride: usize, padding: usize) -> usize {
    (len + 2 * padding - kernel) / stride + 1
}

/// The item called `name`.
pub fn find(name: &str) -> Option<&'static Item> {
    ITEMS.iter().find(|i| i.name == name)
}

/// Every item name, for "did you mean".
pub fn names() -> Vec<&'static str> {
    ITEMS.iter().map(|i| i.name).collect()
}

/// The keyword that opens each branch of `parallel`.
pub const BRANCH: &str = "branch";

/// Most branches `parallel` takes (the runtime's `Branches` covers tuples of 1 to 8).
pub const MAX_BRANCHES: usize = 8;

/// An initializer with its arguments, as the table writes a fixed or default one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InitRef {
    pub name: &'static str,
    /// Every option's value, in order.
    pub args: &'static [f64],
}

/// An initializer of `init = ...`.
#[derive(Clone, Copy, Debug)]
pub struct Initializer {
    pub name: &'static str,
    pub options: &'static [Opt],
    pub example: &'static str,
}

const fn init(name: &'static str, options: &'static [Opt], example: &'static str) -> Initializer {
    Initializer { name, options, example }
}

/// Every initializer, as the runtime's `Init`. A scale of 0 would give
/// all-zero weights, which `zeros` says openly, so the scales must be
/// positive: `uniform(a)` draws from U(-a, a), which is no range for a <= 0;
/// `normal(std)` needs a standard deviation, which is never negative;
/// `orthogonal(gain)` multiplies a random orthogonal Q, whose distribution
/// is that of -Q, so a negative gain is its absolute value in disguise.
/// `constant(c)` takes any value.
pub static INITIALIZERS: &[Initializer] = &[
    init("zeros", &[], ""),
    init("constant", &[opt("c", Ty::Real, DefaultValue::Required)], "constant(0.1)"),
    init(
        "uniform",
        &[opt("a", Ty::Real, DefaultValue::Required).range(Range::Positive).out_of_range(
            "`uniform(a)` draws weights from U(-a, a), so `a` must be in (0, inf), found {found}: 0 gives \
             all-zero weights (write `zeros` if you mean them) and a negative bound is no range; \
             write a positive bound such as `uniform(0.05)`",
        )],
        "uniform(0.05)",
    ),
    init(
        "normal",
        &[opt("std", Ty::Real, DefaultValue::Required).range(Range::Positive).out_of_range(
            "`normal(std)` draws weights from N(0, std^2), so `std` must be in (0, inf), found {found}: a \
             standard deviation is never negative, and 0 gives all-zero weights (write `zeros` if you mean \
             them); write a positive one such as `normal(0.02)`",
        )],
        "normal(0.02)",
    ),
    init("xavier_uniform", &[], ""),
    init("xavier_normal", &[], ""),
    init("he_uniform", &[], ""),
    init("he_normal", &[], ""),
    init("lecun_normal", &[], ""),
    init(
        "orthogonal",
        &[real("gain", 1.0).range(Range::Positive).out_of_range(
            "`gain` of `orthogonal` scales a random orthogonal matrix Q, so it must be in (0, inf), found \
             {found}: 0 gives all-zero weights, and a negative gain draws from the same distribution as its \
             absolute value (-Q is as likely as Q); write a positive gain such as `orthogonal(gain = 1.0)`",
        )],
        "",
    ),
];

pub fn find_initializer(name: &str) -> Option<&'static Initializer> {
    INITIALIZERS.iter().find(|i| i.name == name)
}

pub fn initializer_names() -> Vec<&'static str> {
    INITIALIZERS.iter().map(|i| i.name).collect()
}

/// `leaky_relu` -> `LeakyRelu`: how the runtime names what an item is.
pub fn camel(name: &str) -> String {
    name.split('_')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_camel_case_round_trips() {
        let mut names = names();
        names.extend(initializer_names());
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ITEMS.len() + INITIALIZERS.len());
        assert_eq!(camel("leaky_relu"), "LeakyRelu");
        assert_eq!(camel("conv2d"), "Conv2d");
        assert_eq!(camel("relu6"), "Relu6");
        assert_eq!(camel("global_avg_pool"), "GlobalAvgPool");
    }

    #[test]
    fn options_that_others_name_exist() {
        for item in ITEMS {
            for o in item.options {
                if let DefaultValue::SameAs(other) = o.default {
                    item.option(other);
                }
            }
            for p in item.params {
                p.when.map(|w| item.option(w));
                for d in p.shape {
                    if let Dim::Opt(o) = d {
                        item.option(o);
                    }
                }
                if let Some(ParamInit::Option { option, .. }) = p.init {
                    assert_eq!(item.option(option).ty, Ty::Init, "{}", item.name);
                }
            }
        }
    }

    #[test]
    fn parameters_are_named_as_pytorch_names_them() {
        let names = |item: &str| find(item).unwrap().params.iter().map(|p| p.name).collect::<Vec<_>>();
        assert_eq!(names("dense"), ["weight", "bias"]);
        assert_eq!(names("conv2d"), ["weight", "bias"]);
        assert_eq!(names("batch_norm"), ["weight", "bias"]);
        assert_eq!(names("residual"), ["projection.weight"]);
        assert_eq!(names("highway"), ["gate.weight", "gate.bias"]);
        assert_eq!(names("lstm"), ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]);
        assert_eq!(names("embedding"), ["weight"]);
        assert!(names("relu6").is_empty());
        let buffers = find("batch_norm").unwrap().buffers.iter().map(|b| b.name).collect::<Vec<_>>();
        assert_eq!(buffers, ["running_mean", "running_var"]);
        assert!(ITEMS.iter().filter(|i| i.name != "batch_norm").all(|i| i.buffers.is_empty()));
    }

    #[test]
    fn the_default_init_rule_follows_the_family() {
        assert_eq!(find("relu6").unwrap().family.init_before().name, "he_normal");
        assert_eq!(find("hardswish").unwrap().family.init_before().name, "he_normal");
        assert_eq!(find("hardsigmoid").unwrap().family.init_before().name, "xavier_uniform");
        assert_eq!(find("softsign").unwrap().family.init_before().name, "xavier_uniform");
        assert_eq!(find("selu").unwrap().family.init_before().name, "lecun_normal");
    }
}
