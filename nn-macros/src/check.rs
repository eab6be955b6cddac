//! Shape inference (vector widths and `(C, H, W)` images) and every
//! validation, reading what each item is from the item table. Errors go into
//! the [`Ctxt`]; after a mistake the check goes on (with the width a block
//! keeps, or with the width unknown until the next `dense` fixes it), so one
//! build reports every mistake, and a width is only complained about when it
//! is known.

use proc_macro2::Span;
use syn::Ident;

use crate::ast::{Dims, InitVal, List, Net, Node, Val};
use crate::ctxt::Ctxt;
use crate::items::{self, Body, DefaultValue, Family, Form, Item, Needs, Opt, Place, Ty};
use crate::parse::{self, Args, Shape, Value};
use crate::suggest::{closest, hint};

mod seq;

/// The largest vocabulary of a `tokens V` network: `f32` holds every whole
/// number up to 2^24 exactly, and token ids travel as numbers in a `Model` batch.
const MAX_VOCAB: usize = 1 << 24;

/// Checks one network. Returns the checked tree when everything resolved; when
/// `cx` holds errors the tree may be missing items and must not be generated.
pub fn network<'a>(cx: &Ctxt, src: &'a parse::Network) -> Option<Net<'a>> {
    let input = match &src.input {
        Shape::Vector(w) | Shape::Seq { width: w, .. } => positive(cx, w, "input width").map(Dims::Vector),
        Shape::Tokens { vocab, .. } => match positive(cx, vocab, "vocabulary size") {
            // Ids travel as floats (a `Model` batch), exact up to 2^24 in `f32`.
            Some(v) if v > MAX_VOCAB => {
                cx.error(
                    vocab.span,
                    format!("a vocabulary of {v} tokens is more than nn takes: ids are exact up to {MAX_VOCAB}"),
                );
                None
            }
            v => v.map(Dims::Tokens),
        },
        Shape::Image { channels, height, width, .. } => {
            let c = positive(cx, channels, "input channel count");
            let h = positive(cx, height, "input height");
            let w = positive(cx, width, "input width");
            Some(Dims::Image { c: c?, h: h?, w: w? })
        }
    };
    let output = positive(cx, &src.output, "output width");
    let (body, last, h_n) = match src.input.sequence_keyword() {
        Some(keyword) => seq::items(cx, src, keyword, input, output),
        None => {
            if let Some(per_step) = src.per_step {
                cx.error(
                    per_step,
                    format!(
                        "`-> seq {}` gives an output per time step, but `{}` takes vectors, which have no steps; \
                         declare a sequence input (`seq N` or `tokens V`), or write `-> {}`",
                        src.output.value, src.ident, src.output.value
                    ),
                );
            }
            let env = Env { top: true, steps: Here::NoSequence, net_output: output };
            let (body, last) = list(cx, &src.items, input, &env, &format!("network `{}`", src.ident));
            (body, last, false)
        }
    };
    match (last, output) {
        (Some(last @ Dims::Image { c, .. }), Some(declared)) => cx.error(
            src.output.span,
            format!(
                "`{}` declares output width {declared} but its last layer gives the image {last}; \
                 end the network with `global_avg_pool` (width {c}) or `flatten` (width {}), then `dense({declared})`",
                src.ident,
                last.len()
            ),
        ),
        (Some(Dims::Vector(last)), Some(declared)) if last != declared => cx.error(
            src.output.span,
            format!(
                "`{}` declares output width {declared} but its last layer gives width {last}; \
                 write `-> {last}`, or end the network with `dense({declared})`",
                src.ident
            ),
        ),
        _ => {}
    }
    Some(Net { src, input: input?, output: output?, body: body?, h_n })
}

/// Refuses a network named as one before it in the same block (`earlier`),
/// at its name: the two would be one struct defined twice, and the compiler
/// would blame every generated item of the second at the macro call.
pub fn unique_name(cx: &Ctxt, earlier: &[parse::Network], src: &parse::Network) -> bool {
    if !earlier.iter().any(|n| n.ident == src.ident) {
        return true;
    }
    cx.error(
        src.ident.span(),
        format!(
            "a network named `{0}` is already declared in this `network!` block; each network becomes a struct \
             of its name, so give this one another name, such as `{0}2`",
            src.ident
        ),
    );
    false
}

/// The width `declared` reads as, for the fallback struct after errors: what
/// the user wrote, even when it is invalid.
pub fn declared_input(shape: &Shape) -> u64 {
    match shape {
        Shape::Vector(w) | Shape::Seq { width: w, .. } => w.value,
        Shape::Tokens { .. } => 1,
        Shape::Image { channels, height, width, .. } => {
            channels.value.saturating_mul(height.value).saturating_mul(width.value)
        }
    }
}

