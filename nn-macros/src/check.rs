//! Shape inference (vector widths and `(C, H, W)` images) and every validation. Errors go into the [`Ctxt`]; after a
//! mistake the check goes on (with the width a block keeps, or with the width
//! unknown until the next `dense` fixes it), so one build reports every
//! mistake, and a width is only complained about when it is known.

use proc_macro2::Span;
use syn::Ident;

use crate::ast::{Act, Dims, Init, Kind, List, Net, Node, Window};
use crate::ctxt::Ctxt;
use crate::names::{self, Param, Ty};
use crate::parse::{self, Args, Shape, Value};
use crate::suggest::{closest, hint};

mod seq;

/// Checks one network. Returns the checked tree when everything resolved; when
/// `cx` holds errors the tree may be missing items and must not be generated.
pub fn network<'a>(cx: &Ctxt, src: &'a parse::Network) -> Option<Net<'a>> {
    let input = match &src.input {
        Shape::Vector(w) | Shape::Seq { width: w, .. } => positive(cx, w, "input width").map(Dims::Vector),
        Shape::Image { channels, height, width, .. } => {
            let c = positive(cx, channels, "input channel count");
            let h = positive(cx, height, "input height");
            let w = positive(cx, width, "input width");
            Some(Dims::Image { c: c?, h: h?, w: w? })
        }
    };
    let output = positive(cx, &src.output, "output width");
    let env = Env { top: true, net_output: output };
    let what = format!("network `{}`", src.ident);
    let (body, last) = match &src.input {
        Shape::Seq { keyword, .. } => seq::items(cx, src, *keyword, input, &env),
        _ => list(cx, &src.items, input, &env, &what),
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
    Some(Net { src, input: input?, output: output?, body: body? })
}

