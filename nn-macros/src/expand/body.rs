//! The hidden module of a checked network: for each item list, its type (a
//! chain of the runtime's generic list nodes over the items' runtime types
//! with their static widths) and the function that builds it from a
//! generator, drawing in network order; the core type; and what each item,
//! at every depth, is for the runtime (its checks and diagnostics).

use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};

use super::{lit, private, real};
use crate::ast::{Dims, InitVal, List, Net, Node, Val};
use crate::items::{self, Family, Form, ParamInit};

/// `mod #name { .. }` for `net`.
pub fn module(net: &Net, name: &Ident) -> TokenStream {
    let mut g = Gen { defs: Vec::new() };
    let (ty, ctor) =
        if net.is_sequence() && !net.per_step() { g.sequence(&net.body, net.h_n) } else { g.chain(&net.body.items) };
    let defs = g.defs;
    let (i, o) = (lit(net.input.len()), lit(net.output));
    let input = match net.input {
        Dims::Tokens(vocab) => {
            let vocab = lit(vocab);
            quote!(Tokens<#vocab>)
        }
        _ if net.is_sequence() => quote!(Sequence),
        _ => quote!(Vector),
    };
    let output = if net.per_step() { quote!(PerStep) } else { quote!(Vector) };
    let infos = item_infos(net);
    let nn = private();
    quote! {
        #[doc(hidden)]
        #[allow(non_snake_case)]
        mod #name {
            use #nn::{layers::*, network::*, rnn::*, *};
            #(#defs)*
            pub type Body<T> = #ty;
            pub fn body<T: Float, R: rand::Rng + ?Sized>(rng: &mut R) -> Body<T> {
                #ctor
            }
            pub type Core<T> = network::Core<T, Body<T>, #i, #o, #input, #output>;
            pub const ITEMS: &[ItemInfo] = &[#(#infos),*];
        }
    }
}

/// What the runtime learns of every item, in visiting order: where it
/// stands, what it is, how its weights start, whether it needs two samples.
fn item_infos(net: &Net) -> Vec<TokenStream> {
    // In a `seq` network, the items before `last` (every item when the output
    // is `seq M`) see each real step of each sample, so a batch_norm there
    // pools over steps and has more than one value per channel from one sample.
    let per_step_items = if net.per_step() {
        net.body.items.len()
    } else if net.is_sequence() {
        net.body.items.iter().position(|n| n.item.form == Form::Last).unwrap_or(0)
    } else {
        0
    };
    let mut infos = Vec::new();
    net.body.walk(&mut |path, node| {
        let top: usize = path.split('.').next().and_then(|t| t.parse().ok()).expect("a path starts with a number");
        let kind = format_ident!("{}", items::camel(node.item.name));
        let family = family(node.item.family);
        let init = node.weight_init().map(|(_, i)| {
            let i = init(&i);
            quote!(.init(#i))
        });
        // Batch statistics over one value per channel: PyTorch refuses a training batch of one sample.
        let one_value =
            (node.item.form == Form::BatchNorm && node.input.len() == node.input.channels() && top >= per_step_items)
                .then(|| quote!(.one_value_per_channel()));
        infos.push(quote!(ItemInfo::new(#path, ItemKind::#kind, #family)#init #one_value));
    });
    infos
}

fn family(f: Family) -> TokenStream {
    match f {
        Family::Relu => quote!(Family::Relu),
        Family::Saturating { low, high } => {
            let (low, high) = (real(low), real(high));
            quote!(Family::Saturating { low: #low, high: #high })
        }
        Family::SelfNormalizing => quote!(Family::SelfNormalizing),
        Family::Other => quote!(Family::Other),
    }
}

/// The most links a list type chains before it is split into runs: the
/// compiler proves a list's bounds link by link, within a depth of 128.
const LINKS: usize = 16;

struct Gen {
    /// The type and constructor of every nested body so far, innermost first.
    defs: Vec<TokenStream>,
}

impl Gen {
    /// Defines `SeqK<T>` and `seqK(rng)` for a block's body; returns their names.
    fn body(&mut self, list: &List) -> (Ident, Ident) {
        let (ty, ctor) = self.chain(&list.items);
        let k = self.defs.len();
        let (name, build) = (format_ident!("Seq{k}"), format_ident!("seq{k}"));
        self.defs.push(quote! {
            pub type #name<T> = #ty;
            pub fn #build<T: Float, R: rand::Rng + ?Sized>(rng: &mut R) -> #name<T> {
                #ctor
            }
        });
        (name, build)
    }

    /// The list type of `items` and the expression that builds it.
    fn chain(&mut self, items: &[Node]) -> (TokenStream, TokenStream) {
        // Each link: the item's type, constructor, output width and slot.
        let links: Vec<(TokenStream, TokenStream, usize, Option<TokenStream>)> = if items.len() <= LINKS {
            let slot = |n: &Node| (n.item.form == Form::AuxHead).then(|| quote!(Head));
            items.iter().map(|n| (self.item(n), n.output.len(), slot(n))).map(|((a, m), o, s)| (a, m, o, s)).collect()
        } else {
            // A long list is a short list of runs of items, each a list of its own
            // (spliced: its items keep their numbers), so that the type nests
            // about LINKS * log(len) / log(LINKS) deep rather than `len` deep.
            let run = items.len().div_ceil(LINKS);
            let runs = items.chunks(run).map(|part| (self.chain(part), part[part.len() - 1].output.len()));
            runs.map(|((a, make), m)| (a, make, m, Some(quote!(Splice)))).collect()
        };
        // Built innermost first; each constructor call still runs in item order.
        let (mut ty, mut ctor) = (quote!(End), quote!(End));
        for (a, make, m, s) in links.into_iter().rev() {
            let (m, s) = (lit(m), s.map(|s| quote!(, #s)));
            ty = quote!(Then<#a, #ty, #m #s>);
            ctor = quote!(Then::new(#make, #ctor));
        }
        (ty, ctor)
    }

    /// The top level of a `seq` network with one output per sequence: the
    /// items before `last`, `last` (`h_n` after `bidirectional`), the items after it.
    fn sequence(&mut self, list: &List, h_n: bool) -> (TokenStream, TokenStream) {
        let at = list.items.iter().position(|n| n.item.form == Form::Last).expect("a seq network has `last`");
        let last = &list.items[at];
        let (before, make_before) = self.chain(&list.items[..at]);
        let (after, make_after) = self.chain(&list.items[at + 1..]);
        let h = lit(last.input.len());
        let new = if h_n { quote!(bidirectional) } else { quote!(new) };
        (quote!(Reduce<T, #before, #after, #h>), quote!(Reduce::#new(#make_before, #make_after)))
    }

    /// The runtime type of one item and the expression that builds it from `rng`.
    fn item(&mut self, node: &Node) -> (TokenStream, TokenStream) {
        let (n, out) = (lit(node.input.len()), lit(node.output.len()));
        match node.item.form {
            Form::Activation => {
                let f = format_ident!("{}", items::camel(node.item.name));
                let fields = node.options().map(|(o, v)| {
                    let (name, value) = (format_ident!("{}", o.name), value(v));
                    quote!(#name: #value)
                });
                let make = if node.item.options.is_empty() {
                    quote!(Activation::default())
                } else {
                    quote!(Activation::new(#f { #(#fields),* }))
                };
                (quote!(Activation<T, #f, #n>), make)
            }
            Form::Dense => {
                let (init, bias) = (init(node.init("init")), node.flag("bias"));
                (quote!(Dense<T, #n, #out>), quote!(Dense::new(rng, #init, #bias)))
            }
            Form::Prelu => {
                let init = real(node.real("init").expect("prelu's init has a default"));
                (quote!(Prelu<T, #n>), quote!(Prelu::new(#init)))
            }
            Form::BatchNorm => {
                let (m, e) = (reals(node, "momentum"), reals(node, "eps"));
                match node.input {
                    Dims::Image { c, h, w } => {
                        let (c, h, w) = (lit(c), lit(h), lit(w));
                        (quote!(BatchNorm2d<T, #n>), quote!(BatchNorm2d::new::<#c, #h, #w>(#m, #e)))
                    }
                    Dims::Vector(_) | Dims::Tokens(_) => (quote!(BatchNorm<T, #n>), quote!(BatchNorm::new(#m, #e))),
                }
            }
            Form::LayerNorm => {
                let e = reals(node, "eps");
                (quote!(LayerNorm<T, #n>), quote!(LayerNorm::new(#e)))
            }
            Form::Dropout => {
                // Masks come from the dropout's own generator, seeded from the network's.
                let p = reals(node, "p");
                (quote!(Dropout<T, #n>), quote!(Dropout::new(#p, seeded_rng(rand::Rng::random::<u64>(rng)))))
            }
            Form::Conv2d => {
                let [c, h, w] = image(node.input);
                let oc = lit(node.count("out"));
                let [k, s, p] = node.window().map(lit);
                let (init, bias) = (init(node.init("init")), node.flag("bias"));
                (quote!(Conv2d<T, #n, #out>), quote!(Conv2d::new::<#c, #h, #w, #oc, #k, #s, #p>(rng, #init, #bias)))
            }
            Form::MaxPool | Form::AvgPool => {
                let [c, h, w] = image(node.input);
                let [k, s, p] = node.window().map(lit);
                let pool = if node.item.form == Form::MaxPool { quote!(MaxPool2d) } else { quote!(AvgPool2d) };
                (quote!(#pool<T, #n, #out>), quote!(#pool::new::<#c, #h, #w, #k, #s, #p>()))
            }
            Form::GlobalAvgPool => {
                let [c, h, w] = image(node.input);
                (quote!(GlobalAvgPool<T, #n, #out>), quote!(GlobalAvgPool::new::<#c, #h, #w>()))
            }
            Form::Flatten => (quote!(Flatten<T, #n>), quote!(Flatten::default())),
            Form::Residual if node.flag("projection") => {
                let (b, make) = self.body(&node.bodies[0]);
                let init = init(&block_init(node));
                (
                    quote!(ResidualProjection<T, #b<T>, #n, #out>),
                    quote!({
                        let body = #make(rng);
                        ResidualProjection::new(rng, body, #init)
                    }),
                )
            }
            Form::Residual => {
                let (b, make) = self.body(&node.bodies[0]);
                (quote!(Residual<T, #b<T>, #n>), quote!(Residual::new(#make(rng))))
            }
            Form::Highway => {
                let (b, make) = self.body(&node.bodies[0]);
                let init = init(&block_init(node));
                (
                    quote!(Highway<T, #b<T>, #n>),
                    quote!({
                        let body = #make(rng);
                        Highway::new(rng, body, #init)
                    }),
                )
            }
            Form::Concat => {
                let (b, make) = self.body(&node.bodies[0]);
                let m = lit(node.bodies[0].output.len());
                (quote!(Concat<T, #b<T>, #n, #m, #out>), quote!(Concat::new(#make(rng))))
            }
            Form::Parallel => {
                let (names, makes): (Vec<Ident>, Vec<Ident>) = node.bodies.iter().map(|b| self.body(b)).unzip();
                let widths = node.bodies.iter().map(|b| lit(b.output.len()));
                (
                    quote!(Parallel<T, (#(Branch<#names<T>, #widths>,)*), #n, #out>),
                    quote!(Parallel::new((#(Branch(#makes(rng)),)*))),
                )
            }
            Form::AuxHead => {
                let (b, make) = self.body(&node.bodies[0]);
                let (m, w) = (lit(node.bodies[0].output.len()), reals(node, "weight"));
                (quote!(AuxHead<T, #b<T>, #n, #m>), quote!(AuxHead::new(#make(rng), #w)))
            }
            Form::Repeat => {
                let (b, make) = self.body(&node.bodies[0]);
                let k = lit(node.count("k"));
                (quote!(Repeat<T, #b<T>, #n, #k>), quote!(Repeat::from_fn(|_| #make(rng))))
            }
            Form::Recurrent { .. } => {
                let (cell, make) = cell(node);
                (quote!(Unrolled<T, #cell<T, #n, #out>, #n, #out>), quote!(Unrolled::new(#make)))
            }
            Form::Bidirectional => {
                let inner = &node.bodies[0].items[0];
                let (marker, h) = (format_ident!("{}", items::camel(inner.item.name)), lit(inner.output.len()));
                let (_, make) = cell(inner);
                (
                    quote!(Bidirectional<T, #marker, #n, #h, #out>),
                    quote!({
                        let forward = #make;
                        Bidirectional::new(forward, #make)
                    }),
                )
            }
            Form::Embedding => {
                let vocab = lit(node.input.channels());
                (quote!(Embedding<T, #vocab, #out>), quote!(Embedding::new(rng)))
            }
            Form::Last => unreachable!("`last` is the seam of `sequence`, not an item of a chain"),
        }
    }
}

/// The cell type of a recurrent item (`LstmCell`: the item's name in
/// CamelCase) and the expression that draws one from `rng`.
fn cell(node: &Node) -> (Ident, TokenStream) {
    let cell = format_ident!("{}Cell", items::camel(node.item.name));
    let init = init(node.init("recurrent_init"));
    let forget = node.item.options.iter().any(|o| o.name == "forget_bias").then(|| node.real("forget_bias"));
    let forget = forget.flatten().map(|b| {
        let b = real(b);
        quote!(.with_forget_bias(#b))
    });
    let make = quote!(#cell::with_recurrent_init(rng, #init)#forget);
    (cell, make)
}

/// The initializer of a block's own weights (projection, gate), from the table.
fn block_init(node: &Node) -> InitVal {
    let fixed = node.item.params.iter().find_map(|p| match p.init {
        Some(ParamInit::Fixed(r)) => Some(r),
        _ => None,
    });
    InitVal::of(fixed.expect("the block's weights have a fixed initializer"), false)
}

/// An option's value as a literal.
fn value(v: &Val) -> TokenStream {
    match v {
        Val::Count(c) => {
            let c = lit(*c);
            quote!(#c)
        }
        Val::Real(r) => {
            let r = real(*r);
            quote!(#r)
        }
        Val::Flag(b) => quote!(#b),
        Val::Init(i) => init(i),
        Val::Absent => unreachable!("absent options are not passed on"),
    }
}

fn reals(node: &Node, name: &str) -> Literal {
    real(node.real(name).unwrap_or_else(|| panic!("`{name}` of `{}` has a value", node.item.name)))
}

/// `(C, H, W)` of an image as literals. The check gives image items image inputs only.
fn image(d: Dims) -> [Literal; 3] {
    match d {
        Dims::Image { c, h, w } => [lit(c), lit(h), lit(w)],
        Dims::Vector(_) | Dims::Tokens(_) => unreachable!("image items are checked to take images"),
    }
}

/// The runtime `Init` value: `Init::` the name in CamelCase, required options
/// as tuple fields, optional ones as named fields.
fn init(i: &InitVal) -> TokenStream {
    let variant = format_ident!("{}", items::camel(i.name));
    let def = items::find_initializer(i.name).expect("initializers are resolved from the table");
    let required = def.options.iter().zip(&i.args).filter(|(o, _)| o.is_required()).map(|(_, v)| real(*v));
    let named = def.options.iter().zip(&i.args).filter(|(o, _)| !o.is_required()).map(|(o, v)| {
        let (name, v) = (format_ident!("{}", o.name), real(*v));
        quote!(#name: #v)
    });
    let (required, named): (Vec<Literal>, Vec<TokenStream>) = (required.collect(), named.collect());
    match (required.is_empty(), named.is_empty()) {
        (true, true) => quote!(Init::#variant),
        (false, _) => quote!(Init::#variant(#(#required),*)),
        (true, false) => quote!(Init::#variant { #(#named),* }),
    }
}