fn positive(cx: &Ctxt, w: &parse::Int, what: &str) -> Option<usize> {
    if w.value == 0 {
        cx.error(w.span, format!("the network's {what} is 0; it must be at least 1"));
        return None;
    }
    Some(w.value as usize)
}

/// Where an item list sits, which decides what may appear in it.
struct Env {
    /// The network's top level: the only place for `aux_head` and `last`.
    top: bool,
    /// Whether time steps run here, the only place for recurrent items.
    steps: Here,
    /// What auxiliary heads must produce.
    net_output: Option<usize>,
}

/// How the time steps of a sequence stand where an item list sits.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Here {
    /// A vector or image network: there are none.
    NoSequence,
    /// A sequence network before `last` (all through, with outputs per step),
    /// and the bodies of the blocks there that pass the steps on.
    Running,
    /// After `last`: one vector per sample.
    Reduced,
    /// The body of this block, which does not run its body over the steps.
    Blocked(&'static str),
}

/// Checks an item list starting from width `input` (`None`: unknown after an
/// earlier mistake). Returns the list when every item resolved, and the width
/// it ends with, if known.
fn list(cx: &Ctxt, items: &parse::Items, input: Option<Dims>, env: &Env, what: &str) -> (Option<List>, Option<Dims>) {
    if items.list.is_empty() {
        cx.error(items.span, format!("empty {what}: it needs at least one item, such as `dense(16)` or `relu`"));
        return (None, None);
    }
    let mut chain = Chain::new(input);
    for item in &items.list {
        let (node, out) = resolve(cx, item, chain.width, env);
        chain.push(node, out);
    }
    chain.finish()
}

/// An item list being checked: the nodes so far (`None` after a mistake) and
/// the width reached (`None` when unknown).
struct Chain {
    input: Option<Dims>,
    nodes: Option<Vec<Node>>,
    width: Option<Dims>,
}

impl Chain {
    fn new(input: Option<Dims>) -> Self {
        Chain { input, nodes: Some(Vec::new()), width: input }
    }

    fn push(&mut self, node: Option<Node>, out: Option<Dims>) {
        match (node, &mut self.nodes) {
            (Some(n), Some(v)) => v.push(n),
            _ => self.nodes = None,
        }
        self.width = out;
    }

    /// The list, with the default initializers chosen, if every item resolved.
    fn finish(self) -> (Option<List>, Option<Dims>) {
        let list = match (self.nodes, self.input, self.width) {
            (Some(mut items), Some(_), Some(output)) => {
                default_inits(&mut items);
                Some(List { items, output })
            }
            _ => None,
        };
        (list, self.width)
    }
}

/// Gives every `init` left to the default-init rule the initializer that
/// suits the item after it (looking past normalization and dropout): He for
/// the ReLU family, LeCun normal for SELU, Xavier otherwise.
fn default_inits(items: &mut [Node]) {
    for i in 0..items.len() {
        let next = items[i + 1..].iter().map(|n| n.item).find(|item| !item.transparent_for_init);
        let chosen = next.map_or(Family::Other, |item| item.family).init_before();
        for init in items[i].rule_inits() {
            *init = InitVal::of(chosen, true);
        }
    }
}

