//! The checked network: every item resolved to its entry in the item table,
//! its options to values (defaults applied), and its input and output
//! shapes inferred.

use std::fmt;

use crate::items::{self, DefaultValue, Form, InitRef, Item, Opt, Param, ParamInit, Ty};
use crate::parse;

/// What flows between items: a vector of a width, a channel-major image
/// `(C, H, W)`, which the data carries as one column of `C * H * W` values,
/// or a token id below a vocabulary size (the input of a `tokens V` network,
/// one value per step, which only `embedding` takes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dims {
    Vector(usize),
    Image { c: usize, h: usize, w: usize },
    Tokens(usize),
}

impl Dims {
    /// Values per sample: the rows of the batch.
    pub fn len(self) -> usize {
        match self {
            Dims::Vector(n) => n,
            Dims::Image { c, h, w } => c * h * w,
            Dims::Tokens(_) => 1,
        }
    }

    /// The channels of an image, the width of a vector, the vocabulary of tokens.
    pub fn channels(self) -> usize {
        match self {
            Dims::Vector(n) | Dims::Tokens(n) => n,
            Dims::Image { c, .. } => c,
        }
    }
}

/// As the user writes shapes: `8` or `(16, 4, 4)`.
impl fmt::Display for Dims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dims::Vector(n) => write!(f, "{n}"),
            Dims::Image { c, h, w } => write!(f, "({c}, {h}, {w})"),
            Dims::Tokens(v) => write!(f, "tokens {v}"),
        }
    }
}

/// A network whose items all resolved.
pub struct Net<'a> {
    pub src: &'a parse::Network,
    pub input: Dims,
    pub output: usize,
    pub body: List,
    /// `last` stands right after `bidirectional` (position-wise items
    /// between) and takes PyTorch's `h_n`: the forward half at each
    /// sequence's last step, the reverse half at step 0.
    pub h_n: bool,
}

impl Net<'_> {
    /// Whether it takes sequences (`seq N`, `tokens V`).
    pub fn is_sequence(&self) -> bool {
        self.src.input.sequence_keyword().is_some()
    }

    /// Whether it gives an output per time step (`-> seq M`).
    pub fn per_step(&self) -> bool {
        self.src.per_step.is_some()
    }
}

/// An item list (the network's top level or a block body): items chained.
pub struct List {
    pub items: Vec<Node>,
    pub output: Dims,
}

impl List {
    /// Calls `f` with every item of the list and inside it, in the order the
    /// runtime visits them (a block before its body, every copy of `repeat`,
    /// every branch of `parallel`), and its path: the prefix of its
    /// parameters' names (`3`, `3.1.0`).
    pub fn walk(&self, f: &mut dyn FnMut(&str, &Node)) {
        self.walk_under("", f);
    }

    fn walk_under(&self, prefix: &str, f: &mut dyn FnMut(&str, &Node)) {
        for (i, node) in self.items.iter().enumerate() {
            let path = if prefix.is_empty() { i.to_string() } else { format!("{prefix}.{i}") };
            f(&path, node);
            match node.item.form {
                // A branch of `parallel` and a copy of `repeat` add a naming level.
                Form::Parallel => {
                    for (j, b) in node.bodies.iter().enumerate() {
                        b.walk_under(&format!("{path}.{j}"), f);
                    }
                }
                Form::Repeat => {
                    for copy in 0..node.count("k") {
                        node.bodies[0].walk_under(&format!("{path}.{copy}"), f);
                    }
                }
                // Its cell's tensors are the block's own (`weight_ih_l0`,
                // `weight_ih_l0_reverse`): one item, with no item inside.
                Form::Bidirectional => {}
                _ => {
                    for b in &node.bodies {
                        b.walk_under(&path, f);
                    }
                }
            }
        }
    }
}

pub struct Node {
    pub item: &'static Item,
    /// A value for each of the item's options, in table order.
    pub args: Vec<Val>,
    /// The item's body, or the bodies of `parallel`'s branches.
    pub bodies: Vec<List>,
    pub input: Dims,
    pub output: Dims,
}

/// An option's value.
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    Count(usize),
    Real(f64),
    /// A `bool`, or whether a keyword option was written.
    Flag(bool),
    Init(InitVal),
    /// An option that is off (`forget_bias` not given).
    Absent,
}

/// An initializer with every option's value.
#[derive(Clone, Debug, PartialEq)]
pub struct InitVal {
    pub name: &'static str,
    pub args: Vec<f64>,
    /// Chosen by the default-init rule rather than written.
    pub by_rule: bool,
}