/// The width `declared` reads as, for the fallback struct after errors: what
/// the user wrote, even when it is invalid.
pub fn declared_input(shape: &Shape) -> u64 {
    match shape {
        Shape::Vector(w) | Shape::Seq { width: w, .. } => w.value,
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
    /// The network's top level: the only place for `aux_head`.
    top: bool,
    /// What auxiliary heads must produce.
    net_output: Option<usize>,
}

/// Checks an item list starting from width `input` (`None`: unknown after an
/// earlier mistake). Returns the list when every item resolved, and the width
/// it ends with, if known.
fn list(cx: &Ctxt, items: &parse::Items, input: Option<Dims>, env: &Env, what: &str) -> (Option<List>, Option<Dims>) {
    if items.list.is_empty() {
        cx.error(items.span, format!("empty {what}: it needs at least one item, such as `dense(16)` or `relu`"));
        return (None, None);
    }
    let mut width = input;
    let mut nodes = Some(Vec::new());
    for item in &items.list {
        let (node, out) = resolve(cx, item, width, env);
        match (node, &mut nodes) {
            (Some(n), Some(v)) => v.push(n),
            _ => nodes = None,
        }
        width = out;
    }
    let list = match (nodes, input, width) {
        (Some(mut items), Some(input), Some(output)) => {
            default_inits(&mut items);
            Some(List { items, input, output })
        }
        _ => None,
    };
    (list, width)
}

/// Gives every `dense` and `conv2d` without `init = ...` the initializer that suits the
/// activation that follows it (looking through normalization and dropout):
/// He for the ReLU family, LeCun normal for SELU, Xavier otherwise.
fn default_inits(items: &mut [Node]) {
    for i in 0..items.len() {
        if !matches!(
            items[i].kind,
            Kind::Dense { init_is_default: true, .. } | Kind::Conv2d { init_is_default: true, .. }
        ) {
            continue;
        }
        let next = items[i + 1..].iter().map(|n| n.name).find(|n| !names::TRANSPARENT_FOR_INIT.contains(n));
        let chosen = match next {
            Some(n) if names::RELU_FAMILY.contains(&n) => Init::HeNormal,
            Some(names::SELU) => Init::LecunNormal,
            _ => Init::XavierUniform,
        };
        if let Kind::Dense { init, .. } | Kind::Conv2d { init, .. } = &mut items[i].kind {
            *init = chosen;
        }
    }
}

/// Resolves one item at input width `n`: its node (when everything about it is
/// right and `n` is known) and its output width (when known).
fn resolve(cx: &Ctxt, item: &parse::Item, n: Option<Dims>, env: &Env) -> (Option<Node>, Option<Dims>) {
    let name = item.name.to_string();
    let span = item.name.span();
    if name == names::BRANCH {
        cx.error(span, "`branch { .. }` can only appear directly inside `parallel { .. }`");
        return (None, None);
    }
    let Some(&layer) = names::LAYERS.iter().find(|l| **l == name) else {
        cx.error(span, format!("unknown layer `{name}`{}", hint(&name, names::LAYERS)));
        // A typo of a layer that keeps the width most likely keeps it too:
        // going on with `n` lets later width errors still be found.
        let keeps_width = closest(&name, names::LAYERS).is_some_and(|l| names::KEEPS_WIDTH.contains(&l));
        return (None, n.filter(|_| keeps_width));
    };
    if names::RECURRENT.contains(&layer) || layer == names::LAST {
        seq::misplaced(cx, item, layer, env);
        return (None, if layer == names::LAST { n } else { None });
    }
    let body = match (names::takes_body(layer), &item.body) {
        (true, None) => {
            cx.error(span, format!("`{layer}` needs a body: `{}`", names::example(layer)));
            return (None, None);
        }
        (false, Some(b)) => {
            cx.error(b.span, format!("`{layer}` takes no `{{ .. }}` body"));
            None
        }
        (_, body) => body.as_ref(),
    };
    let Some(args) = bind(cx, &item.name, layer, names::layer_params(layer), item.args.as_ref()) else {
        return (None, n.filter(|_| names::KEEPS_WIDTH.contains(&layer)));
    };
    let node = |kind, input, output| Node { kind, name: layer, input, output };
    let same = |kind: Kind| (n.map(|n| node(kind, n, n)), n);

    match layer {
        names::DENSE => {
            let out = args.count(0).and_then(|w| width(cx, w, &args, 0));
            let init = args.init(cx, 1);
            let bias = args.bool(2).unwrap_or(true);
            let (Some(out), Some(init)) = (out, init) else { return (None, out.map(Dims::Vector)) };
            let kind =
                Kind::Dense { out, init: init.unwrap_or(Init::XavierUniform), init_is_default: init.is_none(), bias };
            let out = Dims::Vector(out);
            if let Some(image @ Dims::Image { c, .. }) = n {
                cx.error(
                    span,
                    format!(
                        "`dense` needs a vector input, but gets the image {image}; write `flatten` (width {}) or \
                         `global_avg_pool` (width {c}) before it",
                        image.len()
                    ),
                );
                return (None, Some(out));
            }
            (n.map(|n| node(kind, n, out)), Some(out))
        }
        _ if names::IMAGE_LAYERS.contains(&layer) => image_layer(cx, item, layer, &args, n),
        names::IDENTITY => same(Kind::Activation(Act::Identity)),
        names::SIGMOID => same(Kind::Activation(Act::Sigmoid)),
        names::TANH => same(Kind::Activation(Act::Tanh)),
        names::RELU => same(Kind::Activation(Act::Relu)),
        names::SELU => same(Kind::Activation(Act::Selu)),
        names::GELU => same(Kind::Activation(Act::Gelu)),
        names::SWISH | names::SILU => same(Kind::Activation(Act::Swish)),
        names::MISH => same(Kind::Activation(Act::Mish)),
        names::SOFTPLUS => same(Kind::Activation(Act::Softplus)),
        names::LEAKY_RELU => match args.real(0, 0.01) {
            Some(slope) => same(Kind::Activation(Act::LeakyRelu { slope })),
            None => (None, n),
        },
        names::ELU => match args.real(0, 1.0) {
            Some(alpha) => same(Kind::Activation(Act::Elu { alpha })),
            None => (None, n),
        },
        names::PRELU => match args.real(0, 0.25) {
            Some(init) => same(Kind::Prelu { init }),
            None => (None, n),
        },
        names::BATCH_NORM => {
            let momentum = args.real(0, 0.1).filter(|m| in_range(cx, &args, 0, (0.0..=1.0).contains(m), "[0, 1]"));
            let eps = args.real(1, 1e-5).filter(|e| in_range(cx, &args, 1, *e > 0.0, "(0, inf)"));
            match (momentum, eps) {
                (Some(momentum), Some(eps)) => same(Kind::BatchNorm { momentum, eps }),
                _ => (None, n),
            }
        }
        names::LAYER_NORM => match args.real(0, 1e-5).filter(|e| in_range(cx, &args, 0, *e > 0.0, "(0, inf)")) {
            Some(eps) => same(Kind::LayerNorm { eps }),
            None => (None, n),
        },
        names::DROPOUT => {
            let p = args.real(0, 0.0).filter(|p| {
                let ok = (0.0..1.0).contains(p);
                if !ok {
                    cx.error(
                        args.span(0),
                        format!(
                            "dropout probability must be in [0, 1), found {}: it is the share of units zeroed \
                             in training (`dropout(0.1)` drops 10%), and 1 would drop everything",
                            args.text(0)
                        ),
                    );
                }
                ok
            });
            match p {
                Some(p) => same(Kind::Dropout { p }),
                None => (None, n),
            }
        }
        _ => block(cx, item, layer, &args, body.expect("blocks have a body"), n, env),
    }
}

/// Checks a block (an item with a body) at input width `n`.
fn block(
    cx: &Ctxt,
    item: &parse::Item,
    layer: &'static str,
    args: &Bound,
    body: &parse::Items,
    n: Option<Dims>,
    env: &Env,
) -> (Option<Node>, Option<Dims>) {
    let span = item.name.span();
    let inner = Env { top: false, net_output: env.net_output };
    let what = format!("`{layer}` body");
    let node = |kind, input: Option<Dims>, output: Option<Dims>| -> Option<Node> {
        Some(Node { kind, name: layer, input: input?, output: output? })
    };
    match layer {
        names::RESIDUAL if args.present(0) => {
            let (list, m) = list(cx, body, n, &inner, &what);
            (list.and_then(|l| node(Kind::ResidualProjection(l), n, m)), m)
        }
        names::RESIDUAL | names::HIGHWAY => {
            let (list, m) = list(cx, body, n, &inner, &what);
            if let (Some(n), Some(m)) = (n, m) {
                if n != m {
                    let fix = if layer == names::RESIDUAL && matches!(n, Dims::Image { .. }) {
                        format!("y = x + body(x) needs the same shape; end the body with a `conv2d` that gives {n}")
                    } else if layer == names::RESIDUAL {
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
            let kind = |l| if layer == names::RESIDUAL { Kind::Residual(l) } else { Kind::Highway(l) };
            (list.and_then(|l| node(kind(l), n, n)), n)
        }
        names::CONCAT => {
            let (list, m) = list(cx, body, n, &inner, &what);
            let out = match (n, m) {
                (Some(n), Some(m)) => join(cx, span, "concat", &[("the input", n), ("the body", m)]),
                _ => None,
            };
            (list.and_then(|l| node(Kind::Concat(l), n, out)), out)
        }
        names::PARALLEL => parallel(cx, body, n, &inner, span),
        names::AUX_HEAD => {
            if !env.top {
                cx.error(
                    span,
                    "`aux_head` can only appear at the top level of a network, where the trainer finds its \
                     heads; move it out of the enclosing block",
                );
            }
            let weight = args.real(0, 0.0).filter(|w| in_range(cx, args, 0, *w >= 0.0, "[0, inf) (a loss weight)"));
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
            match (weight, list) {
                (Some(weight), Some(body)) if env.top => (node(Kind::AuxHead { weight, body }, n, n), n),
                _ => (None, n),
            }
        }
        names::REPEAT => {
            let k = args.count(0);
            if k == Some(0) {
                cx.error(args.span(0), "`repeat(0)` repeats nothing; write a count of at least 1, or remove the block");
            }
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
            match (k, list) {
                (Some(k @ 1..), Some(body)) => (node(Kind::Repeat { k: k as usize, body }, n, m), m),
                _ => (None, m),
            }
        }
        _ => unreachable!("every layer without a body is handled by `resolve`"),
    }
}

/// Most branches `Parallel` takes (its `Branches` impls cover tuples of 1 to 8).
const MAX_BRANCHES: usize = 8;

fn parallel(
    cx: &Ctxt,
    body: &parse::Items,
    n: Option<Dims>,
    inner: &Env,
    parallel_span: Span,
) -> (Option<Node>, Option<Dims>) {
    if body.list.is_empty() {
        cx.error(body.span, "empty `parallel`: it needs at least one `branch { .. }`");
        return (None, None);
    }
    if body.list.len() > MAX_BRANCHES {
        cx.error(body.list[MAX_BRANCHES].name.span(), format!("`parallel` takes at most {MAX_BRANCHES} branches"));
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
        join(cx, parallel_span, names::PARALLEL, &parts)
    });
    if body.list.len() > MAX_BRANCHES {
        return (None, total);
    }
    let node = match (lists, n, total) {
        (Some(branches), Some(n), Some(total)) => {
            Some(Node { kind: Kind::Parallel(branches), name: names::PARALLEL, input: n, output: total })
        }
        _ => None,
    };
    (node, total)
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
            let c = parts.iter().map(|(_, d)| if let Dims::Image { c, .. } = d { *c } else { 0 }).sum();
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

/// Checks an image layer (`conv2d`, the pools, `flatten`) at input shape `n`.
fn image_layer(
    cx: &Ctxt,
    item: &parse::Item,
    layer: &'static str,
    args: &Bound,
    n: Option<Dims>,
) -> (Option<Node>, Option<Dims>) {
    let span = item.name.span();
    let windowed = args.params.len() >= 3;
    let conv = layer == names::CONV2D;
    // Positions of kernel, stride and padding among the layer's arguments.
    let at = if conv { 1 } else { 0 };
    let out = if conv { args.count(0).and_then(|w| width(cx, w, args, 0)) } else { None };
    // `flatten` and `global_avg_pool` take no arguments.
    let (kernel, stride, padding) =
        if windowed { (args.count(at), args.count(at + 1), args.count(at + 2).unwrap_or(0)) } else { (None, None, 0) };
    let mut ok = true;
    if kernel == Some(0) {
        cx.error(args.span(at), format!("`kernel` of `{layer}` must be at least 1, found 0"));
        ok = false;
    }
    if stride == Some(0) {
        cx.error(
            args.span(at + 1),
            format!("`stride` of `{layer}` must be at least 1, found 0: the window would never move"),
        );
        ok = false;
    }
    let pool = layer == names::MAX_POOL || layer == names::AVG_POOL;
    if let (true, Some(k)) = (pool, kernel) {
        if 2 * padding > k {
            cx.error(
                args.span(at + 2),
                format!("`padding` of `{layer}` must be at most half the kernel ({}), found {padding}", k / 2),
            );
            ok = false;
        }
    }
    let (c, h, w) = match n {
        Some(Dims::Image { c, h, w }) => (c, h, w),
        Some(v @ Dims::Vector(_)) => {
            cx.error(
                span,
                format!(
                    "`{layer}` needs an image input `(C, H, W)`, but gets a vector of width {v}; image layers \
                     belong in a network declared with an image input, such as `(1, 8, 8) -> 10`"
                ),
            );
            return (None, None);
        }
        None => return (None, None),
    };
    let node = |kind, output| (Some(Node { kind, name: layer, input: Dims::Image { c, h, w }, output }), Some(output));
    match layer {
        names::FLATTEN => return node(Kind::Flatten, Dims::Vector(c * h * w)),
        names::GLOBAL_AVG_POOL => return node(Kind::GlobalAvgPool, Dims::Vector(c)),
        _ => {}
    }
    let Some(kernel) = kernel.filter(|_| ok) else { return (None, None) };
    let (kernel, padding) = (kernel as usize, padding as usize);
    if kernel > h + 2 * padding || kernel > w + 2 * padding {
        cx.error(
            args.span(at),
            format!(
                "`{layer}` kernel {kernel} is larger than its padded input: {h} x {w} with padding {padding} is \
                 {} x {}; use a smaller kernel or more padding",
                h + 2 * padding,
                w + 2 * padding
            ),
        );
        return (None, None);
    }
    // As PyTorch (floor): H' = (H + 2P - K) / S + 1.
    let stride = stride.map_or(if conv { 1 } else { kernel }, |s| s as usize);
    let window = Window { kernel, stride, padding };
    let (h2, w2) = ((h + 2 * padding - kernel) / stride + 1, (w + 2 * padding - kernel) / stride + 1);
    match layer {
        names::CONV2D => {
            let init = args.init(cx, 5);
            let bias = args.bool(4).unwrap_or(true);
            let (Some(out), Some(init)) = (out, init) else { return (None, None) };
            let kind = Kind::Conv2d {
                out,
                window,
                init: init.unwrap_or(Init::XavierUniform),
                init_is_default: init.is_none(),
                bias,
            };
            node(kind, Dims::Image { c: out, h: h2, w: w2 })
        }
        names::MAX_POOL => node(Kind::MaxPool(window), Dims::Image { c, h: h2, w: w2 }),
        _ => node(Kind::AvgPool(window), Dims::Image { c, h: h2, w: w2 }),
    }
}

fn branch_head(cx: &Ctxt, b: &parse::Item) {
    let name = b.name.to_string();
    if name != names::BRANCH {
        let (message, span) = if names::LAYERS.contains(&name.as_str()) {
            (format!("`parallel` holds only branches; wrap `{name}` in one: `branch {{ {name}(..) }}`"), b.name.span())
        } else {
            (format!("expected `branch`, found `{name}`{}", hint(&name, &[names::BRANCH])), b.name.span())
        };
        cx.error(span, message);
        return;
    }
    if let Some(args) = &b.args {
        cx.error(args.span, "`branch` takes no arguments");
    }
    if b.body.is_none() {
        cx.error(b.name.span(), format!("`branch` needs a body: `{}`", names::example(names::BRANCH)));
    }
}

fn in_range(cx: &Ctxt, args: &Bound, i: usize, ok: bool, range: &str) -> bool {
    if !ok {
        cx.error(
            args.span(i),
            format!("`{}` of `{}` must be in {range}, found {}", args.params[i].name, args.layer, args.text(i)),
        );
    }
    ok
}

fn width(cx: &Ctxt, w: u64, args: &Bound, i: usize) -> Option<usize> {
    if w == 0 {
        cx.error(args.span(i), format!("`{}(0)` gives zero outputs; a width must be at least 1", args.layer));
        return None;
    }
    Some(w as usize)
}

/// Arguments matched to a layer's or initializer's parameters.
struct Bound<'a> {
    layer: String,
    params: &'static [Param],
    values: Vec<Option<&'a Value>>,
    /// Where to point when a required argument is missing.
    fallback: Span,
}

/// Matches positional and named arguments to `params`, reporting unknown,
/// duplicate, surplus and missing ones. `None` if any was wrong.
fn bind<'a>(
    cx: &Ctxt,
    name: &Ident,
    layer: &str,
    params: &'static [Param],
    args: Option<&'a Args>,
) -> Option<Bound<'a>> {
    let mut values: Vec<Option<&'a Value>> = vec![None; params.len()];
    let mut ok = true;
    let list = args.map(|a| a.list.as_slice()).unwrap_or_default();
    for (i, arg) in list.iter().enumerate() {
        let slot = match &arg.key {
            None if i < params.len() => i,
            None => {
                let message = if params.is_empty() {
                    format!("`{layer}` takes no arguments; write `{layer}`")
                } else {
                    format!(
                        "`{layer}` takes at most {} argument{} ({}), found {}",
                        params.len(),
                        if params.len() == 1 { "" } else { "s" },
                        param_list(params),
                        list.len()
                    )
                };
                cx.error(arg.value.span(), message);
                ok = false;
                break;
            }
            Some(key) => {
                let key_s = key.to_string();
                match params.iter().position(|p| p.name == key_s) {
                    Some(slot) => slot,
                    None => {
                        let names: Vec<&str> = params.iter().map(|p| p.name).collect();
                        let message = if params.is_empty() {
                            format!("`{layer}` takes no options, found `{key_s}`")
                        } else {
                            format!("`{layer}` has no option `{key_s}`{}", hint(&key_s, &names))
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
            cx.error(at, format!("option `{}` of `{layer}` is given twice", params[slot].name));
            ok = false;
            continue;
        }
        if !type_ok(cx, layer, &params[slot], &arg.value) {
            ok = false;
        }
        values[slot] = Some(&arg.value);
    }
    for (p, v) in params.iter().zip(&values) {
        if v.is_none() && !p.optional && ok {
            let example = names::example(layer);
            let example = if example.is_empty() { String::new() } else { format!(", as in `{example}`") };
            let at = args.map(|a| a.span).unwrap_or_else(|| name.span());
            cx.error(at, format!("`{layer}` needs its `{}` argument{example}", p.name));
            ok = false;
        }
    }
    ok.then(|| Bound { layer: layer.to_string(), params, values, fallback: name.span() })
}

fn param_list(params: &[Param]) -> String {
    params.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
}

/// Checks a value against its parameter's type, reporting a mismatch.
fn type_ok(cx: &Ctxt, layer: &str, p: &Param, v: &Value) -> bool {
    let ok = match (p.ty, v) {
        (Ty::Count, Value::Number { integer: Some(_), .. }) => true,
        (Ty::Real, Value::Number { value, .. }) => value.is_finite(),
        (Ty::Bool, Value::Bool(_)) => true,
        (Ty::Init, Value::Name { .. }) => true,
        (Ty::Keyword(k), Value::Name { name, args: None }) => name == k,
        _ => false,
    };
    if !ok {
        let expected = match p.ty {
            Ty::Count => "a whole number".to_string(),
            Ty::Real => "a finite number".to_string(),
            Ty::Bool => "`true` or `false`".to_string(),
            Ty::Init => format!("an initializer such as `{}`", names::HE_NORMAL),
            Ty::Keyword(k) => format!("`{k}`"),
        };
        cx.error(v.span(), format!("`{}` of `{layer}` must be {expected}, found {}", p.name, v.describe()));
    }
    ok
}

impl<'a> Bound<'a> {
    fn present(&self, i: usize) -> bool {
        self.values[i].is_some()
    }

    fn span(&self, i: usize) -> Span {
        self.values[i].map(Value::span).unwrap_or(self.fallback)
    }

    fn text(&self, i: usize) -> String {
        self.values[i].map(Value::describe).unwrap_or_default()
    }

    fn count(&self, i: usize) -> Option<u64> {
        match self.values[i] {
            Some(Value::Number { integer, .. }) => *integer,
            _ => None,
        }
    }

    fn real(&self, i: usize, default: f64) -> Option<f64> {
        match self.values[i] {
            None => Some(default),
            Some(Value::Number { value, .. }) => Some(*value),
            Some(_) => None,
        }
    }

    fn bool(&self, i: usize) -> Option<bool> {
        match self.values[i] {
            Some(Value::Bool(b)) => Some(b.value),
            _ => None,
        }
    }

    /// `Some(None)` when absent (the default applies), `None` after an error.
    fn init(&self, cx: &Ctxt, i: usize) -> Option<Option<Init>> {
        match self.values[i] {
            None => Some(None),
            Some(Value::Name { name, args }) => initializer(cx, name, args.as_ref()).map(Some),
            Some(_) => None,
        }
    }
}

/// Resolves `init = name` or `init = name(args)`.
fn initializer(cx: &Ctxt, name: &Ident, args: Option<&Args>) -> Option<Init> {
    let s = name.to_string();
    let Some(&init) = names::INITIALIZERS.iter().find(|i| **i == s) else {
        cx.error(name.span(), format!("unknown initializer `{s}`{}", hint(&s, names::INITIALIZERS)));
        return None;
    };
    let args = bind(cx, name, init, names::init_params(init), args)?;
    let real = |i, default| args.real(i, default);
    Some(match init {
        names::ZEROS => Init::Zeros,
        names::CONSTANT => Init::Constant(real(0, 0.0)?),
        names::UNIFORM => Init::Uniform(real(0, 0.0)?),
        names::NORMAL => Init::Normal(real(0, 0.0)?),
        names::XAVIER_UNIFORM => Init::XavierUniform,
        names::XAVIER_NORMAL => Init::XavierNormal,
        names::HE_UNIFORM => Init::HeUniform,
        names::HE_NORMAL => Init::HeNormal,
        names::LECUN_NORMAL => Init::LecunNormal,
        names::ORTHOGONAL => Init::Orthogonal { gain: real(0, 1.0)? },
        _ => unreachable!("every initializer in names::INITIALIZERS is matched"),
    })
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
            .map(|n| n.body.items.iter().map(|i| (i.name, i.input.len(), i.output.len())).collect())
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
                dense(2),
            }
        })
        .unwrap();
        let cx = Ctxt::new();
        let net = network(&cx, &input.networks[0]).unwrap();
        cx.check().unwrap();
        let inits: Vec<(Init, bool)> = net
            .body
            .items
            .iter()
            .filter_map(|n| match n.kind {
                Kind::Dense { init, init_is_default, .. } => Some((init, init_is_default)),
                _ => None,
            })
            .collect();
        assert_eq!(
            inits,
            [
                (Init::HeNormal, true),
                (Init::LecunNormal, true),
                (Init::XavierUniform, true),
                (Init::Zeros, false),
                (Init::XavierUniform, true),
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
}