/// Resolves one item at input shape `n`: its node (when everything about it
/// is right and `n` is known) and its output shape (when known).
fn resolve(cx: &Ctxt, item: &parse::Item, n: Option<Dims>, env: &Env) -> (Option<Node>, Option<Dims>) {
    let name = item.name.to_string();
    let span = item.name.span();
    if name == items::BRANCH {
        cx.error(span, "`branch { .. }` can only appear directly inside `parallel { .. }`");
        return (None, None);
    }
    let Some(def) = items::find(&name) else {
        let names = items::names();
        cx.error(span, format!("unknown layer `{name}`{}", hint(&name, &names)));
        // A typo of an item that keeps the width most likely keeps it too:
        // going on with `n` lets later width errors still be found.
        let keeps_width = closest(&name, &names).and_then(items::find).is_some_and(Item::keeps_width);
        return (None, n.filter(|_| keeps_width));
    };
    let placed = match def.place {
        Place::Steps => env.steps == Here::Running,
        Place::Sequence => env.top && env.steps == Here::Running,
        Place::Anywhere | Place::TopLevel => true,
    };
    if !placed {
        seq::misplaced(cx, item, def, env);
        return (None, n.filter(|_| def.form == Form::Last));
    }
    if let Some(problem) = seq::tokens_mismatch(def, n) {
        cx.error(span, problem);
        return (None, None);
    }
    let body = match (def.body, &item.body) {
        (Body::List | Body::Branches, None) => {
            cx.error(span, format!("`{name}` needs a body: `{}`", def.example));
            return (None, None);
        }
        (Body::None, Some(b)) => {
            cx.error(b.span, format!("`{name}` takes no `{{ .. }}` body"));
            None
        }
        (_, body) => body.as_ref(),
    };
    let Some(bound) = bind(cx, &item.name, def.name, def.options, item.args.as_ref(), def.example) else {
        return (None, n.filter(|_| def.keeps_width()));
    };
    let args = bound.values(cx);
    let node = |input: Dims, output: Dims, bodies: Vec<List>| -> Option<Node> {
        let args = args.iter().cloned().collect::<Option<Vec<Val>>>()?;
        Some(Node { item: def, args, bodies, input, output })
    };
    // An option's value; `None` when it is wrong, or when the item has no such option.
    let value = |name: &str| def.options.iter().position(|o| o.name == name).and_then(|i| args[i].clone());
    let count = |name: &str| match value(name) {
        Some(Val::Count(c)) => Some(c),
        _ => None,
    };

    let (node, out) = match def.form {
        _ if def.needs == Needs::Image => {
            let window = [count("kernel"), count("stride"), count("padding")];
            let shapes = image_layer(cx, item, def, &bound, count("out"), window, n);
            (shapes.and_then(|(input, output)| node(input, output, Vec::new())), shapes.map(|(_, output)| output))
        }
        Form::Activation | Form::Prelu | Form::BatchNorm | Form::LayerNorm | Form::Dropout | Form::Last => {
            (n.and_then(|n| node(n, n, Vec::new())), n)
        }
        // The output is as wide as the item's width option says.
        Form::Dense | Form::Recurrent { .. } | Form::Embedding => {
            let width = def.options.iter().find(|o| o.ty == Ty::Width).expect("the item has a width");
            let out = count(width.name).map(Dims::Vector);
            (n.zip(out).and_then(|(n, out)| node(n, out, Vec::new())), out)
        }
        _ => {
            let body = body.expect("a block without a body returned above");
            let (bodies, out) = block(cx, item, def, &bound, &value, body, n, env);
            (bodies.zip(n).zip(out).and_then(|((bodies, n), out)| node(n, out, bodies)), out)
        }
    };
    match (def.needs, n) {
        // After an image, an item that needs vectors still gives its width, for the items after it.
        (Needs::Vector, Some(image @ Dims::Image { c, .. })) if out.is_some() => {
            cx.error(
                span,
                format!(
                    "`{name}` needs a vector input, but gets the image {image}; write `flatten` (width {}) or \
                     `global_avg_pool` (width {c}) before it",
                    image.len()
                ),
            );
            (None, out)
        }
        _ => (node, out),
    }
}