impl InitVal {
    pub fn of(r: InitRef, by_rule: bool) -> Self {
        InitVal { name: r.name, args: r.args.to_vec(), by_rule }
    }

    /// As the runtime's `Display for Init`: required options by position,
    /// optional ones by name (`constant(0.1)`, `orthogonal(gain = 1)`).
    pub fn describe(&self) -> String {
        let init = items::find_initializer(self.name).expect("initializers are resolved from the table");
        if init.options.is_empty() {
            return self.name.to_string();
        }
        let args: Vec<String> = init
            .options
            .iter()
            .zip(&self.args)
            .map(|(o, v)| if o.is_required() { format!("{v}") } else { format!("{} = {v}", o.name) })
            .collect();
        format!("{}({})", self.name, args.join(", "))
    }
}

impl Node {
    fn val(&self, name: &str) -> &Val {
        let at = self.item.options.iter().position(|o| o.name == name);
        at.map(|i| &self.args[i]).unwrap_or_else(|| panic!("`{}` has no option `{name}`", self.item.name))
    }

    pub fn count(&self, name: &str) -> usize {
        match self.val(name) {
            Val::Count(c) => *c,
            v => panic!("`{name}` of `{}` is not a count: {v:?}", self.item.name),
        }
    }

    pub fn real(&self, name: &str) -> Option<f64> {
        match self.val(name) {
            Val::Real(r) => Some(*r),
            Val::Absent => None,
            v => panic!("`{name}` of `{}` is not a real: {v:?}", self.item.name),
        }
    }

    pub fn flag(&self, name: &str) -> bool {
        match self.val(name) {
            Val::Flag(b) => *b,
            Val::Absent => false,
            v => panic!("`{name}` of `{}` is not a flag: {v:?}", self.item.name),
        }
    }

    pub fn init(&self, name: &str) -> &InitVal {
        match self.val(name) {
            Val::Init(i) => i,
            v => panic!("`{name}` of `{}` is not an initializer: {v:?}", self.item.name),
        }
    }

    /// Whether the item has parameter `p` with its options (`bias = true`, `projection`).
    pub fn has(&self, p: &Param) -> bool {
        p.when.is_none_or(|option| self.flag(option))
    }

    /// How its weights start: the initializer of its first parameter that an
    /// initializer decides, with the label the summary gives it.
    pub fn weight_init(&self) -> Option<(&'static str, InitVal)> {
        match self.item.params.iter().filter(|p| self.has(p)).find_map(|p| p.init)? {
            ParamInit::Option { option, label } => Some((label, self.init(option).clone())),
            ParamInit::Fixed(r) => Some(("", InitVal::of(r, false))),
        }
    }

    /// The window of a convolution or pool: kernel, stride, padding.
    pub fn window(&self) -> [usize; 3] {
        [self.count("kernel"), self.count("stride"), self.count("padding")]
    }

    /// The `init` options chosen by the default-init rule, to fill in.
    pub fn rule_inits(&mut self) -> impl Iterator<Item = &mut InitVal> {
        self.args.iter_mut().filter_map(|v| match v {
            Val::Init(i) if i.by_rule => Some(i),
            _ => None,
        })
    }

    /// Each option with its value, for the summary.
    pub fn options(&self) -> impl Iterator<Item = (&'static Opt, &Val)> {
        self.item.options.iter().zip(&self.args)
    }

    /// Whether `val` is `opt`'s default here (for the summary: show it or not).
    pub fn is_default(&self, opt: &Opt, val: &Val) -> bool {
        match (val, opt.default) {
            (Val::Real(v), DefaultValue::Real(d)) => *v == d,
            (Val::Flag(v), DefaultValue::Bool(d)) => *v == d,
            (Val::Count(v), DefaultValue::Count(d)) => *v as u64 == d,
            (v, DefaultValue::SameAs(other)) => v == self.val(other),
            (Val::Absent, DefaultValue::Absent) => true,
            _ => false,
        }
    }
}

impl Val {
    /// As the summary writes it: reals as Rust prints `{:?}` (`0.1`, `1e-5`).
    pub fn describe(&self, opt: &Opt) -> String {
        match self {
            Val::Count(c) => c.to_string(),
            Val::Real(r) => format!("{r:?}"),
            Val::Flag(_) if opt.ty == Ty::Keyword => opt.name.to_string(),
            Val::Flag(b) => b.to_string(),
            Val::Init(i) => i.describe(),
            Val::Absent => String::new(),
        }
    }
}