/// Checks a block (an item with a body) at input shape `n`: the checked
/// bodies (when they all resolved) and the block's output shape.
#[allow(clippy::too_many_arguments)]
fn block(
    cx: &Ctxt,
    item: &parse::Item,
    def: &'static Item,
    bound: &Bound,
    value: &dyn Fn(&str) -> Option<Val>,
    body: &parse::Items,
    n: Option<Dims>,
    env: &Env,
) -> (Option<Vec<List>>, Option<Dims>) {
    let span = item.name.span();
    let layer = def.name;
    let steps = match env.steps {
        Here::Running if def.passes_steps => Here::Running,
        Here::Running => Here::Blocked(layer),
        other => other,
    };
    let inner = Env { top: false, steps, net_output: env.net_output };
    let what = format!("`{layer}` body");
    let one = |list: Option<List>| list.map(|l| vec![l]);
    match def.form {
        Form::Residual if bound.present("projection") => {
            let (list, m) = list(cx, body, n, &inner, &what);
            (one(list), m)
        }
        Form::Residual | Form::Highway => {
            let (list, m) = list(cx, body, n, &inner, &what);
            if let (Some(n), Some(m)) = (n, m) {
                if n != m {
                    let fix = if def.form == Form::Residual && matches!(n, Dims::Image { .. }) {
                        format!("y = x + body(x) needs the same shape; end the body with a `conv2d` that gives {n}")
                    } else if def.form == Form::Residual {
                        format!(
                            "y = x + body(x) needs the same width; write `residual(projection) {{ .. }}` to add a \
                             learned projection of x, or end the body with `dense({n})`"
                        )
                    } else {
                        format!(
                            "the gate mixes x and body(x), which needs the same width; end the body with `dense({n})`"
                        )
                    };
                    cx.error(span, format!("`{layer}` body changes the width from {n} to {m}: {fix}"));
                    return (None, Some(n));
                }
            }
            (one(list), n)
        }
        Form::Concat => {
            let (list, m) = list(cx, body, n, &inner, &what);
            let out = match (n, m) {
                (Some(n), Some(m)) => join(cx, span, layer, &[("the input", n), ("the body", m)]),
                _ => None,
            };
            (one(list), out)
        }
        Form::Parallel => parallel(cx, body, n, &inner, span),
        Form::Bidirectional => {
            if !seq::one_recurrent_item(cx, body) {
                return (None, None);
            }
            let (list, m) = list(cx, body, n, &inner, &what);
            (one(list), m.map(|m| Dims::Vector(2 * m.len())))
        }
        Form::AuxHead => {
            if !env.top {
                cx.error(
                    span,
                    "`aux_head` can only appear at the top level of a network, where the trainer finds its \
                     heads; move it out of the enclosing block",
                );
            }
            let (list, m) = list(cx, body, n, &inner, &what);
            if let (Some(m), Some(out)) = (m, env.net_output) {
                if m != Dims::Vector(out) {
                    cx.error(
                        span,
                        format!(
                            "`aux_head` body ends with width {m} but the network's output width is {out}: an \
                             auxiliary head predicts the network's targets, so end its body with `dense({out})`"
                        ),
                    );
                    return (None, n);
                }
            }
            (one(list).filter(|_| env.top), n)
        }
        Form::Repeat => {
            let k = match value("k") {
                Some(Val::Count(k)) => Some(k),
                _ => None,
            };
            let (list, m) = list(cx, body, n, &inner, &what);
            if let (Some(k @ 2..), Some(n), Some(m)) = (k, n, m) {
                if n != m {
                    cx.error(
                        span,
                        format!(
                            "`repeat({k})` chains {k} copies of its body, so the body must keep its width, but it \
                             maps {n} -> {m}; end the body with `dense({n})`"
                        ),
                    );
                    return (None, Some(m));
                }
            }
            (one(list).filter(|_| k.is_some()), m)
        }
        _ => unreachable!("every item without a body is handled by `resolve`"),
    }
}

fn parallel(
    cx: &Ctxt,
    body: &parse::Items,
    n: Option<Dims>,
    inner: &Env,
    parallel_span: Span,
) -> (Option<Vec<List>>, Option<Dims>) {
    if body.list.is_empty() {
        cx.error(body.span, "empty `parallel`: it needs at least one `branch { .. }`");
        return (None, None);
    }
    let max = items::MAX_BRANCHES;
    if body.list.len() > max {
        cx.error(body.list[max].name.span(), format!("`parallel` takes at most {max} branches"));
    }
    let mut lists = Some(Vec::new());
    let mut outputs = Some(Vec::new());
    for b in &body.list {
        // Only checks that this is a `branch` with a body and no arguments.
        branch_head(cx, b);
        let (list, m) = match &b.body {
            Some(items) => list(cx, items, n, inner, "`branch` body"),
            None => (None, None),
        };
        match (list, &mut lists) {
            (Some(l), Some(v)) => v.push(l),
            _ => lists = None,
        }
        match (m, &mut outputs) {
            (Some(m), Some(v)) => v.push(m),
            _ => outputs = None,
        }
    }
    let total = outputs.and_then(|outputs| {
        let labels: Vec<String> = (0..outputs.len()).map(|i| format!("branch {i}")).collect();
        let parts: Vec<(&str, Dims)> = labels.iter().map(String::as_str).zip(outputs).collect();
        join(cx, parallel_span, "parallel", &parts)
    });
    (lists.filter(|_| body.list.len() <= max), total)
}

/// The shape of `parts` stacked along their rows: widths add up, images
/// concatenate channels (which needs the same height and width).
fn join(cx: &Ctxt, span: Span, layer: &str, parts: &[(&str, Dims)]) -> Option<Dims> {
    let listing = || parts.iter().map(|(what, d)| format!("{what} gives {d}")).collect::<Vec<_>>().join(", ");
    match parts[0].1 {
        Dims::Vector(_) if parts.iter().all(|(_, d)| matches!(d, Dims::Vector(_))) => {
            Some(Dims::Vector(parts.iter().map(|(_, d)| d.len()).sum()))
        }
        Dims::Image { h, w, .. }
            if parts.iter().all(|(_, d)| matches!(*d, Dims::Image { h: h2, w: w2, .. } if (h2, w2) == (h, w))) =>
        {
            let c = parts.iter().map(|(_, d)| d.channels()).sum();
            Some(Dims::Image { c, h, w })
        }
        _ if parts.iter().all(|(_, d)| matches!(d, Dims::Image { .. })) => {
            cx.error(
                span,
                format!(
                    "`{layer}` concatenates images along channels, so every part must have the same height and \
                     width, but {}; use `padding = kernel / 2` with stride 1 in every convolution, or the same \
                     pooling in every part",
                    listing()
                ),
            );
            None
        }
        _ => {
            cx.error(
                span,
                format!(
                    "`{layer}` cannot stack vectors and images: {}; write `flatten` or `global_avg_pool` at the \
                     end of the image parts",
                    listing()
                ),
            );
            None
        }
    }
}

/// Checks an image item (`conv2d`, the pools, `global_avg_pool`, `flatten`)
/// at input shape `n`, given its output channels, kernel, stride and padding
/// where it has them (`None` when missing or invalid). Returns its input and
/// output shapes when both are known.
fn image_layer(
    cx: &Ctxt,
    item: &parse::Item,
    def: &'static Item,
    bound: &Bound,
    out: Option<usize>,
    [kernel, stride, padding]: [Option<usize>; 3],
    n: Option<Dims>,
) -> Option<(Dims, Dims)> {
    let layer = def.name;
    let windowed = matches!(def.form, Form::Conv2d | Form::MaxPool | Form::AvgPool);
    let mut ok = !windowed || (kernel.is_some() && stride.is_some() && padding.is_some());
    if let (Form::MaxPool | Form::AvgPool, Some(k), Some(p)) = (def.form, kernel, padding) {
        if 2 * p > k {
            cx.error(
                bound.span("padding"),
                format!("`padding` of `{layer}` must be at most half the kernel ({}), found {p}", k / 2),
            );
            ok = false;
        }
    }
    let (c, h, w) = match n {
        Some(Dims::Image { c, h, w }) => (c, h, w),
        Some(v @ (Dims::Vector(_) | Dims::Tokens(_))) => {
            cx.error(
                item.name.span(),
                format!(
                    "`{layer}` needs an image input `(C, H, W)`, but gets a vector of width {v}; image layers \
                     belong in a network declared with an image input, such as `(1, 8, 8) -> 10`"
                ),
            );
            return None;
        }
        None => return None,
    };
    let input = Dims::Image { c, h, w };
    match def.form {
        Form::Flatten => return Some((input, Dims::Vector(c * h * w))),
        Form::GlobalAvgPool => return Some((input, Dims::Vector(c))),
        _ => {}
    }
    let (Some(kernel), Some(stride), Some(padding)) = (kernel, stride, padding) else { return None };
    if !ok {
        return None;
    }
    if kernel > h + 2 * padding || kernel > w + 2 * padding {
        cx.error(
            bound.span("kernel"),
            format!(
                "`{layer}` kernel {kernel} is larger than its padded input: {h} x {w} with padding {padding} is \
                 {} x {}; use a smaller kernel or more padding",
                h + 2 * padding,
                w + 2 * padding
            ),
        );
        return None;
    }
    let (h2, w2) = (items::window_out(h, kernel, stride, padding), items::window_out(w, kernel, stride, padding));
    let channels = match def.form {
        Form::Conv2d => out?,
        _ => c,
    };
    Some((input, Dims::Image { c: channels, h: h2, w: w2 }))
}

fn branch_head(cx: &Ctxt, b: &parse::Item) {
    let name = b.name.to_string();
    if name != items::BRANCH {
        let message = if items::find(&name).is_some() {
            format!("`parallel` holds only branches; wrap `{name}` in one: `branch {{ {name}(..) }}`")
        } else {
            format!("expected `branch`, found `{name}`{}", hint(&name, &[items::BRANCH]))
        };
        cx.error(b.name.span(), message);
        return;
    }
    if let Some(args) = &b.args {
        cx.error(args.span, "`branch` takes no arguments");
    }
    if b.body.is_none() {
        cx.error(b.name.span(), "`branch` needs a body: `branch { dense(32), relu }`");
    }
}

/// Arguments matched to an item's or initializer's options.
struct Bound<'a> {
    name: &'static str,
    options: &'static [Opt],
    values: Vec<Option<&'a Value>>,
    /// Where to point when an option has no value of its own.
    fallback: Span,
}

/// Matches positional and named arguments to `options`, reporting unknown,
/// duplicate, surplus, missing and mistyped ones. `None` if any was wrong.
fn bind<'a>(
    cx: &Ctxt,
    ident: &Ident,
    name: &'static str,
    options: &'static [Opt],
    args: Option<&'a Args>,
    example: &str,
) -> Option<Bound<'a>> {
    let mut values: Vec<Option<&'a Value>> = vec![None; options.len()];
    let mut ok = true;
    let list = args.map(|a| a.list.as_slice()).unwrap_or_default();
    for (i, arg) in list.iter().enumerate() {
        let slot = match &arg.key {
            None if i < options.len() => i,
            None => {
                let message = if options.is_empty() {
                    format!("`{name}` takes no arguments; write `{name}`")
                } else {
                    format!(
                        "`{name}` takes at most {} argument{} ({}), found {}",
                        options.len(),
                        if options.len() == 1 { "" } else { "s" },
                        options.iter().map(|o| o.name).collect::<Vec<_>>().join(", "),
                        list.len()
                    )
                };
                cx.error(arg.value.span(), message);
                ok = false;
                break;
            }
            Some(key) => {
                let key_s = key.to_string();
                match options.iter().position(|o| o.name == key_s) {
                    Some(slot) => slot,
                    None => {
                        let names: Vec<&str> = options.iter().map(|o| o.name).collect();
                        let message = if options.is_empty() {
                            format!("`{name}` takes no options, found `{key_s}`")
                        } else {
                            format!("`{name}` has no option `{key_s}`{}", hint(&key_s, &names))
                        };
                        cx.error(key.span(), message);
                        ok = false;
                        continue;
                    }
                }
            }
        };
        if values[slot].is_some() {
            let at = arg.key.as_ref().map(|k| k.span()).unwrap_or_else(|| arg.value.span());
            cx.error(at, format!("option `{}` of `{name}` is given twice", options[slot].name));
            ok = false;
            continue;
        }
        if !type_ok(cx, name, &options[slot], &arg.value) {
            ok = false;
        }
        values[slot] = Some(&arg.value);
    }
    for (o, v) in options.iter().zip(&values) {
        if v.is_none() && o.is_required() && ok {
            let example = if example.is_empty() { String::new() } else { format!(", as in `{example}`") };
            let at = args.map(|a| a.span).unwrap_or_else(|| ident.span());
            cx.error(at, format!("`{name}` needs its `{}` argument{example}", o.name));
            ok = false;
        }
    }
    ok.then(|| Bound { name, options, values, fallback: ident.span() })
}

/// Checks a value against its option's type, reporting a mismatch.
fn type_ok(cx: &Ctxt, name: &str, o: &Opt, v: &Value) -> bool {
    let ok = match (o.ty, v) {
        (Ty::Width | Ty::Count, Value::Number { integer: Some(_), .. }) => true,
        (Ty::Real, Value::Number { value, .. }) => value.is_finite(),
        (Ty::Bool, Value::Bool(_)) => true,
        (Ty::Init, Value::Name { .. }) => true,
        (Ty::Keyword, Value::Name { name, args: None }) => name == o.name,
        _ => false,
    };
    if !ok {
        let expected = match o.ty {
            Ty::Width | Ty::Count => "a whole number".to_string(),
            Ty::Real => "a finite number".to_string(),
            Ty::Bool => "`true` or `false`".to_string(),
            Ty::Init => "an initializer such as `he_normal`".to_string(),
            Ty::Keyword => format!("`{}`", o.name),
        };
        cx.error(v.span(), format!("`{}` of `{name}` must be {expected}, found {}", o.name, v.describe()));
    }
    ok
}

impl<'a> Bound<'a> {
    fn slot(&self, option: &str) -> usize {
        self.options.iter().position(|o| o.name == option).expect("the option exists")
    }

    fn present(&self, option: &str) -> bool {
        self.values[self.slot(option)].is_some()
    }

    fn span(&self, option: &str) -> Span {
        self.values[self.slot(option)].map(Value::span).unwrap_or(self.fallback)
    }

    /// Every option's value, defaults applied, each `None` where it is out of
    /// range or names a wrong initializer (reported here).
    fn values(&self, cx: &Ctxt) -> Vec<Option<Val>> {
        let mut vals: Vec<Option<Val>> =
            self.options.iter().zip(&self.values).map(|(o, v)| self.value(cx, o, *v)).collect();
        for (i, o) in self.options.iter().enumerate() {
            if let (DefaultValue::SameAs(other), None) = (o.default, self.values[i]) {
                vals[i] = vals[self.slot(other)].clone();
            }
        }
        vals
    }

    fn value(&self, cx: &Ctxt, o: &Opt, given: Option<&Value>) -> Option<Val> {
        let Some(v) = given else {
            return Some(match o.default {
                DefaultValue::Real(d) => Val::Real(d),
                DefaultValue::Bool(d) => Val::Flag(d),
                DefaultValue::Count(d) => Val::Count(d as usize),
                DefaultValue::Init(r) => Val::Init(InitVal::of(r, false)),
                // Chosen once the list is known (`default_inits`).
                DefaultValue::FromNext => Val::Init(InitVal::of(Family::Other.init_before(), true)),
                DefaultValue::Absent => Val::Absent,
                DefaultValue::Required | DefaultValue::SameAs(_) => return None,
            });
        };
        let (number, found) = match v {
            Value::Number { value, integer: Some(i), .. } if matches!(o.ty, Ty::Width | Ty::Count) => {
                (*value, i.to_string())
            }
            Value::Number { value, .. } => (*value, v.describe()),
            Value::Bool(b) => return Some(Val::Flag(b.value)),
            Value::Name { name, args } if o.ty == Ty::Init => {
                return initializer(cx, name, args.as_ref()).map(Val::Init)
            }
            Value::Name { .. } => return Some(Val::Flag(true)),
        };
        if !o.range.admits(number) {
            let template = o.out_of_range.unwrap_or("`{option}` of `{item}` must be {range}, found {found}");
            let message = template
                .replace("{option}", o.name)
                .replace("{item}", self.name)
                .replace("{range}", o.range.text())
                .replace("{found}", &found);
            cx.error(v.span(), message);
            return None;
        }
        Some(match o.ty {
            Ty::Width | Ty::Count => Val::Count(number as usize),
            _ => Val::Real(number),
        })
    }
}

/// Resolves `init = name` or `init = name(args)`.
fn initializer(cx: &Ctxt, name: &Ident, args: Option<&Args>) -> Option<InitVal> {
    let s = name.to_string();
    let Some(init) = items::find_initializer(&s) else {
        cx.error(name.span(), format!("unknown initializer `{s}`{}", hint(&s, &items::initializer_names())));
        return None;
    };
    let bound = bind(cx, name, init.name, init.options, args, init.example)?;
    let args = bound
        .values(cx)
        .into_iter()
        .map(|v| match v {
            Some(Val::Real(r)) => Some(r),
            _ => None,
        })
        .collect::<Option<Vec<f64>>>()?;
    Some(InitVal { name: init.name, args, by_rule: false })
}

#[cfg(test)]
mod tests {
    use proc_macro2::TokenStream;
    use quote::quote;

    use super::*;

    /// Checks one network: the top-level items as (name, in, out) and the error messages.
    fn check(tokens: TokenStream) -> (Vec<(&'static str, usize, usize)>, Vec<String>) {
        let input: parse::Input = syn::parse2(tokens).expect("parses");
        let cx = Ctxt::new();
        let net = network(&cx, &input.networks[0]);
        let widths = net
            .map(|n| n.body.items.iter().map(|i| (i.item.name, i.input.len(), i.output.len())).collect())
            .unwrap_or_default();
        let errors = cx.check().err().map(|e| e.into_iter().map(|e| e.to_string()).collect()).unwrap_or_default();
        (widths, errors)
    }

    #[test]
    fn widths_follow_every_block_kind() {
        let (widths, errors) = check(quote! {
            struct N(4 -> 3) {
                dense(8), relu,
                residual { dense(8) },
                residual(projection) { dense(6) },
                highway { dense(6), tanh },
                concat { dense(2) },
                parallel { branch { dense(3) }, branch { dense(4), relu } },
                aux_head(weight = 1) { dense(3) },
                repeat(2) { dense(7), relu },
                repeat(1) { dense(5) },
                dense(3),
            }
        });
        assert_eq!(errors, Vec::<String>::new());
        assert_eq!(
            widths,
            [
                ("dense", 4, 8),
                ("relu", 8, 8),
                ("residual", 8, 8),
                ("residual", 8, 6),
                ("highway", 6, 6),
                ("concat", 6, 8),
                ("parallel", 8, 7),
                ("aux_head", 7, 7),
                ("repeat", 7, 7),
                ("repeat", 7, 5),
                ("dense", 5, 3),
            ]
        );
    }

    #[test]
    fn default_init_follows_the_next_activation() {
        let input: parse::Input = syn::parse2(quote! {
            struct N(4 -> 2) {
                dense(8), batch_norm, relu,
                dense(8), dropout(0.1), selu,
                dense(8), tanh,
                dense(8, init = zeros), relu,
                dense(8), layer_norm, gelu,
                dense(8), sigmoid,
                dense(2),
            }
        })
        .unwrap();
        let cx = Ctxt::new();
        let net = network(&cx, &input.networks[0]).unwrap();
        cx.check().unwrap();
        let inits: Vec<(&str, bool)> = net
            .body
            .items
            .iter()
            .filter(|n| n.item.name == "dense")
            .map(|n| (n.init("init").name, n.init("init").by_rule))
            .collect();
        assert_eq!(
            inits,
            [
                ("he_normal", true),
                ("lecun_normal", true),
                ("xavier_uniform", true),
                ("zeros", false),
                ("he_normal", true),
                ("xavier_uniform", true),
                ("xavier_uniform", true),
            ]
        );
    }

    #[test]
    fn every_mistake_is_reported_once_with_the_known_width() {
        let (_, errors) = check(quote! {
            struct N(4 -> 2) {
                dense(8), rleu,
                residual { dense(3) },
                dense(5),
            }
        });
        assert_eq!(errors.len(), 3, "{errors:#?}");
        assert!(errors[0].contains("did you mean `relu`"));
        assert!(errors[1].contains("from 8 to 3"));
        assert!(errors[2].contains("declares output width 2 but its last layer gives width 5"));
    }

    #[test]
    fn an_unknown_width_silences_width_errors_until_a_dense() {
        let (_, errors) = check(quote! {
            struct N(4 -> 2) {
                conv9000(3),
                residual { dense(3) },
                dense(2),
            }
        });
        assert_eq!(errors.len(), 1, "{errors:#?}");
        assert!(errors[0].starts_with("unknown layer `conv9000`"));
    }

    #[test]
    fn arguments_bind_by_position_and_name() {
        let (widths, errors) = check(quote! {
            struct N(4 -> 2) { dense(out = 3, bias = false), leaky_relu(0.2), dropout(p = 0.5), dense(2, he_normal) }
        });
        assert_eq!(errors, Vec::<String>::new());
        assert_eq!(widths.len(), 4);
        let (_, errors) = check(quote! { struct N(4 -> 2) { dense(2, bias = 1) } });
        assert_eq!(errors, ["`bias` of `dense` must be `true` or `false`, found `1`"]);
    }

    #[test]
    fn initializer_scales_must_be_positive() {
        let (_, errors) = check(quote! {
            struct N(4 -> 2) {
                dense(4, init = normal(-0.1)), dense(4, init = uniform(0)), dense(4, init = orthogonal(gain = 0)),
                dense(4, init = normal(0.02)), dense(4, init = uniform(a = 1e-3)), dense(4, init = constant(-1)),
                dense(2, init = orthogonal(gain = 0.5)),
            }
        });
        assert_eq!(errors.len(), 3, "{errors:#?}");
        assert!(errors[0]
            .starts_with("`normal(std)` draws weights from N(0, std^2), so `std` must be in (0, inf), found `-0.1`"));
        assert!(
            errors[1].starts_with("`uniform(a)` draws weights from U(-a, a), so `a` must be in (0, inf), found `0`")
        );
        assert!(errors[2].starts_with("`gain` of `orthogonal` scales a random orthogonal matrix Q"));
        assert!(errors[2].contains("found `0`"), "{}", errors[2]);
    }

    #[test]
    fn options_are_read_by_name_with_their_defaults() {
        let input: parse::Input = syn::parse2(quote! {
            struct N((2, 8, 8) -> 3) {
                conv2d(4, kernel = 3, bias = false), max_pool(2), avg_pool(kernel = 3, stride = 1, padding = 1),
                flatten, dense(3),
            }
        })
        .unwrap();
        let cx = Ctxt::new();
        let net = network(&cx, &input.networks[0]).unwrap();
        cx.check().unwrap();
        let items = &net.body.items;
        assert_eq!((items[0].window(), items[0].flag("bias")), ([3, 1, 0], false));
        assert_eq!(items[0].output, Dims::Image { c: 4, h: 6, w: 6 });
        // A pool's stride is its kernel unless given.
        assert_eq!((items[1].window(), items[1].output), ([2, 2, 0], Dims::Image { c: 4, h: 3, w: 3 }));
        assert_eq!((items[2].window(), items[2].output), ([3, 1, 1], Dims::Image { c: 4, h: 3, w: 3 }));
    }
}
